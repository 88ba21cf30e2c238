//! `synth`: the synthetic masked-face set with part maps.

use std::fmt::Write;
use std::path::PathBuf;

use crate::data::synth::{self, Artifact, ClassSet, Config, Variation};
use crate::error::{Error, Result};
use crate::limits::MAX_SYNTH_COUNT;
use crate::progress::Progress;

#[derive(clap::Args)]
pub struct SynthArgs {
    #[arg(long, value_parser = super::count(1, MAX_SYNTH_COUNT),
          help = format!("How many images, 1 to {MAX_SYNTH_COUNT} (classes balanced in blocks of four, or three \
                          for --classes published); written as they are drawn, so memory does not grow with the \
                          count"))]
    count: usize,
    /// Seed: the same seed gives the same bytes on every machine.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The output folder (created; an earlier synth output there is replaced).
    #[arg(long)]
    out: PathBuf,
    /// Image size in pixels (square), the model's input (72 for BinaryCoP's published
    /// deployment).
    #[arg(long, default_value_t = 32)]
    size: u32,
    /// Size drawn at before the area downsampling to --size (default: 4 × --size).
    #[arg(long)]
    render_size: Option<u32>,
    /// The labels: paper (4: correctly masked, nose, nose and mouth, chin exposed) or published
    /// (3, BinaryCoP's published deployment: 0 Correctly Masked, 1 Incorrectly Worn (nose, nose
    /// and mouth, or chin exposed), 2 No Mask).
    #[arg(long, default_value = "paper")]
    classes: String,
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
    /// npy: images.npy, labels.npy, parts.npy, PNGs and labels.csv; folders: an image folder
    /// (one subfolder of RGB PNGs per class, named by class, and meta.json) for `eval`.
    #[arg(long, value_enum, default_value_t = Layout::Npy)]
    layout: Layout,
}

/// How `synth` writes its set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    Npy,
    Folders,
}

pub fn synth(args: SynthArgs, progress: &Progress, out: &mut String) -> Result<()> {
    let SynthArgs { count, seed, out: dir, size, render_size, classes, variations, artifact, conflict, layout } = args;
    let render_size = render_size.unwrap_or(size.saturating_mul(4));
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
        classes: ClassSet::parse(&classes)?,
    };
    let bar = progress.bar(count as u64, "drawing and writing faces");
    let summary = match layout {
        Layout::Npy => synth::write_set_observed(&config, &dir, &bar)?,
        Layout::Folders => synth::write_folders_observed(&config, &dir, &bar)?,
    };
    drop(bar);
    let names = config.classes.names();
    let variation_names: Vec<_> = config.variations.iter().map(|v| v.name()).collect();
    let _ = writeln!(
        out,
        "wrote {count} images ({size}x{size}, drawn at {render_size}) to {}; variations: {}; artifact: {}",
        dir.display(),
        variation_names.join(","),
        config.artifact.map_or("none", |a| a.name())
    );
    for (k, n) in summary.class_counts.iter().enumerate() {
        let _ = writeln!(out, "  class {k} {:<20} {n}", names[k]);
    }
    if config.conflict > 0.0 {
        let n = summary.conflicts;
        let _ = writeln!(
            out,
            "  conflict {}: {n} of {count} faces show another class than their label (and cue)",
            config.conflict
        );
    }
    Ok(())
}
