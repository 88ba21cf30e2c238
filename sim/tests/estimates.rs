//! FINN's analytical estimates on the BinaryCoP networks with the paper's foldings
//! (binarycop.md §1), against values computed by hand from FINN's formulas (finn.md §6, the
//! file:line references in each node module); the exact cycle counts the simulator gives for
//! the settings the README quotes; and the flows' graph structure.

use binarycop_hw::folding::{paper_config, FoldingConfig};
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::cost::Resources;
use binarycop_sim::flow::Flow;
use binarycop_sim::graph::{Graph, Op};
use binarycop_sim::report::{self, fps};

#[path = "common/cnv_family.rs"]
mod cnv_family;

fn graph(name: &str, flow: Flow) -> Graph {
    let layers = cnv_family::preset(name);
    Graph::build_flow(&layers, &paper_config(name).unwrap(), (32, 32, 3), flow).unwrap()
}

fn by_type(g: &Graph, op: &str, f: impl Fn(&binarycop_sim::Node) -> u64) -> Vec<u64> {
    g.nodes.iter().filter(|n| n.op.op_type() == op).map(f).collect()
}

fn lut(l: u64) -> Resources {
    Resources { lut: l, ..Default::default() }
}

#[test]
fn cycle_and_bram_formulas_equal_hand_computed_finn_values() {
    // (network, MVAU cycles, MVAU BRAM18, SWU cycles): (MH/PE)(MW/SIMD)·vectors; the BRAM
    // table on WMEM = NF·SF and width PE·SIMD·W (W = 2 for the first layer's INT2 weights);
    // buf + OH·max(OW·K²·cf, W·cf).
    type Row = (&'static str, [u64; 9], [u64; 9], [u64; 6]);
    let want: [Row; 3] = [
        (
            "cnv",
            [32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768, 512],
            [3, 29, 15, 15, 24, 36, 8, 16, 1],
            [8167, 14238, 2654, 3708, 376, 144],
        ),
        (
            "ncnv",
            [8100, 7056, 2592, 1800, 1296, 1152, 2048, 2048, 512],
            // MVAU 0: 16·3·2 = 96 bits wide, 9 deep → ⌈96/36⌉ = 3.
            [3, 8, 8, 15, 4, 4, 1, 1, 1],
            [8167, 7119, 1327, 927, 94, 36],
        ),
        (
            "ucnv",
            [32400, 28224, 10368, 7200, 5184, 4608, 512, 0, 0],
            // MVAU 0: 4·3·2 = 24 bits, 36 deep → ⌈24/36⌉ = 1.
            [1, 2, 2, 4, 2, 5, 1, 0, 0],
            [8167, 7119, 1327, 927, 94, 0],
        ),
    ];
    for (name, cycles, bram, swu) in want {
        let g = graph(name, Flow::Finn);
        let n_mvau = if name == "ucnv" { 7 } else { 9 };
        let n_swu = if name == "ucnv" { 5 } else { 6 };
        assert_eq!(by_type(&g, "MVAU_hls", |n| n.exp_cycles()), cycles[..n_mvau], "{name} MVAU cycles");
        assert_eq!(by_type(&g, "MVAU_hls", |n| n.bram18()), bram[..n_mvau], "{name} MVAU BRAM18");
        assert_eq!(by_type(&g, "ConvolutionInputGenerator_rtl", |n| n.exp_cycles()), swu[..n_swu], "{name} SWU");
        assert_eq!(by_type(&g, "StreamingMaxPool_hls", |n| n.exp_cycles()), [980, 125], "{name} pools");
        assert_eq!(by_type(&g, "Thresholding_rtl", |n| n.exp_cycles()), [3072], "{name} thresholding");
        assert_eq!(by_type(&g, "LabelSelect_hls", |n| n.exp_cycles()), [4], "{name} label select");
    }
}

#[test]
fn cnv_per_node_estimates_equal_finns_formulas() {
    let g = graph("cnv", Flow::Finn);
    // MVAUs, FINN-R (`hls/matrixvectoractivation_hls.py:58-119`): 300 + 1.1·PE·(mult + adder +
    // acc), thresholds in auto style (no LUTs), weights in auto style (no LUTRAM term). The
    // test network's weights are all −1, so FINN's accumulator types are: MVAU 0 (INT8 input)
    // [−127·27, 128·27] → INT13; binary layers [−MW, 0] → INT⌈log₂MW⌉+1.
    // MVAU 0: W = 2 (INT2), A = 8, SIMD 3: mult 3·(2·⌈10/6⌉−1)·10 = 90, adder 10·5 = 50,
    //   acc min(13, ⌈log₂27 + 9 + …⌉ = 14) = 13 → 300 + 1.1·16·153 = 2992.8 → 2992.
    // MVAU 1: SIMD 32: mult 64, adder 126, acc min(11, 12) = 11 → 300 + 1.1·32·201 = 7375.
    // MVAU 2: PE 16, same → 300 + 1.1·16·201 = 3837.  MVAU 3: MW 1152 → INT12, acc 12 →
    //   300 + 1.1·16·202 = 3855.  MVAU 4: PE 4 → 300 + 1.1·4·202 = 1188.
    // MVAU 5: MW 2304 → INT13 → 300 + 1.1·(64 + 126 + 13) = 523.
    // MVAU 6: SIMD 4, MW 256 → INT9: 300 + 1.1·(8 + 14 + 9) = 334.
    // MVAU 7: SIMD 8, MW 512 → INT10: 300 + 1.1·(16 + 30 + 10) = 361.
    // MVAU 8: PE 4, SIMD 1, INT10: 300 + 1.1·4·(2 + 2 + 10) = 361.
    let mvau: Vec<u64> = by_type(&g, "MVAU_hls", |n| n.lut());
    assert_eq!(mvau, [2992, 7375, 3837, 3855, 1188, 523, 334, 361, 361]);
    let acc: Vec<u32> = g.mvaus().map(|(_, m)| m.finn_acc.bits).collect();
    assert_eq!(acc, [13, 11, 11, 12, 12, 13, 9, 10, 10]);
    assert!(g.mvaus().all(|(n, _)| n.finn_estimate().dsp == 0 && n.finn_estimate().uram == 0), "resType lut");
    // RTL window generators with ram_style distributed (`rtl/convolutioninputgenerator_rtl.py:
    // 249-258`): 300 + SIMD·bits·⌈((K−1)·W + K)·cf / 38⌉: SWG 0: 24·⌈67/38⌉ = 48; SWG 1:
    // 32·⌈126/38⌉ = 128; SWG 2: 32·⌈62/38⌉; SWG 3: 32·⌈108/38⌉; SWG 4: 32·⌈52/38⌉; SWG 5:
    // 32·⌈72/38⌉. About 2,260 LUT in all, no BRAM.
    let swg = by_type(&g, "ConvolutionInputGenerator_rtl", |n| n.lut());
    assert_eq!(swg, [348, 428, 364, 396, 364, 364]);
    assert_eq!(swg.iter().sum::<u64>(), 2264);
    assert!(by_type(&g, "ConvolutionInputGenerator_rtl", |n| n.bram18()).iter().all(|&b| b == 0));
    // Thresholding_rtl (`rtl/thresholding_rtl.py:81-146`): UINT8 thresholds, 8 output bits, C/PE
    // = 3: memories of 3·2^x thresholds for x in 0..8, each on LUTRAM (8 bits × ⌈3·2^x/64⌉):
    // 8·(1+1+1+1+1+2+3+6) = 128 LUTs.
    assert_eq!(by_type(&g, "Thresholding_rtl", |n| n.lut()), [128]);
    // The eleven width converters, all divisible, so all `_rtl` (`specialize_layers.py:183`);
    // LUTs (`streamingdatawidthconverter.py:189-216`) through lcm(in, out): 8→24: 1 + 24;
    // 16→32: 1 + 32; 32→64: 1 + 64; 64→32: 1 + 32; 16→32; 16→128: 3 + 128; 128→32: 2 + 32;
    // 4→32: 3 + 32; 1→4: 2 + 4; 1→8: 3 + 8; 64→16: 2 + 16.
    let dwc = by_type(&g, "StreamingDataWidthConverter_rtl", |n| n.lut());
    assert_eq!(dwc, [25, 33, 65, 33, 33, 131, 34, 35, 6, 11, 18]);
    assert!(by_type(&g, "StreamingDataWidthConverter_hls", |n| n.lut()).is_empty());
    // No formula in FINN: StreamingMaxPool, LabelSelect, IODMA.
    for op in ["StreamingMaxPool_hls", "LabelSelect_hls", "IODMA_hls"] {
        assert!(g.nodes.iter().filter(|n| n.op.op_type() == op).all(|n| n.finn_estimate() == Resources::default()));
    }
    // A FIFO (`streamingfifo.py:147-209`): rtl, depth 32, 64 bits: 2·5 + 1·32.
    let mut g = g;
    g.fifos[0].depth = 32;
    g.fifos[0].bits = 64;
    assert_eq!(g.fifo_estimate(0), lut(42));
}

#[test]
fn the_paper_cnv_runs_at_the_formulas_pace_in_both_flows() {
    for flow in [Flow::Finn, Flow::BnnPynq] {
        let mut g = graph("cnv", flow);
        assert_eq!(g.max_exp_cycles(), 32768, "{flow:?}");
        if flow == Flow::Finn {
            let d = report::auto_fifo_depths(&g).unwrap();
            g.set_fifo_depths(&d);
        }
        let run =
            simulate(&g, &report::zero_frames(&g, 6), &SimOptions { timing: true, ..Default::default() }).unwrap();
        let sim_fps = fps(100.0, run.cycles_per_frame());
        assert!((sim_fps - 3049.0).abs() / 3049.0 < 0.01, "{flow:?}: simulated {sim_fps} FPS (paper 3049)");
        let sum: u64 = g.nodes.iter().map(|n| n.exp_cycles()).sum();
        assert!(run.latency() > 32768 && run.latency() < sum, "{flow:?}: latency {}", run.latency());
    }
}

/// Steady-state cycles per frame and single-frame latency of a preset in a flow, FIFOs as the
/// flow sizes them or all at one depth, 8 frames.
fn timing(name: &str, flow: Flow, depth: Option<usize>) -> (f64, u64) {
    let mut g = graph(name, flow);
    let depths = match depth {
        Some(d) => vec![d; g.fifos.len()],
        None if flow == Flow::Finn => report::auto_fifo_depths(&g).unwrap(),
        None => g.fifos.iter().map(|f| f.depth).collect(),
    };
    g.set_fifo_depths(&depths);
    let run = simulate(&g, &report::zero_frames(&g, 8), &SimOptions { timing: true, ..Default::default() }).unwrap();
    (run.cycles_per_frame(), run.latency())
}

#[test]
fn the_cycle_counts_the_readme_quotes() {
    // (preset, flow, one depth for all FIFOs) → (cycles per frame over 8 frames, single-frame
    // latency in cycles), as the README's table gives them (FPS = 10⁸ / cycles per frame,
    // latency in µs = cycles / 100).
    let cases = [
        ("cnv", Flow::BnnPynq, None, "32768.000", 156043),
        ("ncnv", Flow::BnnPynq, None, "8196.000", 23399),
        ("ucnv", Flow::BnnPynq, None, "32469.000", 52457),
        ("cnv", Flow::BnnPynq, Some(2), "55928.000", 172781),
        ("ncnv", Flow::BnnPynq, Some(2), "14774.000", 29946),
        ("ucnv", Flow::BnnPynq, Some(2), "58127.000", 77776),
        ("cnv", Flow::Finn, None, "32768.000", 135538),
        ("ncnv", Flow::Finn, None, "8224.000", 14667),
        ("ucnv", Flow::Finn, None, "32400.000", 40287),
    ];
    let got: Vec<(String, u64)> = cases
        .iter()
        .map(|&(n, f, d, _, _)| {
            let (c, l) = timing(n, f, d);
            (format!("{c:.3}"), l)
        })
        .collect();
    let want: Vec<(String, u64)> = cases.iter().map(|&(_, _, _, c, l)| (c.to_string(), l)).collect();
    assert_eq!(got, want);
}

#[test]
fn bnn_pynq_builds_its_top_level() {
    let g = graph("cnv", Flow::BnnPynq);
    // 64-bit words from memory, then 64→192→24 (top.cpp: inter0, inter0_1, inter0_2 at 128).
    let dwcs: Vec<(usize, usize)> = g
        .nodes
        .iter()
        .filter_map(|n| if let Op::Dwc(d) = &n.op { Some((d.in_bits, d.out_bits)) } else { None })
        .collect();
    assert_eq!(dwcs[..2], [(64, 192), (192, 24)]);
    assert!(g.nodes.iter().all(|n| !n.name.contains("_rtl_") || n.name.starts_with("Thresholding")));
    // Boundary streams at top.cpp's depths, in order, and the padded last layer.
    let boundary: Vec<usize> = g.fifos.iter().filter(|f| f.boundary.is_some()).map(|f| f.depth).collect();
    assert_eq!(boundary, [128, 128, 2, 128, 128, 2, 81, 1, 1, 128, 3, 2]);
    let last = g.mvaus().last().unwrap().1;
    assert_eq!((last.mh, last.mh_pad, last.exp_cycles()), (4, 64, 8192));
    // FINN's graph: one converter per width change, RTL where the widths divide.
    let f = graph("cnv", Flow::Finn);
    assert_eq!(f.nodes.iter().filter(|n| matches!(n.op, Op::Dwc(_))).count(), 11);
    assert!(f.fifos.iter().all(|f| f.boundary.is_none()));
}

#[test]
fn standalone_node_cycles_follow_the_formulas() {
    let g = graph("ncnv", Flow::Finn);
    for (i, n) in g.nodes.iter().enumerate() {
        let sim = report::standalone_cycles(&g, i).unwrap();
        match &n.op {
            // One iteration per cycle, exactly FINN's count.
            Op::Mvau(_) | Op::Thresholding(_) | Op::MaxPool(_) => assert_eq!(sim, n.exp_cycles(), "{}", n.name),
            // FINN gives a converter no cycles; it needs max(in, out) words.
            Op::Dwc(d) => assert_eq!((n.exp_cycles(), sim), (0, d.cycles()), "{}", n.name),
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
        for flow in [Flow::Finn, Flow::BnnPynq] {
            let g = graph(name, flow);
            let text = g.to_folding_config().to_json();
            let cfg = FoldingConfig::from_json(&text).unwrap();
            let layers = cnv_family::preset(name);
            let again = Graph::build_flow(&layers, &cfg, (32, 32, 3), flow).unwrap();
            assert_eq!(again.to_folding_config(), cfg, "{name}");
            let names = |g: &Graph| g.nodes.iter().map(|n| (n.name.clone(), n.pe_simd())).collect::<Vec<_>>();
            assert_eq!(names(&again), names(&g));
            assert!(again.config_depths, "the written config carries the FIFO depths");
        }
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
        (r#"{"MVAU_hls_0": {"dsp_xnor": 1}}"#, "MVAU_hls_0", "not binary"),
        (r#"{"MVAU_hls_1": {"dsp_xnor": 2}}"#, "MVAU_hls_1", "0 or 1"),
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
fn idle_spans_cost_nothing() {
    // Frames a trillion cycles apart: each sees an empty pipeline, so each takes the
    // single-frame latency, and the run is as quick as back-to-back frames.
    let g = graph("ucnv", Flow::Finn);
    let gap = 1_000_000_000_000u64;
    let input = report::zero_frames(&g, 3);
    let opts = SimOptions { timing: true, frame_start: vec![0, gap, 2 * gap], ..Default::default() };
    let started = std::time::Instant::now();
    let run = simulate(&g, &input, &opts).unwrap();
    assert!(started.elapsed().as_secs() < 5);
    assert_eq!(run.done[1] - gap, run.done[0]);
    assert_eq!(run.done[2] - 2 * gap, run.done[0]);
}
