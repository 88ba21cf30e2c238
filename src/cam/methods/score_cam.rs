//! Score-CAM (Wang et al.): each channel, upsampled (align-corners bilinear, torch's
//! `UpsamplingBilinear2d`) and min-max normalized as (v − min) / (max − min + 1e-8), masks the
//! input; the channel weights are the softmax of the resulting target logits. Forward passes
//! only, so it runs on any backend.
//!
//! Where it differs from pytorch-grad-cam's `ScoreCAM` (checked against its code, 1.5.x):
//! - The masked image is rounded to u8 (nearest, halves away from zero) before the forward
//!   pass, because the network (and the accelerator) takes u8 pixels. pytorch-grad-cam
//!   multiplies the float input tensor by the mask and feeds it unrounded, so after the
//!   network's 8-bit input quantizer a masked pixel may land one code away from ours.
//! - A constant channel (max = min) gets an all-zero mask, as in pytorch-grad-cam's formula
//!   (0 / 1e-8): its forward pass sees a black image, and its weight is the softmax of that
//!   image's logit, not zero.
//! - Channels with identical maps share one forward pass (the same mask gives the same logit).

use ndarray::Array2;

use crate::cam::base::{weighted_sum, CamInputs, CamMethod};
use crate::cam::resize::bilinear_align_corners;
use crate::error::Result;

pub struct ScoreCam;

impl CamMethod for ScoreCam {
    fn name(&self) -> &'static str {
        "scorecam"
    }
    fn uses_gradients(&self) -> bool {
        false
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let probe = inputs.probe(self.name())?;
        let (h, w) = probe.input_size();
        let a = &inputs.activations;
        // Channels with identical maps give identical masks: one forward pass each.
        let mut distinct: Vec<Vec<u32>> = Vec::new();
        let mut which = Vec::with_capacity(a.dim().2);
        for c in 0..a.dim().2 {
            let key: Vec<u32> = a.index_axis(ndarray::Axis(2), c).iter().map(|v| v.to_bits()).collect();
            which.push(distinct.iter().position(|k| *k == key).unwrap_or_else(|| {
                distinct.push(key);
                distinct.len() - 1
            }));
        }
        let masks: Vec<Array2<f32>> = distinct
            .iter()
            .map(|key| {
                let ch =
                    Array2::from_shape_vec((a.dim().0, a.dim().1), key.iter().map(|&b| f32::from_bits(b)).collect())
                        .expect("h×w values");
                let up = bilinear_align_corners(&ch, h, w);
                let (lo, hi) = up.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
                up.mapv(|v| (v - lo) / (hi - lo + 1e-8))
            })
            .collect();
        let per_mask = probe.masked_logits(&masks)?;
        let logits: Vec<f32> = which.iter().map(|&i| per_mask[i]).collect();
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let weights: Vec<f32> = exp.iter().map(|e| e / sum).collect();
        Ok(weighted_sum(a, &weights))
    }
}
