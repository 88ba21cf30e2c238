//! A simulated FINN zynq-iodma accelerator: the two IODMA register windows (`idma0`, `odma0`)
//! behind hw's [`Mmio`] trait and a physical memory of [`HostBuffer`]s, so that hw's real
//! [`IodmaDriver`](binarycop_hw::driver::IodmaDriver) drives it exactly as it drives a board.
//!
//! **Protocol.** Each window has the HLS `ap_ctrl_hs` map of [`binarycop_hw::regs`]. ap_idle is
//! set whenever its DMA is not running; ap_done and ap_ready are set when a run ends and
//! cleared by the read that returns them. A run starts once both DMAs have ap_start (the
//! driver starts odma, then idma; either order works). At that moment the device checks the
//! programmed addresses against its memory, reads numReps packed UINT8 frames at idma0's
//! address, runs the bit-exact dataflow of the [`Graph`], and holds odma0's output (FINN's
//! packed layout: each stream word padded to whole bytes, lane 0 at bit 0) until odma0's
//! ap_done rises; it is written to memory then.
//!
//! **Time.** The device's clock is virtual and moves only when the host looks: every read of a
//! control register while a run is in flight is one poll. ap_done rises on poll
//! ⌈cycles / `cycles_per_poll`⌉, capped at `max_polls`, where `cycles` is the dataflow's
//! simulated cycle count (odma0: its last output word; idma0: its last input word). So a run
//! takes a fixed number of polls for given inputs (deterministic, never waits on wall time)
//! and with the default cap it ends inside the driver's first 32 busy polls, before it
//! sleeps. The cycle count itself is in [`SimDevice::last_run`].
//!
//! **Errors.** A DMA address range outside every buffer, numReps that differ between the DMAs,
//! ap_start while running or auto_restart make the device *hang* as a board would (ap_done
//! never rises, both DMAs read busy); the reason is kept in [`SimDevice::fault`] until
//! [`SimDevice::reset`] (reloading the bitstream). The device never reads or writes memory
//! outside a buffer.
//!
//! **Debug tap.** [`SimDevice::set_tap`] routes odma0 to another node's output stream (the
//! packed map of a layer) instead of the last node's, as a debug build of the accelerator
//! would; the driver then reads it with that node's [`IoShape`] ([`SimDevice::output_shape`]).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use binarycop_hw::dma::{DmaBuffer, HostBuffer};
use binarycop_hw::driver::{DriverConfig, DriverError, IoShape, IodmaDriver};
use binarycop_hw::mmio::{check_access, Mmio, MmioError};
use binarycop_hw::packing::DataType;
use binarycop_hw::regs::{self, Control, ControlValue};

use crate::clock::{simulate, SimOptions};
use crate::graph::{Graph, Op};
use crate::stream::{words_for, DType};
use crate::Error;

/// One of the two IODMAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dma {
    Idma,
    Odma,
}

impl Dma {
    /// FINN's instance name.
    pub fn name(self) -> &'static str {
        match self {
            Dma::Idma => "idma0",
            Dma::Odma => "odma0",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// What the device computes when a run starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Compute {
    /// The cycle-level dataflow with the graph's FIFO depths: outputs and simulated cycles.
    #[default]
    Timed,
    /// The function only (unbounded FIFOs); cycles are FINN's analytical numReps × slowest node.
    Functional,
    /// No dataflow: odma0 writes these bytes (whole output frames, repeated as needed) and the
    /// input is not read. For timing the driver alone; cycles as in `Functional`.
    Replay(Vec<u8>),
}

/// Faults a test can switch on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Runs compute but ap_done never rises (the accelerator hangs).
    pub done_never: bool,
    /// This DMA reads busy (ap_start set, ap_idle clear) whenever it is not running.
    pub busy_at_start: Option<Dma>,
    /// Flips bit 0 of every output frame's first byte.
    pub corrupt_output: bool,
}

/// How the device behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    pub compute: Compute,
    /// Simulated PL cycles that one control-register poll stands for.
    pub cycles_per_poll: u64,
    /// ap_done rises at the latest on this poll.
    pub max_polls: u32,
    /// Bytes in each register window (FINN's .hwh give 64 KiB).
    pub window_len: usize,
    /// Physical address of the first buffer [`SimDevice::alloc`] hands out.
    pub mem_base: u64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            compute: Compute::Timed,
            // 41 µs at 100 MHz: a CNV frame (~30 k cycles) is done on the first polls.
            cycles_per_poll: 4096,
            // Below the driver's 32 busy polls, so it never sleeps on a simulated device.
            max_polls: 24,
            window_len: 0x1_0000,
            mem_base: 0x1000_0000,
        }
    }
}

/// What the last run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    pub frames: usize,
    pub input_addr: u64,
    pub output_addr: u64,
    /// The node whose output stream odma0 wrote.
    pub stream: String,
    /// Simulated cycles until odma0's last word and idma0's last word.
    pub cycles: u64,
    pub idma_cycles: u64,
    /// The poll (control-register read after the start) on which odma0's ap_done rises.
    pub done_poll: u32,
}

/// Physical memory is laid out in pages; a free page separates buffers so that an overrun
/// lands outside every buffer.
const PAGE: u64 = 4096;

#[derive(Debug)]
struct Region {
    phys: u64,
    /// Bytes the device can reach (less than the buffer's length for a fault-injected "short"
    /// buffer).
    visible: usize,
    buf: HostBuffer,
}

#[derive(Clone, Copy, Debug, Default)]
struct Window {
    /// 0x00..0x1C; index 0 (control) is not used.
    regs: [u32; 8],
    running: bool,
    done: bool,
    ready: bool,
    done_poll: u32,
}

#[derive(Debug)]
struct State {
    graph: Graph,
    cfg: DeviceConfig,
    faults: Faults,
    /// Node index odma0 reads; None: the last node.
    tap: Option<usize>,
    win: [Window; 2],
    launched: bool,
    polls: u32,
    /// Region index, offset and bytes odma0 writes when it is done.
    pending: Option<(usize, usize, Vec<u8>)>,
    regions: Vec<Region>,
    next_phys: u64,
    fault: Option<String>,
    last: Option<RunRecord>,
    runs: u64,
}

/// The simulated accelerator. Clones share the device; windows and buffers refer to it.
#[derive(Clone, Debug)]
pub struct SimDevice {
    state: Arc<Mutex<State>>,
}

/// One IODMA's register window on a [`SimDevice`].
#[derive(Clone, Debug)]
pub struct SimWindow {
    state: Arc<Mutex<State>>,
    dma: Dma,
    len: usize,
}

/// The FINN DataType of a stream's lanes. 1-bit streams of these graphs carry bipolar
/// activations (bit 1 = +1), so they read as BIPOLAR; the bits are BINARY's.
fn finn_type(d: DType) -> Result<DataType, Error> {
    let t = match (d.bits, d.signed) {
        (1, false) => Ok(DataType::BIPOLAR),
        (b, true) => DataType::int(b),
        (b, false) => DataType::uint(b),
    };
    t.map_err(|e| Error::Invalid(format!("{} has no FINN packing: {e}", d.finn_name())))
}

/// A node's output as the driver sees it in memory: words per frame, lanes per word.
fn node_shape(g: &Graph, i: usize) -> Result<IoShape, Error> {
    let n = &g.nodes[i];
    let dt = match &n.op {
        Op::Thresholding(t) => t.out,
        Op::Mvau(m) => m.out,
        Op::MaxPool(_) => DType::BINARY,
        Op::Swu(s) => s.dtype,
        Op::LabelSelect(l) => l.out,
        Op::Dwc(_) | Op::IoDmaIn | Op::IoDmaOut => {
            return Err(Error::node(&n.name, "has no output stream of its own to tap"));
        }
    };
    let lane = dt.bits as usize;
    if lane == 0 || !n.out_bits.is_multiple_of(lane) {
        return Err(Error::node(&n.name, format!("{}-bit words are not whole {}-bit lanes", n.out_bits, lane)));
    }
    Ok(IoShape::new(finn_type(dt)?, n.out_words, n.out_bits / lane))
}

/// Stream words of `bits` bits as FINN's packed bytes: each word little-endian, padded to
/// whole bytes (the driver's layout).
fn words_to_bytes(words: &[u64], bits: usize, out: &mut Vec<u8>) {
    let wpw = words_for(bits);
    let nb = bits.div_ceil(8);
    for w in words.chunks_exact(wpw) {
        out.extend((0..nb).map(|b| (w[b / 8] >> (8 * (b % 8))) as u8));
    }
}

fn polls_for(cycles: u64, cfg: &DeviceConfig) -> u32 {
    let p = cycles.div_ceil(cfg.cycles_per_poll.max(1)).max(1);
    p.min(u64::from(cfg.max_polls.max(1))) as u32
}

impl State {
    fn in_frame(&self) -> usize {
        let (h, w, c) = self.graph.input;
        h * w * c
    }

    fn out_node(&self) -> usize {
        self.tap.unwrap_or(self.graph.nodes.len() - 2)
    }

    fn out_shape(&self) -> Result<IoShape, Error> {
        node_shape(&self.graph, self.out_node())
    }

    fn addr(&self, d: Dma) -> u64 {
        let r = &self.win[d.index()].regs;
        u64::from(r[regs::ADDR_LO / 4]) | (u64::from(r[regs::ADDR_HI / 4]) << 32)
    }

    /// Hangs the accelerator: both DMAs read busy and never finish until `reset`.
    fn hang(&mut self, why: String) {
        if self.fault.is_none() {
            self.fault = Some(why);
        }
        self.pending = None;
        for w in &mut self.win {
            w.running = true;
            w.done = false;
            w.ready = false;
        }
    }

    /// The buffer holding `addr..addr+len` whole, as (region, offset).
    fn resolve(&self, addr: u64, len: usize) -> Result<(usize, usize), String> {
        for (k, r) in self.regions.iter().enumerate() {
            if let Some(off) = addr.checked_sub(r.phys) {
                if off.checked_add(len as u64).is_some_and(|end| end <= r.visible as u64) {
                    return Ok((k, off as usize));
                }
            }
        }
        let mut known = String::new();
        for r in &self.regions {
            let _ = write!(known, " {:#x}+{:#x}", r.phys, r.visible);
        }
        Err(format!("{len} bytes at {addr:#x} are not inside one DMA buffer (buffers:{known})"))
    }

    fn read_ctrl(&mut self, d: Dma) -> u32 {
        self.advance();
        let busy_fault = self.faults.busy_at_start == Some(d);
        let w = &mut self.win[d.index()];
        let mut v = ControlValue::new(0);
        if w.running || busy_fault {
            v.modify(Control::AP_START::SET);
        } else {
            v.modify(Control::AP_IDLE::SET);
        }
        if std::mem::take(&mut w.done) {
            v.modify(Control::AP_DONE::SET);
        }
        if std::mem::take(&mut w.ready) {
            v.modify(Control::AP_READY::SET);
        }
        v.get()
    }

    /// One poll of the virtual clock.
    fn advance(&mut self) {
        if !self.launched || self.fault.is_some() {
            return;
        }
        self.polls = self.polls.saturating_add(1);
        for d in [Dma::Idma, Dma::Odma] {
            let w = &mut self.win[d.index()];
            if w.running && self.polls >= w.done_poll {
                w.running = false;
                w.done = true;
                w.ready = true;
                if d == Dma::Odma {
                    self.commit();
                }
            }
        }
        if !self.win.iter().any(|w| w.running) {
            self.launched = false;
        }
    }

    fn commit(&mut self) {
        if let Some((k, off, bytes)) = self.pending.take() {
            self.regions[k].buf.lock()[off..off + bytes.len()].copy_from_slice(&bytes);
        }
    }

    fn write_ctrl(&mut self, d: Dma, value: u32) {
        let c = ControlValue::new(value);
        if c.is_set(Control::AUTO_RESTART) {
            self.hang(format!("{}: auto_restart is not modelled (FINN's driver never sets it)", d.name()));
            return;
        }
        if !c.is_set(Control::AP_START) || self.fault.is_some() || self.faults.busy_at_start == Some(d) {
            return;
        }
        if self.win[d.index()].running {
            self.hang(format!("{}: ap_start written while a run was in progress", d.name()));
            return;
        }
        let w = &mut self.win[d.index()];
        w.running = true;
        w.done = false;
        w.ready = false;
        if self.win.iter().all(|w| w.running) && !self.launched {
            if let Err(why) = self.launch() {
                self.hang(why);
            }
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        self.launched = true;
        self.polls = 0;
        self.runs += 1;
        let reps = self.win[Dma::Idma.index()].regs[regs::NUM_REPS / 4];
        let reps_out = self.win[Dma::Odma.index()].regs[regs::NUM_REPS / 4];
        if reps != reps_out {
            return Err(format!("numReps differ: idma0 {reps}, odma0 {reps_out}; odma0 would wait forever"));
        }
        let reps = reps as usize;
        let shape = self.out_shape().map_err(|e| e.to_string())?;
        let (fin, fout) = (self.in_frame(), shape.frame_bytes());
        let (ia, oa) = (self.addr(Dma::Idma), self.addr(Dma::Odma));
        let too_big = || format!("numReps {reps} makes a transfer larger than the address space");
        let (ilen, olen) = (reps.checked_mul(fin).ok_or_else(too_big)?, reps.checked_mul(fout).ok_or_else(too_big)?);
        let (ik, ioff) = self.resolve(ia, ilen).map_err(|e| format!("idma0 reads {e}"))?;
        let (ok, ooff) = self.resolve(oa, olen).map_err(|e| format!("odma0 writes {e}"))?;
        let stream = self.graph.nodes[self.out_node()].name.clone();

        let analytical = reps as u64 * self.graph.max_exp_cycles();
        let (mut out, cycles, idma_cycles) = if reps == 0 {
            (Vec::new(), 0, 0)
        } else {
            match &self.cfg.compute {
                Compute::Replay(bytes) => {
                    if bytes.is_empty() || bytes.len() % fout != 0 {
                        return Err(format!(
                            "replay data of {} bytes is not whole output frames of {fout}",
                            bytes.len()
                        ));
                    }
                    (bytes.iter().copied().cycle().take(olen).collect(), analytical, analytical)
                }
                mode => {
                    let timing = *mode == Compute::Timed;
                    let input = self.regions[ik].buf.lock()[ioff..ioff + ilen].to_vec();
                    self.dataflow(&input, timing).map_err(|e| format!("dataflow: {e}"))?
                }
            }
        };
        if out.len() != olen {
            return Err(format!("{stream} produced {} bytes, odma0 expects {olen}", out.len()));
        }
        if self.faults.corrupt_output {
            for f in out.chunks_mut(fout) {
                f[0] ^= 1;
            }
        }
        let cycles = if reps == 0 || self.cfg.compute == Compute::Timed { cycles } else { analytical };
        let never = self.faults.done_never;
        let done_poll = if never { u32::MAX } else { polls_for(cycles, &self.cfg) };
        let idma_poll = if never { u32::MAX } else { polls_for(idma_cycles.min(cycles), &self.cfg) };
        self.win[Dma::Odma.index()].done_poll = done_poll;
        self.win[Dma::Idma.index()].done_poll = idma_poll;
        self.pending = Some((ok, ooff, out));
        self.last = Some(RunRecord {
            frames: reps,
            input_addr: ia,
            output_addr: oa,
            stream,
            cycles,
            idma_cycles: idma_cycles.min(cycles),
            done_poll,
        });
        Ok(())
    }

    /// Runs packed input frames through the graph: odma0's bytes, cycles, idma0's cycles.
    fn dataflow(&self, input: &[u8], timing: bool) -> Result<(Vec<u8>, u64, u64), Error> {
        let frames: Vec<&[u8]> = input.chunks_exact(self.in_frame()).collect();
        let words = self.graph.pack_frames(&frames)?;
        let opts = SimOptions { timing, taps: self.tap.is_some(), ..Default::default() };
        let run = simulate(&self.graph, &words, &opts)?;
        let i = self.out_node();
        let stream = match self.tap {
            Some(t) => &run.taps[t],
            None => &run.output,
        };
        let mut out = Vec::new();
        words_to_bytes(stream, self.graph.nodes[i].out_bits, &mut out);
        let cycles = run.done.last().map_or(0, |d| d + 1);
        let idma = run.nodes.first().map_or(0, |s| s.last + 1);
        Ok((out, cycles, idma))
    }
}

impl SimDevice {
    /// A device running `graph` (built with [`Graph::build`] from a lowered model).
    pub fn new(graph: Graph, cfg: DeviceConfig) -> Result<SimDevice, Error> {
        if graph.nodes.len() < 3 || !matches!(graph.nodes[0].op, Op::IoDmaIn) {
            return Err(Error::Invalid("the graph must run from an input IODMA to an output IODMA".into()));
        }
        if !graph.nodes[0].out_bits.is_multiple_of(8) {
            return Err(Error::Invalid("the first node's input is not whole UINT8 pixels".into()));
        }
        if cfg.window_len < 4 {
            return Err(Error::Invalid(format!("a register window of {} bytes holds no register", cfg.window_len)));
        }
        node_shape(&graph, graph.nodes.len() - 2)?;
        let next_phys = cfg.mem_base.next_multiple_of(PAGE);
        let state = State {
            graph,
            cfg,
            faults: Faults::default(),
            tap: None,
            win: [Window::default(); 2],
            launched: false,
            polls: 0,
            pending: None,
            regions: Vec::new(),
            next_phys,
            fault: None,
            last: None,
            runs: 0,
        };
        Ok(SimDevice { state: Arc::new(Mutex::new(state)) })
    }

    fn st(&self) -> MutexGuard<'_, State> {
        // State stays consistent between statements; a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The register window of one DMA.
    pub fn window(&self, dma: Dma) -> SimWindow {
        let len = self.st().cfg.window_len;
        SimWindow { state: self.state.clone(), dma, len }
    }

    /// A zeroed buffer of `len` bytes in the device's memory, at the next free page.
    pub fn alloc(&self, len: usize) -> HostBuffer {
        let mut st = self.st();
        let phys = st.next_phys;
        let buf = HostBuffer::new(phys, len);
        st.next_phys = (phys + len as u64).next_multiple_of(PAGE) + PAGE;
        st.regions.push(Region { phys, visible: len, buf: buf.clone() });
        buf
    }

    /// Puts a buffer made elsewhere (any address, e.g. a misaligned one) into the memory.
    /// `visible` < its length makes the device reach only that much: a short buffer.
    pub fn attach(&self, buf: &HostBuffer, visible: Option<usize>) -> Result<(), Error> {
        let mut st = self.st();
        let (phys, len) = (buf.phys_addr(), buf.len());
        let end = phys
            .checked_add(len as u64)
            .ok_or_else(|| Error::Invalid(format!("buffer at {phys:#x} wraps the address space")))?;
        if let Some(r) = st.regions.iter().find(|r| phys < r.phys + r.buf.len() as u64 && r.phys < end) {
            return Err(Error::Invalid(format!(
                "buffer {phys:#x}+{len:#x} overlaps the buffer at {:#x}+{:#x}",
                r.phys,
                r.buf.len()
            )));
        }
        st.regions.push(Region { phys, visible: visible.unwrap_or(len).min(len), buf: buf.clone() });
        st.next_phys = st.next_phys.max(end.next_multiple_of(PAGE) + PAGE);
        Ok(())
    }

    /// The IODMA driver on this device's two windows, with buffers from [`SimDevice::alloc`],
    /// for frames of `input` and `output` (the device's own [`input_shape`](Self::input_shape)
    /// and [`output_shape`](Self::output_shape), or what a deployment's driver.py says).
    pub fn driver(
        &self,
        ibuf: HostBuffer,
        obuf: HostBuffer,
        input: IoShape,
        output: IoShape,
        cfg: DriverConfig,
    ) -> Result<IodmaDriver<SimWindow, HostBuffer>, DriverError> {
        IodmaDriver::new(self.window(Dma::Idma), self.window(Dma::Odma), ibuf, obuf, input, output, cfg)
    }

    /// Packed UINT8 input frames: H·W rows of C bytes.
    pub fn input_shape(&self) -> IoShape {
        let (h, w, c) = self.st().graph.input;
        IoShape::new(DataType::UINT8, h * w, c)
    }

    /// What odma0 writes per frame now: the last node's output, or the tapped node's.
    pub fn output_shape(&self) -> IoShape {
        self.st().out_shape().expect("checked when the device was made or the tap was set")
    }

    /// Routes odma0 to `node`'s output stream (None: back to the last node). Only while idle.
    pub fn set_tap(&self, node: Option<&str>) -> Result<(), Error> {
        let mut st = self.st();
        let tap = match node {
            None => None,
            Some(name) => {
                let i = st.graph.nodes.iter().position(|n| n.name == name).ok_or_else(|| {
                    let names: Vec<&str> = st.graph.nodes.iter().map(|n| n.name.as_str()).collect();
                    Error::node(name, format!("is not a node of this graph (nodes: {})", names.join(", ")))
                })?;
                node_shape(&st.graph, i)?;
                Some(i)
            }
        };
        if tap != st.tap && st.win.iter().any(|w| w.running) {
            return Err(Error::Invalid(match &st.fault {
                Some(f) => format!("the tap cannot change: the device hung ({f}); reset it"),
                None => "the tap cannot change while a run is in flight".into(),
            }));
        }
        st.tap = tap;
        Ok(())
    }

    pub fn set_faults(&self, faults: Faults) {
        self.st().faults = faults;
    }

    pub fn set_compute(&self, compute: Compute) {
        self.st().cfg.compute = compute;
    }

    /// Why the device hung, if it did.
    pub fn fault(&self) -> Option<String> {
        self.st().fault.clone()
    }

    /// Back to idle, as after reloading the bitstream: clears registers, runs in flight and
    /// the fault. Memory, the tap and the fault switches stay.
    pub fn reset(&self) {
        let mut st = self.st();
        st.win = [Window::default(); 2];
        st.launched = false;
        st.polls = 0;
        st.pending = None;
        st.fault = None;
    }

    pub fn last_run(&self) -> Option<RunRecord> {
        self.st().last.clone()
    }

    /// Runs started since the device was made.
    pub fn runs(&self) -> u64 {
        self.st().runs
    }
}

impl Mmio for SimWindow {
    fn window_len(&self) -> usize {
        self.len
    }

    fn read32(&mut self, offset: usize) -> Result<u32, MmioError> {
        check_access(self.dma.name(), offset, self.len)?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match offset {
            regs::CTRL => st.read_ctrl(self.dma),
            o if o < regs::WINDOW_MIN => st.win[self.dma.index()].regs[o / 4],
            // Offsets past the HLS map decode to nothing.
            _ => 0,
        })
    }

    fn write32(&mut self, offset: usize, value: u32) -> Result<(), MmioError> {
        check_access(self.dma.name(), offset, self.len)?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match offset {
            regs::CTRL => st.write_ctrl(self.dma, value),
            // Interrupt status is toggle-on-write in HLS.
            regs::ISR => st.win[self.dma.index()].regs[regs::ISR / 4] ^= value,
            o if o < regs::WINDOW_MIN => st.win[self.dma.index()].regs[o / 4] = value,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use binarycop_hw::folding::FoldingConfig;

    use super::*;
    use crate::graph::LayerSpec;
    use crate::label_select::LabelSelect;
    use crate::mvau::{Activation, BitRows, MvauSpec};
    use crate::stream::lanes;
    use crate::swu::SwuSpec;
    use crate::thresholding::ThresholdingSpec;

    fn rng(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    fn weights(rows: usize, cols: usize, seed: &mut u64) -> BitRows {
        let mut w = BitRows::zeros(rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                w.set(r, c, rng(seed) & 1 == 1);
            }
        }
        w
    }

    /// 6×6×2 UINT8 → 2-bit codes → 3×3 conv (4 channels, thresholds) → fc to 5 scores →
    /// LabelSelect, folded with PE/SIMD > 1 so words carry several lanes.
    fn graph() -> Graph {
        let mut s = 11;
        let layers = vec![
            LayerSpec::Thresholding(ThresholdingSpec {
                channels: 2,
                vectors: 36,
                thresholds: vec![vec![64, 128, 192]],
                act_val: -2,
                input: DType::UINT8,
                out: DType::new(2, true),
            }),
            LayerSpec::Swu(SwuSpec { height: 6, width: 6, channels: 2, kernel: 3, dtype: DType::new(2, true) }),
            LayerSpec::Mvau(MvauSpec {
                mw: 18,
                mh: 4,
                vectors: 16,
                input: DType::new(2, true),
                weights: weights(4, 18, &mut s),
                activation: Activation::Thresholds {
                    thresholds: (0..4).map(|r| vec![r as i64 - 2]).collect(),
                    act_val: 0,
                    out: DType::BINARY,
                },
            }),
            LayerSpec::Mvau(MvauSpec {
                mw: 64,
                mh: 5,
                vectors: 1,
                input: DType::BINARY,
                weights: weights(5, 64, &mut s),
                activation: Activation::Acc { out: DType::new(8, false) },
            }),
            LayerSpec::LabelSelect { labels: 5, k: 1 },
        ];
        let cfg = FoldingConfig::from_json(
            r#"{"Thresholding_rtl_0": {"PE": 2}, "ConvolutionInputGenerator_rtl_0": {"SIMD": 2},
                "MVAU_hls_0": {"PE": 2, "SIMD": 6}, "MVAU_hls_1": {"PE": 5, "SIMD": 16}}"#,
        )
        .unwrap();
        Graph::build(&layers, &cfg, (6, 6, 2)).unwrap()
    }

    fn images(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n * 72).map(|_| rng(&mut s) as u8).collect()
    }

    /// The graph run directly: every node's lanes, per node index.
    fn direct(g: &Graph, imgs: &[u8]) -> crate::clock::Run {
        let frames: Vec<&[u8]> = imgs.chunks(72).collect();
        let words = g.pack_frames(&frames).unwrap();
        simulate(g, &words, &SimOptions { timing: true, taps: true, ..Default::default() }).unwrap()
    }

    fn labels_of(g: &Graph, run: &crate::clock::Run) -> Vec<i64> {
        let i = g.nodes.iter().position(|n| matches!(n.op, Op::LabelSelect(_))).unwrap();
        let scores_node = i - 1 - usize::from(matches!(g.nodes[i - 1].op, Op::Dwc(_)));
        let Op::Mvau(m) = &g.nodes[scores_node].op else { panic!("scores come from an MVAU") };
        let scores = lanes(&run.taps[scores_node], g.nodes[scores_node].out_bits, m.out);
        let Op::LabelSelect(l) = &g.nodes[i].op else { unreachable!() };
        let l: &LabelSelect = l;
        scores.chunks(5).map(|s| l.select(s)[0] as i64).collect()
    }

    struct Rig {
        dev: SimDevice,
        ibuf: HostBuffer,
        obuf: HostBuffer,
    }

    fn rig(cfg: DeviceConfig, frames: usize) -> Rig {
        let dev = SimDevice::new(graph(), cfg).unwrap();
        let ibuf = dev.alloc(72 * frames);
        let obuf = dev.alloc(64 * frames);
        Rig { dev, ibuf, obuf }
    }

    fn quick() -> DriverConfig {
        DriverConfig { timeout: Duration::from_millis(30), per_frame: Duration::ZERO, ..Default::default() }
    }

    impl Rig {
        fn driver(&self, out: IoShape, cfg: DriverConfig) -> Result<IodmaDriver<SimWindow, HostBuffer>, DriverError> {
            self.dev.driver(self.ibuf.clone(), self.obuf.clone(), self.dev.input_shape(), out, cfg)
        }
    }

    #[test]
    fn the_real_driver_gets_the_dataflow_labels() {
        let r = rig(DeviceConfig::default(), 8);
        let g = graph();
        let imgs = images(11, 5);
        let want = labels_of(&g, &direct(&g, &imgs));
        assert!(want.iter().any(|&l| l != want[0]), "the images give different labels: {want:?}");
        let mut drv = r.driver(r.dev.output_shape(), DriverConfig::default()).unwrap();
        assert_eq!(r.dev.output_shape(), IoShape::new(DataType::UINT8, 1, 1));
        // 11 frames in runs of 8 and 3.
        let got: Vec<i64> = drv.execute::<u8, u8>(&imgs).unwrap().into_iter().map(i64::from).collect();
        assert_eq!(got, want);
        assert_eq!(r.dev.runs(), 2);
        let last = r.dev.last_run().unwrap();
        assert_eq!((last.frames, last.input_addr, last.output_addr), (3, r.ibuf.phys_addr(), r.obuf.phys_addr()));
        assert_eq!(last.stream, "LabelSelect_hls_0");
        assert_eq!(last.cycles, direct(&g, &imgs[8 * 72..]).done[2] + 1);
        assert_eq!(r.dev.fault(), None);
    }

    #[test]
    fn hls_control_bits_and_deterministic_done() {
        let cfg = DeviceConfig { cycles_per_poll: 50, max_polls: 1000, ..Default::default() };
        let r = rig(cfg, 2);
        let (mut i, mut o) = (r.dev.window(Dma::Idma), r.dev.window(Dma::Odma));
        assert_eq!((i.read32(0).unwrap(), o.read32(0).unwrap()), (0x4, 0x4));
        r.ibuf.lock().copy_from_slice(&images(2, 9));
        r.obuf.lock().fill(0xee);
        for (w, b) in [(&mut o, &r.obuf), (&mut i, &r.ibuf)] {
            w.write32(regs::ADDR_LO, b.phys_addr() as u32).unwrap();
            w.write32(regs::ADDR_HI, 0).unwrap();
            w.write32(regs::NUM_REPS, 2).unwrap();
            assert_eq!(w.read32(regs::NUM_REPS).unwrap(), 2);
        }
        o.write32(0, 1).unwrap();
        // odma alone waits for its input.
        assert_eq!(o.read32(0).unwrap(), 0x1);
        i.write32(0, 1).unwrap();
        let rec = r.dev.last_run().unwrap();
        let want = rec.cycles.div_ceil(50) as u32;
        assert!(want > 2 && rec.done_poll == want, "{rec:?}");
        let mut polls = 0;
        let done = loop {
            polls += 1;
            let v = o.read32(0).unwrap();
            if v & 0x2 != 0 {
                break v;
            }
            assert_eq!(v, 0x1, "running: ap_start, not idle");
            // The output appears only with ap_done.
            assert_eq!(r.obuf.lock()[0], 0xee);
        };
        assert_eq!(done, 0xe, "done, idle, ready");
        assert_eq!(polls, want);
        assert_eq!(o.read32(0).unwrap(), 0x4, "done and ready clear on read");
        // idma finished first; its done waits for its own read.
        assert_eq!(i.read32(0).unwrap(), 0xe);
        let g = graph();
        let labels = labels_of(&g, &direct(&g, &images(2, 9)));
        assert_eq!(r.obuf.lock()[..2].iter().map(|&b| b as i64).collect::<Vec<_>>(), labels);
        assert_eq!(o.read32(regs::ISR).unwrap(), 0);
        o.write32(regs::ISR, 1).unwrap();
        o.write32(regs::ISR, 1).unwrap();
        assert_eq!(o.read32(regs::ISR).unwrap(), 0, "toggle on write");
        assert_eq!(o.read32(0x100).unwrap(), 0, "unmapped offsets read 0");
    }

    #[test]
    fn windows_refuse_what_real_windows_refuse() {
        let r = rig(DeviceConfig { window_len: 0x40, ..Default::default() }, 1);
        let mut w = r.dev.window(Dma::Odma);
        assert!(matches!(w.read32(0x40), Err(MmioError::OutOfWindow { offset: 0x40, len: 0x40, .. })));
        assert!(matches!(w.write32(0x12, 1), Err(MmioError::Misaligned { offset: 0x12, .. })));
        assert!(matches!(w.read32(usize::MAX - 3), Err(MmioError::OutOfWindow { .. })));
        assert!(w.read32(0x3c).is_ok());
        let small = SimDevice::new(graph(), DeviceConfig { window_len: 0x1c, ..Default::default() }).unwrap();
        let e = IodmaDriver::new(
            small.window(Dma::Idma),
            small.window(Dma::Odma),
            r.ibuf.clone(),
            r.obuf.clone(),
            small.input_shape(),
            small.output_shape(),
            DriverConfig::default(),
        );
        assert!(matches!(e, Err(DriverError::Mmio(MmioError::OutOfWindow { offset: 0x1c, .. }))));
    }

    #[test]
    fn addresses_outside_memory_hang_and_are_reported() {
        let dev = SimDevice::new(graph(), DeviceConfig::default()).unwrap();
        // The driver's buffers are not in the device's memory.
        let ibuf = HostBuffer::new(0x7000_0000, 72);
        let obuf = dev.alloc(64);
        obuf.lock().fill(0xab);
        let mut drv = IodmaDriver::new(
            dev.window(Dma::Idma),
            dev.window(Dma::Odma),
            ibuf,
            obuf.clone(),
            dev.input_shape(),
            dev.output_shape(),
            quick(),
        )
        .unwrap();
        let t = Instant::now();
        assert!(matches!(drv.execute_u8(&images(1, 1)), Err(DriverError::Timeout { .. })));
        assert!(t.elapsed() < Duration::from_secs(2));
        let f = dev.fault().unwrap();
        assert!(f.contains("idma0") && f.contains("0x70000000"), "{f}");
        assert!(obuf.lock().iter().all(|&b| b == 0xab), "nothing was written");
        // Hung until reset: the next run is refused as busy.
        assert!(matches!(drv.execute_u8(&images(1, 1)), Err(DriverError::NotIdle { .. })));
        dev.reset();
        assert_eq!(dev.fault(), None);
        assert_eq!(dev.window(Dma::Odma).read32(0).unwrap(), 0x4);
    }

    #[test]
    fn short_buffers_and_mismatched_reps_hang() {
        let dev = SimDevice::new(graph(), DeviceConfig::default()).unwrap();
        let ibuf = HostBuffer::new(0x2000_0000, 4 * 72);
        dev.attach(&ibuf, Some(3 * 72)).unwrap();
        assert!(dev.attach(&HostBuffer::new(0x2000_0040, 8), None).unwrap_err().to_string().contains("overlaps"));
        let obuf = dev.alloc(64);
        let mut drv = IodmaDriver::new(
            dev.window(Dma::Idma),
            dev.window(Dma::Odma),
            ibuf,
            obuf,
            dev.input_shape(),
            dev.output_shape(),
            quick(),
        )
        .unwrap();
        drv.execute_u8(&images(3, 2)).unwrap();
        assert!(matches!(drv.execute_u8(&images(4, 2)), Err(DriverError::Timeout { batch: 4, .. })));
        assert!(dev.fault().unwrap().contains("288 bytes at 0x20000000"), "{:?}", dev.fault());

        dev.reset();
        let (mut i, mut o) = (dev.window(Dma::Idma), dev.window(Dma::Odma));
        i.write32(regs::NUM_REPS, 2).unwrap();
        o.write32(regs::NUM_REPS, 3).unwrap();
        o.write32(0, 1).unwrap();
        i.write32(0, 1).unwrap();
        assert!(dev.fault().unwrap().contains("numReps differ"));
        assert_eq!(o.read32(0).unwrap(), 0x1);
    }

    #[test]
    fn injected_faults() {
        let r = rig(DeviceConfig::default(), 2);
        let out = r.dev.output_shape();
        for (d, name) in [(Dma::Odma, "odma"), (Dma::Idma, "idma")] {
            r.dev.set_faults(Faults { busy_at_start: Some(d), ..Default::default() });
            let mut drv = r.driver(out, quick()).unwrap();
            match drv.execute_u8(&images(1, 3)) {
                Err(DriverError::NotIdle { dma, ctrl: 1 }) => assert_eq!(dma, name),
                other => panic!("{other:?}"),
            }
        }
        r.dev.set_faults(Faults { done_never: true, ..Default::default() });
        let mut drv = r.driver(out, quick()).unwrap();
        let t = Instant::now();
        assert!(matches!(drv.execute_u8(&images(2, 3)), Err(DriverError::Timeout { batch: 2, .. })));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        r.dev.reset();
        r.dev.set_faults(Faults { corrupt_output: true, ..Default::default() });
        let g = graph();
        let want = labels_of(&g, &direct(&g, &images(2, 3)));
        let got = drv.execute_u8(&images(2, 3)).unwrap();
        assert_eq!(got.iter().zip(&want).map(|(&a, &b)| i64::from(a ^ 1) - b).collect::<Vec<_>>(), [0, 0]);
    }

    #[test]
    fn the_tap_routes_a_layer_through_the_driver() {
        let r = rig(DeviceConfig::default(), 4);
        let g = graph();
        let imgs = images(3, 7);
        let run = direct(&g, &imgs);
        for name in ["Thresholding_rtl_0", "MVAU_hls_0", "MVAU_hls_1"] {
            r.dev.set_tap(Some(name)).unwrap();
            let i = g.nodes.iter().position(|n| n.name == name).unwrap();
            let shape = r.dev.output_shape();
            let mut drv = r.driver(shape, DriverConfig::default()).unwrap();
            let got: Vec<i64> = drv.execute::<u8, i64>(&imgs).unwrap();
            let dt = match &g.nodes[i].op {
                Op::Thresholding(t) => t.out,
                Op::Mvau(m) => m.out,
                _ => unreachable!(),
            };
            let mut want = lanes(&run.taps[i], g.nodes[i].out_bits, dt);
            if dt == DType::BINARY {
                // Read as BIPOLAR.
                want.iter_mut().for_each(|v| *v = 2 * *v - 1);
            }
            assert_eq!(got, want, "{name}");
            assert_eq!(r.dev.last_run().unwrap().stream, name);
        }
        assert_eq!(r.dev.output_shape(), IoShape::new(DataType::uint(8).unwrap(), 1, 5));
        let mvau0 = g.nodes.iter().position(|n| n.name == "MVAU_hls_0").unwrap();
        assert_eq!(node_shape(&g, mvau0).unwrap(), IoShape::new(DataType::BIPOLAR, 32, 2));
        assert!(r.dev.set_tap(Some("MVAU_hls_9")).unwrap_err().to_string().contains("MVAU_hls_0"));
        assert!(r.dev.set_tap(Some("IODMA_hls_0")).is_err());
        r.dev.set_tap(None).unwrap();
        assert_eq!(r.dev.output_shape(), IoShape::new(DataType::UINT8, 1, 1));
    }

    #[test]
    fn replay_writes_the_given_frames_without_computing() {
        let r = rig(DeviceConfig { compute: Compute::Replay(vec![3, 1]), ..Default::default() }, 8);
        let mut drv = r.driver(r.dev.output_shape(), DriverConfig::default()).unwrap();
        assert_eq!(drv.execute_u8(&images(5, 1)).unwrap(), [3, 1, 3, 1, 3]);
        assert_eq!(r.dev.last_run().unwrap().cycles, 5 * graph().max_exp_cycles());
        r.dev.set_compute(Compute::Functional);
        let g = graph();
        let want = labels_of(&g, &direct(&g, &images(5, 1)));
        let got: Vec<i64> = drv.execute_u8(&images(5, 1)).unwrap().into_iter().map(i64::from).collect();
        assert_eq!(got, want);
    }
}
