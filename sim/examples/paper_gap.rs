//! The BinaryCoP paper's measured throughput and latency (binarycop.md §4: CNV 3049, n-CNV
//! 6460, µ-CNV 1646 FPS; 1.58, 0.31, 0.81 ms at 100 MHz) against FINN's formula and the
//! cycle-level simulation of each flow as it builds the accelerator: BNN-PYNQ's top level with
//! its stream depths, the same with every stream at Vivado HLS's default depth (a top level
//! without STREAM pragmas), and the FINN compiler with its FIFO sizing. Weights do not matter
//! for timing, so the networks are built with zero weights.
//! Run: `cargo run --release -p binarycop-sim --example paper_gap`.

use binarycop_hw::folding::paper_config;
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::flow::Flow;
use binarycop_sim::graph::Graph;
use binarycop_sim::report::{self, fps};

#[path = "../tests/common/cnv_family.rs"]
mod cnv_family;

fn main() {
    println!("{:<5} {:>28} {:>28} {:>28} | {:>16}", "net", "bnn-pynq", "bnn-pynq, depth 2", "finn", "paper");
    for (name, paper_fps, paper_ms) in [("cnv", 3049.0, 1.58), ("ncnv", 6460.0, 0.31), ("ucnv", 1646.0, 0.81)] {
        let layers = cnv_family::preset(name);
        let cfg = paper_config(name).expect("shipped");
        let mut cols = Vec::new();
        for (flow, depth) in [(Flow::BnnPynq, None), (Flow::BnnPynq, Some(2)), (Flow::Finn, None)] {
            let mut g = Graph::build_flow(&layers, &cfg, (32, 32, 3), flow).expect("graph");
            let depths = match depth {
                Some(d) => vec![d; g.fifos.len()],
                None if flow == Flow::Finn => report::auto_fifo_depths(&g).expect("sizing"),
                None => g.fifos.iter().map(|f| f.depth).collect(),
            };
            g.set_fifo_depths(&depths);
            let r = simulate(&g, &report::zero_frames(&g, 8), &SimOptions { timing: true, ..Default::default() })
                .expect("simulate");
            let (c, l) = (r.cycles_per_frame(), r.latency());
            cols.push(format!("{c:>7.0} {l:>6} {:>6.0} {:>5.3}ms", fps(100.0, c), l as f64 / 1e5));
        }
        println!("{name:<5} {} | {paper_fps:>7.0} {paper_ms:>6.3}ms", cols.join(" "));
    }
    println!("(per flow: cycles/frame, latency cycles, FPS and latency at 100 MHz)");
}
