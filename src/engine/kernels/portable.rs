//! The portable fallback: plain `count_ones`, which the compiler lowers to the target's popcount.

use super::Kernel;

pub struct Portable;

impl Kernel for Portable {
    fn name(&self) -> &'static str {
        "portable"
    }
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]) {
        let n = x.len();
        for (r, o) in out.iter_mut().enumerate() {
            let row = &w[r * n..(r + 1) * n];
            *o = x.iter().zip(row).map(|(a, b)| (a ^ b).count_ones()).sum();
        }
    }
}
