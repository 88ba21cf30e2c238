//! Activations and gradients at a layer, by two routes:
//! - **deployed**: the folded integer network as the engine runs it. The ±1 maps come from the
//!   engine; the gradient of the target logit flows back through the XNOR-popcount layers
//!   (linear in ±1: d acc/d a = w/2), through each threshold with a straight-through estimator
//!   scaled by the channel's pre-activation slope (`ste_scale`), and through max-pools to the
//!   first maximum of each window (torch's rule).
//! - **training**: the f32 training-time graph (the reference), with BatchNorm in float and
//!   Brevitas' STE.
//!
//! Two STEs: `Identity` passes the gradient everywhere; `Windowed` passes it only where the
//! pre-activation lies in [−1, 1], as Brevitas' binary activation (a clamp to [−1, 1] before
//! the sign) does. The deployed route estimates the pre-activation as
//! ste_scale·(acc − T + ½) (within half an accumulator step of the training value); the
//! training route has it exactly.

use ndarray::{Array2, Array3, ArrayView3};
use rayon::prelude::*;

use super::base::Probe;
use crate::engine::{Engine, PackedMap};
use crate::error::{Error, Result};
use crate::model::{Layer, LayerKind};
use crate::reference::Reference;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ste {
    Identity,
    Windowed,
}

impl std::str::FromStr for Ste {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "identity" => Ok(Ste::Identity),
            "windowed" | "brevitas" => Ok(Ste::Windowed),
            other => Err(format!("unknown STE '{other}' (identity, windowed)")),
        }
    }
}

impl Ste {
    fn pass(self, pre: f32) -> f32 {
        match self {
            Ste::Identity => 1.0,
            Ste::Windowed => ((-1.0..=1.0).contains(&pre)) as u8 as f32,
        }
    }
}

/// A layer's activations, their gradients, and the logits of the image.
#[derive(Clone, Debug)]
pub struct Signals {
    /// H×W×C at the layer (±1 for binary maps).
    pub activations: Array3<f32>,
    /// d logit[class] / d activations, H×W×C.
    pub gradients: Array3<f32>,
    pub logits: Vec<f32>,
    pub class: usize,
}

/// What the backward pass needs of one route.
struct Forward {
    /// Each layer's output (±1 maps; logits last).
    outs: Vec<Array3<f32>>,
    /// Compute layers: d out / d (Σ w·a) per output element.
    local: Vec<Option<Array3<f32>>>,
}

/// Picks the class (the predicted one by default) and checks the layer.
fn check(layers: &[Layer], layer: usize, logits: &[f32], class: Option<usize>) -> Result<usize> {
    if layer + 1 >= layers.len() {
        return Err(Error::invalid(format!(
            "layer {layer} is the output layer; CAMs need a feature map before it (0..={})",
            layers.len().saturating_sub(2)
        )));
    }
    match class {
        Some(c) if c < logits.len() => Ok(c),
        Some(c) => Err(Error::invalid(format!("class {c} is out of range (the model has {} classes)", logits.len()))),
        None => {
            // The predicted class; ties go to the lower index, as FINN's LabelSelect does.
            let mut best = 0;
            for (i, &l) in logits.iter().enumerate() {
                if l > logits[best] {
                    best = i;
                }
            }
            Ok(best)
        }
    }
}

/// Backward from one-hot(class) at the logits to the output of `layer`.
fn backward<'w>(
    layers: &[Layer],
    fwd: &Forward,
    weight: &dyn Fn(usize) -> &'w [f32],
    layer: usize,
    class: usize,
) -> Array3<f32> {
    let last = layers.len() - 1;
    let mut g = Array3::zeros(fwd.outs[last].dim());
    g[[0, 0, class]] = 1.0;
    for i in (layer + 1..=last).rev() {
        let l = &layers[i];
        let s = l.input;
        let mut gin = Array3::<f32>::zeros((s.height, s.width, s.channels));
        match (l.kind, l.compute_index) {
            (LayerKind::MaxPool { size }, _) => {
                let input = &fwd.outs[i - 1];
                for ((oy, ox, c), &gv) in g.indexed_iter() {
                    if gv == 0.0 {
                        continue;
                    }
                    // torch routes to the first maximum in row-major window order.
                    let (mut by, mut bx, mut best) = (oy * size, ox * size, f32::NEG_INFINITY);
                    for dy in 0..size {
                        for dx in 0..size {
                            let v = input[[oy * size + dy, ox * size + dx, c]];
                            if v > best {
                                (by, bx, best) = (oy * size + dy, ox * size + dx, v);
                            }
                        }
                    }
                    gin[[by, bx, c]] += gv;
                }
            }
            (kind, Some(ci)) => {
                let w = weight(ci);
                let k = l.fan_in();
                let local = fwd.local[i].as_ref().expect("compute layers have local derivatives");
                let gin_flat = gin.as_slice_mut().expect("standard layout");
                for ((oy, ox, o), &gv) in g.indexed_iter() {
                    let gd = gv * local[[oy, ox, o]];
                    if gd == 0.0 {
                        continue;
                    }
                    let row = &w[o * k..(o + 1) * k];
                    match kind {
                        LayerKind::Conv { kernel } => {
                            let span = kernel * s.channels;
                            for ky in 0..kernel {
                                let base = ((oy + ky) * s.width + ox) * s.channels;
                                for (d, wv) in
                                    gin_flat[base..base + span].iter_mut().zip(&row[ky * span..(ky + 1) * span])
                                {
                                    *d += gd * wv;
                                }
                            }
                        }
                        _ => {
                            for (d, wv) in gin_flat.iter_mut().zip(row) {
                                *d += gd * wv;
                            }
                        }
                    }
                }
            }
            _ => unreachable!("compute layers have an index"),
        }
        g = gin;
    }
    g
}

/// The deployed route over an engine.
pub struct Deployed<'a> {
    engine: &'a Engine,
    /// ±1 weights per compute layer, [out × K], as the accelerator holds them (flips applied).
    weights: Vec<Vec<f32>>,
}

impl<'a> Deployed<'a> {
    pub fn new(engine: &'a Engine) -> Self {
        let weights = engine
            .model()
            .layers
            .iter()
            .map(|l| {
                let m = &l.weights;
                (0..m.rows())
                    .flat_map(|r| m.row(r).iter().map(|b| if *b { 1.0 } else { -1.0 }).collect::<Vec<f32>>())
                    .collect()
            })
            .collect();
        Deployed { engine, weights }
    }

    pub fn signals(&self, img: ArrayView3<u8>, layer: usize, class: Option<usize>, ste: Ste) -> Result<Signals> {
        let e = self.engine;
        let layers = e.layers();
        let last = layers.len() - 1;
        // Values are needed from `layer` on: its map, and what later layers back-propagate.
        let trace = e.trace_range(img, layer, last)?;
        let scores = trace.scores().expect("the trace ran to the last layer");
        let logits = e.model().logits(&scores);
        let class = check(layers, layer, &logits, class)?;
        let mut outs = Vec::with_capacity(layers.len());
        let mut local = Vec::with_capacity(layers.len());
        for (i, (l, t)) in layers.iter().zip(&trace.layers).enumerate() {
            if i < layer {
                outs.push(Array3::zeros((0, 0, 0)));
                local.push(None);
                continue;
            }
            match &t.bits {
                Some(b) => outs.push(b.to_pm1().mapv(f32::from)),
                None => outs.push(Array3::from_shape_vec((1, 1, logits.len()), logits.clone()).expect("1×1×classes")),
            }
            local.push(l.compute_index.map(|ci| {
                let f = &e.model().layers[ci];
                let acc = t.acc.as_ref().expect("a trace keeps accumulators");
                // Binary-input layers: acc = (Σ w·a + K)/2.
                let half = if ci == 0 { 1.0 } else { 0.5 };
                match (&f.thresholds, &f.ste_scale) {
                    (Some(th), Some(sc)) => Array3::from_shape_fn(acc.dim(), |(y, x, c)| {
                        let pre = sc[c] * (acc[[y, x, c]] - th[c]) as f32 + 0.5 * sc[c];
                        half * sc[c] * ste.pass(pre)
                    }),
                    _ => Array3::from_elem(acc.dim(), half * e.model().output.scale),
                }
            }));
        }
        let fwd = Forward { outs, local };
        let gradients = backward(layers, &fwd, &|ci| &self.weights[ci], layer, class);
        let activations = fwd.outs.into_iter().nth(layer).expect("layer < len");
        Ok(Signals { activations, gradients, logits, class })
    }

    /// Forward-only access for Score-CAM and Ablation-CAM.
    pub fn probe<'b>(&'b self, img: ArrayView3<'b, u8>, layer: usize, class: usize) -> Result<DeployedProbe<'b>> {
        let trace = self.engine.trace_range(img, layer, layer)?;
        let map = trace.layers[layer]
            .bits
            .clone()
            .ok_or_else(|| Error::invalid(format!("layer {layer} has no binary map to ablate")))?;
        let base = self.engine.model().logits(&self.engine.scores(img)?)[class];
        Ok(DeployedProbe { engine: self.engine, img, layer, class, map, base })
    }
}

/// Multiplies a u8 image by a [0, 1] mask and rounds back to u8, as an image fed to the
/// accelerator must be.
fn masked(img: ArrayView3<u8>, mask: &Array2<f32>) -> Array3<u8> {
    let mut out = img.to_owned();
    ndarray::Zip::from(out.lanes_mut(ndarray::Axis(2))).and(mask).for_each(|mut px, &m| {
        px.mapv_inplace(|v| (v as f32 * m).round().clamp(0.0, 255.0) as u8);
    });
    out
}

pub struct DeployedProbe<'a> {
    engine: &'a Engine,
    img: ArrayView3<'a, u8>,
    layer: usize,
    class: usize,
    map: PackedMap,
    base: f32,
}

impl Probe for DeployedProbe<'_> {
    fn input_size(&self) -> (usize, usize) {
        (self.img.dim().0, self.img.dim().1)
    }
    fn base_logit(&self) -> f32 {
        self.base
    }
    fn masked_logits(&self, masks: &[Array2<f32>]) -> Result<Vec<f32>> {
        masks
            .par_iter()
            .map(|m| Ok(self.engine.model().logits(&self.engine.scores(masked(self.img, m).view())?)[self.class]))
            .collect()
    }
    fn ablated_logit(&self, c: usize) -> Result<f32> {
        let mut map = self.map.clone();
        let wpp = map.words_per_pixel;
        for px in map.data.chunks_mut(wpp) {
            px[c / 64] &= !(1u64 << (c % 64));
        }
        Ok(self.engine.model().logits(&self.engine.scores_from(self.layer, &map)?)[self.class])
    }
}

/// The training route over the f32 reference.
pub struct Training<'a> {
    reference: &'a Reference,
}

impl<'a> Training<'a> {
    pub fn new(reference: &'a Reference) -> Self {
        Training { reference }
    }

    pub fn signals(&self, img: ArrayView3<u8>, layer: usize, class: Option<usize>, ste: Ste) -> Result<Signals> {
        let r = self.reference;
        let layers = r.layers();
        let trace = r.forward(img)?;
        let logits = trace.logits();
        let class = check(layers, layer, &logits, class)?;
        let model = r.model();
        let local = layers
            .iter()
            .zip(&trace.layers)
            .map(|(l, t)| {
                l.compute_index.map(|ci| match (&model.layers[ci].bn, &t.pre) {
                    (Some(bn), Some(pre)) => Array3::from_shape_fn(pre.dim(), |(y, x, c)| {
                        let slope = bn.gamma[c] / (bn.var[c] + bn.eps).sqrt();
                        slope * ste.pass(pre[[y, x, c]])
                    }),
                    _ => Array3::from_elem(t.out.dim(), model.output.scale),
                })
            })
            .collect();
        let outs: Vec<Array3<f32>> = trace.layers.into_iter().map(|t| t.out).collect();
        let fwd = Forward { outs, local };
        let gradients = backward(layers, &fwd, &|ci| r.signs(ci), layer, class);
        let activations = fwd.outs.into_iter().nth(layer).expect("layer < len");
        Ok(Signals { activations, gradients, logits, class })
    }

    pub fn probe<'b>(&'b self, img: ArrayView3<'b, u8>, layer: usize, class: usize) -> Result<TrainingProbe<'b>> {
        let trace = self.reference.forward(img)?;
        let base = trace.logits()[class];
        let map = trace.layers[layer].out.clone();
        Ok(TrainingProbe { reference: self.reference, img, layer, class, map, base })
    }
}

pub struct TrainingProbe<'a> {
    reference: &'a Reference,
    img: ArrayView3<'a, u8>,
    layer: usize,
    class: usize,
    map: Array3<f32>,
    base: f32,
}

impl Probe for TrainingProbe<'_> {
    fn input_size(&self) -> (usize, usize) {
        (self.img.dim().0, self.img.dim().1)
    }
    fn base_logit(&self) -> f32 {
        self.base
    }
    fn masked_logits(&self, masks: &[Array2<f32>]) -> Result<Vec<f32>> {
        masks.par_iter().map(|m| Ok(self.reference.logits(masked(self.img, m).view())?[self.class])).collect()
    }
    fn ablated_logit(&self, c: usize) -> Result<f32> {
        let mut map = self.map.clone();
        map.index_axis_mut(ndarray::Axis(2), c).fill(-1.0);
        Ok(self.reference.logits_from(self.layer, map)?[self.class])
    }
}
