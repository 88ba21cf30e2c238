//! Synthetic data speed on one core: single images (`render`) and a batch through `generate`
//! in a one-thread rayon pool, 32×32 drawn at 128×128, base variation.

use std::hint::black_box;

use binarycop::data::synth::{self, Config, Variation};
use criterion::{BenchmarkId, Criterion, Throughput};

const BATCH: usize = 64;

fn bench(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    let mut g = c.benchmark_group("synth");
    g.sample_size(20);
    for variation in [Variation::Base, Variation::Headgear] {
        let config = Config { variations: vec![variation], ..Config::new(BATCH, 1) };
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_with_input(BenchmarkId::new("render_32_from_128", variation.name()), &config, |b, cfg| {
            b.iter(|| {
                for i in 0..BATCH as u64 {
                    black_box(synth::render(cfg, i).expect("render"));
                }
            })
        });
    }
    let config = Config::new(BATCH, 1);
    g.bench_function("generate_32_from_128/one_thread", |b| {
        b.iter(|| pool.install(|| black_box(synth::generate(&config).expect("generate"))))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
