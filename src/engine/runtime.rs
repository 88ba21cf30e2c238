//! Executes a [`FoldedModel`] as the FINN accelerator does, bit for bit: the input quantizer
//! table, the int8 × ±1 first layer, XNOR-popcount layers on packed maps, thresholds `acc ≥ T`,
//! OR max-pools, and the last accumulator as class scores. Any layer can be tapped.

use ndarray::{Array2, Array3, ArrayView3, ArrayView4, Axis};
use rayon::prelude::*;

use super::kernels::{self, generic, Code, Kernel};
use super::packed::PackedMap;
use crate::error::{Error, Result};
use crate::model::folded::FoldedModel;
use crate::model::topology::{Layer, LayerKind, Shape};

/// How one topology layer runs.
enum Plan {
    /// The first compute layer: integer input codes × ±1 weights with output channels in SIMD
    /// lanes, acc = 2·Σ_{w=+1} x − Σ x. `plus` holds K rows of `padded` masks (−1 where the
    /// weight is +1, else 0); i16 lanes when K·max|code| fits, twice as many per register.
    Int {
        plus: IntMasks,
        padded: usize,
        thresholds: Option<Vec<i32>>,
    },
    /// A binary layer: rows of `row_words` packed words laid out as the input window is
    /// gathered ((ky, kx, channel words) or (pixel, channel words)), padding bits zero; `packed`
    /// is the same rows in the kernel's layout.
    Bin {
        rows: Vec<u64>,
        packed: Vec<u64>,
        row_words: usize,
        k: usize,
        thresholds: Option<Vec<i32>>,
    },
    Pool {
        size: usize,
    },
}

enum IntMasks {
    I16(Vec<i16>),
    I32(Vec<i32>),
}

/// The first layer's lanes are padded to whole blocks of this many channels.
const INT_PAD: usize = 64;

/// The first layer's masks, K rows of `padded` lanes.
fn int_masks<T: Code>(k: usize, n: usize, padded: usize, plus: impl Fn(usize, usize) -> bool) -> Vec<T> {
    let mut m = vec![T::default(); k * padded];
    for j in 0..k {
        for c in 0..n {
            if plus(c, j) {
                m[j * padded + c] = T::PLUS;
            }
        }
    }
    m
}

/// A map between layers.
#[derive(Clone, Debug)]
enum Act {
    /// Input codes, H×W×C.
    Int(Array3<i32>),
    Bits(PackedMap),
}

/// What one layer produced.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerOut {
    /// Compute layers: the pre-threshold accumulators, H×W×C, in the folded (flipped) domain,
    /// so the output is +1 exactly where acc ≥ T. For binary-input layers acc is the XNOR
    /// popcount P (the ±1 dot product is 2P − K, or K − 2P on a flipped channel).
    pub acc: Option<Array3<i32>>,
    /// The binary output map (absent for the last layer).
    pub bits: Option<PackedMap>,
}

/// Every intermediate value of one image, up to the requested layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The quantized input codes (int8), H×W×C.
    pub input: Array3<i8>,
    /// One per topology layer run, in order.
    pub layers: Vec<LayerOut>,
}

impl Trace {
    /// The class scores, when the trace ran to the last layer.
    pub fn scores(&self) -> Option<Vec<i32>> {
        let last = self.layers.last()?;
        if last.bits.is_some() {
            return None;
        }
        last.acc.as_ref().map(|a| a.iter().copied().collect())
    }
}

pub struct Engine {
    model: FoldedModel,
    layers: Vec<Layer>,
    plans: Vec<Plan>,
    table: [i32; 256],
    kernel: &'static dyn Kernel,
}

impl Engine {
    pub fn new(model: FoldedModel) -> Result<Engine> {
        let kernel = kernels::best()?;
        let layers = model.validate()?;
        let mut plans = Vec::with_capacity(layers.len());
        for l in &layers {
            let plan = match (l.kind, l.compute_index) {
                (LayerKind::MaxPool { size }, _) => Plan::Pool { size },
                (_, Some(0)) => {
                    let f = &model.layers[0];
                    let (k, n) = (l.fan_in(), l.output.channels);
                    let table = model.input_quant.table();
                    let max_code = table.iter().map(|&v| (v as i32).abs()).max().unwrap_or(0) as usize;
                    let plus = |c: usize, j: usize| f.weights.sign(c, j) > 0;
                    let padded = n.div_ceil(INT_PAD) * INT_PAD;
                    let plus = if k * max_code <= i16::MAX as usize {
                        IntMasks::I16(int_masks(k, n, padded, plus))
                    } else {
                        IntMasks::I32(int_masks(k, n, padded, plus))
                    };
                    Plan::Int { plus, padded, thresholds: f.thresholds.clone() }
                }
                (_, Some(ci)) => {
                    let f = &model.layers[ci];
                    let c = l.input.channels;
                    let wpp = c.div_ceil(64);
                    // Window pixels: kernel² for a conv, the whole input map for an fc; the
                    // column order (window pixel, channel) is FINN's in both cases.
                    let window = match l.kind {
                        LayerKind::Conv { kernel } => kernel * kernel,
                        _ => l.input.pixels(),
                    };
                    let row_words = window * wpp;
                    let mut rows = vec![0u64; l.output.channels * row_words];
                    for o in 0..l.output.channels {
                        let row = f.weights.row(o);
                        for p in 0..window {
                            for ch in 0..c {
                                if row[p * c + ch] {
                                    rows[o * row_words + p * wpp + ch / 64] |= 1 << (ch % 64);
                                }
                            }
                        }
                    }
                    let packed = kernels::pack_rows(&rows, l.output.channels, row_words, kernel.lanes());
                    Plan::Bin { rows, packed, row_words, k: l.fan_in(), thresholds: f.thresholds.clone() }
                }
                (_, None) => unreachable!("compute layers have an index"),
            };
            plans.push(plan);
        }
        let t = model.input_quant.table();
        let table = std::array::from_fn(|u| t[u] as i32);
        Ok(Engine { model, layers, plans, table, kernel })
    }

    /// Uses a specific kernel (the shared test suite runs the engine on every one).
    pub fn with_kernel(mut self, kernel: &'static dyn Kernel) -> Self {
        for (plan, l) in self.plans.iter_mut().zip(&self.layers) {
            if let Plan::Bin { rows, packed, row_words, .. } = plan {
                *packed = kernels::pack_rows(rows, l.output.channels, *row_words, kernel.lanes());
            }
        }
        self.kernel = kernel;
        self
    }

    pub fn kernel(&self) -> &'static dyn Kernel {
        self.kernel
    }
    pub fn model(&self) -> &FoldedModel {
        &self.model
    }
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    pub fn input_shape(&self) -> Shape {
        self.model.topology.input
    }
    pub fn classes(&self) -> usize {
        self.model.topology.classes()
    }

    fn check_image(&self, img: &ArrayView3<u8>) -> Result<()> {
        let s = self.input_shape();
        if img.dim() != (s.height, s.width, s.channels) {
            return Err(Error::invalid(format!(
                "image is {:?} (H, W, C), the model takes {}x{}x{}",
                img.dim(),
                s.height,
                s.width,
                s.channels
            )));
        }
        Ok(())
    }

    fn quantize(&self, img: &ArrayView3<u8>) -> Array3<i32> {
        img.mapv(|u| self.table[u as usize])
    }

    /// The class scores (the last layer's accumulator) of one H×W×C image.
    pub fn scores(&self, img: ArrayView3<u8>) -> Result<Vec<i32>> {
        self.check_image(&img)?;
        Ok(self.run_rest(0, Act::Int(self.quantize(&img))))
    }

    /// Runs layers `from`.. on `act` (their input) to the class scores.
    fn run_rest(&self, from: usize, mut act: Act) -> Vec<i32> {
        for (i, layer) in self.layers.iter().enumerate().skip(from) {
            let (acc, next) = self.step(i, layer, &act, false);
            match next {
                Some(a) => act = a,
                None => return acc.expect("the last layer yields its accumulator").into_iter().collect(),
            }
        }
        unreachable!("a validated topology ends in a fully connected layer")
    }

    /// The class scores when layer `start`'s output is replaced by `map` (binary, H×W×C of
    /// that layer's output shape): runs layers start+1.. only. Ablation-style CAMs use it.
    pub fn scores_from(&self, start: usize, map: &PackedMap) -> Result<Vec<i32>> {
        let Some(layer) = self.layers.get(start) else {
            return Err(Error::invalid(format!("layer index {start} is out of range")));
        };
        let o = layer.output;
        if start + 1 >= self.layers.len() || (map.height, map.width, map.channels) != (o.height, o.width, o.channels) {
            return Err(Error::invalid(format!(
                "cannot resume after layer '{}' with a {}x{}x{} map (it outputs {o})",
                layer.name, map.height, map.width, map.channels
            )));
        }
        Ok(self.run_rest(start + 1, Act::Bits(map.clone())))
    }

    /// Class scores of an N×H×W×C batch, images in parallel. A single image runs on the
    /// calling thread: handing it to rayon's pool costs a thread hand-off and buys nothing.
    pub fn run_batch(&self, images: ArrayView4<u8>) -> Result<Array2<i32>> {
        let n = images.len_of(Axis(0));
        if n == 0 {
            return Err(Error::invalid("the batch is empty"));
        }
        let rows: Vec<Vec<i32>> = if n == 1 {
            vec![self.scores(images.index_axis(Axis(0), 0))?]
        } else {
            (0..n).into_par_iter().map(|i| self.scores(images.index_axis(Axis(0), i))).collect::<Result<_>>()?
        };
        let c = self.classes();
        Ok(Array2::from_shape_vec((n, c), rows.concat()).expect("each image yields one score per class"))
    }

    /// Runs one image through layers 0..=upto, keeping every intermediate value.
    pub fn trace(&self, img: ArrayView3<u8>, upto: usize) -> Result<Trace> {
        self.trace_range(img, 0, upto)
    }

    /// Like [`Engine::trace`], but keeps accumulators and maps only for layers keep_from..=upto
    /// (earlier entries are empty): what a backward pass from the output to `keep_from` needs.
    pub fn trace_range(&self, img: ArrayView3<u8>, keep_from: usize, upto: usize) -> Result<Trace> {
        self.check_image(&img)?;
        if upto >= self.layers.len() {
            return Err(Error::invalid(format!(
                "layer index {upto} is out of range (the model has {} layers)",
                self.layers.len()
            )));
        }
        let codes = self.quantize(&img);
        let input = codes.mapv(|v| v as i8);
        let mut act = Act::Int(codes);
        let mut layers = Vec::with_capacity(upto + 1);
        for (i, layer) in self.layers.iter().enumerate().take(upto + 1) {
            let keep = i >= keep_from;
            let (acc, next) = self.step(i, layer, &act, keep);
            let bits = match &next {
                Some(Act::Bits(p)) if keep => Some(p.clone()),
                _ => None,
            };
            layers.push(LayerOut { acc: if keep { acc } else { None }, bits });
            if let Some(a) = next {
                act = a;
            }
        }
        Ok(Trace { input, layers })
    }

    /// One layer. Returns the accumulators (when `keep_acc`, and always for the last layer)
    /// and the next map (None after the last layer).
    fn step(&self, i: usize, layer: &Layer, act: &Act, keep_acc: bool) -> (Option<Array3<i32>>, Option<Act>) {
        let out = layer.output;
        match (&self.plans[i], act) {
            (Plan::Pool { size }, Act::Bits(p)) => (None, Some(Act::Bits(p.max_pool(*size)))),
            (Plan::Int { plus, padded, thresholds }, Act::Int(codes)) => {
                let t = thresholds.as_deref();
                match plus {
                    IntMasks::I16(m) => {
                        self.int_layer(layer, codes, t, keep_acc, |w, acc| self.kernel.pm1_dot_i16(w, m, acc))
                    }
                    // Wide first layers (K·max|code| beyond i16): the portable body.
                    IntMasks::I32(m) => self
                        .int_layer(layer, codes, t, keep_acc, |w, acc| generic::pm1_dot::<i32, 16>(w, m, *padded, acc)),
                }
            }
            (Plan::Bin { packed, row_words, k, thresholds, .. }, Act::Bits(p)) => {
                let mut window = vec![0u64; *row_words];
                let mut mism = vec![0u32; out.channels];
                let k = *k as i32;
                self.compute(layer, thresholds.as_deref(), keep_acc, |oy, ox, acc| {
                    let x: &[u64] = match layer.kind {
                        LayerKind::Conv { kernel } => {
                            let span = kernel * p.words_per_pixel;
                            for ky in 0..kernel {
                                let start = ((oy + ky) * p.width + ox) * p.words_per_pixel;
                                copy_run(&mut window[ky * span..(ky + 1) * span], &p.data[start..start + span]);
                            }
                            &window
                        }
                        _ => &p.data,
                    };
                    self.kernel.xor_popcount_rows(x, packed, &mut mism);
                    for (a, m) in acc.iter_mut().zip(&mism) {
                        *a = k - *m as i32;
                    }
                })
            }
            _ => unreachable!("plans match the map kinds by construction"),
        }
    }

    /// The first compute layer over `codes` (the quantized input), narrowed to lanes of `T`;
    /// `dot(window, acc)` fills one pixel's accumulators.
    fn int_layer<T: Code>(
        &self,
        layer: &Layer,
        codes: &Array3<i32>,
        thresholds: Option<&[i32]>,
        keep_acc: bool,
        dot: impl Fn(&[T], &mut [i32]),
    ) -> (Option<Array3<i32>>, Option<Act>) {
        let mut window = vec![0i32; layer.fan_in()];
        let mut lanes = vec![T::default(); layer.fan_in()];
        self.compute(layer, thresholds, keep_acc, |oy, ox, acc| {
            gather_int(layer, codes, oy, ox, &mut window);
            for (l, &v) in lanes.iter_mut().zip(&window) {
                *l = T::narrow(v);
            }
            dot(&lanes, acc);
        })
    }

    /// The shared per-pixel loop of conv and fc: `fill(oy, ox, acc)` writes one output pixel's
    /// accumulators; thresholds turn them into bits.
    fn compute(
        &self,
        layer: &Layer,
        thresholds: Option<&[i32]>,
        keep_acc: bool,
        mut fill: impl FnMut(usize, usize, &mut [i32]),
    ) -> (Option<Array3<i32>>, Option<Act>) {
        let out = layer.output;
        let keep_acc = keep_acc || thresholds.is_none();
        let mut accs = if keep_acc { Some(Array3::zeros((out.height, out.width, out.channels))) } else { None };
        let mut bits = PackedMap::zeros(out.height, out.width, out.channels);
        let mut acc = vec![0i32; out.channels];
        for oy in 0..out.height {
            for ox in 0..out.width {
                fill(oy, ox, &mut acc);
                if let Some(t) = thresholds {
                    let base = (oy * out.width + ox) * bits.words_per_pixel;
                    self.kernel.threshold(&acc, t, &mut bits.data[base..base + bits.words_per_pixel]);
                }
                if let Some(m) = accs.as_mut() {
                    for (c, &a) in acc.iter().enumerate() {
                        m[[oy, ox, c]] = a;
                    }
                }
            }
        }
        let next = thresholds.map(|_| Act::Bits(bits));
        (accs, next)
    }
}

/// Copies one kernel row of a conv window. The common spans (a 3-wide kernel over 1, 2 or 4
/// words or 3 codes per pixel) get a fixed length, so they compile to a few moves instead of a
/// memcpy call per window row (which cost a fifth of a CNV forward pass).
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    fn fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
        dst[..N].copy_from_slice(&src[..N]);
    }
    match src.len() {
        3 => fixed::<T, 3>(dst, src),
        6 => fixed::<T, 6>(dst, src),
        9 => fixed::<T, 9>(dst, src),
        12 => fixed::<T, 12>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Gathers the first layer's input window in FINN's column order: for a conv, each kernel
/// row is one contiguous run of kernel·C codes.
fn gather_int(layer: &Layer, codes: &Array3<i32>, oy: usize, ox: usize, window: &mut [i32]) {
    let src = codes.as_slice().expect("codes are in standard layout");
    match layer.kind {
        LayerKind::Conv { kernel } => {
            let (c, w) = (layer.input.channels, layer.input.width);
            let span = kernel * c;
            for ky in 0..kernel {
                let start = ((oy + ky) * w + ox) * c;
                copy_run(&mut window[ky * span..(ky + 1) * span], &src[start..start + span]);
            }
        }
        _ => window.copy_from_slice(src),
    }
}

/// The top-`k` labels of one score vector, best first; on ties the lower index wins (FINN's
/// LabelSelect and ONNX TopK).
pub fn top_k(scores: &[i32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].cmp(&scores[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_breaks_ties_towards_the_lower_index() {
        assert_eq!(top_k(&[3, 7, 7, 1], 2), vec![1, 2]);
        assert_eq!(top_k(&[5, 5, 5], 3), vec![0, 1, 2]);
        assert_eq!(top_k(&[-1, 4], 1), vec![1]);
    }
}
