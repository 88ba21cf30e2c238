//! `cam` and `compare`: class-activation maps and their drift between the deployed and the
//! training-time network.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};
use ndarray_npy::WriteNpyExt;

use super::{topology_of, PreprocessArgs, TopologyArgs};
use crate::cam::{self, compare, methods, read_exported, render, Deployed, Post, Request, Route, Ste, Training};
use crate::engine::Engine;
use crate::error::{write_atomic, Error, Result};
use crate::limits::MAX_FAITHFULNESS_STEPS;
use crate::model;
use crate::output::{check_dir, entries_all, json_has_keys, put, write_dir, Owner};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::report::grid::{Prediction, Row, RowLabel, Tile};

/// How raw maps become heatmaps. The default is the BinaryCoP seed script's (no ReLU, TF1
/// bicubic) so results line up with the paper's figures; `--relu --interp bilinear` gives
/// pytorch-grad-cam's.
#[derive(clap::Args, Clone)]
pub struct PostArgs {
    /// Apply ReLU to the raw map (pytorch-grad-cam does; the seed script does not).
    #[arg(long)]
    relu: bool,
    /// Upsampling to the image: bicubic (TF1, the seed's), bilinear (OpenCV, pytorch-grad-cam's)
    /// or nearest.
    #[arg(long, default_value = "bicubic")]
    interp: cam::Interp,
}

impl PostArgs {
    fn post(&self) -> Post {
        Post { relu: self.relu, interp: self.interp }
    }
}

#[derive(clap::Args)]
pub struct CamArgs {
    /// Seed workflow: activations exported from training (.npz, as np.savez writes).
    #[arg(long, requires = "gradients", conflicts_with = "model")]
    activations: Option<PathBuf>,
    /// Seed workflow: gradients d score / d activations (.npz).
    #[arg(long, requires = "activations")]
    gradients: Option<PathBuf>,
    /// Seed workflow: the raw input image (PNG/JPEG); the heatmap takes its size.
    #[arg(long, requires = "activations")]
    image: Option<PathBuf>,
    /// Seed workflow: the array's key in both files.
    #[arg(long, default_value = "arr_0")]
    key: String,
    /// Seed workflow: the arrays' layout, H×W×C (the seed's) or C×H×W.
    #[arg(long, default_value = "hwc", value_parser = ["hwc", "chw"])]
    layout: String,
    /// Model workflow: a Brevitas .onnx, a folded artifact or a parameter .npz.
    #[arg(long, requires = "layer")]
    model: Option<PathBuf>,
    #[command(flatten)]
    topo: TopologyArgs,
    /// Model workflow: images (a uint8 .npy, the model's input as it is, or PNG/JPEG files:
    /// cropped with --crop, resized with --resize, default cv2).
    #[arg(long, num_args = 1.., requires = "model")]
    images: Vec<PathBuf>,
    #[command(flatten)]
    prep: PreprocessArgs,
    /// Model workflow: the layer (Conv1_1 … Pool2 …, case-insensitive, or an index).
    #[arg(long)]
    layer: Option<String>,
    /// gradcam, hirescam, gradcam++, xgradcam, layercam, scorecam, ablationcam, eigencam.
    #[arg(long, default_value = "gradcam")]
    method: String,
    /// The target class (default: the predicted one).
    #[arg(long)]
    class: Option<usize>,
    /// deployed (the folded integer network) or training (the f32 training-time graph; needs a
    /// .onnx or parameter .npz).
    #[arg(long, default_value = "deployed", value_parser = ["deployed", "training"])]
    graph: String,
    /// Straight-through estimator: windowed (Brevitas': gradient only where the pre-activation
    /// is in [-1, 1]) or identity.
    #[arg(long, default_value = "windowed")]
    ste: Ste,
    #[command(flatten)]
    post: PostArgs,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct CompareArgs {
    /// A Brevitas .onnx or parameter .npz (the training graph is needed).
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    topo: TopologyArgs,
    /// A uint8 .npy (the model's input as it is) or PNG/JPEG files (cropped with --crop, resized
    /// with --resize, default cv2).
    #[arg(long, required = true, num_args = 1..)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    prep: PreprocessArgs,
    #[arg(long)]
    layer: String,
    #[arg(long, default_value = "gradcam")]
    method: String,
    /// `training` (the f32 graph) or a folder of toolbox exports, as python/export_cam.py
    /// writes them: `<i>/activations.npz` and `<i>/gradients.npz` (seed format, `arr_0`,
    /// H×W×C) per image index.
    #[arg(long, default_value = "training")]
    against: String,
    #[arg(long, default_value = "windowed")]
    ste: Ste,
    #[command(flatten)]
    post: PostArgs,
    #[arg(long, default_value_t = 16, value_parser = super::count(1, MAX_FAITHFULNESS_STEPS),
          help = format!("Deletion/insertion steps for the faithfulness curves (1 to {MAX_FAITHFULNESS_STEPS})"))]
    steps: usize,
    /// Ground-truth regions to outline on the CAM tiles: a uint8 or bool .npy (N×H×W, nonzero
    /// inside) or one mask image per input, in the images' order, at the model input's size.
    #[arg(long, num_args = 1..)]
    outline: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create the output folder: {e}")))
}

/// `cam` output folders: the seed workflow's four files, or one NNNN folder per image.
const CAM_OUT: Owner = Owner {
    tag: "cam",
    what: "a `binarycop cam` output",
    is_ours: |d| {
        entries_all(d, |n| {
            ["raw_image.png", "heat_map.png", "overlay.png", "heatmap.npy"].contains(&n)
                || (n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
        })
    },
};

/// `compare` output folders: metrics.json marks them.
const COMPARE_OUT: Owner = Owner {
    tag: "compare",
    what: "a `binarycop compare` output (its metrics.json)",
    is_ours: |d| json_has_keys(d, "metrics.json", &["per_image", "drift_threshold_pearson"]),
};

fn write_npy(path: &Path, a: &Array2<f32>) -> Result<()> {
    let mut buf = Vec::new();
    a.write_npy(&mut buf).map_err(|e| Error::file(path, format!("cannot encode: {e}")))?;
    write_atomic(path, &buf)
}

/// Writes raw_image.png, heat_map.png, overlay.png and heatmap.npy into `dir`.
fn write_cam_files(dir: &Path, raw: &image::RgbImage, heat: &Array2<f32>) -> Result<()> {
    create_dir(dir)?;
    let colored = render::colorize(heat);
    render::save_png(raw, &dir.join("raw_image.png"))?;
    render::save_png(&colored, &dir.join("heat_map.png"))?;
    render::save_png(&render::overlay(raw, &colored), &dir.join("overlay.png"))?;
    write_npy(&dir.join("heatmap.npy"), heat)
}

pub fn cam(a: CamArgs, progress: &Progress, out: &mut String) -> Result<()> {
    let post = a.post.post();
    if let (Some(acts), Some(grads)) = (&a.activations, &a.gradients) {
        let chw = a.layout == "chw";
        let act = read_exported(acts, &a.key, chw)?;
        let grad = read_exported(grads, &a.key, chw)?;
        let raw = match &a.image {
            Some(p) => {
                let bytes = crate::data::read_input(p)?;
                crate::data::decode_image(&bytes, &crate::data::DecodeBound::CAM_IMAGE)
                    .map_err(|e| e.in_file(p))?
                    .to_rgb8()
            }
            None => return Err(Error::invalid("--image is needed with --activations (the heatmap takes its size)")),
        };
        let (h, w) = (raw.height() as usize, raw.width() as usize);
        // A map whose shape is far from the image's aspect was most likely read with the
        // wrong layout (e.g. H×W×C data as C×H×W).
        let (mh, mw) = (act.dim().0 as f64, act.dim().1 as f64);
        let ratio = (mh / mw) / (h as f64 / w as f64);
        if !(0.5..=2.0).contains(&ratio) {
            return Err(Error::file(
                acts,
                format!("the map is {}x{} (H×W) but the image is {h}x{w}: is --layout {} right?", mh, mw, a.layout),
            ));
        }
        let c = cam::from_exported(&act, &grad, (h, w), post)?;
        write_dir(&a.out, &CAM_OUT, |dir| write_cam_files(dir, &raw, &c.heatmap.map))?;
        if c.heatmap.constant {
            eprintln!("warning: the CAM is constant (all weights or activations cancel); heatmap.npy is all zeros");
        }
        let _ = writeln!(
            out,
            "Grad-CAM from {} and {}: {}x{}x{} at the layer, written to {}",
            acts.display(),
            grads.display(),
            act.dim().0,
            act.dim().1,
            act.dim().2,
            a.out.display()
        );
        return Ok(());
    }
    let Some(model_path) = &a.model else {
        return Err(Error::invalid(
            "give either --activations/--gradients/--image (seed workflow) or --model/--images/--layer",
        ));
    };
    let loaded = model::load_with(model_path, topology_of(&a.topo)?)?;
    let method = methods::by_name(&a.method)?;
    let layer = loaded.folded.topology.find_layer(a.layer.as_deref().unwrap_or_default())?;
    let (batch, names) = crate::data::load_images(&a.images, loaded.folded.topology.input, &a.prep.preprocess())?;
    let engine = Engine::new(loaded.folded)?;
    let reference;
    let deployed;
    let training;
    let route: &dyn Route = if a.graph == "training" {
        let trained = loaded.trained.ok_or_else(|| {
            Error::file(model_path, "a folded artifact has no training graph; pass the .onnx or parameter .npz")
        })?;
        reference = Reference::new(trained)?;
        training = Training::new(&reference);
        &training
    } else {
        deployed = Deployed::new(&engine);
        &deployed
    };
    let req = Request { layer, method, class: a.class, ste: a.ste, post };
    check_dir(&a.out, &CAM_OUT)?;
    let layer_name = engine.layers()[layer].name.clone();
    let _ = writeln!(
        out,
        "{} on {} ({} graph), {} STE:",
        method.name(),
        layer_name,
        a.graph,
        format!("{:?}", a.ste).to_lowercase()
    );
    let bar = progress.bar(batch.dim().0 as u64, &format!("{} CAMs", method.name()));
    write_dir(&a.out, &CAM_OUT, |tmp| {
        for (i, img) in batch.axis_iter(Axis(0)).enumerate() {
            let c = cam::compute(route, img, &req)?;
            let sub = format!("{i:04}");
            write_cam_files(&tmp.join(&sub), &render::to_rgb(img), &c.heatmap.map)?;
            if c.heatmap.constant {
                eprintln!("warning: {}: the CAM is constant (for example a 1×1 layer, or no gradient through the STE); its heatmap is all zeros", names[i]);
            }
            let _ = writeln!(out, "  {} → class {} → {}", names[i], c.class, a.out.join(&sub).display());
            bar.inc(1);
        }
        Ok(())
    })
}

/// The first cell of a compare row: the image's file name (and index) and the prediction.
fn compare_label(name: &str, class: usize, logits: &[f32]) -> RowLabel {
    let short = Path::new(name).file_name().map_or(name.to_string(), |f| f.to_string_lossy().into_owned());
    let predicted = Prediction { class: format!("class {class}"), score: compare::softmax_at(logits, class) };
    RowLabel { title: short, truth: None, predicted: Some(predicted) }
}

pub fn compare(a: CompareArgs, progress: &Progress, out: &mut String) -> Result<()> {
    let loaded = model::load_with(&a.model, topology_of(&a.topo)?)?;
    let trained = loaded.trained.ok_or_else(|| {
        Error::file(&a.model, "a folded artifact has no training graph; pass the .onnx or parameter .npz")
    })?;
    let method_list: Vec<&'static dyn cam::CamMethod> =
        a.method.split(',').map(|m| methods::by_name(m.trim())).collect::<Result<_>>()?;
    let layer = loaded.folded.topology.find_layer(&a.layer)?;
    let (batch, names) = crate::data::load_images(&a.images, loaded.folded.topology.input, &a.prep.preprocess())?;
    let engine = Engine::new(loaded.folded)?;
    let reference = Reference::new(trained)?;
    let deployed = Deployed::new(&engine);
    let training = Training::new(&reference);
    let post = a.post.post();
    let against_dir = (a.against != "training").then(|| PathBuf::from(&a.against));
    if let Some(d) = &against_dir {
        if !d.is_dir() {
            return Err(Error::file(d, "--against must be 'training' or a folder of toolbox exports"));
        }
        if method_list.iter().any(|m| m.name() != "gradcam") {
            return Err(Error::invalid(
                "toolbox exports hold activations and gradients: only --method gradcam compares with them",
            ));
        }
    }
    check_dir(&a.out, &COMPARE_OUT)?;
    let size = (batch.dim().1, batch.dim().2);
    let classes = engine.classes();
    let masks =
        if a.outline.is_empty() { None } else { Some(crate::data::load_masks(&a.outline, size, batch.dim().0)?) };
    let mut rows = Vec::new();
    // Per predicted class: rows of tiles (raw, then deployed and reference per method).
    let mut blocks: Vec<Vec<Row>> = vec![Vec::new(); classes];
    let mut curves = vec![compare::CurveMean::default(); method_list.len()];
    let bar = progress.bar(batch.dim().0 as u64, "comparing CAMs");
    for (i, img) in batch.axis_iter(Axis(0)).enumerate() {
        let raw = render::to_rgb(img);
        let region = masks.as_ref().map(|m| m[i].clone());
        let mut tiles = vec![Tile::new(raw.clone())];
        let mut per_method = serde_json::Map::new();
        let (mut class, mut logits) = (0, Vec::new());
        for (k, &method) in method_list.iter().enumerate() {
            let req = Request { layer, method, class: None, ste: a.ste, post };
            let dep = cam::compute(&deployed, img, &req)?;
            (class, logits) = (dep.class, dep.logits.clone());
            // The same class on both routes, so the maps answer the same question.
            let other = match &against_dir {
                None => cam::compute(&training, img, &Request { class: Some(dep.class), ..req })?,
                Some(d) => {
                    let act = read_exported(&d.join(format!("{i}/activations.npz")), "arr_0", false)?;
                    let grad = read_exported(&d.join(format!("{i}/gradients.npz")), "arr_0", false)?;
                    cam::from_exported(&act, &grad, size, post)?
                }
            };
            let sim = compare::similarity(&dep.heatmap.map, &other.heatmap.map);
            let curve = compare::faithfulness_curves(&engine, img, &dep.heatmap.map, dep.class, a.steps)?;
            curves[k].add(&curve);
            let faith = curve.aucs();
            for map in [&dep.heatmap.map, &other.heatmap.map] {
                tiles.push(Tile::new(render::overlay(&raw, &render::colorize(map))).with_outline(region.clone()));
            }
            per_method.insert(
                method.name().to_string(),
                serde_json::json!({
                    "deployed_constant": dep.heatmap.constant,
                    "reference_constant": other.heatmap.constant,
                    "similarity": sim,
                    "faithfulness": faith,
                }),
            );
        }
        if blocks[class].len() < crate::report::grid::MAX_ROWS {
            blocks[class].push(Row { label: compare_label(&names[i], class, &logits), tiles });
        }
        rows.push(serde_json::json!({ "input": names[i], "class": class, "methods": per_method }));
        bar.inc(1);
    }
    drop(bar);
    let mut methods_summary = serde_json::Map::new();
    for m in &method_list {
        let vals = |path: &[&str]| -> Vec<f64> {
            rows.iter().filter_map(|r| path.iter().fold(&r["methods"][m.name()], |v, k| &v[*k]).as_f64()).collect()
        };
        let mean = |path: &[&str]| -> Option<f64> {
            let v = vals(path);
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let drifted =
            rows.iter().filter(|r| r["methods"][m.name()]["similarity"]["drift"].as_bool() == Some(true)).count();
        methods_summary.insert(
            m.name().to_string(),
            serde_json::json!({
                "images": rows.len(),
                "drifted": drifted,
                "mean": {
                    "pearson": mean(&["similarity", "pearson"]),
                    "spearman": mean(&["similarity", "spearman"]),
                    "cosine": mean(&["similarity", "cosine"]),
                    "iou_top10": mean(&["similarity", "iou_top10"]),
                    "iou_top20": mean(&["similarity", "iou_top20"]),
                    "ssim": mean(&["similarity", "ssim"]),
                    "deletion_auc": mean(&["faithfulness", "deletion_auc"]),
                    "insertion_auc": mean(&["faithfulness", "insertion_auc"]),
                },
            }),
        );
    }
    let mut per_class = serde_json::Map::new();
    for c in 0..classes {
        let in_class: Vec<&serde_json::Value> = rows.iter().filter(|r| r["class"] == c).collect();
        let mut by_method = serde_json::Map::new();
        for m in &method_list {
            let p: Vec<f64> =
                in_class.iter().filter_map(|r| r["methods"][m.name()]["similarity"]["pearson"].as_f64()).collect();
            by_method.insert(
                m.name().to_string(),
                serde_json::json!({ "images": in_class.len(), "mean_pearson": (!p.is_empty()).then(|| p.iter().sum::<f64>() / p.len() as f64) }),
            );
        }
        per_class.insert(c.to_string(), serde_json::Value::Object(by_method));
    }
    let summary = serde_json::json!({
        "model": a.model.display().to_string(),
        "layer": engine.layers()[layer].name,
        "against": a.against,
        "ste": format!("{:?}", a.ste).to_lowercase(),
        "relu": post.relu,
        "interp": format!("{:?}", post.interp).to_lowercase(),
        "drift_threshold_pearson": compare::DRIFT_PEARSON,
        "columns": std::iter::once("raw".to_string())
            .chain(method_list.iter().flat_map(|m| [format!("deployed {}", m.name()), format!("{} {}", a.against, m.name())]))
            .collect::<Vec<_>>(),
        "methods": methods_summary,
        "per_class": per_class,
        "per_image": rows,
    });
    let title = format!("binarycop: deployed vs {} CAMs at {}", a.against, engine.layers()[layer].name);
    let mean_curves: Vec<(String, compare::Curves)> =
        method_list.iter().zip(&curves).filter_map(|(m, c)| Some((m.name().to_string(), c.mean()?))).collect();
    let mut written = 0;
    write_dir(&a.out, &COMPARE_OUT, |dir| {
        put(dir, "metrics.json", serde_json::to_string_pretty(&summary).expect("JSON").as_bytes())?;
        written = crate::report::compare::write(dir, &title, &summary, blocks, &mean_curves)?;
        Ok(())
    })?;
    let f = |v: &serde_json::Value| v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.3}"));
    for (name, m) in &methods_summary {
        let mean = &m["mean"];
        let _ = writeln!(
            out,
            "{name} on {}: deployed vs {} over {} images: Pearson {}, Spearman {}, IoU@10% {}, IoU@20% {}, SSIM {}, deletion AUC {}, insertion AUC {}; {} flagged as drift (Pearson < {})",
            engine.layers()[layer].name,
            a.against,
            m["images"],
            f(&mean["pearson"]),
            f(&mean["spearman"]),
            f(&mean["iou_top10"]),
            f(&mean["iou_top20"]),
            f(&mean["ssim"]),
            f(&mean["deletion_auc"]),
            f(&mean["insertion_auc"]),
            m["drifted"],
            compare::DRIFT_PEARSON
        );
    }
    let _ = writeln!(
        out,
        "wrote metrics.json, report.html and grid.png/.svg ({} class blocks) to {}",
        written,
        a.out.display()
    );
    Ok(())
}
