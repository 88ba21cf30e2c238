//! Bringing a uint8 picture to the model's input: a crop, then a resize policy.
//!
//! Resize policies (`--resize`), each equal to the tool it is named after:
//! - [`Resize::Cv2`] (the default): OpenCV's `cv2.resize(img, (w, h))` with its default
//!   INTER_LINEAR on uint8, byte for byte, as BinaryCoP's deployment notebook preprocesses
//!   pictures and webcam frames (`processing.py`). Half-pixel centres, no antialiasing (a large
//!   downscale samples 2×2 source pixels per output pixel), borders replicated. The arithmetic is
//!   OpenCV's (`imgproc/src/resize.cpp`): scale = 1/(out/in) in f64, the source position
//!   `(float)((d + ½)·scale − ½)`, coefficients `round_half_even(w·2048)` as i16
//!   (INTER_RESIZE_COEF_BITS = 11), the horizontal pass in i32, the vertical pass
//!   `((b0·(h0 >> 4)) >> 16) + ((b1·(h1 >> 4)) >> 16) + 2) >> 2`, and an exact 2× downscale on both
//!   axes switched to INTER_AREA (the rounded mean of each 2×2 block), as OpenCV does.
//!   tests/resize.rs checks it against opencv-python (python/make_resize_fixtures.py).
//! - [`Resize::Triangle`]: the `image` crate's `resize_exact(.., FilterType::Triangle)`, which
//!   binarycop used before: a bilinear filter whose support widens with the downscale factor
//!   (antialiased, like PIL's `Image.resize(BILINEAR)` but not equal to it).
//!
//! A [`Crop`] (`--crop X0:X1,Y0:Y1`, Python slice bounds, columns first) is applied before the
//! resize. binarycop decodes every source (image files, video, camera) to RGB, so the notebook's
//! webcam path `rev()` (a 160×120 OpenCV frame in BGR, columns 20:140, 72×72, then BGR→RGB) is
//! `--crop 20:140,: --resize cv2`: the channel swap commutes with a per-channel resize.
//!
//! [`cv2_source`] is shared with the CAM heatmap upsampling (`cam::resize`), which follows
//! OpenCV's float path.

use ndarray::{s, Array3, ArrayView3, Axis};

use crate::error::{Error, Result};
use crate::model::Shape;

/// How a picture is scaled to the model's input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Resize {
    /// OpenCV's `cv2.resize` INTER_LINEAR, byte for byte (BinaryCoP's notebook).
    #[default]
    Cv2,
    /// The `image` crate's triangle (bilinear, antialiased) filter.
    Triangle,
}

impl Resize {
    pub fn name(self) -> &'static str {
        match self {
            Resize::Cv2 => "cv2",
            Resize::Triangle => "triangle",
        }
    }

    /// Resizes an H×W×C image to `out_h`×`out_w`.
    pub fn apply(self, img: ArrayView3<u8>, out_h: usize, out_w: usize) -> Array3<u8> {
        match self {
            Resize::Cv2 => cv2_linear(img, out_h, out_w),
            Resize::Triangle => triangle(img, out_h, out_w),
        }
    }
}

/// A rectangle of the source, half-open like a Python slice `img[y0:y1, x0:x1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crop {
    /// Columns; `None` for the end of the axis.
    pub x0: usize,
    pub x1: Option<usize>,
    /// Rows.
    pub y0: usize,
    pub y1: Option<usize>,
}

impl std::str::FromStr for Crop {
    type Err = String;
    /// `X0:X1,Y0:Y1`; a bound may be left out (`20:140,:` is columns 20..140, every row).
    fn from_str(text: &str) -> std::result::Result<Crop, String> {
        let bad = || format!("--crop '{text}': expected X0:X1,Y0:Y1 (columns, then rows; e.g. 20:140,: )");
        let (xs, ys) = text.split_once(',').ok_or_else(bad)?;
        let range = |r: &str| -> std::result::Result<(usize, Option<usize>), String> {
            let (a, b) = r.split_once(':').ok_or_else(bad)?;
            let num = |v: &str| -> std::result::Result<Option<usize>, String> {
                let v = v.trim();
                if v.is_empty() {
                    Ok(None)
                } else {
                    v.parse().map(Some).map_err(|_| format!("--crop '{text}': '{v}' is not a pixel index"))
                }
            };
            Ok((num(a)?.unwrap_or(0), num(b)?))
        };
        let ((x0, x1), (y0, y1)) = (range(xs)?, range(ys)?);
        Ok(Crop { x0, x1, y0, y1 })
    }
}

impl std::fmt::Display for Crop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = |v: Option<usize>| v.map_or(String::new(), |v| v.to_string());
        write!(f, "{}:{},{}:{}", self.x0, end(self.x1), self.y0, end(self.y1))
    }
}

impl Crop {
    /// The cropped view; an error when the rectangle is empty or leaves the picture.
    pub fn apply<'a>(&self, img: ArrayView3<'a, u8>) -> Result<ArrayView3<'a, u8>> {
        let (h, w, _) = img.dim();
        let (x1, y1) = (self.x1.unwrap_or(w), self.y1.unwrap_or(h));
        if self.x0 >= x1 || self.y0 >= y1 || x1 > w || y1 > h {
            return Err(Error::invalid(format!(
                "--crop {self} does not fit a {w}x{h} (W×H) picture: it needs 0 ≤ X0 < X1 ≤ {w} and 0 ≤ Y0 < Y1 ≤ {h}"
            )));
        }
        Ok(img.slice_move(s![self.y0..y1, self.x0..x1, ..]))
    }
}

/// What is done to every picture before the model sees it: crop, then resize.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Preprocess {
    pub crop: Option<Crop>,
    pub resize: Resize,
}

impl Preprocess {
    /// An H×W×C picture (C = the model's channels) as the model's input.
    pub fn apply(&self, img: ArrayView3<u8>, shape: Shape) -> Result<Array3<u8>> {
        let c = img.dim().2;
        if c != shape.channels {
            return Err(Error::invalid(format!("the picture has {c} channels, the model takes {shape}")));
        }
        let img = match &self.crop {
            Some(crop) => crop.apply(img)?,
            None => img,
        };
        if img.dim().0 == shape.height && img.dim().1 == shape.width {
            return Ok(img.to_owned());
        }
        Ok(self.resize.apply(img, shape.height, shape.width))
    }

    /// For reports: "cv2", "crop 20:140,0: then cv2".
    pub fn describe(&self) -> String {
        match &self.crop {
            Some(c) => format!("crop {c} then {}", self.resize.name()),
            None => self.resize.name().to_string(),
        }
    }
}

/// OpenCV's source coordinate for output index `d` along an axis of `n_in` → `n_out` pixels
/// (INTER_LINEAR, `resize.cpp`): the index `floor(src)` (may be −1 or `n_in − 1` and beyond at the
/// borders, before clamping) and the fraction `src − floor(src)`, both as OpenCV computes them in
/// f32 from `src = (float)((d + ½)·scale − ½)` with `scale = 1/(n_out/n_in)` in f64.
pub(crate) fn cv2_source(d: usize, n_in: usize, n_out: usize) -> (i64, f32) {
    let scale = 1.0 / (n_out as f64 / n_in as f64);
    let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
    let i = f.floor();
    (i as i64, f - i)
}

/// INTER_RESIZE_COEF_SCALE: OpenCV's fixed-point weights have 11 fractional bits.
const COEF_ONE: i32 = 1 << 11;

/// A weight in fixed point, as `saturate_cast<short>(w * INTER_RESIZE_COEF_SCALE)` (round half
/// to even, like `cvRound`).
fn coef(w: f32) -> i32 {
    (w * COEF_ONE as f32).round_ties_even() as i32
}

/// One output column: the source column and its weights; `edge` columns take the source
/// pixel alone (OpenCV's `dx >= xmax` branch).
struct XTap {
    src: usize,
    a0: i32,
    a1: i32,
    edge: bool,
}

fn x_taps(n_in: usize, n_out: usize) -> Vec<XTap> {
    (0..n_out)
        .map(|d| {
            let (mut s, mut f) = cv2_source(d, n_in, n_out);
            if s < 0 {
                (s, f) = (0, 0.0);
            }
            let edge = s + 1 >= n_in as i64;
            if s >= n_in as i64 - 1 {
                (s, f) = (n_in as i64 - 1, 0.0);
            }
            XTap { src: s as usize, a0: coef(1.0 - f), a1: coef(f), edge }
        })
        .collect()
}

/// One output row: the two source rows (clamped, the weights kept as computed) and weights.
fn y_taps(n_in: usize, n_out: usize) -> Vec<(usize, usize, i32, i32)> {
    let clamp = |i: i64| i.clamp(0, n_in as i64 - 1) as usize;
    (0..n_out)
        .map(|d| {
            let (s, f) = cv2_source(d, n_in, n_out);
            (clamp(s), clamp(s + 1), coef(1.0 - f), coef(f))
        })
        .collect()
}

/// `cv2.resize(img, (out_w, out_h))` (INTER_LINEAR) on an H×W×C uint8 image, byte for byte.
pub fn cv2_linear(img: ArrayView3<u8>, out_h: usize, out_w: usize) -> Array3<u8> {
    let (h, w, c) = img.dim();
    assert!(h > 0 && w > 0 && out_h > 0 && out_w > 0, "resize of an empty picture");
    if (h, w) == (out_h, out_w) {
        return img.to_owned();
    }
    if h == 2 * out_h && w == 2 * out_w {
        return half_area(img, out_h, out_w);
    }
    let xt = x_taps(w, out_w);
    // The horizontal pass of every source row, as OpenCV's HResizeLinear (i32, 11-bit weights).
    let mut rows = vec![0i32; h * out_w * c];
    for y in 0..h {
        for (d, t) in xt.iter().enumerate() {
            for ch in 0..c {
                let p0 = i32::from(img[[y, t.src, ch]]);
                rows[(y * out_w + d) * c + ch] =
                    if t.edge { p0 * COEF_ONE } else { p0 * t.a0 + i32::from(img[[y, t.src + 1, ch]]) * t.a1 };
            }
        }
    }
    let row = |y: usize| &rows[y * out_w * c..(y + 1) * out_w * c];
    let mut out = Array3::<u8>::zeros((out_h, out_w, c));
    let flat = out.as_slice_mut().expect("a new array is contiguous");
    for (d, (y0, y1, b0, b1)) in y_taps(h, out_h).into_iter().enumerate() {
        let (r0, r1) = (row(y0), row(y1));
        for (i, o) in flat[d * out_w * c..(d + 1) * out_w * c].iter_mut().enumerate() {
            // VResizeLinear<uchar, int, short, FixedPtCast<.., 22>>: each product keeps 16 bits.
            let v = ((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2;
            *o = (v >> 2).clamp(0, 255) as u8;
        }
    }
    out
}

/// OpenCV's INTER_AREA for an exact 2× downscale: the mean of each 2×2 block, rounded half up.
fn half_area(img: ArrayView3<u8>, out_h: usize, out_w: usize) -> Array3<u8> {
    let c = img.dim().2;
    Array3::from_shape_fn((out_h, out_w, c), |(y, x, ch)| {
        let p = |dy: usize, dx: usize| u32::from(img[[2 * y + dy, 2 * x + dx, ch]]);
        ((p(0, 0) + p(0, 1) + p(1, 0) + p(1, 1) + 2) >> 2) as u8
    })
}

/// The `image` crate's `resize_exact(.., FilterType::Triangle)`, channel by channel (each
/// channel is filtered on its own there too).
pub fn triangle(img: ArrayView3<u8>, out_h: usize, out_w: usize) -> Array3<u8> {
    let (h, w, c) = img.dim();
    let mut out = Array3::<u8>::zeros((out_h, out_w, c));
    for ch in 0..c {
        let plane: Vec<u8> = img.index_axis(Axis(2), ch).iter().copied().collect();
        let luma = image::GrayImage::from_raw(w as u32, h as u32, plane).expect("w·h bytes");
        let r = image::imageops::resize(&luma, out_w as u32, out_h as u32, image::imageops::FilterType::Triangle);
        out.index_axis_mut(Axis(2), ch)
            .assign(&ndarray::ArrayView2::from_shape((out_h, out_w), r.as_raw()).expect("out_h·out_w bytes"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn crop_parses_python_slices() {
        let c: Crop = "20:140,:".parse().unwrap();
        assert_eq!(c, Crop { x0: 20, x1: Some(140), y0: 0, y1: None });
        assert_eq!(c.to_string(), "20:140,0:");
        let c: Crop = " 1:3 , 2:5".parse().unwrap();
        assert_eq!(c, Crop { x0: 1, x1: Some(3), y0: 2, y1: Some(5) });
        for bad in ["20:140", "a:b,1:2", "1,2", "1:2,3", "-1:2,0:1"] {
            assert!(bad.parse::<Crop>().unwrap_err().contains("--crop"), "{bad}");
        }
    }

    #[test]
    fn crop_checks_the_picture() {
        let img = Array3::<u8>::from_shape_fn((120, 160, 3), |(y, x, c)| (y + x + c) as u8);
        let v = "20:140,:".parse::<Crop>().unwrap().apply(img.view()).unwrap();
        assert_eq!(v.dim(), (120, 120, 3));
        assert_eq!(v[[0, 0, 0]], img[[0, 20, 0]]);
        for bad in ["150:170,:", "5:5,:", ":,100:130", "10:0,:"] {
            let e = bad.parse::<Crop>().unwrap().apply(img.view()).unwrap_err().to_string();
            assert!(e.contains("does not fit a 160x120"), "{bad}: {e}");
        }
    }

    #[test]
    fn triangle_by_channel_equals_the_crates_rgb_resize() {
        let img = Array3::<u8>::from_shape_fn((37, 53, 3), |(y, x, c)| ((x * 73 + y * 151 + c * 41) ^ (x * y)) as u8);
        let rgb = image::RgbImage::from_raw(53, 37, img.iter().copied().collect()).unwrap();
        for (oh, ow) in [(20, 11), (72, 72), (37, 60)] {
            let want = image::imageops::resize(&rgb, ow, oh, image::imageops::FilterType::Triangle);
            let got = triangle(img.view(), oh as usize, ow as usize);
            assert_eq!(got.iter().copied().collect::<Vec<_>>(), want.into_raw(), "{oh}x{ow}");
        }
    }

    #[test]
    fn preprocess_crops_resizes_and_checks_channels() {
        let img = Array3::<u8>::from_shape_fn((8, 10, 3), |(y, x, c)| (y * 10 + x + c) as u8);
        let shape = Shape { height: 4, width: 4, channels: 3 };
        let p = Preprocess { crop: Some("1:9,:".parse().unwrap()), resize: Resize::Cv2 };
        // 8×8 after the crop, then an exact 2× downscale: the mean of 2×2 blocks.
        let out = p.apply(img.view(), shape).unwrap();
        assert_eq!(out[[0, 0, 0]], ((1 + 2 + 11 + 12 + 2) / 4) as u8);
        let grey = Shape { channels: 1, ..shape };
        assert!(p.apply(img.view(), grey).unwrap_err().to_string().contains("3 channels"));
        assert_eq!(p.describe(), "crop 1:9,0: then cv2");
    }
}
