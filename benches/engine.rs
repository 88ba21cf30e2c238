//! The engine against the f32 reference and the XOR-popcount roofline, in one run: cnv, ncnv,
//! ucnv at batch 1 and a batch of 16, on one core (a one-thread rayon pool) and on two (batch 1
//! splits each layer's pixels across the cores; a batch runs images in parallel). After the
//! runs it prints per image: the engine's time and images/s, the reference/engine ratio, and
//! the engine as a percentage of the roofline: the time the model's binary MACs alone would
//! take at the best XOR-popcount loop's rate (benches/common/roofline.rs, same run), over the
//! engine's time for the whole image.

mod common;

use std::hint::black_box;

use binarycop::engine::Engine;
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop::reference::Reference;
use criterion::{BenchmarkId, Criterion, Throughput};
use ndarray::{Array4, Axis};

const BATCH: usize = 16;
const MODELS: [&str; 3] = ["cnv", "ncnv", "ucnv"];

fn images(n: usize) -> Array4<u8> {
    let mut s = 12345u32;
    Array4::from_shape_fn((n, 32, 32, 3), |_| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        (s >> 24) as u8
    })
}

/// Binary MACs per image (every compute layer after the first).
fn binary_macs(name: &str) -> f64 {
    let topo = Topology::preset(name, 4).expect("preset");
    topo.resolve()
        .expect("resolves")
        .iter()
        .filter(|l| l.compute_index.is_some_and(|i| i > 0))
        .map(|l| l.macs() as f64)
        .sum()
}

fn bench(c: &mut Criterion) {
    let pools = [1, 2].map(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("a rayon pool"));
    let imgs = images(BATCH);
    for name in MODELS {
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
            for (cores, pool) in [1, 2].iter().zip(&pools) {
                g.bench_with_input(BenchmarkId::new(format!("engine_{cores}core"), n), &batch, |b, batch| {
                    b.iter(|| pool.install(|| black_box(engine.run_batch(batch.view()).expect("run"))))
                });
            }
        }
        let img = imgs.index_axis(Axis(0), 0);
        g.throughput(Throughput::Elements(1));
        g.bench_function("reference", |b| b.iter(|| black_box(reference.forward(img).expect("run"))));
        g.finish();
    }
    common::roofline::bench(c);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    let (hz, loops) = common::roofline::report();
    common::roofline::print(hz, &loops);
    let Some((best, roof)) = loops.last() else { return };
    println!(
        "\nkernel: {}; roofline: {best} at {:.1} G binary MAC/s per core",
        binarycop::engine::kernels::best().expect("BINARYCOP_KERNEL").name(),
        roof.macs_per_s / 1e9
    );
    println!(
        "{:<6} {:>5} {:>5} {:>12} {:>10} {:>14} {:>9} {:>10}",
        "model", "batch", "cores", "engine/img", "images/s", "reference/img", "ratio", "roofline"
    );
    for name in MODELS {
        let reference = common::mean_ns(&format!("{name}/reference"));
        let at_roofline = binary_macs(name) / roof.macs_per_s * 1e9;
        for n in [1, BATCH] {
            for cores in [1, 2] {
                let Some(e) = common::mean_ns(&format!("{name}/engine_{cores}core/{n}")).map(|e| e / n as f64) else {
                    continue;
                };
                let r = reference.map_or("".into(), |r| format!("{:>11.1} µs {:>8.0}x", r / 1e3, r / e));
                println!(
                    "{name:<6} {n:>5} {cores:>5} {:>9.1} µs {:>10.0} {r:>24} {:>9.0}%",
                    e / 1e3,
                    1e9 / e,
                    100.0 * at_roofline / cores as f64 / e
                );
            }
        }
    }
}
