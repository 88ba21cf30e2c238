//! DWC (StreamingDataWidthConverter_rtl / _hls): changes the stream width, LSB first in both
//! directions (finn.md §3). FINN inserts one wherever a producer's PE·bits differ from the
//! consumer's SIMD·bits and builds it in RTL when one width divides the other
//! (`specialize_layers.py:183-194`); BNN-PYNQ's are finn-hlslib's
//! `StreamingDataWidthConverter_Batch`.
//!
//! Timing: one iteration per cycle; it reads a word whenever fewer than `out` bits are buffered
//! and writes a word whenever at least `out` bits are (in the same iteration if the read
//! completes one), so a frame takes max(input words, output words) cycles. Cost: FINN has no
//! cycle formula for it (0, the base class), and its LUT formula
//! (`streamingdatawidthconverter.py:189-216`).

use crate::clock::{Core, Process};
use crate::cost::{log2, Resources};
use crate::fifo::Fifo;
use crate::stream::{get_bits, or_copy, words_for};

#[derive(Clone, Debug)]
pub struct Dwc {
    pub in_bits: usize,
    pub out_bits: usize,
    /// Built as FINN's StreamingDataWidthConverter_rtl (else the HLS converter).
    pub impl_rtl: bool,
    /// Bits per frame (a multiple of both widths).
    pub frame_bits: usize,
}

impl Dwc {
    /// FINN's `get_exp_cycles` for a DWC: none defined, so the base class's 0.
    pub fn exp_cycles(&self) -> u64 {
        0
    }
    /// Cycles per frame the converter actually needs: max(input words, output words).
    pub fn cycles(&self) -> u64 {
        (self.frame_bits / self.in_bits).max(self.frame_bits / self.out_bits) as u64
    }
    /// Whether FINN builds it in RTL: one width divides the other.
    pub fn rtl(&self) -> bool {
        self.in_bits.is_multiple_of(self.out_bits) || self.out_bits.is_multiple_of(self.in_bits)
    }
    /// FINN's estimate: count and selector LUTs through the intermediate width lcm(in, out).
    pub fn finn_estimate(&self) -> Resources {
        let (inw, outw) = (self.in_bits as u64, self.out_bits as u64);
        let intw = inw / gcd(inw, outw) * outw;
        let (mut cnt, mut cset) = (0u64, 0u64);
        if inw != intw {
            cnt += log2(inw as f64 / intw as f64).ceil().abs() as u64;
            cset += intw;
        }
        if intw != outw {
            cnt += log2(intw as f64 / outw as f64).ceil().abs() as u64;
            cset += outw;
        }
        Resources { lut: cnt + cset, ..Default::default() }
    }
    pub fn process(&self, timing: bool) -> DwcProc<'_> {
        let cap = words_for(self.in_bits + self.out_bits) + 1;
        DwcProc {
            d: self,
            core: Core::new(timing),
            buf: vec![0; cap],
            tmp: vec![0; cap],
            have: 0,
            word: vec![0; words_for(self.in_bits)],
            outw: vec![0; words_for(self.out_bits)],
            small: 0,
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

pub struct DwcProc<'a> {
    d: &'a Dwc,
    core: Core,
    buf: Vec<u64>,
    tmp: Vec<u64>,
    have: usize,
    word: Vec<u64>,
    outw: Vec<u64>,
    /// The buffer when both widths fit in 64 bits (the common case).
    small: u128,
}

impl DwcProc<'_> {
    /// Moves the first `out` bits to `outw` and shifts the rest down.
    fn take(&mut self) {
        let ob = self.d.out_bits;
        self.outw.fill(0);
        or_copy(&mut self.outw, 0, &self.buf, ob);
        self.tmp.fill(0);
        let rest = self.have - ob;
        let mut done = 0;
        while done < rest {
            let n = (rest - done).min(64);
            let v = get_bits(&self.buf, ob + done, n);
            crate::stream::or_bits(&mut self.tmp, done, n, v);
            done += n;
        }
        std::mem::swap(&mut self.buf, &mut self.tmp);
        self.have = rest;
    }
}

impl Process for DwcProc<'_> {
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        let (Some(inp), Some(out)) = (inp, out) else { return false };
        let (ib, ob) = (self.d.in_bits, self.d.out_bits);
        let small = ib <= 64 && ob <= 64;
        let mut moved = false;
        loop {
            let read = self.have < ob;
            let write = !read || self.have + ib >= ob;
            if (read && !inp.can_read()) || (write && !out.can_write()) {
                return moved;
            }
            let t = self.core.op(read.then_some(&*inp), write.then_some(&*out), 0, 0, 0);
            if read {
                inp.pop(&mut self.word, t);
                if small {
                    self.small |= (self.word[0] as u128) << self.have;
                } else {
                    or_copy(&mut self.buf, self.have, &self.word, ib);
                }
                self.have += ib;
            }
            if write {
                if small {
                    self.outw[0] = (self.small as u64) & crate::stream::mask(ob);
                    self.small >>= ob;
                    self.have -= ob;
                } else {
                    self.take();
                }
                out.push(&self.outw, t);
            }
            moved = true;
        }
    }
    fn core(&self) -> &Core {
        &self.core
    }
}
