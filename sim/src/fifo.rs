//! StreamingFIFO: the stream between two nodes. Function: first in, first out. Timing: a word
//! written in cycle t can be read from cycle t+1; with depth D, word m can be written only after
//! word m−D was read (so depth 2 sustains one word per cycle, depth 1 half of that). Cost: FINN's
//! `streamingfifo.py` estimates.

use std::collections::VecDeque;

use crate::cost::{bram_table, log2, Resources};
use crate::stream::words_for;

/// Depths at or above this are treated as unbounded (no backpressure, no read-time ring).
// 2^30 fits a 32-bit usize (armv7) and is far above any real FIFO (the CLI caps depths at 2^24).
pub const UNBOUNDED: usize = 1 << 30;

/// One FIFO during a simulation.
pub struct Fifo {
    pub bits: usize,
    pub wpw: usize,
    pub depth: usize,
    timing: bool,
    data: VecDeque<u64>,
    wtime: VecDeque<u64>,
    /// Read cycles of the last `depth` reads, indexed by read number mod depth.
    rtime: Vec<u64>,
    /// reads mod depth and writes mod depth (kept as counters: no division per word).
    rslot: usize,
    wslot: usize,
    pub writes: u64,
    pub reads: u64,
    /// Write number of `wtime`'s front (words popped so far).
    wbase: u64,
    /// Largest number of slots in use in any cycle so far (never above the depth); see
    /// [`Fifo::max_occupancy`].
    max_occ: u64,
    /// The first write whose occupancy is not final. Writes from here on are all unread (or
    /// being read), so their cycles are in `wtime`.
    occ_w_index: u64,
    /// Reads compared with a write and found earlier than it. The reads after them, not yet
    /// compared, are at most `depth`, so a bounded FIFO finds their cycles in `rtime` (from slot
    /// `cslot`); an unbounded one keeps them in `occ_r`.
    occ_reads_le: u64,
    cslot: usize,
    occ_r: VecDeque<u64>,
    /// Every word that passed, when tapped.
    pub tap: Option<Vec<u64>>,
}

impl Fifo {
    pub fn new(bits: usize, depth: usize, timing: bool) -> Fifo {
        let depth = depth.max(1);
        let ring = if timing && depth < UNBOUNDED { depth } else { 0 };
        Fifo {
            bits,
            wpw: words_for(bits),
            depth,
            timing,
            data: VecDeque::new(),
            wtime: VecDeque::new(),
            rtime: vec![0; ring],
            rslot: 0,
            wslot: 0,
            writes: 0,
            reads: 0,
            wbase: 0,
            max_occ: 0,
            occ_w_index: 0,
            occ_reads_le: 0,
            cslot: 0,
            occ_r: VecDeque::new(),
            tap: None,
        }
    }

    #[inline]
    pub fn can_read(&self) -> bool {
        self.reads < self.writes
    }
    /// The first cycle in which the next word can be read.
    #[inline]
    pub fn read_ready(&self) -> u64 {
        self.wtime.front().map_or(0, |t| t + 1)
    }
    #[inline]
    pub fn can_write(&self) -> bool {
        !self.timing || self.rtime.is_empty() || self.writes < self.reads + self.depth as u64
    }
    /// The first cycle in which the next word can be written.
    #[inline]
    pub fn write_free(&self) -> u64 {
        let d = self.rtime.len() as u64;
        if d == 0 || self.writes < d {
            0
        } else {
            // Read number writes − d, whose slot is writes mod d.
            self.rtime[self.wslot] + 1
        }
    }

    /// Writes one word in cycle `t`.
    #[inline]
    pub fn push(&mut self, word: &[u64], t: u64) {
        debug_assert_eq!(word.len(), self.wpw);
        for &w in word {
            self.data.push_back(w);
        }
        if let Some(tap) = self.tap.as_mut() {
            tap.extend_from_slice(word);
        }
        self.writes += 1;
        if self.timing {
            self.wtime.push_back(t);
            if !self.rtime.is_empty() {
                self.wslot = if self.wslot + 1 == self.rtime.len() { 0 } else { self.wslot + 1 };
            }
            self.settle();
        }
    }

    /// Reads one word in cycle `t` into `dst`.
    #[inline]
    pub fn pop(&mut self, dst: &mut [u64], t: u64) {
        for d in dst.iter_mut() {
            *d = self.data.pop_front().expect("a word was written");
        }
        self.reads += 1;
        if self.timing {
            if self.rtime.is_empty() {
                self.occ_r.push_back(t);
            } else {
                self.rtime[self.rslot] = t;
                self.rslot = if self.rslot + 1 == self.rtime.len() { 0 } else { self.rslot + 1 };
            }
            // Writes are settled when they are pushed and at the end; a read must settle here
            // only if the word it takes was still open (its cycle is about to leave `wtime`).
            if self.occ_w_index < self.reads {
                self.settle_writes();
            }
            self.wtime.pop_front();
            self.wbase += 1;
        }
    }

    /// The largest number of slots in use in any cycle (never above the depth), over the
    /// writes whose occupancy the reads so far decide.
    pub fn max_occupancy(&mut self) -> u64 {
        if self.timing {
            self.settle();
        }
        self.max_occ
    }

    /// Occupancy in the cycle of each write = writes so far − reads in earlier cycles (a word
    /// read in the same cycle still holds its slot). A write's count is final once a read at or
    /// after its cycle is known, or all earlier reads are.
    #[inline]
    fn settle(&mut self) {
        if self.occ_w_index < self.writes {
            self.settle_writes();
        }
    }

    fn settle_writes(&mut self) {
        while self.occ_w_index < self.writes {
            let w = self.wtime[(self.occ_w_index - self.wbase) as usize];
            while let Some(r) = self.pending_read() {
                if r < w {
                    self.consume_read();
                } else {
                    break;
                }
            }
            if self.occ_reads_le == self.reads && self.reads < self.occ_w_index {
                return;
            }
            let occ = self.occ_w_index + 1 - self.occ_reads_le;
            self.max_occ = self.max_occ.max(occ);
            self.occ_w_index += 1;
        }
    }

    /// The cycle of the first read not yet compared with a write.
    #[inline]
    fn pending_read(&self) -> Option<u64> {
        if self.occ_reads_le == self.reads {
            None
        } else if self.rtime.is_empty() {
            self.occ_r.front().copied()
        } else {
            Some(self.rtime[self.cslot])
        }
    }

    #[inline]
    fn consume_read(&mut self) {
        self.occ_reads_le += 1;
        if self.rtime.is_empty() {
            self.occ_r.pop_front();
        } else {
            self.cslot = if self.cslot + 1 == self.rtime.len() { 0 } else { self.cslot + 1 };
        }
    }

    /// Words held now (in simulation order, not at one cycle).
    pub fn len(&self) -> usize {
        (self.writes - self.reads) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.writes == self.reads
    }
}

/// FINN's `optimize_depth` for a measured occupancy (`set_fifo_depths.py:76-85`): ≤2 → 2,
/// ≤32 → 32, else as measured (a vivado FIFO rounds it up to a power of two when built).
pub fn round_depth(occ: u64) -> usize {
    let d = usize::try_from(occ).unwrap_or(usize::MAX);
    if d <= 2 {
        2
    } else if d <= 32 {
        32
    } else {
        d
    }
}

/// How a FIFO is built (FINN's impl_style / ram_style).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FifoStyle {
    /// "rtl" (LUT shift register) or "vivado" (Xilinx FIFO IP).
    pub impl_style: String,
    /// For vivado FIFOs: "auto", "block", "distributed", "ultra".
    pub ram_style: String,
}

impl Default for FifoStyle {
    fn default() -> Self {
        FifoStyle { impl_style: "rtl".into(), ram_style: "auto".into() }
    }
}

/// The depth FINN builds: vivado FIFOs round up to a power of two
/// (`rtl/streamingfifo_rtl.py:61-75`).
pub fn adjusted_depth(depth: usize, style: &FifoStyle) -> usize {
    if style.impl_style == "vivado" {
        depth.next_power_of_two()
    } else {
        depth
    }
}

/// FINN's FIFO estimate (`streamingfifo.py:147-209`): 2⌈log₂d⌉ address LUTs, plus
/// ⌈d/32⌉⌈W/2⌉ LUTRAM for rtl or distributed vivado FIFOs; RAMB18s (the SDP table on the
/// adjusted depth) only for vivado FIFOs with ram_style block; URAMs for ram_style ultra.
pub fn finn_estimate(depth: usize, bits: usize, style: &FifoStyle) -> Resources {
    let d = adjusted_depth(depth.max(1), style) as u64;
    let w = bits as u64;
    let address = 2 * log2(d as f64).ceil() as u64;
    let rtl = style.impl_style == "rtl";
    let ram = if rtl || style.ram_style == "distributed" { d.div_ceil(32) * w.div_ceil(2) } else { 0 };
    let bram18 = if !rtl && style.ram_style == "block" { bram_table(d, w) } else { 0 };
    let uram = if !rtl && style.ram_style == "ultra" { d.div_ceil(4096) * w.div_ceil(72) } else { 0 };
    Resources { lut: address + ram, bram18, uram, dsp: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_two_sustains_a_word_per_cycle() {
        let mut f = Fifo::new(8, 2, true);
        let mut buf = [0u64];
        // Producer writes at 0,1; consumer reads at 1,2; then the third write may go at 2.
        assert!(f.can_write() && f.write_free() == 0);
        f.push(&[1], 0);
        f.push(&[2], 1);
        assert!(!f.can_write(), "full until a read is known");
        f.pop(&mut buf, f.read_ready().max(1));
        assert_eq!(buf[0], 1);
        assert_eq!(f.write_free(), 2);
        f.push(&[3], 2);
        f.pop(&mut buf, 2);
        f.pop(&mut buf, 3);
        assert_eq!(buf[0], 3);
        assert_eq!(f.max_occupancy(), 2);
    }

    #[test]
    fn estimates_follow_finn() {
        let rtl = FifoStyle::default();
        // 2⌈log₂32⌉ + ⌈32/32⌉⌈64/2⌉
        assert_eq!(finn_estimate(32, 64, &rtl), Resources { lut: 10 + 32, ..Default::default() });
        // vivado with ram_style auto: address LUTs only, no RAMB18 in FINN's estimate.
        let auto = FifoStyle { impl_style: "vivado".into(), ram_style: "auto".into() };
        assert_eq!(finn_estimate(1000, 64, &auto), Resources { lut: 20, ..Default::default() });
        let bram = FifoStyle { impl_style: "vivado".into(), ram_style: "block".into() };
        assert_eq!(
            finn_estimate(1000, 64, &bram),
            Resources { lut: 20, bram18: bram_table(1024, 64), ..Default::default() }
        );
        assert_eq!(finn_estimate(1, 8, &rtl).lut, 4, "depth 1: no address bits, one LUTRAM column");
        assert_eq!([1, 2, 3, 32, 33, 256, 257].map(round_depth), [2, 2, 32, 32, 33, 256, 257]);
    }
}
