//! The training-time graph: latent float weights, BatchNorm in float, the input quantizer and the
//! final scalar affine (Brevitas' TensorNorm). Importers produce it; folding turns it into the
//! integer form the accelerator runs; the f32 reference executes it.

use ndarray::Array2;

use super::topology::{Layer, LayerKind, Topology};
use crate::error::{Error, Result};

/// The input quantizer: u8 pixel u → x = u/255 → 2x−1 → signed `bits`-bit fixed point with step
/// `scale` (Brevitas' QuantIdentity: round half to even, then clamp).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputQuant {
    pub scale: f32,
    pub bits: u32,
}

impl Default for InputQuant {
    /// Brevitas' bnn_pynq CNV: 8 bits, range [-1, 1-2^-7], step 2^-7.
    fn default() -> Self {
        InputQuant { scale: 1.0 / 128.0, bits: 8 }
    }
}

impl InputQuant {
    pub fn validate(&self) -> Result<()> {
        if !(2..=8).contains(&self.bits) {
            return Err(Error::invalid(format!("input quantizer: {} bits is not supported (2..=8)", self.bits)));
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(Error::invalid(format!("input quantizer: scale {} must be positive", self.scale)));
        }
        Ok(())
    }

    pub fn range(&self) -> (i32, i32) {
        let half = 1i32 << (self.bits - 1);
        (-half, half - 1)
    }

    /// The integer code for one u8 pixel, computed with the same f32 operations as torch.
    pub fn code(&self, u: u8) -> i32 {
        let x = u as f32 / 255.0;
        let y = 2.0 * x - 1.0;
        let (lo, hi) = self.range();
        ((y / self.scale).round_ties_even() as i32).clamp(lo, hi)
    }

    /// The code of every u8 value: the lookup table the engine uses.
    pub fn table(&self) -> Vec<i8> {
        (0..=255u8).map(|u| self.code(u) as i8).collect()
    }
}

/// BatchNorm parameters of one layer (per output channel).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f32,
}

impl BatchNorm {
    /// The identity BatchNorm (eps 0), for tests and hand-built models.
    pub fn identity(channels: usize) -> Self {
        BatchNorm {
            gamma: vec![1.0; channels],
            beta: vec![0.0; channels],
            mean: vec![0.0; channels],
            var: vec![1.0; channels],
            eps: 0.0,
        }
    }
    pub fn channels(&self) -> usize {
        self.gamma.len()
    }
    /// Evaluates BN for channel c as torch does in eval mode, in f32.
    pub fn apply(&self, c: usize, x: f32) -> f32 {
        (x - self.mean[c]) / (self.var[c] + self.eps).sqrt() * self.gamma[c] + self.beta[c]
    }
}

/// The scalar affine after the last layer: logits = scale·dot + bias (TensorNorm collapsed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    pub scale: f32,
    pub bias: f32,
}

/// One compute (conv or fc) layer of the training graph.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainedLayer {
    /// Latent weights, [out, K]. Columns are in FINN's order: (ky, kx, c) for a conv and
    /// (h, w, c) for an fc. sign(w) with w ≥ 0 → +1 is the deployed weight.
    pub weight: Array2<f32>,
    /// None only for the last layer.
    pub bn: Option<BatchNorm>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrainedModel {
    pub topology: Topology,
    pub input_quant: InputQuant,
    /// One per compute layer, in order.
    pub layers: Vec<TrainedLayer>,
    pub output: Affine,
}

impl TrainedModel {
    /// Checks that every array fits the topology.
    pub fn validate(&self) -> Result<Vec<Layer>> {
        let resolved = self.topology.resolve()?;
        self.input_quant.validate()?;
        let compute: Vec<&Layer> = resolved.iter().filter(|l| l.is_compute()).collect();
        if compute.len() != self.layers.len() {
            return Err(Error::invalid(format!(
                "the topology has {} compute layers but {} were given",
                compute.len(),
                self.layers.len()
            )));
        }
        for (i, (spec, layer)) in compute.iter().zip(&self.layers).enumerate() {
            let want = (spec.output.channels, spec.fan_in());
            if layer.weight.dim() != want {
                return Err(Error::invalid(format!(
                    "layer '{}': weight is {:?}, expected [{}, {}]",
                    spec.name,
                    layer.weight.dim(),
                    want.0,
                    want.1
                )));
            }
            let last = i + 1 == compute.len();
            match (&layer.bn, last) {
                (None, false) => {
                    return Err(Error::invalid(format!("layer '{}': BatchNorm parameters are missing", spec.name)))
                }
                (Some(_), true) => {
                    return Err(Error::invalid(format!(
                        "layer '{}': the last layer has no activation, so it takes no BatchNorm",
                        spec.name
                    )))
                }
                (Some(bn), false) => {
                    let n = spec.output.channels;
                    for (what, v) in [("gamma", &bn.gamma), ("beta", &bn.beta), ("mean", &bn.mean), ("var", &bn.var)] {
                        if v.len() != n {
                            return Err(Error::invalid(format!(
                                "layer '{}': BatchNorm {what} has {} values, expected {n}",
                                spec.name,
                                v.len()
                            )));
                        }
                        if v.iter().any(|x| !x.is_finite()) {
                            return Err(Error::invalid(format!(
                                "layer '{}': BatchNorm {what} is not finite",
                                spec.name
                            )));
                        }
                    }
                    if bn.var.iter().any(|&v| v + bn.eps <= 0.0) || !bn.eps.is_finite() {
                        return Err(Error::invalid(format!(
                            "layer '{}': BatchNorm var + eps must be positive",
                            spec.name
                        )));
                    }
                }
                (None, true) => {}
            }
            if layer.weight.iter().any(|x| !x.is_finite()) {
                return Err(Error::invalid(format!("layer '{}': weights are not finite", spec.name)));
            }
        }
        if !(self.output.scale.is_finite() && self.output.bias.is_finite()) {
            return Err(Error::invalid("the output affine is not finite"));
        }
        Ok(resolved)
    }

    /// Reorders torch fc weight columns from (c, h, w) to FINN's (h, w, c) for an fc whose
    /// input map is larger than 1×1 (µ-CNV's FC1).
    pub fn chw_to_hwc_columns(weight: &Array2<f32>, layer: &Layer) -> Array2<f32> {
        debug_assert_eq!(layer.kind, LayerKind::Fc);
        let s = layer.input;
        let mut out = Array2::zeros(weight.dim());
        for o in 0..weight.nrows() {
            for c in 0..s.channels {
                for h in 0..s.height {
                    for w in 0..s.width {
                        out[[o, (h * s.width + w) * s.channels + c]] = weight[[o, (c * s.height + h) * s.width + w]];
                    }
                }
            }
        }
        out
    }

    /// Reorders torch conv weights [out, in, kh, kw] (flattened per row) to FINN's (ky, kx, c).
    pub fn oihw_to_ohwi(weight: &[f32], out: usize, cin: usize, k: usize) -> Array2<f32> {
        let mut w = Array2::zeros((out, k * k * cin));
        for o in 0..out {
            for c in 0..cin {
                for ky in 0..k {
                    for kx in 0..k {
                        w[[o, (ky * k + kx) * cin + c]] = weight[((o * cin + c) * k + ky) * k + kx];
                    }
                }
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_quantizer_matches_finn_derivation() {
        // finn.md §2: u=0→−128, 127→−1, 128→+1, 255→127; code 0 never occurs; and
        // T_k = ceil(255(2k+1)/512) is where the code steps up.
        let q = InputQuant::default();
        let t = q.table();
        assert_eq!((t[0], t[127], t[128], t[255]), (-128, -1, 1, 127));
        assert!(!t.contains(&0));
        for k in 0..255i64 {
            let thr = (255 * (2 * k + 1) + 511) / 512; // ceil
            let count = (0..=255i64).filter(|&u| u >= thr).count() as i64;
            let from_table = (0..=255usize).filter(|&u| t[u] as i64 >= k - 127).count() as i64;
            assert_eq!(count, from_table, "threshold {k}");
        }
    }

    #[test]
    fn layout_reorders_are_permutations() {
        let w: Vec<f32> = (0..2 * 3 * 9).map(|i| i as f32).collect();
        let r = TrainedModel::oihw_to_ohwi(&w, 2, 3, 3);
        // out 1, ky 2, kx 0, c 1 → torch index ((1*3+1)*3+2)*3+0.
        assert_eq!(r[[1, (2 * 3) * 3 + 1]], (((3 + 1) * 3 + 2) * 3) as f32);
        let mut sorted: Vec<f32> = r.iter().copied().collect();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, w);
    }
}
