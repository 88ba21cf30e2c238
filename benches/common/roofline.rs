//! The XOR-popcount roofline of this CPU: the best XOR-popcount-accumulate loop it runs, on data
//! in L1, with the core clock calibrated in the same run.
//!
//! The clock: a chain of dependent register-register adds retires one add per cycle on every
//! x86 and Arm core we know of (an add with an immediate can be eliminated at rename on recent
//! Intel cores, a register operand cannot), so N adds take N cycles; the best of many timed
//! runs gives the clock the core ran at (turbo included). Words per cycle are then 64-bit words
//! XOR-popcounted per clock cycle, and binary MACs/s are bits per second.
//!
//! The loops are the engine's: a block of weight rows held in registers, each input word
//! broadcast from memory, XOR, popcount, add (the AVX-512 kernel's loop); the AVX2 nibble
//! lookup; scalar POPCNT with four accumulators; and portable `count_ones`.

use std::hint::black_box;
use std::time::Instant;

/// Input words per loop call: 32 KiB, which stays in L1.
pub const WORDS: usize = 4096;

/// The best of `runs` timings of `f`, in seconds.
pub fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// `n` × 100 dependent register adds; returns the sum so the chain is kept.
#[inline(never)]
fn add_chain(n: u64) -> u64 {
    let mut x = 0u64;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: register arithmetic only.
    unsafe {
        std::arch::asm!(
            "2:",
            ".rept 100", "add {x}, {y}", ".endr",
            "sub {n}, 1", "jnz 2b",
            x = inout(reg) x, n = inout(reg) n => _, y = in(reg) 3u64,
            options(nostack, nomem),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: register arithmetic only.
    unsafe {
        std::arch::asm!(
            "2:",
            ".rept 100", "add {x}, {x}, {y}", ".endr",
            "subs {n}, {n}, #1", "b.ne 2b",
            x = inout(reg) x, n = inout(reg) n => _, y = in(reg) 3u64,
            options(nostack, nomem),
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    for _ in 0..n * 100 {
        x = black_box(x + 3);
    }
    x
}

/// The core clock in Hz, from the dependent add chain (best of 200 runs of 2 M adds).
pub fn clock_hz() -> f64 {
    const ITERS: u64 = 20_000;
    let t = best_of(200, || {
        black_box(add_chain(black_box(ITERS)));
    });
    (ITERS * 100) as f64 / t
}

fn data() -> (Vec<u64>, Vec<u64>) {
    let w = (0..64u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
    let x = (0..WORDS as u64).map(|i| i.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ (i << 7)).collect();
    (w, x)
}

/// One named loop: `run(reps)` XOR-popcounts reps × [`WORDS`] 64-bit words.
pub struct Loop {
    pub name: &'static str,
    pub run: Box<dyn Fn(usize) -> u64>,
}

/// Portable: each input word against one of 8 resident weight words, `count_ones`.
fn portable(w: &[u64], x: &[u64], reps: usize) -> u64 {
    let mut acc = [0u64; 8];
    for _ in 0..reps {
        for c in x.chunks_exact(8) {
            for ((a, &xi), &wi) in acc.iter_mut().zip(c).zip(w) {
                *a += (xi ^ wi).count_ones() as u64;
            }
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Scalar POPCNT, four independent accumulators.
    #[target_feature(enable = "popcnt")]
    pub fn popcnt(w: &[u64], x: &[u64], reps: usize) -> u64 {
        let mut acc = [0u64; 4];
        for _ in 0..reps {
            for c in x.chunks_exact(4) {
                for ((a, &xi), &wi) in acc.iter_mut().zip(c).zip(w) {
                    *a += (xi ^ wi).count_ones() as u64;
                }
            }
        }
        acc.iter().sum()
    }

    /// AVX2: 4 rows per register, each input word broadcast, vpshufb nibble counts in bytes,
    /// vpsadbw every 16 words.
    #[target_feature(enable = "avx2")]
    pub fn avx2(w: &[u64], x: &[u64], reps: usize) -> u64 {
        let lookup = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        // SAFETY: loads of 4 words at 0 and 4 of a 64-word slice.
        let rows = unsafe {
            [_mm256_loadu_si256(w.as_ptr() as *const __m256i), _mm256_loadu_si256(w.as_ptr().add(4) as *const __m256i)]
        };
        let mut total = _mm256_setzero_si256();
        for _ in 0..reps {
            for c in x.chunks_exact(16) {
                let mut bytes = [_mm256_setzero_si256(); 2];
                for (i, &xi) in c.iter().enumerate() {
                    let v = _mm256_xor_si256(rows[i % 2], _mm256_set1_epi64x(xi as i64));
                    let lo = _mm256_shuffle_epi8(lookup, _mm256_and_si256(v, low));
                    let hi = _mm256_shuffle_epi8(lookup, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
                    bytes[i % 2] = _mm256_add_epi8(bytes[i % 2], _mm256_add_epi8(lo, hi));
                }
                let b = _mm256_add_epi8(bytes[0], bytes[1]);
                total = _mm256_add_epi64(total, _mm256_sad_epu8(b, _mm256_setzero_si256()));
            }
        }
        let mut out = [0u64; 4];
        // SAFETY: a 32-byte store into 4 u64.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, total) };
        out.iter().sum::<u64>() / 4
    }

    /// AVX-512 VPOPCNTDQ: 8 rows per register, 8 registers of weights resident, each input
    /// word broadcast from memory, XOR, VPOPCNTQ, add into 4 accumulators. Counts 8 words
    /// (one per row) per input word, as the engine does.
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    pub fn avx512(w: &[u64], x: &[u64], reps: usize) -> u64 {
        let mut rows = [_mm512_setzero_si512(); 8];
        for (i, r) in rows.iter_mut().enumerate() {
            // SAFETY: a load of words 8i..8i+8 of a 64-word slice.
            *r = unsafe { _mm512_loadu_si512(w.as_ptr().add(8 * i) as *const __m512i) };
        }
        let mut acc = [_mm512_setzero_si512(); 4];
        for _ in 0..reps {
            for c in x.chunks_exact(8) {
                for (i, &xi) in c.iter().enumerate() {
                    let v = _mm512_xor_si512(rows[i], _mm512_set1_epi64(xi as i64));
                    acc[i % 4] = _mm512_add_epi64(acc[i % 4], _mm512_popcnt_epi64(v));
                }
            }
        }
        let s = _mm512_add_epi64(_mm512_add_epi64(acc[0], acc[1]), _mm512_add_epi64(acc[2], acc[3]));
        _mm512_reduce_add_epi64(s) as u64
    }
}

/// Every loop this CPU runs, each with the number of 64-bit words one input word stands for
/// (the rows it meets at once).
pub fn loops() -> Vec<(Loop, usize)> {
    let (w, x) = data();
    let mut v: Vec<(Loop, usize)> = Vec::new();
    {
        let (w, x) = (w.clone(), x.clone());
        v.push((Loop { name: "portable", run: Box::new(move |r| portable(&w, &x, r)) }, 1));
    }
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("popcnt") {
            let (w, x) = (w.clone(), x.clone());
            // SAFETY: POPCNT is present (checked above).
            v.push((Loop { name: "x86-popcnt", run: Box::new(move |r| unsafe { x86::popcnt(&w, &x, r) }) }, 1));
        }
        if is_x86_feature_detected!("avx2") {
            let (w, x) = (w.clone(), x.clone());
            // SAFETY: AVX2 is present (checked above).
            v.push((Loop { name: "x86-avx2", run: Box::new(move |r| unsafe { x86::avx2(&w, &x, r) }) }, 4));
        }
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vpopcntdq") {
            let (w, x) = (w.clone(), x.clone());
            // SAFETY: AVX-512F and VPOPCNTDQ are present (checked above).
            v.push((Loop { name: "x86-avx512", run: Box::new(move |r| unsafe { x86::avx512(&w, &x, r) }) }, 8));
        }
    }
    let _ = (&w, &x);
    v
}

/// One loop's figures: 64-bit words XOR-popcounted per cycle, and binary MACs per second.
pub struct Figures {
    pub words_per_cycle: f64,
    pub macs_per_s: f64,
}

/// Figures of a loop that took `ns` per call of `reps` repetitions, at `hz`.
pub fn figures(ns: f64, reps: usize, rows: usize, hz: f64) -> Figures {
    let words = (WORDS * reps * rows) as f64;
    Figures { words_per_cycle: words / (ns * 1e-9 * hz), macs_per_s: words * 64.0 / (ns * 1e-9) }
}

/// Repetitions of the input per timed call.
pub const REPS: usize = 16;

/// Times every loop under criterion, as group `roofline`.
pub fn bench(c: &mut criterion::Criterion) {
    let mut g = c.benchmark_group("roofline");
    g.sample_size(20);
    for (l, rows) in loops() {
        g.throughput(criterion::Throughput::Elements((WORDS * REPS * rows * 64) as u64));
        g.bench_function(l.name, |b| b.iter(|| black_box((l.run)(black_box(REPS)))));
    }
    g.finish();
}

/// The loops' figures from this run's criterion estimates, best last, with the clock.
pub fn report() -> (f64, Vec<(&'static str, Figures)>) {
    let hz = clock_hz();
    let mut v: Vec<(&'static str, Figures)> = loops()
        .into_iter()
        .filter_map(|(l, rows)| {
            Some((l.name, figures(super::mean_ns(&format!("roofline/{}", l.name))?, REPS, rows, hz)))
        })
        .collect();
    v.sort_by(|a, b| a.1.macs_per_s.total_cmp(&b.1.macs_per_s));
    (hz, v)
}

/// Prints the clock and each loop's figures.
pub fn print(hz: f64, loops: &[(&'static str, Figures)]) {
    println!("\nclock (dependent register adds, best of 200 runs): {:.3} GHz", hz / 1e9);
    println!("{:<12} {:>12} {:>12} {:>16}", "loop", "words/cycle", "bits/cycle", "binary MAC/s");
    for (name, f) in loops {
        println!(
            "{name:<12} {:>12.2} {:>12.0} {:>14.1} G",
            f.words_per_cycle,
            f.words_per_cycle * 64.0,
            f.macs_per_s / 1e9
        );
    }
}
