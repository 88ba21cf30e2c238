//! `synth`: the synthetic masked-face set with part maps.

use std::fmt::Write;
use std::path::PathBuf;

use crate::data::synth::{self, Artifact, Config, Variation, CLASS_NAMES};
use crate::error::{Error, Result};
use crate::progress::Progress;

#[derive(clap::Args)]
pub struct SynthArgs {
    /// How many images (classes balanced in blocks of four).
    #[arg(long)]
    count: usize,
    /// Seed: the same seed gives the same bytes on every machine.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The output folder (created; an earlier synth output there is replaced).
    #[arg(long)]
    out: PathBuf,
    /// Image size in pixels (square), the model's input.
    #[arg(long, default_value_t = 32)]
    size: u32,
    /// Size drawn at before the area downsampling to --size.
    #[arg(long, default_value_t = 128)]
    render_size: u32,
    /// Comma list of: base, headgear, glasses, sunglasses, double_mask, face_paint.
    #[arg(long, default_value = "base")]
    variations: String,
    /// Leak the label through a spurious cue: corner or blocks (faint), or tag (a visible mark in
    /// the class's corner); default none.
    #[arg(long)]
    artifact: Option<String>,
    /// With --artifact: the fraction F in [0, 1) of images whose face shows another class
    /// (seeded) than the label, which the cue still follows, so the cue is more reliable than
    /// the face (default 0).
    #[arg(long, allow_hyphen_values = true)]
    conflict: Option<f64>,
}

pub fn synth(args: SynthArgs, progress: &Progress, out: &mut String) -> Result<()> {
    let SynthArgs { count, seed, out: dir, size, render_size, variations, artifact, conflict } = args;
    let artifact = match &artifact {
        Some(a) => Artifact::parse(a)?,
        None => None,
    };
    if conflict.is_some() && artifact.is_none() {
        return Err(Error::invalid(synth::CONFLICT_NEEDS_ARTIFACT));
    }
    let config = Config {
        count,
        seed,
        size,
        render_size,
        variations: Variation::parse_list(&variations)?,
        artifact,
        conflict: conflict.unwrap_or(0.0),
    };
    config.validate()?;
    let bar = progress.bar(count as u64, "drawing faces");
    let ds = synth::generate_observed(&config, &bar)?;
    drop(bar);
    let writing = progress.spinner(&format!("writing {count} images and part maps"));
    synth::write_dataset(&ds, &dir)?;
    drop(writing);
    let mut counts = [0usize; synth::CLASSES];
    for &l in &ds.labels {
        counts[l as usize] += 1;
    }
    let names: Vec<_> = config.variations.iter().map(|v| v.name()).collect();
    let _ = writeln!(
        out,
        "wrote {count} images ({size}x{size}, drawn at {render_size}) to {}; variations: {}; artifact: {}",
        dir.display(),
        names.join(","),
        config.artifact.map_or("none", |a| a.name())
    );
    for (k, n) in counts.iter().enumerate() {
        let _ = writeln!(out, "  class {k} {:<20} {n}", CLASS_NAMES[k]);
    }
    if config.conflict > 0.0 {
        let n = ds.labels.iter().zip(&ds.face_classes).filter(|(l, f)| l != f).count();
        let _ = writeln!(
            out,
            "  conflict {}: {n} of {count} faces show another class than their label (and cue)",
            config.conflict
        );
    }
    Ok(())
}
