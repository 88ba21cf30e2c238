//! Seeded random training-time models, for property tests, benchmarks and examples.
//!
//! BatchNorm parameters put each channel's threshold inside the data (so activations are mixed),
//! about a third of the γ negative and a few exactly zero. Where the threshold sits is the
//! [`Ties`] mode: half a step between the values the dot product can take (float evaluation can
//! never land on a tie), or on those values and one ulp either side of them, where torch's
//! float32 BatchNorm and the accelerator's float32 thresholds may round differently.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::streamline::{self, ChannelRule};
use super::topology::Topology;
use super::trained::{Affine, BatchNorm, InputQuant, TrainedLayer, TrainedModel};
use crate::error::Result;

/// Where the random thresholds sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ties {
    /// Half a step between reachable accumulator values: no position is ever at a tie.
    Avoid,
    /// FINN's float32 threshold exactly on a reachable accumulator value, or one ulp above or
    /// below it (a third each, where the search over the running mean finds one), with decimal
    /// γ, β and var; a third of the channels has β = 0 and the mean on the lattice.
    OnLattice,
}

/// A random model of the given topology. `negative_output` makes the final slope negative.
pub fn random_model(topology: &Topology, seed: u64, negative_output: bool) -> Result<TrainedModel> {
    random_model_with(topology, seed, negative_output, Ties::Avoid)
}

/// [`random_model`] with the thresholds placed by `ties`.
pub fn random_model_with(topology: &Topology, seed: u64, negative_output: bool, ties: Ties) -> Result<TrainedModel> {
    let resolved = topology.resolve()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input_quant = InputQuant::default();
    let compute: Vec<_> = resolved.iter().filter(|l| l.is_compute()).collect();
    let mut layers = Vec::new();
    for (i, l) in compute.iter().enumerate() {
        let k = l.fan_in();
        let n = l.output.channels;
        let weight = Array2::from_shape_fn((n, k), |_| rng.random_range(-1.0f32..1.0));
        let bn = if i + 1 == compute.len() {
            None
        } else {
            let mut bn = BatchNorm::identity(n);
            bn.eps = 1e-4;
            let lattice = Lattice::of(i == 0, k, &input_quant);
            for c in 0..n {
                random_channel(&mut rng, &mut bn, c, &lattice, ties);
            }
            Some(bn)
        };
        layers.push(TrainedLayer { weight, bn });
    }
    let scale = rng.random_range(0.05f32..0.5) * if negative_output { -1.0 } else { 1.0 };
    let output = Affine { scale, bias: rng.random_range(-1.0f32..1.0) };
    let m = TrainedModel { topology: topology.clone(), input_quant, layers, output };
    m.validate()?;
    Ok(m)
}

/// The values a layer's dot product (the BatchNorm input) can take: `offset + unit·j`.
struct Lattice {
    /// The input step for the first layer (int8 codes), 2 for ±1 inputs.
    unit: f32,
    offset: f32,
    /// √K: the dot product's spread is about `step`·√K.
    spread: f32,
    /// `step / unit`: 64 codes for the first layer, 1 for a binary layer.
    steps: f32,
    /// The first layer's input scale (its thresholds are in code units).
    input_scale: Option<f32>,
}

impl Lattice {
    fn of(first: bool, k: usize, q: &InputQuant) -> Lattice {
        let spread = (k as f32).sqrt();
        if first {
            Lattice { unit: q.scale, offset: 0.0, spread, steps: 64.0, input_scale: Some(q.scale) }
        } else {
            Lattice { unit: 2.0, offset: (k % 2) as f32, spread, steps: 1.0, input_scale: None }
        }
    }
}

/// Draws channel `c`'s BatchNorm: γ (a third negative, a few zero), β, var, and the running
/// mean that puts the crossing τ where `ties` says.
fn random_channel(rng: &mut ChaCha8Rng, bn: &mut BatchNorm, c: usize, lat: &Lattice, ties: Ties) {
    let r: f32 = rng.random();
    let mut gamma = if r < 0.05 {
        0.0
    } else if r < 0.38 {
        -rng.random_range(0.2f32..1.5)
    } else {
        rng.random_range(0.2f32..1.5)
    };
    let mut var = rng.random_range(0.5f32..2.0) * lat.spread * lat.spread;
    let mut beta = rng.random_range(-0.5f32..0.5);
    let steps = (rng.random_range(-0.7f32..0.7) * lat.spread * lat.steps).round();
    let half = if ties == Ties::Avoid { 0.5 } else { 0.0 };
    let tau = (steps + half) * lat.unit + lat.offset;
    let side = if ties == Ties::OnLattice { rng.random_range(0..3u8) } else { 0 };
    if ties == Ties::OnLattice {
        // Decimal parameters, as a person or a trainer writes them: not representable in f32.
        let dec = |v: f32| (v * 1000.0).round() / 1000.0;
        gamma = dec(gamma);
        var = dec(var).max(1e-3);
        beta = if side == 0 { 0.0 } else { dec(beta) };
    }
    bn.gamma[c] = gamma;
    bn.beta[c] = beta;
    bn.var[c] = var;
    if gamma == 0.0 {
        bn.mean[c] = rng.random_range(-1.0f32..1.0);
        return;
    }
    let sigma = (var + bn.eps).sqrt();
    bn.mean[c] = tau + beta * sigma / gamma;
    if ties == Ties::OnLattice && beta != 0.0 {
        // The accelerator's threshold (in code units for the first layer) on τ, or one ulp
        // above or below: nudge the mean by ulps until FINN's float32 arithmetic lands there.
        let target = tau / lat.input_scale.unwrap_or(1.0);
        let target = if gamma < 0.0 { -target } else { target };
        let target = [target, target.next_up(), target.next_down()][side as usize];
        nudge_mean(bn, c, lat.input_scale, target);
    }
}

/// Moves channel `c`'s running mean by up to 64 ulps either way to make its float32 threshold
/// equal `target`; keeps the closest one found.
fn nudge_mean(bn: &mut BatchNorm, c: usize, input_scale: Option<f32>, target: f32) {
    let t_of = |bn: &BatchNorm| match streamline::channel_rule(bn, c, input_scale) {
        ChannelRule::Threshold { t, .. } => t,
        ChannelRule::Constant(_) => f32::NAN,
    };
    let start = bn.mean[c];
    let (mut best, mut best_err) = (start, (t_of(bn) - target).abs());
    for dir in [1.0f32, -1.0] {
        let mut m = start;
        for _ in 0..64 {
            m = if dir > 0.0 { m.next_up() } else { m.next_down() };
            bn.mean[c] = m;
            let err = (t_of(bn) - target).abs();
            if err < best_err {
                (best, best_err) = (m, err);
            }
            if err == 0.0 {
                break;
            }
        }
    }
    bn.mean[c] = best;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::folded::acc_range;

    /// The tie mode does what it says: most thresholds lie within one ulp of a reachable
    /// value, and exact hits, one ulp above and one ulp below all occur.
    #[test]
    fn tie_mode_puts_thresholds_on_the_lattice() {
        let t = Topology::preset("ncnv", 4).unwrap();
        let m = random_model_with(&t, 7, false, Ties::OnLattice).unwrap();
        let ties = streamline::near_ties(&m).unwrap();
        let (near, all): (usize, usize) = ties.iter().fold((0, 0), |a, t| (a.0 + t.near_ties, a.1 + t.channels));
        assert!(near * 100 >= all * 85, "{near} of {all} channels near a tie: {ties:?}");
        let resolved = t.resolve().unwrap();
        let spec = resolved.iter().find(|l| l.is_compute()).unwrap();
        let (lo, hi) = acc_range(spec, true, &m.input_quant);
        assert!(lo < 0 && hi > 0);
        let (mut exact, mut up, mut down) = (0, 0, 0);
        for (i, l) in m.layers.iter().enumerate().skip(1) {
            let Some(bn) = &l.bn else { continue };
            let k = resolved.iter().filter(|l| l.is_compute()).nth(i).unwrap().fan_in() as f32;
            for c in 0..bn.channels() {
                if let ChannelRule::Threshold { t, .. } = streamline::channel_rule(bn, c, None) {
                    let v = ((t - k % 2.0) / 2.0).round() * 2.0 + k % 2.0;
                    exact += (t == v) as usize;
                    up += (t == v.next_up()) as usize;
                    down += (t == v.next_down()) as usize;
                }
            }
        }
        assert!(exact > 20 && up > 20 && down > 20, "exact {exact}, one ulp up {up}, one ulp down {down}");
        let avoid = random_model(&t, 7, false).unwrap();
        let near: usize = streamline::near_ties(&avoid).unwrap().iter().map(|t| t.near_ties).sum();
        assert_eq!(near, 0, "the default mode keeps half a step away from every tie");
    }
}
