//! XGrad-CAM (Fu et al.): weight = Σ_hw (A·g) / (Σ_hw A + ε).

use ndarray::Array2;

use crate::cam::base::{spatial_sum, weighted_sum, CamInputs, CamMethod};
use crate::error::Result;

pub struct XGradCam;

impl CamMethod for XGradCam {
    fn name(&self) -> &'static str {
        "xgradcam"
    }
    fn uses_gradients(&self) -> bool {
        true
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let g = inputs.gradients(self.name())?;
        let a = &inputs.activations;
        let sum_a = spatial_sum(a);
        let ag = spatial_sum(&(&g * a).view());
        let weights: Vec<f32> = ag.iter().zip(&sum_a).map(|(n, d)| n / (d + 1e-7)).collect();
        Ok(weighted_sum(a, &weights))
    }
}
