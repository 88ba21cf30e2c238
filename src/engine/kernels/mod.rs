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

mod layer;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "arm", binarycop_arm_neon))]
mod neon_arm;
mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use layer::{put_block, BinLayer, BitsOut, IntLayer};

pub trait Kernel: Sync + Send {
    fn name(&self) -> &'static str;
    /// How many rows one block of packed weights interleaves (1: plain row-major rows).
    fn lanes(&self) -> usize {
        1
    }
    /// The width of one interleaved word in bits (64, or 32 where a register holds 4 rows of
    /// 32-bit words); see [`pack_rows`].
    fn lane_bits(&self) -> u32 {
        64
    }
    /// A binary layer's mismatch counts over output pixels: out[p·rows + r] is the popcount of
    /// input[bases[p] + offsets[j]] XOR word j of row r, summed over the window words j. The
    /// weights are [`pack_rows`] of `layer.rows` rows with this kernel's lanes.
    fn bin_counts(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]);
    /// The same counts turned into bits: bit r of pixel p is set iff its count ≤ limits[r],
    /// OR'ed into the output pixel p / group (so `group` pixels of a max-pool window share one).
    fn bin_bits(&self, layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut);
    /// The first layer over output pixels: out[p·channels + c] = Σ_{r,g,t} u·w where u is
    /// input[bases[p] + row_offsets[r] + 4g + t] (offset input codes, 0..=255) and w the ±1
    /// (or padding 0) weight of channel c at that tap; see [`IntLayer`].
    fn int_acc(&self, layer: &IntLayer, input: &[u8], bases: &[usize], out: &mut [i32]) {
        generic::int_acc(layer, input, bases, out)
    }
    /// The same sums turned into bits: bit c is set iff the sum ≥ limits[c], OR'ed as in
    /// [`Kernel::bin_bits`].
    fn int_bits(&self, layer: &IntLayer, input: &[u8], bases: &[usize], out: BitsOut) {
        generic::int_bits(layer, input, bases, out)
    }
    /// Packs `acc[c] >= t[c]` LSB-first into `bits` (64 channels per word).
    fn threshold(&self, acc: &[i32], t: &[i32], bits: &mut [u64]) {
        generic::threshold(acc, t, bits)
    }
}

/// The portable bodies. Each ISA module inlines the ones it does not write by hand into a
/// function compiled with its target features, so the compiler vectorizes them for that ISA.
pub mod generic {
    use super::{BinLayer, BitsOut, IntLayer};

    /// Each pixel's window gathered into one contiguous run, so the row sums below are plain
    /// zips the compiler vectorizes; `each(p, row, count)` receives every count.
    #[inline(always)]
    fn bin_rows(layer: &BinLayer, input: &[u64], bases: &[usize], mut each: impl FnMut(usize, usize, u32)) {
        layer.check(input, bases, 1, 64);
        let n = layer.words();
        let mut window = vec![0u64; n];
        for (p, &b) in bases.iter().enumerate() {
            for (x, &off) in window.iter_mut().zip(layer.offsets) {
                *x = input[b + off];
            }
            for (r, row) in layer.weights.chunks_exact(n.max(1)).take(layer.rows).enumerate() {
                each(p, r, window.iter().zip(row).map(|(a, w)| (a ^ w).count_ones()).sum());
            }
        }
    }

    /// [`super::Kernel::bin_counts`] on plain row-major rows (one lane).
    #[inline(always)]
    pub fn bin_counts(layer: &BinLayer, input: &[u64], bases: &[usize], out: &mut [u32]) {
        assert!(out.len() >= bases.len() * layer.rows, "one count per pixel and row");
        bin_rows(layer, input, bases, |p, r, m| out[p * layer.rows + r] = m);
    }

    /// [`super::Kernel::bin_bits`] on plain row-major rows (one lane).
    #[inline(always)]
    pub fn bin_bits(layer: &BinLayer, input: &[u64], bases: &[usize], out: BitsOut) {
        out.check(bases.len(), layer.rows);
        let BitsOut { limits, group, words, out } = out;
        bin_rows(layer, input, bases, |p, r, m| {
            out[(p / group) * words + r / 64] |= ((m as i64 <= limits[r] as i64) as u64) << (r % 64);
        });
    }

    /// The first layer's +1 masks with taps outermost ([row][tap < span][channel], −1 where
    /// the weight is +1, else 0), so that one code ANDed with a contiguous run of channels is a
    /// loop the compiler vectorizes.
    fn plus_masks(layer: &IntLayer) -> Vec<i16> {
        let rows = layer.row_offsets.len();
        let mut m = vec![0i16; rows * layer.span * layer.padded];
        for r in 0..rows {
            for tap in 0..layer.span {
                let w = &layer.weights[((r * layer.groups + tap / 4) * layer.padded) * 4 + tap % 4..];
                for c in 0..layer.padded {
                    m[(r * layer.span + tap) * layer.padded + c] = -((w[4 * c] > 0) as i16);
                }
            }
        }
        m
    }

    /// Each pixel's sums over 64 channels at a time, `each(p, block, sums)`: with ±1 weights,
    /// Σ u·w = 2·Σ (u & plus) − Σ u, in i16 lanes over runs of 128 taps (≤ 128·255).
    #[inline(always)]
    fn int_pixels(layer: &IntLayer, input: &[u8], bases: &[usize], mut each: impl FnMut(usize, usize, &[i32; 64])) {
        layer.check(input, bases);
        let plus = plus_masks(layer);
        let (mut s, mut h) = ([0i32; 64], [0i16; 64]);
        for (p, &base) in bases.iter().enumerate() {
            for cb in 0..layer.padded / 64 {
                s.fill(0);
                let mut total = 0i32;
                for (r, &ro) in layer.row_offsets.iter().enumerate() {
                    let x = &input[base + ro..][..layer.span];
                    for (run, xs) in x.chunks(128).enumerate() {
                        h.fill(0);
                        for (k, &u) in xs.iter().enumerate() {
                            let i = (r * layer.span + run * 128 + k) * layer.padded + cb * 64;
                            let m: &[i16; 64] = plus[i..][..64].try_into().expect("64 channels");
                            for (a, &mc) in h.iter_mut().zip(m) {
                                *a += u as i16 & mc;
                            }
                            total += u as i32;
                        }
                        for (a, &v) in s.iter_mut().zip(&h) {
                            *a += v as i32;
                        }
                    }
                }
                for a in s.iter_mut() {
                    *a = 2 * *a - total;
                }
                each(p, cb, &s);
            }
        }
    }

    /// [`super::Kernel::int_acc`].
    #[inline(always)]
    pub fn int_acc(layer: &IntLayer, input: &[u8], bases: &[usize], out: &mut [i32]) {
        let c = layer.channels;
        assert!(out.len() >= bases.len() * c, "one sum per pixel and channel");
        int_pixels(layer, input, bases, |p, cb, s| super::put_block(out, c, p, cb, s));
    }

    /// [`super::Kernel::int_bits`].
    #[inline(always)]
    pub fn int_bits(layer: &IntLayer, input: &[u8], bases: &[usize], out: BitsOut) {
        out.check(bases.len(), layer.channels);
        let BitsOut { limits, group, words, out } = out;
        int_pixels(layer, input, bases, |p, cb, s| {
            let t = &limits[cb * 64..(cb * 64 + 64).min(limits.len())];
            out[(p / group) * words + cb] |=
                s.iter().zip(t).enumerate().fold(0, |w, (i, (&a, &th))| w | ((a >= th) as u64) << i);
        });
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

/// Lays out `n_rows` row-major rows of `words` 64-bit words for a kernel of `lanes` lanes of
/// `lane_bits` bits: blocks of `lanes` rows, and within a block lane word j of each row in turn
/// ([block][lane word][lane]; a 64-bit word is two 32-bit lane words, low half first). The
/// last block is padded with zero rows. With one lane this is the row-major input.
pub fn pack_rows(rows: &[u64], n_rows: usize, words: usize, lanes: usize, lane_bits: u32) -> Vec<u64> {
    assert_eq!(rows.len(), n_rows * words, "rows are n_rows × words");
    assert!(
        lane_bits == 64 || (lane_bits == 32 && lanes.is_multiple_of(2)),
        "64-bit lanes, or an even number of 32-bit lanes"
    );
    let blocks = n_rows.div_ceil(lanes);
    let mut out = vec![0u64; blocks * lanes * words];
    for r in 0..n_rows {
        let (b, l) = (r / lanes, r % lanes);
        for j in 0..words {
            let w = rows[r * words + j];
            if lane_bits == 64 {
                out[(b * words + j) * lanes + l] = w;
            } else {
                // Lane words 2j and 2j+1 (the halves), each `lanes` u32 wide.
                for (h, half) in [w & 0xffff_ffff, w >> 32].into_iter().enumerate() {
                    let i = ((b * words + j) * 2 + h) * lanes + l;
                    out[i / 2] |= half << (32 * (i % 2));
                }
            }
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

    /// A random binary layer: `words` window words at random offsets into an input of
    /// `input_len` words, `rows` rows, and `pixels` random bases.
    struct BinCase {
        input: Vec<u64>,
        offsets: Vec<usize>,
        rows: Vec<u64>,
        bases: Vec<usize>,
    }

    impl BinCase {
        fn new(seed: &mut u64, words: usize, n_rows: usize, pixels: usize) -> BinCase {
            let input_len = words + 40;
            let input = (0..input_len).map(|_| lcg(seed)).collect();
            let offsets = (0..words).map(|_| (lcg(seed) % 24) as usize).collect();
            let rows = (0..words * n_rows).map(|_| lcg(seed)).collect();
            let bases = (0..pixels).map(|_| (lcg(seed) % (input_len as u64 - 23)) as usize).collect();
            BinCase { input, offsets, rows, bases }
        }
        /// The definition: Σ_j popcount(input[base + offsets[j]] ^ row[j]).
        fn count(&self, p: usize, r: usize) -> u32 {
            let n = self.offsets.len();
            (0..n).map(|j| (self.input[self.bases[p] + self.offsets[j]] ^ self.rows[r * n + j]).count_ones()).sum()
        }
    }

    /// The shared suite: every implementation's binary layer against the scalar definition,
    /// over window lengths that hit each kernel's register-resident sizes (9, 18), vector
    /// widths, tails and overflow-avoiding chunking, and row counts that leave partial blocks;
    /// counts, and bits OR'ed into pooled outputs.
    #[test]
    fn every_kernel_matches_the_binary_layer_definition() {
        let mut seed = 7;
        for k in all() {
            for words in [1usize, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 18, 31, 36, 64, 100] {
                for n_rows in [1usize, 3, 5, 8, 13, 17, 64, 70] {
                    let c = BinCase::new(&mut seed, words, n_rows, 9);
                    let packed = pack_rows(&c.rows, n_rows, words, k.lanes(), k.lane_bits());
                    let layer = BinLayer { offsets: &c.offsets, weights: &packed, rows: n_rows };
                    let mut counts = vec![u32::MAX; c.bases.len() * n_rows];
                    k.bin_counts(&layer, &c.input, &c.bases, &mut counts);
                    for p in 0..c.bases.len() {
                        for r in 0..n_rows {
                            assert_eq!(
                                counts[p * n_rows + r],
                                c.count(p, r),
                                "kernel {} words {words} row {r}",
                                k.name()
                            );
                        }
                    }
                    // Limits around the counts (and −1, which nothing meets), groups of 3
                    // pixels OR'ed into one output.
                    let limits: Vec<i32> =
                        (0..n_rows).map(|_| (lcg(&mut seed) % (64 * words as u64 + 2)) as i32 - 1).collect();
                    let wpo = n_rows.div_ceil(64) + 1;
                    let mut out = vec![0u64; 3 * wpo];
                    k.bin_bits(
                        &layer,
                        &c.input,
                        &c.bases,
                        BitsOut { limits: &limits, group: 3, words: wpo, out: &mut out },
                    );
                    for o in 0..3 {
                        for r in 0..wpo * 64 {
                            let want = r < n_rows && (0..3).any(|q| c.count(3 * o + q, r) as i32 <= limits[r]);
                            let got = out[o * wpo + r / 64] >> (r % 64) & 1 == 1;
                            assert_eq!(got, want, "kernel {} words {words} rows {n_rows} output {o} row {r}", k.name());
                        }
                    }
                }
            }
            // A row long enough to cross every kernel's overflow-avoiding chunking (31 words of
            // u8 lanes on AVX2 and NEON, long runs of u16 lanes on armv7); all ones against
            // all zeros counts every bit.
            for (words, fill) in [(2 * 2048 + 2 * 31 + 1001, None), (300, Some(u64::MAX))] {
                let mut c = BinCase::new(&mut seed, words, 2, 1);
                if let Some(v) = fill {
                    c.input.fill(v);
                    c.rows.fill(0);
                }
                let packed = pack_rows(&c.rows, 2, words, k.lanes(), k.lane_bits());
                let mut out = [0u32; 2];
                k.bin_counts(
                    &BinLayer { offsets: &c.offsets, weights: &packed, rows: 2 },
                    &c.input,
                    &c.bases,
                    &mut out,
                );
                assert_eq!(out, [c.count(0, 0), c.count(0, 1)], "kernel {} long row", k.name());
            }
        }
    }

    /// The first layer: every implementation against the definition, over window shapes
    /// (rows × groups) and channel counts that leave partial blocks, codes at both ends.
    #[test]
    fn every_kernel_matches_the_first_layer_and_threshold_definitions() {
        let mut seed = 11;
        for k in all() {
            for (rows, span, channels) in
                [(1usize, 1usize, 1usize), (3, 9, 64), (3, 9, 50), (1, 27, 130), (5, 15, 16), (1, 255, 3), (1, 768, 70)]
            {
                let groups = span.div_ceil(4);
                let padded = channels.div_ceil(64) * 64;
                let input: Vec<u8> = (0..rows * 40 + groups * 4 + 20)
                    .map(|i| if i % 7 == 0 { 255 } else { lcg(&mut seed) as u8 })
                    .collect();
                let row_offsets: Vec<usize> = (0..rows).map(|r| r * 40).collect();
                let mut weights = vec![0i8; rows * groups * padded * 4];
                for r in 0..rows {
                    for tap in 0..span {
                        for c in 0..channels {
                            weights[((r * groups + tap / 4) * padded + c) * 4 + tap % 4] =
                                if lcg(&mut seed) & 1 == 1 { 1 } else { -1 };
                        }
                    }
                }
                let layer = IntLayer { row_offsets: &row_offsets, span, groups, weights: &weights, channels, padded };
                let bases = [0usize, 3, 17];
                let sum = |p: usize, c: usize| -> i32 {
                    (0..rows)
                        .flat_map(|r| (0..groups * 4).map(move |tap| (r, tap)))
                        .map(|(r, tap)| {
                            let u = input[bases[p] + row_offsets[r] + tap] as i32;
                            u * weights[((r * groups + tap / 4) * padded + c) * 4 + tap % 4] as i32
                        })
                        .sum()
                };
                let mut acc = vec![i32::MIN; bases.len() * channels];
                k.int_acc(&layer, &input, &bases, &mut acc);
                for p in 0..bases.len() {
                    for c in 0..channels {
                        assert_eq!(acc[p * channels + c], sum(p, c), "kernel {} span {span} channel {c}", k.name());
                    }
                }
                let mut limits: Vec<i32> = (0..channels).map(|c| acc[c] + (lcg(&mut seed) % 5) as i32 - 2).collect();
                limits.resize(padded, i32::MAX);
                let words = padded / 64;
                let mut out = vec![0u64; words];
                k.int_bits(&layer, &input, &bases, BitsOut { limits: &limits, group: 3, words, out: &mut out });
                for c in 0..padded {
                    let want = c < channels && (0..3).any(|p| sum(p, c) >= limits[c]);
                    assert_eq!(out[c / 64] >> (c % 64) & 1 == 1, want, "kernel {} span {span} channel {c}", k.name());
                }
                let mut bits = vec![u64::MAX; channels.div_ceil(64)];
                k.threshold(&acc[..channels], &limits[..channels], &mut bits);
                for c in 0..channels {
                    assert_eq!(
                        bits[c / 64] >> (c % 64) & 1 == 1,
                        acc[c] >= limits[c],
                        "kernel {} channel {c}",
                        k.name()
                    );
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
