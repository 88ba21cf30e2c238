//! Ablation-CAM (Desai & Ramaswamy): weight = (y − y_ablated) / y for each channel, where y is
//! the target logit and y_ablated the logit with the channel switched off.
//!
//! What "off" means differs from pytorch-grad-cam (checked against its `AblationLayer`, 1.5.x):
//! - pytorch-grad-cam sets the channel to 0 when the layer's smallest activation is 0 (a ReLU
//!   network), and otherwise to that minimum − 1e7. A ±1 map's minimum is −1 (or +1 when all
//!   is on), never 0, so on these networks it writes about −1e7.
//! - binarycop writes −1, the binary "off" value. The deployed layer's output is bits, so −1
//!   (a cleared bit) is the only off state it can hold; on the training graph −1e7 would
//!   swamp every accumulator of the next layer, so the score change would measure that
//!   overflow rather than the channel's contribution. With −1 both graphs ablate the same
//!   state and their maps agree exactly.
//!
//! pytorch-grad-cam divides by the raw original score (a score of 0 gives inf or NaN);
//! binarycop divides by ±1e-7 when |y| < 1e-7, keeping y's sign, so the map stays finite.

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
        // pytorch-grad-cam divides by y unguarded; a tiny y keeps its sign and stays finite here.
        let denom = if base.abs() < 1e-7 { 1e-7f32.copysign(base) } else { base };
        let weights = (0..inputs.activations.dim().2)
            .map(|c| Ok((base - probe.ablated_logit(c)?) / denom))
            .collect::<Result<Vec<f32>>>()?;
        Ok(weighted_sum(&inputs.activations, &weights))
    }
}
