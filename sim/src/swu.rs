//! SWU (ConvolutionInputGenerator_rtl): the sliding window generator (finn.md §3, §6).
//!
//! Function: for each output pixel (oy, ox) in raster order, the K×K window in (ky, kx, c)
//! order, SIMD channels per word (valid convolution, stride 1). Output words are copies of
//! buffered input words (input and output width are both SIMD·bits).
//!
//! Timing, modelled on the RTL SWG: a reader stores one input word per cycle into a line buffer
//! of (K−1)·W + K pixels, and a writer emits one window word per cycle, concurrently. A window
//! starts once all its pixels are buffered; a pixel's slot is reused once the last window that
//! needs it has started (its top-left use) or, for the right-most columns, once the row of
//! windows is done. So the first window waits for the buffer to fill, and per output row the
//! node takes max(OW·K²·cf, W·cf) cycles, as FINN's formula says. Cost: FINN's cycle, LUT and
//! BRAM formulas for the RTL and the HLS generator.

use std::collections::VecDeque;

use crate::clock::{Core, Process};
use crate::cost::Resources;
use crate::fifo::Fifo;
use crate::stream::{words_for, DType};
use crate::Error;

#[derive(Clone, Debug, PartialEq)]
pub struct SwuSpec {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub kernel: usize,
    pub dtype: DType,
}

#[derive(Clone, Debug)]
pub struct Swu {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub k: usize,
    pub simd: usize,
    pub dtype: DType,
    pub ram_style: String,
    /// Timing of finn-hlslib's `ConvolutionInputGenerator` at 8b7f5f5 (the commit BNN-PYNQ
    /// pins; `slidingwindow.h` lines 73-179) instead of the RTL SWG. One II=1 loop of
    /// `baseIter` = IFM·K·cf + OFM·max(cwb, crb) iterations per frame, with cwb = OFM·K²·cf
    /// window words per output row and crb = IFM·cf words per input row. The first IFM·K·cf
    /// iterations only read (K rows). After that a counter runs 0..max(cwb, crb)−2 and wraps
    /// (line 172: it resets at max_cycles − 1, so the period is one shorter than a row); an
    /// iteration writes a window word while counter < cwb − 1 and reads the next input word
    /// while counter < crb − 1 and rows remain (line 153). Reads and writes are blocking
    /// stream accesses in the same pipelined iteration, so a read that waits stalls the window
    /// writes and a full output stalls the reads.
    pub hls_loop: bool,
}

impl Swu {
    pub fn new(name: &str, spec: &SwuSpec, simd: usize, ram_style: &str) -> Result<Swu, Error> {
        if simd == 0 || !spec.channels.is_multiple_of(simd) {
            return Err(Error::node(
                name,
                format!(
                    "SIMD {simd} does not divide the {} input channels (IFMChannels % SIMD must be 0)",
                    spec.channels
                ),
            ));
        }
        if spec.kernel == 0 || spec.kernel > spec.height || spec.kernel > spec.width {
            return Err(Error::node(name, "the kernel does not fit the input"));
        }
        Ok(Swu {
            h: spec.height,
            w: spec.width,
            c: spec.channels,
            k: spec.kernel,
            simd,
            dtype: spec.dtype,
            ram_style: ram_style.to_string(),
            hls_loop: false,
        })
    }
    pub fn oh(&self) -> usize {
        self.h - self.k + 1
    }
    pub fn ow(&self) -> usize {
        self.w - self.k + 1
    }
    pub fn cf(&self) -> usize {
        self.c / self.simd
    }
    pub fn word_bits(&self) -> usize {
        self.simd * self.dtype.bits as usize
    }
    /// Line buffer size in pixels.
    pub fn buffer_pixels(&self) -> usize {
        (self.k - 1) * self.w + self.k
    }
    pub fn in_words(&self) -> usize {
        self.h * self.w * self.cf()
    }
    pub fn out_words(&self) -> usize {
        self.oh() * self.ow() * self.k * self.k * self.cf()
    }
    /// FINN (RTL SWG): buf + OFM_H·max(OFM_W·K²·cf, IFM_W·cf), buf = ((K−1)·IFM_W + K)·cf.
    /// The HLS SWG: IFM_W·K·cf + OFM_H·max(...).
    pub fn exp_cycles(&self) -> u64 {
        let cf = self.cf();
        let buf = if self.hls_loop { self.w * self.k * cf } else { self.buffer_pixels() * cf };
        (buf + self.oh() * (self.ow() * self.k * self.k * cf).max(self.w * cf)) as u64
    }

    /// FINN's estimate: `rtl/convolutioninputgenerator_rtl.py:189-258` for the RTL SWG (buffer
    /// of ((K−1)·W + K)·cf words), `hls/convolutioninputgenerator_hls.py:183-284` for the HLS
    /// one (K + stride buffers of W·cf words).
    pub fn finn_estimate(&self) -> Resources {
        let width = self.word_bits() as u64;
        let distributed = self.ram_style == "distributed";
        let block = matches!(self.ram_style.as_str(), "block" | "auto");
        let ram_width = |depth: u64| match depth {
            0..=512 => 36,
            513..=1024 => 18,
            1025..=2048 => 9,
            2049..=4096 => 4,
            4097..=8192 => 2,
            _ => 1,
        };
        if self.hls_loop {
            let depth = (self.w * self.cf()) as u64;
            let blocks = self.k as u64 + 1;
            let lut = 300 + if distributed { blocks * width * depth.div_ceil(64) } else { 0 };
            let bram18 = if block { blocks * width.div_ceil(ram_width(depth)) * depth.div_ceil(depth) } else { 0 };
            return Resources { lut, bram18, ..Default::default() };
        }
        let depth = (self.buffer_pixels() * self.cf()) as u64;
        let lut = 300 + if distributed { width * depth.div_ceil(38) } else { 0 };
        let bram18 = if block {
            let cascade = depth.div_ceil(16384) * width.div_ceil(ram_width(depth));
            let savings = if depth > 16384 {
                width.div_ceil(ram_width(depth)) - width.div_ceil(ram_width(depth % 16384))
            } else {
                0
            };
            cascade - savings
        } else {
            0
        };
        Resources { lut, bram18, ..Default::default() }
    }

    /// The whole output of one frame from its input words (the functional definition).
    pub fn execute(&self, input: &[u64]) -> Vec<u64> {
        let ws = words_for(self.word_bits());
        let cf = self.cf();
        let mut out = Vec::with_capacity(self.out_words() * ws);
        for oy in 0..self.oh() {
            for ox in 0..self.ow() {
                for ky in 0..self.k {
                    for kx in 0..self.k {
                        for s in 0..cf {
                            let i = ((oy + ky) * self.w + ox + kx) * cf + s;
                            out.extend_from_slice(&input[i * ws..(i + 1) * ws]);
                        }
                    }
                }
            }
        }
        out
    }

    pub fn process(&self, timing: bool) -> SwuProc<'_> {
        let ws = words_for(self.word_bits());
        // The HLS loop keeps K+1 rows; the RTL model the minimal line buffer.
        let cap = if self.hls_loop { (self.k + 1) * self.w * self.cf() } else { self.buffer_pixels() * self.cf() };
        SwuProc {
            s: self,
            reader: Core::new(timing),
            writer: Core::new(timing),
            ws,
            cap,
            buf: vec![0; cap * ws],
            rtime: vec![0; cap],
            reads: 0,
            releases: VecDeque::new(),
            rslot: 0,
            rpix: 0,
            rsub: 0,
            f: 0,
            oy: 0,
            ox: 0,
            j: 0,
            ky: 0,
            kx: 0,
            sf: 0,
            offset: 0,
            win_slot: 0,
            it: 0,
            counter: 0,
            frame_reads: 0,
            skip: 0,
        }
    }
}

pub struct SwuProc<'a> {
    s: &'a Swu,
    reader: Core,
    writer: Core,
    ws: usize,
    cap: usize,
    buf: Vec<u64>,
    rtime: Vec<u64>,
    reads: u64,
    /// (pixels released so far, cycle), in order.
    releases: VecDeque<(u64, u64)>,
    /// The reader's next slot, global pixel and fold (counters instead of divisions).
    rslot: usize,
    rpix: u64,
    rsub: usize,
    f: u64,
    oy: usize,
    ox: usize,
    /// Word within the current window: (ky·K + kx)·cf + s.
    j: usize,
    ky: usize,
    kx: usize,
    sf: usize,
    /// Slot offset of the current word from the window's top-left word: (ky·W + kx)·cf + s.
    offset: usize,
    /// Slot of the window's top-left word.
    win_slot: usize,
    /// HLS loop: iteration within the frame, words read in the frame, compute-only iterations
    /// not yet charged.
    it: usize,
    counter: usize,
    frame_reads: usize,
    skip: u64,
}

impl SwuProc<'_> {
    fn try_read(&mut self, inp: &mut Fifo) -> bool {
        if !inp.can_read() {
            return false;
        }
        let g = self.rpix;
        let b = self.s.buffer_pixels() as u64;
        let mut dep = 0;
        if g >= b {
            let need = g - b + 1;
            while let Some(&(fr, _)) = self.releases.front() {
                if fr < need {
                    self.releases.pop_front();
                } else {
                    break;
                }
            }
            match self.releases.front() {
                Some(&(_, t)) => dep = t + 1,
                None => return false,
            }
        }
        let t = self.reader.op(Some(&*inp), None, 0, 0, dep);
        let slot = self.rslot;
        inp.pop(&mut self.buf[slot * self.ws..(slot + 1) * self.ws], t);
        self.rtime[slot] = t;
        self.reads += 1;
        self.rslot = if slot + 1 == self.cap { 0 } else { slot + 1 };
        self.rsub += 1;
        if self.rsub == self.s.cf() {
            self.rsub = 0;
            self.rpix += 1;
        }
        true
    }

    fn try_write(&mut self, out: &mut Fifo) -> bool {
        if !out.can_write() {
            return false;
        }
        let s = self.s;
        let (k, w, cf) = (s.k, s.w, s.cf());
        let hw = (s.h * w) as u64;
        let base = self.f * hw;
        let mut dep = 0;
        if self.j == 0 {
            let last = base + ((self.oy + k - 1) * w + self.ox + k - 1) as u64;
            let need = (last + 1) * cf as u64;
            if self.reads < need {
                return false;
            }
            dep = self.rtime[((need - 1) % self.cap as u64) as usize] + 1;
        }
        let t = self.writer.op(None, Some(&*out), 0, dep, 0);
        self.emit(out, t);
        true
    }

    /// Writes the current window word in cycle `t` and advances the window counters.
    fn emit(&mut self, out: &mut Fifo, t: u64) {
        let s = self.s;
        let (k, w, cf) = (s.k, s.w, s.cf());
        let hw = (s.h * w) as u64;
        let base = self.f * hw;
        let mut slot = self.win_slot + self.offset;
        if slot >= self.cap {
            slot -= self.cap;
        }
        out.push(&self.buf[slot * self.ws..(slot + 1) * self.ws], t);
        if self.j == 0 && !s.hls_loop {
            self.releases.push_back((base + (self.oy * w + self.ox) as u64 + 1, t));
        }
        self.j += 1;
        self.offset += 1;
        self.sf += 1;
        if self.sf == cf {
            self.sf = 0;
            self.kx += 1;
            if self.kx == k {
                self.kx = 0;
                self.ky += 1;
                self.offset = self.ky * w * cf;
            }
        }
        if self.j == k * k * cf {
            self.j = 0;
            self.ky = 0;
            self.offset = 0;
            // The next window's top-left word, in the ring of `cap` slots.
            let step = if self.ox + 1 == s.ow() { k * cf } else { cf };
            self.win_slot = (self.win_slot + step) % self.cap;
            if self.ox + 1 == s.ow() {
                self.ox = 0;
                self.oy += 1;
                if self.oy == s.oh() {
                    self.oy = 0;
                    self.f += 1;
                    if !s.hls_loop {
                        self.releases.push_back((self.f * hw, t));
                    }
                    // The next frame starts after the last K−1 rows of this one.
                    self.win_slot = ((self.f * hw) as usize * cf) % self.cap;
                } else if !s.hls_loop {
                    self.releases.push_back((base + (self.oy * w) as u64, t));
                }
            } else {
                self.ox += 1;
            }
        }
    }

    /// finn-hlslib's loop, one iteration per step; see [`Swu::hls_loop`].
    fn run_hls(&mut self, inp: &mut Fifo, out: &mut Fifo) -> bool {
        let s = self.s;
        let cf = s.cf();
        let init = s.w * s.k * cf;
        let (cwb, crb) = (s.ow() * s.k * s.k * cf, s.w * cf);
        // The counter's period: max_cycles − 1 (at least 1, so a degenerate shape still moves).
        let period = cwb.max(crb).saturating_sub(1).max(1);
        let total = init + s.oh() * cwb.max(crb);
        let frame_words = s.h * s.w * cf;
        let mut moved = false;
        loop {
            let (read, write) = if self.it < init {
                (true, false)
            } else {
                let c = self.counter;
                (c + 1 < crb && self.frame_reads < frame_words, c + 1 < cwb || cwb == 1)
            };
            if !read && !write {
                self.skip += 1;
            } else {
                if (read && !inp.can_read()) || (write && !out.can_write()) {
                    return moved;
                }
                let t = self.writer.op(read.then_some(&*inp), write.then_some(&*out), self.skip, 0, 0);
                self.skip = 0;
                if read {
                    let slot = self.rslot;
                    inp.pop(&mut self.buf[slot * self.ws..(slot + 1) * self.ws], t);
                    self.rslot = if slot + 1 == self.cap { 0 } else { slot + 1 };
                    self.reads += 1;
                    self.frame_reads += 1;
                }
                if write {
                    self.emit(out, t);
                }
            }
            if self.it >= init {
                self.counter += 1;
                if self.counter == period {
                    self.counter = 0;
                }
            }
            self.it += 1;
            if self.it == total {
                self.it = 0;
                self.counter = 0;
                self.frame_reads = 0;
            }
            moved = true;
        }
    }
}

impl Process for SwuProc<'_> {
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        let (Some(inp), Some(out)) = (inp, out) else { return false };
        if self.s.hls_loop {
            return self.run_hls(inp, out);
        }
        let mut moved = false;
        loop {
            let r = self.try_read(inp);
            let w = self.try_write(out);
            if !(r || w) {
                return moved;
            }
            moved = true;
        }
    }
    fn core(&self) -> &Core {
        &self.writer
    }
    fn cores(&self) -> Vec<&Core> {
        vec![&self.writer, &self.reader]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_in_ky_kx_channel_order() {
        // 3×3 input, 2 channels, K=2, SIMD 1: words are (pixel, channel) = value 10·pixel + c.
        let spec = SwuSpec { height: 3, width: 3, channels: 2, kernel: 2, dtype: DType::INT8 };
        let s = Swu::new("ConvolutionInputGenerator_rtl_0", &spec, 1, "auto").unwrap();
        let input: Vec<u64> = (0..9).flat_map(|p| [10 * p, 10 * p + 1]).collect();
        let out = s.execute(&input);
        assert_eq!(out.len(), 4 * 4 * 2);
        assert_eq!(&out[..8], &[0, 1, 10, 11, 30, 31, 40, 41]);
        assert_eq!(&out[24..], &[40, 41, 50, 51, 70, 71, 80, 81]);
        let e = Swu::new("ConvolutionInputGenerator_rtl_3", &spec, 3, "auto").unwrap_err().to_string();
        assert!(e.contains("ConvolutionInputGenerator_rtl_3") && e.contains("SIMD 3"), "{e}");
    }

    #[test]
    fn cnv_first_swg_cycles_match_finn() {
        let spec = SwuSpec { height: 32, width: 32, channels: 3, kernel: 3, dtype: DType::INT8 };
        assert_eq!(Swu::new("x", &spec, 3, "auto").unwrap().exp_cycles(), 8167);
        let spec = SwuSpec { height: 30, width: 30, channels: 64, kernel: 3, dtype: DType::BINARY };
        assert_eq!(Swu::new("x", &spec, 32, "auto").unwrap().exp_cycles(), 14238);
    }
}
