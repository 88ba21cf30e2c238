//! Text for figures: the bundled font (DejaVu Sans and DejaVu Sans Bold, subset to Latin-1 and
//! a few symbols by python/subset_font.py; Bitstream Vera licence, assets/fonts/LICENSE), its
//! metrics for layout, and rasterization onto RGB images through ab_glyph. SVG output names the
//! same family, so both renderings lay out alike; plotters registers the same regular face.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::RgbImage;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold-subset.ttf");

/// The CSS font family SVG and HTML output ask for (the bundled font first).
pub const FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// A font weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

fn fonts() -> &'static [FontRef<'static>; 2] {
    static FONTS: OnceLock<[FontRef<'static>; 2]> = OnceLock::new();
    FONTS.get_or_init(|| {
        // The bytes are compiled in and checked by the tests: a failure here is a build defect.
        let load = |b: &'static [u8]| FontRef::try_from_slice(b).expect("the bundled font parses");
        [load(REGULAR), load(BOLD)]
    })
}

fn font(weight: Weight) -> &'static FontRef<'static> {
    &fonts()[weight as usize]
}

/// Makes the regular face plotters' "sans-serif" (plotters lays out text with it).
pub(crate) fn register_with_plotters() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Parsing cannot fail for the bundled bytes (see `fonts`).
        let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, REGULAR);
        let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Bold, BOLD);
    });
}

/// The glyphs of one line, positioned from x = 0 on the baseline, with kerning.
fn positioned(text: &str, size: f32, weight: Weight) -> (Vec<ab_glyph::Glyph>, f32) {
    let f = font(weight).as_scaled(PxScale::from(size));
    let mut x = 0.0;
    let mut prev = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            x += f.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(PxScale::from(size), point(x, 0.0)));
        x += f.h_advance(id);
        prev = Some(id);
    }
    (glyphs, x)
}

/// The advance width of one line of text in pixels.
pub fn width(text: &str, size: f32, weight: Weight) -> f32 {
    positioned(text, size, weight).1
}

/// The distance from one baseline to the next.
pub fn line_height(size: f32) -> f32 {
    let f = font(Weight::Regular).as_scaled(PxScale::from(size));
    f.ascent() - f.descent() + f.line_gap()
}

/// The height above the baseline of capitals and ascenders.
pub fn ascent(size: f32) -> f32 {
    font(Weight::Regular).as_scaled(PxScale::from(size)).ascent()
}

/// Breaks `text` into lines no wider than `max` (words longer than `max` stay whole); explicit
/// newlines are kept.
pub fn wrap(text: &str, size: f32, weight: Weight, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if !line.is_empty() && width(&candidate, size, weight) > max {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        lines.push(line);
    }
    lines
}

/// Draws one line with its baseline's left end at (x, y), blending `color` by glyph coverage.
pub fn draw(img: &mut RgbImage, text: &str, x: f32, y: f32, size: f32, weight: Weight, color: [u8; 3]) {
    let (glyphs, _) = positioned(text, size, weight);
    let (w, h) = (img.width() as i64, img.height() as i64);
    for mut g in glyphs {
        g.position = point(g.position.x + x, g.position.y + y);
        let Some(outlined) = font(weight).outline_glyph(g) else { continue };
        let b = outlined.px_bounds();
        outlined.draw(|gx, gy, cov| {
            let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
            if cov <= 0.0 || px < 0 || py < 0 || px >= w || py >= h {
                return;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            let a = cov.min(1.0);
            for (c, &t) in p.0.iter_mut().zip(&color) {
                *c = (*c as f32 + a * (t as f32 - *c as f32)).round() as u8;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_faces_cover_the_figure_symbols() {
        for weight in [Weight::Regular, Weight::Bold] {
            for c in "Aµ×−≠✓✗→≥%é".chars() {
                assert_ne!(font(weight).glyph_id(c).0, 0, "{c:?} missing from the {weight:?} subset");
            }
        }
        assert!(width("Grad-CAM", 12.0, Weight::Bold) > width("Grad-CAM", 12.0, Weight::Regular));
        assert!(width("WW", 12.0, Weight::Regular) > width("ii", 12.0, Weight::Regular));
    }

    #[test]
    fn wrapping_keeps_words_and_newlines() {
        let lines = wrap("deployed Grad-CAM at Conv1_2\nidentity STE", 12.0, Weight::Regular, 80.0);
        assert!(lines.len() >= 3, "{lines:?}");
        assert_eq!(lines.last().unwrap(), "identity STE");
        assert_eq!(lines.join(" ").split_whitespace().count(), 6);
    }

    #[test]
    fn drawing_marks_pixels_inside_the_image_only() {
        let mut img = RgbImage::from_pixel(60, 20, image::Rgb([255, 255, 255]));
        draw(&mut img, "Label", 2.0, 15.0, 12.0, Weight::Bold, [0, 0, 0]);
        assert!(img.pixels().any(|p| p.0[0] < 128));
        // Off the canvas: no panic, nothing drawn.
        let mut small = RgbImage::from_pixel(4, 4, image::Rgb([255, 255, 255]));
        draw(&mut small, "Label", -30.0, 200.0, 12.0, Weight::Regular, [0, 0, 0]);
        assert!(small.pixels().all(|p| p.0 == [255, 255, 255]));
    }
}
