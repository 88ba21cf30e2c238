//! The portable fallback: plain `count_ones`, which the compiler lowers to the target's popcount.

use super::{generic, BinLayer, BitsOut, Kernel};

pub struct Portable;

impl Kernel for Portable {
    fn name(&self) -> &'static str {
        "portable"
    }
    fn bin_counts(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
        generic::bin_counts(layer, input, bases, out)
    }
    fn bin_bits(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
        generic::bin_bits(layer, input, bases, out)
    }
}
