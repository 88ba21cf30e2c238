//! Agreement between two heatmaps, and faithfulness of one on the deployed network.
//!
//! Similarity (maps at the same size): Pearson, Spearman (average ranks for ties), cosine,
//! top-k% IoU (the k% highest pixels of each map, ties by pixel order), and SSIM (Wang et al.
//! with scikit-image's defaults: 7×7 uniform windows, sample covariance, data range 1, K1 0.01,
//! K2 0.03, averaged over the windows that fit). A statistic that is undefined (a constant map)
//! is None, never NaN.
//!
//! Faithfulness: deletion and insertion AUC (Petsiuk et al.): pixels are removed (set to the
//! image's mean colour) or inserted into that mean image, most relevant first, in `steps` equal
//! chunks; the curve is the softmax probability of the class; the AUC is its trapezoid mean.

use ndarray::{Array2, Array3, ArrayView3};
use serde::Serialize;

use crate::engine::Engine;
use crate::error::Result;
use crate::limits::MAX_FAITHFULNESS_STEPS;
use crate::report::plot::{self, Axes, Corner};

/// Deployed-vs-training agreement below this Pearson correlation is flagged as drift. Maps of
/// the same network that agree on where it looks correlate well above 0.5; below it the two
/// maps disagree on the region as often as they agree.
pub const DRIFT_PEARSON: f64 = 0.5;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Similarity {
    pub pearson: Option<f64>,
    pub spearman: Option<f64>,
    pub cosine: Option<f64>,
    pub iou_top10: f64,
    pub iou_top20: f64,
    pub ssim: Option<f64>,
    /// Pearson below [`DRIFT_PEARSON`], or undefined while exactly one map is constant.
    pub drift: bool,
}

fn flat(a: &Array2<f32>) -> Vec<f64> {
    a.iter().map(|&v| v as f64).collect()
}

pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

fn cosine(a: &[f64], b: &[f64]) -> Option<f64> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let (na, nb) = (a.iter().map(|x| x * x).sum::<f64>().sqrt(), b.iter().map(|x| x * x).sum::<f64>().sqrt());
    (na > 0.0 && nb > 0.0).then(|| dot / (na * nb))
}

fn top_set(v: &[f64], frac: f64) -> Vec<bool> {
    let k = ((v.len() as f64 * frac).ceil() as usize).clamp(1, v.len());
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[j].total_cmp(&v[i]).then(i.cmp(&j)));
    let mut s = vec![false; v.len()];
    for &i in &idx[..k] {
        s[i] = true;
    }
    s
}

pub fn iou_top(a: &[f64], b: &[f64], frac: f64) -> f64 {
    let (sa, sb) = (top_set(a, frac), top_set(b, frac));
    let inter = sa.iter().zip(&sb).filter(|(x, y)| **x && **y).count();
    let union = sa.iter().zip(&sb).filter(|(x, y)| **x || **y).count();
    inter as f64 / union.max(1) as f64
}

pub fn ssim(a: &Array2<f32>, b: &Array2<f32>) -> Option<f64> {
    const WIN: usize = 7;
    let (h, w) = a.dim();
    if h < WIN || w < WIN {
        return None;
    }
    let n = (WIN * WIN) as f64;
    let cov_norm = n / (n - 1.0);
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let mut total = 0.0;
    let mut count = 0;
    for y in 0..=h - WIN {
        for x in 0..=w - WIN {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for dy in 0..WIN {
                for dx in 0..WIN {
                    let (p, q) = (a[[y + dy, x + dx]] as f64, b[[y + dy, x + dx]] as f64);
                    sa += p;
                    sb += q;
                    saa += p * p;
                    sbb += q * q;
                    sab += p * q;
                }
            }
            let (ua, ub) = (sa / n, sb / n);
            let va = cov_norm * (saa / n - ua * ua);
            let vb = cov_norm * (sbb / n - ub * ub);
            let vab = cov_norm * (sab / n - ua * ub);
            total += ((2.0 * ua * ub + c1) * (2.0 * vab + c2)) / ((ua * ua + ub * ub + c1) * (va + vb + c2));
            count += 1;
        }
    }
    Some(total / count as f64)
}

/// All similarity metrics of two same-size heatmaps.
pub fn similarity(a: &Array2<f32>, b: &Array2<f32>) -> Similarity {
    assert_eq!(a.dim(), b.dim(), "heatmaps are compared at the same size");
    let (fa, fb) = (flat(a), flat(b));
    let p = pearson(&fa, &fb);
    let both_constant = pearson(&fa, &fa).is_none() && pearson(&fb, &fb).is_none();
    Similarity {
        pearson: p,
        spearman: pearson(&ranks(&fa), &ranks(&fb)),
        cosine: cosine(&fa, &fb),
        iou_top10: iou_top(&fa, &fb, 0.10),
        iou_top20: iou_top(&fa, &fb, 0.20),
        ssim: ssim(a, b),
        drift: match p {
            Some(v) => v < DRIFT_PEARSON,
            None => !both_constant,
        },
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Faithfulness {
    pub deletion_auc: f64,
    pub insertion_auc: f64,
}

/// The softmax probability of `class`.
pub fn softmax_at(logits: &[f32], class: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    ((logits[class] - max) as f64).exp() / sum
}

/// The trapezoid mean of a curve sampled at equal steps.
pub fn auc(curve: &[f64]) -> f64 {
    if curve.len() < 2 {
        return curve.first().copied().unwrap_or(0.0);
    }
    let segs = (curve.len() - 1) as f64;
    curve.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f64>() / segs
}

/// The deletion and insertion curves: the class probability after each of `steps` chunks
/// (steps + 1 points, the untouched image first).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Curves {
    pub deletion: Vec<f64>,
    pub insertion: Vec<f64>,
}

impl Curves {
    pub fn aucs(&self) -> Faithfulness {
        Faithfulness { deletion_auc: auc(&self.deletion), insertion_auc: auc(&self.insertion) }
    }
}

/// The running mean of curves of equal length.
#[derive(Clone, Debug, Default)]
pub struct CurveMean {
    n: usize,
    sum: Option<Curves>,
}

impl CurveMean {
    pub fn add(&mut self, c: &Curves) {
        self.n += 1;
        match &mut self.sum {
            None => self.sum = Some(c.clone()),
            Some(s) => {
                s.deletion.iter_mut().zip(&c.deletion).for_each(|(a, b)| *a += b);
                s.insertion.iter_mut().zip(&c.insertion).for_each(|(a, b)| *a += b);
            }
        }
    }

    /// None before the first curve.
    pub fn mean(&self) -> Option<Curves> {
        let k = self.n as f64;
        self.sum.as_ref().map(|s| Curves {
            deletion: s.deletion.iter().map(|v| v / k).collect(),
            insertion: s.insertion.iter().map(|v| v / k).collect(),
        })
    }
}

/// The x range of an agreement histogram: up to 1, from a tenth below the drift threshold or
/// from the lowest value (rounded down to a tenth) if that is lower, but not below −1.
pub fn agreement_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let lowest = values.filter(|v| !v.is_nan()).fold(1.0f64, f64::min);
    (((lowest * 10.0).floor() / 10.0).clamp(-1.0, DRIFT_PEARSON - 0.1), 1.0)
}

/// Deletion and insertion curves (one series per named map, with its AUC) as an SVG plot of two
/// panels; `suffix` ends the panel titles.
pub fn faithfulness_chart(curves: &[(String, Curves)], suffix: &str) -> Result<String> {
    let panel = |deletion: bool| plot::Curves {
        title: format!("{}{suffix}", if deletion { "Deletion" } else { "Insertion" }),
        series: curves
            .iter()
            .map(|(name, c)| {
                let (ys, auc) = if deletion {
                    (&c.deletion, c.aucs().deletion_auc)
                } else {
                    (&c.insertion, c.aucs().insertion_auc)
                };
                let n = ys.len().saturating_sub(1).max(1) as f64;
                (format!("{name} (AUC {auc:.3})"), ys.iter().enumerate().map(|(k, &y)| (k as f64 / n, y)).collect())
            })
            .collect(),
        // Deletion curves fall and insertion curves rise: the legend goes where they are not.
        legend: if deletion { Corner::UpperRight } else { Corner::LowerRight },
    };
    let axes = Axes {
        x_desc: "share of pixels removed / inserted (most relevant first)".into(),
        y_desc: "probability of the class".into(),
        y: (0.0, 1.0),
        panel: (460, 300),
        values: false,
        y_decimals: 1,
    };
    plot::curves(&[panel(true), panel(false)], &axes, (0.0, 1.0), vec![0.0, 0.25, 0.5, 0.75, 1.0])
}

/// Deletion and insertion AUC of a heatmap (image size) for `class`, on the deployed network.
pub fn faithfulness(
    engine: &Engine,
    img: ArrayView3<u8>,
    heatmap: &Array2<f32>,
    class: usize,
    steps: usize,
) -> Result<Faithfulness> {
    Ok(faithfulness_curves(engine, img, heatmap, class, steps)?.aucs())
}

/// The deletion and insertion curves behind [`faithfulness`].
pub fn faithfulness_curves(
    engine: &Engine,
    img: ArrayView3<u8>,
    heatmap: &Array2<f32>,
    class: usize,
    steps: usize,
) -> Result<Curves> {
    let (h, w, c) = img.dim();
    let order: Vec<usize> = {
        let v = flat(heatmap);
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[j].total_cmp(&v[i]).then(i.cmp(&j)));
        idx
    };
    let mean: Vec<u8> = (0..c)
        .map(|ch| {
            (img.index_axis(ndarray::Axis(2), ch).iter().map(|&v| v as f64).sum::<f64>() / (h * w) as f64).round() as u8
        })
        .collect();
    if !(1..=MAX_FAITHFULNESS_STEPS).contains(&steps) {
        return Err(crate::Error::invalid(format!(
            "faithfulness needs 1 to {MAX_FAITHFULNESS_STEPS} deletion/insertion steps, got {steps}"
        )));
    }
    let mut deleted = img.to_owned();
    let mut inserted = Array3::from_shape_fn((h, w, c), |(_, _, ch)| mean[ch]);
    let mut del = Vec::with_capacity(steps + 1);
    let mut ins = Vec::with_capacity(steps + 1);
    let score =
        |im: &Array3<u8>| -> Result<f64> { Ok(softmax_at(&engine.model().logits(&engine.scores(im.view())?), class)) };
    del.push(score(&deleted)?);
    ins.push(score(&inserted)?);
    let n = order.len();
    for s in 0..steps {
        for &p in &order[s * n / steps..(s + 1) * n / steps] {
            let (y, x) = (p / w, p % w);
            for ch in 0..c {
                deleted[[y, x, ch]] = mean[ch];
                inserted[[y, x, ch]] = img[[y, x, ch]];
            }
        }
        del.push(score(&deleted)?);
        ins.push(score(&inserted)?);
    }
    Ok(Curves { deletion: del, insertion: ins })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn hand_checked_values() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&a, &[2.0, 4.0, 6.0, 8.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&a, &[4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&a, &[1.0; 4]), None);
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
        // Spearman of a monotone but non-linear pair is 1.
        let s = pearson(&ranks(&a), &ranks(&[1.0, 8.0, 27.0, 64.0])).unwrap();
        assert!((s - 1.0).abs() < 1e-12);
        assert!((cosine(&[1.0, 0.0], &[0.0, 1.0]).unwrap()).abs() < 1e-12);
        // Top 50% of 4 pixels: {3,4} vs {1,4} → IoU 1/3.
        assert!((iou_top(&a, &[4.0, 1.0, 2.0, 3.0], 0.5) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(auc(&[1.0, 0.0]), 0.5);
        assert_eq!(agreement_range([0.97, 0.99].into_iter()), (0.4, 1.0));
        assert_eq!(agreement_range([0.97, 0.21, f64::NAN].into_iter()), (0.2, 1.0));
        assert_eq!(agreement_range([-1.0].into_iter()), (-1.0, 1.0));
        let mut m = CurveMean::default();
        assert_eq!(m.mean(), None);
        m.add(&Curves { deletion: vec![1.0, 0.0], insertion: vec![0.0, 1.0] });
        m.add(&Curves { deletion: vec![0.5, 0.5], insertion: vec![0.0, 0.5] });
        assert_eq!(m.mean(), Some(Curves { deletion: vec![0.75, 0.25], insertion: vec![0.0, 0.75] }));
    }

    #[test]
    fn ssim_of_identical_maps_is_one() {
        let a = Array2::from_shape_fn((16, 16), |(y, x)| ((y * 3 + x * 5) % 7) as f32 / 7.0);
        assert!((ssim(&a, &a).unwrap() - 1.0).abs() < 1e-9);
        let b = a.mapv(|v| 1.0 - v);
        assert!(ssim(&a, &b).unwrap() < 0.0);
        let s = similarity(&a, &b);
        assert!(s.drift && s.pearson.unwrap() < -0.99);
        assert!(!similarity(&a, &a).drift);
        let z = Array2::zeros((16, 16));
        assert!(similarity(&z, &z).pearson.is_none() && !similarity(&z, &z).drift);
        assert!(similarity(&z, &a).drift);
    }
}
