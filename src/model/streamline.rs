//! FINN's threshold arithmetic, op for op in its float32 order: what the accelerator computes
//! at a threshold, which is not always what torch's float32 BatchNorm computes.
//!
//! FINN's streamline (finn `transformation/streamline/__init__.py`, qonnx
//! `batchnorm_to_affine.py`) turns conv → BatchNorm → sign into conv → MultiThreshold:
//! 1. BatchNormToAffine, in float32: `A = γ / sqrt(eps + var)`, `B = β − A·mean`.
//! 2. First layer only: the input quantizer's scale `s` moves past the conv
//!    (MoveScalarMulPastConv) and merges with `A` (CollapseRepeatedMul): `A ← s·A`.
//! 3. AbsorbAddIntoMultiThreshold: `T ← 0 − B`.
//! 4. FactorOutMulSignMagnitude + Absorb1BitMulInto{Conv,MatMul}: a negative `A` becomes
//!    `sign(A)`, absorbed into the weights (the channel's row flips), and `|A|`.
//! 5. AbsorbMulIntoMultiThreshold: `T ← T / |A|` (float32).
//! 6. RoundAndClipThresholds: `T ← ceil(T)`; after ConvertBipolarMatMulToXnorPopcount the
//!    second streamline folds `2P − K` in: `T ← ceil((T + K) / 2)` on the popcount.
//!
//! Since the accumulator is an integer, `acc ≥ ceil(t) ⇔ acc ≥ t`: the accelerator's decision is
//! `sign(A)·acc ≥ t` with `t` the float32 quotient of step 5. Where `t` lands within a rounding
//! error of a value the accumulator takes (a tie), torch's BatchNorm (fused differently in
//! float32) and exact arithmetic can decide otherwise; binarycop computes what the accelerator
//! computes. `tests/finn_streamline.rs` holds `t` bit for bit against FINN's own streamline.
//!
//! A channel with `A = 0` (γ = 0) has no threshold: FINN's division gives ±inf, or NaN when
//! `B = 0`, which its RoundAndClipThresholds never finishes on. binarycop keeps torch's value
//! there: +1 iff `B ≥ 0`.

use super::folded::acc_range;
use super::trained::{BatchNorm, TrainedModel};
use crate::error::Result;

/// What one channel's BatchNorm + sign becomes on the accumulator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ChannelRule {
    /// +1 iff `sign·acc ≥ t` (sign −1: the channel's weights flip).
    Threshold { flip: bool, t: f32 },
    /// A constant output (`A = 0`).
    Constant(bool),
}

impl ChannelRule {
    /// The output for an accumulator value (in accumulator units: the int8 code product for
    /// the first layer, the ±1 dot product 2P − K for a binary layer).
    pub fn fires(&self, acc: f64) -> bool {
        match *self {
            ChannelRule::Threshold { flip, t } => (if flip { -acc } else { acc }) >= t as f64,
            ChannelRule::Constant(v) => v,
        }
    }
}

/// BatchNormToAffine for channel `c`, in float32 as numpy computes it: (A, B).
pub fn affine(bn: &BatchNorm, c: usize) -> (f32, f32) {
    let a = bn.gamma[c] / (bn.eps + bn.var[c]).sqrt();
    (a, bn.beta[c] - a * bn.mean[c])
}

/// Channel `c`'s rule. `input_scale` is the input quantizer's step for the first layer (its
/// accumulator is in integer codes), None for a binary layer.
pub fn channel_rule(bn: &BatchNorm, c: usize, input_scale: Option<f32>) -> ChannelRule {
    let (a, b) = affine(bn, c);
    let a = input_scale.map_or(a, |s| s * a);
    if a == 0.0 {
        return ChannelRule::Constant(b >= 0.0);
    }
    let t = (0.0f32 - b) / a.abs();
    ChannelRule::Threshold { flip: a < 0.0, t }
}

/// Whether a float32 threshold lies within one ulp of a value the accumulator takes: the
/// lattice `offset + step·k` inside `[lo, hi]` (step 1 for the first layer's codes; for a
/// binary layer, the ±1 dot product: step 2, offset K mod 2). There, float32 rounding decides
/// the side, and torch and the accelerator may disagree.
pub fn near_tie(t: f32, step: f64, offset: f64, lo: f64, hi: f64) -> bool {
    if !t.is_finite() {
        return false;
    }
    let k = ((t as f64 - offset) / step).round();
    let v = offset + k * step;
    if !(lo..=hi).contains(&v) {
        return false;
    }
    let v = v as f32;
    t == v || t.next_up() == v || t.next_down() == v
}

/// How many channels of a layer have a threshold within one ulp of a reachable accumulator
/// value. `k` is the fan-in; `first` selects the int8-code accumulator with `input_scale`.
pub fn count_near_ties(bn: &BatchNorm, k: usize, first: Option<(f32, (i64, i64))>) -> usize {
    (0..bn.channels())
        .filter(|&c| match (channel_rule(bn, c, first.map(|f| f.0)), first) {
            (ChannelRule::Threshold { t, flip }, Some((_, (lo, hi)))) => {
                let (lo, hi) = if flip { (-hi, -lo) } else { (lo, hi) };
                near_tie(t, 1.0, 0.0, lo as f64, hi as f64)
            }
            (ChannelRule::Threshold { t, .. }, None) => near_tie(t, 2.0, (k % 2) as f64, -(k as f64), k as f64),
            (ChannelRule::Constant(_), _) => false,
        })
        .count()
}

/// One layer's count for [`near_ties`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LayerTies {
    pub layer: String,
    pub channels: usize,
    /// Channels whose threshold lies within one ulp of a reachable accumulator value.
    pub near_ties: usize,
}

/// Per layer with a threshold: how many channels have a threshold within one ulp of a value
/// the accumulator takes, where torch's float32 BatchNorm and the accelerator can disagree.
pub fn near_ties(trained: &TrainedModel) -> Result<Vec<LayerTies>> {
    let resolved = trained.validate()?;
    let compute = resolved.iter().filter(|l| l.is_compute());
    let mut out = Vec::new();
    for (i, (spec, tl)) in compute.zip(&trained.layers).enumerate() {
        let Some(bn) = &tl.bn else { continue };
        let first = (i == 0).then(|| (trained.input_quant.scale, acc_range(spec, true, &trained.input_quant)));
        out.push(LayerTies {
            layer: spec.name.clone(),
            channels: bn.channels(),
            near_ties: count_near_ties(bn, spec.fan_in(), first),
        });
    }
    Ok(out)
}

/// One line for `binarycop fold`: the total and the layers that have any.
pub fn near_ties_text(ties: &[LayerTies]) -> String {
    let total: usize = ties.iter().map(|t| t.near_ties).sum();
    let channels: usize = ties.iter().map(|t| t.channels).sum();
    let layers: Vec<String> =
        ties.iter().filter(|t| t.near_ties > 0).map(|t| format!("{} {}", t.layer, t.near_ties)).collect();
    let mut s =
        format!("{total} of {channels} channels have a threshold within one ulp of a reachable accumulator value");
    if total > 0 {
        s.push_str(&format!(
            " ({}): there torch's float32 BatchNorm may decide a tie otherwise; binarycop computes what the \
             accelerator computes (FINN's float32 streamline)",
            layers.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bn1(gamma: f32, beta: f32, mean: f32, var: f32) -> BatchNorm {
        BatchNorm { gamma: vec![gamma], beta: vec![beta], mean: vec![mean], var: vec![var], eps: 1e-4 }
    }

    #[test]
    fn threshold_is_finns_float32_quotient() {
        // β = 0 and mean on the lattice: exactly τ = 3 in real arithmetic; float32 gives
        // −B/|A| = round(round(A·3)/A), which need not be 3.
        let bn = bn1(0.7, 0.0, 3.0, 1.3);
        let a = 0.7f32 / (1e-4f32 + 1.3f32).sqrt();
        let b = 0.0f32 - a * 3.0;
        let want = (0.0f32 - b) / a;
        assert_eq!(channel_rule(&bn, 0, None), ChannelRule::Threshold { flip: false, t: want });
        // A negative γ flips the channel; the threshold uses |A|.
        let neg = bn1(-0.7, 0.0, 3.0, 1.3);
        assert_eq!(channel_rule(&neg, 0, None), ChannelRule::Threshold { flip: true, t: -want });
        // The first layer divides by |s·A| (s a power of two: exactly 128·t).
        let ChannelRule::Threshold { t, .. } = channel_rule(&bn, 0, Some(1.0 / 128.0)) else { panic!() };
        assert_eq!(t, want * 128.0);
    }

    #[test]
    fn the_decision_is_acc_at_least_t() {
        let r = ChannelRule::Threshold { flip: false, t: 3.0 };
        assert!(r.fires(3.0) && !r.fires(2.0));
        let r = ChannelRule::Threshold { flip: true, t: -3.0 };
        assert!(r.fires(3.0) && !r.fires(4.0));
        let up = ChannelRule::Threshold { flip: false, t: 3.0f32.next_up() };
        assert!(!up.fires(3.0), "one ulp above the lattice value: the accelerator says −1");
        assert!(ChannelRule::Constant(true).fires(-1e9));
    }

    #[test]
    fn a_zero_gamma_is_a_constant_channel() {
        assert_eq!(channel_rule(&bn1(0.0, 0.0, 1.0, 1.0), 0, None), ChannelRule::Constant(true));
        assert_eq!(channel_rule(&bn1(0.0, -0.1, 1.0, 1.0), 0, None), ChannelRule::Constant(false));
    }

    #[test]
    fn near_ties_are_within_one_ulp_of_the_lattice() {
        // K = 9: the dot product takes odd values in [−9, 9].
        assert!(near_tie(3.0, 2.0, 1.0, -9.0, 9.0));
        assert!(near_tie(3.0f32.next_up(), 2.0, 1.0, -9.0, 9.0));
        assert!(near_tie(3.0f32.next_down(), 2.0, 1.0, -9.0, 9.0));
        assert!(!near_tie(3.0f32.next_up().next_up(), 2.0, 1.0, -9.0, 9.0));
        assert!(!near_tie(4.0, 2.0, 1.0, -9.0, 9.0), "even values are not reachable");
        assert!(!near_tie(11.0, 2.0, 1.0, -9.0, 9.0), "outside the range");
        assert!(!near_tie(f32::INFINITY, 2.0, 1.0, -9.0, 9.0));
        let bn = BatchNorm {
            gamma: vec![1.0, 1.0, 0.0],
            beta: vec![0.0, 0.0, 0.0],
            mean: vec![3.0, 4.0, 3.0],
            var: vec![1.0 - 1e-4, 1.0 - 1e-4, 1.0],
            eps: 1e-4,
        };
        assert_eq!(count_near_ties(&bn, 9, None), 1);
    }
}
