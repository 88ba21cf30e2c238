//! A `final_hw_config.json` written as a FINN build writes one (`sim/tests/data/`, made by
//! `python/make_finn_final_hw_config.py`: every node of CNV's final dataflow graph with its
//! hw attributes, `_rtl` width converters, FIFO depths with vivado FIFOs above 256) folds the
//! graph node for node and is simulated with its FIFO depths.

use binarycop_hw::folding::FoldingConfig;
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::graph::{Graph, Op};
use binarycop_sim::report::{self, fps};

#[path = "common/cnv_family.rs"]
mod cnv_family;

const FINAL: &str = include_str!("data/cnv_final_hw_config.json");

#[test]
fn finns_final_hw_config_folds_and_simulates_cnv() {
    let cfg = FoldingConfig::from_json(FINAL).unwrap();
    let g = Graph::build(&cnv_family::preset("cnv"), &cfg, (32, 32, 3)).unwrap();
    assert!(g.config_depths, "the config gives the FIFO depths");
    // Every node and FIFO of the file is a node of the graph, in the same order.
    let file: Vec<&String> = cfg.nodes.keys().collect();
    assert_eq!(file.len(), 30 + 31);
    let dwcs: Vec<&str> = g.nodes.iter().filter(|n| matches!(n.op, Op::Dwc(_))).map(|n| n.name.as_str()).collect();
    assert_eq!(dwcs.len(), 11);
    assert!(dwcs.iter().enumerate().all(|(i, n)| *n == format!("StreamingDataWidthConverter_rtl_{i}")));
    // The FIFOs take the file's depths and styles.
    for f in &g.fifos {
        let a = &cfg.nodes[&f.name];
        assert_eq!(f.depth as u64, a["depth"].as_u64().unwrap(), "{}", f.name);
        assert_eq!(f.style.impl_style, a["impl_style"].as_str().unwrap(), "{}", f.name);
    }
    assert_eq!((g.fifos[3].depth, g.fifos[3].style.impl_style.as_str()), (8100, "vivado"));
    // FINN's estimate of a vivado FIFO in ram_style auto has no BRAM: 2⌈log₂8192⌉ LUTs.
    assert_eq!((g.fifo_estimate(3).lut, g.fifo_estimate(3).bram18), (26, 0));
    let mvau0 = g.mvaus().next().unwrap().1;
    assert_eq!((mvau0.cfg.pe, mvau0.cfg.simd, mvau0.cfg.mem_mode.as_str()), (16, 3, "internal_decoupled"));
    // Simulated with those depths: the paper's 3049 FPS within 1%.
    let run = simulate(&g, &report::zero_frames(&g, 6), &SimOptions { timing: true, ..Default::default() }).unwrap();
    let f = fps(100.0, run.cycles_per_frame());
    assert!((f - 3049.0).abs() / 3049.0 < 0.01, "{f} FPS");
    // Written back, it names the same nodes with the same depths.
    let again = g.to_folding_config();
    for f in &g.fifos {
        assert_eq!(again.nodes[&f.name]["depth"], cfg.nodes[&f.name]["depth"]);
    }
}

#[test]
fn auto_folding_config_without_fifos_is_sized_by_the_caller() {
    // auto_folding_config.json (after SetFolding) names only the layer nodes.
    let mut cfg = FoldingConfig::from_json(FINAL).unwrap();
    cfg.nodes.retain(|k, _| !k.starts_with("StreamingFIFO") && !k.starts_with("StreamingDataWidth"));
    for attrs in cfg.nodes.values_mut() {
        attrs.remove("inFIFODepths");
        attrs.remove("outFIFODepths");
    }
    let g = Graph::build(&cnv_family::preset("cnv"), &cfg, (32, 32, 3)).unwrap();
    assert!(!g.config_depths);
    assert!(g.fifos.iter().all(|f| f.depth == 2));
}
