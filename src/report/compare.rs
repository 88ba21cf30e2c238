//! The `compare` command's figures and report.html: the image grid (grid.png, grid.svg and
//! grid_preview.jpg: one block per predicted class), and a page with the run's settings, the
//! per-method agreement table, the agreement histograms per class, the mean deletion and
//! insertion curves, the grid's preview linking to its files, and the per-image table.

use std::path::Path;

use serde_json::Value;

use super::grid::{Block, Grid, Layout, Row, MAX_ROWS as GRID_ROWS};
use super::html::{Cell, Link, Page, Table};
use super::plot::{self, Axes, Histogram, RefLine};
use crate::cam::compare::{self, DRIFT_PEARSON};
use crate::error::{write_atomic, Result};

fn num(v: &Value) -> String {
    v.as_f64().map_or_else(|| "n/a".into(), |x| format!("{x:.3}"))
}

fn setting(summary: &Value, k: &str) -> String {
    summary.get(k).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default()
}

fn means_table(summary: &Value) -> Table {
    let keys = ["pearson", "spearman", "cosine", "iou_top10", "iou_top20", "ssim", "deletion_auc", "insertion_auc"];
    let mut header = vec!["method".to_string(), "images".into(), "drifted".into()];
    header.extend(
        ["Pearson", "Spearman", "cosine", "IoU top 10%", "IoU top 20%", "SSIM", "deletion AUC", "insertion AUC"]
            .map(String::from),
    );
    let rows = summary["methods"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, m)| {
            let drifted = m["drifted"].as_u64().unwrap_or(0);
            let mut row = vec![
                Cell::text(name),
                Cell::num(&m["images"].to_string()),
                if drifted > 0 { Cell::bad(&drifted.to_string()) } else { Cell::num("0") },
            ];
            row.extend(keys.iter().map(|k| Cell::num(&num(&m["mean"][*k]))));
            row
        })
        .collect();
    Table {
        caption: "Means over the images. Agreement between the deployed and the reference map (same class); \
                  faithfulness of the deployed map on the deployed network."
            .into(),
        groups: vec![(String::new(), 3), ("agreement".into(), 6), ("faithfulness".into(), 2)],
        header,
        rows,
    }
}

fn per_image_table(summary: &Value) -> Table {
    let mut rows = Vec::new();
    for r in summary["per_image"].as_array().into_iter().flatten() {
        for (name, m) in r["methods"].as_object().into_iter().flatten() {
            let drift = m["similarity"]["drift"].as_bool() == Some(true);
            rows.push(vec![
                Cell::text(r["input"].as_str().unwrap_or("")),
                Cell::num(&r["class"].to_string()),
                Cell::text(name),
                Cell::num(&num(&m["similarity"]["pearson"])),
                Cell::num(&num(&m["similarity"]["iou_top20"])),
                Cell::num(&num(&m["similarity"]["ssim"])),
                Cell::num(&num(&m["faithfulness"]["deletion_auc"])),
                Cell::num(&num(&m["faithfulness"]["insertion_auc"])),
                if drift { Cell::bad("drift") } else { Cell::text("") },
            ]);
        }
    }
    Table {
        caption: "Per image and method.".into(),
        groups: Vec::new(),
        header: ["input", "class", "method", "Pearson", "IoU top 20%", "SSIM", "deletion", "insertion", "drift"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// Histograms of the per-image Pearson per predicted class, one series per method.
fn agreement_plot(summary: &Value, classes: usize) -> Result<Option<String>> {
    let rows = summary["per_image"].as_array().cloned().unwrap_or_default();
    let methods: Vec<String> = summary["methods"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let pearson = |r: &Value, m: &str| r["methods"][m]["similarity"]["pearson"].as_f64();
    let panels: Vec<Histogram> = (0..classes)
        .filter(|c| rows.iter().any(|r| r["class"] == *c))
        .map(|c| Histogram {
            title: format!("class {c}"),
            series: methods
                .iter()
                .map(|m| (m.clone(), rows.iter().filter(|r| r["class"] == c).filter_map(|r| pearson(r, m)).collect()))
                .collect(),
        })
        .collect();
    if panels.is_empty() {
        return Ok(None);
    }
    let range = compare::agreement_range(rows.iter().flat_map(|r| methods.iter().filter_map(move |m| pearson(r, m))));
    let axes = Axes {
        x_desc: "Pearson, deployed vs reference".into(),
        y_desc: "images".into(),
        y: (0.0, 1.0),
        panel: (250, 240),
        values: false,
        y_decimals: 0,
    };
    let drift = RefLine { label: "drift".into(), at: DRIFT_PEARSON, color: (200, 0, 0) };
    plot::histograms(&panels, &axes, range, 20, &[drift]).map(Some)
}

/// A picture's preview on the page: JPEG bytes and the links to its full-size files.
pub struct Preview<'a> {
    pub jpeg: &'a [u8],
    pub links: &'a [Link],
}

/// The page. `grid` is the preview of the image grid; `curves` the mean faithfulness curves
/// per method.
pub fn page(
    title: &str,
    summary: &Value,
    classes: usize,
    grid: Option<Preview>,
    curves: &[(String, compare::Curves)],
) -> Result<String> {
    let mut page = Page::new(title);
    page.intro(&format!(
        "<p>Model <code>{}</code>, layer <b>{}</b>, against <b>{}</b>; STE {}, ReLU {}, interpolation {}. Drift: \
         Pearson below {} between the deployed and the reference map. Numbers are in <code>metrics.json</code>.</p>",
        super::html::esc(&setting(summary, "model")),
        super::html::esc(&setting(summary, "layer")),
        super::html::esc(&setting(summary, "against")),
        super::html::esc(&setting(summary, "ste")),
        super::html::esc(&setting(summary, "relu")),
        super::html::esc(&setting(summary, "interp")),
        super::html::esc(&setting(summary, "drift_threshold_pearson")),
    ));
    page.section("summary", "Summary");
    page.table(&means_table(summary));
    if let Some(svg) = agreement_plot(summary, classes)? {
        page.svg(
            &svg,
            "Agreement per predicted class: histograms of the per-image Pearson correlation between the deployed \
             and the reference map, one colour per method. Mass near 1 means the deployed network explains itself \
             as the reference does; below the dashed line an image is flagged as drift.",
            &[],
        );
    }
    if !curves.is_empty() {
        page.svg(
            &compare::faithfulness_chart(curves, "")?,
            "Faithfulness of the deployed maps (mean over the images): deletion replaces the pixels the map ranks \
             highest with the image's mean colour, insertion puts them back into the mean image; the curves give the \
             probability of the explained class. A faithful map makes deletion fall fast (low AUC) and insertion \
             rise fast (high AUC).",
            &[],
        );
    }
    if let Some(Preview { jpeg: thumb, links }) = grid {
        let columns =
            summary["columns"].as_array().map(|c| c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "));
        page.thumbnail(
            thumb,
            "image/jpeg",
            &format!(
                "The images (the first {GRID_ROWS} of each predicted class), one block per predicted class; columns: \
                 {}. The first column names the image and the \
                 predicted class with its softmax probability. Maps are min-max scaled per map (jet: blue low, red \
                 high). The preview shows at most four images per class, the full-size files up to {GRID_ROWS}.",
                columns.unwrap_or_default()
            ),
            links,
        );
    }
    page.section("per-image", "Per image");
    page.table(&per_image_table(summary));
    Ok(page.finish())
}

/// Writes the grid (`rows_per_class[c]`: the rows of predicted class `c`; columns from
/// `summary["columns"]`) and report.html into `dir`; returns the number of class blocks.
pub fn write(
    dir: &Path,
    title: &str,
    summary: &Value,
    rows_per_class: Vec<Vec<Row>>,
    curves: &[(String, compare::Curves)],
) -> Result<usize> {
    let classes = rows_per_class.len();
    let columns = summary["columns"].as_array().into_iter().flatten().skip(1).filter_map(Value::as_str);
    let grid = Grid {
        label_header: "Image".into(),
        columns: std::iter::once("Raw").chain(columns).map(String::from).collect(),
        blocks: rows_per_class
            .into_iter()
            .enumerate()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(c, rows)| Block { caption: format!("predicted class {c}"), rows })
            .collect(),
        layout: Layout::default(),
    };
    grid.save(dir, "grid")?;
    let jpeg = grid.thumbnail(4)?;
    write_atomic(&dir.join("grid_preview.jpg"), &jpeg)?;
    let links = [("PNG".to_string(), "grid.png".to_string()), ("SVG".to_string(), "grid.svg".to_string())];
    let html = page(title, summary, classes, Some(Preview { jpeg: &jpeg, links: &links }), curves)?;
    write_atomic(&dir.join("report.html"), html.as_bytes())?;
    Ok(grid.blocks.len())
}
