//! Region-of-interest metrics of a heatmap against a ground-truth region (a boolean mask at the
//! heatmap's size): did the network look where the evidence is?
//!
//! - Pointing game (Zhang et al.): the heatmap's maximum (the first in row-major order on ties)
//!   lies inside the region, or within a tolerance of it (Zhang et al. allow 15 px at 224 px;
//!   [`POINTING_TOLERANCE`] scales that to a 32 px image).
//! - Energy in region: the share of the heatmap's mass inside the region.
//! - Latching: less than half of the mass lies on the head (face, features, mask, hair, head
//!   gear), i.e. the map is mostly on the background, where a spurious cue can sit.
//!
//! A constant heatmap (all zeros after normalization) has no maximum and no mass: every metric
//! is None for it, and it never counts as latching.

use ndarray::Array2;
use serde::Serialize;

/// Latching fires when the share of mass on the head is below this.
pub const LATCH_FACE_SHARE: f64 = 0.5;

/// The pointing game's tolerance in pixels for a 32 px image (15/224 of the width, rounded).
pub const POINTING_TOLERANCE: usize = 2;

pub fn pointing_game(heat: &Array2<f32>, region: &Array2<bool>, tolerance: usize) -> Option<bool> {
    assert_eq!(heat.dim(), region.dim(), "heatmap and region have the same size");
    let (mut best, mut at) = (f32::NEG_INFINITY, None);
    for (i, &v) in heat.iter().enumerate() {
        if v > best {
            (best, at) = (v, Some(i));
        }
    }
    let lo = heat.iter().copied().fold(f32::INFINITY, f32::min);
    if best <= lo {
        return None;
    }
    let (h, w) = heat.dim();
    let (y, x) = at.map(|i| (i / w, i % w))?;
    let t = tolerance as isize;
    let hit = (-t..=t).any(|dy| {
        (-t..=t).any(|dx| {
            let (yy, xx) = (y as isize + dy, x as isize + dx);
            dy * dy + dx * dx <= t * t
                && (0..h as isize).contains(&yy)
                && (0..w as isize).contains(&xx)
                && region[[yy as usize, xx as usize]]
        })
    });
    Some(hit)
}

pub fn energy_in_region(heat: &Array2<f32>, region: &Array2<bool>) -> Option<f64> {
    assert_eq!(heat.dim(), region.dim(), "heatmap and region have the same size");
    let total: f64 = heat.iter().map(|&v| v.max(0.0) as f64).sum();
    if total <= 0.0 {
        return None;
    }
    let inside: f64 = heat.iter().zip(region).filter(|(_, &r)| r).map(|(&v, _)| v.max(0.0) as f64).sum();
    Some(inside / total)
}

/// The RoI figures of one heatmap.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Roi {
    pub pointing_hit: Option<bool>,
    pub energy_in_region: Option<f64>,
    pub energy_on_face: Option<f64>,
    pub latching: bool,
}

/// Scores a heatmap against its decisive region and the head.
pub fn score(heat: &Array2<f32>, decisive: &Array2<bool>, head: &Array2<bool>) -> Roi {
    let on_face = energy_in_region(heat, head);
    Roi {
        pointing_hit: pointing_game(heat, decisive, POINTING_TOLERANCE),
        energy_in_region: energy_in_region(heat, decisive),
        energy_on_face: on_face,
        latching: on_face.is_some_and(|e| e < LATCH_FACE_SHARE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn hand_checked() {
        let heat = arr2(&[[0.0, 0.2], [1.0, 0.3]]);
        let region = arr2(&[[false, false], [true, false]]);
        assert_eq!(pointing_game(&heat, &region, 0), Some(true));
        let e = energy_in_region(&heat, &region).unwrap();
        assert!((e - 1.0 / 1.5).abs() < 1e-6);
        let face = arr2(&[[false, true], [false, false]]);
        let r = score(&heat, &region, &face);
        assert!(r.latching && (r.energy_on_face.unwrap() - 0.2 / 1.5).abs() < 1e-6);
        // A constant map says nothing and does not latch.
        let flat = Array2::zeros((2, 2));
        assert_eq!(
            score(&flat, &region, &face),
            Roi { pointing_hit: None, energy_in_region: None, energy_on_face: None, latching: false }
        );
        // Ties: the first maximum in row-major order decides.
        let tie = arr2(&[[1.0, 1.0], [0.0, 0.0]]);
        assert_eq!(pointing_game(&tie, &arr2(&[[false, true], [false, false]]), 0), Some(false));
        // Within the tolerance (Euclidean) of the region counts as a hit.
        let far = Array2::from_shape_fn((5, 5), |(y, x)| if (y, x) == (0, 0) { 1.0 } else { 0.0 });
        let spot = Array2::from_shape_fn((5, 5), |(y, x)| (y, x) == (2, 0));
        assert_eq!(pointing_game(&far, &spot, 1), Some(false));
        assert_eq!(pointing_game(&far, &spot, 2), Some(true));
        let diag = Array2::from_shape_fn((5, 5), |(y, x)| (y, x) == (2, 2));
        assert_eq!(pointing_game(&far, &diag, 2), Some(false));
    }
}
