//! The post-implementation estimate: what Vivado reports after place and route, in its units —
//! LUTs, flip-flops, Block RAM tiles (one per RAMB36, half per RAMB18) and DSP48 slices — for
//! the graph as its flow builds it. FINN's own estimate ([`crate::cost`]) models the MVAUs in
//! RAMB18s and leaves out the shell; this one models every memory as Vivado maps it and the
//! logic around it, with a few coefficients fitted on published figures
//! ([`crate::calibration`]).
//!
//! **Memories.** BNN-PYNQ (finn-hlslib, `top.cpp`): per PE one weight memory of WMEM × SIMD·W
//! bits (`ARRAY_PARTITION complete dim=1`), per PE and threshold step one threshold memory of
//! TMEM × 16 bits (24 in the first layer, `ap_fixed<24,16>`), K+1 line buffers of W·cf words
//! per window generator, and every stream deeper than 2 as a FIFO. FINN: per MVAU one memstream
//! of WMEM × PE·SIMD·W bits (`ram_style` forcing LUTRAM or BRAM), the HLS thresholds as above,
//! the RTL window generator's buffer, the Thresholding_rtl memories, and vivado FIFOs.
//! Each memory goes to LUTRAM if it holds at most [`MemoryRule::lutram_max_bits`] bits (one
//! LUT per 64 words per bit), else to the fewest Block RAM tiles of the 7-series shapes
//! (RAMB18 16K×1 … 512×36, RAMB36 32K×1 … 512×72, a deep memory split into RAMB36s plus a
//! remainder), with the depth rounded up to a power of two first if
//! [`MemoryRule::pow2_depth`] (HLS arrays). Depth-≤32 FIFOs are shift registers (one LUT per bit
//! per 32 words).
//!
//! **Logic.** LUT = shell + a · datapath + b · blocks + LUTRAM + SRL. The datapath of an MVAU is
//! PE · (SIMD·W·A product bits + accumulator bits · (1 + threshold steps)): the XNORs (or ±1
//! products) with the popcount tree that sums them, the accumulator and the comparators;
//! BinaryCoP's DSP-packed XNORs leave only the popcount ([`crate::dsp_xnor`]: half the product
//! term). Blocks counts the nodes (each HLS process or RTL block brings its control). FINN-R's
//! formula (`hls/matrixvectoractivation_hls.py:58-119`) charges 6 LUTs per XNOR bit, three times
//! what these designs use, so it is not the proxy. FF = shell + a · register bits (operands,
//! accumulators and outputs of the MVAUs, each stream's width) + b · blocks.
//!
//! **DSPs.** BNN-PYNQ's HLS loops multiply the run-time image count by a constant trip count
//! per image; Vivado HLS builds each product whose constant is not a power of two on DSP48s, so
//! DSP = shell + k · (such loops) + the DSP-packed XNORs. FINN's nodes have constant trip counts.
//!
//! The coefficients (shell, k) of each resource are a least-squares fit on the calibration
//! designs of the BNN-PYNQ flow; the memory rule is the one of a small set of candidates with
//! the smallest worst error on their tiles (designs whose BRAM is saturated left out). The FINN
//! flow reuses the same coefficients.

use std::sync::OnceLock;

use crate::calibration::{self, Design, Measured};
use crate::dsp_xnor;
use crate::flow::Flow;
use crate::graph::{Graph, Node, Op};
use crate::Error;

/// How Vivado places a memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRule {
    /// Memories of at most this many bits become LUTRAM.
    pub lutram_max_bits: u64,
    /// Round an HLS array's depth up to a power of two before mapping it onto Block RAM.
    pub pow2_depth: bool,
}

/// Where a memory is placed, by its node's `ram_style`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Auto,
    Lutram,
    Block,
}

#[derive(Clone, Copy, Debug)]
struct Memory {
    depth: u64,
    width: u64,
    style: Style,
    /// An HLS array (depth rounding applies) rather than RTL.
    hls: bool,
}

/// The estimate, in Vivado's units.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    pub lut: u64,
    pub ff: u64,
    pub ramb36: u64,
    pub ramb18: u64,
    pub dsp: u64,
}

impl Estimate {
    /// Block RAM tiles: one per RAMB36, half per RAMB18.
    pub fn bram_tiles(&self) -> f64 {
        self.ramb36 as f64 + self.ramb18 as f64 / 2.0
    }
}

/// A linear resource: shell + coef · features.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Line {
    pub shell: f64,
    pub coef: [f64; 2],
}

impl Line {
    fn at(&self, x: [f64; 2], shell: bool) -> f64 {
        let s = if shell { self.shell } else { 0.0 };
        (s + self.coef[0] * x[0] + self.coef[1] * x[1]).max(0.0)
    }
}

/// Which BNN-PYNQ structure the DSP count follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DspFeature {
    /// HLS loops multiplying the image count by a constant that is not a power of two.
    Loops,
    /// Width converters.
    Dwcs,
    /// Convolutions.
    Convs,
}

impl DspFeature {
    const ALL: [DspFeature; 3] = [DspFeature::Loops, DspFeature::Dwcs, DspFeature::Convs];
    fn of(self, f: &Features) -> f64 {
        match self {
            DspFeature::Loops => f.dsp_loops,
            DspFeature::Dwcs => f.dwcs,
            DspFeature::Convs => f.convs,
        }
    }
}

/// The fitted model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model {
    pub memory: MemoryRule,
    /// LUT on (datapath, blocks), beyond LUTRAM and shift registers.
    pub lut: Line,
    /// FF on (register bits, blocks).
    pub ff: Line,
    /// DSP on (the chosen structure, unused).
    pub dsp: Line,
    pub dsp_feature: DspFeature,
}

/// What the model reads off a graph.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Features {
    /// MVAU datapath bits (products, accumulators, comparators).
    pub datapath: f64,
    /// Nodes: HLS processes and RTL blocks.
    pub blocks: f64,
    /// LUTs of LUTRAM memories and shift-register FIFOs.
    pub lutram: f64,
    pub ramb36: u64,
    pub ramb18: u64,
    /// Register bits.
    pub regs: f64,
    /// HLS loops whose per-image trip count is not a power of two (BNN-PYNQ).
    pub dsp_loops: f64,
    /// Width converters (BNN-PYNQ: HLS processes).
    pub dwcs: f64,
    /// Window generators.
    pub convs: f64,
    /// DSP slices of BinaryCoP's packed XNORs.
    pub packed_dsp: u64,
}

// --- Block RAM shapes --------------------------------------------------------------------------

const RAMB18: [(u64, u64); 6] = [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)];
const RAMB36: [(u64, u64); 7] = [(32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72)];

/// (RAMB36, RAMB18) of the cheapest single-shape mapping of a depth × width memory.
fn one_shape(depth: u64, width: u64) -> (u64, u64) {
    let mut best = (u64::MAX, 0u64, 0u64);
    for (d, w) in RAMB18 {
        let n = depth.div_ceil(d) * width.div_ceil(w);
        if n < best.0 {
            best = (n, 0, n);
        }
    }
    // On a tie the RAMB36 shape wins (fewer primitives).
    for (d, w) in RAMB36 {
        let n = depth.div_ceil(d) * width.div_ceil(w);
        if 2 * n <= best.0 {
            best = (2 * n, n, 0);
        }
    }
    (best.1, best.2)
}

/// (RAMB36, RAMB18) Vivado uses for a depth × width memory: the cheaper of one shape, and
/// whole RAMB36 columns of one shape plus the remaining depth on its own cheapest shape.
pub fn block_ram(depth: u64, width: u64) -> (u64, u64) {
    // Fewer tiles first, then fewer primitives.
    let cost = |(a, b): (u64, u64)| (2 * a + b, a + b);
    let mut best = one_shape(depth, width);
    for (d, w) in RAMB36 {
        let full = depth / d;
        if full > 0 && !depth.is_multiple_of(d) {
            let (a, b) = one_shape(depth % d, width);
            let cand = (full * width.div_ceil(w) + a, b);
            if cost(cand) < cost(best) {
                best = cand;
            }
        }
    }
    best
}

// --- memories of a graph -----------------------------------------------------------------------

fn style_of(ram_style: &str) -> Style {
    match ram_style {
        "distributed" => Style::Lutram,
        "block" | "ultra" => Style::Block,
        _ => Style::Auto,
    }
}

fn mvau_memories(m: &crate::mvau::Mvau, flow: Flow, out: &mut Vec<Memory>) {
    let (pe, simd) = (m.cfg.pe as u64, m.cfg.simd as u64);
    let wbits = m.wdt.bits as u64;
    let depth = (m.nf_pad() * m.sf()) as u64;
    match flow {
        Flow::BnnPynq => {
            for _ in 0..pe {
                out.push(Memory { depth, width: simd * wbits, style: Style::Auto, hls: true });
            }
        }
        Flow::Finn => {
            out.push(Memory { depth, width: pe * simd * wbits, style: style_of(&m.cfg.ram_style), hls: false });
        }
    }
    if m.steps > 0 {
        let tbits = if m.input == crate::DType::BINARY {
            match flow {
                Flow::BnnPynq => 16,
                Flow::Finn => m.finn_acc.bits as u64,
            }
        } else {
            match flow {
                Flow::BnnPynq => 24,
                Flow::Finn => m.finn_acc.bits as u64,
            }
        };
        let style = match flow {
            Flow::Finn => style_of(&m.cfg.ram_style_thresholds),
            Flow::BnnPynq => Style::Auto,
        };
        for _ in 0..pe * m.steps as u64 {
            out.push(Memory { depth: m.tmem_depth() as u64, width: tbits, style, hls: true });
        }
    }
}

fn node_memories(n: &Node, flow: Flow, out: &mut Vec<Memory>) {
    match &n.op {
        Op::Mvau(m) => mvau_memories(m, flow, out),
        Op::Swu(s) => {
            let width = s.word_bits() as u64;
            // FINN's ram_style is not an attribute of BNN-PYNQ's HLS line buffers (RAM_2P).
            let style = if flow == Flow::BnnPynq { Style::Auto } else { style_of(&s.ram_style) };
            if s.hls_loop {
                for _ in 0..=s.k {
                    out.push(Memory { depth: (s.w * s.cf()) as u64, width, style, hls: true });
                }
            } else {
                out.push(Memory { depth: (s.buffer_pixels() * s.cf()) as u64, width, style, hls: false });
            }
        }
        _ => {}
    }
}

/// Places the memories: (LUTRAM LUTs, RAMB36, RAMB18).
fn place(mems: &[Memory], rule: MemoryRule) -> (f64, u64, u64) {
    let (mut luts, mut r36, mut r18) = (0.0, 0, 0);
    for m in mems {
        if m.depth == 0 || m.width == 0 {
            continue;
        }
        let lutram = match m.style {
            Style::Lutram => true,
            Style::Block => false,
            Style::Auto => m.depth * m.width <= rule.lutram_max_bits,
        };
        if lutram {
            luts += (m.depth.div_ceil(64) * m.width) as f64;
        } else {
            let depth = if m.hls && rule.pow2_depth { m.depth.next_power_of_two() } else { m.depth };
            let (a, b) = block_ram(depth, m.width);
            r36 += a;
            r18 += b;
        }
    }
    (luts, r36, r18)
}

// --- logic, registers and DSP loops ------------------------------------------------------------

/// An MVAU's datapath bits: PE·(SIMD·W·A products, halved when the XNORs are on DSPs, plus
/// the accumulator once and per threshold step).
fn mvau_datapath(m: &crate::mvau::Mvau) -> f64 {
    let (p, q) = (m.cfg.pe as f64, m.cfg.simd as f64);
    let products = q * (m.wdt.bits * m.input.bits) as f64;
    let products = if m.cfg.dsp_xnor { products / 2.0 } else { products };
    let acc = m.finn_acc.bits as f64;
    p * (products + acc * (1.0 + m.steps as f64))
}

/// Register bits of a node: operands, accumulators and outputs of an MVAU, a word elsewhere.
fn node_regs(n: &Node) -> f64 {
    match &n.op {
        Op::Mvau(m) => {
            let (p, q) = (m.cfg.pe as f64, m.cfg.simd as f64);
            p * (q * (m.wdt.bits + m.input.bits) as f64 + 2.0 * m.finn_acc.bits as f64) + m.out_bits() as f64
        }
        Op::IoDmaIn | Op::IoDmaOut => 0.0,
        _ => (n.in_bits + n.out_bits) as f64,
    }
}

/// Whether the node's HLS loop multiplies the image count by a constant that is not a power of
/// two (BNN-PYNQ's converters and MVAUs).
fn dsp_loop(n: &Node) -> bool {
    let trip = match &n.op {
        Op::Dwc(d) => d.cycles(),
        Op::Mvau(m) => m.exp_cycles(),
        _ => return false,
    };
    trip > 1 && !trip.is_power_of_two()
}

/// The features of a graph under a memory rule.
pub fn features(g: &Graph, rule: MemoryRule) -> Features {
    let mut mems = Vec::new();
    for n in &g.nodes {
        node_memories(n, g.flow, &mut mems);
    }
    let mut f = Features::default();
    for fifo in &g.fifos {
        let (d, w) = (fifo.depth as u64, fifo.bits as u64);
        let vivado = fifo.style.impl_style == "vivado";
        // FINN's rtl FIFO (Q_srl) is a shift register at any depth; an HLS FIFO deeper than 32
        // is a memory.
        let srl = !vivado && (g.flow == Flow::Finn || d <= 32);
        if srl {
            f.lutram += (d.div_ceil(32) * w) as f64;
        } else {
            let style = if vivado { style_of(&fifo.style.ram_style) } else { Style::Auto };
            mems.push(Memory { depth: d, width: w, style, hls: g.flow == Flow::BnnPynq });
        }
        f.regs += w as f64;
    }
    let (luts, r36, r18) = place(&mems, rule);
    f.lutram += luts;
    f.ramb36 = r36;
    f.ramb18 = r18;
    for n in &g.nodes {
        if let Op::Mvau(m) = &n.op {
            f.datapath += mvau_datapath(m);
        }
        f.blocks += match &n.op {
            Op::Mvau(_) | Op::Swu(_) => 300.0,
            Op::Dwc(d) => d.finn_estimate().lut as f64,
            Op::MaxPool(p) => p.word_bits() as f64,
            Op::Thresholding(t) => (t.pe * t.input.bits as usize) as f64,
            _ => 0.0,
        };
        f.regs += node_regs(n);
        if let Op::Thresholding(t) = &n.op {
            if g.flow == Flow::Finn {
                f.lutram += t.finn_estimate().lut as f64;
            }
        }
        if g.flow == Flow::BnnPynq {
            f.dsp_loops += f64::from(u8::from(dsp_loop(n)));
            f.dwcs += f64::from(u8::from(matches!(n.op, Op::Dwc(_))));
            f.convs += f64::from(u8::from(matches!(n.op, Op::Swu(_))));
        }
        if let Op::Mvau(m) = &n.op {
            f.packed_dsp += dsp_xnor::dsps(m);
        }
    }
    f
}

impl Model {
    /// The estimate for a graph; `shell`: whether the Zynq shell around the accelerator counts.
    pub fn estimate(&self, g: &Graph, shell: bool) -> Estimate {
        let f = features(g, self.memory);
        Estimate {
            lut: (self.lut.at([f.datapath, f.blocks], shell) + f.lutram).round() as u64,
            ff: self.ff.at([f.regs, f.blocks], shell).round() as u64,
            ramb36: f.ramb36,
            ramb18: f.ramb18,
            dsp: self.dsp.at([self.dsp_feature.of(&f), 0.0], shell).round() as u64 + f.packed_dsp,
        }
    }
}

// --- the fit -----------------------------------------------------------------------------------

/// Least squares y ≈ shell + c0·x0 + c1·x1, or through the origin without `intercept` (the
/// normal equations, solved by elimination; a feature that is zero everywhere keeps a zero
/// coefficient).
fn fit_line(points: &[([f64; 2], f64)], intercept: bool) -> Line {
    let used: Vec<usize> = (0..2).filter(|&k| points.iter().any(|(x, _)| x[k] != 0.0)).collect();
    let one = usize::from(intercept);
    let n = used.len() + one;
    let row = |x: &[f64; 2]| -> Vec<f64> { std::iter::repeat_n(1.0, one).chain(used.iter().map(|&k| x[k])).collect() };
    let mut a = vec![vec![0.0; n + 1]; n];
    for (x, y) in points {
        let r = row(x);
        for i in 0..n {
            for j in 0..n {
                a[i][j] += r[i] * r[j];
            }
            a[i][n] += r[i] * y;
        }
    }
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())).expect("rows");
        a.swap(c, p);
        if a[c][c].abs() < 1e-12 {
            return Line::default();
        }
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (v, p) in row.iter_mut().zip(&pivot).skip(c) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut coef = [0.0; 2];
    for (i, &k) in used.iter().enumerate() {
        coef[k] = a[i + one][n] / a[i + one][i + one];
    }
    let shell = if intercept { a[0][n] / a[0][0] } else { 0.0 };
    Line { shell, coef }
}

/// Mean relative error of each design's prediction by a line fitted on the others.
fn leave_one_out(points: &[([f64; 2], f64)], intercept: bool) -> f64 {
    let mut err = 0.0;
    for i in 0..points.len() {
        let rest: Vec<_> = points.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, p)| *p).collect();
        let l = fit_line(&rest, intercept);
        let (x, y) = points[i];
        err += (l.at(x, true) - y).abs() / y.abs().max(1.0);
    }
    err / points.len().max(1) as f64
}

/// The line fitted on all points, with or without a shell constant as leaving one design out
/// predicts better (the choice sees only the calibration designs).
fn fit_chosen(points: &[([f64; 2], f64)]) -> Line {
    let intercept = leave_one_out(points, true) <= leave_one_out(points, false);
    fit_line(points, intercept)
}

/// The candidate memory rules: LUTRAM thresholds at the sizes of the calibration designs'
/// memories, each with and without power-of-two depths.
fn candidates(designs: &[&Design]) -> Vec<MemoryRule> {
    let mut sizes = vec![0u64];
    for d in designs {
        let mut mems = Vec::new();
        for n in &d.graph.nodes {
            node_memories(n, d.graph.flow, &mut mems);
        }
        sizes.extend(mems.iter().map(|m| m.depth * m.width));
        sizes.extend(d.graph.fifos.iter().map(|f| (f.depth * f.bits) as u64));
    }
    sizes.sort_unstable();
    sizes.dedup();
    sizes.iter().flat_map(|&b| [false, true].map(|p| MemoryRule { lutram_max_bits: b, pow2_depth: p })).collect()
}

fn worst_bram_error(designs: &[&Design], rule: MemoryRule) -> f64 {
    designs
        .iter()
        .map(|d| {
            let f = features(&d.graph, rule);
            let tiles = f.ramb36 as f64 + f.ramb18 as f64 / 2.0;
            (tiles - d.measured.bram_tiles()).abs() / d.measured.bram_tiles()
        })
        .fold(0.0, f64::max)
}

/// Fits the model on the BNN-PYNQ designs of the calibration set.
pub fn fit(designs: &[Design]) -> Model {
    let bnn: Vec<&Design> = designs.iter().filter(|d| d.graph.flow == Flow::BnnPynq && d.shell).collect();
    let bram_set: Vec<&Design> = bnn.iter().copied().filter(|d| d.bram_saturated.is_none()).collect();
    // The smallest worst error; among equals, the smallest LUTRAM threshold (fixed order).
    let mut memory = MemoryRule { lutram_max_bits: 0, pow2_depth: false };
    let mut best = f64::INFINITY;
    for rule in candidates(&bram_set) {
        let e = worst_bram_error(&bram_set, rule);
        if e < best - 1e-12 {
            best = e;
            memory = rule;
        }
    }
    let feats: Vec<(Features, Measured)> = bnn.iter().map(|d| (features(&d.graph, memory), d.measured)).collect();
    let lut =
        fit_chosen(&feats.iter().map(|(f, m)| ([f.datapath, f.blocks], m.lut as f64 - f.lutram)).collect::<Vec<_>>());
    let ff = fit_chosen(&feats.iter().map(|(f, m)| ([f.regs, f.blocks], m.ff as f64)).collect::<Vec<_>>());
    let dsp_points = |k: DspFeature| -> Vec<([f64; 2], f64)> {
        feats.iter().map(|(f, m)| ([k.of(f), 0.0], (m.dsp - f.packed_dsp.min(m.dsp)) as f64)).collect()
    };
    let dsp_feature = DspFeature::ALL
        .into_iter()
        .min_by(|&a, &b| leave_one_out(&dsp_points(a), true).total_cmp(&leave_one_out(&dsp_points(b), true)))
        .expect("candidates");
    let dsp = fit_line(&dsp_points(dsp_feature), true);
    Model { memory, lut, ff, dsp, dsp_feature }
}

/// The model fitted on the shipped calibration set (computed once).
pub fn model() -> Result<&'static Model, Error> {
    static MODEL: OnceLock<Result<Model, Error>> = OnceLock::new();
    MODEL.get_or_init(|| calibration::designs().map(|d| fit(&d))).as_ref().map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ram_shapes() {
        // 2304 × 32: two RAMB36 of 1K×36 and a RAMB18 of 512×36 for the last 256 words.
        assert_eq!(block_ram(2304, 32), (2, 1));
        assert_eq!(block_ram(18432, 32), (18, 0));
        assert_eq!(block_ram(512, 32), (0, 1));
        assert_eq!(block_ram(60, 1280), (18, 0), "512×72 RAMB36s for a wide memstream");
        assert_eq!(block_ram(8192, 1), (0, 1));
        assert_eq!(block_ram(32768, 8), (8, 0));
    }

    #[test]
    fn a_plane_through_points() {
        let l = fit_line(&[([0.0, 0.0], 1.0), ([1.0, 0.0], 3.0), ([0.0, 1.0], 0.0), ([2.0, 2.0], 3.0)], true);
        assert!((l.shell - 1.0).abs() < 1e-9 && (l.coef[0] - 2.0).abs() < 1e-9 && (l.coef[1] + 1.0).abs() < 1e-9);
        let l = fit_line(&[([0.0, 0.0], 1.0), ([1.0, 0.0], 3.0)], true);
        assert_eq!(l.coef[1], 0.0, "an unused feature keeps a zero coefficient");
    }
}
