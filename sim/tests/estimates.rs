//! FINN's analytical estimates on the three BinaryCoP networks with the paper's foldings
//! (binarycop.md §1), against values computed by hand from FINN's formulas (finn.md §6), and
//! the paper's CNV throughput from both the formula and the cycle-level simulation.

use binarycop_hw::folding::{paper_config, FoldingConfig};
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::graph::{Graph, Op};
use binarycop_sim::report::{self, fps};

#[path = "common/cnv_family.rs"]
mod cnv_family;

fn graph(name: &str) -> Graph {
    let layers = cnv_family::preset(name);
    Graph::build(&layers, &paper_config(name).unwrap(), (32, 32, 3)).unwrap()
}

fn by_type(g: &Graph, op: &str, f: impl Fn(&binarycop_sim::Node) -> u64) -> Vec<u64> {
    g.nodes.iter().filter(|n| n.op.op_type() == op).map(f).collect()
}

#[test]
fn node_estimates_equal_hand_computed_finn_values() {
    // (network, MVAU cycles, MVAU BRAM18, SWU cycles): (MH/PE)(MW/SIMD)·vectors; the BRAM
    // table on WMEM = NF·SF and width PE·SIMD; buf + OH·max(OW·K²·cf, W·cf).
    type Row = (&'static str, [u64; 9], [u64; 9], [u64; 6]);
    let want: [Row; 3] = [
        (
            "cnv",
            [32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768, 512],
            [2, 29, 15, 15, 24, 36, 8, 16, 1],
            [8167, 14238, 2654, 3708, 376, 144],
        ),
        (
            "ncnv",
            [8100, 7056, 2592, 1800, 1296, 1152, 2048, 2048, 512],
            [2, 8, 8, 15, 4, 4, 1, 1, 1],
            [8167, 7119, 1327, 927, 94, 36],
        ),
        (
            "ucnv",
            [32400, 28224, 10368, 7200, 5184, 4608, 512, 0, 0],
            [1, 2, 2, 4, 2, 5, 1, 0, 0],
            [8167, 7119, 1327, 927, 94, 0],
        ),
    ];
    for (name, cycles, bram, swu) in want {
        let g = graph(name);
        let n_mvau = if name == "ucnv" { 7 } else { 9 };
        let n_swu = if name == "ucnv" { 5 } else { 6 };
        assert_eq!(by_type(&g, "MVAU_hls", |n| n.exp_cycles()), cycles[..n_mvau], "{name} MVAU cycles");
        assert_eq!(by_type(&g, "MVAU_hls", |n| n.bram18()), bram[..n_mvau], "{name} MVAU BRAM18");
        assert_eq!(by_type(&g, "ConvolutionInputGenerator_rtl", |n| n.exp_cycles()), swu[..n_swu], "{name} SWU");
        assert_eq!(by_type(&g, "StreamingMaxPool_hls", |n| n.exp_cycles()), [980, 125], "{name} pools");
        assert_eq!(by_type(&g, "Thresholding_rtl", |n| n.exp_cycles()), [3072], "{name} thresholding");
        assert_eq!(by_type(&g, "LabelSelect_hls", |n| n.exp_cycles()), [4], "{name} label select");
    }
    // LUTs by hand: 300 + 1.1·PE·(mult + add + acc + thr + cmp).
    // CNV MVAU 0: PE 16, SIMD 3, W+A = 9: mult 3·(2·2−1)·9 = 81, add 9·5 = 45, acc 13
    // (INT13 holds ±128·27), thr = cmp = 13 → 300 + 1.1·16·165 = 3204.
    // CNV MVAU 1: PE 32, SIMD 32, W+A = 2: mult 32·1·2 = 64, add 2·63 = 126, acc 10 (UINT10),
    // thr = cmp = 10 → 300 + 1.1·32·220 = 8044.
    let g = graph("cnv");
    assert_eq!(by_type(&g, "MVAU_hls", |n| n.lut())[..2], [3204, 8044]);
    // µ-CNV MVAU 5 (fc1): PE 1, SIMD 16: mult 32, add 62, acc 10 (576 → UINT10), thr 10·⌈128/64⌉,
    // cmp 10 → 300 + 1.1·(32 + 62 + 10 + 20 + 10) = 447.
    assert_eq!(by_type(&graph("ucnv"), "MVAU_hls", |n| n.lut())[5], 447);
    assert_eq!(g.mvaus().map(|(n, _)| n.bram18()).sum::<u64>(), 146);
}

#[test]
fn paper_cnv_throughput_from_the_formula_and_the_clock() {
    let mut g = graph("cnv");
    // FINN's formula: the slowest node, 32768 cycles → 3051.8 FPS at 100 MHz (paper: 3049).
    assert_eq!(g.max_exp_cycles(), 32768);
    assert!((fps(100.0, 32768.0) - 3051.76).abs() < 0.01);
    // The cycle-level steady state with FIFOs sized as FINN sizes them is within 1% of 3049.
    let (depths, free) = report::auto_fifo_depths(&g, 4).unwrap();
    g.set_fifo_depths(&depths);
    let run = simulate(&g, &report::zero_frames(&g, 6), &SimOptions { timing: true, ..Default::default() }).unwrap();
    let sim_fps = fps(100.0, run.cycles_per_frame());
    assert!((sim_fps - 3049.0).abs() / 3049.0 < 0.01, "simulated {sim_fps} FPS");
    assert!(run.cycles_per_frame() >= free - 0.5, "finite FIFOs are never faster than unbounded ones");
    // The single-frame latency lies between one frame's slowest node and the sum of all nodes.
    let sum: u64 = g.nodes.iter().map(|n| n.exp_cycles()).sum();
    assert!(run.latency() > 32768 && run.latency() < sum, "latency {}", run.latency());
}

#[test]
fn shallow_fifos_cost_throughput_and_deep_ones_restore_it() {
    let mut g = graph("cnv");
    let n = g.fifos.len();
    let input = report::zero_frames(&g, 5);
    let opts = SimOptions { timing: true, ..Default::default() };
    g.set_fifo_depths(&vec![2; n]);
    let shallow = simulate(&g, &input, &opts).unwrap().cycles_per_frame();
    g.set_fifo_depths(&vec![256; n]);
    let deep = simulate(&g, &input, &opts).unwrap().cycles_per_frame();
    assert!(shallow > 1.5 * deep, "depth 2: {shallow}, depth 256: {deep}");
    assert_eq!(deep, 32768.0);
}

#[test]
fn standalone_node_cycles_follow_the_formulas() {
    let g = graph("ncnv");
    for (i, n) in g.nodes.iter().enumerate() {
        let sim = report::standalone_cycles(&g, i).unwrap();
        match &n.op {
            // One iteration per cycle, exactly FINN's count.
            Op::Mvau(_) | Op::Thresholding(_) | Op::MaxPool(_) | Op::Dwc(_) => {
                assert_eq!(sim, n.exp_cycles(), "{}", n.name)
            }
            // The window generator differs only by its buffer refill between frames.
            Op::Swu(s) => {
                let writes = s.out_words() as u64;
                assert!(sim >= writes && sim <= n.exp_cycles() + s.buffer_pixels() as u64, "{}: {sim}", n.name)
            }
            _ => {}
        }
    }
}

#[test]
fn written_configs_read_back_to_the_same_graph() {
    for name in ["cnv", "ncnv", "ucnv"] {
        let g = graph(name);
        let text = g.to_folding_config().to_json();
        let cfg = FoldingConfig::from_json(&text).unwrap();
        let layers = cnv_family::preset(name);
        let again = Graph::build(&layers, &cfg, (32, 32, 3)).unwrap();
        assert_eq!(again.to_folding_config(), cfg, "{name}");
        let names = |g: &Graph| g.nodes.iter().map(|n| (n.name.clone(), n.pe_simd())).collect::<Vec<_>>();
        assert_eq!(names(&again), names(&g));
    }
}

#[test]
fn invalid_foldings_are_clear_errors() {
    let layers = cnv_family::preset("ucnv");
    let err = |json: &str| {
        let cfg = FoldingConfig::from_json(json).unwrap();
        Graph::build(&layers, &cfg, (32, 32, 3)).unwrap_err().to_string()
    };
    let cases = [
        (r#"{"MVAU_hls_1": {"PE": 5, "SIMD": 16}}"#, "MVAU_hls_1", "MH % PE"),
        (r#"{"MVAU_hls_5": {"PE": 1, "SIMD": 7}}"#, "MVAU_hls_5", "MW % SIMD"),
        (r#"{"ConvolutionInputGenerator_rtl_2": {"SIMD": 5}}"#, "ConvolutionInputGenerator_rtl_2", "SIMD 5"),
        (r#"{"Thresholding_rtl_0": {"PE": 2}}"#, "Thresholding_rtl_0", "PE 2"),
        (r#"{"MVAU_hls_9": {"PE": 1}}"#, "MVAU_hls_9", "not a node"),
        (r#"{"MVAU_hls_0": {"PE": "four"}}"#, "MVAU_hls_0", "integer"),
        (r#"{"MVAU_hls_0": {"PEE": 4}}"#, "MVAU_hls_0", "unknown attribute 'PEE'"),
        (r#"{"MVAU_hls_0": {"ram_style": "magic"}}"#, "MVAU_hls_0", "ram_style"),
        (r#"{"StreamingFIFO_rtl_3": {"depth": 0}}"#, "StreamingFIFO_rtl_3", "depth"),
        (r#"{"StreamingFIFO_rtl_3": {"depth": 1099511627776}}"#, "StreamingFIFO_rtl_3", "depth must be"),
        (r#"{"Defaults": {"PE": [2, ["NoSuchOp"]]}}"#, "NoSuchOp", "op type"),
        (r#"{"Defaults": {"PE": [3, ["MVAU_hls"]]}}"#, "MVAU_hls_0", "MH % PE"),
    ];
    for (json, node, what) in cases {
        let e = err(json);
        assert!(e.contains(node) && e.contains(what), "{json}: '{e}'");
    }
}

#[test]
fn hls_window_loop_with_shallow_fifos_slows_the_small_networks() {
    // n-CNV: the first conv's SWG and MVAU both need ~8100 cycles; with finn-hlslib's loop the
    // next SWG stalls its window writes while it waits for each input row, and with depth-2
    // streams that stall reaches back up the pipeline (paper: 6460 FPS vs 12244 by formula).
    let g = graph("ncnv");
    let input = report::zero_frames(&g, 6);
    let opts = SimOptions { timing: true, ..Default::default() };
    let cpf = |hls: bool, d: usize| {
        let mut g = g.clone();
        g.set_swu_hls_loop(hls);
        g.set_fifo_depths(&vec![d; g.fifos.len()]);
        simulate(&g, &input, &opts).unwrap().cycles_per_frame()
    };
    let (rtl2, hls2, hls64) = (cpf(false, 2), cpf(true, 2), cpf(true, 64));
    assert!(hls2 > 1.5 * hls64, "HLS loop: depth 2 {hls2}, depth 64 {hls64}");
    assert!(rtl2 < 1.2 * hls64, "the RTL SWG barely suffers: {rtl2}");
    assert!(g.nodes.iter().any(|n| n.name == "ConvolutionInputGenerator_rtl_0"));
    let mut h = g.clone();
    h.set_swu_hls_loop(true);
    assert!(h.nodes.iter().any(|n| n.name == "ConvolutionInputGenerator_hls_0"));
    // The HLS formula: IFM_W·K·cf + OFM_H·max(OFM_W·K²·cf, IFM_W·cf) = 96 + 8100.
    assert_eq!(h.nodes.iter().find(|n| n.name == "ConvolutionInputGenerator_hls_0").unwrap().exp_cycles(), 8196);
}

#[test]
fn idle_spans_cost_nothing() {
    // Frames a trillion cycles apart: each sees an empty pipeline, so each takes the
    // single-frame latency, and the run is as quick as back-to-back frames.
    let g = graph("ucnv");
    let gap = 1_000_000_000_000u64;
    let input = report::zero_frames(&g, 3);
    let opts = SimOptions { timing: true, frame_start: vec![0, gap, 2 * gap], ..Default::default() };
    let started = std::time::Instant::now();
    let run = simulate(&g, &input, &opts).unwrap();
    assert!(started.elapsed().as_secs() < 5);
    assert_eq!(run.done[1] - gap, run.done[0]);
    assert_eq!(run.done[2] - 2 * gap, run.done[0]);
}
