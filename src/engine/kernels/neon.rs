//! aarch64 (Ultra96, ZCU104: Cortex-A53): NEON is part of the base ISA. Blocks of 4 rows
//! interleaved in 32-bit lane words, so one register holds one lane word of 4 rows: each input
//! lane word is broadcast (ld1r), XOR'ed, counted per byte (cnt) and added in byte lanes for up
//! to 31 words, then widened (uaddlp twice) so every 32-bit lane ends with one row's count: no
//! horizontal sum per row. A 9-word window (every 3×3 conv over at most 64 channels) keeps its
//! 18 weight registers resident across the output pixels.

use super::{put_block, BinLayer, BitsOut, Kernel};
use std::arch::aarch64::*;

pub struct Neon;

const LANES: usize = 4;

/// Counts of the 4 rows of one block for the pixel whose window starts at `x`, weights `w`
/// resident or loaded per word.
#[inline(always)]
unsafe fn pixel_counts(x: *const u32, offsets: &[usize], w: impl Fn(usize) -> uint32x4_t) -> uint32x4_t {
    let mut total = vdupq_n_u32(0);
    let mut bytes = vdupq_n_u8(0);
    let mut pending = 0;
    for (j, &o) in offsets.iter().enumerate() {
        for h in 0..2 {
            let v = veorq_u32(w(2 * j + h), vld1q_dup_u32(x.add(2 * o + h)));
            bytes = vaddq_u8(bytes, vcntq_u8(vreinterpretq_u8_u32(v)));
            pending += 1;
            // Byte lanes gain at most 8 per lane word: 31 stay below 256.
            if pending == 31 {
                total = vaddq_u32(total, vpaddlq_u16(vpaddlq_u8(bytes)));
                bytes = vdupq_n_u8(0);
                pending = 0;
            }
        }
    }
    vaddq_u32(total, vpaddlq_u16(vpaddlq_u8(bytes)))
}

/// Runs block `b` of 4 rows over every pixel: `emit(p, counts)`.
#[inline(always)]
unsafe fn block(layer: &BinLayer, input: &[u64], bases: &[usize], b: usize, mut emit: impl FnMut(usize, uint32x4_t)) {
    let n = layer.words();
    // 2n lane words of 4 u32 each per block.
    let w = (layer.weights.as_ptr() as *const u32).add(b * 2 * n * LANES);
    let x = input.as_ptr() as *const u32;
    if n == 9 {
        let mut wr = [vdupq_n_u32(0); 18];
        for (j, r) in wr.iter_mut().enumerate() {
            *r = vld1q_u32(w.add(LANES * j));
        }
        for (p, &base) in bases.iter().enumerate() {
            emit(p, pixel_counts(x.add(2 * base), layer.offsets, |j| wr[j]));
        }
    } else {
        for (p, &base) in bases.iter().enumerate() {
            emit(p, pixel_counts(x.add(2 * base), layer.offsets, |j| vld1q_u32(w.add(LANES * j))));
        }
    }
}

impl Kernel for Neon {
    fn name(&self) -> &'static str {
        "aarch64-neon"
    }
    fn lanes(&self) -> usize {
        LANES
    }
    fn lane_bits(&self) -> u32 {
        32
    }
    fn bin_counts(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
        layer.check(input, bases, LANES, 32);
        let rows = layer.rows;
        assert!(out.len() >= bases.len() * rows, "one count per pixel and row");
        for b in 0..rows.div_ceil(LANES) {
            // SAFETY: NEON is mandatory on aarch64; `check` put every window word and weight
            // block inside its slice (a u64 word is two u32 lane words).
            unsafe {
                block(layer, input, bases, b, |p, counts| {
                    let mut lanes = [0u32; LANES];
                    vst1q_u32(lanes.as_mut_ptr(), counts);
                    put_block(out, rows, p, b, &lanes);
                })
            }
        }
    }
    fn bin_bits(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
        layer.check(input, bases, LANES, 32);
        out.check(bases.len(), layer.rows);
        let BitsOut { limits, group, words, out } = out;
        let bit = [1u32, 2, 4, 8];
        for b in 0..layer.rows.div_ceil(LANES) {
            // A limit of −1 (and a padding row) is met by no count: its lane's bit is masked off.
            let lim: [u32; LANES] = std::array::from_fn(|l| limits.get(b * LANES + l).map_or(0, |&t| t.max(0) as u32));
            let live: [u32; LANES] =
                std::array::from_fn(|l| limits.get(b * LANES + l).map_or(0, |&t| if t >= 0 { bit[l] } else { 0 }));
            // SAFETY: as in `bin_counts`; the loads read 4-lane arrays.
            unsafe {
                let (lim, live) = (vld1q_u32(lim.as_ptr()), vld1q_u32(live.as_ptr()));
                block(layer, input, bases, b, |p, counts| {
                    let m = vaddvq_u32(vandq_u32(vcleq_u32(counts, lim), live)) as u64;
                    out[(p / group) * words + b / 16] |= m << ((b % 16) * 4);
                })
            }
        }
    }
}
