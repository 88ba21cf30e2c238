//! A self-contained HTML report (images embedded as data URIs) that opens with no server.

use serde_json::Value;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn data_uri(png: &[u8]) -> String {
    use base64::Engine as _;
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
}

fn num(v: &Value) -> String {
    v.as_f64().map_or_else(|| "n/a".into(), |x| format!("{x:.3}"))
}

/// A self-contained page: a title, HTML sections, then one figure per (caption, PNG bytes),
/// then more sections.
pub fn page(title: &str, before: &[String], figures: &[(String, Vec<u8>)], after: &[String]) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>");
    h.push_str(&esc(title));
    h.push_str(
        "</title><style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#eee}\
         img{image-rendering:pixelated;border:1px solid #ddd}.drift{color:#b00;font-weight:bold}</style></head><body>",
    );
    h.push_str(&format!("<h1>{}</h1>", esc(title)));
    for s in before {
        h.push_str(s);
    }
    for (caption, png) in figures {
        h.push_str(&format!("<h2>{}</h2><img src=\"{}\" alt=\"{}\">", esc(caption), data_uri(png), esc(caption)));
    }
    for s in after {
        h.push_str(s);
    }
    h.push_str("</body></html>\n");
    h
}

/// The `compare` report: the run's settings, per-method means, the class grids, and the
/// per-image metrics table.
pub fn compare_report(title: &str, summary: &Value, figures: &[(String, Vec<u8>)]) -> String {
    let setting = |k: &str| summary.get(k).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default();
    let mut intro = format!(
        "<p>Model <code>{}</code>, layer <b>{}</b>, against <b>{}</b>; STE {}, ReLU {}, interpolation {}. \
         Drift: Pearson below {} between the deployed and the reference map.</p>",
        esc(&setting("model")),
        esc(&setting("layer")),
        esc(&setting("against")),
        esc(&setting("ste")),
        esc(&setting("relu")),
        esc(&setting("interp")),
        esc(&setting("drift_threshold_pearson")),
    );
    intro.push_str("<h2>Agreement</h2><table><tr><th>method</th><th>images</th><th>drifted</th><th>Pearson</th><th>Spearman</th><th>cosine</th><th>IoU top 10%</th><th>IoU top 20%</th><th>SSIM</th><th>deletion AUC</th><th>insertion AUC</th></tr>");
    for (name, m) in summary["methods"].as_object().into_iter().flatten() {
        let mean = &m["mean"];
        intro.push_str(&format!(
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            m["images"],
            m["drifted"],
            num(&mean["pearson"]),
            num(&mean["spearman"]),
            num(&mean["cosine"]),
            num(&mean["iou_top10"]),
            num(&mean["iou_top20"]),
            num(&mean["ssim"]),
            num(&mean["deletion_auc"]),
            num(&mean["insertion_auc"]),
        ));
    }
    intro.push_str("</table>");
    let mut per = String::from("<h2>Per image</h2><table><tr><th>input</th><th>class</th><th>method</th><th>Pearson</th><th>IoU top 20%</th><th>SSIM</th><th>deletion</th><th>insertion</th><th>drift</th></tr>");
    for r in summary["per_image"].as_array().into_iter().flatten() {
        for (name, m) in r["methods"].as_object().into_iter().flatten() {
            let drift = m["similarity"]["drift"].as_bool() == Some(true);
            per.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>",
                esc(r["input"].as_str().unwrap_or("")),
                r["class"],
                esc(name),
                num(&m["similarity"]["pearson"]),
                num(&m["similarity"]["iou_top20"]),
                num(&m["similarity"]["ssim"]),
                num(&m["faithfulness"]["deletion_auc"]),
                num(&m["faithfulness"]["insertion_auc"]),
                if drift { " class=\"drift\"" } else { "" },
                if drift { "drift" } else { "" },
            ));
        }
    }
    per.push_str("</table>");
    page(title, &[intro], figures, &[per])
}
