//! HiResCAM (Draelos & Carin): the element-wise product of gradient and activation, summed over
//! channels (no spatial pooling of the gradient).

use ndarray::Array2;

use crate::cam::base::{CamInputs, CamMethod};
use crate::error::Result;

pub struct HiResCam;

impl CamMethod for HiResCam {
    fn name(&self) -> &'static str {
        "hirescam"
    }
    fn uses_gradients(&self) -> bool {
        true
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let g = inputs.gradients(self.name())?;
        Ok((&g * &inputs.activations).sum_axis(ndarray::Axis(2)))
    }
}
