//! Ablation-CAM (Desai & Ramaswamy): weight = (y − y_ablated) / y for each channel, where the
//! channel is switched off. A binary map cannot hold pytorch-grad-cam's 0, so "off" is −1.

use ndarray::Array2;

use crate::cam::base::{weighted_sum, CamInputs, CamMethod};
use crate::error::Result;

pub struct AblationCam;

impl CamMethod for AblationCam {
    fn name(&self) -> &'static str {
        "ablationcam"
    }
    fn uses_gradients(&self) -> bool {
        false
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let probe = inputs.probe(self.name())?;
        let base = probe.base_logit();
        // Same guard as pytorch-grad-cam's division by the original score.
        let denom = if base.abs() < 1e-7 { 1e-7f32.copysign(base) } else { base };
        let weights = (0..inputs.activations.dim().2)
            .map(|c| Ok((base - probe.ablated_logit(c)?) / denom))
            .collect::<Result<Vec<f32>>>()?;
        Ok(weighted_sum(&inputs.activations, &weights))
    }
}
