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
//! conventions (ReLU, bilinear), the usual ones for these metrics.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::{Array2, Axis};
use serde::Serialize;

use crate::accel::sim::{folding_for, SimAccel};
use crate::accel::Accelerator;
use crate::cam::{self, compare, methods, render, roi, Deployed, Post, Request, Ste, Training};
use crate::data::synth::{self, Artifact, Variation};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::limits::{MAX_DEMO_PER_CLASS, MAX_DEMO_PER_VARIATION};
use crate::model::{FoldedModel, TrainedModel};
use crate::output::{check_dir, json_has_keys, put, write_dir, Owner};
use crate::reference::Reference;

pub mod models;

/// `demo` output folders: metrics.json marks them.
const DEMO_OUT: Owner = Owner {
    tag: "demo",
    what: "a `binarycop demo` output (its metrics.json)",
    is_ours: |d| json_has_keys(d, "metrics.json", &["fine_map", "models"]),
};

/// The fine-grained map scored next to Grad-CAM: (method, layer, STE).
pub const FINE: (&str, &str, Ste) = ("layercam", "Conv1_2", Ste::Identity);

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            out: PathBuf::from("binarycop-demo"),
            per_class: 6,
            per_variation: 4,
            seed: 2021,
            layer: "Pool2".into(),
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
}

const GENERALIZATION: [Variation; 5] =
    [Variation::Headgear, Variation::Glasses, Variation::Sunglasses, Variation::DoubleMask, Variation::FacePaint];

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

/// A captioned PNG for the report.
type Figure = (String, Vec<u8>);

/// Runs the demo for one model; returns the summary, and its grids as (file name, figure).
fn one(model: &DemoModel, opts: &Options) -> Result<(ModelSummary, Vec<(String, Figure)>)> {
    let folded = FoldedModel::fold(&model.trained)?;
    let engine = Engine::new(folded.clone())?;
    let reference = Reference::new(model.trained.clone())?;
    let folding = folding_for(&folded, None)?;
    let accel = SimAccel::new(folded.clone(), &folding)?;
    let layer = folded.topology.find_layer(&opts.layer)?;

    // Classification through the driver on the simulated device.
    let base = dataset(opts.per_class * synth::CLASSES, opts.seed, Variation::Base, model.trained_with)?;
    let labels = accel.run(base.images.view(), &[])?.labels;
    let acc = accuracy(&labels, &base.labels);
    let mut generalization = BTreeMap::new();
    for (k, v) in GENERALIZATION.iter().enumerate() {
        let d = dataset(opts.per_variation, opts.seed + 1 + k as u64, *v, model.trained_with)?;
        let l = accel.run(d.images.view(), &[])?.labels;
        generalization.insert(v.name().to_string(), accuracy(&l, &d.labels));
    }

    // Timing with the paper's folding, FIFOs sized as FINN does.
    let mut low = crate::lower::lower(&folded, &folding)?;
    low.set_fifo_depth(&crate::lower::FifoDepth::Auto)?;
    let timing = low.timing(8, 100.0)?;

    // CAMs on the base set.
    let deployed = Deployed::new(&engine);
    let training = Training::new(&reference);
    let gradcam = methods::by_name("gradcam")?;
    let scorecam = methods::by_name("scorecam")?;
    let fine = Request {
        layer: folded.topology.find_layer(FINE.1)?,
        method: methods::by_name(FINE.0)?,
        class: None,
        ste: FINE.2,
        post: Post::PYTORCH_GRAD_CAM,
    };
    let (mut agree_g, mut agree_s, mut hits, mut energy) = (vec![], vec![], vec![], vec![]);
    let (mut hits_s, mut hits_l) = (vec![], vec![]);
    let mut rois = vec![];
    let mut grids: Vec<Vec<Vec<image::RgbImage>>> = vec![Vec::new(); synth::CLASSES];
    for (i, img) in base.images.axis_iter(Axis(0)).enumerate() {
        let truth = base.labels[i] as usize;
        let seed_req = |m| Request { layer, method: m, class: Some(labels[i]), ste: Ste::Windowed, post: Post::SEED };
        let dg = cam::compute(&deployed, img, &seed_req(gradcam))?;
        let tg = cam::compute(&training, img, &seed_req(gradcam))?;
        let ds = cam::compute(&deployed, img, &seed_req(scorecam))?;
        let dl = cam::compute(&deployed, img, &Request { class: Some(labels[i]), ..fine })?;
        if let Some(p) = compare::similarity(&dg.heatmap.map, &tg.heatmap.map).pearson {
            agree_g.push(p);
        }
        if i < 2 {
            let ts = cam::compute(&training, img, &seed_req(scorecam))?;
            if let Some(p) = compare::similarity(&ds.heatmap.map, &ts.heatmap.map).pearson {
                agree_s.push(p);
            }
        }
        let raw = render::to_rgb(img);
        let tile = |m: &Array2<f32>| render::enlarge(&render::overlay(&raw, &render::colorize(m)), 3);
        grids[truth].push(vec![
            render::enlarge(&raw, 3),
            tile(&dg.heatmap.map),
            tile(&tg.heatmap.map),
            tile(&ds.heatmap.map),
            tile(&dl.heatmap.map),
        ]);
        if labels[i] != truth {
            continue;
        }
        let size = (img.dim().0, img.dim().1);
        let rg = cam::finish(&dg.raw, size, Post::PYTORCH_GRAD_CAM);
        let rs = cam::finish(&ds.raw, size, Post::PYTORCH_GRAD_CAM);
        let parts = base.parts.index_axis(Axis(0), i);
        let decisive = synth::decisive_mask(truth, parts);
        let head = synth::head_mask(parts);
        let r = roi::score(&rg.map, &decisive, &head);
        if let Some(h) = r.pointing_hit {
            hits.push(if h { 1.0 } else { 0.0 });
        }
        if let Some(h) = roi::score(&rs.map, &decisive, &head).pointing_hit {
            hits_s.push(if h { 1.0 } else { 0.0 });
        }
        if let Some(h) = roi::pointing_game(&dl.heatmap.map, &decisive, roi::POINTING_TOLERANCE) {
            hits_l.push(if h { 1.0 } else { 0.0 });
        }
        energy.extend(r.energy_in_region);
        rois.push(r);
    }
    let mut pngs = Vec::new();
    for (c, g) in grids.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
        let png = render::png_bytes(&render::grid(g, 5))?;
        let caption = format!(
            "{}: {} (raw | deployed Grad-CAM | training Grad-CAM | deployed Score-CAM | deployed LayerCAM at {}, \
                 identity STE)",
            model.name,
            synth::CLASS_NAMES[c],
            FINE.1
        );
        pngs.push((format!("{}_class{c}.png", model.name), (caption, png)));
    }
    let latching_share = rois.iter().filter(|r| r.latching).count() as f64 / rois.len().max(1) as f64;
    let head_mass_ratio = roi::pooled_head_ratio(&rois);
    let summary = ModelSummary {
        name: model.name.clone(),
        data: model.trained_with.map_or("clean".into(), |a| format!("artifact {}", a.name())),
        accuracy: acc,
        generalization,
        exp_fps: timing.exp_fps,
        fps: timing.fps,
        latency_us: timing.latency_us,
        gradcam_agreement: mean(&agree_g),
        scorecam_agreement: mean(&agree_s),
        pointing_rate: mean(&hits),
        scorecam_pointing_rate: mean(&hits_s),
        layercam_pointing_rate: mean(&hits_l),
        energy_in_region: mean(&energy),
        energy_on_head: mean(&rois.iter().filter_map(|r| r.energy_on_head).collect::<Vec<_>>()),
        head_area: mean(&rois.iter().map(|r| r.head_area).collect::<Vec<_>>()),
        head_mass_ratio,
        latching_share,
        latching: roi::latches(head_mass_ratio),
    };
    Ok((summary, pngs))
}

/// Runs the demo over `models`, writes the report into `opts.out`, and returns the summaries.
pub fn run(models: &[DemoModel], opts: &Options, progress: &dyn Fn(&str)) -> Result<Vec<ModelSummary>> {
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
    let mut summaries = Vec::new();
    let mut files = Vec::new();
    for m in models {
        progress(&m.name);
        let (s, pngs) = one(m, opts)?;
        summaries.push(s);
        files.extend(pngs);
    }
    let metrics = serde_json::json!({
        "seed": opts.seed,
        "layer": opts.layer,
        "fine_map": {"method": FINE.0, "layer": FINE.1, "ste": "identity"},
        "images_per_class": opts.per_class,
        "images_per_generalization_set": opts.per_variation,
        "clock_mhz": 100.0,
        "latch_head_factor": roi::LATCH_HEAD_FACTOR,
        "models": summaries,
    });
    let figures: Vec<Figure> = files.iter().map(|(_, f)| f.clone()).collect();
    let report = html(&summaries, &figures);
    write_dir(&opts.out, &DEMO_OUT, |dir| {
        for (name, (_, png)) in &files {
            put(dir, name, png)?;
        }
        put(dir, "metrics.json", serde_json::to_string_pretty(&metrics).expect("JSON").as_bytes())?;
        put(dir, "report.html", report.as_bytes())
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

fn html(summaries: &[ModelSummary], figures: &[Figure]) -> String {
    let rows: Vec<String> = summaries
        .iter()
        .map(|m| {
            let gens: Vec<String> = m.generalization.iter().map(|(k, v)| format!("{k} {:.0}%", 100.0 * v)).collect();
            format!(
                "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.0} µs</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                m.name,
                m.data,
                pct(Some(m.accuracy)),
                gens.join(", "),
                m.fps,
                m.latency_us,
                num(m.gradcam_agreement),
                num(m.scorecam_agreement),
                pct(m.pointing_rate),
                pct(m.layercam_pointing_rate),
                num(m.energy_in_region),
                match (m.latching, m.head_mass_ratio) {
                    (true, Some(r)) => format!("<b style=\"color:#b00\">latching</b> ({r:.2})"),
                    (_, Some(r)) => format!("no ({r:.2})"),
                    _ => "n/a".into(),
                },
            )
        })
        .collect();
    let head = format!(
        "<p>Synthetic masked faces (seeded), classified through the IODMA driver on the simulated \
         accelerator; CAMs at the layer named in metrics.json. Latching: pooled over the correctly \
         classified images, the deployed Grad-CAM puts on the head less than 3/4 of the mass a \
         uniform map would put there (the ratio in brackets; 1 = uniform).</p><h2>Summary</h2><table><tr><th>model</th><th>data</th>\
         <th>accuracy</th><th>generalization</th><th>FPS (sim, 100 MHz)</th><th>latency</th>\
         <th>Grad-CAM agreement</th><th>Score-CAM agreement</th><th>pointing game (Grad-CAM)</th>\
         <th>pointing game (LayerCAM, Conv1_2, identity STE)</th>\
         <th>energy in region</th><th>latching</th></tr>{}</table>",
        rows.join("")
    );
    cam::report::page("binarycop demo: what the deployed BinaryCoP networks look at", &[head], figures, &[])
}
