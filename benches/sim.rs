//! The cycle-level simulator on CNV with the paper's folding: simulated frames per second of
//! wall time, with timing on (finite FIFOs sized as FINN's flow, per-node counters) and off
//! (function only), one core. The bar for timing on is 305 frames/s.

mod common;

use std::hint::black_box;

use binarycop::lower;
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::report;
use criterion::{BenchmarkId, Criterion, Throughput};

const FRAMES: usize = 8;

fn bench(c: &mut Criterion) {
    let topo = Topology::preset("cnv", 4).expect("preset");
    let m = FoldedModel::fold(&random_model(&topo, 1, false).expect("random model")).expect("fold");
    let mut low = lower::lower(&m, &lower::paper_config(&m).expect("paper folding")).expect("lower");
    let depths = report::auto_fifo_depths(&low.graph).expect("fifo sizing");
    low.graph.set_fifo_depths(&depths);
    let mut s = 7u32;
    let frames: Vec<Vec<u8>> = (0..FRAMES)
        .map(|_| {
            (0..32 * 32 * 3)
                .map(|_| {
                    s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                    (s >> 24) as u8
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let input = low.graph.pack_frames(&refs).expect("pack");
    let mut g = c.benchmark_group("sim_cnv");
    g.sample_size(10);
    g.throughput(Throughput::Elements(FRAMES as u64));
    for timing in [true, false] {
        let opts = SimOptions { timing, ..Default::default() };
        let id = BenchmarkId::new(if timing { "timing_on" } else { "timing_off" }, FRAMES);
        g.bench_with_input(id, &input, |b, input| {
            b.iter(|| black_box(simulate(&low.graph, input, &opts).expect("simulate")))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    for t in ["timing_on", "timing_off"] {
        if let Some(ns) = common::mean_ns(&format!("sim_cnv/{t}/{FRAMES}")) {
            println!("{t:<10} {:>8.1} simulated CNV frames/s (one core)", FRAMES as f64 / (ns * 1e-9));
        }
    }
}
