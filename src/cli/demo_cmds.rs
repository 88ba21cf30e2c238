//! `demo`: the main job on the embedded models.

use std::fmt::Write;
use std::path::PathBuf;

use crate::demo::{self, models, Options};
use crate::error::Result;
use crate::limits::{MAX_DEMO_PER_CLASS, MAX_DEMO_PER_VARIATION};
use crate::progress::Progress;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the report goes.
    #[arg(long, default_value = "binarycop-demo")]
    out: PathBuf,
    /// Embedded models to run (comma-separated); default: all.
    #[arg(long)]
    models: Option<String>,
    #[arg(long, default_value_t = Options::default().per_class, value_parser = super::count(1, MAX_DEMO_PER_CLASS),
          help = format!("Synthetic images per class in the base set (1 to {MAX_DEMO_PER_CLASS})"))]
    per_class: usize,
    #[arg(long, default_value_t = Options::default().per_variation,
          value_parser = super::count(1, MAX_DEMO_PER_VARIATION),
          help = format!("Images per generalization set: head gear, glasses, sunglasses, double mask, face paint \
                          (1 to {MAX_DEMO_PER_VARIATION})"))]
    per_variation: usize,
    #[arg(long, default_value_t = Options::default().seed)]
    seed: u64,
    /// The layer the CAMs explain.
    #[arg(long, default_value_t = Options::default().layer)]
    layer: String,
    /// Outline the ground-truth decisive region on the CAM tiles of the figures.
    #[arg(long)]
    outline: bool,
    /// Skip the pointing-game survey (every method × layer × STE), the slowest part.
    #[arg(long)]
    no_survey: bool,
}

pub fn demo(a: DemoArgs, progress: &Progress, out: &mut String) -> Result<()> {
    let names: Vec<String> = match &a.models {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None => models::names().iter().map(|s| s.to_string()).collect(),
    };
    let ms = names.iter().map(|n| models::load(n)).collect::<Result<Vec<_>>>()?;
    let opts = Options {
        out: a.out.clone(),
        per_class: a.per_class,
        per_variation: a.per_variation,
        seed: a.seed,
        layer: a.layer.clone(),
        outline: a.outline,
        survey: !a.no_survey,
    };
    let start = std::time::Instant::now();
    let summaries = demo::run(&ms, &opts, progress)?;
    out.push_str(&demo::table(&summaries));
    let _ = writeln!(
        out,
        "\n{} models, {} base images and {} per generalization set each, in {:.1} s; report: {}",
        summaries.len(),
        opts.per_class * crate::data::synth::CLASSES,
        opts.per_variation,
        start.elapsed().as_secs_f64(),
        a.out.join("report.html").display()
    );
    Ok(())
}
