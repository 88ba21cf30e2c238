//! x86_64: the hardware POPCNT instruction, and AVX2 (nibble lookup with vpshufb, summed with
//! vpsadbw; Muła et al.) for rows of four words or more. Chosen at run time by CPU features.

use super::Kernel;
use std::arch::x86_64::*;

pub struct Popcnt;
pub struct Avx2;

pub fn detect() -> Option<&'static dyn Kernel> {
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt") {
        Some(&Avx2)
    } else if is_x86_feature_detected!("popcnt") {
        Some(&Popcnt)
    } else {
        None
    }
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

#[target_feature(enable = "avx2,popcnt")]
fn rows_avx2(x: &[u64], w: &[u64], out: &mut [u32]) {
    let n = x.len();
    let vec_words = n & !3;
    let lookup = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    for (r, o) in out.iter_mut().enumerate() {
        let row = &w[r * n..(r + 1) * n];
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        while i < vec_words {
            // SAFETY: i + 4 <= vec_words <= n = x.len() = row.len(), so both 32-byte unaligned
            // loads stay inside their slices.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_si256(x.as_ptr().add(i) as *const __m256i),
                    _mm256_loadu_si256(row.as_ptr().add(i) as *const __m256i),
                )
            };
            let v = _mm256_xor_si256(a, b);
            let lo = _mm256_shuffle_epi8(lookup, _mm256_and_si256(v, low));
            let hi = _mm256_shuffle_epi8(lookup, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
            acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256()));
            i += 4;
        }
        let mut lanes = [0u64; 4];
        // SAFETY: `lanes` is 32 bytes, the size of one unaligned store.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc) };
        let tail: u32 = x[vec_words..].iter().zip(&row[vec_words..]).map(|(a, b)| (a ^ b).count_ones()).sum();
        *o = lanes.iter().sum::<u64>() as u32 + tail;
    }
}

impl Kernel for Avx2 {
    fn name(&self) -> &'static str {
        "x86-avx2"
    }
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]) {
        if x.len() < 4 {
            return Popcnt.xor_popcount_rows(x, w, out);
        }
        // SAFETY: this kernel is only handed out by `detect` after the CPU reported AVX2 and
        // POPCNT.
        unsafe { rows_avx2(x, w, out) }
    }
}
