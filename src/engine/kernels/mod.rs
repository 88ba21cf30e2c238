//! The one hot kernel of a binary network: for a packed input vector x and a block of packed
//! weight rows, count the mismatching bits of each row (popcount(x XOR w)). With padding bits
//! zero on both sides, the XNOR popcount is P = K − mismatches.
//!
//! As in tract-linalg, the kernel is defined once (this trait and its contract), each ISA has its
//! own module, the best available one is chosen at run time, a portable fallback always exists,
//! and one test suite runs against every implementation the machine can execute.

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "arm", binarycop_arm_neon))]
mod neon_arm;
mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

pub trait Kernel: Sync + Send {
    fn name(&self) -> &'static str;
    /// `w` holds `out.len()` rows of `x.len()` words; out[r] = popcount(x ^ w[r]).
    fn xor_popcount_rows(&self, x: &[u64], w: &[u64], out: &mut [u32]);
}

/// Every kernel this machine can run, the portable one first.
pub fn all() -> Vec<&'static dyn Kernel> {
    #[allow(unused_mut)]
    let mut v: Vec<&'static dyn Kernel> = vec![&portable::Portable];
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = x86::detect() {
        v.push(k);
    }
    #[cfg(target_arch = "aarch64")]
    v.push(&neon::Neon);
    #[cfg(all(target_arch = "arm", binarycop_arm_neon))]
    v.push(&neon_arm::NeonArm);
    v
}

/// The fastest kernel for this machine (the last of [`all`]), unless the environment variable
/// BINARYCOP_KERNEL names another one (for benchmarks and bisecting).
pub fn best() -> &'static dyn Kernel {
    let all = all();
    if let Ok(want) = std::env::var("BINARYCOP_KERNEL") {
        if let Some(k) = all.iter().find(|k| k.name() == want) {
            return *k;
        }
    }
    *all.last().expect("the portable kernel is always there")
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
                for rows in [0usize, 1, 3, 8] {
                    let x: Vec<u64> = (0..len).map(|_| lcg(&mut seed)).collect();
                    let w: Vec<u64> = (0..len * rows).map(|_| lcg(&mut seed)).collect();
                    let mut out = vec![u32::MAX; rows];
                    k.xor_popcount_rows(&x, &w, &mut out);
                    for r in 0..rows {
                        let want: u32 = (0..len).map(|i| (x[i] ^ w[r * len + i]).count_ones()).sum();
                        assert_eq!(out[r], want, "kernel {} len {len} row {r}", k.name());
                    }
                }
            }
            // A row long enough to cross every kernel's overflow-avoiding chunking (31 blocks
            // of u8 lanes on aarch64, 2048 blocks of u16 lanes on armv7).
            let len = 2 * 2048 + 2 * 31 + 1001;
            let x: Vec<u64> = (0..len).map(|_| lcg(&mut seed)).collect();
            let w: Vec<u64> = (0..len).map(|_| lcg(&mut seed)).collect();
            let mut out = [0u32];
            k.xor_popcount_rows(&x, &w, &mut out);
            let want: u32 = x.iter().zip(&w).map(|(a, b)| (a ^ b).count_ones()).sum();
            assert_eq!(out[0], want, "kernel {} long row", k.name());
            // Extremes: all ones against all zeros counts every bit.
            let x = vec![u64::MAX; 40];
            let w = vec![0u64; 80];
            let mut out = [0u32; 2];
            k.xor_popcount_rows(&x, &w, &mut out);
            assert_eq!(out, [2560, 2560], "kernel {}", k.name());
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
        assert_eq!(names[0], "portable");
    }

    #[test]
    fn best_is_listed_and_named() {
        let names: Vec<&str> = all().iter().map(|k| k.name()).collect();
        assert!(names.contains(&best().name()));
        assert_eq!(by_name("portable").unwrap().name(), "portable");
        assert!(by_name("no-such").is_none());
    }
}
