//! LabelSelect (LabelSelect_hls): the top-K class indices, best first (finn.md §3).
//!
//! Function: strict `>` insertion, so on ties the lower index wins (as ONNX TopK). Output
//! labels as UINT8 (the smallest type holding Labels−1, rounded up to 8 bits), one per word.
//! Timing: Labels/PE reads, then K writes. Cost: FINN's Labels/PE cycles; FINN estimates no
//! resources for it (0, the base class). Behind BNN-PYNQ's padded last layer it reads the
//! padded scores too and ranks only the first Labels ([`LabelSelect::scan`]).

use crate::clock::{Core, Process};
use crate::fifo::Fifo;
use crate::stream::{get_bits, words_for, DType};
use crate::Error;

#[derive(Clone, Debug)]
pub struct LabelSelect {
    pub labels: usize,
    /// Scores read per frame: the labels, or the padded rows of the layer before.
    pub scan: usize,
    pub k: usize,
    pub pe: usize,
    pub input: DType,
    pub out: DType,
}

impl LabelSelect {
    pub fn new(name: &str, labels: usize, k: usize, pe: usize, input: DType) -> Result<LabelSelect, Error> {
        if pe == 0 || !labels.is_multiple_of(pe) {
            return Err(Error::node(
                name,
                format!("PE {pe} does not divide the {labels} labels (Labels % PE must be 0)"),
            ));
        }
        if k == 0 || k > labels {
            return Err(Error::node(name, format!("K {k} must be between 1 and the {labels} labels")));
        }
        let out = DType::covering(0, labels as i64 - 1).byte_aligned();
        Ok(LabelSelect { labels, scan: labels, k, pe, input, out })
    }
    pub fn in_bits(&self) -> usize {
        self.pe * self.input.bits as usize
    }
    pub fn exp_cycles(&self) -> u64 {
        (self.labels / self.pe) as u64
    }
    /// Words read per frame.
    pub fn in_words(&self) -> usize {
        self.scan / self.pe
    }
    /// The top-K labels of one score vector.
    pub fn select(&self, scores: &[i64]) -> Vec<usize> {
        // Kept sorted best first; a later label enters only if strictly larger.
        let mut top: Vec<(i64, usize)> = Vec::with_capacity(self.k + 1);
        for (i, &s) in scores.iter().enumerate() {
            let at = top.iter().position(|&(v, _)| s > v).unwrap_or(top.len());
            if at < self.k {
                top.insert(at, (s, i));
                top.truncate(self.k);
            }
        }
        top.into_iter().map(|(_, i)| i).collect()
    }
    pub fn process(&self, timing: bool) -> LabelSelectProc<'_> {
        LabelSelectProc {
            l: self,
            core: Core::new(timing),
            i: 0,
            scores: Vec::with_capacity(self.labels),
            top: Vec::new(),
            word: vec![0; words_for(self.in_bits())],
        }
    }
}

pub struct LabelSelectProc<'a> {
    l: &'a LabelSelect,
    core: Core,
    i: usize,
    scores: Vec<i64>,
    top: Vec<usize>,
    word: Vec<u64>,
}

impl Process for LabelSelectProc<'_> {
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        let (Some(inp), Some(out)) = (inp, out) else { return false };
        let reads = self.l.in_words();
        let ib = self.l.input.bits as usize;
        let mut moved = false;
        loop {
            if self.i < reads {
                if !inp.can_read() {
                    break;
                }
                let t = self.core.op(Some(&*inp), None, 0, 0, 0);
                inp.pop(&mut self.word, t);
                for p in 0..self.l.pe {
                    self.scores.push(self.l.input.decode(get_bits(&self.word, p * ib, ib)));
                }
                if self.i + 1 == reads {
                    self.scores.truncate(self.l.labels);
                    self.top = self.l.select(&self.scores);
                    self.scores.clear();
                }
            } else {
                if !out.can_write() {
                    break;
                }
                let t = self.core.op(None, Some(&*out), 0, 0, 0);
                out.push(&[self.top[self.i - reads] as u64], t);
            }
            self.i = (self.i + 1) % (reads + self.l.k);
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
    fn ties_go_to_the_lower_index() {
        let l = LabelSelect::new("LabelSelect_hls_0", 4, 2, 1, DType::new(10, false)).unwrap();
        assert_eq!(l.select(&[3, 7, 7, 1]), vec![1, 2]);
        assert_eq!(l.select(&[5, 5, 5, 5]), vec![0, 1]);
        assert_eq!(l.out, DType::UINT8);
        assert!(LabelSelect::new("LabelSelect_hls_0", 4, 1, 3, DType::UINT8)
            .unwrap_err()
            .to_string()
            .contains("LabelSelect_hls_0"));
    }
}
