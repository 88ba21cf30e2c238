//! The seeded random source. Portable by construction: ChaCha with the seed as key and one
//! stream per (purpose, image), and only u32 draws, so 32- and 64-bit targets see the same
//! numbers (rand's usize sampling differs between them).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Independent streams per image, so that a variation's extra draws never shift the base
/// person: image `i` with sunglasses is image `i` without them, plus sunglasses.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Base = 0,
    Variation = 1,
    Noise = 2,
    Classes = 3,
    Conflict = 4,
    /// Which way an "incorrectly worn" face of the published classes wears its mask.
    Wear = 5,
}

pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    pub fn new(seed: u64, stream: Stream, n: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(b"bcsynth1");
        key[16] = stream as u8;
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(n);
        Rng(rng)
    }

    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// Uniform in [0, 1) with 24 bits, exact in f32.
    pub fn unit(&mut self) -> f32 {
        (self.0.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        rand::Rng::random_range(&mut self.0, 0..n)
    }

    pub fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    pub fn sign(&mut self) -> f32 {
        if self.0.next_u32() & 1 == 0 {
            -1.0
        } else {
            1.0
        }
    }

    /// An index drawn with the given weights (any positive scale).
    pub fn weighted(&mut self, weights: &[f32]) -> usize {
        let total: f32 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}
