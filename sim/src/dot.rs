//! The MVAU's arithmetic over whole weight rows at once: one input vector against every row of
//! a layer, as the simulator needs it when a vector is complete. Binary inputs count the bits
//! where a ±1 row and the packed input differ (XNOR-popcount: the dot product is MW − 2·that,
//! the MVAU's accumulator MW − that); integer inputs sum x·(±1) with the −1 weights held as
//! masks (x ^ m − m negates where m = −1), column-major, so each input lane updates every row's
//! sum in one pass of wide lanes.
//!
//! Plain Rust, compiled once portably and, on x86-64, once more for the CPU's POPCNT or AVX-512
//! VPOPCNTDQ / AVX2, picked at run time (`count_ones` and the integer sums then compile to the
//! wide instructions). Every variant computes the same integers; `tests` runs them all.

use std::sync::OnceLock;

/// For each row of `x.len()` words in `rows`, the number of bits in which it differs from `x`.
type MismatchFn = fn(rows: &[u64], x: &[u64], out: &mut [u32]);
/// For each row r, Σᵢ (x[i] ^ m) − m with m = cols[i·R + r] (R = `out.len()` rows).
type SignedSumFn = fn(cols: &[i32], x: &[i32], out: &mut [i32]);

#[inline(always)]
fn mismatches_body(rows: &[u64], x: &[u64], out: &mut [u32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(x.len().max(1))) {
        *o = row.iter().zip(x).map(|(w, v)| (w ^ v).count_ones()).sum();
    }
}

#[inline(always)]
fn signed_sums_body(cols: &[i32], x: &[i32], out: &mut [i32]) {
    out.fill(0);
    for (&v, col) in x.iter().zip(cols.chunks_exact(out.len().max(1))) {
        for (o, &m) in out.iter_mut().zip(col) {
            *o += (v ^ m) - m;
        }
    }
}

fn mismatches_portable(rows: &[u64], x: &[u64], out: &mut [u32]) {
    mismatches_body(rows, x, out)
}

fn signed_sums_portable(cols: &[i32], x: &[i32], out: &mut [i32]) {
    signed_sums_body(cols, x, out)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "popcnt")]
    pub fn mismatches_popcnt(rows: &[u64], x: &[u64], out: &mut [u32]) {
        super::mismatches_body(rows, x, out)
    }

    #[target_feature(enable = "popcnt,avx512f,avx512vpopcntdq")]
    pub fn mismatches_avx512(rows: &[u64], x: &[u64], out: &mut [u32]) {
        super::mismatches_body(rows, x, out)
    }

    #[target_feature(enable = "avx2")]
    pub fn signed_sums_avx2(cols: &[i32], x: &[i32], out: &mut [i32]) {
        super::signed_sums_body(cols, x, out)
    }
}

/// Every mismatch variant this CPU runs, best last, with its name.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
fn mismatch_variants() -> Vec<(&'static str, MismatchFn)> {
    let mut v: Vec<(&'static str, MismatchFn)> = vec![("portable", mismatches_portable)];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("popcnt") {
            // SAFETY: listed only after the CPU reported POPCNT.
            v.push(("popcnt", |r, x, o| unsafe { x86::mismatches_popcnt(r, x, o) }));
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vpopcntdq") {
                // SAFETY: listed only after the CPU reported POPCNT, AVX-512F and VPOPCNTDQ.
                v.push(("avx512", |r, x, o| unsafe { x86::mismatches_avx512(r, x, o) }));
            }
        }
    }
    v
}

/// Every signed-sum variant this CPU runs, best last, with its name.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
fn signed_sum_variants() -> Vec<(&'static str, SignedSumFn)> {
    let mut v: Vec<(&'static str, SignedSumFn)> = vec![("portable", signed_sums_portable)];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            // SAFETY: listed only after the CPU reported AVX2.
            v.push(("avx2", |r, x, o| unsafe { x86::signed_sums_avx2(r, x, o) }));
        }
    }
    v
}

/// For each row of `x.len()` words in `rows` (a whole number of rows, `out.len()` of them), the
/// number of bits in which it differs from `x`.
pub fn mismatches(rows: &[u64], x: &[u64], out: &mut [u32]) {
    static BEST: OnceLock<MismatchFn> = OnceLock::new();
    debug_assert_eq!(rows.len(), x.len() * out.len());
    BEST.get_or_init(|| mismatch_variants().last().expect("portable is always there").1)(rows, x, out)
}

/// For each of the `out.len()` rows, Σᵢ x[i]·(±1) where `cols` holds, input lane by input lane,
/// every row's sign mask (0 for +1, −1 for −1).
pub fn signed_sums(cols: &[i32], x: &[i32], out: &mut [i32]) {
    static BEST: OnceLock<SignedSumFn> = OnceLock::new();
    debug_assert_eq!(cols.len(), x.len() * out.len());
    BEST.get_or_init(|| signed_sum_variants().last().expect("portable is always there").1)(cols, x, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(s: &mut u64) -> u64 {
        *s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *s ^ (*s >> 29)
    }

    #[test]
    fn every_variant_counts_as_the_definition() {
        let mut s = 3;
        for words in [1, 2, 7, 8, 9, 16, 17, 36] {
            let rows: Vec<u64> = (0..5 * words).map(|_| lcg(&mut s)).collect();
            let x: Vec<u64> = (0..words).map(|_| lcg(&mut s)).collect();
            let want: Vec<u32> = (0..5)
                .map(|r| {
                    (0..words * 64).filter(|&b| (rows[r * words + b / 64] ^ x[b / 64]) >> (b % 64) & 1 == 1).count()
                        as u32
                })
                .collect();
            for (name, f) in mismatch_variants() {
                let mut got = vec![0; 5];
                f(&rows, &x, &mut got);
                assert_eq!(got, want, "{name}, {words} words");
            }
        }
    }

    #[test]
    fn every_variant_sums_as_the_definition() {
        let mut s = 5;
        for n in [1, 3, 8, 27, 33, 64] {
            let cols: Vec<i32> = (0..n * 4).map(|_| -((lcg(&mut s) & 1) as i32)).collect();
            let x: Vec<i32> = (0..n).map(|_| (lcg(&mut s) % 256) as i32 - 128).collect();
            let want: Vec<i32> =
                (0..4).map(|r| (0..n).map(|i| if cols[i * 4 + r] == 0 { x[i] } else { -x[i] }).sum()).collect();
            for (name, f) in signed_sum_variants() {
                let mut got = vec![7; 4];
                f(&cols, &x, &mut got);
                assert_eq!(got, want, "{name}, {n} lanes");
            }
        }
    }
}
