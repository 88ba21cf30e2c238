//! Region-of-interest metrics of a heatmap against a ground-truth region (a boolean mask at the
//! heatmap's size): did the network look where the evidence is?
//!
//! - Pointing game (Zhang et al.): the heatmap's maximum (the first in row-major order on ties)
//!   lies inside the region, or within a tolerance of it (Zhang et al. allow 15 px at 224 px;
//!   [`POINTING_TOLERANCE`] scales that to a 32 px image).
//! - Energy in region: the share of the heatmap's mass inside the region.
//! - Latching (area-normalised): the head (face, features, mask, hair, head gear) gets less
//!   than [`LATCH_HEAD_FACTOR`] (3/4) of the mass a uniform map would give it, i.e. the share
//!   of the mass on the head is below 3/4 of the head's share of the pixels
//!   ([`head_mass_ratio`] < 3/4). The head covers about half of a 32 px frame, and a coarse
//!   map (5×5 at Pool2) of a network that looks at the face still spills onto the background,
//!   so neither "most of the mass off the head" nor "denser off the head than on it" separates
//!   anything: both fire on about half the images of the clean reference models. A model
//!   latches when the ratio pooled over its correctly classified images ([`pooled_head_ratio`]:
//!   the summed head shares over the summed head areas) is below the factor; single images are
//!   too noisy for a verdict (a clean model's per-image ratio ranges from about 0.1 to 2.4).
//!   Measured with deployed Grad-CAM at Pool2 (pytorch-grad-cam's conventions) on 32 images of
//!   each of four seeds (tests/latching.rs checks one): the clean models 0.84–1.25 on clean
//!   faces, µ-CNV trained on the corner tag 0.54–0.63 on tagged faces. Score-CAM at Pool2 does
//!   not show the shortcut (0.96–1.04 on the tag-trained model).
//!
//! A constant heatmap (all zeros after normalization) has no maximum and no mass: every metric
//! is None for it, it never counts as latching, and pooling skips it.

use ndarray::Array2;
use serde::Serialize;

/// Latching: the head gets less than this share of the mass its area would get from a
/// uniform map.
pub const LATCH_HEAD_FACTOR: f64 = 0.75;

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
    /// The share of the mass on the head.
    pub energy_on_head: Option<f64>,
    /// The share of the pixels on the head.
    pub head_area: f64,
    /// `energy_on_head / head_area` below [`LATCH_HEAD_FACTOR`].
    pub latching: bool,
}

/// The share of the mass on the head over the head's share of the pixels: 1 for a uniform map,
/// above 1 when the map is denser on the head than elsewhere. None without mass or head.
pub fn head_mass_ratio(energy_on_head: Option<f64>, head_area: f64) -> Option<f64> {
    energy_on_head.filter(|_| head_area > 0.0).map(|e| e / head_area)
}

/// The head mass ratio pooled over several maps: the summed head shares of the mass over the
/// summed head areas, over the maps that have mass. None when there are none.
pub fn pooled_head_ratio(rois: &[Roi]) -> Option<f64> {
    let (mass, area) = rois
        .iter()
        .filter_map(|r| r.energy_on_head.map(|e| (e, r.head_area)))
        .fold((0.0, 0.0), |(m, a), (e, h)| (m + e, a + h));
    (area > 0.0).then(|| mass / area)
}

/// Whether a head mass ratio (one map's or pooled) means latching.
pub fn latches(head_mass_ratio: Option<f64>) -> bool {
    head_mass_ratio.is_some_and(|r| r < LATCH_HEAD_FACTOR)
}

/// Scores a heatmap against its decisive region and the head.
pub fn score(heat: &Array2<f32>, decisive: &Array2<bool>, head: &Array2<bool>) -> Roi {
    let on_head = energy_in_region(heat, head);
    let head_area = head.iter().filter(|&&h| h).count() as f64 / head.len().max(1) as f64;
    Roi {
        pointing_hit: pointing_game(heat, decisive, POINTING_TOLERANCE),
        energy_in_region: energy_in_region(heat, decisive),
        energy_on_head: on_head,
        head_area,
        latching: latches(head_mass_ratio(on_head, head_area)),
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
        // The head is a quarter of the pixels and gets 0.2/1.5 of the mass: ratio 0.533 < 0.75.
        let face = arr2(&[[false, true], [false, false]]);
        let r = score(&heat, &region, &face);
        assert!((r.energy_on_head.unwrap() - 0.2 / 1.5).abs() < 1e-6 && r.head_area == 0.25);
        assert!((head_mass_ratio(r.energy_on_head, r.head_area).unwrap() - 0.8 / 1.5).abs() < 1e-6);
        assert!(r.latching);
        // On a head of half the pixels that holds the maximum, the map is 1.6 times as dense...
        let r2 = score(&heat, &region, &arr2(&[[false, true], [true, false]]));
        assert!((r2.energy_on_head.unwrap() - 1.2 / 1.5).abs() < 1e-6 && !r2.latching);
        // ...and pooled, the two give (0.133 + 0.8) / (0.25 + 0.5) = 1.24: no latching.
        let pooled = pooled_head_ratio(&[r.clone(), r2]).unwrap();
        assert!((pooled - (0.2 + 1.2) / 1.5 / 0.75).abs() < 1e-6 && !latches(Some(pooled)));
        // Exactly at the factor is not latching; below it is.
        assert!(!latches(Some(LATCH_HEAD_FACTOR)) && latches(Some(LATCH_HEAD_FACTOR - 1e-9)));
        // A constant map says nothing, does not latch and is skipped when pooling.
        let flat = Array2::zeros((2, 2));
        let f = score(&flat, &region, &face);
        assert_eq!(
            f,
            Roi { pointing_hit: None, energy_in_region: None, energy_on_head: None, head_area: 0.25, latching: false }
        );
        assert_eq!(pooled_head_ratio(std::slice::from_ref(&f)), None);
        assert_eq!(pooled_head_ratio(&[f, r.clone()]), head_mass_ratio(r.energy_on_head, r.head_area));
        // No head: no ratio.
        assert_eq!(head_mass_ratio(Some(0.0), 0.0), None);
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
