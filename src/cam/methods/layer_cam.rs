//! LayerCAM (Jiang et al.): Σ_c ReLU(g)·A, element-wise.

use ndarray::Array2;

use crate::cam::base::{CamInputs, CamMethod};
use crate::error::Result;

pub struct LayerCam;

impl CamMethod for LayerCam {
    fn name(&self) -> &'static str {
        "layercam"
    }
    fn uses_gradients(&self) -> bool {
        true
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let g = inputs.gradients(self.name())?;
        Ok((&g.mapv(|v| v.max(0.0)) * &inputs.activations).sum_axis(ndarray::Axis(2)))
    }
}
