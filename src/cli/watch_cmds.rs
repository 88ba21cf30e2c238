//! `watch`: the live loop (frames → preprocess → accelerator → label and FPS), optionally on a
//! local web page with the deployed CAM.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{topology_of, PreprocessArgs, TopologyArgs};
use crate::accel::{
    self, Accelerator, ClassNames, CpuAccel, SimAccel, SimAccelConfig, ZynqAccel, ZynqOptions, ZynqSource,
};
use crate::cam::methods;
use crate::error::{Error, Result};
use crate::model;
use crate::watch::{self, serve::Server, CamSpec, Options, Outcome, Summary, Watcher};

/// Raised by Ctrl-C; the loop stops between frames.
static STOP: AtomicBool = AtomicBool::new(false);

/// Where `watch` classifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchBackend {
    /// The bit-packed engine.
    Cpu,
    /// hw's IODMA driver against the simulated FINN accelerator (the board's code path).
    Sim,
    /// hw's IODMA driver on a Zynq board, with --deploy (the bitstream already loaded).
    Zynq,
}

#[derive(clap::Args)]
pub struct WatchArgs {
    /// A Brevitas QONNX .onnx, a folded artifact .npz, or a parameter .npz. Optional with
    /// `--backend zynq --deploy DIR` (labels only: the CAM overlay needs a model).
    #[arg(long)]
    model: Option<PathBuf>,
    #[command(flatten)]
    topo: TopologyArgs,
    /// The frames: a folder of PNG/JPEG frames (in name order), a .y4m video (8-bit), another
    /// video file through ffmpeg (when ffmpeg and ffprobe are on PATH), or a V4L2 camera
    /// /dev/videoN (a build with --features camera).
    #[arg(long)]
    source: String,
    #[command(flatten)]
    prep: PreprocessArgs,
    #[arg(long, value_enum, default_value_t = WatchBackend::Cpu)]
    backend: WatchBackend,
    /// sim: a FINN folding_config.json or a paper preset (cnv, ncnv, ucnv); default: the
    /// model's topology when it is a preset.
    #[arg(long)]
    folding: Option<String>,
    /// sim, zynq: a FINN deployment folder (driver.py, .hwh, .bit; for sim e.g. one
    /// `export-deploy` wrote): frames go to the accelerator in driver.py's shapes, through the
    /// .hwh's register windows. A model, when given, must match it (input H×W×C, classes
    /// within odt).
    #[arg(long)]
    deploy: Option<PathBuf>,
    /// zynq: map IODMA windows through /dev/mem where no UIO device has their name, and check
    /// PL clock 0 in the PS clock registers (root).
    #[arg(long)]
    allow_devmem: bool,
    #[command(flatten)]
    pl: super::board_cmds::PlArgs,
    /// Start a folder or video over at its end (until Ctrl-C or --max-frames).
    #[arg(long = "loop")]
    repeat: bool,
    /// Stop after this many frames.
    #[arg(long)]
    max_frames: Option<u64>,
    /// At most this many frames per second (a folder or video plays at this rate).
    #[arg(long)]
    max_fps: Option<f64>,
    /// Print every Nth frame (the summary counts all of them).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// One JSON object per printed frame and one for the summary (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Names for the labels, comma-separated, e.g. "Correctly Masked,Incorrectly Worn,No Mask".
    #[arg(long, value_delimiter = ',')]
    class_names: Vec<String>,
    /// Serve the annotated frame (label, FPS, the deployed CAM) on a local web page at this
    /// address, e.g. 127.0.0.1:8080 (port 0: any free port; the address is printed).
    #[arg(long)]
    serve: Option<String>,
    /// With --serve: keep serving the last frame after the input ends, until Ctrl-C.
    #[arg(long, requires = "serve")]
    hold: bool,
    /// With --serve: the CAM method overlaid on the frame (computed on the CPU for the
    /// accelerator's label), or `none`. Default: the demo's fine map, LayerCAM with the
    /// identity STE.
    #[arg(long, default_value = crate::demo::FINE.0)]
    cam_method: String,
    /// With --serve: the CAM's layer.
    #[arg(long, default_value = crate::demo::FINE.1)]
    cam_layer: String,
}

fn open_backend(args: &WatchArgs, folded: Option<model::FoldedModel>) -> Result<Box<dyn Accelerator>> {
    let b = args.backend;
    if b != WatchBackend::Sim && args.folding.is_some() {
        return Err(Error::invalid("--folding applies to --backend sim"));
    }
    if b == WatchBackend::Cpu && args.deploy.is_some() {
        return Err(Error::invalid("--deploy applies to --backend sim and zynq"));
    }
    if b != WatchBackend::Zynq && (args.allow_devmem || args.pl.any()) {
        return Err(Error::invalid("--allow-devmem, --set-clock and --pl-loaded apply to --backend zynq"));
    }
    let need_model = || {
        Error::invalid(
            format!("--backend {b:?} needs --model (only zynq runs without one, from --deploy)").to_lowercase(),
        )
    };
    Ok(match b {
        WatchBackend::Cpu => Box::new(CpuAccel::new(folded.ok_or_else(need_model)?)?),
        WatchBackend::Sim => {
            let folded = folded.ok_or_else(need_model)?;
            let folding = accel::sim::folding_for(&folded, args.folding.as_deref())?;
            let cfg = SimAccelConfig { deploy: args.deploy.clone(), ..Default::default() };
            Box::new(SimAccel::with_config(folded, &folding, cfg)?)
        }
        WatchBackend::Zynq => {
            let dir = args
                .deploy
                .clone()
                .ok_or_else(|| Error::invalid("--backend zynq needs --deploy DIR (a FINN deployment folder)"))?;
            let opts = ZynqOptions { allow_devmem: args.allow_devmem, checks: args.pl.checks(), ..Default::default() };
            Box::new(ZynqAccel::open(&ZynqSource::Deploy(dir), &opts, folded)?)
        }
    })
}

/// The CAM overlay asked for; None without --serve, with `--cam-method none`, or without a
/// model (said on stderr).
fn cam_spec(args: &WatchArgs, m: Option<&model::FoldedModel>) -> Result<Option<CamSpec>> {
    if args.serve.is_none() || args.cam_method.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let Some(m) = m else {
        eprintln!("note: no CAM overlay on the page: it is computed from the model, and no --model was given");
        return Ok(None);
    };
    let layer = m.topology.find_layer(&args.cam_layer).map_err(|e| Error::invalid(format!("--cam-layer: {e}")))?;
    Ok(Some(CamSpec { method: methods::by_name(&args.cam_method)?, layer, ste: crate::demo::FINE.2 }))
}

/// One frame's report, as JSON (the page's status, and --json's lines).
fn status(o: &Outcome, names: &[String]) -> serde_json::Value {
    serde_json::json!({
        "frame": o.index,
        "name": o.name,
        "label": o.label,
        "class": names.get(o.label),
        "fps": (o.fps * 10.0).round() / 10.0,
        "infer_ms": (o.infer_ms * 1000.0).round() / 1000.0,
    })
}

/// The run's end; labels beyond the known classes (none without a model) only when they came.
fn summary_line(s: &Summary, names: &[String], classes: usize) -> String {
    let labels: Vec<String> = s
        .labels
        .iter()
        .enumerate()
        .filter(|(k, n)| *k < classes || **n > 0)
        .map(|(k, n)| match names.get(k) {
            Some(name) => format!("{k} {name} ×{n}"),
            None => format!("{k} ×{n}"),
        })
        .collect();
    format!(
        "watched {} frames in {:.2} s ({:.1} fps){}; labels: {}",
        s.frames,
        s.seconds,
        s.fps(),
        if s.interrupted { ", stopped by Ctrl-C" } else { "" },
        labels.join(", ")
    )
}

pub fn watch(args: WatchArgs, out: &mut String) -> Result<()> {
    let folded = match &args.model {
        Some(p) => Some(model::load_with(p, topology_of(&args.topo)?)?.folded),
        None => None,
    };
    let accel = open_backend(&args, folded)?;
    let io = accel.io().clone();
    let classes = io.classes.unwrap_or(args.class_names.len());
    if !args.class_names.is_empty() {
        ClassNames::new(args.class_names.clone(), &io)?;
    }
    let cam = cam_spec(&args, accel.model())?;
    let prep = args.prep.preprocess();
    let watcher = Watcher::new(accel.as_ref(), prep, cam)?;
    let mut source = watch::source::open(&args.source, args.repeat)?;
    let server = args.serve.as_deref().map(|a| Server::start(a, &source.describe())).transpose()?;
    if ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)).is_err() {
        eprintln!("warning: cannot catch Ctrl-C; the loop stops at the end of the input or --max-frames");
    }
    let mut stdout = std::io::stdout().lock();
    if !args.json {
        let through = args.deploy.as_ref().map_or(String::new(), |d| format!(" through {}", d.display()));
        let _ = writeln!(
            stdout,
            "watching {} with {} on the {} backend{through}, {} → {}",
            source.describe(),
            args.model
                .as_ref()
                .map_or("no model (labels from the deployment)".to_string(), |p| p.display().to_string()),
            accel.name(),
            prep.describe(),
            accel.io().image
        );
    }
    if let Some(s) = &server {
        if !s.addr().ip().is_loopback() {
            eprintln!("warning: serving on {}, which is not a loopback address: others can see the frames", s.addr());
        }
        eprintln!("serving the annotated frames at http://{}/", s.addr());
    }
    let opts = Options { max_frames: args.max_frames, max_fps: args.max_fps };
    let names = &args.class_names;
    let summary = watcher.run(source.as_mut(), &opts, &STOP, &mut |o| {
        let st = status(o, names);
        if o.index % args.every == 0 {
            // A closed stdout (`| head`) only stops the printing.
            let _ = if args.json {
                writeln!(stdout, "{st}")
            } else {
                let class = names.get(o.label).map_or(String::new(), |n| format!(" {n}"));
                // The rate needs two frames.
                let fps = if o.index == 0 { "first frame".to_string() } else { format!("{:.1} fps", o.fps) };
                writeln!(
                    stdout,
                    "frame {} {}: {}{class}  ({fps}, inference {:.2} ms)",
                    o.index, o.name, o.label, o.infer_ms
                )
            };
            let _ = stdout.flush();
        }
        if let Some(s) = &server {
            s.publish(st, crate::cam::render::png_bytes(&watch::annotate(o, 4))?);
        }
        Ok(())
    })?;
    if let Some(s) = &server {
        s.end();
        if args.hold && !summary.interrupted {
            eprintln!("the input ended; serving the last frame at http://{}/ until Ctrl-C", s.addr());
            while !STOP.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    if args.json {
        let s = serde_json::json!({ "summary": {
            "frames": summary.frames,
            "seconds": summary.seconds,
            "fps": summary.fps(),
            "labels": summary.labels,
            "interrupted": summary.interrupted,
        }});
        out.push_str(&format!("{s}\n"));
    } else {
        out.push_str(&summary_line(&summary, names, classes));
        out.push('\n');
    }
    Ok(())
}
