//! Upsampling a layer-resolution map to the image, in the conventions the reference tools use,
//! so that our heatmaps can be compared with theirs value for value:
//! - `Bilinear` and `Nearest`: OpenCV's `cv2.resize` (pytorch-grad-cam): half-pixel centres,
//!   src = (dst + ½)·in/out − ½ computed as OpenCV does ([`cv2_source`], shared with the uint8
//!   picture resize in `data::resize`), borders replicated; nearest takes floor(dst·in/out).
//! - `Bicubic`: TensorFlow 1's `resize_images(..., BICUBIC)` as the BinaryCoP seed script used it
//!   (legacy mode: src = dst·in/out, no half-pixel offset, Keys kernel a = −0.75, indices
//!   clamped).
//! - [`bilinear_align_corners`]: torch's `UpsamplingBilinear2d`, which pytorch-grad-cam's
//!   Score-CAM uses for its masks.

use ndarray::Array2;

use crate::data::resize::cv2_source;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp {
    Nearest,
    Bilinear,
    Bicubic,
}

impl std::str::FromStr for Interp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nearest" => Ok(Interp::Nearest),
            "bilinear" => Ok(Interp::Bilinear),
            "bicubic" => Ok(Interp::Bicubic),
            other => Err(format!("unknown interpolation '{other}' (nearest, bilinear, bicubic)")),
        }
    }
}

/// One output coordinate's source taps and weights along one axis.
type Taps = Vec<(usize, f32)>;

fn axis_taps(n_in: usize, n_out: usize, interp: Interp) -> Vec<Taps> {
    let scale = n_in as f64 / n_out as f64;
    let last = n_in as i64 - 1;
    let clamp = |i: i64| i.clamp(0, last) as usize;
    (0..n_out)
        .map(|d| match interp {
            Interp::Nearest => vec![(clamp((d as f64 * scale).floor() as i64), 1.0)],
            Interp::Bilinear => {
                // OpenCV's source position; before the first pixel it takes that pixel alone.
                let (i0, t) = cv2_source(d, n_in, n_out);
                let (i0, t) = if i0 < 0 { (0, 0.0) } else { (i0, t) };
                vec![(clamp(i0), 1.0 - t), (clamp(i0 + 1), t)]
            }
            Interp::Bicubic => {
                let s = d as f64 * scale;
                let i0 = s.floor() as i64;
                let t = s - i0 as f64;
                (-1..=2).map(|k| (clamp(i0 + k), keys(t - k as f64) as f32)).collect()
            }
        })
        .collect()
}

/// Keys' cubic convolution kernel with a = −0.75 (TensorFlow's legacy bicubic).
fn keys(x: f64) -> f64 {
    const A: f64 = -0.75;
    let x = x.abs();
    if x <= 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
    } else {
        0.0
    }
}

/// Resizes a map to `out_h`×`out_w` (separable: rows, then columns).
pub fn resize(map: &Array2<f32>, out_h: usize, out_w: usize, interp: Interp) -> Array2<f32> {
    let (h, w) = map.dim();
    let ty = axis_taps(h, out_h, interp);
    let tx = axis_taps(w, out_w, interp);
    Array2::from_shape_fn((out_h, out_w), |(y, x)| {
        let mut v = 0f32;
        for &(sy, wy) in &ty[y] {
            for &(sx, wx) in &tx[x] {
                v += wy * wx * map[[sy, sx]];
            }
        }
        v
    })
}

/// torch's `UpsamplingBilinear2d` (align_corners = True): corners map to corners.
pub fn bilinear_align_corners(map: &Array2<f32>, out_h: usize, out_w: usize) -> Array2<f32> {
    let (h, w) = map.dim();
    let pos = |d: usize, n_in: usize, n_out: usize| -> (usize, usize, f32) {
        if n_out <= 1 || n_in <= 1 {
            return (0, 0, 0.0);
        }
        let s = d as f64 * (n_in - 1) as f64 / (n_out - 1) as f64;
        let i0 = (s.floor() as usize).min(n_in - 1);
        let i1 = (i0 + 1).min(n_in - 1);
        (i0, i1, (s - i0 as f64) as f32)
    };
    let (rows, cols): (Vec<_>, Vec<_>) =
        ((0..out_h).map(|y| pos(y, h, out_h)).collect(), (0..out_w).map(|x| pos(x, w, out_w)).collect());
    Array2::from_shape_fn((out_h, out_w), |(y, x)| {
        let ((y0, y1, ty), (x0, x1, tx)) = (rows[y], cols[x]);
        let top = map[[y0, x0]] * (1.0 - tx) + map[[y0, x1]] * tx;
        let bottom = map[[y1, x0]] * (1.0 - tx) + map[[y1, x1]] * tx;
        top * (1.0 - ty) + bottom * ty
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn bicubic_matches_tensorflow_legacy() {
        // tf.image.resize_bicubic of [[0,1,2],[3,4,5],[6,7,8]] to 6×6 (legacy mode), first and
        // last rows, as published with the iwyoo/bicubic_interp-tensorflow README.
        let m = arr2(&[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]);
        let r = resize(&m, 6, 6, Interp::Bicubic);
        let want0 = [0.0, 0.40625, 1.0, 1.59375, 2.0, 2.09375];
        let want5 = [6.28125, 6.6875, 7.28125, 7.875, 8.28125, 8.375];
        for x in 0..6 {
            assert!((r[[0, x]] - want0[x]).abs() < 1e-5, "{:?}", r.row(0));
            assert!((r[[5, x]] - want5[x]).abs() < 1e-5, "{:?}", r.row(5));
        }
    }

    #[test]
    fn bilinear_matches_opencv_half_pixel() {
        // cv2.resize([[0, 10]], (4, 1)): src x = (d+0.5)/2 − 0.5 → −0.25, 0.25, 0.75, 1.25,
        // clamped at the borders: 0, 2.5, 7.5, 10.
        let m = arr2(&[[0.0, 10.0]]);
        let r = resize(&m, 1, 4, Interp::Bilinear);
        assert_eq!(r.row(0).to_vec(), vec![0.0, 2.5, 7.5, 10.0]);
        let n = resize(&m, 1, 4, Interp::Nearest);
        assert_eq!(n.row(0).to_vec(), vec![0.0, 0.0, 10.0, 10.0]);
        let a = bilinear_align_corners(&m, 1, 3);
        assert_eq!(a.row(0).to_vec(), vec![0.0, 5.0, 10.0]);
    }

    #[test]
    fn constants_stay_constant() {
        let m = Array2::from_elem((5, 5), 3.5f32);
        for interp in [Interp::Nearest, Interp::Bilinear, Interp::Bicubic] {
            assert!(resize(&m, 32, 32, interp).iter().all(|v| (v - 3.5).abs() < 1e-5), "{interp:?}");
        }
    }
}
