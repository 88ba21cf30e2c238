//! The `binarycop` command. Each subcommand wires library pieces together and holds no logic of
//! its own.

use std::path::Path;

use clap::{Parser, Subcommand};

use crate::data::{Crop, Preprocess, Resize};
use crate::error::Result;
use crate::limits::MAX_CLASSES;
use crate::model::{self, Topology};
use crate::progress::Progress;

mod backend_args;
mod board_cmds;
mod cam_cmds;
mod demo_cmds;
mod eval_cmds;
mod hw_cmds;
mod model_cmds;
mod sim_cmds;
mod synth_cmds;
mod watch_cmds;

#[derive(Parser)]
#[command(
    name = "binarycop",
    version,
    about = "Run binarized CNNs bit-exactly as the FINN accelerator does, and look inside them"
)]
struct Cli {
    /// No progress bars (they are drawn on stderr only when it is a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// How to find a model's topology when its file does not carry one.
#[derive(clap::Args)]
pub struct TopologyArgs {
    /// For a parameter .npz without an embedded topology: a preset (cnv, ncnv, ucnv) or a
    /// topology JSON file.
    #[arg(long)]
    topology: Option<String>,
    #[arg(long, default_value_t = 4, value_parser = count(1, MAX_CLASSES),
          help = format!("Classes of a preset topology (1 to {MAX_CLASSES})"))]
    classes: usize,
}

/// How image files are brought to the model's input (`.npy` inputs are used as they are).
#[derive(clap::Args, Clone)]
pub struct PreprocessArgs {
    /// How pictures (image files, frames) are scaled to the model's input: cv2 = OpenCV's
    /// cv2.resize (INTER_LINEAR)
    /// byte for byte, as BinaryCoP's deployment notebook does; triangle = the image crate's
    /// antialiased bilinear filter (binarycop's earlier default).
    #[arg(long, value_enum, default_value_t = Resize::Cv2)]
    resize: Resize,
    /// Crop pictures (image files, frames) before resizing: X0:X1,Y0:Y1, columns then rows,
    /// Python slice bounds (a bound may be left out). The notebook's webcam frames: --crop 20:140,: on 160x120.
    #[arg(long)]
    crop: Option<Crop>,
}

impl PreprocessArgs {
    pub fn preprocess(&self) -> Preprocess {
        Preprocess { crop: self.crop, resize: self.resize }
    }
}

/// A clap parser for a count in `min..=max` (say the range in the option's help).
pub(crate) fn count(min: usize, max: usize) -> impl Fn(&str) -> std::result::Result<usize, String> + Clone {
    move |s: &str| {
        let t = s.trim();
        let n: usize = t.parse().map_err(|_| {
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                format!("{t} is out of range: {min} to {max}")
            } else {
                format!("'{s}' is not a whole number ({min} to {max})")
            }
        })?;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} is out of range: {min} to {max}"))
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// The main job: synthetic faces through the simulated accelerator, deployed and training
    /// CAMs, agreement and region-of-interest metrics, and a report.
    Demo(demo_cmds::DemoArgs),
    /// Classify images with the bit-exact engine, the simulated accelerator or a board's.
    Infer(model_cmds::InferArgs),
    /// Accuracy, per-class precision and recall and a confusion matrix on labelled images (an
    /// image folder, one subfolder per class, or an images .npy with a labels .npy), streamed
    /// through the chosen backend.
    Eval(Box<eval_cmds::EvalArgs>),
    /// Classify a live stream (camera, video file, folder of frames) frame by frame and print
    /// the label and FPS; --serve shows the annotated frame on a local web page.
    Watch(Box<watch_cmds::WatchArgs>),
    /// Fold a trained model into the deployable artifact.
    Fold(model_cmds::FoldArgs),
    /// Describe a model: layers, shapes, parameters, bytes, operations per image.
    Info(model_cmds::InfoArgs),
    /// Generate synthetic masked faces with ground-truth part maps.
    Synth(synth_cmds::SynthArgs),
    /// Class-activation maps: from toolbox exports (the seed workflow) or from a model.
    Cam(Box<cam_cmds::CamArgs>),
    /// Compare deployed CAMs with training-time ones (metrics.json, report.html, grid.png/.svg).
    Compare(cam_cmds::CompareArgs),
    /// Pack an integer .npy into FINN's packed bytes (the driver's layout unless --plain).
    Pack(hw_cmds::PackArgs),
    /// Unpack FINN packed bytes into a .npy.
    Unpack(hw_cmds::UnpackArgs),
    /// Show a FINN deployment folder: IODMA windows, PL clock, bitstream header, what driver.py
    /// says each input and output is, and the runtime weights.
    DeployInfo(hw_cmds::DeployInfoArgs),
    /// On a board: program a deployment's bitstream into the PL through the Linux FPGA manager,
    /// as PYNQ does (.bit → .bin in /lib/firmware, then the manager's flags and firmware
    /// attributes). Replaces the running design; needs root.
    Load(board_cmds::LoadArgs),
    /// On a board: the checks `infer --backend zynq` runs before touching a register (PL
    /// configured with this bitstream, chip family, PL clock), printed one per line.
    BoardCheck(board_cmds::BoardCheckArgs),
    /// Simulate the model's FINN dataflow accelerator cycle by cycle: per-node cycles, FIFOs,
    /// FPS, latency and resource estimates.
    Simulate(sim_cmds::SimulateArgs),
    /// Pick PE/SIMD for a target FPS as FINN's SetFolding does, within a board's LUT/BRAM
    /// budget, checked by the cycle-level simulation; writes a FINN folding config.
    FoldSearch(sim_cmds::FoldSearchArgs),
    /// Write FINN/BNN-PYNQ memory images, the folding config and a FINN build config.
    ExportHw(sim_cmds::ExportHwArgs),
    /// Write a stand-in deployment folder in FINN's layout for the model's simulated
    /// accelerator (driver.py, a .hwh with the IODMA windows, a .bit header; no bitstream), for
    /// `infer` and `watch` with `--backend sim --deploy`.
    ExportDeploy(sim_cmds::ExportDeployArgs),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let mut out = String::new();
    let result = run(cli, &mut out);
    emit(&out);
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Writes the command's output; a closed pipe (`| head`) ends it quietly, as in other tools.
fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush());
}

pub(crate) fn topology_of(args: &TopologyArgs) -> Result<Option<Topology>> {
    let Some(t) = &args.topology else { return Ok(None) };
    if model::topology::PRESETS.contains(&t.to_ascii_lowercase().as_str()) {
        return Topology::preset(t, args.classes).map(Some);
    }
    let path = Path::new(t);
    let what = format!("topology (not a preset: {})", model::topology::PRESETS.join(", "));
    let text = crate::data::read_text_input(path, &what)?;
    Topology::from_json(&text).map(Some).map_err(|e| e.in_file(path))
}

fn run(cli: Cli, out: &mut String) -> Result<()> {
    let progress = &Progress::stderr(cli.quiet);
    match cli.command {
        Command::Infer(a) => model_cmds::infer(a, out),
        Command::Eval(a) => eval_cmds::eval(*a, progress, out),
        Command::Watch(a) => watch_cmds::watch(*a, out),
        Command::Fold(a) => model_cmds::fold(a, out),
        Command::Info(a) => model_cmds::info(a, out),
        Command::Simulate(a) => sim_cmds::simulate(a, out),
        Command::FoldSearch(a) => sim_cmds::fold_search(a, progress, out),
        Command::ExportHw(a) => sim_cmds::export_hw(a, out),
        Command::ExportDeploy(a) => sim_cmds::export_deploy(a, out),
        Command::Synth(a) => synth_cmds::synth(a, progress, out),
        Command::Cam(a) => cam_cmds::cam(*a, progress, out),
        Command::Demo(a) => demo_cmds::demo(a, progress, out),
        Command::Compare(a) => cam_cmds::compare(a, progress, out),
        Command::Pack(a) => hw_cmds::pack(a, out),
        Command::Unpack(a) => hw_cmds::unpack(a, out),
        Command::DeployInfo(a) => hw_cmds::deploy_info(a, out),
        Command::Load(a) => board_cmds::load(a, out),
        Command::BoardCheck(a) => board_cmds::board_check(a, out),
    }
}
