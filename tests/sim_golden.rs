//! Every observable of the cycle-level simulator, recorded: labels, per-node busy / stall /
//! starve counters and last cycles, the SWU readers' iterations, FIFO maxima, every frame's
//! completion cycle (so latency and II), FINN's automatic FIFO depths and a digest of every word
//! on every FIFO, for the paper's three models in both flows, with the flows' FIFOs, FINN's
//! sizing, depth 1 and 2 everywhere, unbounded FIFOs, spaced frame starts and timing off.
//!
//! `tests/fixtures/sim_golden.txt` was written by the simulator before it was restructured for speed
//! (main 4ff78d1, per-word scheduling); any change to a cycle count, a stall statistic or a word
//! fails here with the first differing line. To record it again on purpose, run with
//! `BINARYCOP_SIM_GOLDEN_WRITE=1`.

use std::fmt::Write;
use std::path::Path;

use binarycop::lower::{self, FifoDepth};
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop_sim::clock::{simulate, Run, SimOptions};
use binarycop_sim::flow::Flow;
use binarycop_sim::report;

const FRAMES: usize = 4;

/// FNV-1a over the words, a stable digest of one FIFO's traffic.
fn digest(words: &[u64]) -> u64 {
    words.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, w| (h ^ w).wrapping_mul(0x0100_0000_01b3))
}

fn frames(g: &binarycop_sim::graph::Graph, seed: u32) -> Vec<u64> {
    let (h, w, c) = g.input;
    let mut s = seed;
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

fn record(out: &mut String, case: &str, run: &Run) {
    writeln!(out, "{case} output {:?}", run.output).unwrap();
    writeln!(out, "{case} done {:?}", run.done).unwrap();
    for (i, n) in run.nodes.iter().enumerate() {
        writeln!(
            out,
            "{case} node {i} busy {} stalled {} starved {} last {} reader {:?}",
            n.busy, n.stalled, n.starved, n.last, n.reader_busy
        )
        .unwrap();
    }
    writeln!(out, "{case} fifo_max {:?}", run.fifo_max_occupancy).unwrap();
    let taps: Vec<String> = run.taps.iter().map(|t| format!("{}:{:016x}", t.len(), digest(t))).collect();
    writeln!(out, "{case} taps {}", taps.join(" ")).unwrap();
}

fn observe() -> String {
    let mut out = String::new();
    for (preset, seed) in [("cnv", 1), ("ncnv", 2), ("ucnv", 3)] {
        let topo = Topology::preset(preset, 4).expect("preset");
        let m = FoldedModel::fold(&random_model(&topo, seed, false).expect("random model")).expect("fold");
        let cfg = lower::paper_config(&m).expect("paper folding");
        for flow in [Flow::Finn, Flow::BnnPynq] {
            let depths = [
                ("flow", FifoDepth::Flow),
                ("auto", FifoDepth::Auto),
                ("depth1", FifoDepth::Fixed(1)),
                ("depth2", FifoDepth::Fixed(2)),
            ];
            for (dname, depth) in depths {
                let mut low = lower::lower_flow(&m, &cfg, flow).expect("lower");
                low.set_fifo_depth(&depth).expect("fifo depths");
                let fifo: Vec<usize> = low.graph.fifos.iter().map(|f| f.depth).collect();
                let case = format!("{preset} {flow:?} {dname}");
                writeln!(out, "{case} depths {fifo:?}").unwrap();
                let input = frames(&low.graph, seed as u32 * 7 + 1);
                let variants = [
                    ("on", SimOptions { timing: true, taps: true, ..Default::default() }),
                    ("off", SimOptions { timing: false, taps: true, ..Default::default() }),
                    ("unbounded", SimOptions { timing: true, unbounded: true, taps: true, ..Default::default() }),
                    (
                        "spaced",
                        SimOptions {
                            timing: true,
                            taps: true,
                            frame_start: (0..FRAMES as u64).map(|f| f * 70_001 + f * f * 13).collect(),
                            ..Default::default()
                        },
                    ),
                ];
                for (vname, opts) in variants {
                    match simulate(&low.graph, &input, &opts) {
                        Ok(run) => record(&mut out, &format!("{case} {vname}"), &run),
                        Err(e) => writeln!(out, "{case} {vname} error {e}").unwrap(),
                    }
                }
            }
            let low = lower::lower_flow(&m, &cfg, flow).expect("lower");
            let auto = report::auto_fifo_depths(&low.graph).expect("auto depths");
            writeln!(out, "{preset} {flow:?} auto_fifo_depths {auto:?}").unwrap();
        }
    }
    out
}

#[test]
fn every_observable_is_as_recorded() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sim_golden.txt");
    let got = observe();
    if std::env::var_os("BINARYCOP_SIM_GOLDEN_WRITE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).expect("tests/fixtures/sim_golden.txt");
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} of tests/fixtures/sim_golden.txt differs", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "number of recorded lines");
}
