//! The drift study behind `binarycop compare`: CAMs of the deployed network against the
//! training-time graph's (or the toolbox's exports) over a batch, for the same class, with
//! similarity and faithfulness per image, summaries per method and per class, one grid per
//! class and a self-contained report.

use std::path::{Path, PathBuf};

use ndarray::{ArrayView3, ArrayView4, Axis};
use serde_json::{json, Map, Value};

use super::{compare, read_exported, render, report, CamMethod, Deployed, Post, Request, Ste, Training};
use crate::engine::Engine;
use crate::error::{write_atomic, Error, Result};
use crate::reference::Reference;

/// What the deployed CAMs are compared with.
#[derive(Clone, Debug, PartialEq)]
pub enum Against {
    /// The f32 training-time graph.
    Training,
    /// A folder of toolbox exports (python/export_cam.py): `<i>/activations.npz` and
    /// `<i>/gradients.npz` (seed format, `arr_0`, H×W×C) per image index.
    Exports(PathBuf),
}

impl Against {
    /// `training` or a folder of exports.
    pub fn parse(s: &str) -> Result<Against> {
        if s == "training" {
            return Ok(Against::Training);
        }
        let d = PathBuf::from(s);
        if !d.is_dir() {
            return Err(Error::file(&d, "--against must be 'training' or a folder of toolbox exports"));
        }
        Ok(Against::Exports(d))
    }

    fn label(&self) -> String {
        match self {
            Against::Training => "training".into(),
            Against::Exports(d) => d.display().to_string(),
        }
    }
}

/// One study: which layer, methods and settings.
pub struct Study<'a> {
    pub engine: &'a Engine,
    pub reference: &'a Reference,
    pub layer: usize,
    pub methods: Vec<&'static dyn CamMethod>,
    pub against: Against,
    pub ste: Ste,
    pub post: Post,
    /// Deletion/insertion steps for the faithfulness curves.
    pub steps: usize,
    /// The model file, recorded in metrics.json.
    pub model: String,
}

/// The study's results: `metrics.json`'s content and one grid per predicted class.
pub struct Drift {
    pub summary: Value,
    /// (class, rows of tiles: raw, then deployed and reference overlays per method).
    grids: Vec<(usize, Vec<Vec<image::RgbImage>>)>,
    layer_name: String,
}

impl Study<'_> {
    /// Runs the study over a batch; `on_image` is called after each image (progress).
    pub fn run(&self, batch: ArrayView4<u8>, names: &[String], on_image: &dyn Fn()) -> Result<Drift> {
        if let Against::Exports(_) = self.against {
            if self.methods.iter().any(|m| m.name() != "gradcam") {
                return Err(Error::invalid(
                    "toolbox exports hold activations and gradients: only --method gradcam compares with them",
                ));
            }
        }
        let classes = self.engine.classes();
        let mut rows = Vec::new();
        let mut grids: Vec<Vec<Vec<image::RgbImage>>> = vec![Vec::new(); classes];
        for (i, img) in batch.axis_iter(Axis(0)).enumerate() {
            let (class, per_method, tiles) = self.image(i, img)?;
            grids[class].push(tiles);
            rows.push(json!({ "input": names[i], "class": class, "methods": per_method }));
            on_image();
        }
        let summary = json!({
            "model": self.model,
            "layer": self.engine.layers()[self.layer].name,
            "against": self.against.label(),
            "ste": format!("{:?}", self.ste).to_lowercase(),
            "relu": self.post.relu,
            "interp": format!("{:?}", self.post.interp).to_lowercase(),
            "drift_threshold_pearson": compare::DRIFT_PEARSON,
            "columns": self.columns(),
            "methods": self.method_summaries(&rows),
            "per_class": self.class_summaries(&rows, classes),
            "per_image": rows,
        });
        let grids = grids.into_iter().enumerate().filter(|(_, g)| !g.is_empty()).collect();
        Ok(Drift { summary, grids, layer_name: self.engine.layers()[self.layer].name.clone() })
    }

    /// One image: its class, the per-method metrics and the grid row.
    fn image(&self, i: usize, img: ArrayView3<u8>) -> Result<(usize, Map<String, Value>, Vec<image::RgbImage>)> {
        let (deployed, training) = (Deployed::new(self.engine), Training::new(self.reference));
        let raw = render::to_rgb(img);
        let mut tiles = vec![render::enlarge(&raw, 3)];
        let mut per_method = Map::new();
        let mut class = 0;
        for &method in &self.methods {
            let req = Request { layer: self.layer, method, class: None, ste: self.ste, post: self.post };
            let dep = super::compute(&deployed, img, &req)?;
            class = dep.class;
            // The same class on both routes, so the maps answer the same question.
            let other = match &self.against {
                Against::Training => super::compute(&training, img, &Request { class: Some(dep.class), ..req })?,
                Against::Exports(d) => {
                    let act = read_exported(&d.join(format!("{i}/activations.npz")), "arr_0", false)?;
                    let grad = read_exported(&d.join(format!("{i}/gradients.npz")), "arr_0", false)?;
                    super::from_exported(&act, &grad, (img.dim().0, img.dim().1), self.post)?
                }
            };
            let sim = compare::similarity(&dep.heatmap.map, &other.heatmap.map);
            let faith = compare::faithfulness(self.engine, img, &dep.heatmap.map, dep.class, self.steps)?;
            for map in [&dep.heatmap.map, &other.heatmap.map] {
                tiles.push(render::enlarge(&render::overlay(&raw, &render::colorize(map)), 3));
            }
            per_method.insert(
                method.name().to_string(),
                json!({
                    "deployed_constant": dep.heatmap.constant,
                    "reference_constant": other.heatmap.constant,
                    "similarity": sim,
                    "faithfulness": faith,
                }),
            );
        }
        Ok((class, per_method, tiles))
    }

    fn columns(&self) -> Vec<String> {
        let against = self.against.label();
        std::iter::once("raw".to_string())
            .chain(
                self.methods.iter().flat_map(|m| [format!("deployed {}", m.name()), format!("{against} {}", m.name())]),
            )
            .collect()
    }

    /// Per method: images, drift count and the mean of every metric.
    fn method_summaries(&self, rows: &[Value]) -> Map<String, Value> {
        let mut out = Map::new();
        for m in &self.methods {
            let mean = |path: &[&str]| mean(rows.iter().filter_map(|r| dig(&r["methods"][m.name()], path).as_f64()));
            let drifted =
                rows.iter().filter(|r| r["methods"][m.name()]["similarity"]["drift"].as_bool() == Some(true)).count();
            out.insert(
                m.name().to_string(),
                json!({
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
        out
    }

    /// Per predicted class and method: images and mean Pearson.
    fn class_summaries(&self, rows: &[Value], classes: usize) -> Map<String, Value> {
        let mut out = Map::new();
        for c in 0..classes {
            let in_class: Vec<&Value> = rows.iter().filter(|r| r["class"] == c).collect();
            let mut by_method = Map::new();
            for m in &self.methods {
                let p = mean(in_class.iter().filter_map(|r| r["methods"][m.name()]["similarity"]["pearson"].as_f64()));
                by_method.insert(m.name().to_string(), json!({ "images": in_class.len(), "mean_pearson": p }));
            }
            out.insert(c.to_string(), Value::Object(by_method));
        }
        out
    }
}

fn dig<'v>(v: &'v Value, path: &[&str]) -> &'v Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

impl Drift {
    /// Writes `grid_class<N>.png` per predicted class, `metrics.json` and `report.html` into
    /// `dir` (each file atomically). Returns the number of grids.
    pub fn write(&self, dir: &Path) -> Result<usize> {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create the output folder: {e}")))?;
        let against = self.summary["against"].as_str().unwrap_or_default();
        let mut figures = Vec::new();
        for (c, g) in &self.grids {
            let png = render::png_bytes(&render::grid(g, 4))?;
            write_atomic(&dir.join(format!("grid_class{c}.png")), &png)?;
            figures.push((format!("Class {c}: raw | deployed | {against} (per method)"), png));
        }
        let metrics = serde_json::to_string_pretty(&self.summary).expect("JSON");
        write_atomic(&dir.join("metrics.json"), metrics.as_bytes())?;
        let title = format!("binarycop: deployed vs {against} CAMs at {}", self.layer_name);
        write_atomic(&dir.join("report.html"), report::compare_report(&title, &self.summary, &figures).as_bytes())?;
        Ok(figures.len())
    }

    /// One line per method, as `binarycop compare` prints it.
    pub fn text(&self) -> String {
        let f = |v: &Value| v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.3}"));
        let mut s = String::new();
        for (name, m) in self.summary["methods"].as_object().into_iter().flatten() {
            let mean = &m["mean"];
            s.push_str(&format!(
                "{name} on {}: deployed vs {} over {} images: Pearson {}, Spearman {}, IoU@10% {}, IoU@20% {}, SSIM {}, deletion AUC {}, insertion AUC {}; {} flagged as drift (Pearson < {})\n",
                self.layer_name,
                self.summary["against"].as_str().unwrap_or_default(),
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
            ));
        }
        s
    }
}
