//! The pointing-game investigation behind the README's RoI figures: for each embedded clean
//! model, every CAM method, layer and straight-through estimator, the share of correctly
//! classified synthetic images whose CAM maximum lies in the class's decisive region (within
//! `roi::POINTING_TOLERANCE`), and the mean share of CAM mass inside it. Two baselines put the
//! rates in context: a map peaking at the image centre, and the chance that a uniformly random
//! pixel hits the (tolerance-dilated) region.
//!
//! `cargo run --release --example pointing_game [-- IMAGES_PER_CLASS]` (default 25).

use binarycop::cam::{self, methods, roi, Deployed, Post, Request, Ste};
use binarycop::data::synth::{self, Variation};
use binarycop::demo::models;
use binarycop::engine::Engine;
use binarycop::model::FoldedModel;
use ndarray::{Array2, Axis};

/// The region grown by the pointing game's tolerance (a square of side 2·tol + 1).
fn dilate(region: &Array2<bool>, tol: usize) -> Array2<bool> {
    let (h, w) = region.dim();
    Array2::from_shape_fn((h, w), |(y, x)| {
        let (y0, y1) = (y.saturating_sub(tol), (y + tol).min(h - 1));
        let (x0, x1) = (x.saturating_sub(tol), (x + tol).min(w - 1));
        (y0..=y1).any(|yy| (x0..=x1).any(|xx| region[[yy, xx]]))
    })
}

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
    let mut cfg = synth::Config::new(per_class * synth::CLASSES, 9001);
    cfg.variations = vec![Variation::Base];
    let data = synth::generate(&cfg)?;
    let n = data.labels.len();
    let size = (data.images.dim().1, data.images.dim().2);
    let centre = Array2::from_shape_fn(size, |(y, x)| {
        let (dy, dx) = (y as f32 - (size.0 as f32 - 1.0) / 2.0, x as f32 - (size.1 as f32 - 1.0) / 2.0);
        -(dy * dy + dx * dx)
    });
    let regions: Vec<Array2<bool>> =
        (0..n).map(|i| synth::decisive_mask(data.labels[i] as usize, data.parts.index_axis(Axis(0), i))).collect();
    let chance: f64 = regions
        .iter()
        .map(|r| dilate(r, roi::POINTING_TOLERANCE).iter().filter(|&&b| b).count() as f64 / r.len() as f64)
        .sum::<f64>()
        / n as f64;
    let centre_rate =
        regions.iter().filter(|r| roi::pointing_game(&centre, r, roi::POINTING_TOLERANCE) == Some(true)).count() as f64
            / n as f64;
    println!("{n} base images (seed 9001); chance {:.0}%, centre prior {:.0}%", 100.0 * chance, 100.0 * centre_rate);
    println!("{:<6} {:<8} {:<10} {:<9} {:>9} {:>8}", "model", "layer", "method", "STE", "pointing", "energy");
    for name in ["cnv", "ncnv", "ucnv"] {
        let m = models::load(name)?;
        let engine = Engine::new(FoldedModel::fold(&m.trained)?)?;
        let labels: Vec<usize> = engine
            .run_batch(data.images.view())?
            .outer_iter()
            .map(|s| binarycop::engine::top_k(&s.to_vec(), 1)[0])
            .collect();
        let correct: Vec<usize> = (0..n).filter(|&i| labels[i] == data.labels[i] as usize).collect();
        let topo = &engine.model().topology;
        let spatial: Vec<String> = engine
            .layers()
            .iter()
            .filter(|l| l.output.height > 1 && l.compute_index != Some(0))
            .map(|l| l.name.clone())
            .collect();
        let deployed = Deployed::new(&engine);
        for layer_name in &spatial {
            let layer = topo.find_layer(layer_name)?;
            for method in ["gradcam", "gradcam++", "hirescam", "layercam", "scorecam", "eigencam"] {
                let method = methods::by_name(method)?;
                let stes: &[Ste] =
                    if method.uses_gradients() { &[Ste::Windowed, Ste::Identity] } else { &[Ste::Windowed] };
                for &ste in stes {
                    let (mut hits, mut scored, mut energy) = (0usize, 0usize, 0.0f64);
                    for &i in &correct {
                        let req = Request { layer, method, class: Some(labels[i]), ste, post: Post::PYTORCH_GRAD_CAM };
                        let c = cam::compute(&deployed, data.images.index_axis(Axis(0), i), &req)?;
                        if let Some(h) = roi::pointing_game(&c.heatmap.map, &regions[i], roi::POINTING_TOLERANCE) {
                            scored += 1;
                            hits += h as usize;
                            energy += roi::energy_in_region(&c.heatmap.map, &regions[i]).unwrap_or(0.0);
                        }
                    }
                    let ste_name = if !method.uses_gradients() {
                        "-"
                    } else if ste == Ste::Identity {
                        "identity"
                    } else {
                        "windowed"
                    };
                    println!(
                        "{:<6} {:<8} {:<10} {:<9} {:>8.0}% {:>7.0}%",
                        name,
                        layer_name,
                        method.name(),
                        ste_name,
                        100.0 * hits as f64 / scored.max(1) as f64,
                        100.0 * energy / scored.max(1) as f64
                    );
                }
            }
        }
    }
    Ok(())
}
