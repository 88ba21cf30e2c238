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
use crate::model::trained::TrainedModel;

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
        Ok(Reference { model, layers, signs, conv })
    }

    pub fn model(&self) -> &TrainedModel {
        &self.model
    }

    /// Runs one H×W×C u8 image through every layer.
    pub fn forward(&self, img: ArrayView3<u8>) -> Result<RefTrace> {
        let s = self.model.topology.input;
        if img.dim() != (s.height, s.width, s.channels) {
            return Err(Error::invalid(format!("image is {:?} (H, W, C), the model takes {s}", img.dim())));
        }
        let q = &self.model.input_quant;
        let input = img.mapv(|u| q.code(u) as f32 * q.scale);
        let layers = self.run(0, input.clone());
        Ok(RefTrace { input, layers })
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
        let outs = self.run(start + 1, map);
        Ok(outs.last().map(|r| r.out.iter().copied().collect()).unwrap_or_default())
    }

    /// Runs layers `from`.. on their input `x`.
    fn run(&self, from: usize, mut x: Array3<f32>) -> Vec<RefOut> {
        let mut layers = Vec::with_capacity(self.layers.len() - from);
        for l in &self.layers[from..] {
            let o = l.output;
            let r = match (l.kind, l.compute_index) {
                (LayerKind::MaxPool { size }, _) => {
                    let out = Array3::from_shape_fn((o.height, o.width, o.channels), |(y, xx, c)| {
                        let mut m = f32::NEG_INFINITY;
                        for dy in 0..size {
                            for dx in 0..size {
                                m = m.max(x[[y * size + dy, xx * size + dx, c]]);
                            }
                        }
                        m
                    });
                    RefOut { dot: None, pre: None, out }
                }
                (_, Some(ci)) => self.compute(l, ci, &x),
                (_, None) => unreachable!("compute layers have an index"),
            };
            x = r.out.clone();
            layers.push(r);
        }
        layers
    }

    fn compute(&self, l: &Layer, ci: usize, x: &Array3<f32>) -> RefOut {
        let o = l.output;
        let dot = self.conv.dot(l, x, &self.signs[ci]);
        match &self.model.layers[ci].bn {
            Some(bn) => {
                let pre = Array3::from_shape_fn(dot.dim(), |(y, xx, c)| bn.apply(c, dot[[y, xx, c]]));
                // The sign is decided where the accelerator decides it: on the accumulator,
                // against FINN's float32 threshold (model::streamline). Away from a tie this is
                // sign(pre); at a tie torch's float32 BatchNorm may round the other way.
                let scale = (ci == 0).then_some(self.model.input_quant.scale);
                let rules: Vec<ChannelRule> = (0..o.channels).map(|c| streamline::channel_rule(bn, c, scale)).collect();
                let out = Array3::from_shape_fn(dot.dim(), |(y, xx, c)| {
                    let d = dot[[y, xx, c]] as f64;
                    let acc = scale.map_or(d, |s| (d / s as f64).round());
                    if rules[c].fires(acc) {
                        1.0
                    } else {
                        -1.0
                    }
                });
                RefOut { dot: Some(dot), pre: Some(pre), out }
            }
            None => {
                let a = self.model.output;
                let out = dot.mapv(|v| a.scale * v + a.bias);
                RefOut { dot: Some(dot), pre: None, out }
            }
        }
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
