//! Grad-CAM (Selvaraju et al.): channel weight = spatial mean of the gradient.

use ndarray::Array2;

use crate::cam::base::{spatial_sum, weighted_sum, CamInputs, CamMethod};
use crate::error::Result;

pub struct GradCam;

impl CamMethod for GradCam {
    fn name(&self) -> &'static str {
        "gradcam"
    }
    fn uses_gradients(&self) -> bool {
        true
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let g = inputs.gradients(self.name())?;
        let n = (g.dim().0 * g.dim().1) as f32;
        let weights: Vec<f32> = spatial_sum(&g).iter().map(|s| s / n).collect();
        Ok(weighted_sum(&inputs.activations, &weights))
    }
}
