//! `cam` and `compare`: class-activation maps and their drift between the deployed and the
//! training-time network.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};
use ndarray_npy::WriteNpyExt;

use super::{topology_of, TopologyArgs};
use crate::cam::{self, drift, methods, read_exported, render, Deployed, Post, Request, Route, Ste, Training};
use crate::engine::Engine;
use crate::error::{write_atomic, Error, Result};
use crate::model;
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
    /// Model workflow: images (a uint8 .npy or PNG/JPEG files).
    #[arg(long, num_args = 1.., requires = "model")]
    images: Vec<PathBuf>,
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
    #[arg(long, required = true, num_args = 1..)]
    images: Vec<PathBuf>,
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
    /// Deletion/insertion steps for the faithfulness curves.
    #[arg(long, default_value_t = 16)]
    steps: usize,
    #[arg(long)]
    out: PathBuf,
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create the output folder: {e}")))
}

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

pub fn cam(a: CamArgs, out: &mut String) -> Result<()> {
    let post = a.post.post();
    if let (Some(acts), Some(grads)) = (&a.activations, &a.gradients) {
        let chw = a.layout == "chw";
        let act = read_exported(acts, &a.key, chw)?;
        let grad = read_exported(grads, &a.key, chw)?;
        let raw = match &a.image {
            Some(p) => {
                let img = image::ImageReader::open(p)
                    .map_err(|e| Error::file(p, format!("cannot open: {e}")))?
                    .with_guessed_format()
                    .map_err(|e| Error::file(p, format!("cannot read: {e}")))?
                    .decode()
                    .map_err(|e| Error::file(p, format!("not a readable image: {e}")))?;
                img.to_rgb8()
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
        write_cam_files(&a.out, &raw, &c.heatmap.map)?;
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
    let (batch, names) = crate::data::load_images(&a.images, loaded.folded.topology.input)?;
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
    create_dir(&a.out)?;
    let layer_name = engine.layers()[layer].name.clone();
    let _ = writeln!(
        out,
        "{} on {} ({} graph), {} STE:",
        method.name(),
        layer_name,
        a.graph,
        format!("{:?}", a.ste).to_lowercase()
    );
    for (i, img) in batch.axis_iter(Axis(0)).enumerate() {
        let c = cam::compute(route, img, &req)?;
        let dir = a.out.join(format!("{i:04}"));
        write_cam_files(&dir, &render::to_rgb(img), &c.heatmap.map)?;
        if c.heatmap.constant {
            eprintln!("warning: {}: the CAM is constant (for example a 1×1 layer, or no gradient through the STE); its heatmap is all zeros", names[i]);
        }
        let _ = writeln!(out, "  {} → class {} → {}", names[i], c.class, dir.display());
    }
    Ok(())
}

/// A progress bar on stderr for runs over many images (hidden when stderr is not a terminal).
fn progress(n: usize, what: &str) -> indicatif::ProgressBar {
    let bar = if n > 1 { indicatif::ProgressBar::new(n as u64) } else { indicatif::ProgressBar::hidden() };
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

pub fn compare(a: CompareArgs, out: &mut String) -> Result<()> {
    let loaded = model::load_with(&a.model, topology_of(&a.topo)?)?;
    let trained = loaded.trained.ok_or_else(|| {
        Error::file(&a.model, "a folded artifact has no training graph; pass the .onnx or parameter .npz")
    })?;
    let methods: Vec<&'static dyn cam::CamMethod> =
        a.method.split(',').map(|m| methods::by_name(m.trim())).collect::<Result<_>>()?;
    let layer = loaded.folded.topology.find_layer(&a.layer)?;
    let (batch, names) = crate::data::load_images(&a.images, loaded.folded.topology.input)?;
    let engine = Engine::new(loaded.folded)?;
    let reference = Reference::new(trained)?;
    let study = drift::Study {
        engine: &engine,
        reference: &reference,
        layer,
        methods,
        against: drift::Against::parse(&a.against)?,
        ste: a.ste,
        post: a.post.post(),
        steps: a.steps,
        model: a.model.display().to_string(),
    };
    let bar = progress(batch.dim().0, "comparing CAMs");
    let result = study.run(batch.view(), &names, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let grids = result.write(&a.out)?;
    out.push_str(&result.text());
    let _ = writeln!(out, "wrote metrics.json, report.html and {grids} class grids to {}", a.out.display());
    Ok(())
}
