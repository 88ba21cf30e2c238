//! The demo's report.html: a summary first (what ran, two tables, the cross-model figures),
//! then one section per model. Self-contained: plots inline as SVG, pictures as JPEG
//! thumbnails linking to the full-size PNG and SVG files beside the page.

use super::figures::{model_title, Figures, Shown, Written};
use super::{mean, ModelSummary, Options, FINE, GENERALIZATION};
use crate::cam::roi;
use crate::report::html::{esc, Cell, Page, Table};

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{:.0}%", 100.0 * x))
}

fn num(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.3}"))
}

fn show(page: &mut Page, w: &Written) {
    match &w.shown {
        Shown::Thumbnail(jpeg) => page.thumbnail(jpeg, "image/jpeg", &w.caption, &w.files),
        Shown::Svg(svg) => page.svg(svg, &w.caption, &w.files),
    }
}

fn accuracy_table(summaries: &[ModelSummary]) -> Table {
    let sets: Vec<String> = GENERALIZATION.iter().map(|v| v.name().replace('_', " ")).collect();
    let mut header = vec!["model".to_string(), "data".into(), "base set".into()];
    header.extend(sets.iter().cloned());
    header.extend(["mean of the sets".to_string(), "FPS (sim, 100 MHz)".into(), "latency".into()]);
    let rows = summaries
        .iter()
        .map(|m| {
            let mut row =
                vec![Cell::text(&model_title(&m.name)), Cell::text(&m.data), Cell::num(&pct(Some(m.accuracy)))];
            row.extend(GENERALIZATION.iter().map(|v| Cell::num(&pct(m.generalization.get(v.name()).copied()))));
            let gen = mean(&m.generalization.values().copied().collect::<Vec<_>>());
            row.extend([
                Cell::num(&pct(gen)),
                Cell::num(&format!("{:.1}", m.fps)),
                Cell::num(&format!("{:.0} µs", m.latency_us)),
            ]);
            row
        })
        .collect();
    Table {
        caption: "Accuracy through the driver on the simulated accelerator, and the simulated speed with the paper's \
                  folding."
            .into(),
        groups: vec![(String::new(), 3), ("generalization sets".into(), sets.len() + 1), ("accelerator".into(), 2)],
        header,
        rows,
    }
}

fn explanation_table(summaries: &[ModelSummary], opts: &Options) -> Table {
    let header = [
        "model",
        "Grad-CAM",
        "Score-CAM",
        "Grad-CAM",
        "Score-CAM",
        "LayerCAM",
        "energy in region",
        "head mass ratio",
        "images below 0.75",
        "verdict",
    ];
    let rows = summaries
        .iter()
        .map(|m| {
            let verdict = match (m.latching, m.head_mass_ratio) {
                (true, Some(_)) => Cell::bad("latching"),
                (false, Some(_)) => Cell::text("no latching"),
                _ => Cell::text("n/a"),
            };
            vec![
                Cell::text(&model_title(&m.name)),
                Cell::num(&num(m.gradcam_agreement)),
                Cell::num(&num(m.scorecam_agreement)),
                Cell::num(&pct(m.pointing_rate)),
                Cell::num(&pct(m.scorecam_pointing_rate)),
                Cell::num(&pct(m.layercam_pointing_rate)),
                Cell::num(&num(m.energy_in_region)),
                Cell::num(&num(m.head_mass_ratio)),
                Cell::num(&pct(Some(m.latching_share))),
                verdict,
            ]
        })
        .collect();
    Table {
        caption: format!(
            "What the deployed networks look at (correctly classified base images). Agreement: mean Pearson between \
             the deployed and the training-time map at {layer}. Pointing game: the map's maximum within {tol} px \
             of the decisive region, Grad-CAM and Score-CAM at {layer}, LayerCAM at {fine} with the identity STE. \
             Energy: the Grad-CAM mass in the decisive region. Head mass ratio: the Grad-CAM mass on the head over \
             the head's area, pooled (1 = uniform); below {f} the model is flagged as latching.",
            layer = opts.layer,
            tol = roi::POINTING_TOLERANCE,
            fine = FINE.1,
            f = roi::LATCH_HEAD_FACTOR
        ),
        groups: vec![
            (String::new(), 1),
            ("agreement".into(), 2),
            ("pointing game".into(), 3),
            (String::new(), 1),
            ("latching".into(), 3),
        ],
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
    }
}

fn model_section(page: &mut Page, m: &ModelSummary, figs: &[Written]) {
    page.section(&format!("model-{}", m.name), &format!("{} ({})", model_title(&m.name), m.name));
    let faith: Vec<String> = m
        .faithfulness
        .iter()
        .map(|(k, f)| format!("{} deletion {:.3} / insertion {:.3}", esc(k), f.deletion_auc, f.insertion_auc))
        .collect();
    page.html(&format!(
        "Evaluated on {} faces. Accuracy {} on the base set; Grad-CAM agreement {}; pointing game {} (Grad-CAM), {} \
         (LayerCAM); head mass ratio {}{}. Faithfulness AUCs: {}.",
        esc(&m.data),
        pct(Some(m.accuracy)),
        num(m.gradcam_agreement),
        pct(m.pointing_rate),
        pct(m.layercam_pointing_rate),
        num(m.head_mass_ratio),
        if m.latching { " — <span class=\"bad\">latching</span>" } else { "" },
        if faith.is_empty() { "n/a".to_string() } else { faith.join("; ") }
    ));
    for w in figs {
        show(page, w);
    }
}

/// The page.
pub(crate) fn html(summaries: &[ModelSummary], figures: &Figures, opts: &Options) -> String {
    let mut page = Page::new("binarycop demo: what the deployed BinaryCoP networks look at");
    page.intro(&format!(
        "<p>Synthetic masked faces (seed {}, {} base images per class and {} per generalization set) with \
         ground-truth part maps, classified through the IODMA driver on the simulated FINN accelerator, and \
         explained by CAMs computed on the deployed (folded integer) network and on the training-time graph. \
         Numbers are in <code>metrics.json</code>; every figure links to its full-size files in this folder.</p>",
        opts.seed, opts.per_class, opts.per_variation
    ));
    page.section("summary", "Summary");
    page.table(&accuracy_table(summaries));
    page.table(&explanation_table(summaries, opts));
    for w in &figures.summary {
        show(&mut page, w);
    }
    for (m, (_, figs)) in summaries.iter().zip(&figures.per_model) {
        model_section(&mut page, m, figs);
    }
    page.finish()
}
