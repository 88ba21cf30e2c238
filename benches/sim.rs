//! The cycle-level simulator on the paper's three models with their foldings: simulated frames
//! per second of wall time, one core, with timing on (finite FIFOs, per-node counters) in both
//! flows — FINN's (FIFOs sized by its default strategy) and BNN-PYNQ's (top.cpp's stream
//! depths) — and, for CNV, with timing off (function only). The bar for CNV with timing on is
//! 1,000 frames/s.
//!
//! Before/after in one session: run this bench built from the old tree with
//! `-- --save-baseline before`, then from the new one with `-- --baseline before`; the summary
//! then prints each case's ratio against the saved baseline next to its frames/s. On a shared
//! machine, `BINARYCOP_BENCH_CLOCK=cpu` times the process's CPU time instead of wall time.

mod common;

use std::hint::black_box;

use binarycop::lower::{self, FifoDepth};
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::flow::Flow;
use binarycop_sim::graph::Graph;
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};

const FRAMES: usize = 8;

/// (id, preset, flow, timing)
const CASES: [(&str, &str, Flow, bool); 7] = [
    ("cnv_finn", "cnv", Flow::Finn, true),
    ("cnv_bnn_pynq", "cnv", Flow::BnnPynq, true),
    ("ncnv_finn", "ncnv", Flow::Finn, true),
    ("ncnv_bnn_pynq", "ncnv", Flow::BnnPynq, true),
    ("ucnv_finn", "ucnv", Flow::Finn, true),
    ("ucnv_bnn_pynq", "ucnv", Flow::BnnPynq, true),
    ("cnv_finn_timing_off", "cnv", Flow::Finn, false),
];

fn graph(preset: &str, flow: Flow) -> Graph {
    let topo = Topology::preset(preset, 4).expect("preset");
    let m = FoldedModel::fold(&random_model(&topo, 1, false).expect("random model")).expect("fold");
    let cfg = lower::paper_config(&m).expect("paper folding");
    let mut low = lower::lower_flow(&m, &cfg, flow).expect("lower");
    low.set_fifo_depth(&FifoDepth::Flow).expect("fifo sizing");
    low.graph
}

fn frames(g: &Graph) -> Vec<u64> {
    let (h, w, c) = g.input;
    let mut s = 7u32;
    let imgs: Vec<Vec<u8>> = (0..FRAMES)
        .map(|_| {
            (0..h * w * c)
                .map(|_| {
                    s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                    (s >> 24) as u8
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[u8]> = imgs.iter().map(Vec::as_slice).collect();
    g.pack_frames(&refs).expect("pack")
}

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    g.throughput(Throughput::Elements(FRAMES as u64));
    for (id, preset, flow, timing) in CASES {
        let graph = graph(preset, flow);
        let input = frames(&graph);
        let opts = SimOptions { timing, ..Default::default() };
        g.bench_with_input(BenchmarkId::new(id, FRAMES), &input, |b, input| {
            b.iter(|| black_box(simulate(&graph, input, &opts).expect("simulate")))
        });
    }
    g.finish();
}

fn main() {
    common::run(bench, bench);
    // A run that saves a baseline writes its estimates there instead of "new".
    let args: Vec<String> = std::env::args().collect();
    let saved = args.iter().position(|a| a == "--save-baseline").and_then(|i| args.get(i + 1));
    println!("simulated frames/s, one core ({FRAMES} frames a run)");
    for (id, ..) in CASES {
        let key = format!("sim/{id}/{FRAMES}");
        let ns = match saved {
            Some(b) => common::baseline_mean_ns(&key, b),
            None => common::mean_ns(&key),
        };
        let Some(ns) = ns else { continue };
        let fps = FRAMES as f64 / (ns * 1e-9);
        match common::baseline_mean_ns(&key, "before").filter(|_| saved.is_none()) {
            Some(old) => {
                let before = FRAMES as f64 / (old * 1e-9);
                println!("{id:<20} {fps:>8.1}   before {before:>8.1}   ×{:.2}", old / ns);
            }
            None => println!("{id:<20} {fps:>8.1}"),
        }
    }
}
