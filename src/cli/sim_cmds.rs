//! `simulate`, `fold-search` and `export-hw`: the FINN dataflow mirror of a model.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use binarycop_hw::boards;
use binarycop_hw::folding::FoldingConfig;

use binarycop_sim::report::{self, Report};
use serde_json::json;

use super::{topology_of, TopologyArgs};
use crate::error::{write_atomic, Error, Result};
use crate::lower;
use crate::model::{self, random::random_model, FoldedModel, Topology};
use crate::progress::Progress;

/// The model of the three commands here.
#[derive(clap::Args)]
pub struct SimModelArgs {
    /// A model file (.onnx, artifact or parameter .npz), or a preset (cnv, ncnv, ucnv) for a
    /// random model of that topology: timing and estimates do not depend on the weights.
    #[arg(long)]
    model: String,
    #[command(flatten)]
    topo: TopologyArgs,
}

impl SimModelArgs {
    /// The model from its file, or a random one of the preset's topology.
    fn load(&self) -> Result<FoldedModel> {
        let lower = self.model.to_ascii_lowercase();
        if model::topology::PRESETS.contains(&lower.as_str()) && !Path::new(&self.model).exists() {
            let t = Topology::preset(&lower, self.topo.classes)?;
            return FoldedModel::fold(&random_model(&t, 0, false)?);
        }
        Ok(model::load_with(Path::new(&self.model), topology_of(&self.topo)?)?.folded)
    }
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    model: SimModelArgs,
    /// A FINN folding_config.json, or a preset name (cnv, ncnv, ucnv) for the paper's folding.
    #[arg(long)]
    folding: String,
    #[arg(long, default_value_t = 100.0)]
    clock_mhz: f64,
    /// Frames to simulate (at least 3 for a steady state).
    #[arg(long, default_value_t = 8)]
    frames: usize,
    /// FIFO depth for every FIFO, or `auto` to size them as FINN's largefifo flow; default:
    /// the folding config's depths (2 where it gives none).
    #[arg(long)]
    fifo_depth: Option<String>,
    /// Window generator timing: `rtl` (FINN's RTL SWG) or `hls` (finn-hlslib's loop, as in
    /// BNN-PYNQ, where reading the next row stalls the window writes).
    #[arg(long, default_value = "rtl", value_parser = ["rtl", "hls"])]
    swu: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// A folding config from a file or a preset name.
fn folding_of(spec: &str) -> Result<FoldingConfig> {
    if !Path::new(spec).exists() {
        if let Some(c) = binarycop_hw::folding::paper_config(spec) {
            return Ok(c);
        }
    }
    let text = std::fs::read_to_string(spec)
        .map_err(|e| Error::file(spec, format!("cannot read folding config (not a preset: cnv, ncnv, ucnv): {e}")))?;
    FoldingConfig::from_json(&text).map_err(|e| Error::file(spec, format!("folding config: {e}")))
}

fn lower_with(m: &FoldedModel, folding: &str) -> Result<lower::Lowered> {
    let cfg = folding_of(folding)?;
    lower::lower(m, &cfg).map_err(|e| if Path::new(folding).exists() { e.in_file(folding) } else { e })
}

pub fn simulate(args: SimulateArgs, out: &mut String) -> Result<()> {
    let SimulateArgs { model, folding, clock_mhz, frames, fifo_depth, swu, json } = args;
    if !(clock_mhz.is_finite() && clock_mhz > 0.0) {
        return Err(Error::invalid(format!("--clock-mhz must be positive, got {clock_mhz}")));
    }
    if !(1..=1000).contains(&frames) {
        return Err(Error::invalid(format!("--frames must be between 1 and 1000, got {frames}")));
    }
    let m = model.load()?;
    let mut low = lower_with(&m, &folding)?;
    low.graph.set_swu_hls_loop(swu == "hls");
    low.set_fifo_depth(&fifo_depth.as_deref().map_or(Ok(lower::FifoDepth::Config), str::parse)?)?;
    let r = low.timing(frames, clock_mhz)?;
    if json {
        let v = report_json(&r, &model.model, &folding, &m.topology.name);
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("JSON"));
    } else {
        out.push_str(&report_text(&r, &m.topology.name, &folding));
    }
    Ok(())
}

pub(crate) fn report_json(r: &Report, model: &str, folding: &str, topology: &str) -> serde_json::Value {
    let nodes: Vec<_> = r
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name, "op_type": n.op_type, "pe": n.pe, "simd": n.simd,
                "exp_cycles": n.exp_cycles, "sim_cycles": n.sim_cycles, "lut": n.lut, "bram18": n.bram18,
                "busy_per_frame": n.busy, "stalled_per_frame": n.stalled, "starved_per_frame": n.starved,
            })
        })
        .collect();
    let fifos: Vec<_> = r
        .fifos
        .iter()
        .map(|f| json!({"name": f.name, "bits": f.bits, "depth": f.depth, "max_occupancy": f.max_occupancy, "lut": f.lut, "bram18": f.bram18}))
        .collect();
    json!({
        "model": model, "topology": topology, "folding": folding, "frames": r.frames,
        "clock_mhz": r.clock_mhz,
        "exp_cycles_per_frame": r.exp_cycles_per_frame, "exp_fps": r.exp_fps,
        "cycles_per_frame": r.cycles_per_frame, "fps": r.fps,
        "latency_cycles": r.latency_cycles, "latency_us": r.latency_us,
        "lut": r.lut, "bram18": r.bram18,
        "nodes": nodes, "fifos": fifos,
    })
}

fn opt(v: Option<usize>) -> String {
    v.map_or("-".into(), |x| x.to_string())
}

pub(crate) fn report_text(r: &Report, topology: &str, folding: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{topology} with folding {folding} at {} MHz, {} frames simulated", r.clock_mhz, r.frames);
    let _ = writeln!(
        s,
        "{:<34} {:>4} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}",
        "node", "PE", "SIMD", "exp cyc", "sim cyc", "busy/f", "stall/f", "starve/f", "LUT", "BRAM18"
    );
    for n in &r.nodes {
        let _ = writeln!(
            s,
            "{:<34} {:>4} {:>4} {:>9} {:>9} {:>9.0} {:>9.0} {:>9.0} {:>6} {:>6}",
            n.name,
            opt(n.pe),
            opt(n.simd),
            n.exp_cycles,
            n.sim_cycles,
            n.busy,
            n.stalled,
            n.starved,
            n.lut,
            n.bram18
        );
    }
    let _ = writeln!(s, "{:<22} {:>5} {:>7} {:>8} {:>6} {:>6}", "fifo", "bits", "depth", "max occ", "LUT", "BRAM18");
    for f in &r.fifos {
        let _ = writeln!(
            s,
            "{:<22} {:>5} {:>7} {:>8} {:>6} {:>6}",
            f.name, f.bits, f.depth, f.max_occupancy, f.lut, f.bram18
        );
    }
    let _ =
        writeln!(s, "analytical (FINN): {} cycles/frame (slowest node), {:.1} FPS", r.exp_cycles_per_frame, r.exp_fps);
    let _ = writeln!(
        s,
        "simulated: {:.1} cycles/frame steady state, {:.1} FPS; single-frame latency {} cycles = {:.1} us",
        r.cycles_per_frame, r.fps, r.latency_cycles, r.latency_us
    );
    let _ = writeln!(s, "resources (MVAUs and FIFOs): {} LUT, {} BRAM18", r.lut, r.bram18);
    s
}

fn board_of(name: &str) -> Result<boards::Board> {
    boards::find(name)
        .ok_or_else(|| Error::invalid(format!("unknown board '{name}' (known: {})", boards::names().join(", "))))
}

#[derive(clap::Args)]
pub struct ExportHwArgs {
    #[command(flatten)]
    model: SimModelArgs,
    /// A FINN folding_config.json, or a preset name (cnv, ncnv, ucnv) for the paper's folding.
    #[arg(long)]
    folding: String,
    /// The folder to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Target board for the build config (Pynq-Z1, Pynq-Z2, Ultra96, ZCU104).
    #[arg(long, default_value = "pynq-z1")]
    board: String,
    /// Clock for the build config; default: the board's.
    #[arg(long)]
    clock_mhz: Option<f64>,
    /// Target FPS for the build config; default: FINN's estimate for this folding.
    #[arg(long)]
    target_fps: Option<f64>,
    /// FIFO depths to write: one depth for all, or `auto` (FINN-style sizing).
    #[arg(long)]
    fifo_depth: Option<String>,
}

pub fn export_hw(args: ExportHwArgs, out: &mut String) -> Result<()> {
    let ExportHwArgs { model, folding, out: dir, board, clock_mhz, target_fps, fifo_depth } = args;
    let board = board_of(&board)?;
    let clock = clock_mhz.unwrap_or(board.clock_mhz);
    if !(clock.is_finite() && clock > 0.0) {
        return Err(Error::invalid(format!("--clock-mhz must be positive, got {clock}")));
    }
    let m = model.load()?;
    let mut low = lower_with(&m, &folding)?;
    low.set_fifo_depth(&fifo_depth.as_deref().map_or(Ok(lower::FifoDepth::Config), str::parse)?)?;
    let fps = target_fps.unwrap_or_else(|| report::fps(clock, low.graph.max_exp_cycles() as f64));
    if !(fps.is_finite() && fps > 0.0) {
        return Err(Error::invalid(format!("--target-fps must be positive, got {fps}")));
    }
    let target = lower::export::BuildTarget { board: &board, clock_mhz: clock, target_fps: fps };
    let files = lower::export::export(&low, &m, &dir, &target)?;
    let _ = writeln!(
        out,
        "wrote {} files for {} ({} nodes, {} FIFOs) into {}; see README.md there for the formats",
        files.len(),
        m.topology.name,
        low.graph.nodes.len(),
        low.graph.fifos.len(),
        dir.display()
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct FoldSearchArgs {
    #[command(flatten)]
    model: SimModelArgs,
    /// The board whose LUT and BRAM budget the folding must fit.
    #[arg(long, default_value = "pynq-z1")]
    board: String,
    #[arg(long)]
    target_fps: f64,
    /// Default: the board's clock.
    #[arg(long)]
    clock_mhz: Option<f64>,
    /// Fraction of the board's LUTs and BRAMs the accelerator may use.
    #[arg(long, default_value_t = 1.0)]
    max_util: f64,
    /// FINN's mvau_wwidth_max: the widest SIMD·weight bits an MVAU may get.
    #[arg(long, default_value_t = 36)]
    mvau_wwidth_max: usize,
    /// Where to write the folding config.
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    json: bool,
}

pub fn fold_search(args: FoldSearchArgs, progress: &Progress, out: &mut String) -> Result<()> {
    let FoldSearchArgs { model, board, target_fps, clock_mhz, max_util, mvau_wwidth_max, out: dest, json } = args;
    let board = board_of(&board)?;
    let clock = clock_mhz.unwrap_or(board.clock_mhz);
    if !(clock.is_finite() && clock > 0.0) {
        return Err(Error::invalid(format!("--clock-mhz must be positive, got {clock}")));
    }
    if !(target_fps.is_finite() && target_fps > 0.0) {
        return Err(Error::invalid(format!("--target-fps must be positive, got {target_fps}")));
    }
    if !(max_util > 0.0 && max_util <= 1.0) {
        return Err(Error::invalid(format!("--max-util must be in (0, 1], got {max_util}")));
    }
    if mvau_wwidth_max == 0 {
        return Err(Error::invalid("--mvau-wwidth-max must be positive"));
    }
    let m = model.load()?;
    let layers = lower::layers(&m)?;
    let t = m.topology.input;
    // FINN: target cycles per frame = int(10⁹ / clk_ns / target_fps).
    let target = ((clock * 1e6 / target_fps).floor() as u64).max(1);
    let budget = binarycop_sim::search::Budget {
        lut: (board.lut as f64 * max_util) as u64,
        bram18: (board.bram18 as f64 * max_util) as u64,
    };
    let spinner = progress.spinner("fold-search");
    let step = |what: &str| spinner.set_message(format!("fold-search: {what}"));
    let input = (t.height, t.width, t.channels);
    let o = binarycop_sim::search::search_observed(&layers, input, target, budget, mvau_wwidth_max, &step)
        .map_err(|e| Error::invalid(format!("{} on {}: {e}", m.topology.name, board.name)))?;
    drop(spinner);
    write_atomic(&dest, o.config.to_json().as_bytes())?;
    let sim_fps = report::fps(clock, o.sim_cycles);
    let verdict = if o.met {
        format!("target {target_fps} FPS met: {sim_fps:.1} FPS simulated at {clock} MHz")
    } else {
        format!(
            "target {target_fps} FPS is not reachable on {} within {} LUT / {} BRAM18: best found {sim_fps:.1} FPS simulated ({:.1} FPS by FINN's formulas)",
            board.name,
            budget.lut,
            budget.bram18,
            report::fps(clock, o.exp_cycles as f64)
        )
    };
    if json {
        let nodes: Vec<_> = o
            .graph
            .nodes
            .iter()
            .filter(|n| n.pe_simd() != (None, None))
            .map(|n| json!({"name": n.name, "pe": n.pe_simd().0, "simd": n.pe_simd().1, "exp_cycles": n.exp_cycles()}))
            .collect();
        let v = json!({
            "board": board.name, "clock_mhz": clock, "target_fps": target_fps, "target_cycles": target,
            "exp_cycles_per_frame": o.exp_cycles, "cycles_per_frame": o.sim_cycles, "fps": sim_fps,
            "lut": o.lut, "bram18": o.bram18, "budget_lut": budget.lut, "budget_bram18": budget.bram18,
            "met": o.met, "notes": o.notes, "nodes": nodes, "folding_config": dest.display().to_string(),
        });
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("JSON"));
    } else {
        let _ = writeln!(
            out,
            "{} on {} ({}), target {target_fps} FPS = {target} cycles/frame at {clock} MHz",
            m.topology.name, board.name, board.part
        );
        let _ = writeln!(out, "{:<34} {:>4} {:>5} {:>9}", "node", "PE", "SIMD", "exp cyc");
        for n in o.graph.nodes.iter().filter(|n| n.pe_simd() != (None, None)) {
            let (pe, simd) = n.pe_simd();
            let _ = writeln!(out, "{:<34} {:>4} {:>5} {:>9}", n.name, opt(pe), opt(simd), n.exp_cycles());
        }
        for note in &o.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(
            out,
            "estimate: {} cycles/frame (FINN), {:.0} simulated; {} LUT of {}, {} BRAM18 of {} (MVAUs and FIFOs)",
            o.exp_cycles, o.sim_cycles, o.lut, budget.lut, o.bram18, budget.bram18
        );
        let _ = writeln!(out, "{verdict}");
        let _ = writeln!(out, "wrote {}", dest.display());
    }
    Ok(())
}
