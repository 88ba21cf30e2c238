//! FINN-style numbers from the graph (analytical) and from a run (simulated): per node cycles,
//! busy / stalled / starved cycles, FIFO occupancy, resources; for the pipeline, steady-state
//! cycles per frame, FPS at a clock, single-frame latency, and FIFO depths sized as FINN's
//! sizing flows do.

use crate::clock::{simulate, Run, SimOptions};
use crate::fifo::round_depth;
use crate::graph::{FifoNode, Graph, Op};
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
    pub lut: u64,
    pub bram18: u64,
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
    pub lut: u64,
    pub bram18: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
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
    pub lut: u64,
    pub bram18: u64,
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
    };
    let fifos = vec![fifo(n.in_bits, n.in_words), fifo(n.out_bits, n.out_words)];
    Graph { nodes: vec![src, n, dst], fifos, input: g.input }
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
            lut: n.lut(),
            bram18: n.bram18(),
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
            lut: g.fifo_lut(i),
            bram18: g.fifo_bram18(i),
        })
        .collect();
    let exp = g.max_exp_cycles();
    let cpf = run.cycles_per_frame();
    let lat = run.latency();
    Ok(Report {
        clock_mhz,
        frames: run.frames,
        exp_cycles_per_frame: exp,
        exp_fps: fps(clock_mhz, exp as f64),
        cycles_per_frame: cpf,
        fps: fps(clock_mhz, cpf),
        latency_cycles: lat,
        latency_us: lat as f64 / clock_mhz,
        lut: g.total_lut(),
        bram18: g.total_bram18(),
        nodes,
        fifos,
    })
}

/// FIFO depths sized as FINN's largefifo flow does: run with unbounded FIFOs, feeding frames at
/// the pipeline's own pace, take each FIFO's largest occupancy (rounded as FINN rounds); check
/// with a run at those depths and double FIFOs that filled while throughput fell short; then
/// shrink each FIFO to the smallest depth that keeps the throughput and latency (what FINN's
/// CapConvolutionFIFODepths does by rule for SWG → MVAU FIFOs). Returns the depths and the
/// unbounded steady-state cycles per frame.
pub fn auto_fifo_depths(g: &Graph, frames: usize) -> Result<(Vec<usize>, f64), Error> {
    let frames = frames.max(3);
    let input = zero_frames(g, frames);
    let free = simulate(g, &input, &SimOptions { timing: true, unbounded: true, ..Default::default() })?;
    let period = free.cycles_per_frame();
    let ok =
        |run: &Run| run.cycles_per_frame() <= period * 1.001 && run.latency() <= free.latency() + free.latency() / 500;
    let start: Vec<u64> = (0..frames).map(|f| (f as f64 * period).ceil() as u64).collect();
    let paced =
        simulate(g, &input, &SimOptions { timing: true, unbounded: true, frame_start: start, ..Default::default() })?;
    let mut depths: Vec<usize> = paced.fifo_max_occupancy.iter().map(|&o| round_depth(o)).collect();
    let mut trial = g.clone();
    let timed = SimOptions { timing: true, ..Default::default() };
    for _ in 0..12 {
        trial.set_fifo_depths(&depths);
        let run = simulate(&trial, &input, &timed)?;
        if ok(&run) {
            break;
        }
        let mut grew = false;
        for (d, &occ) in depths.iter_mut().zip(&run.fifo_max_occupancy) {
            if occ as usize >= *d {
                *d = round_depth(2 * *d as u64);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    // Shrink the deep ones, deepest first: bisect for the smallest depth that keeps the
    // numbers, then round it up as FINN does.
    let mut order: Vec<usize> = (0..depths.len()).filter(|&i| depths[i] > 2).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(depths[i]));
    for i in order {
        let (mut lo, mut hi) = (2usize, depths[i]);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let mut d = depths.clone();
            d[i] = mid;
            trial.set_fifo_depths(&d);
            if ok(&simulate(&trial, &input, &timed)?) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        depths[i] = round_depth(hi as u64).min(depths[i]);
    }
    Ok((depths, period))
}
