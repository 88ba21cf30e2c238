//! x86_64, chosen at run time by CPU features: the hardware POPCNT instruction on plain rows;
//! AVX2 on blocks of 4 interleaved rows (nibble lookup with vpshufb, byte counts summed per
//! 64-bit lane with vpsadbw; Muła et al.); AVX-512 VPOPCNTDQ on blocks of 8 rows (Ice Lake,
//! Zen 4 and later).

use super::{generic, Kernel};
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
    {
        v.push(&Avx512);
    }
    v
}

#[target_feature(enable = "popcnt")]
fn rows_popcnt(x: &[u64], w: &[u64], out: &mut [u32]) {
    let n = x.len();
    for (r, o) in out.iter_mut().enumerate() {
        let row = &w[r * n..(r + 1) * n];
        *o = x.iter().zip(row).map(|(a, b)| (a ^ b).count_ones()).sum();
    }
}

impl Kernel for Popcnt {
    fn name(&self) -> &'static str {
        "x86-popcnt"
    }
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]) {
        // SAFETY: this kernel is only handed out by `detect` after the CPU reported POPCNT.
        unsafe { rows_popcnt(x, w, out) }
    }
}

/// Checks the packed layout's length for `out.len()` rows in blocks of `lanes`.
fn check_packed(x: &[u64], w: &[u64], rows: usize, lanes: usize) {
    assert!(w.len() >= rows.div_ceil(lanes) * lanes * x.len(), "weights are packed for {lanes} lanes");
}

#[target_feature(enable = "avx2")]
fn rows_avx2(x: &[u64], w: &[u64], out: &mut [u32]) {
    const LANES: usize = 4;
    let n = x.len();
    check_packed(x, w, out.len(), LANES);
    let lookup = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    for (b, o) in out.chunks_mut(LANES).enumerate() {
        let block = &w[b * n * LANES..(b + 1) * n * LANES];
        let mut total = _mm256_setzero_si256();
        let mut j = 0;
        while j < n {
            // Byte lanes gain at most 8 per word: 31 words stay below 256.
            let stop = (j + 31).min(n);
            let mut bytes = _mm256_setzero_si256();
            while j < stop {
                // SAFETY: block holds n words × 4 lanes and j < n, so the 32-byte unaligned load
                // of words j·4..j·4+4 stays inside it.
                let rows = unsafe { _mm256_loadu_si256(block.as_ptr().add(j * LANES) as *const __m256i) };
                let v = _mm256_xor_si256(rows, _mm256_set1_epi64x(x[j] as i64));
                let lo = _mm256_shuffle_epi8(lookup, _mm256_and_si256(v, low));
                let hi = _mm256_shuffle_epi8(lookup, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
                bytes = _mm256_add_epi8(bytes, _mm256_add_epi8(lo, hi));
                j += 1;
            }
            total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
        }
        let mut counts = [0u64; LANES];
        // SAFETY: `counts` is 32 bytes, the size of one unaligned store.
        unsafe { _mm256_storeu_si256(counts.as_mut_ptr() as *mut __m256i, total) };
        for (d, c) in o.iter_mut().zip(counts) {
            *d = c as u32;
        }
    }
}

/// The first layer on 64 channels per block (four registers of 16 i16 lanes): broadcast each
/// input code, AND it with the +1 masks, add; then widen to i32 as 2·sum − total.
#[target_feature(enable = "avx2")]
fn pm1_dot_avx2(window: &[i16], plus: &[i16], acc: &mut [i32]) {
    let padded = plus.len() / window.len().max(1);
    assert!(padded.is_multiple_of(64) && acc.len() <= padded && plus.len() == padded * window.len());
    let total = _mm256_set1_epi32(window.iter().map(|&v| v as i32).sum());
    for (c, out) in acc.chunks_mut(64).enumerate() {
        let mut s = [_mm256_setzero_si256(); 4];
        for (j, &x) in window.iter().enumerate() {
            let xv = _mm256_set1_epi16(x);
            let row = plus[j * padded + c * 64..].as_ptr();
            for (q, sq) in s.iter_mut().enumerate() {
                // SAFETY: the row has `padded` lanes from c·64 on, a multiple of 64, so the
                // 16-lane load at 16q < 64 stays inside `plus`.
                let m = unsafe { _mm256_loadu_si256(row.add(16 * q) as *const __m256i) };
                *sq = _mm256_add_epi16(*sq, _mm256_and_si256(xv, m));
            }
        }
        // Whole blocks are written in place, the last partial one through a buffer.
        let mut buf = [0i32; 64];
        let whole = out.len() == 64;
        let lanes: &mut [i32] = if whole { out } else { &mut buf };
        for (q, sq) in s.iter().enumerate() {
            let halves = [_mm256_castsi256_si128(*sq), _mm256_extracti128_si256::<1>(*sq)];
            for (h, half) in halves.into_iter().enumerate() {
                let v = _mm256_sub_epi32(_mm256_slli_epi32::<1>(_mm256_cvtepi16_epi32(half)), total);
                // SAFETY: `lanes` holds 64 i32 and 16q + 8h + 8 <= 64.
                unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().add(16 * q + 8 * h) as *mut __m256i, v) };
            }
        }
        if !whole {
            out.copy_from_slice(&buf[..out.len()]);
        }
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
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]) {
        // SAFETY: `detect` hands out this kernel only after the CPU reported AVX2.
        unsafe { rows_avx2(x, w, out) }
    }
    fn pm1_dot_i16(&self, window: &[i16], plus: &[i16], acc: &mut [i32]) {
        // SAFETY: as above, AVX2 is present.
        unsafe { pm1_dot_avx2(window, plus, acc) }
    }
    fn threshold(&self, acc: &[i32], t: &[i32], bits: &mut [u64]) {
        // SAFETY: as above, AVX2 is present.
        unsafe { threshold_avx2(acc, t, bits) }
    }
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn rows_avx512(x: &[u64], w: &[u64], out: &mut [u32]) {
    const LANES: usize = 8;
    let n = x.len();
    check_packed(x, w, out.len(), LANES);
    for (b, o) in out.chunks_mut(LANES).enumerate() {
        let block = &w[b * n * LANES..(b + 1) * n * LANES];
        let mut acc = _mm512_setzero_si512();
        for (j, &xj) in x.iter().enumerate() {
            // SAFETY: block holds n words × 8 lanes and j < n, so the 64-byte unaligned load of
            // words j·8..j·8+8 stays inside it.
            let rows = unsafe { _mm512_loadu_si512(block.as_ptr().add(j * LANES) as *const __m512i) };
            acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(rows, _mm512_set1_epi64(xj as i64))));
        }
        let counts = _mm512_cvtepi64_epi32(acc);
        if o.len() == LANES {
            // SAFETY: `o` holds 8 u32, 32 bytes, the size of one unaligned store.
            unsafe { _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, counts) };
        } else {
            let mut last = [0u32; LANES];
            // SAFETY: `last` is 32 bytes, the size of one unaligned store.
            unsafe { _mm256_storeu_si256(last.as_mut_ptr() as *mut __m256i, counts) };
            o.copy_from_slice(&last[..o.len()]);
        }
    }
}

/// The first layer on 64 channels per block (two registers of 32 i16 lanes).
#[target_feature(enable = "avx512f,avx512bw")]
fn pm1_dot_avx512(window: &[i16], plus: &[i16], acc: &mut [i32]) {
    let padded = plus.len() / window.len().max(1);
    assert!(padded.is_multiple_of(64) && acc.len() <= padded && plus.len() == padded * window.len());
    let total = _mm512_set1_epi32(window.iter().map(|&v| v as i32).sum());
    for (c, out) in acc.chunks_mut(64).enumerate() {
        let mut s = [_mm512_setzero_si512(); 2];
        for (j, &x) in window.iter().enumerate() {
            let xv = _mm512_set1_epi16(x);
            let row = plus[j * padded + c * 64..].as_ptr();
            for (q, sq) in s.iter_mut().enumerate() {
                // SAFETY: the row has `padded` lanes from c·64 on, a multiple of 64, so the
                // 32-lane load at 32q < 64 stays inside `plus`.
                let m = unsafe { _mm512_loadu_si512(row.add(32 * q) as *const __m512i) };
                *sq = _mm512_add_epi16(*sq, _mm512_and_si512(xv, m));
            }
        }
        // Whole blocks are written in place, the last partial one through a buffer.
        let mut buf = [0i32; 64];
        let whole = out.len() == 64;
        let lanes: &mut [i32] = if whole { out } else { &mut buf };
        for (q, sq) in s.iter().enumerate() {
            let halves = [_mm512_castsi512_si256(*sq), _mm512_extracti64x4_epi64::<1>(*sq)];
            for (h, half) in halves.into_iter().enumerate() {
                let v = _mm512_sub_epi32(_mm512_slli_epi32::<1>(_mm512_cvtepi16_epi32(half)), total);
                // SAFETY: `lanes` holds 64 i32 and 32q + 16h + 16 <= 64.
                unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().add(32 * q + 16 * h) as *mut __m512i, v) };
            }
        }
        if !whole {
            out.copy_from_slice(&buf[..out.len()]);
        }
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
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]) {
        // SAFETY: `detect` hands out this kernel only after the CPU reported AVX-512F,
        // AVX-512BW and VPOPCNTDQ.
        unsafe { rows_avx512(x, w, out) }
    }
    fn pm1_dot_i16(&self, window: &[i16], plus: &[i16], acc: &mut [i32]) {
        // SAFETY: as above, AVX-512F and AVX-512BW are present.
        unsafe { pm1_dot_avx512(window, plus, acc) }
    }
    fn threshold(&self, acc: &[i32], t: &[i32], bits: &mut [u64]) {
        // SAFETY: as above, AVX-512F is present.
        unsafe { threshold_avx512(acc, t, bits) }
    }
}
