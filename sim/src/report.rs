//! FINN-style numbers from the graph (analytical) and from a run (simulated): per node cycles,
//! busy / stalled / starved cycles, FIFO occupancy, resources; for the pipeline, steady-state
//! cycles per frame, FPS at a clock, single-frame latency, and FIFO depths sized as FINN's
//! default sizing flow does.

use crate::clock::{simulate, Run, SimOptions};
use crate::cost::Resources;
use crate::fifo::round_depth;
use crate::flow::Flow;
use crate::graph::{FifoNode, Graph, Op};
use crate::implementation::{self, Estimate};
use crate::stream::words_for;
use crate::Error;

#[derive(Clone, Debug, PartialEq)]
pub struct NodeReport {
    pub name: String,
    pub op_type: String,
    pub pe: Option<usize>,
    pub simd: Option<usize>,
    /// FINN's `get_exp_cycles`.
    pub exp_cycles: u64,
    /// Cycles per frame of the node alone (unlimited input, free output), simulated.
    pub sim_cycles: u64,
    /// FINN's estimate for the node.
    pub finn: Resources,
    /// Per frame in the pipeline run.
    pub busy: f64,
    pub stalled: f64,
    pub starved: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FifoReport {
    pub name: String,
    pub bits: usize,
    pub depth: usize,
    pub max_occupancy: u64,
    pub finn: Resources,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub flow: Flow,
    pub clock_mhz: f64,
    pub frames: usize,
    /// FINN's analytical numbers: the slowest node's cycles and the FPS they give.
    pub exp_cycles_per_frame: u64,
    pub exp_fps: f64,
    /// The cycle-level simulation.
    pub cycles_per_frame: f64,
    pub fps: f64,
    pub latency_cycles: u64,
    pub latency_us: f64,
    /// FINN's estimate summed over nodes, converters and FIFOs.
    pub finn: Resources,
    /// The post-implementation estimate in Vivado's units, shell included.
    pub implementation: Estimate,
    pub nodes: Vec<NodeReport>,
    pub fifos: Vec<FifoReport>,
}

/// FPS at a clock for a number of cycles per frame.
pub fn fps(clock_mhz: f64, cycles: f64) -> f64 {
    if cycles <= 0.0 {
        0.0
    } else {
        clock_mhz * 1e6 / cycles
    }
}

/// Zero frames for the first node of `g` (timing does not depend on the data).
pub fn zero_frames(g: &Graph, frames: usize) -> Vec<u64> {
    vec![0; g.nodes[0].out_words * words_for(g.nodes[0].out_bits) * frames]
}

/// The node alone between an unthrottled source and a free sink.
fn alone(g: &Graph, i: usize) -> Graph {
    let n = g.nodes[i].clone();
    let mut src = g.nodes[0].clone();
    src.out_bits = n.in_bits;
    src.out_words = n.in_words;
    let mut dst = g.nodes[g.nodes.len() - 1].clone();
    dst.in_bits = n.out_bits;
    dst.in_words = n.out_words;
    let fifo = |bits: usize, w: usize| FifoNode {
        name: String::new(),
        bits,
        depth: 2,
        style: Default::default(),
        words_per_frame: w,
        boundary: None,
    };
    let fifos = vec![fifo(n.in_bits, n.in_words), fifo(n.out_bits, n.out_words)];
    Graph { nodes: vec![src, n, dst], fifos, input: g.input, flow: g.flow, config_depths: false }
}

/// Cycles per frame of node `i` on its own, from a 3-frame run.
pub fn standalone_cycles(g: &Graph, i: usize) -> Result<u64, Error> {
    let n = &g.nodes[i];
    if matches!(n.op, Op::IoDmaIn | Op::IoDmaOut) {
        return Ok(n.in_words.max(n.out_words) as u64);
    }
    let a = alone(g, i);
    let run = simulate(&a, &zero_frames(&a, 3), &SimOptions { timing: true, unbounded: true, ..Default::default() })?;
    Ok(run.done[2] - run.done[1])
}

/// The report of a timed run of `g`.
pub fn report(g: &Graph, run: &Run, clock_mhz: f64) -> Result<Report, Error> {
    let frames = run.frames.max(1) as f64;
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for (i, (n, s)) in g.nodes.iter().zip(&run.nodes).enumerate() {
        let (pe, simd) = n.pe_simd();
        nodes.push(NodeReport {
            name: n.name.clone(),
            op_type: n.op.op_type().to_string(),
            pe,
            simd,
            exp_cycles: n.exp_cycles(),
            sim_cycles: standalone_cycles(g, i)?,
            finn: n.finn_estimate(),
            busy: s.busy as f64 / frames,
            stalled: s.stalled as f64 / frames,
            starved: s.starved as f64 / frames,
        });
    }
    let fifos = g
        .fifos
        .iter()
        .enumerate()
        .map(|(i, f)| FifoReport {
            name: f.name.clone(),
            bits: f.bits,
            depth: f.depth,
            max_occupancy: run.fifo_max_occupancy.get(i).copied().unwrap_or(0),
            finn: g.fifo_estimate(i),
        })
        .collect();
    let exp = g.max_exp_cycles();
    let cpf = run.cycles_per_frame();
    let lat = run.latency();
    Ok(Report {
        flow: g.flow,
        clock_mhz,
        frames: run.frames,
        exp_cycles_per_frame: exp,
        exp_fps: fps(clock_mhz, exp as f64),
        cycles_per_frame: cpf,
        fps: fps(clock_mhz, cpf),
        latency_cycles: lat,
        latency_us: lat as f64 / clock_mhz,
        finn: g.finn_total(),
        implementation: implementation::model()?.estimate(g, true),
        nodes,
        fifos,
    })
}

/// FIFO depths sized as FINN's default strategy, `largefifo_rtlsim`
/// (`set_fifo_depths.py::InsertAndSetFIFODepths`), does: every FIFO as deep as its tensor (the
/// stream's words per frame), frames fed as fast as the pipeline takes them (the C++ driver
/// keeps `tvalid` high, `verilator_fifosim.cpp`), two frames for a network with window
/// generators (else half the node count), then each depth set to the largest occupancy seen,
/// rounded by `optimize_depth`. [`Graph::set_fifo_depths`] then makes the deep ones vivado
/// FIFOs. FINN's optional `CapConvolutionFIFODepths` (off by default) is not applied.
pub fn auto_fifo_depths(g: &Graph) -> Result<Vec<usize>, Error> {
    let convnet = g.nodes.iter().any(|n| matches!(n.op, Op::Swu(_)));
    let layer_nodes = g.nodes.len().saturating_sub(2) + g.fifos.len();
    let frames = if convnet { 2 } else { (layer_nodes / 2).max(1) };
    let mut deep = g.clone();
    for f in &mut deep.fifos {
        f.depth = f.words_per_frame.max(1);
        f.style = Default::default();
    }
    let run = simulate(&deep, &zero_frames(g, frames), &SimOptions { timing: true, ..Default::default() })?;
    Ok(run.fifo_max_occupancy.iter().map(|&o| round_depth(o)).collect())
}
