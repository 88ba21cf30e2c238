//! What every CAM method shares: its inputs (a layer's activations, the gradients of the target
//! score, or a probe that scores perturbed inputs), the weighted channel sum, and the
//! post-processing from a raw map to a heatmap in [0, 1] at image size.

use ndarray::{Array2, ArrayView3, Axis};

use super::resize::{resize, Interp};
use crate::error::Result;

/// Forward-only access to the network for gradient-free methods.
pub trait Probe: Sync {
    /// The image size (height, width).
    fn input_size(&self) -> (usize, usize);
    /// The target logit of the unmodified image.
    fn base_logit(&self) -> f32;
    /// The target logit of the image multiplied by each mask (values in [0, 1], image size).
    fn masked_logits(&self, masks: &[Array2<f32>]) -> Result<Vec<f32>>;
    /// The target logit with channel `c` of the layer's output ablated (set to −1, the binary
    /// "off" value).
    fn ablated_logit(&self, c: usize) -> Result<f32>;
}

/// Everything a method may use. Activations and gradients are H×W×C at the layer.
pub struct CamInputs<'a> {
    pub activations: ArrayView3<'a, f32>,
    pub gradients: Option<ArrayView3<'a, f32>>,
    pub probe: Option<&'a dyn Probe>,
}

impl CamInputs<'_> {
    pub fn gradients(&self, method: &str) -> Result<ArrayView3<'_, f32>> {
        self.gradients.ok_or_else(|| crate::Error::invalid(format!("{method} needs gradients, and none were given")))
    }
    pub fn probe(&self, method: &str) -> Result<&dyn Probe> {
        self.probe.ok_or_else(|| crate::Error::invalid(format!("{method} needs forward passes through the network")))
    }
}

/// One CAM method (one file each in `methods/`).
pub trait CamMethod: Sync {
    fn name(&self) -> &'static str;
    fn uses_gradients(&self) -> bool;
    /// The raw map at the layer's resolution (before ReLU, resizing and normalization).
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>>;
}

/// Σ_c weights[c]·A[.., .., c].
pub fn weighted_sum(acts: &ArrayView3<f32>, weights: &[f32]) -> Array2<f32> {
    let (h, w, _) = acts.dim();
    Array2::from_shape_fn((h, w), |(y, x)| {
        acts.slice(ndarray::s![y, x, ..]).iter().zip(weights).map(|(a, w)| a * w).sum()
    })
}

/// Per-channel spatial sums of a map (Σ over H and W).
pub fn spatial_sum(a: &ArrayView3<f32>) -> Vec<f32> {
    a.sum_axis(Axis(0)).sum_axis(Axis(0)).to_vec()
}

/// How a raw map becomes a heatmap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Post {
    pub relu: bool,
    pub interp: Interp,
}

impl Post {
    /// The BinaryCoP seed script's conventions (no ReLU, TF1 bicubic): the default, so that
    /// maps line up with the paper's published figures.
    pub const SEED: Post = Post { relu: false, interp: Interp::Bicubic };
    /// pytorch-grad-cam's conventions (ReLU, OpenCV bilinear).
    pub const PYTORCH_GRAD_CAM: Post = Post { relu: true, interp: Interp::Bilinear };
}

/// A heatmap in [0, 1] at image size.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub map: Array2<f32>,
    /// The raw map was constant (or all zero after ReLU): the heatmap is all zeros and says
    /// nothing about where the network looked.
    pub constant: bool,
}

/// A map whose values spread less than this fraction of its largest magnitude is constant:
/// 2⁻¹⁶ is about 128 f32 rounding steps (ε = 2⁻²³), more than a weighted channel sum or an
/// interpolation adds to a constant, and far below any spread a heatmap shows.
pub const CONSTANT_MAP_TOLERANCE: f32 = 1.0 / 65536.0;

/// True when `values` are (numerically) all the same, by [`CONSTANT_MAP_TOLERANCE`]; also for
/// no values, all zeros, or non-finite bounds.
pub fn is_constant<'a>(values: impl IntoIterator<Item = &'a f32>) -> bool {
    let (lo, hi) = values.into_iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let scale = hi.abs().max(lo.abs());
    // NaN and an empty map (lo > hi) count as constant.
    (hi - lo).partial_cmp(&(CONSTANT_MAP_TOLERANCE * scale)) != Some(std::cmp::Ordering::Greater)
}

/// ReLU (optional), resize, then min-max to [0, 1]. Min-max after resizing equals
/// pytorch-grad-cam's normalize-resize-normalize (interpolation preserves affine maps) and the
/// seed's rescale of the upsampled map. A constant map (decided on the raw map, so a 1×1 map is
/// always constant, then on the resized one) becomes zeros, never NaN or stretched noise.
/// Non-finite values count as zero here; [`crate::cam::compute`] refuses them before.
pub fn finish(raw: &Array2<f32>, size: (usize, usize), post: Post) -> Heatmap {
    let mut m = raw.mapv(|v| if v.is_finite() { v } else { 0.0 });
    if post.relu {
        m.mapv_inplace(|v| v.max(0.0));
    }
    let constant = || Heatmap { map: Array2::zeros(size), constant: true };
    if is_constant(m.iter()) {
        return constant();
    }
    let r = resize(&m, size.0, size.1, post.interp);
    if is_constant(r.iter()) {
        return constant();
    }
    let (lo, hi) = r.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let range = hi - lo;
    Heatmap { map: r.mapv(|v| ((v - lo) / range).clamp(0.0, 1.0)), constant: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_and_zero_maps_are_defined() {
        for raw in [Array2::zeros((5, 5)), Array2::from_elem((5, 5), 7.0), Array2::from_elem((5, 5), -1.0)] {
            let h = finish(&raw, (32, 32), Post::PYTORCH_GRAD_CAM);
            assert!(h.constant && h.map.iter().all(|&v| v == 0.0));
        }
        let mut raw = Array2::zeros((2, 2));
        raw[[0, 0]] = f32::NAN;
        raw[[1, 1]] = 2.0;
        let h = finish(&raw, (4, 4), Post::SEED);
        assert!(!h.constant && h.map.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
    }

    #[test]
    fn one_by_one_maps_and_rounding_noise_are_constant() {
        // A 1×1 map upsampled by bicubic interpolation varies by a rounding step or two; with
        // the old 1e-12 tolerance that noise was stretched to [0, 1] without a warning.
        for v in [0.3f32, -1234.5, 7e-20, 3e30] {
            for post in [Post::SEED, Post::PYTORCH_GRAD_CAM, Post { relu: false, interp: Interp::Bilinear }] {
                let h = finish(&Array2::from_elem((1, 1), v), (32, 32), post);
                assert!(h.constant && h.map.iter().all(|&x| x == 0.0), "{v} {post:?}");
            }
        }
        let noisy = Array2::from_shape_fn((4, 4), |(y, x)| 1000.0 + ((y * 4 + x) % 3) as f32 * 1e-4);
        assert!(finish(&noisy, (8, 8), Post::SEED).constant);
        let real = Array2::from_shape_fn((4, 4), |(y, x)| 1000.0 + (y * 4 + x) as f32 * 0.1);
        assert!(!finish(&real, (8, 8), Post::SEED).constant);
    }
}
