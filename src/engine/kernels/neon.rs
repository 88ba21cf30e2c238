//! aarch64 (Ultra96, ZCU104): NEON is part of the base ISA. veor + cnt per 16 bytes, byte counts
//! summed with a widening add (uaddlv) per row.

use super::Kernel;
use std::arch::aarch64::*;

pub struct Neon;

impl Kernel for Neon {
    fn name(&self) -> &'static str {
        "aarch64-neon"
    }
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]) {
        let n = x.len();
        let pairs = n / 2;
        for (r, o) in out.iter_mut().enumerate() {
            let row = &w[r * n..(r + 1) * n];
            let mut total = 0u32;
            let mut i = 0;
            while i < pairs {
                // Up to 31 iterations of byte counts (≤ 8 each... ≤ 248) fit in u8 lanes.
                let stop = (i + 31).min(pairs);
                // SAFETY: NEON is mandatory on aarch64; every load reads words 2i..2i+2 < n of
                // slices of length n.
                unsafe {
                    let mut acc = vdupq_n_u8(0);
                    while i < stop {
                        let a = vld1q_u64(x.as_ptr().add(2 * i));
                        let b = vld1q_u64(row.as_ptr().add(2 * i));
                        acc = vaddq_u8(acc, vcntq_u8(vreinterpretq_u8_u64(veorq_u64(a, b))));
                        i += 1;
                    }
                    total += vaddlvq_u8(acc) as u32;
                }
            }
            if n % 2 == 1 {
                total += (x[n - 1] ^ row[n - 1]).count_ones();
            }
            *o = total;
        }
    }
}
