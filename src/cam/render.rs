//! Pictures of CAMs, in the BinaryCoP seed script's conventions: the heatmap scaled to 0..255
//! (truncated), coloured with matplotlib's 'jet' at 255 levels, and a 50/50 blend with the raw
//! image (PIL's `Image.blend`). PNGs are written atomically. Labelled figures of many CAMs
//! are `report::grid`'s.

use std::path::Path;

use image::{ImageEncoder, RgbImage};
use ndarray::{Array2, ArrayView3};

use crate::error::{write_atomic, Error, Result};

/// matplotlib's 'jet' segment data: (x, value) breakpoints per channel.
const JET: [&[(f64, f64)]; 3] = [
    &[(0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)],
    &[(0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)],
    &[(0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)],
];

/// The jet lookup table with `n` entries (matplotlib's LinearSegmentedColormap), as u8 RGB
/// (the float colour × 255, truncated, as the seed's `astype(np.uint8)`).
pub fn jet_lut(n: usize) -> Vec<[u8; 3]> {
    (0..n)
        .map(|i| {
            let x = if n > 1 { i as f64 / (n - 1) as f64 } else { 0.0 };
            let mut rgb = [0u8; 3];
            for (ch, seg) in JET.iter().enumerate() {
                let k = seg.iter().position(|&(sx, _)| sx >= x).unwrap_or(seg.len() - 1).max(1);
                let (x0, y0) = seg[k - 1];
                let (x1, y1) = seg[k];
                let t = if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.0 };
                rgb[ch] = ((y0 + t * (y1 - y0)) * 255.0) as u8;
            }
            rgb
        })
        .collect()
}

/// Colours a [0, 1] heatmap: value·255 truncated, then the 255-level jet table (255 maps to
/// the last entry, matplotlib's default "over" colour).
pub fn colorize(map: &Array2<f32>) -> RgbImage {
    let lut = jet_lut(255);
    let (h, w) = map.dim();
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let v = (map[[y as usize, x as usize]].clamp(0.0, 1.0) * 255.0) as usize;
        image::Rgb(lut[v.min(254)])
    })
}

/// An H×W×C u8 image (C = 1 or 3) as RGB.
pub fn to_rgb(img: ArrayView3<u8>) -> RgbImage {
    let (h, w, c) = img.dim();
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let p = |ch: usize| img[[y as usize, x as usize, ch.min(c - 1)]];
        image::Rgb([p(0), p(1), p(2)])
    })
}

/// PIL's `Image.blend(background, overlay, 0.5)` on 8-bit channels: bg + 0.5·(ov − bg),
/// truncated toward zero. The background is resized (bilinear) when its size differs.
pub fn overlay(background: &RgbImage, heat: &RgbImage) -> RgbImage {
    let bg = if background.dimensions() != heat.dimensions() {
        image::imageops::resize(background, heat.width(), heat.height(), image::imageops::FilterType::Triangle)
    } else {
        background.clone()
    };
    RgbImage::from_fn(heat.width(), heat.height(), |x, y| {
        let (a, b) = (bg.get_pixel(x, y), heat.get_pixel(x, y));
        image::Rgb(std::array::from_fn(|i| (a[i] as f32 + 0.5 * (b[i] as f32 - a[i] as f32)) as u8))
    })
}

/// Scales up with nearest neighbours so small maps are visible.
pub fn enlarge(img: &RgbImage, factor: u32) -> RgbImage {
    image::imageops::resize(img, img.width() * factor, img.height() * factor, image::imageops::FilterType::Nearest)
}

/// PNG bytes of an image.
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    image::codecs::png::PngEncoder::new(&mut buf)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::invalid(format!("cannot encode PNG: {e}")))?;
    Ok(buf)
}

pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    write_atomic(path, &png_bytes(img)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_matches_matplotlib() {
        // matplotlib: get_cmap('jet', 255): index 0 → (0, 0, 0.5), 127 → green-ish middle,
        // 254 → (0.5, 0, 0).
        let lut = jet_lut(255);
        assert_eq!(lut[0], [0, 0, 127]);
        assert_eq!(lut[254], [127, 0, 0]);
        // x = 127/254 = 0.5: r = (0.5−0.35)/0.31, g = 1, b = 1 − (0.5−0.34)/0.31.
        let r = ((0.5 - 0.35) / 0.31 * 255.0) as u8;
        let b = ((1.0 - (0.5 - 0.34) / 0.31) * 255.0) as u8;
        assert_eq!(lut[127], [r, 255, b]);
    }

    #[test]
    fn blend_is_pil_half() {
        let a = RgbImage::from_pixel(1, 1, image::Rgb([10, 200, 255]));
        let b = RgbImage::from_pixel(1, 1, image::Rgb([255, 0, 0]));
        assert_eq!(overlay(&a, &b).get_pixel(0, 0).0, [132, 100, 127]);
    }
}
