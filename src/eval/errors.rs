//! `eval --errors DIR`: the misclassified images, for inspection. Per image `NNNN`:
//! `NNNN_input.png` (the image as the model took it, cropped and resized, enlarged ×4),
//! `NNNN_gradcam.png` (the deployed network's Grad-CAM for the class it predicted, over the
//! input, enlarged ×4), and a copy of the source file (`NNNN_source.<ext>`) when it came from a
//! file. `errors.csv` lists each with its source, true and predicted class. The CAM is the
//! deployed network's (the CPU engine, bit-exact with the accelerator) whatever the backend.

use std::fmt::Write;
use std::path::Path;

use super::Miss;
use crate::cam::{self, methods, render, Deployed, Post, Request, Ste};
use crate::engine::Engine;
use crate::error::{write_atomic, Error, Result};
use crate::output::Owner;

/// `--errors` folders: errors.csv marks them.
pub const ERRORS_OUT: Owner = Owner {
    tag: "errors",
    what: "a `binarycop eval --errors` output (its errors.csv)",
    is_ours: |d| d.join("errors.csv").is_file(),
};

/// Scale of the written PNGs (a 32×32 input is 128×128).
const ENLARGE: u32 = 4;

/// Writes `misses` into `dir` (which exists and is empty) with Grad-CAM at `layer`.
pub fn write(dir: &Path, misses: &[Miss], engine: &Engine, layer: usize, names: &[String]) -> Result<()> {
    let route = Deployed::new(engine);
    let gradcam = methods::by_name("gradcam")?;
    let mut csv = String::from("n,source,true_class,true_name,predicted_class,predicted_name\n");
    for (n, m) in misses.iter().enumerate() {
        let req = Request { layer, method: gradcam, class: Some(m.predicted), ste: Ste::Windowed, post: Post::SEED };
        let c = cam::compute(&route, m.image.view(), &req)?;
        let input = render::to_rgb(m.image.view());
        let overlay = render::overlay(&input, &render::colorize(&c.heatmap.map));
        let stem = format!("{n:04}");
        let png = |name: &str, img: &image::RgbImage| -> Result<()> {
            let p = dir.join(format!("{stem}_{name}.png"));
            write_atomic(&p, &render::png_bytes(&render::enlarge(img, ENLARGE))?)
        };
        png("input", &input)?;
        png("gradcam", &overlay)?;
        if m.source.is_file() {
            let ext = m.source.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
            let copy = dir.join(format!("{stem}_source.{ext}"));
            std::fs::copy(&m.source, &copy)
                .map_err(|e| Error::file(&copy, format!("cannot copy {}: {e}", m.source.display())))?;
        }
        let _ = writeln!(
            csv,
            "{n},{},{},{},{},{}",
            csv_field(&m.source.display().to_string()),
            m.truth,
            csv_field(&names[m.truth]),
            m.predicted,
            csv_field(&names[m.predicted])
        );
    }
    write_atomic(&dir.join("errors.csv"), csv.as_bytes())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(super::csv_field("a/b.png"), "a/b.png");
        assert_eq!(super::csv_field("a,\"b\".png"), "\"a,\"\"b\"\".png\"");
    }
}
