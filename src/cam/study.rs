//! The `compare` study: for each image, the deployed network's CAM next to a reference's (the
//! training-time graph's, or the toolbox's exported activations and gradients) for the same
//! class; their similarity, the deployed map's faithfulness, the means per method and per
//! predicted class, the mean deletion and insertion curves, and the rows of the image grid.
//! `report::compare` draws the results; the command only parses its arguments and writes.

use std::path::{Path, PathBuf};

use ndarray::{Array2, Array4, ArrayView3, Axis};
use serde_json::{json, Map, Value};

use super::compare::{self, CurveMean, Curves};
use super::{read_exported, render, CamMethod, Deployed, Post, Request, Ste, Training};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::report::grid::{Prediction, Row, RowLabel, Tile, MAX_ROWS};

/// What the deployed maps are compared with.
pub enum Against<'a> {
    /// The f32 training-time graph, through the training route.
    Training(Training<'a>),
    /// A folder of toolbox exports, as python/export_cam.py writes them: `<i>/activations.npz`
    /// and `<i>/gradients.npz` (seed format, `arr_0`, H×W×C) per image index.
    Exports(PathBuf),
}

impl Against<'_> {
    /// `training`, or the exports folder as given; names the reference columns.
    pub fn name(&self) -> String {
        match self {
            Against::Training(_) => "training".into(),
            Against::Exports(d) => d.display().to_string(),
        }
    }

    /// The reference's map for image `i`, explaining the class the deployed network chose.
    fn cam(&self, i: usize, img: ArrayView3<u8>, req: &Request, class: usize) -> Result<super::Cam> {
        match self {
            Against::Training(t) => super::compute(t, img, &Request { class: Some(class), ..*req }),
            Against::Exports(d) => {
                let act = read_exported(&d.join(format!("{i}/activations.npz")), "arr_0", false)?;
                let grad = read_exported(&d.join(format!("{i}/gradients.npz")), "arr_0", false)?;
                super::from_exported(&act, &grad, (img.dim().0, img.dim().1), req.post)
            }
        }
    }
}

/// A study's settings.
pub struct Study<'a> {
    pub engine: &'a Engine,
    pub against: Against<'a>,
    pub layer: usize,
    pub methods: Vec<&'static dyn CamMethod>,
    pub ste: Ste,
    pub post: Post,
    /// Deletion/insertion steps for the faithfulness curves.
    pub steps: usize,
}

/// A study's results.
pub struct Outcome {
    /// metrics.json: the settings, `methods` (means per method), `per_class`, `per_image`.
    pub summary: Value,
    /// The grid's rows per predicted class (raw, then deployed and reference per method), the
    /// first `report::grid::MAX_ROWS` of each class.
    pub rows_per_class: Vec<Vec<Row>>,
    /// The mean faithfulness curves per method (methods without any curve left out).
    pub mean_curves: Vec<(String, Curves)>,
}

/// One image's results: its metrics.json row, its grid row and its predicted class.
struct ImageResult {
    json: Value,
    row: Row,
    class: usize,
}

impl Study<'_> {
    /// Refuses settings the reference cannot serve.
    pub fn check(&self) -> Result<()> {
        if let Against::Exports(d) = &self.against {
            if !d.is_dir() {
                return Err(Error::file(d, "--against must be 'training' or a folder of toolbox exports"));
            }
            if self.methods.iter().any(|m| m.name() != "gradcam") {
                return Err(Error::invalid(
                    "toolbox exports hold activations and gradients: only --method gradcam compares with them",
                ));
            }
        }
        Ok(())
    }

    /// Runs the study on `batch` (`names[i]` names image `i`); `masks` are the ground-truth
    /// regions outlined on the CAM tiles. `model` labels the model in the summary.
    pub fn run(
        &self,
        model: &str,
        batch: &Array4<u8>,
        names: &[String],
        masks: Option<&[Array2<bool>]>,
        progress: &Progress,
    ) -> Result<Outcome> {
        self.check()?;
        let mut rows = Vec::new();
        let mut rows_per_class: Vec<Vec<Row>> = vec![Vec::new(); self.engine.classes()];
        let mut curves = vec![CurveMean::default(); self.methods.len()];
        let bar = progress.bar(batch.dim().0 as u64, "comparing CAMs");
        for (i, img) in batch.axis_iter(Axis(0)).enumerate() {
            let region = masks.map(|m| m[i].clone());
            let r = self.image(i, img, &names[i], region, &mut curves)?;
            if rows_per_class[r.class].len() < MAX_ROWS {
                rows_per_class[r.class].push(r.row);
            }
            rows.push(r.json);
            bar.inc(1);
        }
        drop(bar);
        let mean_curves =
            self.methods.iter().zip(&curves).filter_map(|(m, c)| Some((m.name().to_string(), c.mean()?))).collect();
        Ok(Outcome { summary: self.summary(model, rows), rows_per_class, mean_curves })
    }

    /// One image: every method's deployed and reference maps, their similarity, and the
    /// deployed map's faithfulness (its curves added to `curves`).
    fn image(
        &self,
        i: usize,
        img: ArrayView3<u8>,
        name: &str,
        region: Option<Array2<bool>>,
        curves: &mut [CurveMean],
    ) -> Result<ImageResult> {
        let raw = render::to_rgb(img);
        let mut tiles = vec![Tile::new(raw.clone())];
        let mut per_method = Map::new();
        let deployed = Deployed::new(self.engine);
        let (mut class, mut logits) = (0, Vec::new());
        for (k, &method) in self.methods.iter().enumerate() {
            let req = Request { layer: self.layer, method, class: None, ste: self.ste, post: self.post };
            let dep = super::compute(&deployed, img, &req)?;
            (class, logits) = (dep.class, dep.logits.clone());
            // The same class on both routes, so the maps answer the same question.
            let other = self.against.cam(i, img, &req, dep.class)?;
            let sim = compare::similarity(&dep.heatmap.map, &other.heatmap.map);
            let curve = compare::faithfulness_curves(self.engine, img, &dep.heatmap.map, dep.class, self.steps)?;
            curves[k].add(&curve);
            for map in [&dep.heatmap.map, &other.heatmap.map] {
                tiles.push(Tile::new(render::overlay(&raw, &render::colorize(map))).with_outline(region.clone()));
            }
            per_method.insert(
                method.name().to_string(),
                json!({
                    "deployed_constant": dep.heatmap.constant,
                    "reference_constant": other.heatmap.constant,
                    "similarity": sim,
                    "faithfulness": curve.aucs(),
                }),
            );
        }
        let row = Row { label: row_label(name, class, &logits), tiles };
        let json = json!({ "input": name, "class": class, "methods": per_method });
        Ok(ImageResult { json, row, class })
    }

    /// metrics.json from the per-image rows.
    fn summary(&self, model: &str, rows: Vec<Value>) -> Value {
        let against = self.against.name();
        let methods: Map<String, Value> =
            self.methods.iter().map(|m| (m.name().to_string(), method_summary(&rows, m.name()))).collect();
        let per_class: Map<String, Value> =
            (0..self.engine.classes()).map(|c| (c.to_string(), self.class_summary(&rows, c))).collect();
        json!({
            "model": model,
            "layer": self.engine.layers()[self.layer].name,
            "against": against,
            "ste": format!("{:?}", self.ste).to_lowercase(),
            "relu": self.post.relu,
            "interp": format!("{:?}", self.post.interp).to_lowercase(),
            "drift_threshold_pearson": compare::DRIFT_PEARSON,
            "columns": std::iter::once("raw".to_string())
                .chain(self.methods.iter().flat_map(|m| [format!("deployed {}", m.name()), format!("{against} {}", m.name())]))
                .collect::<Vec<_>>(),
            "methods": methods,
            "per_class": per_class,
            "per_image": rows,
        })
    }

    /// The images predicted as `class` and their mean Pearson, per method.
    fn class_summary(&self, rows: &[Value], class: usize) -> Value {
        let in_class: Vec<&Value> = rows.iter().filter(|r| r["class"] == class).collect();
        let by_method: Map<String, Value> = self
            .methods
            .iter()
            .map(|m| {
                let p: Vec<f64> =
                    in_class.iter().filter_map(|r| r["methods"][m.name()]["similarity"]["pearson"].as_f64()).collect();
                let entry = json!({ "images": in_class.len(), "mean_pearson": mean(&p) });
                (m.name().to_string(), entry)
            })
            .collect();
        Value::Object(by_method)
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// One method's image count, drift count and mean metrics over the per-image rows.
fn method_summary(rows: &[Value], method: &str) -> Value {
    let mean_of = |path: &[&str]| -> Option<f64> {
        let v: Vec<f64> =
            rows.iter().filter_map(|r| path.iter().fold(&r["methods"][method], |v, k| &v[*k]).as_f64()).collect();
        mean(&v)
    };
    let drifted = rows.iter().filter(|r| r["methods"][method]["similarity"]["drift"].as_bool() == Some(true)).count();
    json!({
        "images": rows.len(),
        "drifted": drifted,
        "mean": {
            "pearson": mean_of(&["similarity", "pearson"]),
            "spearman": mean_of(&["similarity", "spearman"]),
            "cosine": mean_of(&["similarity", "cosine"]),
            "iou_top10": mean_of(&["similarity", "iou_top10"]),
            "iou_top20": mean_of(&["similarity", "iou_top20"]),
            "ssim": mean_of(&["similarity", "ssim"]),
            "deletion_auc": mean_of(&["faithfulness", "deletion_auc"]),
            "insertion_auc": mean_of(&["faithfulness", "insertion_auc"]),
        },
    })
}

/// The first cell of a grid row: the image's file name and the prediction.
fn row_label(name: &str, class: usize, logits: &[f32]) -> RowLabel {
    let short = Path::new(name).file_name().map_or(name.to_string(), |f| f.to_string_lossy().into_owned());
    let predicted = Prediction { class: format!("class {class}"), score: compare::softmax_at(logits, class) };
    RowLabel { title: short, truth: None, predicted: Some(predicted) }
}
