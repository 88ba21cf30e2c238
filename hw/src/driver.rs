//! The zynq-iodma protocol of FINN's PYNQ driver (`driver_base.py::execute_on_buffers`,
//! finn.md §7), generic over register windows ([`Mmio`]) and buffers ([`DmaBuffer`]), so the
//! same code drives a board and a simulated device.
//!
//! One run of `batch` frames:
//! 1. odma (then idma) must be idle (control bit 2). FINN checks odma only; a busy idma would
//!    hang the run just the same, so both are checked.
//! 2. The input range is cleaned for the device, the output range invalidated.
//! 3. odma, then idma: buffer address low and high word, numReps = batch, ap_start. The output
//!    side starts first so it is ready to drain what the input side pushes.
//! 4. odma's ap_done (bit 1) is polled: a few immediate reads, then sleeps doubling from
//!    `poll_start` to `poll_max`, until `timeout + per_frame·batch` has passed.
//! 5. The output range is handed back to the CPU (invalidated) and read.
//!
//! Buffers must start on `alignment` bytes (64 by default): the IODMA's 64-bit AXI-MM
//! master reads whole bus words (HLS m_axi does no unaligned access), and 64 bytes is the
//! largest cache line of the Zynq cores, so cache maintenance on one buffer never touches a
//! neighbour's line. Batches are bounded by the buffers; [`IodmaDriver::execute_packed`]
//! splits a larger input into runs that fit.
//!
//! After a [`DriverError::Timeout`] the accelerator may still own the buffers; reload the
//! bitstream before trusting it again.

use std::time::{Duration, Instant};

use crate::dma::{Direction, DmaBuffer, DmaError};
use crate::mmio::{Mmio, MmioError};
use crate::packing::{self, DataType, Element, Layout, PackError};
use crate::regs::{self, Control, ControlValue};

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("timed out after {waited:?} waiting for odma ap_done (batch {batch}, control {ctrl:#x})")]
    Timeout { waited: Duration, batch: usize, ctrl: u32 },
    #[error("{dma} is not idle (control {ctrl:#x}): another run is in progress or the accelerator hung")]
    NotIdle { dma: &'static str, ctrl: u32 },
    #[error("{buffer}: {len} bytes cannot hold one frame of {need} bytes")]
    BufferTooSmall { buffer: String, len: usize, need: usize },
    #[error("{buffer}: physical address {phys:#x} is not {align}-byte aligned")]
    Misaligned { buffer: String, phys: u64, align: u64 },
    #[error("batch of {batch} frames exceeds what the buffers hold ({max})")]
    BatchTooLarge { batch: usize, max: usize },
    #[error("input of {got} {unit} is not a whole number of frames of {frame}")]
    InputLength { got: usize, unit: &'static str, frame: usize },
    #[error("invalid driver configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Mmio(#[from] MmioError),
    #[error(transparent)]
    Dma(#[from] DmaError),
    #[error(transparent)]
    Pack(#[from] PackError),
}

/// One frame's tensor at an IODMA: `rows` packed rows of `inner` elements of `dtype`
/// (FINN's folded shape flattened to rows, with the innermost dimension kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoShape {
    pub dtype: DataType,
    pub rows: usize,
    pub inner: usize,
}

impl IoShape {
    pub fn new(dtype: DataType, rows: usize, inner: usize) -> Self {
        IoShape { dtype, rows, inner }
    }

    /// CNV's input: a 32×32 RGB UINT8 image, NHWC, folded (1,32,32,1,3) → 3072 bytes.
    pub fn cnv_input() -> Self {
        IoShape::new(DataType::UINT8, 32 * 32, 3)
    }

    /// CNV's output: LabelSelect's top-1 class index, UINT8 (finn-examples io_shape_dict).
    pub fn cnv_output() -> Self {
        IoShape::new(DataType::UINT8, 1, 1)
    }

    pub fn elements(&self) -> usize {
        self.rows * self.inner
    }

    pub fn frame_bytes(&self) -> usize {
        self.rows * self.dtype.row_bytes(self.inner)
    }
}

/// Timeouts, polling and alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverConfig {
    /// Fixed part of the wait for ap_done.
    pub timeout: Duration,
    /// Added per frame of the batch (CNV at 100 MHz needs ≈0.33 ms per frame).
    pub per_frame: Duration,
    /// First sleep between polls (after a few immediate reads).
    pub poll_start: Duration,
    /// Longest sleep between polls.
    pub poll_max: Duration,
    /// Required alignment of buffer physical addresses (a power of two, at least 8).
    pub alignment: u64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            timeout: Duration::from_secs(1),
            per_frame: Duration::from_millis(2),
            poll_start: Duration::from_micros(10),
            poll_max: Duration::from_millis(1),
            alignment: 64,
        }
    }
}

/// Reads before the first sleep: a single CNV frame is done in about 0.3 ms.
const SPIN_POLLS: u32 = 32;

/// The zynq-iodma driver for one input and one output DMA.
pub struct IodmaDriver<M: Mmio, B: DmaBuffer> {
    idma: M,
    odma: M,
    ibuf: B,
    obuf: B,
    input: IoShape,
    output: IoShape,
    cfg: DriverConfig,
}

impl<M: Mmio, B: DmaBuffer> std::fmt::Debug for IodmaDriver<M, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IodmaDriver")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("max_batch", &self.max_batch())
            .finish()
    }
}

impl<M: Mmio, B: DmaBuffer> IodmaDriver<M, B> {
    /// Checks the windows reach the registers, the buffers are aligned and hold a frame.
    pub fn new(
        idma: M,
        odma: M,
        ibuf: B,
        obuf: B,
        input: IoShape,
        output: IoShape,
        cfg: DriverConfig,
    ) -> Result<Self, DriverError> {
        if !cfg.alignment.is_power_of_two() || cfg.alignment < 8 {
            return Err(DriverError::Config(format!("alignment {} is not a power of two ≥ 8", cfg.alignment)));
        }
        if cfg.poll_start > cfg.poll_max {
            return Err(DriverError::Config("poll_start exceeds poll_max".into()));
        }
        for (shape, what) in [(&input, "input"), (&output, "output")] {
            if shape.elements() == 0 {
                return Err(DriverError::Config(format!("{what} frame has no elements")));
            }
        }
        for (w, name) in [(&idma, "idma"), (&odma, "odma")] {
            // The last register the protocol touches must be inside the window.
            crate::mmio::check_access(name, regs::NUM_REPS, w.window_len())?;
        }
        for (buf, need) in [(&ibuf, input.frame_bytes()), (&obuf, output.frame_bytes())] {
            if buf.phys_addr() % cfg.alignment != 0 {
                return Err(DriverError::Misaligned {
                    buffer: buf.name(),
                    phys: buf.phys_addr(),
                    align: cfg.alignment,
                });
            }
            if buf.len() < need {
                return Err(DriverError::BufferTooSmall { buffer: buf.name(), len: buf.len(), need });
            }
            if buf.phys_addr().checked_add(buf.len() as u64).is_none() {
                return Err(DriverError::Config(format!("{}: address range wraps", buf.name())));
            }
        }
        Ok(IodmaDriver { idma, odma, ibuf, obuf, input, output, cfg })
    }

    /// The CNV shapes: UINT8 32×32×3 images in, one UINT8 label out.
    pub fn cnv(idma: M, odma: M, ibuf: B, obuf: B, cfg: DriverConfig) -> Result<Self, DriverError> {
        Self::new(idma, odma, ibuf, obuf, IoShape::cnv_input(), IoShape::cnv_output(), cfg)
    }

    pub fn input_shape(&self) -> IoShape {
        self.input
    }

    pub fn output_shape(&self) -> IoShape {
        self.output
    }

    /// The largest batch one run can take.
    pub fn max_batch(&self) -> usize {
        let by_in = self.ibuf.len() / self.input.frame_bytes();
        let by_out = self.obuf.len() / self.output.frame_bytes();
        by_in.min(by_out).min(u32::MAX as usize)
    }

    /// Gives back the windows and buffers.
    pub fn into_parts(self) -> (M, M, B, B) {
        (self.idma, self.odma, self.ibuf, self.obuf)
    }

    /// One run on what the input buffer holds: `batch` packed frames from offset 0 in, as many
    /// out from offset 0 of the output buffer.
    pub fn run_on_buffers(&mut self, batch: usize) -> Result<(), DriverError> {
        let max = self.max_batch();
        if batch == 0 || batch > max {
            return Err(DriverError::BatchTooLarge { batch, max });
        }
        let in_bytes = batch * self.input.frame_bytes();
        let out_bytes = batch * self.output.frame_bytes();

        for (w, dma) in [(&mut self.odma, "odma"), (&mut self.idma, "idma")] {
            let ctrl = ControlValue::new(w.read32(regs::CTRL)?);
            if !ctrl.is_set(Control::AP_IDLE) {
                return Err(DriverError::NotIdle { dma, ctrl: ctrl.get() });
            }
        }
        self.ibuf.sync_for_device(0, in_bytes, Direction::ToDevice)?;
        self.obuf.sync_for_device(0, out_bytes, Direction::FromDevice)?;

        let reps = batch as u32; // ≤ u32::MAX by max_batch
        for (w, addr) in [(&mut self.odma, self.obuf.phys_addr()), (&mut self.idma, self.ibuf.phys_addr())] {
            let (lo, hi) = regs::split_addr(addr);
            w.write32(regs::ADDR_LO, lo)?;
            w.write32(regs::ADDR_HI, hi)?;
            w.write32(regs::NUM_REPS, reps)?;
            w.write32(regs::CTRL, regs::start_value())?;
        }

        self.wait_done(batch)?;
        self.obuf.sync_for_cpu(0, out_bytes, Direction::FromDevice)?;
        Ok(())
    }

    fn wait_done(&mut self, batch: usize) -> Result<(), DriverError> {
        let limit =
            self.cfg.timeout.saturating_add(self.cfg.per_frame.saturating_mul(batch.min(u32::MAX as usize) as u32));
        let start = Instant::now();
        let mut polls = 0u32;
        let mut sleep = self.cfg.poll_start;
        loop {
            let ctrl = ControlValue::new(self.odma.read32(regs::CTRL)?);
            if ctrl.is_set(Control::AP_DONE) {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= limit {
                return Err(DriverError::Timeout { waited, batch, ctrl: ctrl.get() });
            }
            polls += 1;
            if polls > SPIN_POLLS {
                std::thread::sleep(sleep.min(limit - waited));
                sleep = (sleep * 2).min(self.cfg.poll_max);
            } else {
                std::hint::spin_loop();
            }
        }
    }

    fn frames_of(&self, got: usize, frame: usize, unit: &'static str) -> Result<usize, DriverError> {
        if got == 0 || !got.is_multiple_of(frame) {
            return Err(DriverError::InputLength { got, unit, frame });
        }
        Ok(got / frame)
    }

    /// Runs packed input frames (the caller packed them), returns the packed output frames.
    /// Inputs larger than the buffers go in several runs.
    pub fn execute_packed(&mut self, input: &[u8]) -> Result<Vec<u8>, DriverError> {
        let (fin, fout) = (self.input.frame_bytes(), self.output.frame_bytes());
        let frames = self.frames_of(input.len(), fin, "bytes")?;
        let mut out = vec![0u8; frames * fout];
        let step = self.max_batch();
        let mut done = 0;
        while done < frames {
            let batch = step.min(frames - done);
            self.ibuf.write_at(0, &input[done * fin..(done + batch) * fin])?;
            self.run_on_buffers(batch)?;
            self.obuf.read_at(0, &mut out[done * fout..(done + batch) * fout])?;
            done += batch;
        }
        Ok(out)
    }

    /// Packs `input` (whole frames of the input shape) with the driver's flags straight into the
    /// input buffer, runs, and unpacks the output frames.
    pub fn execute<T: Element, U: Element>(&mut self, input: &[T]) -> Result<Vec<U>, DriverError> {
        let (ein, eout) = (self.input.elements(), self.output.elements());
        let (fin, fout) = (self.input.frame_bytes(), self.output.frame_bytes());
        let frames = self.frames_of(input.len(), ein, "elements")?;
        packing::check_values(input, self.input.dtype)?;
        let mut out = vec![U::from_i64(0); frames * eout];
        let step = self.max_batch();
        let mut done = 0;
        while done < frames {
            let batch = step.min(frames - done);
            let (ishape, oshape) = (self.input, self.output);
            let src = &input[done * ein..(done + batch) * ein];
            let mut res = Ok(());
            self.ibuf.with_bytes_mut(0, batch * fin, &mut |dst| {
                res = packing::pack(src, ishape.inner, ishape.dtype, Layout::DRIVER, dst);
            })?;
            res?;
            self.run_on_buffers(batch)?;
            let dst = &mut out[done * eout..(done + batch) * eout];
            let mut res = Ok(());
            self.obuf.with_bytes(0, batch * fout, &mut |src| {
                res = packing::unpack(src, oshape.inner, oshape.dtype, Layout::DRIVER, dst);
            })?;
            res?;
            done += batch;
        }
        Ok(out)
    }

    /// UINT8 frames in, UINT8 frames out: CNV's images → labels.
    pub fn execute_u8(&mut self, input: &[u8]) -> Result<Vec<u8>, DriverError> {
        self.execute::<u8, u8>(input)
    }
}
