//! The deployed graph, as a FINN accelerator runs it: ±1 weights as bits (negative-γ channels
//! already flipped), integer thresholds on the accumulator (`acc ≥ T`), the input quantizer as a
//! table, and the final affine that maps the last accumulator to the training-time logits.
//!
//! Folding follows FINN's streamline (finn.md §2) in its float32 arithmetic
//! ([`super::streamline`]): BatchNorm → affine, sign → threshold, a negative slope moves into
//! the weights, thresholds are rounded up and clipped to the accumulator's range; binary layers
//! are evaluated on P = popcount(XNOR) with the ±1 dot product 2P − K.

use bitvec::prelude::*;

use super::streamline::{self, ChannelRule};
use super::topology::{Layer, Topology};
use super::trained::{Affine, InputQuant, TrainedModel};
use crate::error::{Error, Result};

/// A matrix of bits, one byte-aligned row per output channel, LSB-first (bit j of a row is
/// byte j/8, bit j%8). 1 means +1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitMatrix {
    rows: usize,
    cols: usize,
    data: Vec<u8>,
}

impl BitMatrix {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        BitMatrix { rows, cols, data: vec![0; rows * cols.div_ceil(8)] }
    }
    pub fn from_bytes(rows: usize, cols: usize, data: Vec<u8>) -> Result<Self> {
        if data.len() != rows * cols.div_ceil(8) {
            return Err(Error::invalid(format!(
                "bit matrix {rows}x{cols} needs {} bytes, got {}",
                rows * cols.div_ceil(8),
                data.len()
            )));
        }
        let mut m = BitMatrix { rows, cols, data };
        // Padding bits carry no weight: keep them zero so the bytes are canonical.
        for r in 0..rows {
            m.row_bytes_mut(r).view_bits_mut::<Lsb0>()[cols..].fill(false);
        }
        Ok(m)
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn stride(&self) -> usize {
        self.cols.div_ceil(8)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }
    fn row_bytes_mut(&mut self, r: usize) -> &mut [u8] {
        let s = self.stride();
        &mut self.data[r * s..(r + 1) * s]
    }
    pub fn row(&self, r: usize) -> &BitSlice<u8, Lsb0> {
        let s = self.stride();
        &self.data[r * s..(r + 1) * s].view_bits::<Lsb0>()[..self.cols]
    }
    pub fn row_mut(&mut self, r: usize) -> &mut BitSlice<u8, Lsb0> {
        let cols = self.cols;
        &mut self.row_bytes_mut(r).view_bits_mut::<Lsb0>()[..cols]
    }
    /// The weight as ±1.
    pub fn sign(&self, r: usize, c: usize) -> i32 {
        if self.row(r)[c] {
            1
        } else {
            -1
        }
    }
}

/// One folded compute layer.
#[derive(Clone, Debug, PartialEq)]
pub struct FoldedLayer {
    /// [out_channels, K] ±1 weights, columns in FINN order ((ky,kx,c) or (h,w,c)).
    pub weights: BitMatrix,
    /// Per output channel: the output is +1 iff acc ≥ T. None for the last layer.
    pub thresholds: Option<Vec<i32>>,
    /// Per output channel: the slope of the training-time pre-activation (BatchNorm output) in
    /// accumulator units, |dBN/dacc| (> 0, or 0 for a constant channel). The pre-activation is
    /// ≈ ste_scale·(acc − T + ½). Kept for the CAMs' windowed straight-through estimator;
    /// rounded to f16 precision because the artifact stores it so. None for the last layer.
    pub ste_scale: Option<Vec<f32>>,
}

/// The deployed network.
#[derive(Clone, Debug, PartialEq)]
pub struct FoldedModel {
    pub topology: Topology,
    pub input_quant: InputQuant,
    /// One per compute layer.
    pub layers: Vec<FoldedLayer>,
    /// logits = scale·score + bias with scale > 0, where score is the last accumulator.
    pub output: Affine,
}

/// The range of a compute layer's accumulator: for the first, int codes × ±1 (a code of −2ⁿ⁻¹
/// times a −1 weight reaches +2ⁿ⁻¹, so the range is symmetric); later, P ∈ 0..=K.
pub fn acc_range(layer: &Layer, first: bool, quant: &InputQuant) -> (i64, i64) {
    let k = layer.fan_in() as i64;
    if first {
        let (lo, _) = quant.range();
        (lo as i64 * k, -(lo as i64) * k)
    } else {
        (0, k)
    }
}

impl FoldedModel {
    /// Folds a training-time model into the deployed form.
    pub fn fold(trained: &TrainedModel) -> Result<FoldedModel> {
        let resolved = trained.validate()?;
        let compute: Vec<&Layer> = resolved.iter().filter(|l| l.is_compute()).collect();
        let mut layers = Vec::with_capacity(compute.len());
        let mut output = trained.output;
        for (i, (spec, tl)) in compute.iter().zip(&trained.layers).enumerate() {
            let first = i == 0;
            let k = spec.fan_in();
            // sign(w) as bits, a byte at a time (bit j of a row is byte j/8, bit j%8).
            let stride = k.div_ceil(8);
            let mut bytes = vec![0u8; spec.output.channels * stride];
            for (o, row) in bytes.chunks_mut(stride.max(1)).take(spec.output.channels).enumerate() {
                for (byte, ws) in row.iter_mut().zip(tl.weight.row(o).to_vec().chunks(8)) {
                    *byte = ws.iter().enumerate().fold(0, |acc, (i, &w)| acc | ((w >= 0.0) as u8) << i);
                }
            }
            let mut weights = BitMatrix::from_bytes(spec.output.channels, k, bytes)?;
            // The ±1 dot product x in terms of the accumulator: x = c1·acc + c0.
            let (c1, c0) = if first { (trained.input_quant.scale as f64, 0.0) } else { (2.0, -(k as f64)) };
            let (lo, hi) = acc_range(spec, first, &trained.input_quant);
            let Some(bn) = &tl.bn else {
                // Last layer: absorb a negative final slope by flipping every row, so that the
                // accumulator ranks the classes as the logits do (2P'−K = −(2P−K)).
                let a = trained.output.scale as f64;
                let b = trained.output.bias as f64;
                let a = if a < 0.0 {
                    (0..weights.rows()).for_each(|o| flip(&mut weights, o));
                    -a
                } else {
                    a
                };
                // logits = a·x + b = a·c1·acc + (a·c0 + b)
                output = Affine { scale: (a * c1) as f32, bias: (a * c0 + b) as f32 };
                layers.push(FoldedLayer { weights, thresholds: None, ste_scale: None });
                continue;
            };
            let mut thresholds = Vec::with_capacity(spec.output.channels);
            let mut ste = Vec::with_capacity(spec.output.channels);
            let input_scale = first.then_some(trained.input_quant.scale);
            for o in 0..spec.output.channels {
                match streamline::channel_rule(bn, o, input_scale) {
                    ChannelRule::Constant(plus) => {
                        thresholds.push(if plus { lo } else { hi + 1 });
                        ste.push(0.0);
                    }
                    ChannelRule::Threshold { flip: flipped, t } => {
                        if flipped {
                            flip(&mut weights, o);
                        }
                        // acc ≥ ceil(t) (RoundAndClipThresholds); a binary layer then moves
                        // from the ±1 dot x = 2P − K to the popcount: P ≥ ceil((T + K) / 2).
                        let t = (t as f64).ceil();
                        let t = if first { t } else { ((t + k as f64) / 2.0).ceil() };
                        thresholds.push(t.clamp(lo as f64, (hi + 1) as f64) as i64);
                        // The pre-activation's slope in accumulator units, for the CAMs' STE.
                        let inv_std = 1.0 / (bn.var[o] as f64 + bn.eps as f64).sqrt();
                        let slope = (bn.gamma[o] as f64 * inv_std).abs() * c1;
                        ste.push(half::f16::from_f64(slope).to_f32());
                    }
                }
            }
            let thresholds = thresholds.into_iter().map(|t| t as i32).collect();
            layers.push(FoldedLayer { weights, thresholds: Some(thresholds), ste_scale: Some(ste) });
        }
        let m = FoldedModel { topology: trained.topology.clone(), input_quant: trained.input_quant, layers, output };
        m.validate()?;
        Ok(m)
    }

    /// Checks that every array fits the topology (used on load).
    pub fn validate(&self) -> Result<Vec<Layer>> {
        let resolved = self.topology.resolve()?;
        self.input_quant.validate()?;
        let compute: Vec<&Layer> = resolved.iter().filter(|l| l.is_compute()).collect();
        if compute.len() != self.layers.len() {
            return Err(Error::invalid(format!(
                "the topology has {} compute layers but the model has {}",
                compute.len(),
                self.layers.len()
            )));
        }
        for (i, (spec, l)) in compute.iter().zip(&self.layers).enumerate() {
            let n = spec.output.channels;
            if (l.weights.rows(), l.weights.cols()) != (n, spec.fan_in()) {
                return Err(Error::invalid(format!(
                    "layer '{}': weights are {}x{}, expected {}x{}",
                    spec.name,
                    l.weights.rows(),
                    l.weights.cols(),
                    n,
                    spec.fan_in()
                )));
            }
            let last = i + 1 == compute.len();
            match (&l.thresholds, &l.ste_scale, last) {
                (None, None, true) => {}
                (Some(t), Some(s), false) if t.len() == n && s.len() == n => {
                    if s.iter().any(|x| !x.is_finite() || *x < 0.0) {
                        return Err(Error::invalid(format!(
                            "layer '{}': STE scales must be finite and >= 0",
                            spec.name
                        )));
                    }
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "layer '{}': expected {} thresholds and STE scales{}",
                        spec.name,
                        if last { 0 } else { n },
                        if last { " (it is the last layer)" } else { "" }
                    )))
                }
            }
        }
        if !(self.output.scale.is_finite() && self.output.scale > 0.0 && self.output.bias.is_finite()) {
            return Err(Error::invalid(format!(
                "output affine (scale {}, bias {}) needs a finite, positive scale",
                self.output.scale, self.output.bias
            )));
        }
        Ok(resolved)
    }

    pub fn resolved(&self) -> Vec<Layer> {
        self.topology.resolve().expect("a FoldedModel is validated on construction")
    }

    /// Logits from the last accumulator.
    pub fn logits(&self, scores: &[i32]) -> Vec<f32> {
        scores.iter().map(|&s| self.output.scale * s as f32 + self.output.bias).collect()
    }

    /// Layer kinds and shapes for display.
    pub fn describe(&self) -> Vec<(Layer, Option<&FoldedLayer>)> {
        self.resolved()
            .into_iter()
            .map(|l| {
                let f = l.compute_index.map(|i| &self.layers[i]);
                (l, f)
            })
            .collect()
    }
}

/// Negates output channel `o`: its weights flip sign. For a binary layer that complements the
/// row's bits (P' = K − P); the first layer's accumulator simply changes sign.
fn flip(weights: &mut BitMatrix, o: usize) {
    let row = weights.row_mut(o);
    let flipped = !row.to_bitvec();
    row.copy_from_bitslice(&flipped);
}
