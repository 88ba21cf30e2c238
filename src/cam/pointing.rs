//! The pointing-game survey behind the demo's fine map: on images with a known decisive region,
//! every CAM method at every spatial layer with each straight-through estimator, scored by the
//! pointing game (`roi::pointing_game` within `roi::POINTING_TOLERANCE`) and the share of map
//! mass in the region. Maps use pytorch-grad-cam's conventions (ReLU, bilinear), the usual ones
//! for these metrics. Two baselines put the rates in context: the chance that a uniformly
//! random pixel hits the (tolerance-dilated) region, and a map peaking at the image centre.
//!
//! Gradient methods of one (layer, STE) share one backward pass; forward-only methods have no
//! STE and are scored once per layer.

use ndarray::{Array2, ArrayView3};
use serde::Serialize;

use super::{finish, methods, roi, CamInputs, CamMethod, Post, Route, Ste};
use crate::error::Result;
use crate::progress::Bar;
use crate::report::plot::{self, Axes, Bars, RefLine};

/// The methods the survey scores (pytorch-grad-cam's names).
pub const METHODS: [&str; 6] = ["gradcam", "gradcam++", "hirescam", "layercam", "scorecam", "eigencam"];

/// One image of the survey: the class to explain (a correctly classified image's class) and
/// the region its evidence lies in (image size).
pub struct Case<'a> {
    pub image: ArrayView3<'a, u8>,
    pub class: usize,
    pub region: &'a Array2<bool>,
}

/// The scores of one (layer, method, STE).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Entry {
    pub layer: String,
    pub method: String,
    /// None for forward-only methods.
    pub ste: Option<String>,
    /// Images whose map has a maximum (constant maps are not scored).
    pub scored: usize,
    pub hits: usize,
    /// The mean share of map mass in the region over the scored images.
    pub energy: f64,
}

impl Entry {
    /// The pointing-game rate (None when no map could be scored).
    pub fn rate(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.hits as f64 / self.scored as f64)
    }
}

/// The survey's chance and centre-prior rates on a set of regions.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Baselines {
    /// The mean share of pixels within the tolerance of the region.
    pub chance: f64,
    /// The rate of a map peaking at the image centre.
    pub centre: f64,
}

/// The spatial layers worth surveying: outputs larger than 1×1, except the first conv (its
/// maps see single pixels of the input).
pub fn spatial_layers(layers: &[crate::model::Layer]) -> Vec<usize> {
    layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.output.height > 1 && l.compute_index != Some(0))
        .map(|(i, _)| i)
        .collect()
}

/// The region grown by the tolerance (a square of side 2·tol + 1).
fn dilate(region: &Array2<bool>, tol: usize) -> Array2<bool> {
    let (h, w) = region.dim();
    Array2::from_shape_fn((h, w), |(y, x)| {
        let (y0, y1) = (y.saturating_sub(tol), (y + tol).min(h - 1));
        let (x0, x1) = (x.saturating_sub(tol), (x + tol).min(w - 1));
        (y0..=y1).any(|yy| (x0..=x1).any(|xx| region[[yy, xx]]))
    })
}

pub fn baselines(regions: &[&Array2<bool>]) -> Baselines {
    let n = regions.len().max(1) as f64;
    let chance = regions
        .iter()
        .map(|r| dilate(r, roi::POINTING_TOLERANCE).iter().filter(|&&b| b).count() as f64 / r.len().max(1) as f64)
        .sum::<f64>()
        / n;
    let centre = regions
        .iter()
        .filter(|r| {
            let (h, w) = r.dim();
            let map = Array2::from_shape_fn((h, w), |(y, x)| {
                let (dy, dx) = (y as f32 - (h as f32 - 1.0) / 2.0, x as f32 - (w as f32 - 1.0) / 2.0);
                -(dy * dy + dx * dx)
            });
            roi::pointing_game(&map, r, roi::POINTING_TOLERANCE) == Some(true)
        })
        .count() as f64
        / n;
    Baselines { chance, centre }
}

/// Tallies one (layer, method, STE).
struct Tally {
    hits: usize,
    scored: usize,
    energy: f64,
}

impl Tally {
    fn add(&mut self, map: &Array2<f32>, region: &Array2<bool>) {
        if let Some(h) = roi::pointing_game(map, region, roi::POINTING_TOLERANCE) {
            self.scored += 1;
            self.hits += h as usize;
            self.energy += roi::energy_in_region(map, region).unwrap_or(0.0);
        }
    }
}

/// The (method, STE) combinations at one layer, in `METHODS` order.
fn combinations() -> Result<Vec<(&'static dyn CamMethod, Option<Ste>)>> {
    let mut out = Vec::new();
    for name in METHODS {
        let m = methods::by_name(name)?;
        if m.uses_gradients() {
            out.push((m, Some(Ste::Windowed)));
            out.push((m, Some(Ste::Identity)));
        } else {
            out.push((m, None));
        }
    }
    Ok(out)
}

/// Scores every method × layer × STE on `cases` through `route`; `bar` advances once per
/// (layer, image).
pub fn survey(route: &dyn Route, names: &[String], layers: &[usize], cases: &[Case], bar: &Bar) -> Result<Vec<Entry>> {
    let combos = combinations()?;
    let mut entries = Vec::with_capacity(layers.len() * combos.len());
    for &layer in layers {
        let mut tallies: Vec<Tally> = combos.iter().map(|_| Tally { hits: 0, scored: 0, energy: 0.0 }).collect();
        for case in cases {
            let size = (case.image.dim().0, case.image.dim().1);
            let mut signals = [None, None];
            for ((method, ste), tally) in combos.iter().zip(&mut tallies) {
                let raw = match ste {
                    Some(ste) => {
                        let slot = &mut signals[(*ste == Ste::Identity) as usize];
                        if slot.is_none() {
                            *slot = Some(route.signals(case.image, layer, Some(case.class), *ste)?);
                        }
                        let s = slot.as_ref().expect("filled above");
                        method.raw_map(&CamInputs {
                            activations: s.activations.view(),
                            gradients: Some(s.gradients.view()),
                            probe: None,
                        })?
                    }
                    None => {
                        // Activations do not depend on the STE: reuse a backward pass's.
                        if signals[0].is_none() && signals[1].is_none() {
                            signals[0] = Some(route.signals(case.image, layer, Some(case.class), Ste::Windowed)?);
                        }
                        let s = signals.iter().flatten().next().expect("filled above");
                        let probe = route.probe(case.image, layer, case.class)?;
                        method.raw_map(&CamInputs {
                            activations: s.activations.view(),
                            gradients: None,
                            probe: Some(probe.as_ref()),
                        })?
                    }
                };
                tally.add(&finish(&raw, size, Post::PYTORCH_GRAD_CAM).map, case.region);
            }
            bar.inc(1);
        }
        for ((method, ste), t) in combos.iter().zip(tallies) {
            entries.push(Entry {
                layer: names[layer].clone(),
                method: method.name().to_string(),
                ste: ste.map(|s| format!("{s:?}").to_lowercase()),
                scored: t.scored,
                hits: t.hits,
                energy: if t.scored > 0 { t.energy / t.scored as f64 } else { 0.0 },
            });
        }
    }
    Ok(entries)
}

/// The survey as bars (SVG): one panel per STE (forward-only methods, which have none, appear
/// in both), layers along x, one bar per method, the chance and centre-prior rates as lines.
pub fn chart(entries: &[Entry], base: &Baselines, title: &str) -> Result<String> {
    let mut layers: Vec<String> = Vec::new();
    for e in entries {
        if !layers.contains(&e.layer) {
            layers.push(e.layer.clone());
        }
    }
    let panel = |ste: &str| {
        let series = METHODS
            .iter()
            .map(|m| {
                let values = layers
                    .iter()
                    .map(|l| {
                        entries
                            .iter()
                            .find(|e| &e.layer == l && e.method == *m && e.ste.as_deref().is_none_or(|s| s == ste))
                            .and_then(Entry::rate)
                    })
                    .collect();
                (m.to_string(), values)
            })
            .collect();
        Bars { title: format!("{title}: {ste} STE"), categories: layers.clone(), series }
    };
    let axes = Axes {
        x_desc: "layer".into(),
        y_desc: "pointing-game rate".into(),
        y: (0.0, 1.0),
        panel: (460, 300),
        values: false,
        y_decimals: 1,
    };
    let lines = [
        RefLine { label: format!("centre prior {:.0}%", 100.0 * base.centre), at: base.centre, color: (90, 90, 90) },
        RefLine { label: format!("chance {:.0}%", 100.0 * base.chance), at: base.chance, color: (200, 0, 0) },
    ];
    plot::bars(&[panel("windowed"), panel("identity")], &axes, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_on_hand_made_regions() {
        // A 9×9 frame: a region at the centre is hit by the centre prior; a corner pixel is not
        // (it is 5.7 px away), and its dilated area is 3×3 of 81 pixels.
        let centre = Array2::from_shape_fn((9, 9), |(y, x)| (y, x) == (4, 4));
        let corner = Array2::from_shape_fn((9, 9), |(y, x)| (y, x) == (0, 0));
        let b = baselines(&[&centre, &corner]);
        assert_eq!(b.centre, 0.5);
        let dilated =
            |r: &Array2<bool>| dilate(r, roi::POINTING_TOLERANCE).iter().filter(|&&v| v).count() as f64 / 81.0;
        assert!((b.chance - (dilated(&centre) + dilated(&corner)) / 2.0).abs() < 1e-12);
        assert_eq!(dilated(&corner), 9.0 / 81.0);
    }

    #[test]
    fn every_method_and_ste_is_listed_once() {
        let c = combinations().unwrap();
        // Four gradient methods with two STEs each, two forward-only methods.
        assert_eq!(c.len(), 10);
        assert_eq!(c.iter().filter(|(_, s)| s.is_none()).count(), 2);
    }
}
