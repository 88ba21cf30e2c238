//! The BinaryCoP paper's measured throughput (binarycop.md §4: CNV 3049, n-CNV 6460, µ-CNV 1646
//! FPS at 100 MHz) against FINN's formula and the cycle-level simulation under different
//! window-generator timings and FIFO depths. Weights do not matter for timing, so the networks
//! are built with zero weights. Run: `cargo run --release -p binarycop-sim --example paper_gap`.

use binarycop_hw::folding::paper_config;
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::graph::{Graph, Op};
use binarycop_sim::report::{self, fps};

#[path = "../tests/common/cnv_family.rs"]
mod cnv_family;

/// BNN-PYNQ cnvW1A1's stream depths (top.cpp: inter0_2 128, inter1 128, inter2 2, inter3 128,
/// inter4 128, inter5 2, inter6 81, inter7 1, inter8 1, inter9 128, inter10 3; all else 2),
/// counted in pixels (64-bit words between FC layers) and put on the FIFO right after each
/// producer, converted to its words; the same pragmas applied to the smaller networks.
fn bnn_pynq_depths(g: &Graph) -> Vec<usize> {
    let convs_px = [128usize, 128, 2, 128, 128, 2, 81, 1, 1];
    let mvaus: Vec<usize> =
        g.nodes.iter().enumerate().filter(|(_, n)| matches!(n.op, Op::Mvau(_))).map(|(i, _)| i).collect();
    let n_fc = mvaus.iter().filter(|&&i| matches!(&g.nodes[i].op, Op::Mvau(m) if m.vectors == 1)).count();
    let mut depths = vec![2; g.fifos.len()];
    let mut boundary = 0;
    let mut fc_seen = 0;
    for (i, n) in g.nodes.iter().enumerate().skip(1) {
        let bits_per_px = match &n.op {
            Op::Mvau(m) if m.vectors == 1 => {
                fc_seen += 1;
                // Between FC layers BNN-PYNQ's streams are 64 bits wide.
                let words64 = if fc_seen + 1 == n_fc { 3 } else { 128 };
                if fc_seen < n_fc {
                    depths[i] = (words64 * 64usize).div_ceil(n.out_bits);
                }
                continue;
            }
            Op::Mvau(m) => m.mh,
            Op::MaxPool(p) => p.c,
            Op::Dwc(_) if boundary == 0 && i == 2 => {
                depths[i] = 128;
                continue;
            }
            _ => continue,
        };
        let px = convs_px.get(boundary + 1).copied().unwrap_or(1);
        depths[i] = (px * bits_per_px).div_ceil(n.out_bits);
        boundary += 1;
    }
    depths
}

fn main() {
    println!(
        "{:<5} {:>9} | {:>10} {:>10} {:>10} {:>10} {:>10} | {:>8}",
        "net", "formula", "rtl auto", "rtl d=2", "hls auto", "hls d=2", "hls bnn", "paper"
    );
    for (name, layers, paper) in [
        ("cnv", cnv_family::preset("cnv"), 3049.0),
        ("ncnv", cnv_family::preset("ncnv"), 6460.0),
        ("ucnv", cnv_family::preset("ucnv"), 1646.0),
    ] {
        let base = Graph::build(&layers, &paper_config(name).expect("shipped"), (32, 32, 3)).expect("graph");
        let input = report::zero_frames(&base, 8);
        let opts = SimOptions { timing: true, ..Default::default() };
        let run = |hls: bool, depths: Option<Vec<usize>>| {
            let mut g = base.clone();
            g.set_swu_hls_loop(hls);
            let d = depths.unwrap_or_else(|| report::auto_fifo_depths(&g, 4).expect("sizing").0);
            g.set_fifo_depths(&d);
            let r = simulate(&g, &input, &opts).expect("simulate");
            (fps(100.0, r.cycles_per_frame()), r.latency() as f64 / 100.0)
        };
        let two = Some(vec![2; base.fifos.len()]);
        let cols = [
            run(false, None),
            run(false, two.clone()),
            run(true, None),
            run(true, two),
            run(true, Some(bnn_pynq_depths(&base))),
        ];
        let fmt: Vec<String> = cols.iter().map(|(f, _)| format!("{f:>10.0}")).collect();
        println!("{name:<5} {:>9.0} | {} | {paper:>8.0}", fps(100.0, base.max_exp_cycles() as f64), fmt.join(" "));
        let lat: Vec<String> = cols.iter().map(|(_, l)| format!("{l:>8.0}us")).collect();
        println!("{:<5} {:>9} | {} |", "", "latency", lat.join(" "));
    }
}
