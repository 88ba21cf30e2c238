//! The post-implementation estimate's calibration as the README's tables: the fitted model,
//! its error on every published design of the calibration set, and on BinaryCoP's three
//! prototypes (held out; paper Table II, PYNQ-Z1), for both flows.
//! Run: `cargo run --release -p binarycop-sim --example calibration`.

use binarycop_hw::folding::paper_config;
use binarycop_sim::calibration::{self, Measured};
use binarycop_sim::flow::Flow;
use binarycop_sim::graph::Graph;
use binarycop_sim::implementation::{self, Estimate};
use binarycop_sim::report;

#[path = "../tests/common/cnv_family.rs"]
mod cnv_family;

fn pct(est: f64, real: f64) -> String {
    format!("{:+.1}%", 100.0 * (est - real) / real)
}

fn cells(e: &Estimate, m: &Measured, ff: bool) -> String {
    let ff = if ff { format!("{} / {} ({})", e.ff, m.ff, pct(e.ff as f64, m.ff as f64)) } else { "–".into() };
    format!(
        "{} / {} ({}) | {ff} | {} / {} ({}) | {} / {} ({:+})",
        e.lut,
        m.lut,
        pct(e.lut as f64, m.lut as f64),
        e.bram_tiles(),
        m.bram_tiles(),
        pct(e.bram_tiles(), m.bram_tiles()),
        e.dsp,
        m.dsp,
        e.dsp as i64 - m.dsp as i64
    )
}

fn main() {
    let model = implementation::model().expect("calibration set");
    println!("model: {model:?}\n");
    println!("| design | flow | figure | LUT est / published | FF | BRAM tiles | DSP |");
    println!("|---|---|---|---|---|---|---|");
    for d in calibration::designs().expect("calibration set") {
        let e = model.estimate(&d.graph, d.shell);
        let note = if d.bram_saturated.is_some() { " (BRAM not fitted)" } else { "" };
        println!("| {}{note} | {} | {} | {} |", d.name, d.graph.flow.name(), d.stage, cells(&e, &d.measured, true));
    }
    println!("\n| prototype | flow | LUT est / paper | FF | BRAM tiles | DSP |");
    println!("|---|---|---|---|---|---|");
    let paper = [("cnv", 26060, 124, 24), ("ncnv", 20425, 10, 14), ("ucnv", 11738, 14, 27)];
    for (name, lut, tiles, dsp) in paper {
        // n-CNV's 10.5 tiles: 10 RAMB36 and one RAMB18.
        let m = Measured { lut, ff: 0, ramb36: tiles, ramb18: u64::from(name == "ncnv"), dsp };
        for flow in [Flow::BnnPynq, Flow::Finn] {
            let layers = cnv_family::preset(name);
            let mut g =
                Graph::build_flow(&layers, &paper_config(name).expect("shipped"), (32, 32, 3), flow).expect("graph");
            if flow == Flow::Finn {
                let d = report::auto_fifo_depths(&g).expect("sizing");
                g.set_fifo_depths(&d);
            }
            println!("| {name} | {} | {} |", flow.name(), cells(&model.estimate(&g, true), &m, false));
        }
    }
}
