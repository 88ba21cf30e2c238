//! The clock: a discrete-event simulation of the dataflow pipeline.
//!
//! Every node is a loop that does one iteration per cycle (II=1) and may read one word and write
//! one word in an iteration. An iteration runs in the first cycle at which (a) the node is ready
//! (the previous iteration and any compute-only iterations are done), (b) its input word is in
//! the FIFO and (c) its output FIFO has a free slot. Nodes are stepped in simulation order, not
//! cycle by cycle: a node runs ahead until its next iteration depends on a neighbour's event
//! that has not been simulated yet, then the neighbour runs. Because each event's cycle is the
//! maximum of earlier events' cycles plus one, the result equals a cycle-by-cycle simulation,
//! and idle spans (compute-only iterations, stalls, gaps between frames) cost nothing.

use crate::fifo::Fifo;

/// A node's clock and its counters.
#[derive(Clone, Debug, Default)]
pub struct Core {
    pub timing: bool,
    /// The earliest cycle of the next iteration.
    pub t_next: u64,
    /// Iterations done (cycles in which the node made progress).
    pub busy: u64,
    /// Cycles lost waiting for a free output slot.
    pub stalled: u64,
    /// Cycles lost waiting for input.
    pub starved: u64,
    /// Cycle of the last iteration.
    pub last: u64,
}

impl Core {
    pub fn new(timing: bool) -> Core {
        Core { timing, ..Default::default() }
    }

    /// Schedules one iteration, after `skip` compute-only iterations, that reads from `inp` and
    /// writes to `out` where given; `dep_in` / `dep_out` are the cycles at which internal
    /// dependencies on the input / output side are met. The caller has checked that the FIFOs
    /// allow the read and write in simulation order. Returns the cycle.
    #[inline]
    pub fn op(&mut self, inp: Option<&Fifo>, out: Option<&Fifo>, skip: u64, dep_in: u64, dep_out: u64) -> u64 {
        self.busy += 1 + skip;
        if !self.timing {
            return 0;
        }
        let ready = self.t_next + skip;
        let tin = inp.map_or(0, Fifo::read_ready).max(dep_in);
        let tout = out.map_or(0, Fifo::write_free).max(dep_out);
        let t = ready.max(tin).max(tout);
        if t > ready {
            if tin >= tout {
                self.starved += t - ready;
            } else {
                self.stalled += t - ready;
            }
        }
        self.t_next = t + 1;
        self.last = t;
        t
    }
}

/// One node as the clock sees it.
pub trait Process {
    /// Runs iterations until the next one is blocked in simulation order; true if any ran.
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool;
    /// The node's main loop (the one that writes, where there are two).
    fn core(&self) -> &Core;
    /// Every loop of the node.
    fn cores(&self) -> Vec<&Core> {
        vec![self.core()]
    }
}

impl<P: Process + ?Sized> Process for &mut P {
    fn run(&mut self, inp: Option<&mut Fifo>, out: Option<&mut Fifo>) -> bool {
        (**self).run(inp, out)
    }
    fn core(&self) -> &Core {
        (**self).core()
    }
    fn cores(&self) -> Vec<&Core> {
        (**self).cores()
    }
}

/// Runs processes connected in a line (process i reads FIFO i−1 and writes FIFO i) until none
/// can move. A process depends on its neighbours only through the two FIFOs, so after it runs,
/// the consumer runs again only if it wrote a word and the producer only if it read one.
/// Returns the number of `run` calls.
pub fn run_line(procs: &mut [Box<dyn Process + '_>], fifos: &mut [Fifo]) -> u64 {
    let n = procs.len();
    debug_assert_eq!(fifos.len() + 1, n);
    let mut queued = vec![true; n];
    // Last first: downstream nodes drain before upstream nodes refill.
    let mut stack: Vec<usize> = (0..n).collect();
    let mut calls = 0;
    while let Some(i) = stack.pop() {
        queued[i] = false;
        calls += 1;
        let (before, after) = fifos.split_at_mut(i);
        let mut inp = if i > 0 { before.last_mut() } else { None };
        let mut out = after.first_mut();
        let reads = inp.as_ref().map_or(0, |f| f.reads);
        let writes = out.as_ref().map_or(0, |f| f.writes);
        procs[i].run(inp.as_deref_mut(), out.as_deref_mut());
        let read = inp.is_some_and(|f| f.reads != reads);
        let wrote = out.is_some_and(|f| f.writes != writes);
        for (j, wake) in [(i.wrapping_sub(1), read), (i + 1, wrote)] {
            if wake && j < n && !queued[j] {
                queued[j] = true;
                stack.push(j);
            }
        }
    }
    calls
}

use crate::fifo::UNBOUNDED;
use crate::graph::{Graph, Op};
use crate::iodma::{Sink, Source};
use crate::stream::words_for;
use crate::Error;

/// How to run a graph.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Keep cycle times (off: only the function, with unbounded FIFOs).
    pub timing: bool,
    /// Record every word on every FIFO.
    pub taps: bool,
    /// Earliest cycle at which the input IODMA may start each frame (empty: all at cycle 0).
    pub frame_start: Vec<u64>,
    /// Ignore the graph's FIFO depths and make every FIFO unbounded.
    pub unbounded: bool,
}

/// Counters of one node over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub busy: u64,
    pub stalled: u64,
    pub starved: u64,
    /// Cycle of the node's last iteration.
    pub last: u64,
    /// Iterations of a second loop (the SWU's reader), if any.
    pub reader_busy: Option<u64>,
}

/// What a run produced.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub frames: usize,
    /// The output IODMA's words, in order.
    pub output: Vec<u64>,
    /// Cycle of each frame's last output word.
    pub done: Vec<u64>,
    pub nodes: Vec<NodeStats>,
    pub fifo_max_occupancy: Vec<u64>,
    /// Per FIFO, every word that passed (when tapped).
    pub taps: Vec<Vec<u64>>,
    /// Scheduler steps (for the benchmark's curiosity).
    pub steps: u64,
}

impl Run {
    /// Single-frame latency: cycles until frame 0's last output word, from an empty pipeline.
    pub fn latency(&self) -> u64 {
        self.done.first().map_or(0, |d| d + 1)
    }
    /// Steady-state cycles per frame: the mean spacing of frame completions after the first
    /// (which includes the pipeline fill).
    pub fn cycles_per_frame(&self) -> f64 {
        match self.done.len() {
            0 => 0.0,
            1 => (self.done[0] + 1) as f64,
            2 => (self.done[1] - self.done[0]) as f64,
            n => (self.done[n - 1] - self.done[1]) as f64 / (n - 2) as f64,
        }
    }
}

/// Runs `frames` (the input IODMA's packed words) through the graph.
pub fn simulate(g: &Graph, input: &[u64], opts: &SimOptions) -> Result<Run, Error> {
    let first = &g.nodes[0];
    let last = g.nodes.last().expect("a graph has IODMAs");
    let wpw_in = words_for(first.out_bits);
    let per_frame = first.out_words * wpw_in;
    if per_frame == 0 || !input.len().is_multiple_of(per_frame) {
        return Err(Error::Invalid(format!(
            "input is {} words, not a whole number of frames of {per_frame}",
            input.len()
        )));
    }
    let frames = input.len() / per_frame;
    let mut fifos: Vec<Fifo> = g
        .fifos
        .iter()
        .map(|f| {
            let depth = if opts.unbounded || !opts.timing { UNBOUNDED } else { f.depth };
            let mut q = Fifo::new(f.bits, depth, opts.timing);
            if opts.taps {
                q.tap = Some(Vec::new());
            }
            q
        })
        .collect();
    let mut source = Source::new(input, wpw_in, first.out_words, opts.timing);
    source.frame_start = opts.frame_start.clone();
    let mut sink = Sink::new(last.in_words, words_for(last.in_bits), opts.timing);
    let (stats, steps) = {
        let mut procs: Vec<Box<dyn Process + '_>> = Vec::with_capacity(g.nodes.len());
        let (mut src, mut snk) = (Some(&mut source), Some(&mut sink));
        let twice = || Error::Invalid("a graph has one input and one output IODMA".into());
        for n in &g.nodes {
            let p: Box<dyn Process + '_> = match &n.op {
                Op::IoDmaIn => Box::new(src.take().ok_or_else(twice)?),
                Op::IoDmaOut => Box::new(snk.take().ok_or_else(twice)?),
                Op::Thresholding(t) => Box::new(t.process(opts.timing)),
                Op::Swu(s) => Box::new(s.process(opts.timing)),
                Op::Mvau(m) => Box::new(m.process(opts.timing)),
                Op::MaxPool(m) => Box::new(m.process(opts.timing)),
                Op::Dwc(d) => Box::new(d.process(opts.timing)),
                Op::LabelSelect(l) => Box::new(l.process(opts.timing)),
            };
            procs.push(p);
        }
        let steps = run_line(&mut procs, &mut fifos);
        let stats: Vec<NodeStats> = procs
            .iter()
            .map(|p| {
                let cores = p.cores();
                let c = cores[0];
                NodeStats {
                    busy: c.busy,
                    stalled: c.stalled + cores.get(1).map_or(0, |r| r.stalled),
                    starved: c.starved,
                    last: c.last,
                    reader_busy: cores.get(1).map(|r| r.busy),
                }
            })
            .collect();
        (stats, steps)
    };
    if sink.done.len() != frames {
        return Err(Error::Invalid(format!(
            "the pipeline stopped after {} of {frames} frames (a node could not make progress)",
            sink.done.len()
        )));
    }
    Ok(Run {
        frames,
        output: sink.data,
        done: sink.done,
        nodes: stats,
        fifo_max_occupancy: fifos.iter_mut().map(Fifo::max_occupancy).collect(),
        taps: fifos.iter_mut().map(|f| f.tap.take().unwrap_or_default()).collect(),
        steps,
    })
}
