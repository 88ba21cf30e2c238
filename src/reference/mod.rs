//! The training-time graph in plain f32, as Brevitas evaluates it in eval mode: the input
//! quantizer, sign(latent weights), float convs, BatchNorm, sign (0 → +1), max-pool, and the
//! final scalar affine. It is the differential oracle for the engine ([`Reference::plain`]: one
//! dot product per output value), and the CAMs' training route ([`Reference::new`]: each layer
//! one SGEMM, [`conv`]).
//!
//! At a threshold tie the reference means the accelerator: each sign is decided on the float
//! convolution's value against FINN's float32 threshold ([`crate::model::streamline`]), not on
//! torch's float32 BatchNorm output, which can round the other way there. Away from ties the
//! two agree (the torch fixtures check it), and `pre` is always torch's BatchNorm output.

mod conv;

pub use conv::Conv;

use ndarray::{Array3, ArrayView3};

use crate::error::{Error, Result};
use crate::model::streamline::{self, ChannelRule};
use crate::model::topology::{Layer, LayerKind};
use crate::model::trained::{BatchNorm, TrainedModel};

/// One channel of a BatchNorm layer: torch's eval-mode f32 arithmetic with the square root
/// taken once (the same operations as [`BatchNorm::apply`], so the same bits), and the
/// channel's sign rule (FINN's threshold).
#[derive(Clone, Copy, Debug)]
struct Channel {
    mean: f32,
    denom: f32,
    gamma: f32,
    beta: f32,
    rule: ChannelRule,
}

impl Channel {
    fn new(bn: &BatchNorm, c: usize, input_scale: Option<f32>) -> Self {
        Channel {
            mean: bn.mean[c],
            denom: (bn.var[c] + bn.eps).sqrt(),
            gamma: bn.gamma[c],
            beta: bn.beta[c],
            rule: streamline::channel_rule(bn, c, input_scale),
        }
    }

    fn pre(&self, x: f32) -> f32 {
        (x - self.mean) / self.denom * self.gamma + self.beta
    }
}

/// size×size max-pooling (stride size) of an H×W×C map, row by row over whole pixels.
fn max_pool(x: &Array3<f32>, size: usize) -> Array3<f32> {
    let (h, w, c) = x.dim();
    let (oh, ow) = (h / size, w / size);
    let x = x.as_standard_layout();
    let flat = x.as_slice().expect("a standard layout is contiguous");
    let mut out = Array3::from_elem((oh, ow, c), f32::NEG_INFINITY);
    let dst = out.as_slice_mut().expect("new");
    for y in 0..oh * size {
        let row = &flat[y * w * c..(y + 1) * w * c];
        let out_row = &mut dst[(y / size) * ow * c..(y / size + 1) * ow * c];
        for (ox, o) in out_row.chunks_exact_mut(c).enumerate() {
            for v in row[ox * size * c..(ox + 1) * size * c].chunks_exact(c) {
                for (m, &v) in o.iter_mut().zip(v) {
                    *m = m.max(v);
                }
            }
        }
    }
    out
}

/// One layer's values.
#[derive(Clone, Debug)]
pub struct RefOut {
    /// Compute layers: the conv / fc output before BatchNorm (the ±1 dot product, scaled by
    /// the input step for the first layer).
    pub dot: Option<Array3<f32>>,
    /// Compute layers with an activation: the BatchNorm output (the pre-activation).
    pub pre: Option<Array3<f32>>,
    /// The layer's output: ±1 after sign or pool, or the logits after the last layer.
    pub out: Array3<f32>,
}

#[derive(Clone, Debug)]
pub struct RefTrace {
    /// The quantized input (code · step), H×W×C.
    pub input: Array3<f32>,
    pub layers: Vec<RefOut>,
}

impl RefTrace {
    pub fn logits(&self) -> Vec<f32> {
        self.layers.last().map(|l| l.out.iter().copied().collect()).unwrap_or_default()
    }
}

pub struct Reference {
    model: TrainedModel,
    layers: Vec<Layer>,
    /// sign(latent weights) as ±1 f32, per compute layer [out × K].
    signs: Vec<Vec<f32>>,
    /// Per compute layer with BatchNorm, each channel's BatchNorm and sign rule.
    channels: Vec<Vec<Channel>>,
    conv: Conv,
}

impl Reference {
    /// The training graph as users run it: its layers as SGEMMs ([`Conv::Gemm`]).
    pub fn new(model: TrainedModel) -> Result<Reference> {
        Reference::with_conv(model, Conv::Gemm)
    }

    /// The plain oracle ([`Conv::Plain`]): one dot product per output value. The engine's
    /// differential tests use it.
    pub fn plain(model: TrainedModel) -> Result<Reference> {
        Reference::with_conv(model, Conv::Plain)
    }

    pub fn with_conv(model: TrainedModel, conv: Conv) -> Result<Reference> {
        let layers = model.validate()?;
        let signs = model
            .layers
            .iter()
            .map(|l| l.weight.iter().map(|&w| if w >= 0.0 { 1.0 } else { -1.0 }).collect())
            .collect();
        let channels = model
            .layers
            .iter()
            .enumerate()
            .map(|(ci, l)| {
                let scale = (ci == 0).then_some(model.input_quant.scale);
                l.bn.as_ref()
                    .map_or_else(Vec::new, |bn| (0..bn.channels()).map(|c| Channel::new(bn, c, scale)).collect())
            })
            .collect();
        Ok(Reference { model, layers, signs, channels, conv })
    }

    pub fn model(&self) -> &TrainedModel {
        &self.model
    }

    /// Runs one H×W×C u8 image through every layer.
    pub fn forward(&self, img: ArrayView3<u8>) -> Result<RefTrace> {
        let input = self.input(img)?;
        let layers = self.run(0, input.clone(), true);
        Ok(RefTrace { input, layers })
    }

    /// The logits of one H×W×C u8 image, keeping no intermediate values (Score-CAM's masked
    /// passes).
    pub fn logits(&self, img: ArrayView3<u8>) -> Result<Vec<f32>> {
        let outs = self.run(0, self.input(img)?, false);
        Ok(outs.last().map(|r| r.out.iter().copied().collect()).unwrap_or_default())
    }

    /// The quantized input (code · step).
    fn input(&self, img: ArrayView3<u8>) -> Result<Array3<f32>> {
        let s = self.model.topology.input;
        if img.dim() != (s.height, s.width, s.channels) {
            return Err(Error::invalid(format!("image is {:?} (H, W, C), the model takes {s}", img.dim())));
        }
        let q = &self.model.input_quant;
        Ok(img.mapv(|u| q.code(u) as f32 * q.scale))
    }

    /// The logits when layer `start`'s output is replaced by `map` (runs layers start+1..).
    pub fn logits_from(&self, start: usize, map: Array3<f32>) -> Result<Vec<f32>> {
        let Some(l) = self.layers.get(start) else {
            return Err(Error::invalid(format!("layer index {start} is out of range")));
        };
        let o = l.output;
        if start + 1 >= self.layers.len() || map.dim() != (o.height, o.width, o.channels) {
            return Err(Error::invalid(format!(
                "cannot resume after layer '{}' with a {:?} map (it outputs {o})",
                l.name,
                map.dim()
            )));
        }
        let outs = self.run(start + 1, map, false);
        Ok(outs.last().map(|r| r.out.iter().copied().collect()).unwrap_or_default())
    }

    /// Runs layers `from`.. on their input `x`: every layer's values with `keep`, else only the
    /// last layer's output.
    fn run(&self, from: usize, mut x: Array3<f32>, keep: bool) -> Vec<RefOut> {
        let mut layers = Vec::with_capacity(self.layers.len() - from);
        for l in &self.layers[from..] {
            let r = match (l.kind, l.compute_index) {
                (LayerKind::MaxPool { size }, _) => RefOut { dot: None, pre: None, out: max_pool(&x, size) },
                (_, Some(ci)) => self.compute(l, ci, &x, keep),
                (_, None) => unreachable!("compute layers have an index"),
            };
            if keep {
                x = r.out.clone();
                layers.push(r);
            } else {
                x = r.out;
            }
        }
        if !keep {
            layers.push(RefOut { dot: None, pre: None, out: x });
        }
        layers
    }

    /// A compute layer; with `keep` false only `out` is filled (the others are empty).
    fn compute(&self, l: &Layer, ci: usize, x: &Array3<f32>, keep: bool) -> RefOut {
        let dot = self.conv.dot(l, x, &self.signs[ci]);
        let width = l.output.channels;
        let flat = dot.as_slice().expect("the dot products are in standard layout");
        if self.model.layers[ci].bn.is_none() {
            let a = self.model.output;
            let out = dot.mapv(|v| a.scale * v + a.bias);
            return RefOut { dot: keep.then_some(dot), pre: None, out };
        }
        // The sign is decided where the accelerator decides it: on the accumulator, against
        // FINN's float32 threshold (model::streamline). Away from a tie this is sign(pre); at a
        // tie torch's float32 BatchNorm may round the other way.
        let scale = (ci == 0).then_some(self.model.input_quant.scale as f64);
        let channels = &self.channels[ci];
        let mut out = Array3::zeros(dot.dim());
        for (d, o) in flat.chunks_exact(width).zip(out.as_slice_mut().expect("new").chunks_exact_mut(width)) {
            for ((o, &d), ch) in o.iter_mut().zip(d).zip(channels) {
                let acc = scale.map_or(d as f64, |s| (d as f64 / s).round());
                *o = if ch.rule.fires(acc) { 1.0 } else { -1.0 };
            }
        }
        if !keep {
            return RefOut { dot: None, pre: None, out };
        }
        let mut pre = Array3::zeros(dot.dim());
        for (d, p) in flat.chunks_exact(width).zip(pre.as_slice_mut().expect("new").chunks_exact_mut(width)) {
            for ((p, &d), ch) in p.iter_mut().zip(d).zip(channels) {
                *p = ch.pre(d);
            }
        }
        RefOut { dot: Some(dot), pre: Some(pre), out }
    }

    /// The resolved layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// sign(latent weights) of compute layer `ci`, [out × K] in FINN column order.
    pub fn signs(&self, ci: usize) -> &[f32] {
        &self.signs[ci]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::random::random_model;
    use crate::model::Topology;

    /// The cached channels give BatchNorm::apply's bits, and the logits-only pass the full
    /// pass's logits, on a random µ-CNV with random BatchNorms.
    #[test]
    fn cached_channels_and_the_logits_pass_equal_the_full_pass() {
        let m = random_model(&Topology::preset("ucnv", 4).unwrap(), 7, true).unwrap();
        let r = Reference::new(m).unwrap();
        for (ci, l) in r.model.layers.iter().enumerate() {
            let Some(bn) = &l.bn else { continue };
            for c in 0..bn.channels() {
                let ch = r.channels[ci][c];
                for x in [-300.5f32, -1.0, 0.0, 0.1, 3.0, 77.25] {
                    assert_eq!(ch.pre(x).to_bits(), bn.apply(c, x).to_bits(), "layer {ci} channel {c} at {x}");
                }
            }
        }
        let s = r.model.topology.input;
        let mut seed = 1u32;
        for _ in 0..4 {
            let img = Array3::from_shape_fn((s.height, s.width, s.channels), |_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            });
            let full = r.forward(img.view()).unwrap();
            assert_eq!(r.logits(img.view()).unwrap(), full.logits());
            let pools = full.layers.iter().filter(|l| l.dot.is_none()).count();
            assert!(pools > 0 && full.layers.iter().all(|l| !l.out.is_empty()));
        }
    }
}
