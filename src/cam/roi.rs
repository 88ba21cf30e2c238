//! Region-of-interest metrics of a heatmap against a ground-truth region (a boolean mask at the
//! heatmap's size): did the network look where the evidence is?
//!
//! - Pointing game (Zhang et al.): the heatmap's maximum (the first in row-major order on ties)
//!   lies inside the region.
//! - Energy in region: the share of the heatmap's mass inside the region.
//! - Latching: less than half of the mass lies on the face, i.e. the map is mostly on the
//!   background or the image's borders, where a spurious cue can sit.
//!
//! A constant heatmap (all zeros after normalization) has no maximum and no mass: every metric
//! is None for it, and it never counts as latching.

use ndarray::Array2;
use serde::Serialize;

/// Latching fires when the share of mass on the face is below this.
pub const LATCH_FACE_SHARE: f64 = 0.5;

pub fn pointing_game(heat: &Array2<f32>, region: &Array2<bool>) -> Option<bool> {
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
    at.map(|i| region.iter().nth(i).copied().unwrap_or(false))
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

/// Scores a heatmap against its decisive region and the face.
pub fn score(heat: &Array2<f32>, decisive: &Array2<bool>, face: &Array2<bool>) -> Roi {
    let on_face = energy_in_region(heat, face);
    Roi {
        pointing_hit: pointing_game(heat, decisive),
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
        assert_eq!(pointing_game(&heat, &region), Some(true));
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
        assert_eq!(pointing_game(&tie, &arr2(&[[false, true], [false, false]])), Some(false));
    }
}
