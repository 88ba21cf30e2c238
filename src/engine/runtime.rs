//! Executes a [`FoldedModel`] as the FINN accelerator does, bit for bit: the input quantizer
//! table, the int8 × ±1 first layer, XNOR-popcount layers on packed maps, thresholds `acc ≥ T`,
//! OR max-pools, and the last accumulator as class scores. Any layer can be tapped.

use std::cell::RefCell;

use ndarray::{Array2, Array3, ArrayView3, ArrayView4, Axis};
use rayon::prelude::*;

use super::kernels::{self, BinLayer, BitsOut, IntLayer, Kernel};
use super::packed::{pool_words, PackedMap};
use crate::error::{Error, Result};
use crate::model::folded::{FoldedLayer, FoldedModel};
use crate::model::topology::{Layer, LayerKind, Shape};

/// How one topology layer runs.
enum Plan {
    Int(IntPlan),
    Bin(BinPlan),
    Pool { size: usize },
}

/// The first compute layer: input codes offset to 0..=255 (u = code + 128) times ±1 weights,
/// so the kernels sum u·w = acc + 128·Σw; `corr` holds 128·Σw per channel.
struct IntPlan {
    weights: Vec<i8>,
    row_offsets: Vec<usize>,
    span: usize,
    groups: usize,
    padded: usize,
    channels: usize,
    corr: Vec<i32>,
    /// T + corr per channel, padded with i32::MAX to whole blocks (None for a last layer).
    limits: Option<Vec<i32>>,
    pixels: Pixels,
}

/// A binary layer: `rows` row-major ((ky, kx, channel words) or (pixel, channel words), as
/// FINN orders the window), `packed` the same rows in the kernel's layout; the output bit is
/// +1 where the mismatch count m ≤ K − T (acc = K − m ≥ T).
struct BinPlan {
    rows: Vec<u64>,
    packed: Vec<u64>,
    offsets: Vec<usize>,
    channels: usize,
    k: usize,
    limits: Option<Vec<i32>>,
    pixels: Pixels,
}

/// Where a compute layer's output pixels read their windows (input word or byte offsets):
/// `all` in raster order, and when a max-pool follows, `pooled`: the pixels of each pool
/// window in turn, raster order over the pooled map (the pool fused into the layer).
struct Pixels {
    all: Vec<usize>,
    pooled: Option<(usize, Vec<usize>)>,
}

impl Pixels {
    /// The fast path's order: the pooled one when a pool follows (`group` pixels per output
    /// and the pool layer skipped: step 2), else raster order (step 1).
    fn fused(&self) -> (&[usize], usize, usize) {
        match &self.pooled {
            Some((size, bases)) => (bases, size * size, 2),
            None => (&self.all, 1, 1),
        }
    }

    /// `base(y, x)` of each output pixel of `out`, and the pooled order when `pool` follows.
    fn new(out: Shape, pool: Option<usize>, base: impl Fn(usize, usize) -> usize) -> Pixels {
        let all = (0..out.height).flat_map(|y| (0..out.width).map(move |x| (y, x))).map(|(y, x)| base(y, x)).collect();
        let pooled = pool.map(|s| {
            let mut v = Vec::with_capacity(out.height / s * (out.width / s) * s * s);
            for py in 0..out.height / s {
                for px in 0..out.width / s {
                    for dy in 0..s {
                        for dx in 0..s {
                            v.push(base(py * s + dy, px * s + dx));
                        }
                    }
                }
            }
            (s, v)
        });
        Pixels { all, pooled }
    }
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

/// The maps of one forward pass, reused across the images a thread runs (no allocation per
/// image once warm).
#[derive(Default)]
struct Scratch {
    codes: Vec<u8>,
    maps: [Vec<u64>; 2],
    counts: Vec<u32>,
    sums: Vec<i32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Runs `f` with this thread's scratch maps (fresh ones if a nested call holds them: rayon may
/// run another image on this thread while it waits inside a split layer).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// The input of the layer a fast forward pass starts at.
enum Start<'a> {
    Image(ArrayView3<'a, u8>),
    Bits(&'a [u64]),
}

/// Bytes of slack after the code map: a first-layer window row is read in whole groups of
/// four taps.
const CODE_SLACK: usize = 4;

/// Splitting a layer across threads pays from about this many output pixels per thread.
const MIN_SPLIT_PIXELS: usize = 8;

pub struct Engine {
    model: FoldedModel,
    layers: Vec<Layer>,
    plans: Vec<Plan>,
    /// u8 pixel → input code + 128 (the kernels' unsigned lanes).
    table: [u8; 256],
    kernel: &'static dyn Kernel,
}

impl Engine {
    pub fn new(model: FoldedModel) -> Result<Engine> {
        let kernel = kernels::best()?;
        let layers = model.validate()?;
        let mut plans = Vec::with_capacity(layers.len());
        for (i, l) in layers.iter().enumerate() {
            let pool = match layers.get(i + 1).map(|n| n.kind) {
                Some(LayerKind::MaxPool { size }) => Some(size),
                _ => None,
            };
            let plan = match (l.kind, l.compute_index) {
                (LayerKind::MaxPool { size }, _) => Plan::Pool { size },
                (_, Some(0)) => Plan::Int(int_plan(l, &model.layers[0], pool)),
                (_, Some(ci)) => Plan::Bin(bin_plan(l, &model.layers[ci], pool, kernel)),
                (_, None) => unreachable!("compute layers have an index"),
            };
            plans.push(plan);
        }
        let t = model.input_quant.table();
        let table = std::array::from_fn(|u| (t[u] as i32 + 128) as u8);
        Ok(Engine { model, layers, plans, table, kernel })
    }

    /// Uses a specific kernel (the shared test suite runs the engine on every one).
    pub fn with_kernel(mut self, kernel: &'static dyn Kernel) -> Self {
        for plan in &mut self.plans {
            if let Plan::Bin(b) = plan {
                b.packed = kernels::pack_rows(&b.rows, b.channels, b.offsets.len(), kernel.lanes(), kernel.lane_bits());
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

    /// The offset codes (code + 128) of an image, raster order, with [`CODE_SLACK`] zero bytes.
    fn quantize_into(&self, img: &ArrayView3<u8>, codes: &mut Vec<u8>) {
        codes.clear();
        codes.extend(img.iter().map(|&u| self.table[u as usize]));
        codes.extend([0; CODE_SLACK]);
    }

    /// The class scores (the last layer's accumulator) of one H×W×C image. With more than one
    /// thread in the current rayon pool, each large layer is split across them.
    pub fn scores(&self, img: ArrayView3<u8>) -> Result<Vec<i32>> {
        self.check_image(&img)?;
        Ok(self.forward(0, Start::Image(img), true))
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
        Ok(self.forward(start + 1, Start::Bits(&map.data), true))
    }

    /// Class scores of an N×H×W×C batch: images in parallel, or, for fewer images than
    /// threads, each image's layers split across the threads.
    pub fn run_batch(&self, images: ArrayView4<u8>) -> Result<Array2<i32>> {
        let n = images.len_of(Axis(0));
        if n == 0 {
            return Err(Error::invalid("the batch is empty"));
        }
        self.check_image(&images.index_axis(Axis(0), 0))?;
        let split = n < rayon::current_num_threads();
        let rows: Vec<Vec<i32>> = if split {
            images.axis_iter(Axis(0)).map(|img| self.forward(0, Start::Image(img), true)).collect()
        } else {
            (0..n)
                .into_par_iter()
                .map(|i| self.forward(0, Start::Image(images.index_axis(Axis(0), i)), false))
                .collect()
        };
        let c = self.classes();
        Ok(Array2::from_shape_vec((n, c), rows.concat()).expect("each image yields one score per class"))
    }

    /// The fast forward pass from layer `from` to the class scores: thresholds compared in the
    /// kernels, a max-pool after a compute layer fused into it, maps in this thread's scratch.
    fn forward(&self, from: usize, start: Start, split: bool) -> Vec<i32> {
        with_scratch(|s| {
            let Scratch { codes, maps, counts, sums } = s;
            let [cur, next] = maps;
            match start {
                Start::Image(img) => self.quantize_into(&img, codes),
                Start::Bits(b) => {
                    cur.clear();
                    cur.extend_from_slice(b);
                }
            }
            let mut i = from;
            loop {
                let layer = &self.layers[i];
                let (bases, group, step) = match &self.plans[i] {
                    Plan::Pool { size } => {
                        let s = layer.input;
                        pool_words(cur, s.height, s.width, s.channels.div_ceil(64), *size, next);
                        std::mem::swap(cur, next);
                        i += 1;
                        continue;
                    }
                    Plan::Int(p) => p.pixels.fused(),
                    Plan::Bin(p) => p.pixels.fused(),
                };
                let limits = match &self.plans[i] {
                    Plan::Int(p) => p.limits.as_deref(),
                    Plan::Bin(p) => p.limits.as_deref(),
                    Plan::Pool { .. } => unreachable!("handled above"),
                };
                let Some(limits) = limits else {
                    return self.last_layer(i, codes, cur, counts, sums);
                };
                let words = layer.output.channels.div_ceil(64);
                next.clear();
                next.resize(bases.len() / group * words, 0);
                let (codes, input): (&[u8], &[u64]) = (codes, cur);
                let run = |bases: &[usize], out: &mut [u64]| {
                    let out = BitsOut { limits, group, words, out };
                    match &self.plans[i] {
                        Plan::Int(p) => self.kernel.int_bits(&p.layer(), codes, bases, out),
                        Plan::Bin(p) => self.kernel.bin_bits(&p.layer(), input, bases, out),
                        Plan::Pool { .. } => unreachable!("handled above"),
                    }
                };
                split_pixels(bases, group, words, next, split, run);
                std::mem::swap(cur, next);
                i += step;
            }
        })
    }

    /// The last layer's accumulators (the class scores) over its single output pixel row(s).
    fn last_layer(&self, i: usize, codes: &[u8], cur: &[u64], counts: &mut Vec<u32>, sums: &mut Vec<i32>) -> Vec<i32> {
        match &self.plans[i] {
            Plan::Bin(p) => {
                counts.resize(p.pixels.all.len() * p.channels, 0);
                self.kernel.bin_counts(&p.layer(), cur, &p.pixels.all, counts);
                counts.iter().map(|&m| p.k as i32 - m as i32).collect()
            }
            Plan::Int(p) => {
                sums.resize(p.pixels.all.len() * p.channels, 0);
                self.kernel.int_acc(&p.layer(), codes, &p.pixels.all, sums);
                sums.iter().zip(p.corr.iter().cycle()).map(|(&s, &c)| s - c).collect()
            }
            Plan::Pool { .. } => unreachable!("a validated topology ends in a fully connected layer"),
        }
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
        let mut codes = Vec::new();
        self.quantize_into(&img, &mut codes);
        let s = self.input_shape();
        let input = Array3::from_shape_fn((s.height, s.width, s.channels), |(y, x, c)| {
            (codes[(y * s.width + x) * s.channels + c] as i32 - 128) as i8
        });
        let mut map: Option<PackedMap> = None;
        let mut layers = Vec::with_capacity(upto + 1);
        for (i, layer) in self.layers.iter().enumerate().take(upto + 1) {
            let keep = i >= keep_from;
            let (acc, bits) = match &self.plans[i] {
                Plan::Pool { size } => (None, map.as_ref().map(|m| m.max_pool(*size))),
                Plan::Int(p) => {
                    let mut sums = vec![0i32; p.pixels.all.len() * p.channels];
                    self.kernel.int_acc(&p.layer(), &codes, &p.pixels.all, &mut sums);
                    for (s, &c) in sums.iter_mut().zip(p.corr.iter().cycle()) {
                        *s -= c;
                    }
                    self.finish(layer, sums, self.model.layers[0].thresholds.as_deref())
                }
                Plan::Bin(p) => {
                    let input = map.as_ref().expect("a binary layer follows another layer");
                    let mut counts = vec![0u32; p.pixels.all.len() * p.channels];
                    self.kernel.bin_counts(&p.layer(), &input.data, &p.pixels.all, &mut counts);
                    let acc = counts.iter().map(|&m| p.k as i32 - m as i32).collect();
                    let ci = layer.compute_index.expect("compute layers have an index");
                    self.finish(layer, acc, self.model.layers[ci].thresholds.as_deref())
                }
            };
            layers.push(LayerOut { acc: if keep { acc } else { None }, bits: if keep { bits.clone() } else { None } });
            map = bits;
        }
        Ok(Trace { input, layers })
    }

    /// A compute layer's accumulators (H×W×C, raster order) as the trace keeps them, and its
    /// map where it has thresholds.
    fn finish(
        &self,
        layer: &Layer,
        acc: Vec<i32>,
        thresholds: Option<&[i32]>,
    ) -> (Option<Array3<i32>>, Option<PackedMap>) {
        let o = layer.output;
        let bits = thresholds.map(|t| {
            let mut m = PackedMap::zeros(o.height, o.width, o.channels);
            let wpp = m.words_per_pixel;
            for (a, w) in acc.chunks(o.channels).zip(m.data.chunks_mut(wpp)) {
                self.kernel.threshold(a, t, w);
            }
            m
        });
        let acc = Array3::from_shape_vec((o.height, o.width, o.channels), acc).expect("one value per output");
        (Some(acc), bits)
    }
}

impl IntPlan {
    fn layer(&self) -> IntLayer<'_> {
        IntLayer {
            row_offsets: &self.row_offsets,
            span: self.span,
            groups: self.groups,
            weights: &self.weights,
            channels: self.channels,
            padded: self.padded,
        }
    }
}

impl BinPlan {
    fn layer(&self) -> BinLayer<'_> {
        BinLayer { offsets: &self.offsets, weights: &self.packed, rows: self.channels }
    }
}

/// The first compute layer's plan: kernel rows of kernel·C codes (or one run of K for an fc),
/// read in groups of four taps; weights [row][group][channel][tap] as ±1 (0 past a run).
fn int_plan(l: &Layer, f: &FoldedLayer, pool: Option<usize>) -> IntPlan {
    let (inp, out) = (l.input, l.output);
    let (row_offsets, span) = match l.kind {
        LayerKind::Conv { kernel } => {
            ((0..kernel).map(|ky| ky * inp.width * inp.channels).collect(), kernel * inp.channels)
        }
        _ => (vec![0], l.fan_in()),
    };
    let groups = span.div_ceil(4);
    let (channels, padded) = (out.channels, out.channels.div_ceil(64) * 64);
    let mut weights = vec![0i8; row_offsets.len() * groups * padded * 4];
    let mut corr = vec![0i32; channels];
    for r in 0..row_offsets.len() {
        for tap in 0..span {
            let (g, t) = (tap / 4, tap % 4);
            for (c, cc) in corr.iter_mut().enumerate() {
                let w = f.weights.sign(c, r * span + tap);
                weights[((r * groups + g) * padded + c) * 4 + t] = w as i8;
                *cc += 128 * w;
            }
        }
    }
    let limits = f.thresholds.as_ref().map(|t| {
        let mut v: Vec<i32> = t
            .iter()
            .zip(&corr)
            .map(|(&t, &c)| (t as i64 + c as i64).clamp(i32::MIN as i64, i32::MAX as i64) as i32)
            .collect();
        v.resize(padded, i32::MAX);
        v
    });
    let pixels = match l.kind {
        LayerKind::Conv { .. } => Pixels::new(out, pool, |y, x| (y * inp.width + x) * inp.channels),
        _ => Pixels::new(out, None, |_, _| 0),
    };
    IntPlan { weights, row_offsets, span, groups, padded, channels, corr, limits, pixels }
}

/// A binary layer's plan: rows and window offsets in FINN's column order (window pixel, then
/// channel words), limits K − T.
fn bin_plan(l: &Layer, f: &FoldedLayer, pool: Option<usize>, kernel: &dyn Kernel) -> BinPlan {
    let (inp, out) = (l.input, l.output);
    let (c, wpp) = (inp.channels, inp.channels.div_ceil(64));
    // Window pixels: (ky, kx) for a conv, the whole input map for an fc.
    let window: Vec<usize> = match l.kind {
        LayerKind::Conv { kernel } => {
            (0..kernel).flat_map(|ky| (0..kernel).map(move |kx| (ky * inp.width + kx) * wpp)).collect()
        }
        _ => (0..inp.pixels()).map(|p| p * wpp).collect(),
    };
    let offsets: Vec<usize> = window.iter().flat_map(|&o| (0..wpp).map(move |w| o + w)).collect();
    let row_words = offsets.len();
    let mut rows = vec![0u64; out.channels * row_words];
    let (bytes, stride) = (f.weights.as_bytes(), f.weights.stride());
    for o in 0..out.channels {
        let row = &bytes[o * stride..(o + 1) * stride];
        for p in 0..window.len() {
            for w in 0..wpp {
                let n = (c - 64 * w).min(64);
                rows[o * row_words + p * wpp + w] = bit_run(row, p * c + 64 * w, n);
            }
        }
    }
    let packed = kernels::pack_rows(&rows, out.channels, row_words, kernel.lanes(), kernel.lane_bits());
    let k = l.fan_in();
    let limits =
        f.thresholds.as_ref().map(|t| t.iter().map(|&t| (k as i64 - t as i64).clamp(-1, k as i64) as i32).collect());
    let pixels = match l.kind {
        LayerKind::Conv { .. } => Pixels::new(out, pool, |y, x| (y * inp.width + x) * wpp),
        _ => Pixels::new(out, None, |_, _| 0),
    };
    BinPlan { rows, packed, offsets, channels: out.channels, k, limits, pixels }
}

/// `n` ≤ 64 bits of an LSB-first byte row from bit `start`, as the low bits of a word (a whole
/// word at a time: plan building must not cost a noticeable share of a run).
fn bit_run(row: &[u8], start: usize, n: usize) -> u64 {
    let first = start / 8;
    let mut buf = [0u8; 16];
    let avail = row.len().saturating_sub(first).min(16);
    buf[..avail].copy_from_slice(&row[first..first + avail]);
    let v = u128::from_le_bytes(buf) >> (start % 8);
    (v as u64) & if n == 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// Runs `run(bases, out)` over the output pixels, split across the current rayon pool's
/// threads when `split` asks and the layer is large enough: whole groups of `group` pixels
/// (one output pixel of `words` words each) per thread.
fn split_pixels(
    bases: &[usize],
    group: usize,
    words: usize,
    out: &mut [u64],
    split: bool,
    run: impl Fn(&[usize], &mut [u64]) + Sync,
) {
    let outputs = bases.len() / group;
    let threads = if split { rayon::current_num_threads() } else { 1 };
    if threads < 2 || outputs < 2 * MIN_SPLIT_PIXELS {
        return run(bases, out);
    }
    let per = outputs.div_ceil(threads.min(outputs / MIN_SPLIT_PIXELS));
    bases.par_chunks(per * group).zip(out.par_chunks_mut(per * words)).for_each(|(b, o)| run(b, o));
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
