//! The demo's figures: per model, the class figure (one block per class, the CAMs as columns)
//! and its plots (pointing-game survey, deletion and insertion curves); across models, the
//! paper's figure (models as columns), the latching ratios and the agreement histograms.
//! Every figure is written as files (PNG and SVG for grids, SVG for plots) and handed to the
//! page with a caption.

use super::{Explained, ModelRun, Options, COLUMNS, FAITHFULNESS_STEPS, FINE};
use crate::cam::{compare, pointing, roi};
use crate::data::synth::{self, CLASSES};
use crate::error::{write_atomic, Result};
use crate::report::grid::{Block, Grid, Layout, Prediction, Row, RowLabel, Tile, MAX_ROWS};
use crate::report::plot::{self, Axes, Bars, Histogram, RefLine};

/// How a figure appears on the page.
pub(crate) enum Shown {
    /// A JPEG thumbnail of a picture.
    Thumbnail(Vec<u8>),
    /// An inline SVG plot.
    Svg(String),
}

/// A written figure: its caption, its files (label, name in the output folder), and what the
/// page embeds.
pub(crate) struct Written {
    pub caption: String,
    pub files: Vec<(String, String)>,
    pub shown: Shown,
}

/// Everything the page shows.
pub(crate) struct Figures {
    pub summary: Vec<Written>,
    /// (model name, its figures).
    pub per_model: Vec<(String, Vec<Written>)>,
}

/// The class as the paper's figures name it.
pub(crate) fn class_title(c: usize) -> String {
    ["Correctly masked", "Nose exposed", "Nose + mouth exposed", "Chin exposed"]
        .get(c)
        .map_or_else(|| synth::CLASS_NAMES.get(c).copied().unwrap_or("unknown").replace('_', " "), |t| t.to_string())
}

/// The paper's names for the embedded models.
pub(crate) fn model_title(name: &str) -> String {
    match name {
        "cnv" => "CNV".into(),
        "ncnv" => "n-CNV".into(),
        "ucnv" => "µ-CNV".into(),
        "ucnv_artifact" => "µ-CNV (tag-trained)".into(),
        other => other.to_string(),
    }
}

fn letter(k: usize) -> char {
    (b'a' + (k % 26) as u8) as char
}

fn tiles(e: &Explained, columns: &[usize], outline: bool) -> Vec<Tile> {
    columns
        .iter()
        .map(|&c| Tile::new(e.tiles[c].clone()).with_outline((outline && c > 0).then(|| e.decisive.clone())))
        .collect()
}

/// Writes a grid as PNG and SVG with its preview (at most `rows` rows per block, JPEG).
fn write_grid(grid: &Grid, opts: &Options, stem: &str, rows: usize, caption: String) -> Result<Written> {
    grid.save(&opts.out, stem)?;
    let thumb = grid.thumbnail(rows)?;
    write_atomic(&opts.out.join(format!("{stem}_preview.jpg")), &thumb)?;
    let note = if grid.truncated(rows) {
        format!(" The preview (also {stem}_preview.jpg) shows the first {rows} rows of each block; the full-size files have all.")
    } else {
        String::new()
    };
    Ok(Written {
        caption: caption + &note,
        files: vec![("PNG".into(), format!("{stem}.png")), ("SVG".into(), format!("{stem}.svg"))],
        shown: Shown::Thumbnail(thumb),
    })
}

fn write_plot(svg: String, opts: &Options, stem: &str, caption: String) -> Result<Written> {
    write_atomic(&opts.out.join(format!("{stem}.svg")), svg.as_bytes())?;
    Ok(Written { caption, files: vec![("SVG".into(), format!("{stem}.svg"))], shown: Shown::Svg(svg) })
}

/// One model's class figure: a block per class, every base image of the class as a row.
fn class_figure(run: &ModelRun, opts: &Options) -> Result<Written> {
    let name = &run.summary.name;
    let blocks = (0..CLASSES)
        .map(|c| Block {
            caption: format!("({}) {} — {}", letter(c), class_title(c), model_title(name)),
            rows: run
                .images
                .iter()
                .filter(|e| e.truth == c)
                .take(MAX_ROWS)
                .map(|e| Row {
                    label: RowLabel::classified(
                        &class_title(e.truth),
                        Some(Prediction { class: class_title(e.predicted), score: e.probability }),
                    ),
                    tiles: tiles(e, &[0, 1, 2, 3, 4], opts.outline),
                })
                .collect(),
        })
        .filter(|b| !b.rows.is_empty())
        .collect();
    let grid = Grid {
        label_header: "Label".into(),
        columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
        blocks,
        layout: Layout::default(),
    };
    let outline = if opts.outline { " A white line outlines the class's decisive region (ground truth)." } else { "" };
    let caption = format!(
        "{}: the base images (up to {MAX_ROWS} per class), one block per true class. Columns: the input; Grad-CAM at {} on the deployed \
         (folded integer) network and on the training-time graph, Brevitas' windowed STE; Score-CAM at {} \
         (forward passes only); LayerCAM at {} with the identity STE. Grad-CAM and Score-CAM use the seed's \
         conventions (no ReLU, bicubic), LayerCAM pytorch-grad-cam's. Each map is min-max scaled on its own \
         (jet: blue low, red high). The first column gives the true class and the predicted class with its \
         softmax probability; ✗ marks a wrong prediction.{outline}",
        model_title(name),
        opts.layer,
        opts.layer,
        FINE.1
    );
    write_grid(&grid, opts, &format!("{name}_classes"), 2, caption)
}

/// The paper's figure: one block per class, the models as columns (column `col` of each
/// model's tiles), on the first images every model classifies correctly.
fn paper_figure(runs: &[&ModelRun], col: usize, opts: &Options, stem: &str, what: &str) -> Result<Option<Written>> {
    let Some(first) = runs.first() else { return Ok(None) };
    let per_block = opts.per_class.min(3);
    let blocks: Vec<Block> = (0..CLASSES)
        .map(|c| Block {
            caption: format!("({}) {} {what}", letter(c), class_title(c)),
            rows: (0..first.images.len())
                .filter(|&i| first.images[i].truth == c && runs.iter().all(|r| r.images[i].predicted == c))
                .take(per_block)
                .map(|i| Row {
                    label: RowLabel::classified(&class_title(c), None),
                    tiles: std::iter::once(Tile::new(first.images[i].tiles[0].clone()))
                        .chain(runs.iter().flat_map(|r| tiles(&r.images[i], &[col], opts.outline)))
                        .collect(),
                })
                .collect(),
        })
        .filter(|b| !b.rows.is_empty())
        .collect();
    if blocks.is_empty() {
        return Ok(None);
    }
    let grid = Grid {
        label_header: "Label".into(),
        columns: std::iter::once("Raw".to_string()).chain(runs.iter().map(|r| model_title(&r.summary.name))).collect(),
        blocks,
        layout: Layout::default(),
    };
    let caption = format!(
        "The paper's figure on synthetic faces: {what} of each model (columns) on the same images, up to \
         {per_block} per class, only images every model classifies correctly (as the paper shows only accurate \
         predictions). Maps are min-max scaled per map (jet: blue low, red high)."
    );
    write_grid(&grid, opts, stem, per_block, caption).map(Some)
}

fn survey_plot(run: &ModelRun, base: &pointing::Baselines, opts: &Options) -> Result<Written> {
    let name = &run.summary.name;
    let svg = pointing::chart(&run.summary.pointing_survey, base, &model_title(name))?;
    let n = run.images.iter().filter(|e| e.predicted == e.truth).count();
    let caption = format!(
        "Pointing game of every CAM method at every spatial layer on the deployed {}: the share of the {n} \
         correctly classified base images whose map peaks within {} px of the class's decisive region. Left \
         Brevitas' windowed STE, right the identity STE (Score-CAM and Eigen-CAM use no gradient and appear in \
         both). Dashed: a map peaking at the image centre ({:.0}%) and a random pixel ({:.0}%). Bars above both \
         lines localize the evidence.",
        model_title(name),
        roi::POINTING_TOLERANCE,
        100.0 * base.centre,
        100.0 * base.chance
    );
    write_plot(svg, opts, &format!("{name}_pointing"), caption)
}

fn faithfulness_plot(run: &ModelRun, opts: &Options) -> Result<Written> {
    let name = &run.summary.name;
    let svg = compare::faithfulness_chart(&run.curves, &format!(", {}", model_title(name)))?;
    let caption = format!(
        "Faithfulness of the deployed maps on the deployed {} (mean over the correctly classified base images, \
         {FAITHFULNESS_STEPS} steps): deletion replaces the pixels the map ranks highest with the image's mean \
         colour, insertion puts them back into the mean image. A faithful map makes the deletion curve fall fast \
         (low AUC) and the insertion curve rise fast (high AUC).",
        model_title(name)
    );
    write_plot(svg, opts, &format!("{name}_faithfulness"), caption)
}

fn latching_plot(runs: &[ModelRun], opts: &Options) -> Result<Written> {
    let names: Vec<String> = runs.iter().map(|r| model_title(&r.summary.name)).collect();
    let ratio = |latching: bool| -> Vec<Option<f64>> {
        runs.iter().map(|r| r.summary.head_mass_ratio.filter(|_| r.summary.latching == latching)).collect()
    };
    let bars = Bars {
        title: "Head mass ratio per model".into(),
        categories: names,
        series: vec![("not latching".into(), ratio(false)), ("latching".into(), ratio(true))],
    };
    let top = runs.iter().filter_map(|r| r.summary.head_mass_ratio).fold(1.3f64, f64::max);
    let axes = Axes {
        x_desc: "model".into(),
        y_desc: "head mass / head area".into(),
        y: (0.0, (top * 1.1 * 10.0).ceil() / 10.0),
        panel: (560, 300),
        values: true,
        y_decimals: 1,
    };
    let lines = [
        RefLine { label: "uniform map 1.0".into(), at: 1.0, color: (90, 90, 90) },
        RefLine {
            label: format!("latching below {}", roi::LATCH_HEAD_FACTOR),
            at: roi::LATCH_HEAD_FACTOR,
            color: (200, 0, 0),
        },
    ];
    let svg = plot::bars(&[bars], &axes, &lines)?;
    let caption = format!(
        "Latching: the share of the deployed Grad-CAM mass (at {}, pytorch-grad-cam's conventions) that falls on \
         the head, over the head's share of the pixels, pooled over each model's correctly classified base images. \
         A uniform map gives 1.0; a model whose maps avoid the head (a shortcut off the face) falls below {} and is \
         flagged.",
        opts.layer,
        roi::LATCH_HEAD_FACTOR
    );
    write_plot(svg, opts, "latching", caption)
}

fn agreement_plot(runs: &[ModelRun], opts: &Options) -> Result<Written> {
    let range = compare::agreement_range(runs.iter().flat_map(|r| r.images.iter().filter_map(|e| e.agreement)));
    let panels: Vec<Histogram> = (0..CLASSES)
        .map(|c| Histogram {
            title: class_title(c),
            series: runs
                .iter()
                .map(|r| {
                    let v = r.images.iter().filter(|e| e.truth == c).filter_map(|e| e.agreement).collect();
                    (model_title(&r.summary.name), v)
                })
                .collect(),
        })
        .collect();
    let axes = Axes {
        x_desc: "Pearson, deployed vs training".into(),
        y_desc: "images".into(),
        y: (0.0, 1.0),
        panel: (250, 240),
        values: false,
        y_decimals: 0,
    };
    let drift = RefLine { label: "drift".into(), at: compare::DRIFT_PEARSON, color: (200, 0, 0) };
    let svg = plot::histograms(&panels, &axes, range, 20, &[drift])?;
    let caption = format!(
        "Agreement between the deployed and the training-time Grad-CAM at {} (Brevitas' windowed STE), per true \
         class: histograms of the per-image Pearson correlation, one colour per model. Mass near 1 means the \
         folded integer network explains itself as the training graph does; below {} (dashed) a map is flagged \
         as drift.",
        opts.layer,
        compare::DRIFT_PEARSON
    );
    write_plot(svg, opts, "agreement", caption)
}

/// Writes every figure of the demo and returns them for the page.
pub(crate) fn write_all(runs: &[ModelRun], opts: &Options) -> Result<Figures> {
    let mut summary = vec![latching_plot(runs, opts)?, agreement_plot(runs, opts)?];
    let clean: Vec<&ModelRun> = runs.iter().filter(|r| r.summary.data == "clean").collect();
    let gradcam = format!("deployed Grad-CAM at {}", opts.layer);
    summary.extend(paper_figure(&clean, 1, opts, "paper_gradcam", &gradcam)?);
    let layercam = format!("deployed LayerCAM at {} (identity STE)", FINE.1);
    summary.extend(paper_figure(&clean, 4, opts, "paper_layercam", &layercam)?);
    let mut per_model = Vec::new();
    for run in runs {
        let mut figs = vec![class_figure(run, opts)?];
        if let Some(base) = &run.baselines {
            if !run.summary.pointing_survey.is_empty() {
                figs.push(survey_plot(run, base, opts)?);
            }
        }
        if !run.curves.is_empty() {
            figs.push(faithfulness_plot(run, opts)?);
        }
        per_model.push((run.summary.name.clone(), figs));
    }
    Ok(Figures { summary, per_model })
}
