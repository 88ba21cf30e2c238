//! `infer`, `fold` and `info`: the model and the engine.

use std::fmt::Write;
use std::path::PathBuf;

use ndarray::Axis;
use ndarray_npy::WriteNpyExt;

use super::{topology_of, TopologyArgs};
use crate::accel::{self, Accelerator, CpuAccel, SimAccel, ZynqAccel, ZynqOptions, ZynqSource};
use crate::engine::{kernels, top_k};
use crate::error::{write_atomic, Error, Result};
use crate::model::{self, artifact};

/// Where `infer` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The bit-packed engine: labels and scores.
    Cpu,
    /// hw's IODMA driver against the simulated FINN accelerator: labels only.
    Sim,
    /// hw's IODMA driver on a Zynq board: labels only.
    Zynq,
}

#[derive(clap::Args)]
pub struct InferArgs {
    /// A Brevitas QONNX .onnx, a folded artifact .npz, or a parameter .npz.
    #[arg(long)]
    model: PathBuf,
    /// A uint8 .npy (N×H×W×C) or image files (PNG/JPEG, resized to the model input).
    #[arg(long, required = true, num_args = 1..)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    topo: TopologyArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Write the class scores as int32 (N, classes) .npy.
    #[arg(long)]
    save_scores: Option<PathBuf>,
    /// How many labels to report per image, best first.
    #[arg(long, default_value_t = 1)]
    top_k: usize,
    /// Where to run. `sim` and `zynq` end in FINN's LabelSelect and return the top-1 label
    /// only: their table and JSON give input and label, without top-k, scores or logits
    /// (--top-k above 1 and --save-scores need the cpu backend).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// sim: a FINN folding_config.json or a paper preset (cnv, ncnv, ucnv); default: the
    /// paper's folding when the model has a paper preset's layer shapes.
    #[arg(long)]
    folding: Option<String>,
    /// zynq: a FINN deployment folder (.hwh and .bit; the bitstream must already be loaded).
    #[arg(long, conflicts_with = "accel_config")]
    deploy: Option<PathBuf>,
    /// zynq: a JSON accelerator description (IODMA windows as UIO names or physical ranges,
    /// u-dma-buf buffer names) instead of --deploy.
    #[arg(long)]
    accel_config: Option<PathBuf>,
    /// zynq: map IODMA windows through /dev/mem where no UIO device has their name (root).
    #[arg(long)]
    allow_devmem: bool,
    /// cpu, sim: tap a layer (name like Conv2_1, or index) and write its output for every image
    /// to --save-tap: int8 ±1 maps N×H×W×C, or int32 accumulators for the last layer.
    #[arg(long, requires = "save_tap")]
    tap: Option<String>,
    /// The .npy the tapped layer is written to.
    #[arg(long, requires = "tap")]
    save_tap: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct FoldArgs {
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    topo: TopologyArgs,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct InfoArgs {
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    topo: TopologyArgs,
    #[arg(long)]
    json: bool,
}

/// The backend `infer` asked for, and the engine's kernel name for the cpu one.
fn open_backend(args: &InferArgs, folded: model::FoldedModel) -> Result<(Box<dyn Accelerator>, Option<&'static str>)> {
    let zynq_flags = args.deploy.is_some() || args.accel_config.is_some() || args.allow_devmem;
    if args.backend != Backend::Zynq && zynq_flags {
        return Err(Error::invalid("--deploy, --accel-config and --allow-devmem apply to --backend zynq"));
    }
    if args.backend != Backend::Sim && args.folding.is_some() {
        return Err(Error::invalid("--folding applies to --backend sim"));
    }
    Ok(match args.backend {
        Backend::Cpu => {
            let a = CpuAccel::new(folded)?;
            let kernel = a.engine().kernel().name();
            (Box::new(a), Some(kernel))
        }
        Backend::Sim => {
            let cfg = accel::sim::folding_for(&folded, args.folding.as_deref())?;
            (Box::new(SimAccel::new(folded, &cfg)?), None)
        }
        Backend::Zynq => {
            let source = match (&args.deploy, &args.accel_config) {
                (Some(d), _) => ZynqSource::Deploy(d.clone()),
                (None, Some(j)) => ZynqSource::Json(j.clone()),
                (None, None) => {
                    return Err(Error::invalid(
                        "--backend zynq needs --deploy DIR (a FINN deployment folder) or --accel-config FILE.json",
                    ))
                }
            };
            let opts = ZynqOptions { allow_devmem: args.allow_devmem, ..Default::default() };
            (Box::new(ZynqAccel::open(folded, &source, &opts)?), None)
        }
    })
}

fn npy<A: WriteNpyExt>(a: &A, p: &std::path::Path) -> Result<()> {
    let mut buf = Vec::new();
    a.write_npy(&mut buf).map_err(|e| Error::file(p, format!("cannot encode: {e}")))?;
    write_atomic(p, &buf)
}

pub fn infer(args: InferArgs, out: &mut String) -> Result<()> {
    let loaded = model::load_with(&args.model, topology_of(&args.topo)?)?;
    let (accel, kernel) = open_backend(&args, loaded.folded)?;
    let InferArgs { model, images, json, save_scores, top_k: k, tap, save_tap, .. } = args;
    let m = accel.model();
    let classes = m.topology.classes();
    if k == 0 || k > classes {
        return Err(Error::invalid(format!("--top-k must be between 1 and {classes} (the classes)")));
    }
    if !accel.has_scores() && (k > 1 || save_scores.is_some()) {
        return Err(Error::invalid(format!(
            "--top-k above 1 and --save-scores need scores; the {} backend returns LabelSelect's top-1 label only",
            accel.name()
        )));
    }
    let tap = tap.map(|t| m.topology.find_layer(&t)).transpose()?;
    let (batch, names) = crate::data::load_images(&images, m.topology.input)?;
    let result = accel.run(batch.view(), tap.as_slice())?;
    if let (Some(p), Some(scores)) = (&save_scores, &result.scores) {
        npy(scores, p)?;
    }
    let mut tap_note = None;
    if let (Some(t), Some(p)) = (result.taps.first(), &save_tap) {
        let layer = &m.resolved()[t.layer];
        let binary = t.layer + 1 < m.topology.layers.len();
        if binary {
            npy(&t.values.mapv(|v| v as i8), p)?;
        } else {
            npy(&t.values, p)?;
        }
        let what = if binary { "int8 ±1" } else { "int32 accumulators" };
        tap_note = Some((layer.name.clone(), format!("{} ({what})", layer.output), p.display().to_string()));
    }
    let rows: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| match &result.scores {
            Some(scores) => {
                let s: Vec<i32> = scores.index_axis(Axis(0), i).to_vec();
                serde_json::json!({
                    "input": name,
                    "label": result.labels[i],
                    "top_k": top_k(&s, k),
                    "scores": s,
                    "logits": m.logits(&s),
                })
            }
            None => serde_json::json!({ "input": name, "label": result.labels[i] }),
        })
        .collect();
    if json {
        let mut report = serde_json::json!({
            "model": model.display().to_string(),
            "topology": m.topology.name,
            "backend": accel.name(),
            "results": rows,
        });
        if let Some(kernel) = kernel {
            report["kernel"] = kernel.into();
        }
        if let Some((layer, shape, file)) = &tap_note {
            report["tap"] = serde_json::json!({ "layer": layer, "shape": shape, "file": file });
        }
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("JSON"));
    } else {
        let width = names.iter().map(String::len).max().unwrap_or(5).max(5);
        if result.scores.is_some() {
            let _ = writeln!(out, "{:width$}  {:>5}  {:<10}  scores", "input", "label", "top-k");
        } else {
            let _ = writeln!(out, "{:width$}  {:>5}", "input", "label");
        }
        for r in &rows {
            let (input, label) = (r["input"].as_str().unwrap_or(""), r["label"].as_u64().unwrap_or_default());
            if result.scores.is_none() {
                let _ = writeln!(out, "{input:width$}  {label:>5}");
                continue;
            }
            let tk: Vec<String> = r["top_k"].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
            let sc: Vec<String> = r["scores"].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
            let _ = writeln!(out, "{input:width$}  {label:>5}  {:<10}  {}", tk.join(","), sc.join(" "));
        }
        if let Some((layer, shape, file)) = &tap_note {
            let _ = writeln!(out, "tap {layer}: {shape} for {} images written to {file}", names.len());
        }
    }
    Ok(())
}

pub fn fold(args: FoldArgs, out: &mut String) -> Result<()> {
    let FoldArgs { model, topo, out: dest } = args;

    let loaded = model::load_with(&model, topology_of(&topo)?)?;
    artifact::save(&loaded.folded, &dest)?;
    let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    let _ = writeln!(
        out,
        "folded {} ({}) into {} ({} bytes)",
        model.display(),
        loaded.folded.topology.name,
        dest.display(),
        size
    );
    if let Some(trained) = &loaded.trained {
        let _ = writeln!(out, "{}", model::streamline::near_ties_text(&model::streamline::near_ties(trained)?));
    }
    Ok(())
}

pub fn info(args: InfoArgs, out: &mut String) -> Result<()> {
    let InfoArgs { model, topo, json } = args;

    let loaded = model::load_with(&model, topology_of(&topo)?)?;
    let info = model::describe(&loaded.folded);
    let kernel = kernels::best()?;
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&info).expect("JSON"));
    } else {
        out.push_str(&model::describe_text(&info));
        let _ = writeln!(out, "kernel on this machine: {}", kernel.name());
    }
    Ok(())
}
