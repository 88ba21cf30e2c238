//! The engine against the f32 reference on the same inputs: cnv, ncnv, ucnv, on one core.
//! - `forward/1`: one image's forward pass (`Engine::scores`) on the calling thread, the same
//!   measurement as `cargo bench --bench cam`'s `engine_forward_1core`;
//! - `engine/1` and `engine/16`: `Engine::run_batch` inside a one-thread rayon pool
//!   (`install` hands the closure to the pool's thread, once per batch);
//! - `reference/1` and `reference/16`: the f32 reference, image by image.
//!
//! After the runs it prints per-image times and the reference/engine ratios from criterion's
//! estimates. BINARYCOP_BENCH_CLOCK=cpu times process CPU time (see benches/common).

mod common;

use std::hint::black_box;

use binarycop::engine::Engine;
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop::reference::Reference;
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use ndarray::{Array4, Axis};

const BATCH: usize = 16;

fn images(n: usize) -> Array4<u8> {
    let mut s = 12345u32;
    Array4::from_shape_fn((n, 32, 32, 3), |_| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        (s >> 24) as u8
    })
}

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    let imgs = images(BATCH);
    for name in ["cnv", "ncnv", "ucnv"] {
        let topo = Topology::preset(name, 4).expect("preset");
        let trained = random_model(&topo, 1, false).expect("random model");
        let engine = Engine::new(FoldedModel::fold(&trained).expect("fold")).expect("engine");
        let reference = Reference::new(trained).expect("reference");
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.throughput(Throughput::Elements(1));
        let img = imgs.index_axis(Axis(0), 0);
        g.bench_function(BenchmarkId::new("forward", 1), |b| b.iter(|| black_box(engine.scores(img).expect("run"))));
        for n in [1, BATCH] {
            let batch = imgs.slice_axis(Axis(0), (0..n).into());
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new("engine", n), &batch, |b, batch| {
                b.iter(|| pool.install(|| black_box(engine.run_batch(batch.view()).expect("run"))))
            });
            g.bench_with_input(BenchmarkId::new("reference", n), &batch, |b, batch| {
                b.iter(|| {
                    for img in batch.axis_iter(Axis(0)) {
                        black_box(reference.forward(img).expect("run"));
                    }
                })
            });
        }
        g.finish();
    }
}

fn main() {
    common::run(bench, bench);
    println!("\nkernel: {}", binarycop::engine::kernels::best().expect("BINARYCOP_KERNEL").name());
    println!(
        "{:<6} {:>12} {:>14} {:>14} {:>14} {:>10}",
        "model", "forward", "run_batch 1", "run_batch 16", "reference/img", "ratio 16"
    );
    let per_img = |id: String, n: usize| common::mean_ns(&id).map(|ns| ns / n as f64 / 1e3);
    for name in ["cnv", "ncnv", "ucnv"] {
        let f = per_img(format!("{name}/forward/1"), 1);
        let b1 = per_img(format!("{name}/engine/1"), 1);
        let b16 = per_img(format!("{name}/engine/{BATCH}"), BATCH);
        let r16 = per_img(format!("{name}/reference/{BATCH}"), BATCH);
        if let (Some(f), Some(b1), Some(b16), Some(r16)) = (f, b1, b16, r16) {
            println!("{name:<6} {f:>9.1} µs {b1:>11.1} µs {b16:>11.1} µs {r16:>11.1} µs {:>9.1}x", r16 / b16);
        }
    }
}
