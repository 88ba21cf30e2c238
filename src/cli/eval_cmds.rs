//! `eval`: accuracy, per-class precision and recall and a confusion matrix on labelled images.

use std::fmt::Write;
use std::path::PathBuf;

use serde_json::json;

use super::backend_args::ModelRunArgs;
use super::topology_of;
use crate::accel::{Accelerator, ClassNames};
use crate::data::synth;
use crate::engine::Engine;
use crate::error::{write_atomic, Error, Result};
use crate::eval::errors::ERRORS_OUT;
use crate::eval::{self, metrics::percent, ClassIndex, ClassMap, Dataset, Evaluation, Folder, NpyPair};
use crate::limits::{MAX_EVAL_KEPT_ERRORS, MAX_EVAL_LISTED_SKIPS};
use crate::model;
use crate::output::{check_dir, write_dir};
use crate::progress::Progress;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A Brevitas QONNX .onnx, a folded artifact .npz, or a parameter .npz.
    #[arg(long)]
    model: PathBuf,
    /// An image folder: one subfolder per class (named after a class, its index, or as
    /// --class-map says), PNG/JPEG files at any depth below it (cropped with --crop, resized
    /// with --resize). Or a uint8 images .npy (N×H×W×C) with --labels.
    #[arg(long)]
    images: PathBuf,
    /// With an images .npy: its integer labels .npy (N).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// A JSON file mapping folder names to class names or indices (models/classmaps/).
    #[arg(long)]
    class_map: Option<PathBuf>,
    /// Names of the model's classes: a comma list or a file with one per line. Default: the
    /// class map's, else binarycop's synthetic classes (4: the paper's, 3: the published
    /// deployment's), else the indices.
    #[arg(long)]
    class_names: Option<String>,
    /// Also write the results as JSON to this file (written whole or not at all).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the misclassified images (the first 1000, MAX_EVAL_KEPT_ERRORS) into this new
    /// folder, each with the deployed network's Grad-CAM for the class it predicted, and
    /// errors.csv (written whole or not at all).
    #[arg(long)]
    errors: Option<PathBuf>,
    /// The layer of the --errors Grad-CAMs (a name or index).
    #[arg(long, default_value = "Pool2")]
    errors_layer: String,
    #[command(flatten)]
    run: ModelRunArgs,
}

/// The names of `classes` classes: `--class-names`, the map's, or the defaults.
fn class_names(args: &EvalArgs, map: Option<&ClassMap>, accel: &dyn Accelerator) -> Result<Vec<String>> {
    let classes = accel.io().classes.unwrap_or(0);
    let names = match (&args.class_names, map.and_then(|m| m.class_names.clone())) {
        (Some(a), _) => ClassNames::parse(a)?,
        (None, Some(n)) => n,
        (None, None) => default_names(classes),
    };
    if names.len() != classes {
        return Err(Error::invalid(format!(
            "{} class names for the model's {classes} classes: give one per class (--class-names)",
            names.len()
        )));
    }
    Ok(names)
}

/// binarycop's models are trained on `synth` sets: 4 classes are the paper's, 3 the published
/// deployment's; other counts are named by index.
fn default_names(classes: usize) -> Vec<String> {
    let known: &[&str] = match classes {
        4 => &synth::CLASS_NAMES,
        3 => &synth::PUBLISHED_CLASS_NAMES,
        _ => &[],
    };
    if known.is_empty() {
        (0..classes).map(|k| k.to_string()).collect()
    } else {
        known.iter().map(|s| s.to_string()).collect()
    }
}

/// The dataset `--images` (and `--labels`) name.
fn dataset(args: &EvalArgs, index: &ClassIndex) -> Result<Dataset> {
    let is_npy = args.images.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    match (&args.labels, is_npy) {
        (Some(labels), true) => Ok(Dataset::Npy(NpyPair { images: args.images.clone(), labels: labels.clone() })),
        (None, true) => Err(Error::file(&args.images, "an images .npy needs its labels: --labels LABELS.npy")),
        (Some(_), false) => {
            Err(Error::invalid("--labels goes with an images .npy; a folder's classes are its subfolders"))
        }
        (None, false) => Ok(Dataset::Folder(Folder::scan(&args.images, index)?)),
    }
}

/// Refuses a `--json` destination whose folder does not exist, before the pass rather than after.
fn check_json_dest(p: &std::path::Path) -> Result<()> {
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::file(p, format!("--json: the folder {} does not exist", dir.display())))
    }
}

pub fn eval(args: EvalArgs, progress: &Progress, out: &mut String) -> Result<()> {
    args.json.as_deref().map(check_json_dest).transpose()?;
    let folded = model::load_with(&args.model, topology_of(&args.run.topo)?)?.folded;
    let topology = folded.topology.name.clone();
    // --errors: its folder and layer are checked before the pass, its CAMs come from the CPU
    // engine (the deployed network) whatever the backend.
    let errors = match &args.errors {
        Some(dir) => {
            check_dir(dir, &ERRORS_OUT)?;
            let layer = folded.topology.find_layer(&args.errors_layer)?;
            Some((dir, layer, Engine::new(folded.clone())?))
        }
        None => None,
    };
    let (accel, kernel) = args.run.on.open(Some(folded))?;
    let map = args.class_map.as_deref().map(ClassMap::load).transpose()?;
    let names = class_names(&args, map.as_ref(), accel.as_ref())?;
    let index = ClassIndex::new(names.clone(), map.as_ref())?;
    let data = dataset(&args, &index)?;
    let keep = if errors.is_some() { MAX_EVAL_KEPT_ERRORS } else { 0 };
    let ev = eval::evaluate_keeping(accel.as_ref(), &data, &args.run.prep.preprocess(), progress, keep)?;
    let backend = match kernel {
        Some(k) => format!("{} (kernel {k})", accel.name()),
        None => accel.name().to_string(),
    };
    out.push_str(&text(&args, &topology, &backend, &data, &ev, &names));
    if let Some(p) = &args.json {
        let mut report = report_json(&args, &topology, accel.as_ref(), &data, &ev, &names);
        report["kernel"] = kernel.into();
        write_atomic(p, (serde_json::to_string_pretty(&report).expect("JSON") + "\n").as_bytes())?;
        let _ = writeln!(out, "wrote {}", p.display());
    }
    if let Some((dir, layer, engine)) = &errors {
        write_dir(dir, &ERRORS_OUT, |tmp| eval::errors::write(tmp, &ev.misses, engine, *layer, &names))?;
        let wrong = ev.confusion.total() - ev.confusion.correct();
        let _ = writeln!(
            out,
            "wrote {} of {wrong} misclassified images with their Grad-CAM at {} to {}",
            ev.misses.len(),
            engine.layers()[*layer].name,
            dir.display()
        );
    }
    Ok(())
}

fn text(args: &EvalArgs, topology: &str, backend: &str, data: &Dataset, ev: &Evaluation, names: &[String]) -> String {
    let mut t = String::new();
    let c = &ev.confusion;
    let _ = writeln!(t, "eval {} ({topology}) on {}, backend {backend}", args.model.display(), args.images.display());
    if let Dataset::Folder(f) = data {
        for cf in &f.folders {
            let _ = writeln!(t, "  folder {} -> class {} {} ({} files)", cf.name, cf.class, names[cf.class], cf.files);
        }
        if !f.stray.is_empty() {
            let list: Vec<_> = f.stray.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy()).collect();
            let _ = writeln!(t, "  ignored, in no class folder: {}", list.join(", "));
        }
    }
    let _ = writeln!(t, "images: {} evaluated, {} skipped", c.total(), ev.skipped);
    let _ = writeln!(t, "accuracy: {} ({} of {})\n", percent(c.accuracy()), c.correct(), c.total());
    t.push_str(&c.text(names));
    if ev.skipped > 0 {
        let _ = writeln!(t, "\nskipped {} file(s), listed up to {MAX_EVAL_LISTED_SKIPS}:", ev.skipped);
        for s in &ev.listed {
            let _ = writeln!(t, "  {}: {}", s.path, s.why);
        }
    }
    let rate = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.0}"));
    let _ = writeln!(
        t,
        "\nbackend: {} images/s ({:.3} s); whole pass, reading and decoding included: {} images/s ({:.3} s)",
        rate(ev.backend_rate()),
        ev.backend_seconds,
        rate(ev.overall_rate()),
        ev.seconds
    );
    t
}

fn report_json(
    args: &EvalArgs,
    topology: &str,
    accel: &dyn Accelerator,
    data: &Dataset,
    ev: &Evaluation,
    names: &[String],
) -> serde_json::Value {
    let mut r = ev.confusion.to_json(names);
    let (folders, ignored): (Vec<serde_json::Value>, Vec<String>) = match data {
        Dataset::Folder(f) => (
            f.folders.iter().map(|c| json!({ "name": c.name, "class": c.class, "files": c.files })).collect(),
            f.stray.iter().map(|p| p.display().to_string()).collect(),
        ),
        Dataset::Npy(_) => (Vec::new(), Vec::new()),
    };
    let extra = json!({
        "model": args.model.display().to_string(),
        "topology": topology,
        "backend": accel.name(),
        "dataset": args.images.display().to_string(),
        "labels": args.labels.as_ref().map(|p| p.display().to_string()),
        "class_names": names,
        "folders": folders,
        "ignored": ignored,
        "skipped": ev.skipped,
        "skipped_listed": ev.listed.iter().map(|s| json!({ "path": s.path, "why": s.why })).collect::<Vec<_>>(),
        "seconds": ev.seconds,
        "backend_seconds": ev.backend_seconds,
        "images_per_second": { "backend": ev.backend_rate(), "overall": ev.overall_rate() },
    });
    r.as_object_mut().expect("object").extend(extra.as_object().cloned().expect("object"));
    r
}
