//! armv7 with NEON (PYNQ-Z1/Z2's Cortex-A9), compiled when the build enables NEON (build.rs).
//! Rust's 32-bit ARM NEON intrinsics are still unstable, so the inner loop is stable inline
//! assembly. Blocks of 4 rows interleaved in 32-bit lane words (one q register holds one lane
//! word of 4 rows): per window word, both of its 32-bit halves are broadcast (vld1.32 to all
//! lanes), XOR'ed with 2 lane words of the block, counted per byte (vcnt.8), added, and
//! accumulated pairwise into 16-bit lanes (vpadal.u8), two window words per pass; at the end vpaddl.u16 leaves one row's
//! count in each 32-bit lane, so there is no horizontal sum per row.

use super::{put_block, BinLayer, BitsOut, Kernel};
use std::arch::asm;

pub struct NeonArm;

const LANES: usize = 4;

/// The u16 lanes gain at most 32 per window word (two lane words of ≤ 8 per byte, summed in
/// pairs): 2046 words stay below 65536.
const CHUNK: usize = 2046;

/// The 4 rows' counts of one block for the pixel whose window starts at `x`: `offsets` are the
/// window's word offsets, `w` the block's 2·offsets.len() lane words of 4 rows. The loop takes
/// two window words per pass with independent registers, so the in-order NEON pipeline of the
/// Cortex-A9 overlaps their latencies; an odd last word runs once after it.
///
/// # Safety
/// Every x + offsets[j] word and the block's weights must be readable.
#[inline(always)]
unsafe fn block_counts(x: *const u64, offsets: &[usize], w: *const u32) -> [u32; LANES] {
    let mut counts = [0u32; LANES];
    let mut done = 0;
    while done < offsets.len() {
        let n = (offsets.len() - done).min(CHUNK);
        let mut lanes = [0u32; LANES];
        // SAFETY: (caller) each loaded word lies inside the input map and the 32·n bytes of
        // weights from lane word 2·done inside the block; the only memory written is `lanes`
        // (16 bytes). q8-q12 and q13-q15 are declared clobbered.
        asm!(
            "vmov.i16 q12, #0",
            "lsrs {pairs}, {n}, #1",
            "beq 3f",
            // pair loop: begin
            "2:",
            "ldr {t}, [{off}], #4",
            "ldr {u}, [{off}], #4",
            "add {t}, {x}, {t}, lsl #3",
            "add {u}, {x}, {u}, lsl #3",
            "vld1.32 {{d16[], d17[]}}, [{t}]!",
            "vld1.32 {{d18[], d19[]}}, [{t}]",
            "vld1.32 {{d20[], d21[]}}, [{u}]!",
            "vld1.32 {{d22[], d23[]}}, [{u}]",
            "vld1.64 {{d26, d27, d28, d29}}, [{w}]!",
            "veor q8, q8, q13",
            "veor q9, q9, q14",
            "vld1.64 {{d26, d27, d28, d29}}, [{w}]!",
            "veor q10, q10, q13",
            "veor q11, q11, q14",
            "vcnt.8 q8, q8",
            "vcnt.8 q9, q9",
            "vcnt.8 q10, q10",
            "vcnt.8 q11, q11",
            "vadd.i8 q8, q8, q9",
            "vadd.i8 q10, q10, q11",
            "vadd.i8 q8, q8, q10",
            "vpadal.u8 q12, q8",
            "subs {pairs}, {pairs}, #1",
            "bne 2b",
            // pair loop: end
            "3:",
            "tst {n}, #1",
            "beq 4f",
            "ldr {t}, [{off}]",
            "add {t}, {x}, {t}, lsl #3",
            "vld1.32 {{d16[], d17[]}}, [{t}]!",
            "vld1.32 {{d18[], d19[]}}, [{t}]",
            "vld1.64 {{d26, d27, d28, d29}}, [{w}]",
            "veor q8, q8, q13",
            "veor q9, q9, q14",
            "vcnt.8 q8, q8",
            "vcnt.8 q9, q9",
            "vadd.i8 q8, q8, q9",
            "vpadal.u8 q12, q8",
            "4:",
            "vpaddl.u16 q12, q12",
            "vst1.32 {{d24, d25}}, [{out}]",
            x = in(reg) x,
            off = inout(reg) offsets.as_ptr().add(done) => _,
            w = inout(reg) w.add(2 * done * LANES) => _,
            n = in(reg) n,
            pairs = out(reg) _,
            t = out(reg) _,
            u = out(reg) _,
            out = in(reg) lanes.as_mut_ptr(),
            out("q8") _, out("q9") _, out("q10") _, out("q11") _, out("q12") _,
            out("q13") _, out("q14") _,
            options(nostack),
        );
        for (c, l) in counts.iter_mut().zip(lanes) {
            *c += l;
        }
        done += n;
    }
    counts
}

/// Runs block `b` of 4 rows over every pixel: `emit(p, counts)`.
fn block(layer: &BinLayer, input: &[u64], bases: &[usize], b: usize, mut emit: impl FnMut(usize, [u32; LANES])) {
    let n = layer.words();
    if n == 0 {
        return bases.iter().enumerate().for_each(|(p, _)| emit(p, [0; LANES]));
    }
    let w = layer.weights.as_ptr() as *const u32;
    for (p, &base) in bases.iter().enumerate() {
        // SAFETY: NEON is enabled for this build (build.rs); the caller's `check` put every
        // window word and the block's 2n lane words of 4 u32 inside their slices.
        emit(p, unsafe { block_counts(input.as_ptr().add(base), layer.offsets, w.add(b * 2 * n * LANES)) });
    }
}

impl Kernel for NeonArm {
    fn name(&self) -> &'static str {
        "armv7-neon"
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
            block(layer, input, bases, b, |p, counts| put_block(out, rows, p, b, &counts));
        }
    }
    fn bin_bits(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
        layer.check(input, bases, LANES, 32);
        out.check(bases.len(), layer.rows);
        let BitsOut { limits, group, words, out } = out;
        for b in 0..layer.rows.div_ceil(LANES) {
            // Padding rows get −1, which no count meets.
            let lim: [i64; LANES] = std::array::from_fn(|l| limits.get(b * LANES + l).map_or(-1, |&t| t as i64));
            block(layer, input, bases, b, |p, counts| {
                let m = (0..LANES).fold(0u64, |m, l| m | ((counts[l] as i64 <= lim[l]) as u64) << l);
                out[(p / group) * words + b / 16] |= m << ((b % 16) * 4);
            });
        }
    }
}
