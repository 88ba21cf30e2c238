//! The engine against the f32 reference on the same inputs: cnv, ncnv, ucnv, batch 1 and a
//! batch of 16, on one core (a one-thread rayon pool). After the runs it prints the
//! reference/engine ratio of each pair from criterion's estimates.

mod common;

use std::hint::black_box;

use binarycop::engine::Engine;
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop::reference::Reference;
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

fn bench(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    let imgs = images(BATCH);
    for name in ["cnv", "ncnv", "ucnv"] {
        let topo = Topology::preset(name, 4).expect("preset");
        let trained = random_model(&topo, 1, false).expect("random model");
        let engine = Engine::new(FoldedModel::fold(&trained).expect("fold")).expect("engine");
        let reference = Reference::new(trained).expect("reference");
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
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
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    println!("\nkernel: {}", binarycop::engine::kernels::best().expect("BINARYCOP_KERNEL").name());
    println!("{:<6} {:>5} {:>14} {:>14} {:>10}", "model", "batch", "engine/img", "reference/img", "ratio");
    for name in ["cnv", "ncnv", "ucnv"] {
        for n in [1, BATCH] {
            if let (Some(e), Some(r)) =
                (common::mean_ns(&format!("{name}/engine/{n}")), common::mean_ns(&format!("{name}/reference/{n}")))
            {
                println!(
                    "{:<6} {:>5} {:>11.1} µs {:>11.1} µs {:>9.1}x",
                    name,
                    n,
                    e / n as f64 / 1e3,
                    r / n as f64 / 1e3,
                    r / e
                );
            }
        }
    }
}
