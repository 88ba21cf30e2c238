//! `binarycop demo`, the main job: synthetic masked faces with ground-truth regions, classified
//! through the IODMA driver on the simulated accelerator, explained by deployed and
//! training-time CAMs, compared, and scored against where the decisive evidence is.
//!
//! Per model: accuracy on a fixed-seed base set and on each generalization set (head gear,
//! glasses, sunglasses, double masks, face paint), the simulated FPS and latency at 100 MHz
//! with the paper's folding, deployed-vs-training CAM agreement (Grad-CAM on every image;
//! Score-CAM, forward-only and so identical on both graphs, spot-checked on two), the pointing
//! game and energy in the decisive region (deployed Grad-CAM, correctly classified images),
//! and the latching flag: pooled over the correctly classified images, the deployed Grad-CAM
//! puts on the head less than 3/4 of the mass a uniform map would put there (see `cam::roi`).
//! The pointing game is also scored for Score-CAM and for [`FINE`]: deployed LayerCAM at the
//! first conv block with the identity STE, the best combination examples/pointing_game.rs
//! found (Grad-CAM's channel-averaged gradients cancel in these binary networks; element-wise
//! gradient × activation at a fine layer localizes). RoI metrics use pytorch-grad-cam's map
//! conventions (ReLU, bilinear), the usual ones for these metrics. Also per model: the
//! pointing-game survey (`cam::pointing`, every method × layer × STE; `Options::survey`) and
//! the mean deletion and insertion curves of the scored maps.
//!
//! `figures` draws the class figures, the paper's figure (models as columns), and the plots;
//! `page` writes report.html.

use std::collections::BTreeMap;
use std::path::PathBuf;

use image::RgbImage;
use ndarray::{Array2, Axis};
use serde::Serialize;

use crate::accel::sim::{folding_for, SimAccel};
use crate::accel::Accelerator;
use crate::cam::pointing::{self, Case};
use crate::cam::{self, compare, methods, render, roi, Deployed, Post, Request, Ste, Training};
use crate::data::synth::{self, Artifact, Variation};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::limits::{MAX_DEMO_PER_CLASS, MAX_DEMO_PER_VARIATION};
use crate::model::{FoldedModel, TrainedModel};
use crate::output::{check_dir, json_has_keys, put, write_dir, Owner};
use crate::progress::{Bar, Progress};
use crate::reference::Reference;

mod figures;
pub mod models;
mod page;

/// `demo` output folders: metrics.json marks them.
const DEMO_OUT: Owner = Owner {
    tag: "demo",
    what: "a `binarycop demo` output (its metrics.json)",
    is_ours: |d| json_has_keys(d, "metrics.json", &["fine_map", "models"]),
};

/// The fine-grained map scored next to Grad-CAM: (method, layer, STE).
pub const FINE: (&str, &str, Ste) = ("layercam", "Conv1_2", Ste::Identity);

/// The columns of the class figures, after the label: the raw image, then one CAM each.
pub const COLUMNS: [&str; 5] =
    ["Raw", "Grad-CAM deployed", "Grad-CAM training", "Score-CAM deployed", "LayerCAM Conv1_2 identity STE"];

/// Deletion and insertion steps of the faithfulness curves.
pub const FAITHFULNESS_STEPS: usize = 16;

/// A model to demonstrate, and the spurious cue it was trained with (if any).
pub struct DemoModel {
    pub name: String,
    pub trained: TrainedModel,
    pub trained_with: Option<Artifact>,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    pub per_class: usize,
    pub per_variation: usize,
    pub seed: u64,
    pub layer: String,
    /// Outline the decisive region on the CAM tiles of the figures.
    pub outline: bool,
    /// Run the pointing-game survey (every method × layer × STE; the slowest part).
    pub survey: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            out: PathBuf::from("binarycop-demo"),
            per_class: 6,
            per_variation: 4,
            seed: 2021,
            layer: "Pool2".into(),
            outline: false,
            survey: true,
        }
    }
}

/// What the demo found for one model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    pub name: String,
    /// The data it was evaluated on: "clean", or the artifact it was trained with.
    pub data: String,
    pub accuracy: f64,
    pub generalization: BTreeMap<String, f64>,
    pub exp_fps: f64,
    pub fps: f64,
    pub latency_us: f64,
    pub gradcam_agreement: Option<f64>,
    pub scorecam_agreement: Option<f64>,
    /// Deployed Grad-CAM, correctly classified images.
    pub pointing_rate: Option<f64>,
    /// The same for deployed Score-CAM.
    pub scorecam_pointing_rate: Option<f64>,
    /// The same for the [`FINE`] map (deployed LayerCAM, identity STE, Conv1_2).
    pub layercam_pointing_rate: Option<f64>,
    pub energy_in_region: Option<f64>,
    /// The mean share of the Grad-CAM mass on the head.
    pub energy_on_head: Option<f64>,
    /// The mean share of the pixels on the head.
    pub head_area: Option<f64>,
    /// The Grad-CAM mass on the head over the head's area, pooled over the correctly classified
    /// images (`cam::roi::pooled_head_ratio`; 1 for uniform maps).
    pub head_mass_ratio: Option<f64>,
    /// The share of correctly classified images whose own ratio is below the latching factor.
    pub latching_share: f64,
    /// `head_mass_ratio` below `cam::roi::LATCH_HEAD_FACTOR`.
    pub latching: bool,
    /// Mean deletion and insertion AUC on the correctly classified images, per map (deployed
    /// Grad-CAM, Score-CAM, LayerCAM).
    pub faithfulness: BTreeMap<String, compare::Faithfulness>,
    /// The pointing-game survey on the correctly classified images (empty when skipped).
    pub pointing_survey: Vec<pointing::Entry>,
}

const GENERALIZATION: [Variation; 5] =
    [Variation::Headgear, Variation::Glasses, Variation::Sunglasses, Variation::DoubleMask, Variation::FacePaint];

/// One base image as the demo saw it.
pub(crate) struct Explained {
    pub truth: usize,
    pub predicted: usize,
    /// The softmax probability of the predicted class (deployed logits).
    pub probability: f64,
    /// The raw image, then one overlay per CAM column (image size).
    pub tiles: Vec<RgbImage>,
    pub decisive: Array2<bool>,
    /// Pearson of deployed vs training Grad-CAM.
    pub agreement: Option<f64>,
}

/// Everything measured on one model: its summary and what the figures need.
pub(crate) struct ModelRun {
    pub summary: ModelSummary,
    pub images: Vec<Explained>,
    pub baselines: Option<pointing::Baselines>,
    /// Mean deletion/insertion curves per map name.
    pub curves: Vec<(String, compare::Curves)>,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn dataset(count: usize, seed: u64, variation: Variation, artifact: Option<Artifact>) -> Result<synth::Dataset> {
    let mut cfg = synth::Config::new(count, seed);
    cfg.variations = vec![variation];
    cfg.artifact = artifact;
    synth::generate(&cfg)
}

fn accuracy(labels: &[usize], truth: &ndarray::Array1<i64>) -> f64 {
    labels.iter().zip(truth).filter(|(l, t)| **l as i64 == **t).count() as f64 / labels.len().max(1) as f64
}

/// The networks of one model: engine, reference and the simulated accelerator.
struct Nets {
    folded: FoldedModel,
    engine: Engine,
    reference: Reference,
    accel: SimAccel,
}

impl Nets {
    fn new(model: &DemoModel) -> Result<Nets> {
        let folded = FoldedModel::fold(&model.trained)?;
        let accel = SimAccel::new(folded.clone(), &folding_for(&folded, None)?)?;
        Ok(Nets {
            engine: Engine::new(folded.clone())?,
            reference: Reference::new(model.trained.clone())?,
            folded,
            accel,
        })
    }
}

/// Accuracy per generalization set, through the driver on the simulated device.
fn generalization(nets: &Nets, model: &DemoModel, opts: &Options) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for (k, v) in GENERALIZATION.iter().enumerate() {
        let d = dataset(opts.per_variation, opts.seed + 1 + k as u64, *v, model.trained_with)?;
        let l = nets.accel.run(d.images.view(), &[])?.labels;
        out.insert(v.name().to_string(), accuracy(&l, &d.labels));
    }
    Ok(out)
}

/// What the CAM loop gathers over the base set.
#[derive(Default)]
struct Tallies {
    agree_g: Vec<f64>,
    agree_s: Vec<f64>,
    hits: Vec<f64>,
    hits_s: Vec<f64>,
    hits_l: Vec<f64>,
    energy: Vec<f64>,
    rois: Vec<roi::Roi>,
    curves: [compare::CurveMean; 3],
}

/// The maps scored against the decisive region and for faithfulness, in `Tallies::curves` order.
const SCORED_MAPS: [&str; 3] = ["Grad-CAM", "Score-CAM", "LayerCAM Conv1_2 identity"];

fn hit(v: Option<bool>, into: &mut Vec<f64>) {
    if let Some(h) = v {
        into.push(if h { 1.0 } else { 0.0 });
    }
}

/// What the CAM loop works on: the routes (built once per model), the base set, the layer of
/// the seed-convention maps and the fine map's request.
struct Ctx<'a> {
    engine: &'a Engine,
    deployed: Deployed<'a>,
    training: Training<'a>,
    base: &'a synth::Dataset,
    layer: usize,
    fine: Request,
}

/// The four CAMs of base image `i` (seed conventions for the pictures; the fine map in
/// pytorch-grad-cam's), its overlays, and its RoI and faithfulness scores when it is correctly
/// classified.
fn explain_one(ctx: &Ctx, i: usize, predicted: usize, t: &mut Tallies) -> Result<Explained> {
    let (deployed, training, base, layer) = (&ctx.deployed, &ctx.training, ctx.base, ctx.layer);
    let img = base.images.index_axis(Axis(0), i);
    let truth = base.labels[i] as usize;
    let (gradcam, scorecam) = (methods::by_name("gradcam")?, methods::by_name("scorecam")?);
    let seed_req = |m| Request { layer, method: m, class: Some(predicted), ste: Ste::Windowed, post: Post::SEED };
    let dg = cam::compute(deployed, img, &seed_req(gradcam))?;
    let tg = cam::compute(training, img, &seed_req(gradcam))?;
    let ds = cam::compute(deployed, img, &seed_req(scorecam))?;
    let dl = cam::compute(deployed, img, &Request { class: Some(predicted), ..ctx.fine })?;
    let agreement = compare::similarity(&dg.heatmap.map, &tg.heatmap.map).pearson;
    t.agree_g.extend(agreement);
    if i < 2 {
        let ts = cam::compute(training, img, &seed_req(scorecam))?;
        t.agree_s.extend(compare::similarity(&ds.heatmap.map, &ts.heatmap.map).pearson);
    }
    let raw = render::to_rgb(img);
    let overlay = |m: &Array2<f32>| render::overlay(&raw, &render::colorize(m));
    let tiles = vec![
        raw.clone(),
        overlay(&dg.heatmap.map),
        overlay(&tg.heatmap.map),
        overlay(&ds.heatmap.map),
        overlay(&dl.heatmap.map),
    ];
    let parts = base.parts.index_axis(Axis(0), i);
    let decisive = synth::decisive_mask(truth, parts);
    if predicted == truth {
        let size = (img.dim().0, img.dim().1);
        let rg = cam::finish(&dg.raw, size, Post::PYTORCH_GRAD_CAM);
        let rs = cam::finish(&ds.raw, size, Post::PYTORCH_GRAD_CAM);
        let r = roi::score(&rg.map, &decisive, &synth::head_mask(parts));
        hit(r.pointing_hit, &mut t.hits);
        hit(roi::pointing_game(&rs.map, &decisive, roi::POINTING_TOLERANCE), &mut t.hits_s);
        hit(roi::pointing_game(&dl.heatmap.map, &decisive, roi::POINTING_TOLERANCE), &mut t.hits_l);
        t.energy.extend(r.energy_in_region);
        t.rois.push(r);
        for (k, map) in [&rg.map, &rs.map, &dl.heatmap.map].into_iter().enumerate() {
            t.curves[k].add(&compare::faithfulness_curves(ctx.engine, img, map, truth, FAITHFULNESS_STEPS)?);
        }
    }
    let probability = compare::softmax_at(&dg.logits, predicted);
    Ok(Explained { truth, predicted, probability, tiles, decisive, agreement })
}

/// The pointing-game survey on the correctly classified images.
fn survey(ctx: &Ctx, images: &[Explained], bar: &Bar) -> Result<Vec<pointing::Entry>> {
    let base = ctx.base;
    let cases: Vec<Case> = images
        .iter()
        .enumerate()
        .filter(|(_, e)| e.predicted == e.truth)
        .map(|(i, e)| Case { image: base.images.index_axis(Axis(0), i), class: e.truth, region: &e.decisive })
        .collect();
    let names: Vec<String> = ctx.engine.layers().iter().map(|l| l.name.clone()).collect();
    let layers = pointing::spatial_layers(ctx.engine.layers());
    pointing::survey(&ctx.deployed, &names, &layers, &cases, bar)
}

/// Runs the demo for one model.
fn one(model: &DemoModel, opts: &Options, progress: &Progress) -> Result<ModelRun> {
    let nets = Nets::new(model)?;
    let layer = nets.folded.topology.find_layer(&opts.layer)?;
    let spinner = progress.spinner(&format!("{}: classifying and simulating", model.name));
    // Classification through the driver on the simulated device.
    let base = dataset(opts.per_class * synth::CLASSES, opts.seed, Variation::Base, model.trained_with)?;
    let labels = nets.accel.run(base.images.view(), &[])?.labels;
    let generalization = generalization(&nets, model, opts)?;
    // Timing with the paper's folding, FIFOs sized as FINN does.
    let mut low = crate::lower::lower(&nets.folded, &folding_for(&nets.folded, None)?)?;
    low.set_fifo_depth(&crate::lower::FifoDepth::Auto)?;
    let timing = low.timing(8, 100.0)?;
    drop(spinner);

    let fine = Request {
        layer: nets.folded.topology.find_layer(FINE.1)?,
        method: methods::by_name(FINE.0)?,
        class: None,
        ste: FINE.2,
        post: Post::PYTORCH_GRAD_CAM,
    };
    let ctx = Ctx {
        engine: &nets.engine,
        deployed: Deployed::new(&nets.engine),
        training: Training::new(&nets.reference),
        base: &base,
        layer,
        fine,
    };
    let mut t = Tallies::default();
    let bar = progress.bar(base.labels.len() as u64, &format!("{}: CAMs", model.name));
    let mut images = Vec::with_capacity(base.labels.len());
    for (i, &predicted) in labels.iter().enumerate() {
        images.push(explain_one(&ctx, i, predicted, &mut t)?);
        bar.inc(1);
    }
    drop(bar);
    let correct: Vec<&Explained> = images.iter().filter(|e| e.predicted == e.truth).collect();
    let (survey_entries, baselines) = if opts.survey {
        let n = (pointing::spatial_layers(nets.engine.layers()).len() * correct.len()) as u64;
        let bar = progress.bar(n, &format!("{}: pointing-game survey", model.name));
        let regions: Vec<&Array2<bool>> = correct.iter().map(|e| &e.decisive).collect();
        (survey(&ctx, &images, &bar)?, Some(pointing::baselines(&regions)))
    } else {
        (Vec::new(), None)
    };
    let curves: Vec<(String, compare::Curves)> =
        SCORED_MAPS.iter().zip(&t.curves).filter_map(|(n, c)| Some((n.to_string(), c.mean()?))).collect();
    let latching_share = t.rois.iter().filter(|r| r.latching).count() as f64 / t.rois.len().max(1) as f64;
    let head_mass_ratio = roi::pooled_head_ratio(&t.rois);
    let summary = ModelSummary {
        name: model.name.clone(),
        data: model.trained_with.map_or("clean".into(), |a| format!("artifact {}", a.name())),
        accuracy: accuracy(&labels, &base.labels),
        generalization,
        exp_fps: timing.exp_fps,
        fps: timing.fps,
        latency_us: timing.latency_us,
        gradcam_agreement: mean(&t.agree_g),
        scorecam_agreement: mean(&t.agree_s),
        pointing_rate: mean(&t.hits),
        scorecam_pointing_rate: mean(&t.hits_s),
        layercam_pointing_rate: mean(&t.hits_l),
        energy_in_region: mean(&t.energy),
        energy_on_head: mean(&t.rois.iter().filter_map(|r| r.energy_on_head).collect::<Vec<_>>()),
        head_area: mean(&t.rois.iter().map(|r| r.head_area).collect::<Vec<_>>()),
        head_mass_ratio,
        latching_share,
        latching: roi::latches(head_mass_ratio),
        faithfulness: curves.iter().map(|(n, c)| (n.clone(), c.aucs())).collect(),
        pointing_survey: survey_entries,
    };
    Ok(ModelRun { summary, images, baselines, curves })
}

/// Runs the demo over `models`, writes the figures, metrics.json and report.html into
/// `opts.out` (all or nothing), and returns the summaries.
pub fn run(models: &[DemoModel], opts: &Options, progress: &Progress) -> Result<Vec<ModelSummary>> {
    if !(1..=MAX_DEMO_PER_CLASS).contains(&opts.per_class)
        || !(1..=MAX_DEMO_PER_VARIATION).contains(&opts.per_variation)
    {
        return Err(Error::invalid(format!(
            "the demo takes 1 to {MAX_DEMO_PER_CLASS} images per class and 1 to {MAX_DEMO_PER_VARIATION} per \
             variation, got {} and {}",
            opts.per_class, opts.per_variation
        )));
    }
    check_dir(&opts.out, &DEMO_OUT)?;
    let runs = models.iter().map(|m| one(m, opts, progress)).collect::<Result<Vec<_>>>()?;
    let summaries: Vec<ModelSummary> = runs.iter().map(|r| r.summary.clone()).collect();
    let metrics = serde_json::json!({
        "seed": opts.seed,
        "layer": opts.layer,
        "fine_map": {"method": FINE.0, "layer": FINE.1, "ste": "identity"},
        "images_per_class": opts.per_class,
        "images_per_generalization_set": opts.per_variation,
        "clock_mhz": 100.0,
        "latch_head_factor": roi::LATCH_HEAD_FACTOR,
        "faithfulness_steps": FAITHFULNESS_STEPS,
        "models": summaries,
    });
    write_dir(&opts.out, &DEMO_OUT, |dir| {
        let inner = Options { out: dir.to_path_buf(), ..opts.clone() };
        let figures = figures::write_all(&runs, &inner)?;
        put(dir, "metrics.json", serde_json::to_string_pretty(&metrics).expect("JSON").as_bytes())?;
        put(dir, "report.html", page::html(&summaries, &figures, opts).as_bytes())
    })?;
    Ok(summaries)
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{:.0}%", 100.0 * x))
}
fn num(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.3}"))
}

/// The stdout summary table.
pub fn table(summaries: &[ModelSummary]) -> String {
    let mut s = format!(
        "{:<14} {:<15} {:>6} {:>9} {:>11} {:>10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>9}\n",
        "model",
        "data",
        "acc",
        "gen. acc",
        "FPS@100MHz",
        "latency",
        "GC agr.",
        "SC agr.",
        "GC point",
        "SC point",
        "LC point",
        "energy",
        "latching"
    );
    for m in summaries {
        let gen = mean(&m.generalization.values().copied().collect::<Vec<_>>());
        s.push_str(&format!(
            "{:<14} {:<15} {:>6} {:>9} {:>11.1} {:>7.0} µs {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>9}\n",
            m.name,
            m.data,
            pct(Some(m.accuracy)),
            pct(gen),
            m.fps,
            m.latency_us,
            num(m.gradcam_agreement),
            num(m.scorecam_agreement),
            pct(m.pointing_rate),
            pct(m.scorecam_pointing_rate),
            pct(m.layercam_pointing_rate),
            num(m.energy_in_region),
            format!(
                "{} {}",
                if m.latching { "YES" } else { "no" },
                m.head_mass_ratio.map_or("n/a".into(), |r| format!("{r:.2}"))
            ),
        ));
    }
    s
}
