//! `infer`, `fold` and `info`: the model and the engine.

use std::fmt::Write;
use std::path::PathBuf;

use ndarray::Axis;
use ndarray_npy::WriteNpyExt;

use super::{topology_of, PreprocessArgs, TopologyArgs};
use crate::accel::{
    self, crosscheck, Accelerator, ClassNames, CpuAccel, SimAccel, SimAccelConfig, ZynqAccel, ZynqOptions, ZynqSource,
};
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

/// What `infer` does with the CPU engine's labels when an accelerator ran a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuCheck {
    /// Report the images whose labels differ and exit 1 if there are any.
    Fail,
    /// Report them and exit 0.
    Report,
    /// Do not run the engine.
    Off,
}

#[derive(clap::Args)]
pub struct InferArgs {
    /// A Brevitas QONNX .onnx, a folded artifact .npz, or a parameter .npz. Optional with
    /// `--backend zynq --deploy DIR`: the deployment's driver.py then shapes inputs and labels.
    #[arg(long)]
    model: Option<PathBuf>,
    /// A uint8 .npy (N×H×W×C, the input as it is) or image files (PNG/JPEG: cropped with
    /// --crop, resized to the input size with --resize, default cv2).
    #[arg(long, required = true, num_args = 1..)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    topo: TopologyArgs,
    #[command(flatten)]
    prep: PreprocessArgs,
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
    /// zynq, sim: a FINN deployment folder: driver.py (its io_shape_dict sizes every frame),
    /// the .hwh and .bit (directly or in bitfile/), optional runtime_weights/. zynq: the
    /// bitstream must already be loaded. sim: the simulated device takes driver.py's frames.
    /// A model, when given, must match it (input H×W×C, classes within odt).
    #[arg(long, conflicts_with = "accel_config")]
    deploy: Option<PathBuf>,
    /// zynq: a JSON accelerator description (the deployment's driver.py, IODMA windows as UIO
    /// names or physical ranges, u-dma-buf buffer names) instead of --deploy.
    #[arg(long)]
    accel_config: Option<PathBuf>,
    /// zynq: map IODMA windows through /dev/mem where no UIO device has their name, and check
    /// PL clock 0 in the PS clock registers (root).
    #[arg(long)]
    allow_devmem: bool,
    /// Names for the labels: "Correctly Masked,Incorrectly Worn,No Mask", or a file with one
    /// name per line. One per class of the model; without a model, labels beyond them are errors.
    #[arg(long)]
    class_names: Option<String>,
    /// sim, zynq with a model: the CPU engine also classifies the images, and images whose
    /// labels differ are reported (count and indices). `fail`: exit 1 if any differ.
    #[arg(long, value_enum, default_value_t = CpuCheck::Fail)]
    cpu_check: CpuCheck,
    #[command(flatten)]
    pl: super::board_cmds::PlArgs,
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
fn open_backend(
    args: &InferArgs,
    folded: Option<model::FoldedModel>,
) -> Result<(Box<dyn Accelerator>, Option<&'static str>)> {
    let zynq_flags = args.accel_config.is_some() || args.allow_devmem || args.pl.any();
    if args.backend != Backend::Zynq && zynq_flags {
        return Err(Error::invalid(
            "--accel-config, --allow-devmem, --set-clock and --pl-loaded apply to --backend zynq",
        ));
    }
    if args.backend == Backend::Cpu && args.deploy.is_some() {
        return Err(Error::invalid("--deploy applies to --backend zynq and sim"));
    }
    if args.backend != Backend::Sim && args.folding.is_some() {
        return Err(Error::invalid("--folding applies to --backend sim"));
    }
    let need_model = || Error::invalid(format!("--backend {:?} needs --model", args.backend).to_lowercase());
    Ok(match args.backend {
        Backend::Cpu => {
            let a = CpuAccel::new(folded.ok_or_else(need_model)?)?;
            let kernel = a.engine().kernel().name();
            (Box::new(a), Some(kernel))
        }
        Backend::Sim => {
            let folded = folded.ok_or_else(need_model)?;
            let folding = accel::sim::folding_for(&folded, args.folding.as_deref())?;
            let cfg = SimAccelConfig { deploy: args.deploy.clone(), ..Default::default() };
            (Box::new(SimAccel::with_config(folded, &folding, cfg)?), None)
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
            let opts = ZynqOptions { allow_devmem: args.allow_devmem, checks: args.pl.checks(), ..Default::default() };
            (Box::new(ZynqAccel::open(&source, &opts, folded)?), None)
        }
    })
}

fn npy<A: WriteNpyExt>(a: &A, p: &std::path::Path) -> Result<()> {
    let mut buf = Vec::new();
    a.write_npy(&mut buf).map_err(|e| Error::file(p, format!("cannot encode: {e}")))?;
    write_atomic(p, &buf)
}

/// The CPU engine for the cross-check, when an accelerator runs a model and it is wanted.
fn cpu_checker(args: &InferArgs, accel: &dyn Accelerator) -> Result<Option<CpuAccel>> {
    match (args.backend, args.cpu_check, accel.model()) {
        (Backend::Sim | Backend::Zynq, CpuCheck::Fail | CpuCheck::Report, Some(m)) => {
            Ok(Some(CpuAccel::new(m.clone())?))
        }
        _ => Ok(None),
    }
}

pub fn infer(args: InferArgs, out: &mut String) -> Result<()> {
    let folded = match &args.model {
        Some(p) => Some(model::load_with(p, topology_of(&args.topo)?)?.folded),
        None => None,
    };
    let (accel, kernel) = open_backend(&args, folded)?;
    let checker = cpu_checker(&args, accel.as_ref())?;
    let io = accel.io().clone();
    let names = args.class_names.as_deref().map(|a| ClassNames::new(ClassNames::parse(a)?, &io)).transpose()?;
    let k = args.top_k;
    if !accel.has_scores() && (k > 1 || args.save_scores.is_some()) {
        return Err(Error::invalid(format!(
            "--top-k above 1 and --save-scores need scores; the {} backend returns LabelSelect's top-1 label only",
            accel.name()
        )));
    }
    let classes = io.classes.unwrap_or(1);
    if k == 0 || k > classes {
        return Err(Error::invalid(format!("--top-k must be between 1 and {classes} (the classes)")));
    }
    let tap = match (&args.tap, accel.model()) {
        (Some(t), Some(m)) => Some(m.topology.find_layer(t)?),
        (Some(_), None) => return Err(Error::invalid("--tap needs --model")),
        (None, _) => None,
    };
    let (batch, inputs) = crate::data::load_images(&args.images, io.image, &args.prep.preprocess())?;
    let result = accel.run(batch.view(), tap.as_slice())?;
    let check = checker.map(|cpu| crosscheck::against_cpu(&cpu, batch.view(), &result)).transpose()?;
    if let (Some(p), Some(scores)) = (&args.save_scores, &result.scores) {
        npy(scores, p)?;
    }
    let tap_note = match (result.taps.first(), &args.save_tap, accel.model()) {
        (Some(t), Some(p), Some(m)) => Some(save_tap(m, t, p)?),
        _ => None,
    };
    let rows = result_rows(&inputs, &result, accel.model(), names.as_ref(), k)?;
    if args.json {
        let mut report = serde_json::json!({
            "model": args.model.as_ref().map(|p| p.display().to_string()),
            "topology": accel.model().map(|m| m.topology.name.clone()),
            "backend": accel.name(),
            "results": rows,
        });
        if let Some(d) = &args.deploy {
            report["deploy"] = d.display().to_string().into();
        }
        if let Some(kernel) = kernel {
            report["kernel"] = kernel.into();
        }
        if let Some((layer, shape, file)) = &tap_note {
            report["tap"] = serde_json::json!({ "layer": layer, "shape": shape, "file": file });
        }
        if let Some(c) = &check {
            report["cpu_check"] = serde_json::json!({ "checked": c.checked, "mismatches": c.mismatches });
        }
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("JSON"));
    } else {
        out.push_str(&result_table(&rows, result.scores.is_some(), names.is_some()));
        if let Some((layer, shape, file)) = &tap_note {
            let _ = writeln!(out, "tap {layer}: {shape} for {} images written to {file}", inputs.len());
        }
        if let Some(c) = &check {
            let _ = writeln!(out, "cpu check: {}", c.summary(accel.name()));
        }
    }
    match check {
        Some(c) if !c.agrees() && args.cpu_check == CpuCheck::Fail => {
            Err(Error::invalid(format!("{} (--cpu-check report prints this and exits 0)", c.summary(accel.name()))))
        }
        _ => Ok(()),
    }
}

/// Writes a tapped layer; (layer name, shape and kind, file) for the report.
fn save_tap(m: &model::FoldedModel, t: &accel::Tap, p: &std::path::Path) -> Result<(String, String, String)> {
    let layer = &m.resolved()[t.layer];
    let binary = t.layer + 1 < m.topology.layers.len();
    if binary {
        npy(&t.values.mapv(|v| v as i8), p)?;
    } else {
        npy(&t.values, p)?;
    }
    let what = if binary { "int8 ±1" } else { "int32 accumulators" };
    Ok((layer.name.clone(), format!("{} ({what})", layer.output), p.display().to_string()))
}

/// One JSON object per image: input, label, class name, and with scores top-k, scores, logits.
fn result_rows(
    inputs: &[String],
    result: &accel::Outputs,
    m: Option<&model::FoldedModel>,
    names: Option<&ClassNames>,
    k: usize,
) -> Result<Vec<serde_json::Value>> {
    let mut rows = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let label = result.labels[i];
        let mut row = serde_json::json!({ "input": input, "label": label });
        if let Some(n) = names {
            row["class"] = n.name(label)?.into();
        }
        if let (Some(scores), Some(m)) = (&result.scores, m) {
            let s: Vec<i32> = scores.index_axis(Axis(0), i).to_vec();
            row["top_k"] = serde_json::json!(top_k(&s, k));
            row["logits"] = serde_json::json!(m.logits(&s));
            row["scores"] = serde_json::json!(s);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The rows as a table: input, label, class name when given, and top-k and scores when there are.
fn result_table(rows: &[serde_json::Value], scores: bool, named: bool) -> String {
    let mut t = String::new();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let list = |v: &serde_json::Value, sep: &str| -> String {
        v.as_array().into_iter().flatten().map(|x| x.to_string()).collect::<Vec<_>>().join(sep)
    };
    let width = rows.iter().map(|r| text(&r["input"]).len()).max().unwrap_or(5).max(5);
    let cw = rows.iter().map(|r| text(&r["class"]).len()).max().unwrap_or(5).max(5);
    let mut head = format!("{:width$}  {:>5}", "input", "label");
    if named {
        let _ = write!(head, "  {:cw$}", "class");
    }
    if scores {
        let _ = write!(head, "  {:<10}  scores", "top-k");
    }
    let _ = writeln!(t, "{}", head.trim_end());
    for r in rows {
        let mut line = format!("{:width$}  {:>5}", text(&r["input"]), r["label"].as_u64().unwrap_or_default());
        if named {
            let _ = write!(line, "  {:cw$}", text(&r["class"]));
        }
        if scores {
            let _ = write!(line, "  {:<10}  {}", list(&r["top_k"], ","), list(&r["scores"], " "));
        }
        let _ = writeln!(t, "{}", line.trim_end());
    }
    t
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
