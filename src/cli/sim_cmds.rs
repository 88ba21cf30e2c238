//! `simulate`, `fold-search`, `export-hw` and `export-deploy`: the FINN dataflow mirror of a model.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use binarycop_hw::boards;

use binarycop_sim::cost::Resources;
use binarycop_sim::flow::Flow;
use binarycop_sim::report::{self, Report};
use serde_json::json;

use super::{topology_of, TopologyArgs};
use crate::error::{write_atomic, Error, Result};
use crate::lower::{
    self,
    simulate::{self, fifo_depth_of, lower_with, SimulateOptions},
};
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
    /// FIFO depth for every FIFO, or `auto` to size them as FINN's default (largefifo_rtlsim)
    /// does; default: the flow's (the folding config's depths where it gives any, else FINN's
    /// sizing, or BNN-PYNQ's stream depths).
    #[arg(long)]
    fifo_depth: Option<String>,
    /// Which flow builds the accelerator: `finn` (the FINN compiler) or `bnn-pynq` (BNN-PYNQ's
    /// HLS top level on finn-hlslib 8b7f5f5); default: bnn-pynq for the paper presets (the
    /// paper's prototypes were built with it), finn for a folding config file.
    #[arg(long, value_parser = ["finn", "bnn-pynq"])]
    flow: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn simulate(args: SimulateArgs, out: &mut String) -> Result<()> {
    let SimulateArgs { model, folding, clock_mhz, frames, fifo_depth, flow, json } = args;
    let m = model.load()?;
    let opts = SimulateOptions { folding, clock_mhz, frames, fifo_depth, flow };
    let r = simulate::simulate(&m, &opts)?;
    if json {
        let v = simulate::report_json(&r, &model.model, &opts.folding, &m.topology.name);
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("JSON"));
    } else {
        out.push_str(&report_text(&r, &m.topology.name, &opts.folding));
    }
    Ok(())
}

fn opt(v: Option<usize>) -> String {
    v.map_or("-".into(), |x| x.to_string())
}

fn finn_line(f: &Resources) -> String {
    format!("{} LUT, {} BRAM18, {} URAM, {} DSP", f.lut, f.bram18, f.uram, f.dsp)
}

pub(crate) fn report_text(r: &Report, topology: &str, folding: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{topology} with folding {folding}, built as {} builds it, at {} MHz, {} frames simulated",
        r.flow.name(),
        r.clock_mhz,
        r.frames
    );
    let _ = writeln!(
        s,
        "{:<36} {:>4} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>4}",
        "node", "PE", "SIMD", "exp cyc", "sim cyc", "busy/f", "stall/f", "starve/f", "LUT", "BRAM18", "DSP"
    );
    for n in &r.nodes {
        let _ = writeln!(
            s,
            "{:<36} {:>4} {:>4} {:>9} {:>9} {:>9.0} {:>9.0} {:>9.0} {:>6} {:>6} {:>4}",
            n.name,
            opt(n.pe),
            opt(n.simd),
            n.exp_cycles,
            n.sim_cycles,
            n.busy,
            n.stalled,
            n.starved,
            n.finn.lut,
            n.finn.bram18,
            n.finn.dsp
        );
    }
    let _ = writeln!(s, "{:<22} {:>5} {:>7} {:>8} {:>6} {:>6}", "fifo", "bits", "depth", "max occ", "LUT", "BRAM18");
    for f in &r.fifos {
        let _ = writeln!(
            s,
            "{:<22} {:>5} {:>7} {:>8} {:>6} {:>6}",
            f.name, f.bits, f.depth, f.max_occupancy, f.finn.lut, f.finn.bram18
        );
    }
    let _ =
        writeln!(s, "analytical (FINN): {} cycles/frame (slowest node), {:.1} FPS", r.exp_cycles_per_frame, r.exp_fps);
    let _ = writeln!(
        s,
        "simulated: {:.1} cycles/frame steady state, {:.1} FPS; single-frame latency {} cycles = {:.1} us",
        r.cycles_per_frame, r.fps, r.latency_cycles, r.latency_us
    );
    let _ = writeln!(s, "FINN's estimate (its formulas, every node, converter and FIFO): {}", finn_line(&r.finn));
    let i = &r.implementation;
    let _ = writeln!(
        s,
        "post-implementation estimate (Vivado units, shell included, calibrated): {} LUT, {} FF, {} BRAM tiles ({} RAMB36 + {} RAMB18), {} DSP",
        i.lut,
        i.ff,
        i.bram_tiles(),
        i.ramb36,
        i.ramb18,
        i.dsp
    );
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
    let mut low = lower_with(&m, &folding, Flow::Finn)?;
    low.set_fifo_depth(&fifo_depth_of(fifo_depth.as_deref())?)?;
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
    /// The board whose LUT, Block RAM and DSP budget the folding must fit.
    #[arg(long, default_value = "pynq-z1")]
    board: String,
    #[arg(long)]
    target_fps: f64,
    /// Default: the board's clock.
    #[arg(long)]
    clock_mhz: Option<f64>,
    /// Fraction of the board's LUTs, Block RAM tiles and DSPs the accelerator may use.
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
        bram_tiles: (board.bram18 as f64 / 2.0 * max_util).floor(),
        dsp: (board.dsp as f64 * max_util) as u64,
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
            "target {target_fps} FPS is not reachable on {} within {} LUT / {} BRAM tiles / {} DSP: best found {sim_fps:.1} FPS simulated ({:.1} FPS by FINN's formulas)",
            board.name,
            budget.lut,
            budget.bram_tiles,
            budget.dsp,
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
        let e = &o.estimate;
        let v = json!({
            "board": board.name, "clock_mhz": clock, "target_fps": target_fps, "target_cycles": target,
            "exp_cycles_per_frame": o.exp_cycles, "cycles_per_frame": o.sim_cycles, "fps": sim_fps,
            "impl_lut": e.lut, "impl_ff": e.ff, "impl_bram_tiles": e.bram_tiles(), "impl_dsp": e.dsp,
            "budget_lut": budget.lut, "budget_bram_tiles": budget.bram_tiles, "budget_dsp": budget.dsp,
            "dsp_xnor": o.packed, "met": o.met, "notes": o.notes, "nodes": nodes,
            "folding_config": dest.display().to_string(),
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
        let e = &o.estimate;
        let _ = writeln!(
            out,
            "estimate: {} cycles/frame (FINN), {:.0} simulated; post-implementation {} LUT of {}, {} BRAM tiles of {}, {} DSP of {}",
            o.exp_cycles,
            o.sim_cycles,
            e.lut,
            budget.lut,
            e.bram_tiles(),
            budget.bram_tiles,
            e.dsp,
            budget.dsp
        );
        let _ = writeln!(out, "{verdict}");
        let _ = writeln!(out, "wrote {}", dest.display());
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct ExportDeployArgs {
    /// A Brevitas QONNX .onnx, a folded artifact .npz, or a parameter .npz.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    topo: TopologyArgs,
    /// A FINN folding_config.json or a paper preset (cnv, ncnv, ucnv); default: the model's
    /// topology when it is a preset (as `--backend sim`).
    #[arg(long)]
    folding: Option<String>,
    /// The design's name (the .hwh and .bit stem); default: the model file's name without
    /// `.params.npz`, `.npz` or `.onnx`.
    #[arg(long)]
    name: Option<String>,
    /// The folder to write (created; an earlier export-deploy output there is replaced).
    #[arg(long)]
    out: PathBuf,
}

/// A model file's name without its extensions.
fn design_name(path: &Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    [".params.npz", ".npz", ".onnx"].iter().find_map(|e| file.strip_suffix(e)).unwrap_or(&file).to_string()
}

pub fn export_deploy(args: ExportDeployArgs, out: &mut String) -> Result<()> {
    let m = model::load_with(&args.model, topology_of(&args.topo)?)?.folded;
    let folding = crate::accel::sim::folding_for(&m, args.folding.as_deref())?;
    let low = lower::lower(&m, &folding)?;
    let name = args.name.unwrap_or_else(|| design_name(&args.model));
    let what = format!(
        "{name} ({} in, {} classes) on binarycop's simulated FINN accelerator",
        m.topology.input,
        m.topology.classes()
    );
    let s = lower::stand_in::stand_in(&m, &low, &name, &what)?;
    let file = args.model.file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned());
    let folding_arg = args.folding.as_deref().map_or(String::new(), |f| {
        Path::new(f).file_name().map_or(f.to_string(), |n| n.to_string_lossy().into_owned())
    });
    let files = lower::stand_in::write(&s, &args.out, &file, &folding_arg)?;
    let _ = writeln!(
        out,
        "wrote a stand-in deployment for {} into {}: {} (no bitstream: for --backend sim --deploy)",
        args.model.display(),
        args.out.display(),
        files.join(", ")
    );
    Ok(())
}
