//! IODMA (IODMA_hls): memory to stream at the input, stream to memory at the output.
//!
//! Function: frames of packed words in, frames of words out (FINN packs LSB first, finn.md §7).
//! Timing: one word per cycle (the 64-bit AXI master plus its width converter outrun every
//! stream in these designs); all frames of a batch are queued at cycle 0, as the driver starts
//! the DMAs once for the whole batch. Cost: FINN's default of 0 cycles.

use crate::clock::{Core, Process};
use crate::fifo::Fifo;

/// The input IODMA: writes the queued frames' words.
pub struct Source<'a> {
    pub words: &'a [u64],
    pub wpw: usize,
    core: Core,
    next: usize,
    /// The next word's frame and its index within the frame (counters: no division per word).
    frame: usize,
    in_frame: usize,
    /// Earliest cycle of each frame's first word (throttling); empty = no throttling.
    pub frame_start: Vec<u64>,
    pub words_per_frame: usize,
}

impl<'a> Source<'a> {
    pub fn new(words: &'a [u64], wpw: usize, words_per_frame: usize, timing: bool) -> Source<'a> {
        Source {
            words,
            wpw,
            core: Core::new(timing),
            next: 0,
            frame: 0,
            in_frame: 0,
            frame_start: Vec::new(),
            words_per_frame,
        }
    }
}

impl Process for Source<'_> {
    fn run(&mut self, _inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        let Some(out) = out else { return false };
        let n = self.words.len() / self.wpw;
        let mut moved = false;
        while self.next < n && out.can_write() {
            let dep = if self.in_frame == 0 { self.frame_start.get(self.frame).copied().unwrap_or(0) } else { 0 };
            let t = self.core.op(None, Some(&*out), 0, dep, 0);
            out.push(&self.words[self.next * self.wpw..(self.next + 1) * self.wpw], t);
            self.next += 1;
            self.in_frame += 1;
            if self.in_frame >= self.words_per_frame {
                self.in_frame = 0;
                self.frame += 1;
            }
            moved = true;
        }
        moved
    }
    fn core(&self) -> &Core {
        &self.core
    }
}

/// The output IODMA: reads words and notes when each frame is complete.
pub struct Sink {
    pub words_per_frame: usize,
    pub data: Vec<u64>,
    /// Cycle of each frame's last word.
    pub done: Vec<u64>,
    core: Core,
    count: usize,
    word: Vec<u64>,
}

impl Sink {
    pub fn new(words_per_frame: usize, wpw: usize, timing: bool) -> Sink {
        Sink {
            words_per_frame,
            data: Vec::new(),
            done: Vec::new(),
            core: Core::new(timing),
            count: 0,
            word: vec![0; wpw],
        }
    }
}

impl Process for Sink {
    fn run(&mut self, inp: Option<&mut Fifo>, _out: Option<&mut Fifo>) -> bool {
        let Some(inp) = inp else { return false };
        let mut moved = false;
        while inp.can_read() {
            let t = self.core.op(Some(&*inp), None, 0, 0, 0);
            inp.pop(&mut self.word, t);
            self.data.extend_from_slice(&self.word);
            self.count += 1;
            if self.count.is_multiple_of(self.words_per_frame) {
                self.done.push(t);
            }
            moved = true;
        }
        moved
    }
    fn core(&self) -> &Core {
        &self.core
    }
}
