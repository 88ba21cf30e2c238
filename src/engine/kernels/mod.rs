//! The one hot kernel of a binary network: for a packed input vector x and a block of packed
//! weight rows, count the mismatching bits of each row (popcount(x XOR w)). With padding bits
//! zero on both sides, the XNOR popcount is P = K − mismatches.
//!
//! Each kernel says how its weight rows are laid out ([`Kernel::lanes`], [`pack_rows`]): SIMD
//! kernels interleave several rows word by word, so one broadcast input word meets one word of
//! each row in one register and every lane ends holding one row's count (no horizontal sums,
//! which dominate for the short rows of a 3×3 conv).
//!
//! As in tract-linalg, the kernel is defined once (this trait and its contract), each ISA has its
//! own module, the best available one is chosen at run time, a portable fallback always exists,
//! and one test suite runs against every implementation the machine can execute.

use crate::error::{Error, Result};

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "arm", binarycop_arm_neon))]
mod neon_arm;
mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

pub trait Kernel: Sync + Send {
    fn name(&self) -> &'static str;
    /// How many rows one block of packed weights interleaves (1: plain row-major rows).
    fn lanes(&self) -> usize {
        1
    }
    /// `w` is [`pack_rows`] of at least `out.len()` rows of `x.len()` words with this kernel's
    /// lanes; out[r] = popcount(x ^ row r).
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]);
    /// The first layer's integer × ±1 product for one pixel: `plus` holds `window.len()` rows
    /// of masks (−1 where the weight is +1, else 0), each padded to a multiple of 64 lanes;
    /// acc[c] = Σ_j ±x_j = 2·Σ_j (x_j & plus[j][c]) − Σ_j x_j. Every |partial sum| fits i16.
    fn pm1_dot_i16(&self, window: &[i16], plus: &[i16], acc: &mut [i32]) {
        generic::pm1_dot::<i16, 32>(window, plus, plus.len() / window.len().max(1), acc)
    }
    /// Packs `acc[c] >= t[c]` LSB-first into `bits` (64 channels per word).
    fn threshold(&self, acc: &[i32], t: &[i32], bits: &mut [u64]) {
        generic::threshold(acc, t, bits)
    }
}

/// An integer lane type of the first layer.
pub trait Code: Copy + Default + std::ops::BitAnd<Output = Self> + std::ops::Add<Output = Self> {
    /// The mask of a +1 weight.
    const PLUS: Self;
    fn narrow(v: i32) -> Self;
    fn widen(self) -> i32;
}

impl Code for i16 {
    const PLUS: Self = -1;
    fn narrow(v: i32) -> Self {
        v as i16
    }
    fn widen(self) -> i32 {
        self as i32
    }
}

impl Code for i32 {
    const PLUS: Self = -1;
    fn narrow(v: i32) -> Self {
        v
    }
    fn widen(self) -> i32 {
        self
    }
}

/// The portable bodies of the element-wise kernels. Each ISA module inlines them into a
/// function compiled with its target features, so the compiler vectorizes them for that ISA.
pub mod generic {
    use super::Code;

    /// [`super::Kernel::pm1_dot_i16`] over blocks of `B` channels, each kept in registers
    /// across the whole window; `padded` lanes per mask row.
    #[inline(always)]
    pub fn pm1_dot<T: Code, const B: usize>(window: &[T], plus: &[T], padded: usize, acc: &mut [i32]) {
        let total: i32 = window.iter().map(|v| v.widen()).sum();
        for (c, out) in acc.chunks_mut(B).enumerate() {
            let mut s = [T::default(); B];
            for (j, &x) in window.iter().enumerate() {
                let m: &[T; B] = plus[j * padded + c * B..][..B].try_into().expect("rows padded to whole blocks");
                for (a, &mm) in s.iter_mut().zip(m) {
                    *a = *a + (x & mm);
                }
            }
            for (o, v) in out.iter_mut().zip(s) {
                *o = 2 * v.widen() - total;
            }
        }
    }

    /// [`super::Kernel::threshold`].
    #[inline(always)]
    pub fn threshold(acc: &[i32], t: &[i32], bits: &mut [u64]) {
        for (word, (a64, t64)) in bits.iter_mut().zip(acc.chunks(64).zip(t.chunks(64))) {
            let mut w = 0u64;
            for (i, (&a, &th)) in a64.iter().zip(t64).enumerate() {
                w |= ((a >= th) as u64) << i;
            }
            *word = w;
        }
    }
}

/// Lays out `n_rows` row-major rows of `words` words for a kernel of `lanes` lanes: blocks of
/// `lanes` rows, and within a block word j of each row in turn ([block][word][lane]). The last
/// block is padded with zero rows. With one lane this is the row-major input.
pub fn pack_rows(rows: &[u64], n_rows: usize, words: usize, lanes: usize) -> Vec<u64> {
    assert_eq!(rows.len(), n_rows * words, "rows are n_rows × words");
    let blocks = n_rows.div_ceil(lanes);
    let mut out = vec![0u64; blocks * lanes * words];
    for r in 0..n_rows {
        let (b, l) = (r / lanes, r % lanes);
        for j in 0..words {
            out[(b * words + j) * lanes + l] = rows[r * words + j];
        }
    }
    out
}

/// Every kernel this machine can run, the portable one first.
pub fn all() -> Vec<&'static dyn Kernel> {
    #[allow(unused_mut)]
    let mut v: Vec<&'static dyn Kernel> = vec![&portable::Portable];
    #[cfg(target_arch = "x86_64")]
    v.extend(x86::detect());
    #[cfg(target_arch = "aarch64")]
    v.push(&neon::Neon);
    #[cfg(all(target_arch = "arm", binarycop_arm_neon))]
    v.push(&neon_arm::NeonArm);
    v
}

/// Every kernel name binarycop knows, on any ISA.
pub const NAMES: [&str; 6] = ["portable", "x86-popcnt", "x86-avx2", "x86-avx512", "aarch64-neon", "armv7-neon"];

/// The environment variable that forces a kernel (for benchmarks and bisecting).
pub const KERNEL_VAR: &str = "BINARYCOP_KERNEL";

/// The kernel the engine uses: the one `BINARYCOP_KERNEL` names, or the fastest one this
/// machine runs (the last of [`all`]) when the variable is unset or empty. A name that is
/// not a kernel, or one this machine cannot run, is an error that lists the valid names, so a
/// figure labelled with one kernel is never measured with another.
pub fn best() -> Result<&'static dyn Kernel> {
    match std::env::var(KERNEL_VAR) {
        Ok(want) => select(Some(&want)),
        Err(std::env::VarError::NotPresent) => select(None),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(Error::invalid(format!("{KERNEL_VAR}={v:?} is not valid UTF-8; {}", valid_names())))
        }
    }
}

/// The kernel named `want` (None or empty: the fastest on this machine).
pub fn select(want: Option<&str>) -> Result<&'static dyn Kernel> {
    let all = all();
    match want.filter(|w| !w.is_empty()) {
        None => Ok(*all.last().expect("the portable kernel is always there")),
        Some(w) => all.iter().find(|k| k.name() == w).copied().ok_or_else(|| {
            let why = if NAMES.contains(&w) { "cannot run on this machine" } else { "is not a kernel" };
            Error::invalid(format!("{KERNEL_VAR}='{w}' {why}; {}", valid_names()))
        }),
    }
}

fn valid_names() -> String {
    let here: Vec<&str> = all().iter().map(|k| k.name()).collect();
    format!("this machine runs: {}", here.join(", "))
}

/// Finds a kernel by name.
pub fn by_name(name: &str) -> Option<&'static dyn Kernel> {
    all().into_iter().find(|k| k.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed ^ (*seed >> 29)
    }

    /// The shared suite: every implementation against the scalar definition, over lengths that
    /// hit each kernel's vector widths and tails.
    #[test]
    fn every_kernel_matches_the_definition() {
        let mut seed = 7;
        for k in all() {
            for len in [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 36, 64, 100] {
                for rows in [0usize, 1, 3, 5, 8, 13, 17] {
                    let x: Vec<u64> = (0..len).map(|_| lcg(&mut seed)).collect();
                    let w: Vec<u64> = (0..len * rows).map(|_| lcg(&mut seed)).collect();
                    let packed = pack_rows(&w, rows, len, k.lanes());
                    let mut out = vec![u32::MAX; rows];
                    k.xor_popcount_rows(&x, &packed, &mut out);
                    for r in 0..rows {
                        let want: u32 = (0..len).map(|i| (x[i] ^ w[r * len + i]).count_ones()).sum();
                        assert_eq!(out[r], want, "kernel {} len {len} row {r}", k.name());
                    }
                }
            }
            // A row long enough to cross every kernel's overflow-avoiding chunking (31 words of
            // u8 lanes on AVX2 and aarch64, 2048 blocks of u16 lanes on armv7).
            let len = 2 * 2048 + 2 * 31 + 1001;
            let x: Vec<u64> = (0..len).map(|_| lcg(&mut seed)).collect();
            let w: Vec<u64> = (0..len).map(|_| lcg(&mut seed)).collect();
            let mut out = [0u32];
            k.xor_popcount_rows(&x, &pack_rows(&w, 1, len, k.lanes()), &mut out);
            let want: u32 = x.iter().zip(&w).map(|(a, b)| (a ^ b).count_ones()).sum();
            assert_eq!(out[0], want, "kernel {} long row", k.name());
            // Extremes: all ones against all zeros counts every bit.
            let x = vec![u64::MAX; 40];
            let w = vec![0u64; 80];
            let mut out = [0u32; 2];
            k.xor_popcount_rows(&x, &pack_rows(&w, 2, 40, k.lanes()), &mut out);
            assert_eq!(out, [2560, 2560], "kernel {}", k.name());
        }
    }

    /// The first layer's integer product and the threshold packing, every implementation
    /// against the definitions, over channel counts that leave partial blocks and words.
    #[test]
    fn every_kernel_matches_the_first_layer_and_threshold_definitions() {
        let mut seed = 11;
        for k in all() {
            for (taps, channels) in [(1usize, 1usize), (27, 64), (27, 50), (9, 130), (75, 16), (255, 3)] {
                let padded = channels.div_ceil(64) * 64;
                let window: Vec<i16> = (0..taps).map(|_| (lcg(&mut seed) % 256) as i16 - 128).collect();
                let signs: Vec<bool> = (0..taps * channels).map(|_| lcg(&mut seed) & 1 == 1).collect();
                let mut plus = vec![0i16; taps * padded];
                for j in 0..taps {
                    for c in 0..channels {
                        if signs[j * channels + c] {
                            plus[j * padded + c] = -1;
                        }
                    }
                }
                let mut acc = vec![i32::MIN; channels];
                k.pm1_dot_i16(&window, &plus, &mut acc);
                for c in 0..channels {
                    let want: i32 = (0..taps)
                        .map(|j| if signs[j * channels + c] { window[j] as i32 } else { -(window[j] as i32) })
                        .sum();
                    assert_eq!(acc[c], want, "kernel {} K {taps} channel {c}", k.name());
                }
                let t: Vec<i32> = (0..channels).map(|c| acc[c] + (lcg(&mut seed) % 5) as i32 - 2).collect();
                let mut bits = vec![u64::MAX; channels.div_ceil(64)];
                k.threshold(&acc, &t, &mut bits);
                for c in 0..channels {
                    assert_eq!(bits[c / 64] >> (c % 64) & 1 == 1, acc[c] >= t[c], "kernel {} channel {c}", k.name());
                }
                assert!(channels % 64 == 0 || bits[channels / 64] >> (channels % 64) == 0, "padding bits stay zero");
            }
        }
    }

    /// The kernel written for this ISA is among those tested here (the cross builds in CI run
    /// this suite under qemu-user for armv7 and aarch64).
    #[test]
    fn the_isa_kernel_is_present() {
        let names: Vec<&str> = all().iter().map(|k| k.name()).collect();
        #[cfg(target_arch = "aarch64")]
        assert!(names.contains(&"aarch64-neon"), "{names:?}");
        #[cfg(target_arch = "arm")]
        assert!(
            names.contains(&"armv7-neon"),
            "built without NEON (.cargo/config.toml enables it for the Zynq-7000): {names:?}"
        );
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            assert!(names.contains(&"x86-avx2"), "{names:?}");
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vpopcntdq") {
            assert!(names.contains(&"x86-avx512"), "{names:?}");
        }
        assert_eq!(names[0], "portable");
    }

    #[test]
    fn best_is_listed_and_named() {
        let names: Vec<&str> = all().iter().map(|k| k.name()).collect();
        assert!(names.contains(&select(None).unwrap().name()));
        assert_eq!(select(Some("")).unwrap().name(), *names.last().unwrap());
        assert_eq!(by_name("portable").unwrap().name(), "portable");
        assert!(by_name("no-such").is_none());
        for n in &names {
            assert!(NAMES.contains(n), "{n} is missing from NAMES");
        }
    }

    #[test]
    fn an_unknown_kernel_name_is_an_error_listing_the_valid_ones() {
        let err = select(Some("x86-avx3")).err().unwrap().to_string();
        assert!(err.contains("BINARYCOP_KERNEL='x86-avx3' is not a kernel"), "{err}");
        assert!(err.contains("this machine runs: portable"), "{err}");
        let foreign = if cfg!(target_arch = "x86_64") { "armv7-neon" } else { "x86-avx2" };
        let err = select(Some(foreign)).err().unwrap().to_string();
        assert!(err.contains("cannot run on this machine"), "{err}");
        assert_eq!(select(Some("portable")).unwrap().name(), "portable");
    }
}
