//! `cam` and `compare`: class-activation maps and their drift between the deployed and the
//! training-time network.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};
use ndarray_npy::WriteNpyExt;

use super::{topology_of, PreprocessArgs, TopologyArgs};
use crate::cam::study::{Against, Study};
use crate::cam::{self, compare, methods, read_exported, render, Deployed, Post, Request, Route, Ste, Training};
use crate::engine::Engine;
use crate::error::{write_atomic, Error, Result};
use crate::limits::MAX_FAITHFULNESS_STEPS;
use crate::model;
use crate::output::{check_dir, entries_all, json_has_keys, put, write_dir, Owner};
use crate::progress::Progress;
use crate::reference::Reference;

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

/// The seed workflow: Grad-CAM from a training toolbox's exported activations and gradients.
fn cam_seed(a: &CamArgs, acts: &Path, grads: &Path, out: &mut String) -> Result<()> {
    let post = a.post.post();
    let chw = a.layout == "chw";
    let act = read_exported(acts, &a.key, chw)?;
    let grad = read_exported(grads, &a.key, chw)?;
    let raw = match &a.image {
        Some(p) => {
            let bytes = crate::data::read_input(p)?;
            crate::data::decode_image(&bytes, &crate::data::DecodeBound::CAM_IMAGE).map_err(|e| e.in_file(p))?.to_rgb8()
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
    Ok(())
}

pub fn cam(a: CamArgs, progress: &Progress, out: &mut String) -> Result<()> {
    if let (Some(acts), Some(grads)) = (&a.activations, &a.gradients) {
        return cam_seed(&a, acts, grads, out);
    }
    let post = a.post.post();
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

pub fn compare(a: CompareArgs, progress: &Progress, out: &mut String) -> Result<()> {
    let loaded = model::load_with(&a.model, topology_of(&a.topo)?)?;
    let trained = loaded.trained.ok_or_else(|| {
        Error::file(&a.model, "a folded artifact has no training graph; pass the .onnx or parameter .npz")
    })?;
    let methods = a.method.split(',').map(|m| methods::by_name(m.trim())).collect::<Result<_>>()?;
    let layer = loaded.folded.topology.find_layer(&a.layer)?;
    let (batch, names) = crate::data::load_images(&a.images, loaded.folded.topology.input, &a.prep.preprocess())?;
    let engine = Engine::new(loaded.folded)?;
    let reference = Reference::new(trained)?;
    let against = match a.against.as_str() {
        "training" => Against::Training(Training::new(&reference)),
        dir => Against::Exports(PathBuf::from(dir)),
    };
    let study = Study { engine: &engine, against, layer, methods, ste: a.ste, post: a.post.post(), steps: a.steps };
    study.check()?;
    check_dir(&a.out, &COMPARE_OUT)?;
    let size = (batch.dim().1, batch.dim().2);
    let masks =
        if a.outline.is_empty() { None } else { Some(crate::data::load_masks(&a.outline, size, batch.dim().0)?) };
    let outcome = study.run(&a.model.display().to_string(), &batch, &names, masks.as_deref(), progress)?;
    let layer_name = &engine.layers()[layer].name;
    let title = format!("binarycop: deployed vs {} CAMs at {layer_name}", a.against);
    let mut written = 0;
    write_dir(&a.out, &COMPARE_OUT, |dir| {
        put(dir, "metrics.json", serde_json::to_string_pretty(&outcome.summary).expect("JSON").as_bytes())?;
        written =
            crate::report::compare::write(dir, &title, &outcome.summary, outcome.rows_per_class, &outcome.mean_curves)?;
        Ok(())
    })?;
    write_means(out, &outcome.summary, layer_name, &a.against);
    let _ = writeln!(
        out,
        "wrote metrics.json, report.html and grid.png/.svg ({} class blocks) to {}",
        written,
        a.out.display()
    );
    Ok(())
}

/// One line per method: the means over the images and the drift count.
fn write_means(out: &mut String, summary: &serde_json::Value, layer: &str, against: &str) {
    let f = |v: &serde_json::Value| v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.3}"));
    for (name, m) in summary["methods"].as_object().into_iter().flatten() {
        let mean = &m["mean"];
        let _ = writeln!(
            out,
            "{name} on {layer}: deployed vs {against} over {} images: Pearson {}, Spearman {}, IoU@10% {}, IoU@20% {}, SSIM {}, deletion AUC {}, insertion AUC {}; {} flagged as drift (Pearson < {})",
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
}
