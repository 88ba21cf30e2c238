//! Seeded random training-time models, for property tests, benchmarks and examples.
//!
//! BatchNorm parameters put each channel's threshold inside the data (so activations are mixed),
//! about a third of the γ negative and a few exactly zero. Thresholds sit half a step between
//! the values the dot product can take, so float evaluation can never land on a tie.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::topology::Topology;
use super::trained::{Affine, BatchNorm, InputQuant, TrainedLayer, TrainedModel};
use crate::error::Result;

/// A random model of the given topology. `negative_output` makes the final slope negative.
pub fn random_model(topology: &Topology, seed: u64, negative_output: bool) -> Result<TrainedModel> {
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
            // The dot product moves in steps of `step` (2 for ±1 inputs, the input step
            // for the first layer); its spread is about step·√K.
            let step = if i == 0 { input_quant.scale * 64.0 } else { 2.0 };
            let spread = (k as f32).sqrt();
            let mut bn = BatchNorm::identity(n);
            bn.eps = 1e-4;
            for c in 0..n {
                let r: f32 = rng.random();
                let gamma = if r < 0.05 {
                    0.0
                } else if r < 0.38 {
                    -rng.random_range(0.2f32..1.5)
                } else {
                    rng.random_range(0.2f32..1.5)
                };
                let var = rng.random_range(0.5f32..2.0) * spread * spread;
                let beta = rng.random_range(-0.5f32..0.5);
                // τ: the crossing, half a step off the lattice of reachable dot values.
                let lattice = if i == 0 { input_quant.scale } else { 2.0 };
                let offset = if i == 0 { 0.0 } else { (k % 2) as f32 };
                let tau_steps = (rng.random_range(-0.7f32..0.7) * spread * step / lattice).round();
                let tau = (tau_steps + 0.5) * lattice + offset;
                let sigma = (var + bn.eps).sqrt();
                bn.gamma[c] = gamma;
                bn.beta[c] = beta;
                bn.var[c] = var;
                bn.mean[c] = if gamma == 0.0 { rng.random_range(-1.0f32..1.0) } else { tau + beta * sigma / gamma };
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
