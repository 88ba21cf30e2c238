//! x86_64, chosen at run time by CPU features: the hardware POPCNT instruction on plain rows;
//! AVX2 on blocks of 4 interleaved rows (nibble lookup with vpshufb, byte counts summed per
//! 64-bit lane with vpsadbw; Muła et al.) and the first layer with vpmaddubsw; AVX-512
//! VPOPCNTDQ on blocks of 8 rows and the first layer with VNNI's vpdpbusd (Ice Lake, Zen 4 and
//! later).
//!
//! The AVX-512 binary loop keeps a block's weights in registers when the window is 9 or 18
//! words (every 3×3 conv of the CNV family over 64 or 128 channels) and runs every output pixel
//! against them: per word one broadcast load of the input, XOR, VPOPCNTQ and an add, which is
//! the roofline loop of `benches/roofline.rs`. Thresholds are compared in the epilogue, so a
//! block of 8 rows leaves one byte of output bits.

use super::{generic, put_block, BinLayer, BitsOut, IntLayer, Kernel};
use std::arch::x86_64::*;

pub struct Popcnt;
pub struct Avx2;
pub struct Avx512;

/// The kernels this CPU can run, slowest first.
pub fn detect() -> Vec<&'static dyn Kernel> {
    let mut v: Vec<&'static dyn Kernel> = Vec::new();
    if !is_x86_feature_detected!("popcnt") {
        return v;
    }
    v.push(&Popcnt);
    if is_x86_feature_detected!("avx2") {
        v.push(&Avx2);
    }
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vpopcntdq")
        && is_x86_feature_detected!("avx512vnni")
    {
        v.push(&Avx512);
    }
    v
}

#[target_feature(enable = "popcnt")]
fn bin_counts_popcnt(layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
    generic::bin_counts(layer, input, bases, out)
}

#[target_feature(enable = "popcnt")]
fn bin_bits_popcnt(layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
    generic::bin_bits(layer, input, bases, out)
}

impl Kernel for Popcnt {
    fn name(&self) -> &'static str {
        "x86-popcnt"
    }
    fn bin_counts(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
        // SAFETY: this kernel is only handed out by `detect` after the CPU reported POPCNT.
        unsafe { bin_counts_popcnt(layer, input, bases, out) }
    }
    fn bin_bits(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
        // SAFETY: as above, POPCNT is present.
        unsafe { bin_bits_popcnt(layer, input, bases, out) }
    }
}

/// A block's limits as `L` lanes of i64; padding rows get −1, which no count is at or below.
#[inline(always)]
fn block_limits<const L: usize>(limits: &[i32], b: usize) -> [i64; L] {
    std::array::from_fn(|l| limits.get(b * L + l).map_or(-1, |&t| t as i64))
}

// ---------------------------------------------------------------------------------------- AVX2

/// The AVX2 loop over pixels for one block of 4 rows: `emit(p, counts)` receives each pixel's
/// 4 mismatch counts as u64 lanes.
#[inline(always)]
unsafe fn avx2_block(layer: &BinLayer, input: &[u64], bases: &[usize], b: usize, mut emit: impl FnMut(usize, __m256i)) {
    const LANES: usize = 4;
    let n = layer.words();
    let lookup = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let w = layer.weights.as_ptr().add(b * n * LANES);
    let off = layer.offsets.as_ptr();
    for (p, &base) in bases.iter().enumerate() {
        let x = input.as_ptr().add(base);
        let mut total = _mm256_setzero_si256();
        let mut j = 0;
        while j < n {
            // Byte lanes gain at most 8 per word: 31 words stay below 256.
            let stop = (j + 31).min(n);
            let mut bytes = _mm256_setzero_si256();
            while j < stop {
                let rows = _mm256_loadu_si256(w.add(j * LANES) as *const __m256i);
                let v = _mm256_xor_si256(rows, _mm256_set1_epi64x(*x.add(*off.add(j)) as i64));
                let lo = _mm256_shuffle_epi8(lookup, _mm256_and_si256(v, low));
                let hi = _mm256_shuffle_epi8(lookup, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
                bytes = _mm256_add_epi8(bytes, _mm256_add_epi8(lo, hi));
                j += 1;
            }
            total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
        }
        emit(p, total);
    }
}

#[target_feature(enable = "avx2")]
fn bin_counts_avx2(layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
    layer.check(input, bases, 4, 64);
    assert!(out.len() >= bases.len() * layer.rows, "one count per pixel and row");
    let rows = layer.rows;
    for b in 0..rows.div_ceil(4) {
        // SAFETY: `check` put every window word and weight block inside its slice.
        unsafe {
            avx2_block(layer, input, bases, b, |p, total| {
                let mut lanes = [0u64; 4];
                _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, total);
                put_block(out, rows, p, b, &lanes.map(|c| c as u32));
            })
        }
    }
}

#[target_feature(enable = "avx2")]
fn bin_bits_avx2(layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
    layer.check(input, bases, 4, 64);
    out.check(bases.len(), layer.rows);
    let BitsOut { limits, group, words, out } = out;
    for b in 0..layer.rows.div_ceil(4) {
        let lim = block_limits::<4>(limits, b);
        // SAFETY: a 32-byte load of a 4 × i64 array.
        let lim = unsafe { _mm256_loadu_si256(lim.as_ptr() as *const __m256i) };
        // SAFETY: `check` put every window word and weight block inside its slice.
        unsafe {
            avx2_block(layer, input, bases, b, |p, total| {
                // count ≤ limit ⇔ ¬(count > limit): one bit per 64-bit lane.
                let gt = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(total, lim))) as u64;
                out[(p / group) * words + b / 16] |= (!gt & 0xf) << ((b % 16) * 4);
            })
        }
    }
}

/// The first layer on 64 channels per block: each group's 4 taps broadcast as one dword,
/// vpmaddubsw against 8 channels × 4 taps per register (pairs of taps into i16 lanes, summed
/// across the window in i16), then vpmaddwd folds each channel's two lanes into i32. Returns
/// false (and does nothing) when the i16 sums could overflow: more than 64 groups.
#[inline(always)]
unsafe fn avx2_int(layer: &IntLayer, input: &[u8], bases: &[usize], mut emit: impl FnMut(usize, usize, &[__m256i; 8])) {
    let ones = _mm256_set1_epi16(1);
    for (p, &base) in bases.iter().enumerate() {
        for cb in 0..layer.padded / 64 {
            let mut s = [_mm256_setzero_si256(); 8];
            for (r, &ro) in layer.row_offsets.iter().enumerate() {
                let x = input.as_ptr().add(base + ro);
                for g in 0..layer.groups {
                    let xv = _mm256_set1_epi32((x.add(4 * g) as *const i32).read_unaligned());
                    let w = layer.weights.as_ptr().add(((r * layer.groups + g) * layer.padded + cb * 64) * 4);
                    for (q, sq) in s.iter_mut().enumerate() {
                        let wq = _mm256_loadu_si256(w.add(32 * q) as *const __m256i);
                        *sq = _mm256_add_epi16(*sq, _mm256_maddubs_epi16(xv, wq));
                    }
                }
            }
            emit(p, cb, &s.map(|v| _mm256_madd_epi16(v, ones)));
        }
    }
}

/// Whether the AVX2 first layer's i16 lanes hold every sum: each lane adds two taps of at most
/// 255 per group.
fn avx2_int_fits(layer: &IntLayer) -> bool {
    layer.row_offsets.len() * layer.groups <= 64
}

#[target_feature(enable = "avx2")]
fn int_acc_avx2(layer: &IntLayer, input: &[u8], bases: &[usize], out: &mut [i32]) {
    if !avx2_int_fits(layer) {
        return generic::int_acc(layer, input, bases, out);
    }
    layer.check(input, bases);
    let c = layer.channels;
    assert!(out.len() >= bases.len() * c, "one sum per pixel and channel");
    // SAFETY: `check` put every window and weight block inside its slice.
    unsafe {
        avx2_int(layer, input, bases, |p, cb, s| {
            let mut lanes = [0i32; 64];
            for (q, v) in s.iter().enumerate() {
                _mm256_storeu_si256(lanes.as_mut_ptr().add(8 * q) as *mut __m256i, *v);
            }
            put_block(out, c, p, cb, &lanes);
        })
    }
}

#[target_feature(enable = "avx2")]
fn int_bits_avx2(layer: &IntLayer, input: &[u8], bases: &[usize], out: BitsOut) {
    if !avx2_int_fits(layer) {
        return generic::int_bits(layer, input, bases, out);
    }
    layer.check(input, bases);
    out.check(bases.len(), layer.channels);
    let BitsOut { limits, group, words, out } = out;
    // SAFETY: `check` put every window and weight block inside its slice.
    unsafe {
        avx2_int(layer, input, bases, |p, cb, s| {
            let mut lanes = [0i32; 64];
            for (q, v) in s.iter().enumerate() {
                _mm256_storeu_si256(lanes.as_mut_ptr().add(8 * q) as *mut __m256i, *v);
            }
            let mut word = 0;
            generic::threshold(
                &lanes,
                &limits[cb * 64..(cb * 64 + 64).min(limits.len())],
                std::slice::from_mut(&mut word),
            );
            out[(p / group) * words + cb] |= word;
        })
    }
}

/// Threshold packing on whole 64-channel words, `step` channels per vector compare
/// (`ge(acc, t)` gives their acc ≥ t bits); partial words take the portable body.
#[inline(always)]
fn threshold_words(acc: &[i32], t: &[i32], bits: &mut [u64], step: usize, ge: impl Fn(&[i32], &[i32]) -> u64) {
    for (word, (a64, t64)) in bits.iter_mut().zip(acc.chunks(64).zip(t.chunks(64))) {
        if a64.len() < 64 {
            generic::threshold(a64, t64, std::slice::from_mut(word));
            continue;
        }
        *word = (0..64 / step).fold(0, |w, q| w | ge(&a64[q * step..], &t64[q * step..]) << (q * step));
    }
}

/// acc ≥ t as (t > acc) negated, eight channels per compare and movemask.
#[target_feature(enable = "avx2")]
fn threshold_avx2(acc: &[i32], t: &[i32], bits: &mut [u64]) {
    threshold_words(acc, t, bits, 8, |a, th| {
        assert!(a.len() >= 8 && th.len() >= 8);
        // SAFETY: both slices hold at least 8 lanes (asserted).
        let (a, th) = unsafe {
            (_mm256_loadu_si256(a.as_ptr() as *const __m256i), _mm256_loadu_si256(th.as_ptr() as *const __m256i))
        };
        !(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(th, a))) as u64) & 0xff
    })
}

impl Kernel for Avx2 {
    fn name(&self) -> &'static str {
        "x86-avx2"
    }
    fn lanes(&self) -> usize {
        4
    }
    fn bin_counts(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
        // SAFETY: `detect` hands out this kernel only after the CPU reported AVX2.
        unsafe { bin_counts_avx2(layer, input, bases, out) }
    }
    fn bin_bits(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
        // SAFETY: as above, AVX2 is present.
        unsafe { bin_bits_avx2(layer, input, bases, out) }
    }
    fn int_acc(&self, layer: &IntLayer, input: &[u8], bases: &[usize], out: &mut [i32]) {
        // SAFETY: as above, AVX2 is present.
        unsafe { int_acc_avx2(layer, input, bases, out) }
    }
    fn int_bits(&self, layer: &IntLayer, input: &[u8], bases: &[usize], out: BitsOut) {
        // SAFETY: as above, AVX2 is present.
        unsafe { int_bits_avx2(layer, input, bases, out) }
    }
    fn threshold(&self, acc: &[i32], t: &[i32], bits: &mut [u64]) {
        // SAFETY: as above, AVX2 is present.
        unsafe { threshold_avx2(acc, t, bits) }
    }
}

// ------------------------------------------------------------------------------------- AVX-512

/// One pixel against a block whose `N` weight words sit in registers.
#[inline(always)]
unsafe fn avx512_fixed<const N: usize>(
    w: *const u64,
    input: *const u64,
    offsets: &[usize],
    bases: &[usize],
    emit: &mut impl FnMut(usize, __m512i),
) {
    let off: &[usize; N] = offsets.try_into().expect("N window words");
    let mut wr = [_mm512_setzero_si512(); N];
    for (j, r) in wr.iter_mut().enumerate() {
        *r = _mm512_loadu_si512(w.add(8 * j) as *const __m512i);
    }
    for (p, &base) in bases.iter().enumerate() {
        let x = input.add(base);
        let mut acc = _mm512_setzero_si512();
        for j in 0..N {
            let v = _mm512_xor_si512(wr[j], _mm512_set1_epi64(*x.add(off[j]) as i64));
            acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(v));
        }
        emit(p, acc);
    }
}

/// The AVX-512 loop over pixels for block `b` of 8 rows: `emit(p, counts)` receives each
/// pixel's 8 mismatch counts as u64 lanes.
#[inline(always)]
unsafe fn avx512_block(
    layer: &BinLayer,
    input: &[u64],
    bases: &[usize],
    b: usize,
    mut emit: impl FnMut(usize, __m512i),
) {
    const LANES: usize = 8;
    let n = layer.words();
    let w = layer.weights.as_ptr().add(b * n * LANES);
    let x = input.as_ptr();
    match n {
        9 => avx512_fixed::<9>(w, x, layer.offsets, bases, &mut emit),
        18 => avx512_fixed::<18>(w, x, layer.offsets, bases, &mut emit),
        _ => {
            for (p, &base) in bases.iter().enumerate() {
                let xp = x.add(base);
                let mut acc = _mm512_setzero_si512();
                for (j, &o) in layer.offsets.iter().enumerate() {
                    let rows = _mm512_loadu_si512(w.add(j * LANES) as *const __m512i);
                    let v = _mm512_xor_si512(rows, _mm512_set1_epi64(*xp.add(o) as i64));
                    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(v));
                }
                emit(p, acc);
            }
        }
    }
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn bin_counts_avx512(layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
    layer.check(input, bases, 8, 64);
    assert!(out.len() >= bases.len() * layer.rows, "one count per pixel and row");
    let rows = layer.rows;
    for b in 0..rows.div_ceil(8) {
        // SAFETY: `check` put every window word and weight block inside its slice.
        unsafe {
            avx512_block(layer, input, bases, b, |p, acc| {
                let mut lanes = [0u32; 8];
                _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, _mm512_cvtepi64_epi32(acc));
                put_block(out, rows, p, b, &lanes);
            })
        }
    }
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn bin_bits_avx512(layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
    layer.check(input, bases, 8, 64);
    out.check(bases.len(), layer.rows);
    let BitsOut { limits, group, words, out } = out;
    let dst = out.as_mut_ptr();
    let last = bases.len().div_ceil(group) * words;
    for b in 0..layer.rows.div_ceil(8) {
        let lim = block_limits::<8>(limits, b);
        // SAFETY: a 64-byte load of an 8 × i64 array.
        let lim = unsafe { _mm512_loadu_si512(lim.as_ptr() as *const __m512i) };
        let (word, shift) = (b / 8, (b % 8) * 8);
        // SAFETY: `check` put every window word and weight block inside its slice, and
        // (p / group)·words + word < last ≤ out.len() (BitsOut::check, word < words).
        unsafe {
            avx512_block(layer, input, bases, b, |p, acc| {
                let m = _mm512_cmple_epi64_mask(acc, lim) as u64;
                let i = (p / group) * words + word;
                debug_assert!(i < last);
                *dst.add(i) |= m << shift;
            })
        }
    }
}

/// The first layer with VNNI: per group of 4 taps, one broadcast dword of input codes meets
/// 16 channels × 4 taps per vpdpbusd (u8 × i8 summed into i32 lanes); 64 channels per block.
#[inline(always)]
unsafe fn avx512_int(
    layer: &IntLayer,
    input: &[u8],
    bases: &[usize],
    mut emit: impl FnMut(usize, usize, &[__m512i; 4]),
) {
    for (p, &base) in bases.iter().enumerate() {
        for cb in 0..layer.padded / 64 {
            let mut s = [_mm512_setzero_si512(); 4];
            for (r, &ro) in layer.row_offsets.iter().enumerate() {
                let x = input.as_ptr().add(base + ro);
                for g in 0..layer.groups {
                    let xv = _mm512_set1_epi32((x.add(4 * g) as *const i32).read_unaligned());
                    let w = layer.weights.as_ptr().add(((r * layer.groups + g) * layer.padded + cb * 64) * 4);
                    for (q, sq) in s.iter_mut().enumerate() {
                        *sq = _mm512_dpbusd_epi32(*sq, xv, _mm512_loadu_si512(w.add(64 * q) as *const __m512i));
                    }
                }
            }
            emit(p, cb, &s);
        }
    }
}

#[target_feature(enable = "avx512f,avx512vnni")]
fn int_acc_avx512(layer: &IntLayer, input: &[u8], bases: &[usize], out: &mut [i32]) {
    layer.check(input, bases);
    let c = layer.channels;
    assert!(out.len() >= bases.len() * c, "one sum per pixel and channel");
    // SAFETY: `check` put every window and weight block inside its slice.
    unsafe {
        avx512_int(layer, input, bases, |p, cb, s| {
            let mut lanes = [0i32; 64];
            for (q, v) in s.iter().enumerate() {
                _mm512_storeu_si512(lanes.as_mut_ptr().add(16 * q) as *mut __m512i, *v);
            }
            put_block(out, c, p, cb, &lanes);
        })
    }
}

#[target_feature(enable = "avx512f,avx512vnni")]
fn int_bits_avx512(layer: &IntLayer, input: &[u8], bases: &[usize], out: BitsOut) {
    layer.check(input, bases);
    out.check(bases.len(), layer.channels);
    let BitsOut { limits, group, words, out } = out;
    assert!(limits.len() >= layer.padded, "the first layer's limits are padded to whole blocks");
    // SAFETY: `check` put every window and weight block inside its slice; `limits` holds
    // layer.padded limits, so the 16-lane loads at cb·64 + 16q stay inside it.
    unsafe {
        avx512_int(layer, input, bases, |p, cb, s| {
            let mut word = 0u64;
            for (q, v) in s.iter().enumerate() {
                let t = _mm512_loadu_si512(limits.as_ptr().add(cb * 64 + 16 * q) as *const __m512i);
                word |= (_mm512_cmpge_epi32_mask(*v, t) as u64) << (16 * q);
            }
            out[(p / group) * words + cb] |= word;
        })
    }
}

/// acc ≥ t, sixteen channels per compare into a mask register.
#[target_feature(enable = "avx512f")]
fn threshold_avx512(acc: &[i32], t: &[i32], bits: &mut [u64]) {
    threshold_words(acc, t, bits, 16, |a, th| {
        assert!(a.len() >= 16 && th.len() >= 16);
        // SAFETY: both slices hold at least 16 lanes (asserted).
        let (a, th) = unsafe {
            (_mm512_loadu_si512(a.as_ptr() as *const __m512i), _mm512_loadu_si512(th.as_ptr() as *const __m512i))
        };
        _mm512_cmpge_epi32_mask(a, th) as u64
    })
}

impl Kernel for Avx512 {
    fn name(&self) -> &'static str {
        "x86-avx512"
    }
    fn lanes(&self) -> usize {
        8
    }
    fn bin_counts(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
        // SAFETY: `detect` hands out this kernel only after the CPU reported AVX-512F,
        // AVX-512BW, VPOPCNTDQ and VNNI.
        unsafe { bin_counts_avx512(layer, input, bases, out) }
    }
    fn bin_bits(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
        // SAFETY: as above.
        unsafe { bin_bits_avx512(layer, input, bases, out) }
    }
    fn int_acc(&self, layer: &IntLayer, input: &[u8], bases: &[usize], out: &mut [i32]) {
        // SAFETY: as above.
        unsafe { int_acc_avx512(layer, input, bases, out) }
    }
    fn int_bits(&self, layer: &IntLayer, input: &[u8], bases: &[usize], out: BitsOut) {
        // SAFETY: as above.
        unsafe { int_bits_avx512(layer, input, bases, out) }
    }
    fn threshold(&self, acc: &[i32], t: &[i32], bits: &mut [u64]) {
        // SAFETY: as above, AVX-512F is present.
        unsafe { threshold_avx512(acc, t, bits) }
    }
}
