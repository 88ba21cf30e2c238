//! MaxPool (StreamingMaxPool_hls) on binary maps (finn.md §3).
//!
//! Function: non-overlapping K×K max-pool; on 1-bit data the max is the OR. One word per pixel
//! carrying all channels. Timing: per output row, read K·W words into the row buffer, then
//! write W/K words; so W·H + (W/K)·(H/K) cycles per frame, FINN's int(W²(1+1/K²)).
//! Cost: FINN's cycles; LUT/BRAM are not estimated here.

use crate::clock::{Core, Process};
use crate::fifo::Fifo;
use crate::stream::words_for;
use crate::Error;

#[derive(Clone, Debug, PartialEq)]
pub struct MaxPoolSpec {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub kernel: usize,
}

#[derive(Clone, Debug)]
pub struct MaxPool {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub k: usize,
}

impl MaxPool {
    pub fn new(name: &str, spec: &MaxPoolSpec) -> Result<MaxPool, Error> {
        let k = spec.kernel;
        if k == 0 || !spec.height.is_multiple_of(k) || !spec.width.is_multiple_of(k) {
            return Err(Error::node(name, format!("pool size {k} does not divide {}x{}", spec.height, spec.width)));
        }
        Ok(MaxPool { h: spec.height, w: spec.width, c: spec.channels, k })
    }
    pub fn word_bits(&self) -> usize {
        self.c
    }
    pub fn exp_cycles(&self) -> u64 {
        (self.h * self.w + (self.h / self.k) * (self.w / self.k)) as u64
    }
    pub fn process(&self, timing: bool) -> MaxPoolProc<'_> {
        let ws = words_for(self.c);
        MaxPoolProc {
            m: self,
            core: Core::new(timing),
            i: 0,
            row: vec![0; self.w / self.k * ws],
            word: vec![0; ws],
            ws,
        }
    }
}

pub struct MaxPoolProc<'a> {
    m: &'a MaxPool,
    core: Core,
    /// Iteration within the output row: reads K·W, then writes W/K.
    i: usize,
    row: Vec<u64>,
    word: Vec<u64>,
    ws: usize,
}

impl Process for MaxPoolProc<'_> {
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        let (Some(inp), Some(out)) = (inp, out) else { return false };
        let (k, w) = (self.m.k, self.m.w);
        let reads = k * w;
        let mut moved = false;
        loop {
            if self.i < reads {
                if !inp.can_read() {
                    break;
                }
                let t = self.core.op(Some(&*inp), None, 0, 0, 0);
                inp.pop(&mut self.word, t);
                let ox = self.i % w / k;
                for (d, s) in self.row[ox * self.ws..(ox + 1) * self.ws].iter_mut().zip(&self.word) {
                    *d |= s;
                }
            } else {
                if !out.can_write() {
                    break;
                }
                let t = self.core.op(None, Some(&*out), 0, 0, 0);
                let ox = self.i - reads;
                out.push(&self.row[ox * self.ws..(ox + 1) * self.ws], t);
                self.row[ox * self.ws..(ox + 1) * self.ws].fill(0);
            }
            self.i = (self.i + 1) % (reads + w / k);
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
    fn cnv_pool_cycles_match_finn() {
        let p = MaxPool::new("StreamingMaxPool_hls_0", &MaxPoolSpec { height: 28, width: 28, channels: 64, kernel: 2 })
            .unwrap();
        assert_eq!(p.exp_cycles(), 980);
        let p = MaxPool::new("x", &MaxPoolSpec { height: 10, width: 10, channels: 128, kernel: 2 }).unwrap();
        assert_eq!(p.exp_cycles(), 125);
        assert!(MaxPool::new("StreamingMaxPool_hls_1", &MaxPoolSpec { height: 5, width: 5, channels: 1, kernel: 2 })
            .unwrap_err()
            .to_string()
            .contains("StreamingMaxPool_hls_1"));
    }
}
