//! armv7 with NEON (PYNQ-Z1/Z2's Cortex-A9), compiled when the build enables NEON (build.rs).
//! Rust's 32-bit ARM NEON intrinsics are still unstable, so the inner loop is stable inline
//! assembly: veor + vcnt.8 per 16 bytes, byte counts accumulated with vpadal.u8 into 16-bit
//! lanes, folded into a scalar per row.

use super::Kernel;
use std::arch::asm;

pub struct NeonArm;

/// popcount(a ^ b) over `pairs` 16-byte blocks.
fn xor_popcount_blocks(a: &[u64], b: &[u64], pairs: usize) -> u32 {
    if pairs == 0 {
        return 0;
    }
    assert!(a.len() >= 2 * pairs && b.len() >= 2 * pairs);
    let mut lanes = [0u16; 8];
    // The u16 lanes each gain at most 16 per block: 2048 blocks stay below 65536/2.
    let mut total = 0u32;
    let mut done = 0;
    while done < pairs {
        let count = (pairs - done).min(2048);
        // SAFETY: NEON is enabled for this build (cfg target_feature = "neon"); the loop reads
        // `count` 16-byte blocks from each pointer, inside the slices by the assert above; the
        // only memory written is `lanes`, 16 bytes. q8-q11 are declared clobbered.
        unsafe {
            asm!(
                "vmov.i16 q10, #0",
                "2:",
                "vld1.64 {{d16, d17}}, [{pa}]!",
                "vld1.64 {{d18, d19}}, [{pb}]!",
                "veor q8, q8, q9",
                "vcnt.8 q8, q8",
                "vpadal.u8 q10, q8",
                "subs {n}, {n}, #1",
                "bne 2b",
                "vst1.16 {{d20, d21}}, [{out}]",
                pa = inout(reg) a.as_ptr().add(2 * done) => _,
                pb = inout(reg) b.as_ptr().add(2 * done) => _,
                n = inout(reg) count => _,
                out = in(reg) lanes.as_mut_ptr(),
                out("q8") _, out("q9") _, out("q10") _, out("q11") _,
                options(nostack),
            );
        }
        total += lanes.iter().map(|&l| l as u32).sum::<u32>();
        done += count;
    }
    total
}

impl Kernel for NeonArm {
    fn name(&self) -> &'static str {
        "armv7-neon"
    }
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]) {
        let n = x.len();
        let pairs = n / 2;
        for (r, o) in out.iter_mut().enumerate() {
            let row = &w[r * n..(r + 1) * n];
            let mut total = xor_popcount_blocks(x, row, pairs);
            if n % 2 == 1 {
                total += (x[n - 1] ^ row[n - 1]).count_ones();
            }
            *o = total;
        }
    }
}
