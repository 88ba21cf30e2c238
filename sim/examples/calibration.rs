//! The post-implementation estimate's calibration: the fitted model, its error on every
//! published design it was fitted on, and on BinaryCoP's three prototypes (held out), for both
//! flows. Run: `cargo run --release -p binarycop-sim --example calibration`.

use binarycop_hw::folding::paper_config;
use binarycop_sim::calibration::{self, Measured};
use binarycop_sim::flow::Flow;
use binarycop_sim::graph::Graph;
use binarycop_sim::implementation::{self, Estimate};
use binarycop_sim::report;

#[path = "../tests/common/cnv_family.rs"]
mod cnv_family;

fn pct(est: f64, paper: f64) -> String {
    format!("{:+.1}%", 100.0 * (est - paper) / paper)
}

fn row(name: &str, flow: &str, e: &Estimate, m: &Measured) {
    println!(
        "{name:<12} {flow:<9} LUT {:>6} vs {:>6} ({:>7})  FF {:>6} vs {:>6} ({:>7})  BRAM {:>6.1} vs {:>6.1} ({:>7})  DSP {:>3} vs {:>3} ({:+})",
        e.lut,
        m.lut,
        pct(e.lut as f64, m.lut as f64),
        e.ff,
        m.ff,
        pct(e.ff as f64, m.ff as f64),
        e.bram_tiles(),
        m.bram_tiles(),
        pct(e.bram_tiles(), m.bram_tiles()),
        e.dsp,
        m.dsp,
        e.dsp as i64 - m.dsp as i64
    );
}

fn main() {
    let model = implementation::model().expect("calibration set");
    println!("model: {model:?}");
    for d in calibration::designs().expect("calibration set") {
        let e = model.estimate(&d.graph, d.shell);
        let f = implementation::features(&d.graph, model.memory);
        println!("  features {}: {f:?}", d.name);
        row(&d.name, d.graph.flow.name(), &e, &d.measured);
    }
    println!("held out (BinaryCoP, paper Table II; no FF published):");
    let paper = [("cnv", 26060, 124.0, 24), ("ncnv", 20425, 10.5, 14), ("ucnv", 11738, 14.0, 27)];
    for (name, lut, tiles, dsp) in paper {
        let layers = cnv_family::preset(name);
        let cfg = paper_config(name).expect("shipped");
        for flow in [Flow::BnnPynq, Flow::Finn] {
            let mut g = Graph::build_flow(&layers, &cfg, (32, 32, 3), flow).expect("graph");
            if flow == Flow::Finn {
                let d = report::auto_fifo_depths(&g).expect("sizing");
                g.set_fifo_depths(&d);
            }
            let e = model.estimate(&g, true);
            let f = implementation::features(&g, model.memory);
            println!("  features: {f:?}");
            let m = Measured { lut, ff: 1, ramb36: (tiles * 2.0) as u64 / 2, ramb18: ((tiles * 2.0) as u64) % 2, dsp };
            row(name, flow.name(), &e, &m);
        }
    }
}
