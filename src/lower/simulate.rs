//! `simulate`: a model's FINN dataflow clocked frame by frame, and the JSON report the
//! `simulate --json` command prints and the Python package's `Model.simulate` returns.

use std::path::Path;

use binarycop_sim::flow::Flow;
use binarycop_sim::report::Report;
use serde_json::json;

use super::{lower_flow, FifoDepth, Lowered};
use crate::error::{Error, Result};
use crate::model::FoldedModel;

/// What to simulate, as the `simulate` command's options.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    /// A FINN folding_config.json, or a preset name (cnv, ncnv, ucnv) for the paper's folding.
    pub folding: String,
    pub clock_mhz: f64,
    /// Frames to simulate (at least 3 for a steady state), 1 to 1000.
    pub frames: usize,
    /// One depth for every FIFO, or `auto`; None: the flow's.
    pub fifo_depth: Option<String>,
    /// `finn` or `bnn-pynq`; None: bnn-pynq for the paper presets, finn for a config file.
    pub flow: Option<String>,
}

impl SimulateOptions {
    /// The command's defaults for a folding: 100 MHz, 8 frames, the flow's FIFOs.
    pub fn new(folding: impl Into<String>) -> SimulateOptions {
        SimulateOptions { folding: folding.into(), clock_mhz: 100.0, frames: 8, fifo_depth: None, flow: None }
    }
}

/// The model lowered with a folding config file or preset name; a file's name is put on errors.
pub fn lower_with(m: &FoldedModel, folding: &str, flow: Flow) -> Result<Lowered> {
    let cfg = crate::accel::sim::folding_file(folding)?;
    lower_flow(m, &cfg, flow).map_err(|e| if Path::new(folding).exists() { e.in_file(folding) } else { e })
}

/// The flow asked for, else the one the folding's origin used: BNN-PYNQ for the paper presets.
pub fn flow_of(flow: Option<&str>, folding: &str) -> Flow {
    match flow.and_then(Flow::from_name) {
        Some(f) => f,
        None if !Path::new(folding).exists() && binarycop_hw::folding::paper_config(folding).is_some() => Flow::BnnPynq,
        None => Flow::Finn,
    }
}

/// `--fifo-depth` parsed; None: the flow's.
pub fn fifo_depth_of(arg: Option<&str>) -> Result<FifoDepth> {
    arg.map_or(Ok(FifoDepth::Flow), str::parse)
}

/// Lowers the model with the options' folding and flow and clocks its frames.
pub fn simulate(m: &FoldedModel, opts: &SimulateOptions) -> Result<Report> {
    let SimulateOptions { folding, clock_mhz, frames, fifo_depth, flow } = opts;
    if !(clock_mhz.is_finite() && *clock_mhz > 0.0) {
        return Err(Error::invalid(format!("--clock-mhz must be positive, got {clock_mhz}")));
    }
    if !(1..=1000).contains(frames) {
        return Err(Error::invalid(format!("--frames must be between 1 and 1000, got {frames}")));
    }
    let mut low = lower_with(m, folding, flow_of(flow.as_deref(), folding))?;
    low.set_fifo_depth(&fifo_depth_of(fifo_depth.as_deref())?)?;
    low.timing(*frames, *clock_mhz)
}

/// The report as `simulate --json` prints it; `model` is how the model was named (a path or a
/// preset).
pub fn report_json(r: &Report, model: &str, folding: &str, topology: &str) -> serde_json::Value {
    let nodes: Vec<_> = r
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name, "op_type": n.op_type, "pe": n.pe, "simd": n.simd,
                "exp_cycles": n.exp_cycles, "sim_cycles": n.sim_cycles,
                "lut": n.finn.lut, "bram18": n.finn.bram18, "uram": n.finn.uram, "dsp": n.finn.dsp,
                "busy_per_frame": n.busy, "stalled_per_frame": n.stalled, "starved_per_frame": n.starved,
            })
        })
        .collect();
    let fifos: Vec<_> = r
        .fifos
        .iter()
        .map(|f| json!({"name": f.name, "bits": f.bits, "depth": f.depth, "max_occupancy": f.max_occupancy, "lut": f.finn.lut, "bram18": f.finn.bram18}))
        .collect();
    let i = &r.implementation;
    json!({
        "model": model, "topology": topology, "folding": folding, "flow": r.flow.name(), "frames": r.frames,
        "clock_mhz": r.clock_mhz,
        "exp_cycles_per_frame": r.exp_cycles_per_frame, "exp_fps": r.exp_fps,
        "cycles_per_frame": r.cycles_per_frame, "fps": r.fps,
        "latency_cycles": r.latency_cycles, "latency_us": r.latency_us,
        "lut": r.finn.lut, "bram18": r.finn.bram18, "uram": r.finn.uram, "dsp": r.finn.dsp,
        "impl_lut": i.lut, "impl_ff": i.ff, "impl_bram_tiles": i.bram_tiles(), "impl_ramb36": i.ramb36,
        "impl_ramb18": i.ramb18, "impl_dsp": i.dsp,
        "nodes": nodes, "fifos": fifos,
    })
}
