//! MVAU (MVAU_hls): the matrix-vector-activation unit (finn.md §1, §4, §6).
//!
//! Function: each input vector of MW values times the MH×MW ±1 weight matrix (XNOR-popcount
//! when the input is BINARY, int × ±1 otherwise), then thresholds (out = ActVal + #{T ≤ acc})
//! or the accumulator itself. Folding: row r goes to PE r mod PE at nf = r div PE; weight
//! address nf·SF+sf holds columns sf·SIMD+i. Execution reads the weights and thresholds from
//! these per-PE memories. Timing: FINN's loop of NF·SF iterations per vector, reading an input
//! word only at nf = 0 (kept in the input buffer and reused), writing a PE-lane word at
//! sf = SF−1. Cost: FINN's cycle, LUT, BRAM, URAM and DSP estimates
//! (`matrixvectoractivation.py`, `hls/matrixvectoractivation_hls.py`), with the weight and
//! accumulator types FINN's `step_minimize_bit_width` gives them.
//!
//! Two attributes beyond FINN's: the rows BNN-PYNQ pads the last layer to ([`Mvau::mh_pad`];
//! the padded rows cost their loop iterations and emit zero lanes), and `dsp_xnor`, BinaryCoP's
//! mapping of the XNORs onto DSP48 slices ([`crate::dsp_xnor`]).

use crate::clock::{Core, Process};
use crate::cost::{bram_table, log2, Resources};
use crate::dot;
use crate::fifo::Fifo;
use crate::stream::{get_bits, or_bits, or_copy, words_for, DType};
use crate::Error;

/// A bit matrix, rows LSB-first in u64 words (bit j of row r: word j/64, bit j%64). 1 = +1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitRows {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<u64>,
}

impl BitRows {
    pub fn zeros(rows: usize, cols: usize) -> BitRows {
        BitRows { rows, cols, data: vec![0; rows * words_for(cols)] }
    }
    pub fn wpr(&self) -> usize {
        words_for(self.cols)
    }
    pub fn row(&self, r: usize) -> &[u64] {
        let w = self.wpr();
        &self.data[r * w..(r + 1) * w]
    }
    pub fn get(&self, r: usize, c: usize) -> bool {
        self.row(r)[c / 64] >> (c % 64) & 1 == 1
    }
    pub fn set(&mut self, r: usize, c: usize, v: bool) {
        let w = self.wpr();
        let word = &mut self.data[r * w + c / 64];
        if v {
            *word |= 1 << (c % 64);
        } else {
            *word &= !(1 << (c % 64));
        }
    }
}

/// Scratch for [`Mvau::output_words`]: one accumulator per (pe, nf) row.
#[derive(Clone, Debug, Default)]
pub struct RowAccs {
    mism: Vec<u32>,
    sums: Vec<i32>,
}

/// What follows the accumulator.
#[derive(Clone, Debug, PartialEq)]
pub enum Activation {
    /// out = act_val + #{i : T[row][i] ≤ acc} (FINN's comp::less_equal).
    Thresholds { thresholds: Vec<Vec<i64>>, act_val: i64, out: DType },
    /// noActivation: the accumulator, as `out`.
    Acc { out: DType },
}

/// The unfolded layer.
#[derive(Clone, Debug, PartialEq)]
pub struct MvauSpec {
    pub mw: usize,
    pub mh: usize,
    /// Input vectors per frame (the product of numInputVectors).
    pub vectors: usize,
    /// BINARY input means XNOR mode; an integer type is multiplied by the ±1 weights.
    pub input: DType,
    pub weights: BitRows,
    pub activation: Activation,
}

/// The folding and implementation attributes (FINN node attributes, FINN's defaults:
/// `matrixvectoractivation.py:80-125`; `resType` is `lut` as FINN's converters set it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MvauConfig {
    pub pe: usize,
    pub simd: usize,
    pub mem_mode: String,
    pub ram_style: String,
    pub ram_style_thresholds: String,
    pub res_type: String,
    /// FINN's `runtime_writeable_weights`: the weights keep their 1-bit type (minimize_bit_width
    /// leaves them alone) and can be rewritten through AXI-lite.
    pub runtime_writeable_weights: bool,
    /// BinaryCoP's DSP bit-packing of this MVAU's XNORs (not a FINN attribute).
    pub dsp_xnor: bool,
}

impl Default for MvauConfig {
    fn default() -> Self {
        MvauConfig {
            pe: 1,
            simd: 1,
            mem_mode: "internal_decoupled".into(),
            ram_style: "auto".into(),
            ram_style_thresholds: "auto".into(),
            res_type: "lut".into(),
            runtime_writeable_weights: false,
            dsp_xnor: false,
        }
    }
}

/// FINN's accumulator type for a layer (`matrixvectoractivation.py:456-535`,
/// `minimize_accumulator_width`): the range of x·W over the input type, per output row, with
/// the ±1 weights (`calculate_matvec_accumulator_range`, qonnx fd61cfe `util/basic.py:211`);
/// thresholds outside it are clipped into it (line 490), so they never widen it. UINTn if it
/// never goes negative, else INTn. In XNOR mode the
/// input is BINARY {0, 1}, so a row spans [−#(−1 weights), #(+1 weights)].
pub fn finn_accumulator(spec: &MvauSpec) -> DType {
    let (imin, imax) = (spec.input.min(), spec.input.max());
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for r in 0..spec.mh {
        let pos = spec.weights.row(r).iter().map(|w| w.count_ones() as i64).sum::<i64>();
        let neg = spec.mw as i64 - pos;
        hi = hi.max(pos * imax - neg * imin);
        lo = lo.min(pos * imin - neg * imax);
    }
    if lo >= 0 {
        DType::new((log2((hi + 1) as f64)).ceil().max(1.0) as u32, false)
    } else {
        let m = (-lo).max(1 + hi);
        DType::new(log2(m as f64).ceil() as u32 + 1, true)
    }
}

/// A folded MVAU: its memories as FINN lays them out, and its execution state.
#[derive(Clone, Debug)]
pub struct Mvau {
    pub mw: usize,
    pub mh: usize,
    /// Rows the loop runs over: MH, or MH padded as BNN-PYNQ pads its last layer.
    pub mh_pad: usize,
    /// The weight type FINN stores: BINARY in XNOR mode; for an integer input, INT2 after
    /// `minimize_weight_bit_width` (±1 needs two signed bits, `get_smallest_possible(-2)`), or
    /// the 1-bit bipolar type with runtime-writable weights.
    pub wdt: DType,
    /// FINN's accumulator type after `minimize_accumulator_width` (for its estimates).
    pub finn_acc: DType,
    pub vectors: usize,
    pub input: DType,
    pub cfg: MvauConfig,
    pub acc: DType,
    pub out: DType,
    pub act_val: i64,
    pub steps: usize,
    /// Weight memory: PE × (NF·SF) addresses × SIMD bits (`ws` u64s each).
    pub wmem: Vec<u64>,
    /// Threshold memory: PE × NF × steps.
    pub tmem: Vec<i64>,
    /// Per (pe, nf): the MW weight bits of one row, gathered from the SF addresses.
    rows: Vec<u64>,
    /// For integer inputs, per input column then per (pe, nf) row: 0 for +1, −1 for −1
    /// (x ^ m − m negates where m = −1); column-major so one input lane meets every row at once.
    cols_pm: Vec<i32>,
}

impl Mvau {
    pub fn new(name: &str, spec: &MvauSpec, cfg: MvauConfig) -> Result<Mvau, Error> {
        let (mw, mh, pe, simd) = (spec.mw, spec.mh, cfg.pe, cfg.simd);
        if pe == 0 || simd == 0 {
            return Err(Error::node(name, "PE and SIMD must be at least 1"));
        }
        if mw % simd != 0 {
            return Err(Error::node(name, format!("SIMD {simd} does not divide MW {mw} (MW % SIMD must be 0)")));
        }
        if mh % pe != 0 {
            return Err(Error::node(name, format!("PE {pe} does not divide MH {mh} (MH % PE must be 0)")));
        }
        if spec.weights.rows != mh || spec.weights.cols != mw {
            return Err(Error::node(name, "weight matrix does not match MH×MW"));
        }
        let (nf, sf) = (mh / pe, mw / simd);
        let ws = words_for(simd);
        let mut wmem = vec![0u64; pe * nf * sf * ws];
        for p in 0..pe {
            for n in 0..nf {
                let r = n * pe + p;
                for s in 0..sf {
                    let a = (p * nf * sf + n * sf + s) * ws;
                    for i in 0..simd {
                        if spec.weights.get(r, s * simd + i) {
                            or_bits(&mut wmem[a..a + ws], i, 1, 1);
                        }
                    }
                }
            }
        }
        let m = spec.input.min().unsigned_abs().max(spec.input.max().unsigned_abs()) as i64;
        let (lo, hi) = if spec.input == DType::BINARY { (0, mw as i64) } else { (-m * mw as i64, m * mw as i64) };
        let (acc, out, act_val, steps, tmem) = match &spec.activation {
            Activation::Thresholds { thresholds, act_val, out } => {
                let steps = thresholds.first().map_or(0, Vec::len);
                if thresholds.len() != mh || thresholds.iter().any(|t| t.len() != steps) || steps == 0 {
                    return Err(Error::node(name, "thresholds must be MH rows of equal, non-zero length"));
                }
                let (tlo, thi) = thresholds.iter().flatten().fold((lo, hi), |(a, b), &t| (a.min(t), b.max(t)));
                let mut tmem = vec![0i64; pe * nf * steps];
                for p in 0..pe {
                    for n in 0..nf {
                        let at = (p * nf + n) * steps;
                        tmem[at..at + steps].copy_from_slice(&thresholds[n * pe + p]);
                    }
                }
                (DType::covering(tlo, thi), *out, *act_val, steps, tmem)
            }
            Activation::Acc { out } => (DType::covering(lo, hi), *out, 0, 0, Vec::new()),
        };
        let wdt = if spec.input == DType::BINARY || cfg.runtime_writeable_weights {
            DType::BINARY
        } else {
            DType::new(2, true)
        };
        if cfg.dsp_xnor && spec.input != DType::BINARY {
            return Err(Error::node(name, "dsp_xnor packs XNORs; this MVAU's input is not binary"));
        }
        let finn_acc = finn_accumulator(spec);
        let mut m = Mvau {
            mw,
            mh,
            mh_pad: mh,
            wdt,
            finn_acc,
            vectors: spec.vectors,
            input: spec.input,
            cfg,
            acc,
            out,
            act_val,
            steps,
            wmem,
            tmem,
            rows: Vec::new(),
            cols_pm: Vec::new(),
        };
        m.gather_rows();
        Ok(m)
    }

    pub fn nf(&self) -> usize {
        self.mh / self.cfg.pe
    }
    /// Folds the loop runs over, padded rows included.
    pub fn nf_pad(&self) -> usize {
        self.mh_pad / self.cfg.pe
    }
    /// Pads the rows to a multiple of `rows` (BNN-PYNQ's last layer); the padded rows emit 0.
    pub fn pad_rows_to(&mut self, rows: usize) {
        let to = rows.max(self.cfg.pe);
        self.mh_pad = self.mh.div_ceil(to) * to;
    }
    pub fn sf(&self) -> usize {
        self.mw / self.cfg.simd
    }
    /// Weight memory depth per PE (FINN's WMEM / PE... FINN calls NF·SF the WMEM).
    pub fn wmem_depth(&self) -> usize {
        self.nf() * self.sf()
    }
    /// Threshold memory depth per PE (TMEM), 0 without activation.
    pub fn tmem_depth(&self) -> usize {
        if self.steps == 0 {
            0
        } else {
            self.nf()
        }
    }
    pub fn in_bits(&self) -> usize {
        self.cfg.simd * self.input.bits as usize
    }
    pub fn out_bits(&self) -> usize {
        self.cfg.pe * self.out.bits as usize
    }
    /// Weight stream width: PE·SIMD·weight bits.
    pub fn weight_bits(&self) -> usize {
        self.cfg.pe * self.cfg.simd * self.wdt.bits as usize
    }
    /// A weight's stored value: its ±1 in the weight type (BINARY: 1 for +1, 0 for −1; INT2:
    /// two's complement, so −1 is 0b11).
    pub fn encode_weight(&self, plus: bool) -> u64 {
        if self.wdt == DType::BINARY {
            plus as u64
        } else {
            self.wdt.encode(if plus { 1 } else { -1 })
        }
    }
    /// One weight memory word: SIMD bits of PE `p` at address `a`.
    pub fn weight_word(&self, p: usize, a: usize) -> &[u64] {
        let ws = words_for(self.cfg.simd);
        let at = (p * self.wmem_depth() + a) * ws;
        &self.wmem[at..at + ws]
    }
    /// Thresholds of PE `p` at TMEM address `nf`.
    pub fn thresholds(&self, p: usize, nf: usize) -> &[i64] {
        let at = (p * self.nf() + nf) * self.steps;
        &self.tmem[at..at + self.steps]
    }

    /// The execution view of the memories: per (pe, nf) the SF words of one row back to back
    /// (and the same signs column by column for integer inputs).
    fn gather_rows(&mut self) {
        let (pe, nf, sf, simd) = (self.cfg.pe, self.nf(), self.sf(), self.cfg.simd);
        let rw = words_for(self.mw);
        let mut rows = vec![0u64; pe * nf * rw];
        let mut pm = if self.input == DType::BINARY { Vec::new() } else { vec![0i32; pe * nf * self.mw] };
        for p in 0..pe {
            for n in 0..nf {
                let at = (p * nf + n) * rw;
                for s in 0..sf {
                    let word = self.weight_word(p, n * sf + s).to_vec();
                    or_copy(&mut rows[at..at + rw], s * simd, &word, simd);
                    if !pm.is_empty() {
                        for i in 0..simd {
                            pm[(s * simd + i) * pe * nf + p * nf + n] = if get_bits(&word, i, 1) == 1 { 0 } else { -1 };
                        }
                    }
                }
            }
        }
        self.rows = rows;
        self.cols_pm = pm;
    }

    /// The accumulator of PE `p` for fold `nf` on a full input vector (`bits`: MW binary values
    /// packed; `ints`: MW integer values).
    #[inline]
    pub fn accumulate(&self, p: usize, nf: usize, bits: &[u64], ints: &[i32]) -> i64 {
        if self.input == DType::BINARY {
            let rw = words_for(self.mw);
            let row = &self.rows[(p * self.nf() + nf) * rw..][..rw];
            let mism: u32 = row.iter().zip(bits).map(|(w, x)| (w ^ x).count_ones()).sum();
            self.mw as i64 - mism as i64
        } else {
            let rows = self.cfg.pe * self.nf();
            let col = self.cols_pm.iter().skip(p * self.nf() + nf).step_by(rows);
            col.zip(ints).map(|(m, x)| (x ^ m) - m).sum::<i32>() as i64
        }
    }

    /// The output lane value for an accumulator.
    #[inline]
    pub fn activate(&self, p: usize, nf: usize, acc: i64) -> i64 {
        if self.steps == 0 {
            acc
        } else if self.steps == 1 {
            self.act_val + (self.tmem[p * self.nf() + nf] <= acc) as i64
        } else {
            self.act_val + self.thresholds(p, nf).iter().filter(|&&t| t <= acc).count() as i64
        }
    }

    /// Computes the output word of fold `nf` into `out` (zeroed here).
    pub fn output_word(&self, nf: usize, bits: &[u64], ints: &[i32], out: &mut [u64]) {
        out.fill(0);
        let ob = self.out.bits as usize;
        for p in 0..self.cfg.pe {
            let v = self.activate(p, nf, self.accumulate(p, nf, bits, ints));
            or_bits(out, p * ob, ob, self.out.encode(v));
        }
    }

    /// Every output word of one input vector, folds 0..NF (padded folds included) back to
    /// back in `out`: the whole layer's arithmetic at once ([`crate::dot`]), then thresholds.
    /// Equals [`Mvau::output_word`] fold by fold.
    pub fn output_words(&self, bits: &[u64], ints: &[i32], accs: &mut RowAccs, out: &mut [u64]) {
        let (pe, nf) = (self.cfg.pe, self.nf());
        let binary = self.input == DType::BINARY;
        if binary {
            accs.mism.clear();
            accs.mism.resize(pe * nf, 0);
            dot::mismatches(&self.rows, bits, &mut accs.mism);
        } else {
            accs.sums.clear();
            accs.sums.resize(pe * nf, 0);
            dot::signed_sums(&self.cols_pm, ints, &mut accs.sums);
        }
        out.fill(0);
        let (wo, ob) = (words_for(self.out_bits()), self.out.bits as usize);
        let acc = |i: usize| if binary { self.mw as i64 - accs.mism[i] as i64 } else { accs.sums[i] as i64 };
        for (n, word) in out.chunks_exact_mut(wo).take(nf).enumerate() {
            if self.steps == 1 && self.act_val == 0 && ob == 1 {
                // One threshold to a BINARY lane (every hidden layer): the lane is acc ≥ T.
                for p in 0..pe {
                    let bit = (self.tmem[p * nf + n] <= acc(p * nf + n)) as u64;
                    word[p / 64] |= bit << (p % 64);
                }
                continue;
            }
            for p in 0..pe {
                or_bits(word, p * ob, ob, self.out.encode(self.activate(p, n, acc(p * nf + n))));
            }
        }
    }

    // --- cost -------------------------------------------------------------------------------

    /// FINN's expected cycles per frame: NF·SF·vectors (`matrixvectoractivation.py:445-454`),
    /// over the padded rows where there are any.
    pub fn exp_cycles(&self) -> u64 {
        (self.nf_pad() * self.sf() * self.vectors) as u64
    }

    /// FINN's `node_res_estimation`.
    pub fn finn_estimate(&self) -> Resources {
        Resources { lut: self.lut(), bram18: self.bram18(), uram: self.uram(), dsp: self.dsp() }
    }

    fn wmem_embedded_small(&self) -> bool {
        self.cfg.mem_mode == "internal_embedded" && self.wmem_depth() <= 128
    }

    /// FINN's LUT estimate, the FINN-R model (`hls/matrixvectoractivation_hls.py:58-119`):
    /// 300 + 1.1·PE·(mult + adder + acc + thr + cmp) + LUTRAM weights.
    pub fn lut(&self) -> u64 {
        let (p, q) = (self.cfg.pe as f64, self.cfg.simd as f64);
        let w = self.wdt.bits as f64;
        let a = self.input.bits as f64;
        let wmem = self.wmem_depth() as f64;
        let c2 = if (self.cfg.mem_mode == "internal_decoupled" && self.cfg.ram_style == "distributed")
            || self.wmem_embedded_small()
        {
            p * q * w * (wmem / 64.0).ceil()
        } else {
            0.0
        };
        let mult = if self.cfg.res_type == "dsp" { 0.0 } else { q * (2.0 * ((w + a) / 6.0).ceil() - 1.0) * (w + a) };
        let adder = (w + a) * (2.0 * q - 1.0);
        let signed = if self.input.signed { 1.0 } else { 0.0 };
        let alpha = log2(self.mw as f64) + w + a - 1.0 - signed;
        let acc_bits = (self.finn_acc.bits as f64).min((alpha + log2(1.0 + 2f64.powf(-alpha)) + 1.0).ceil());
        let (thr, cmp) = if self.steps > 0 && self.cfg.ram_style_thresholds == "distributed" {
            let levels = 2f64.powf(self.out.bits as f64) - 1.0;
            (levels * acc_bits * (self.tmem_depth() as f64 / 64.0).ceil(), levels * acc_bits)
        } else {
            (0.0, 0.0)
        };
        (300.0 + 1.1 * (p * (mult + adder + acc_bits + thr + cmp)) + c2) as u64
    }

    /// FINN's BRAM18 estimate for the weight memory (`matrixvectoractivation.py:378-417`):
    /// the SDP RAMB18 table on depth WMEM and width PE·SIMD·W.
    pub fn bram18(&self) -> u64 {
        if (self.cfg.mem_mode == "internal_decoupled" && matches!(self.cfg.ram_style.as_str(), "distributed" | "ultra"))
            || self.wmem_embedded_small()
            || self.cfg.mem_mode == "external"
        {
            return 0;
        }
        bram_table(self.wmem_depth() as u64, self.weight_bits() as u64)
    }

    /// FINN's URAM estimate (`matrixvectoractivation.py:357-376`).
    pub fn uram(&self) -> u64 {
        if (self.cfg.mem_mode == "internal_decoupled" && self.cfg.ram_style != "ultra")
            || self.wmem_embedded_small()
            || self.cfg.mem_mode == "external"
        {
            return 0;
        }
        (self.weight_bits() as u64).div_ceil(72) * (self.wmem_depth() as u64).div_ceil(4096)
    }

    /// FINN's DSP estimate (`hls/matrixvectoractivation_hls.py:121-134`): PE·SIMD·⌈(W+A)/48⌉
    /// with resType dsp, else none.
    pub fn dsp(&self) -> u64 {
        if self.cfg.res_type != "dsp" {
            return 0;
        }
        let wa = (self.wdt.bits + self.input.bits) as u64;
        (self.cfg.pe * self.cfg.simd) as u64 * wa.div_ceil(48)
    }

    pub fn process(&self, timing: bool) -> MvauProc<'_> {
        let binary = self.input == DType::BINARY;
        MvauProc {
            m: self,
            core: Core::new(timing),
            nf: 0,
            sf: 0,
            word: vec![0; words_for(self.in_bits())],
            bits: vec![0; if binary { words_for(self.mw) } else { 0 }],
            ints: vec![0; if binary { 0 } else { self.mw }],
            accs: RowAccs::default(),
            outs: vec![0; self.nf_pad() * words_for(self.out_bits())],
        }
    }
}

/// The MVAU loop with its input buffer.
pub struct MvauProc<'a> {
    m: &'a Mvau,
    core: Core,
    nf: usize,
    sf: usize,
    word: Vec<u64>,
    bits: Vec<u64>,
    ints: Vec<i32>,
    accs: RowAccs,
    /// The output words of the current vector, every fold (computed when its last input word
    /// arrives, written one fold per NF iteration as the loop does).
    outs: Vec<u64>,
}

impl MvauProc<'_> {
    fn store_input(&mut self) {
        let simd = self.m.cfg.simd;
        if self.m.input == DType::BINARY {
            if self.sf == 0 {
                self.bits.fill(0);
            }
            if simd <= 64 {
                or_bits(&mut self.bits, self.sf * simd, simd, self.word[0]);
            } else {
                or_copy(&mut self.bits, self.sf * simd, &self.word, simd);
            }
        } else {
            let ib = self.m.input.bits as usize;
            for i in 0..simd {
                self.ints[self.sf * simd + i] = self.m.input.decode(get_bits(&self.word, i * ib, ib)) as i32;
            }
        }
    }
}

impl Process for MvauProc<'_> {
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        let (Some(inp), Some(out)) = (inp, out) else { return false };
        let (nfs, sfs) = (self.m.nf_pad(), self.m.sf());
        let wo = words_for(self.m.out_bits());
        let mut moved = false;
        loop {
            if self.nf == 0 {
                let write = self.sf + 1 == sfs;
                if !inp.can_read() || (write && !out.can_write()) {
                    break;
                }
                let t = self.core.op(Some(&*inp), write.then_some(&*out), 0, 0, 0);
                inp.pop(&mut self.word, t);
                self.store_input();
                if write {
                    self.m.output_words(&self.bits, &self.ints, &mut self.accs, &mut self.outs);
                    out.push(&self.outs[..wo], t);
                }
                self.sf += 1;
                if self.sf == sfs {
                    self.sf = 0;
                    self.nf = if nfs > 1 { 1 } else { 0 };
                }
            } else {
                if !out.can_write() {
                    break;
                }
                let t = self.core.op(None, Some(&*out), (sfs - 1) as u64, 0, 0);
                out.push(&self.outs[self.nf * wo..(self.nf + 1) * wo], t);
                self.nf = if self.nf + 1 == nfs { 0 } else { self.nf + 1 };
            }
            moved = true;
        }
        moved
    }
    fn core(&self) -> &Core {
        &self.core
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mw: usize, mh: usize, input: DType, seed: u64) -> MvauSpec {
        let mut w = BitRows::zeros(mh, mw);
        let mut s = seed;
        for r in 0..mh {
            for c in 0..mw {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                w.set(r, c, s >> 63 == 1);
            }
        }
        let thresholds = (0..mh).map(|r| vec![(r % 7) as i64 + mw as i64 / 2 - 3]).collect();
        MvauSpec {
            mw,
            mh,
            vectors: 1,
            input,
            weights: w,
            activation: Activation::Thresholds { thresholds, act_val: 0, out: DType::BINARY },
        }
    }

    #[test]
    fn memory_layout_is_finns() {
        // 4 rows × 6 columns, PE 2, SIMD 3: row r → PE r%2, nf r/2; address nf·2+sf.
        let mut w = BitRows::zeros(4, 6);
        for (r, c) in [(0, 0), (1, 4), (2, 2), (3, 5), (3, 3)] {
            w.set(r, c, true);
        }
        let sp = MvauSpec {
            mw: 6,
            mh: 4,
            vectors: 1,
            input: DType::BINARY,
            weights: w,
            activation: Activation::Acc { out: DType::new(3, false) },
        };
        let m = Mvau::new("MVAU_hls_0", &sp, MvauConfig { pe: 2, simd: 3, ..Default::default() }).unwrap();
        assert_eq!(m.wmem_depth(), 4);
        // PE 0 holds rows 0 (nf 0) and 2 (nf 1); PE 1 rows 1 and 3.
        assert_eq!(m.weight_word(0, 0), [0b001]); // row 0, cols 0..3
        assert_eq!(m.weight_word(0, 1), [0b000]); // row 0, cols 3..6
        assert_eq!(m.weight_word(0, 2), [0b100]); // row 2, col 2
        assert_eq!(m.weight_word(1, 1), [0b010]); // row 1, col 4
        assert_eq!(m.weight_word(1, 3), [0b101]); // row 3, cols 3 and 5
    }

    #[test]
    fn folded_output_equals_the_matrix_product_for_any_folding() {
        let sp = spec(12, 6, DType::BINARY, 3);
        let x: Vec<bool> = (0..12).map(|i| i % 3 != 1).collect();
        let want: Vec<i64> = (0..6)
            .map(|r| {
                let p = (0..12).filter(|&c| sp.weights.get(r, c) == x[c]).count() as i64;
                let Activation::Thresholds { thresholds, .. } = &sp.activation else { unreachable!() };
                (p >= thresholds[r][0]) as i64
            })
            .collect();
        for (pe, simd) in [(1, 1), (2, 3), (3, 4), (6, 12), (1, 6)] {
            let m = Mvau::new("MVAU_hls_0", &sp, MvauConfig { pe, simd, ..Default::default() }).unwrap();
            let mut bits = vec![0u64];
            for (c, &b) in x.iter().enumerate() {
                or_bits(&mut bits, c, 1, b as u64);
            }
            let mut got = Vec::new();
            let mut w = vec![0u64];
            for nf in 0..m.nf() {
                m.output_word(nf, &bits, &[], &mut w);
                got.extend((0..pe).map(|p| get_bits(&w, p, 1) as i64));
            }
            assert_eq!(got, want, "PE {pe} SIMD {simd}");
            let mut all = vec![0u64; m.nf()];
            m.output_words(&bits, &[], &mut RowAccs::default(), &mut all);
            let folds: Vec<u64> = (0..m.nf())
                .map(|nf| {
                    m.output_word(nf, &bits, &[], &mut w);
                    w[0]
                })
                .collect();
            assert_eq!(all, folds, "whole vector at once, PE {pe} SIMD {simd}");
        }
    }

    #[test]
    fn bad_foldings_name_the_node() {
        let sp = spec(12, 6, DType::BINARY, 1);
        let e = Mvau::new("MVAU_hls_4", &sp, MvauConfig { pe: 4, simd: 3, ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("MVAU_hls_4") && e.to_string().contains("MH % PE"), "{e}");
        let e = Mvau::new("MVAU_hls_4", &sp, MvauConfig { pe: 1, simd: 5, ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("MW % SIMD"), "{e}");
        assert!(Mvau::new("x", &sp, MvauConfig { pe: 0, simd: 1, ..Default::default() }).is_err());
    }
}
