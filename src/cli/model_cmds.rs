//! `infer`, `fold` and `info`: the model and the engine.

use std::fmt::Write;
use std::path::PathBuf;

use ndarray::Axis;
use ndarray_npy::WriteNpyExt;

use super::backend_args::{Backend, ModelRunArgs};
use super::{topology_of, TopologyArgs};
use crate::accel::{self, crosscheck, Accelerator, ClassNames, CpuAccel};
use crate::engine::{kernels, top_k};
use crate::error::{write_atomic, Error, Result};
use crate::model::{self, artifact};

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
    run: ModelRunArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Write the class scores as int32 (N, classes) .npy.
    #[arg(long)]
    save_scores: Option<PathBuf>,
    /// How many labels to report per image, best first.
    #[arg(long, default_value_t = 1)]
    top_k: usize,
    /// Names for the labels: "Correctly Masked,Incorrectly Worn,No Mask", or a file with one
    /// name per line. One per class of the model; without a model, labels beyond them are errors.
    #[arg(long)]
    class_names: Option<String>,
    /// sim, zynq with a model: the CPU engine also classifies the images, and images whose
    /// labels differ are reported (count and indices). `fail`: exit 1 if any differ.
    #[arg(long, value_enum, default_value_t = CpuCheck::Fail)]
    cpu_check: CpuCheck,
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

fn npy<A: WriteNpyExt>(a: &A, p: &std::path::Path) -> Result<()> {
    let mut buf = Vec::new();
    a.write_npy(&mut buf).map_err(|e| Error::file(p, format!("cannot encode: {e}")))?;
    write_atomic(p, &buf)
}

/// The CPU engine for the cross-check, when an accelerator runs a model and it is wanted.
fn cpu_checker(args: &InferArgs, accel: &dyn Accelerator) -> Result<Option<CpuAccel>> {
    match (args.run.on.backend, args.cpu_check, accel.model()) {
        (Backend::Sim | Backend::Zynq, CpuCheck::Fail | CpuCheck::Report, Some(m)) => {
            Ok(Some(CpuAccel::new(m.clone())?))
        }
        _ => Ok(None),
    }
}

pub fn infer(args: InferArgs, out: &mut String) -> Result<()> {
    let folded = match &args.model {
        Some(p) => Some(model::load_with(p, topology_of(&args.run.topo)?)?.folded),
        None => None,
    };
    let (accel, kernel) = args.run.on.open(folded)?;
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
    let (batch, inputs) = crate::data::load_images(&args.images, io.image, &args.run.prep.preprocess())?;
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
        if let Some(d) = &args.run.on.deploy {
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
