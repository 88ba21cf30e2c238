//! `infer`, `fold` and `info`: the model and the engine.

use std::fmt::Write;
use std::path::PathBuf;

use ndarray::Axis;
use ndarray_npy::WriteNpyExt;

use super::{topology_of, TopologyArgs};
use crate::engine::{kernels, top_k, Engine};
use crate::error::{write_atomic, Error, Result};
use crate::model::{self, artifact};

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

pub fn infer(args: InferArgs, out: &mut String) -> Result<()> {
    let InferArgs { model, images, topo, json, save_scores, top_k: k } = args;

    let loaded = model::load_with(&model, topology_of(&topo)?)?;
    let engine = Engine::new(loaded.folded)?;
    if k == 0 || k > engine.classes() {
        return Err(Error::invalid(format!("--top-k must be between 1 and {} (the classes)", engine.classes())));
    }
    let (batch, names) = crate::data::load_images(&images, engine.input_shape())?;
    let scores = engine.run_batch(batch.view())?;
    if let Some(p) = &save_scores {
        let mut buf = Vec::new();
        scores.write_npy(&mut buf).map_err(|e| Error::file(p, format!("cannot encode: {e}")))?;
        write_atomic(p, &buf)?;
    }
    let rows: Vec<serde_json::Value> = scores
        .axis_iter(Axis(0))
        .zip(&names)
        .map(|(s, name)| {
            let s: Vec<i32> = s.to_vec();
            serde_json::json!({
                "input": name,
                "label": top_k(&s, 1)[0],
                "top_k": top_k(&s, k),
                "scores": s,
                "logits": engine.model().logits(&s),
            })
        })
        .collect();
    if json {
        let report = serde_json::json!({
            "model": model.display().to_string(),
            "topology": engine.model().topology.name,
            "kernel": engine.kernel().name(),
            "results": rows,
        });
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("JSON"));
    } else {
        let width = names.iter().map(String::len).max().unwrap_or(5).max(5);
        let _ = writeln!(out, "{:width$}  {:>5}  {:<10}  scores", "input", "label", "top-k");
        for r in &rows {
            let tk: Vec<String> = r["top_k"].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
            let sc: Vec<String> = r["scores"].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
            let _ = writeln!(
                out,
                "{:width$}  {:>5}  {:<10}  {}",
                r["input"].as_str().unwrap_or(""),
                r["label"].as_u64().unwrap_or_default(),
                tk.join(","),
                sc.join(" ")
            );
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
    Ok(())
}

pub fn info(args: InfoArgs, out: &mut String) -> Result<()> {
    let InfoArgs { model, topo, json } = args;

    let loaded = model::load_with(&model, topology_of(&topo)?)?;
    let info = model::describe(&loaded.folded);
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&info).expect("JSON"));
    } else {
        out.push_str(&model::describe_text(&info));
        let _ = writeln!(out, "kernel on this machine: {}", kernels::best().name());
    }
    Ok(())
}
