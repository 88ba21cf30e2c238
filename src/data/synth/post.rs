//! Everything after the vector drawing: lighting at the render size, the area downsampling to
//! the model size (integer, exact), sensor noise and the opt-in spurious cues.

use super::rng::Rng;
use super::{Artifact, Part, PART_COUNT};

/// For each output index, the source indices it overlaps and by how much. Output pixel `o`
/// covers [o·r, (o+1)·r) and source pixel `j` covers [j·s, (j+1)·s) in units of 1/s source
/// pixel, so the weights are exact integers that add up to `r`.
pub(crate) fn spans(r: usize, s: usize) -> Vec<Vec<(usize, u64)>> {
    (0..s)
        .map(|o| {
            let (lo, hi) = (o * r, (o + 1) * r);
            (lo / s..hi.div_ceil(s))
                .filter_map(|j| {
                    let w = ((j + 1) * s).min(hi).saturating_sub((j * s).max(lo));
                    (w > 0).then_some((j, w as u64))
                })
                .collect()
        })
        .collect()
}

/// Area (box) average of an opaque RGBA picture r×r to RGB s×s, rounded to nearest.
pub(crate) fn downsample_rgb(rgba: &[u8], r: usize, s: usize, sp: &[Vec<(usize, u64)>]) -> Vec<u8> {
    if r.is_multiple_of(s) {
        return box_rgb(rgba, r, s);
    }
    let total = (r * r) as u64;
    let mut out = vec![0u8; s * s * 3];
    for (oy, ys) in sp.iter().enumerate() {
        for (ox, xs) in sp.iter().enumerate() {
            let mut acc = [0u64; 3];
            for &(y, wy) in ys {
                for &(x, wx) in xs {
                    let p = &rgba[(y * r + x) * 4..][..3];
                    let w = wy * wx;
                    for c in 0..3 {
                        acc[c] += w * p[c] as u64;
                    }
                }
            }
            for c in 0..3 {
                out[(oy * s + ox) * 3 + c] = ((acc[c] + total / 2) / total) as u8;
            }
        }
    }
    out
}

/// The integer-ratio case of [`downsample_rgb`] (the default 128 → 32): plain k×k sums.
fn box_rgb(rgba: &[u8], r: usize, s: usize) -> Vec<u8> {
    let k = r / s;
    let total = (k * k) as u32;
    let mut acc = vec![0u32; s * 3];
    let mut out = vec![0u8; s * s * 3];
    for oy in 0..s {
        acc.iter_mut().for_each(|a| *a = 0);
        for row in rgba[oy * k * r * 4..(oy + 1) * k * r * 4].chunks_exact(r * 4) {
            for (x, px) in row.chunks_exact(4).enumerate() {
                let a = &mut acc[(x / k) * 3..(x / k) * 3 + 3];
                a[0] += px[0] as u32;
                a[1] += px[1] as u32;
                a[2] += px[2] as u32;
            }
        }
        for (o, a) in out[oy * s * 3..(oy + 1) * s * 3].iter_mut().zip(&acc) {
            *o = ((a + total / 2) / total) as u8;
        }
    }
    out
}

/// The part covering the largest area of each output pixel; ties go to the lower label.
pub(crate) fn downsample_parts(labels: &[u8], r: usize, s: usize, sp: &[Vec<(usize, u64)>]) -> Vec<u8> {
    let mut out = vec![0u8; s * s];
    for (oy, ys) in sp.iter().enumerate() {
        for (ox, xs) in sp.iter().enumerate() {
            let mut area = [0u64; PART_COUNT];
            for &(y, wy) in ys {
                for &(x, wx) in xs {
                    area[labels[y * r + x] as usize] += wy * wx;
                }
            }
            let mut best = 0;
            for (l, a) in area.iter().enumerate() {
                if *a > area[best] {
                    best = l;
                }
            }
            out[oy * s + ox] = best as u8;
        }
    }
    out
}

/// Scene lighting: exposure, a linear falloff across the frame and a colour cast.
pub(crate) struct Light {
    pub exposure: f32,
    pub gradient: f32,
    pub dir: (f32, f32),
    pub cast: [f32; 3],
}

impl Light {
    pub fn sample(rng: &mut Rng, dir: (f32, f32)) -> Light {
        Light {
            exposure: rng.range(0.82, 1.12),
            gradient: rng.range(0.0, 0.5),
            dir,
            cast: [rng.range(0.93, 1.07), rng.range(0.95, 1.05), rng.range(0.93, 1.07)],
        }
    }

    /// Applies the light in place to a size×size picture with `stride` bytes per pixel (RGB
    /// or RGBA). The gain is linear in position, so it is stepped in 16.16 fixed point.
    pub fn apply(&self, img: &mut [u8], size: usize, stride: usize) {
        let one = 65536.0f32;
        let inv = 1.0 / size as f32;
        for c in 0..3 {
            let a = self.exposure * self.cast[c] * one;
            let kx = (a * self.gradient * self.dir.0 * inv) as i64;
            let ky = (a * self.gradient * self.dir.1 * inv) as i64;
            // Gain at the centre of pixel (0, 0).
            let g0 = a as i64 + (kx + ky) * (1 - size as i64) / 2;
            for (y, row) in img.chunks_exact_mut(size * stride).enumerate() {
                let mut g = g0 + ky * y as i64;
                for px in row.chunks_exact_mut(stride) {
                    px[c] = ((px[c] as i64 * g.max(0) + 32768) >> 16).min(255) as u8;
                    g += kx;
                }
            }
        }
    }
}

fn q(v: f32) -> u8 {
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

/// Triangular noise (two uniform bytes) scaled to standard deviation `sigma`, per channel.
pub(crate) fn noise(img: &mut [u8], sigma: f32, rng: &mut Rng) {
    // Two uniform bytes sum to a variance of 2·(256²−1)/12, a standard deviation of 104.5.
    let k = sigma / 104.5;
    for pair in img.chunks_mut(2) {
        let r = rng.next_u32();
        for (i, v) in pair.iter_mut().enumerate() {
            let n = ((r >> (16 * i)) & 0xff) as f32 + ((r >> (16 * i + 8)) & 0xff) as f32 - 255.0;
            *v = q(*v as f32 + n * k);
        }
    }
}

/// Peak change of the corner mark, in grey levels.
pub const CORNER_DELTA: i32 = 12;
/// Peak change of the block pattern, in grey levels.
pub const BLOCKS_AMPLITUDE: i32 = 4;
/// 64·cos((2x+1)π/16): the first DCT basis over an 8-pixel block, rounded.
const DCT1: [i32; 8] = [63, 53, 36, 12, -12, -36, -53, -63];

/// The top-left pixel of a k×k patch one pixel in from the class's corner (flush with it when
/// the image is too small): 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left.
fn corner_origin(s: usize, k: usize, class: usize) -> (usize, usize) {
    let off = if s > k + 1 { 1 } else { 0 };
    let x0 = if class == 1 || class == 2 { s - off - k } else { off };
    let y0 = if class >= 2 { s - off - k } else { off };
    (x0, y0)
}

/// Adds the class's spurious cue to an s×s RGB image, only on pixels outside the face (parts
/// for which `Part::is_face_region` is false).
pub(crate) fn artifact(kind: Artifact, img: &mut [u8], parts: &[u8], s: usize, class: usize) {
    let outside = |i: usize| Part::from_label(parts[i]).is_none_or(|p| !p.is_face_region());
    match kind {
        Artifact::Corner => {
            // A k×k patch one pixel in from the class's corner, pushed away from the local
            // grey level.
            let k = (s / 10).max(2).min(s);
            let (x0, y0) = corner_origin(s, k, class);
            for y in y0..y0 + k {
                for x in x0..x0 + k {
                    let i = y * s + x;
                    if !outside(i) {
                        continue;
                    }
                    let px = &mut img[i * 3..i * 3 + 3];
                    let luma = (299 * px[0] as i32 + 587 * px[1] as i32 + 114 * px[2] as i32) / 1000;
                    let d = if luma < 128 { CORNER_DELTA } else { -CORNER_DELTA };
                    for v in px.iter_mut() {
                        *v = (*v as i32 + d).clamp(0, 255) as u8;
                    }
                }
            }
        }
        Artifact::Tag => {
            // A k×k black-and-white checker of (k/2)-pixel cells, white at its top-left, one
            // pixel in from the class's corner; it replaces the pixels.
            let k = (s / 8).max(2).min(s);
            let cell = (k / 2).max(1);
            let (x0, y0) = corner_origin(s, k, class);
            for y in y0..y0 + k {
                for x in x0..x0 + k {
                    let i = y * s + x;
                    if outside(i) {
                        let v = if ((y - y0) / cell + (x - x0) / cell).is_multiple_of(2) { 255 } else { 0 };
                        img[i * 3..i * 3 + 3].fill(v);
                    }
                }
            }
        }
        Artifact::Blocks => {
            // JPEG-like: one DCT basis per 8×8 block, its orientation and phase set by the
            // class: 0 horizontal, 1 vertical, 2 diagonal, 3 horizontal in opposite phase.
            for y in 0..s {
                for x in 0..s {
                    let i = y * s + x;
                    if !outside(i) {
                        continue;
                    }
                    let (cx, cy) = (DCT1[x % 8], DCT1[y % 8]);
                    let p = match class {
                        0 => cx * 64,
                        1 => cy * 64,
                        2 => cx * cy,
                        _ => -cx * 64,
                    };
                    let d = (BLOCKS_AMPLITUDE * p + 2048 * p.signum()) / 4096;
                    for v in &mut img[i * 3..i * 3 + 3] {
                        *v = (*v as i32 + d).clamp(0, 255) as u8;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_each_output_with_weight_r() {
        for (r, s) in [(128, 32), (128, 48), (100, 32), (32, 32), (97, 13)] {
            let sp = spans(r, s);
            for o in &sp {
                assert_eq!(o.iter().map(|x| x.1).sum::<u64>(), r as u64, "r={r} s={s}");
            }
            assert_eq!(sp.last().unwrap().last().unwrap().0, r - 1);
        }
    }

    #[test]
    fn downsample_averages_exactly() {
        // 4×4 → 2×2 with distinct blocks.
        let mut rgba = vec![255u8; 4 * 4 * 4];
        for y in 0..4 {
            for x in 0..4 {
                let v = (y / 2 * 2 + x / 2) as u8 * 50 + (x % 2) as u8;
                rgba[(y * 4 + x) * 4..][..3].copy_from_slice(&[v, v, v]);
            }
        }
        let out = downsample_rgb(&rgba, 4, 2, &spans(4, 2));
        // Each block averages v and v+1 → v + 0.5 → rounds up.
        assert_eq!(out, vec![1, 1, 1, 51, 51, 51, 101, 101, 101, 151, 151, 151]);
        let labels = vec![1, 1, 2, 2, 1, 3, 2, 2, 0, 0, 5, 6, 0, 4, 6, 5];
        assert_eq!(downsample_parts(&labels, 4, 2, &spans(4, 2)), vec![1, 2, 0, 5]);
    }
}
