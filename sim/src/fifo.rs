//! StreamingFIFO: the stream between two nodes. Function: first in, first out. Timing: a word
//! written in cycle t can be read from cycle t+1; with depth D, word m can be written only after
//! word m−D was read (so depth 2 sustains one word per cycle, depth 1 half of that). Cost: FINN's
//! `streamingfifo.py` estimates.

use std::collections::VecDeque;

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
    pub writes: u64,
    pub reads: u64,
    /// Largest number of slots in use in any cycle (never above the depth).
    pub max_occupancy: u64,
    occ_w: VecDeque<u64>,
    occ_r: VecDeque<u64>,
    occ_w_index: u64,
    occ_reads_le: u64,
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
            writes: 0,
            reads: 0,
            max_occupancy: 0,
            occ_w: VecDeque::new(),
            occ_r: VecDeque::new(),
            occ_w_index: 0,
            occ_reads_le: 0,
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
            self.rtime[((self.writes - d) % d) as usize] + 1
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
        if self.timing {
            self.wtime.push_back(t);
            self.occ_w.push_back(t);
            self.settle();
        }
        self.writes += 1;
    }

    /// Reads one word in cycle `t` into `dst`.
    #[inline]
    pub fn pop(&mut self, dst: &mut [u64], t: u64) {
        for d in dst.iter_mut() {
            *d = self.data.pop_front().expect("a word was written");
        }
        if self.timing {
            self.wtime.pop_front();
            if !self.rtime.is_empty() {
                let d = self.rtime.len() as u64;
                self.rtime[(self.reads % d) as usize] = t;
            }
            self.occ_r.push_back(t);
        }
        self.reads += 1;
        if self.timing {
            self.settle();
        }
    }

    /// Occupancy in the cycle of each write = writes so far − reads in earlier cycles (a word
    /// read in the same cycle still holds its slot). A write's count is final once a read at or
    /// after its cycle is known, or all earlier reads are.
    fn settle(&mut self) {
        while let Some(&w) = self.occ_w.front() {
            while let Some(&r) = self.occ_r.front() {
                if r < w {
                    self.occ_reads_le += 1;
                    self.occ_r.pop_front();
                } else {
                    break;
                }
            }
            if self.occ_r.is_empty() && self.reads < self.occ_w_index {
                return;
            }
            let occ = self.occ_w_index + 1 - self.occ_reads_le;
            self.max_occupancy = self.max_occupancy.max(occ);
            self.occ_w.pop_front();
            self.occ_w_index += 1;
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

/// FINN's `optimize_depth` rounding for a measured occupancy (finn.md §6): ≤2 → 2, ≤32 → 32,
/// then as measured; above 256 (where FINN switches to a vivado/BRAM FIFO) a power of two.
pub fn round_depth(occ: u64) -> usize {
    let d = occ as usize;
    if d <= 2 {
        2
    } else if d <= 32 {
        32
    } else if d <= 256 {
        d
    } else {
        d.next_power_of_two()
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

/// FINN's FIFO LUT estimate: 2⌈log₂d⌉ address LUTs, plus ⌈d/32⌉⌈W/2⌉ LUTRAM for rtl or
/// distributed vivado FIFOs.
pub fn lut(depth: usize, bits: usize, style: &FifoStyle) -> u64 {
    let d = depth.max(2) as f64;
    let address = 2 * d.log2().ceil() as u64;
    let lutram = style.impl_style == "rtl" || style.ram_style == "distributed";
    let ram = if lutram { (depth.div_ceil(32) * bits.div_ceil(2)) as u64 } else { 0 };
    address + ram
}

/// FINN's FIFO BRAM18 estimate: zero for rtl or LUTRAM FIFOs, else the memory table on the
/// depth rounded up to a power of two.
pub fn bram18(depth: usize, bits: usize, style: &FifoStyle) -> u64 {
    if style.impl_style == "rtl" || style.ram_style == "distributed" || style.ram_style == "ultra" {
        return 0;
    }
    bram_table(depth.next_power_of_two() as u64, bits as u64)
}

/// FINN's BRAM18 count for a memory of `depth` words of `width` bits (finn.md §6).
pub fn bram_table(depth: u64, width: u64) -> u64 {
    let d = depth;
    match width {
        0 => 0,
        1 => d.div_ceil(16384),
        2 => d.div_ceil(8192),
        3..=4 => d.div_ceil(4096) * width.div_ceil(4),
        5..=9 => d.div_ceil(2048) * width.div_ceil(9),
        w if w <= 18 || d > 512 => d.div_ceil(1024) * w.div_ceil(18),
        w => d.div_ceil(512) * w.div_ceil(36),
    }
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
        assert_eq!(f.max_occupancy, 2);
    }

    #[test]
    fn estimates_follow_finn() {
        assert_eq!(bram_table(36, 48), 2);
        assert_eq!(bram_table(36, 1024), 29);
        assert_eq!(bram_table(2304, 128), 24);
        assert_eq!(bram_table(18432, 32), 36);
        assert_eq!(bram_table(32768, 4), 8);
        assert_eq!(bram_table(32768, 8), 16);
        let rtl = FifoStyle::default();
        // 2⌈log₂32⌉ + ⌈32/32⌉⌈64/2⌉
        assert_eq!(lut(32, 64, &rtl), 10 + 32);
        assert_eq!(bram18(32, 64, &rtl), 0);
        let bram = FifoStyle { impl_style: "vivado".into(), ram_style: "block".into() };
        assert_eq!(lut(1000, 64, &bram), 20);
        assert_eq!(bram18(1000, 64, &bram), bram_table(1024, 64));
        assert_eq!([1, 2, 3, 32, 33, 256, 257].map(round_depth), [2, 2, 32, 32, 33, 256, 512]);
    }
}
