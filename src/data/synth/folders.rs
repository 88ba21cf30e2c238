//! `synth --layout folders`: the set as an image folder (the ImageFolder convention `eval`
//! reads), DIR/CLASS_NAME/NNNNNN.png (RGB, NNNNNN the image's index) and meta.json; no arrays,
//! no part maps. The images are the bytes [`super::write_set`] puts in images/, written all or
//! nothing the same way ([`crate::output::write_dir`]) and streamed in chunks of [`CHUNK`].

use std::path::Path;

use rayon::prelude::*;

use super::output::{file_name, meta, png_bytes, OWNER};
use super::{Config, Sample, SetSummary, CHUNK};
use crate::error::{Error, Result};
use crate::output::write_dir;
use crate::progress::Bar;

/// Draws the set `config` describes into class folders under `dir`, advancing `bar` per chunk.
pub fn write_folders_observed(config: &Config, dir: &Path, bar: &Bar) -> Result<SetSummary> {
    config.validate()?;
    let names = config.classes.names();
    let mut summary = SetSummary { class_counts: vec![0; names.len()], conflicts: 0 };
    let mut face_classes = Vec::new();
    write_dir(dir, &OWNER, |tmp| {
        for name in names {
            let p = tmp.join(name);
            std::fs::create_dir(&p).map_err(|e| Error::file(&p, format!("cannot create: {e}")))?;
        }
        for start in (0..config.count).step_by(CHUNK) {
            let end = (start + CHUNK).min(config.count);
            let samples: Vec<Sample> =
                (start as u64..end as u64).into_par_iter().map(|i| super::render_valid(config, i)).collect();
            samples.par_iter().try_for_each(|smp| write_png(config, tmp, smp))?;
            for smp in &samples {
                summary.class_counts[smp.class] += 1;
                summary.conflicts += usize::from(smp.face_class != smp.class);
                if config.conflict > 0.0 {
                    face_classes.push(smp.face_class as u8);
                }
            }
            bar.inc(samples.len() as u64);
        }
        write_meta(config, tmp, &summary, &face_classes)
    })?;
    Ok(summary)
}

fn write_png(config: &Config, dir: &Path, smp: &Sample) -> Result<()> {
    let class = config.classes.names()[smp.class];
    let p = dir.join(class).join(file_name(smp.index as usize));
    let rgb = smp.image.as_slice().expect("standard layout");
    let png = png_bytes(config.size, rgb, false).map_err(|e| Error::file(&p, e))?;
    std::fs::write(&p, png).map_err(|e| Error::file(&p, format!("cannot write: {e}")))
}

fn write_meta(config: &Config, dir: &Path, summary: &SetSummary, face_classes: &[u8]) -> Result<()> {
    let mut m = meta(config, summary, face_classes);
    m["layout"] = "folders".into();
    m["files"] = serde_json::json!({ "CLASS_NAME/NNNNNN.png": "RGB, image NNNNNN of class CLASS_NAME" });
    let p = dir.join("meta.json");
    std::fs::write(&p, serde_json::to_string_pretty(&m).expect("JSON"))
        .map_err(|e| Error::file(&p, format!("cannot write: {e}")))
}
