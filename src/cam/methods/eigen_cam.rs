//! Eigen-CAM (Muhammad & Yeasin): the activations (pixels × channels, centred per channel)
//! projected on their first principal component. Needs neither gradients nor a class.
//! The component comes from power iteration on the C×C covariance; its sign (arbitrary in an
//! SVD) is chosen so the projection correlates positively with the channel-summed activation
//! (kept as found when that correlation is zero).

use ndarray::{Array1, Array2, Axis};

use crate::cam::base::{CamInputs, CamMethod};
use crate::error::Result;

pub struct EigenCam;

impl CamMethod for EigenCam {
    fn name(&self) -> &'static str {
        "eigencam"
    }
    fn uses_gradients(&self) -> bool {
        false
    }
    fn raw_map(&self, inputs: &CamInputs) -> Result<Array2<f32>> {
        let a = &inputs.activations;
        let (h, w, c) = a.dim();
        let flat = a.to_shape((h * w, c)).expect("contiguous HWC").mapv(|v| v as f64);
        let mean = flat.mean_axis(Axis(0)).expect("non-empty");
        let centred = &flat - &mean;
        let cov = centred.t().dot(&centred);
        // Start from the largest centred row: it lies in the data's row space, so it is never
        // orthogonal to the principal component (a constant start vector can be).
        let start = centred
            .rows()
            .into_iter()
            .max_by(|a, b| a.dot(a).total_cmp(&b.dot(b)))
            .map(|r| r.to_owned())
            .unwrap_or_else(|| Array1::zeros(c));
        let norm = start.dot(&start).sqrt();
        if norm < 1e-30 {
            return Ok(Array2::zeros((h, w)));
        }
        let mut v = start / norm;
        for _ in 0..200 {
            let next = cov.dot(&v);
            let norm = next.dot(&next).sqrt();
            if norm < 1e-30 {
                return Ok(Array2::zeros((h, w)));
            }
            let next = next / norm;
            let delta = (&next - &v).mapv(f64::abs).sum();
            v = next;
            if delta < 1e-12 {
                break;
            }
        }
        let proj = centred.dot(&v);
        let total = flat.sum_axis(Axis(1));
        let sign = if proj.dot(&(&total - total.mean().unwrap_or(0.0))) < 0.0 { -1.0 } else { 1.0 };
        Ok(proj.mapv(|p| (sign * p) as f32).into_shape_with_order((h, w)).expect("h×w values"))
    }
}
