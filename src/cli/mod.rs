//! The `binarycop` command. Each subcommand wires library pieces together and holds no logic of
//! its own.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use ndarray::Axis;
use ndarray_npy::WriteNpyExt;

use crate::engine::{kernels, top_k, Engine};
use crate::error::{write_atomic, Error, Result};
use crate::model::{self, artifact, Topology};

#[derive(Parser)]
#[command(
    name = "binarycop",
    version,
    about = "Run binarized CNNs bit-exactly as the FINN accelerator does, and look inside them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How to find a model's topology when its file does not carry one.
#[derive(clap::Args)]
struct TopologyArgs {
    /// For a parameter .npz without an embedded topology: a preset (cnv, ncnv, ucnv) or a
    /// topology JSON file.
    #[arg(long)]
    topology: Option<String>,
    /// Classes of a preset topology.
    #[arg(long, default_value_t = 4)]
    classes: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Classify images with the bit-exact engine.
    Infer {
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
    },
    /// Fold a trained model into the deployable artifact.
    Fold {
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        topo: TopologyArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// Describe a model: layers, shapes, parameters, bytes, operations per image.
    Info {
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        topo: TopologyArgs,
        #[arg(long)]
        json: bool,
    },
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

fn topology_of(args: &TopologyArgs) -> Result<Option<Topology>> {
    let Some(t) = &args.topology else { return Ok(None) };
    if model::topology::PRESETS.contains(&t.to_ascii_lowercase().as_str()) {
        return Topology::preset(t, args.classes).map(Some);
    }
    let path = Path::new(t);
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::file(path, format!("cannot read topology (not a preset: {}): {e}", model::topology::PRESETS.join(", ")))
    })?;
    Topology::from_json(&text).map(Some).map_err(|e| e.in_file(path))
}

fn run(cli: Cli, out: &mut String) -> Result<()> {
    use std::fmt::Write;
    match cli.command {
        Command::Infer { model, images, topo, json, save_scores, top_k: k } => {
            let loaded = model::load_with(&model, topology_of(&topo)?)?;
            let engine = Engine::new(loaded.folded)?;
            if k == 0 || k > engine.classes() {
                return Err(Error::invalid(format!(
                    "--top-k must be between 1 and {} (the classes)",
                    engine.classes()
                )));
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
        Command::Fold { model, topo, out: dest } => {
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
        Command::Info { model, topo, json } => {
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
    }
}
