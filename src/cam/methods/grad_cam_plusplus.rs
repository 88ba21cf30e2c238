//! Grad-CAM++ (Chattopadhyay et al., eq. 19), as pytorch-grad-cam computes it:
//! α = g² / (2g² + ΣA·g³ + ε), zero where g = 0; weight = Σ_hw α·ReLU(g).

use ndarray::Array2;

use crate::cam::base::{spatial_sum, weighted_sum, CamInputs, CamMethod};
use crate::error::Result;

pub struct GradCamPlusPlus;

impl CamMethod for GradCamPlusPlus {
    fn name(&self) -> &'static str {
        "gradcam++"
    }
    fn uses_gradients(&self) -> bool {
        true
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let g = inputs.gradients(self.name())?;
        let a = &inputs.activations;
        let sum_a = spatial_sum(a);
        let (h, w, c) = g.dim();
        let mut weights = vec![0f32; c];
        for y in 0..h {
            for x in 0..w {
                for (ch, wt) in weights.iter_mut().enumerate() {
                    let gv = g[[y, x, ch]];
                    if gv == 0.0 {
                        continue;
                    }
                    let g2 = gv * gv;
                    let alpha = g2 / (2.0 * g2 + sum_a[ch] * g2 * gv + 1e-6);
                    *wt += alpha * gv.max(0.0);
                }
            }
        }
        Ok(weighted_sum(a, &weights))
    }
}
