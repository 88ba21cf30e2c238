//! Thresholding (Thresholding_rtl): a standalone multi-threshold, here the input quantizer
//! (UINT8 → INT8 with 255 thresholds and ActVal −128, finn.md §2).
//!
//! Function: lane value = ActVal + #{i : T[c][i] ≤ x}. Folding: PE channels per word; threshold
//! memory PE × C/PE × steps, [p][nf] holding channel nf·PE+p. Timing: one word in and one out
//! per cycle, C/PE words per pixel. Cost: FINN's cycles and Thresholding_rtl's memory estimate.

use crate::clock::{Core, Process};
use crate::cost::{least_waste_primitive, Resources};
use crate::fifo::Fifo;
use crate::stream::{get_bits, or_bits, words_for, DType};
use crate::Error;

#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdingSpec {
    pub channels: usize,
    /// Pixels per frame.
    pub vectors: usize,
    /// One row of ascending thresholds per channel, or a single row for all channels.
    pub thresholds: Vec<Vec<i64>>,
    pub act_val: i64,
    pub input: DType,
    pub out: DType,
}

#[derive(Clone, Debug)]
pub struct Thresholding {
    pub channels: usize,
    pub vectors: usize,
    pub pe: usize,
    pub input: DType,
    pub out: DType,
    pub act_val: i64,
    pub steps: usize,
    /// PE × C/PE × steps.
    pub tmem: Vec<i64>,
    /// Per channel fold and lane, the output for every input value (inputs of ≤ 16 bits).
    table: Vec<i64>,
}

impl Thresholding {
    pub fn new(name: &str, spec: &ThresholdingSpec, pe: usize) -> Result<Thresholding, Error> {
        let c = spec.channels;
        if pe == 0 || !c.is_multiple_of(pe) {
            return Err(Error::node(
                name,
                format!("PE {pe} does not divide the {c} channels (NumChannels % PE must be 0)"),
            ));
        }
        if spec.input.bits > 16 {
            return Err(Error::node(name, "inputs wider than 16 bits are not supported"));
        }
        let steps = spec.thresholds.first().map_or(0, Vec::len);
        let rows = spec.thresholds.len();
        if steps == 0 || !(rows == 1 || rows == c) || spec.thresholds.iter().any(|t| t.len() != steps) {
            return Err(Error::node(name, "thresholds must be one row per channel (or one global row)"));
        }
        let nf = c / pe;
        let mut tmem = vec![0i64; c * steps];
        for p in 0..pe {
            for n in 0..nf {
                let row = &spec.thresholds[if rows == 1 { 0 } else { n * pe + p }];
                tmem[(p * nf + n) * steps..][..steps].copy_from_slice(row);
            }
        }
        let mut t = Thresholding {
            channels: c,
            vectors: spec.vectors,
            pe,
            input: spec.input,
            out: spec.out,
            act_val: spec.act_val,
            steps,
            tmem,
            table: Vec::new(),
        };
        let span = (t.input.max() - t.input.min() + 1) as usize;
        let mut table = vec![0i64; c * span];
        for n in 0..nf {
            for p in 0..pe {
                for v in 0..span {
                    table[(n * pe + p) * span + v] = t.activate(p, n, t.input.min() + v as i64);
                }
            }
        }
        t.table = table;
        Ok(t)
    }

    pub fn thresholds(&self, p: usize, nf: usize) -> &[i64] {
        &self.tmem[(p * (self.channels / self.pe) + nf) * self.steps..][..self.steps]
    }
    /// The definition: ActVal + #{T ≤ x}, read from the memory.
    pub fn activate(&self, p: usize, nf: usize, x: i64) -> i64 {
        self.act_val + self.thresholds(p, nf).iter().filter(|&&t| t <= x).count() as i64
    }
    pub fn in_bits(&self) -> usize {
        self.pe * self.input.bits as usize
    }
    pub fn out_bits(&self) -> usize {
        self.pe * self.out.bits as usize
    }
    /// FINN: (C/PE)·vectors.
    pub fn exp_cycles(&self) -> u64 {
        (self.channels / self.pe * self.vectors) as u64
    }

    /// FINN's threshold type after `minimize_accumulator_width` (`thresholding.py:134-158`): the
    /// smallest type holding the input range and every threshold.
    pub fn threshold_type(&self) -> DType {
        let (tlo, thi) = self.tmem.iter().fold((self.input.min(), self.input.max()), |(a, b), &t| (a.min(t), b.max(t)));
        if tlo < 0 {
            DType::covering(tlo.min(-thi - 1), thi)
        } else {
            DType::covering(0, thi)
        }
    }

    /// Thresholding_rtl's estimate (`rtl/thresholding_rtl.py:81-146`): per PE, one memory per
    /// output bit x of C/PE·2^x thresholds of the threshold type's width, each on its least-waste
    /// primitive; LUTRAMs count as LUTs.
    pub fn finn_estimate(&self) -> Resources {
        let wbits = self.threshold_type().bits as u64;
        let cf = (self.channels / self.pe) as u64;
        let mut r = Resources::default();
        for x in 0..self.out.bits {
            let (kind, count) = least_waste_primitive(wbits, cf << x);
            let n = self.pe as u64 * count;
            match kind {
                "LUTRAM" => r.lut += n,
                "BRAM" => r.bram18 += n,
                _ => r.uram += n,
            }
        }
        r
    }

    /// Output word for channel fold `nf`.
    pub fn output_word(&self, nf: usize, inp: &[u64], out: &mut [u64]) {
        out.fill(0);
        let (ib, ob) = (self.input.bits as usize, self.out.bits as usize);
        let span = (self.input.max() - self.input.min() + 1) as usize;
        for p in 0..self.pe {
            let x = self.input.decode(get_bits(inp, p * ib, ib));
            let v = self.table[(nf * self.pe + p) * span + (x - self.input.min()) as usize];
            or_bits(out, p * ob, ob, self.out.encode(v));
        }
    }

    pub fn process(&self, timing: bool) -> ThresholdingProc<'_> {
        ThresholdingProc {
            t: self,
            core: Core::new(timing),
            nf: 0,
            word: vec![0; words_for(self.in_bits())],
            outw: vec![0; words_for(self.out_bits())],
        }
    }
}

pub struct ThresholdingProc<'a> {
    t: &'a Thresholding,
    core: Core,
    nf: usize,
    word: Vec<u64>,
    outw: Vec<u64>,
}

impl Process for ThresholdingProc<'_> {
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        let (Some(inp), Some(out)) = (inp, out) else { return false };
        let mut moved = false;
        while inp.can_read() && out.can_write() {
            let t = self.core.op(Some(&*inp), Some(&*out), 0, 0, 0);
            inp.pop(&mut self.word, t);
            self.t.output_word(self.nf, &self.word, &mut self.outw);
            out.push(&self.outw, t);
            self.nf = if self.nf + 1 == self.t.channels / self.t.pe { 0 } else { self.nf + 1 };
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

    #[test]
    fn counts_thresholds_at_or_below_the_input() {
        let spec = ThresholdingSpec {
            channels: 2,
            vectors: 1,
            thresholds: vec![vec![10, 20, 30], vec![0, 1, 2]],
            act_val: -2,
            input: DType::UINT8,
            out: DType::new(3, true),
        };
        let t = Thresholding::new("Thresholding_rtl_0", &spec, 2).unwrap();
        let mut out = [0u64];
        // lane 0 = 20 (two thresholds ≤ 20 → 0), lane 1 = 1 (two → 0)... then 9 and 255.
        t.output_word(0, &[20 | 1 << 8], &mut out);
        assert_eq!(out[0], 0);
        t.output_word(0, &[9 | 255 << 8], &mut out);
        assert_eq!(DType::new(3, true).decode(out[0] & 7), -2);
        assert_eq!(DType::new(3, true).decode(out[0] >> 3 & 7), 1);
        assert!(Thresholding::new("Thresholding_rtl_0", &spec, 3)
            .unwrap_err()
            .to_string()
            .contains("Thresholding_rtl_0"));
        assert_eq!(t.exp_cycles(), 1);
    }
}
