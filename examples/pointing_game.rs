//! The pointing-game investigation behind the README's RoI figures: for each embedded clean
//! model, every CAM method, layer and straight-through estimator, the share of correctly
//! classified synthetic images whose CAM maximum lies in the class's decisive region (within
//! `roi::POINTING_TOLERANCE`), and the mean share of CAM mass inside it. Two baselines put the
//! rates in context: a map peaking at the image centre, and the chance that a uniformly random
//! pixel hits the (tolerance-dilated) region. The survey itself is `cam::pointing::survey`
//! (the demo runs it too).
//!
//! `cargo run --release --example pointing_game [-- IMAGES_PER_CLASS [OUT_DIR]]` (default 25);
//! with OUT_DIR, also writes `pointing_<model>.svg` (bars per layer, method and STE) and
//! `pointing.json` there.

use binarycop::cam::pointing::{self, Case};
use binarycop::cam::Deployed;
use binarycop::data::synth::{self, Variation};
use binarycop::demo::models;
use binarycop::engine::Engine;
use binarycop::error::write_atomic;
use binarycop::model::FoldedModel;
use binarycop::progress::Progress;
use ndarray::{Array2, Axis};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> binarycop::error::Result<()> {
    let per_class: usize = match std::env::args().nth(1) {
        None => 25,
        Some(a) => match a.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(binarycop::Error::invalid(format!(
                    "IMAGES_PER_CLASS must be a positive integer, got '{a}'"
                )))
            }
        },
    };
    let out_dir = std::env::args().nth(2).map(std::path::PathBuf::from);
    if let Some(d) = &out_dir {
        std::fs::create_dir_all(d).map_err(|e| binarycop::Error::file(d, format!("cannot create: {e}")))?;
    }
    let progress = Progress::stderr(false);
    let mut cfg = synth::Config::new(per_class * synth::CLASSES, 9001);
    cfg.variations = vec![Variation::Base];
    let data = synth::generate(&cfg)?;
    let n = data.labels.len();
    let regions: Vec<Array2<bool>> =
        (0..n).map(|i| synth::decisive_mask(data.labels[i] as usize, data.parts.index_axis(Axis(0), i))).collect();
    let base = pointing::baselines(&regions.iter().collect::<Vec<_>>());
    println!(
        "{n} base images (seed 9001); chance {:.0}%, centre prior {:.0}%",
        100.0 * base.chance,
        100.0 * base.centre
    );
    println!("{:<6} {:<8} {:<10} {:<9} {:>9} {:>8}", "model", "layer", "method", "STE", "pointing", "energy");
    let mut all = serde_json::Map::new();
    for name in ["cnv", "ncnv", "ucnv"] {
        let m = models::load(name)?;
        let engine = Engine::new(FoldedModel::fold(&m.trained)?)?;
        let labels: Vec<usize> = engine
            .run_batch(data.images.view())?
            .outer_iter()
            .map(|s| binarycop::engine::top_k(&s.to_vec(), 1)[0])
            .collect();
        let cases: Vec<Case> = (0..n)
            .filter(|&i| labels[i] == data.labels[i] as usize)
            .map(|i| Case { image: data.images.index_axis(Axis(0), i), class: labels[i], region: &regions[i] })
            .collect();
        let names: Vec<String> = engine.layers().iter().map(|l| l.name.clone()).collect();
        let layers = pointing::spatial_layers(engine.layers());
        let bar = progress.bar((layers.len() * cases.len()) as u64, &format!("{name}: pointing game"));
        let entries = pointing::survey(&Deployed::new(&engine), &names, &layers, &cases, &bar)?;
        drop(bar);
        for e in &entries {
            println!(
                "{:<6} {:<8} {:<10} {:<9} {:>8.0}% {:>7.0}%",
                name,
                e.layer,
                e.method,
                e.ste.as_deref().unwrap_or("-"),
                100.0 * e.rate().unwrap_or(0.0),
                100.0 * e.energy
            );
        }
        if let Some(d) = &out_dir {
            let svg = pointing::chart(&entries, &base, name)?;
            write_atomic(&d.join(format!("pointing_{name}.svg")), svg.as_bytes())?;
        }
        all.insert(name.to_string(), serde_json::to_value(&entries).expect("JSON"));
    }
    if let Some(d) = &out_dir {
        let doc = serde_json::json!({ "images": n, "seed": 9001, "baselines": base, "models": all });
        write_atomic(&d.join("pointing.json"), serde_json::to_string_pretty(&doc).expect("JSON").as_bytes())?;
    }
    Ok(())
}
