//! The sim backend: hw's [`IodmaDriver`], the code that runs on the board, drives a
//! [`SimDevice`] running the model's folded FINN dataflow. Inputs are packed and outputs
//! unpacked by the driver (FINN's layout); the device reads and writes them at the physical
//! addresses the driver programs. Labels come from LabelSelect; a tap is a second run with the
//! device's odma0 routed to that layer's stream. Calls are serialised on a mutex.
//!
//! With a deployment folder ([`SimAccelConfig::deploy`]) the device is shaped by that
//! deployment's driver.py, as the zynq backend is: the model is checked against it first
//! ([`Contract::check_model`]), then the label runs move frames of driver.py's shapes, which must
//! also be what the simulated dataflow reads and writes, and the device's register windows are
//! as large as the .hwh's idma0 and odma0 windows (the smaller of the two). A deployment with
//! runtime-writable weights is refused: the simulated device computes with the model's own
//! weights.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use binarycop_hw::deployment::FinnDeployment;
use binarycop_hw::dma::{DmaBuffer, HostBuffer};
use binarycop_hw::driver::{DriverConfig, DriverError, IoShape, IodmaDriver};
use binarycop_hw::folding::FoldingConfig;
use binarycop_sim::device::{DeviceConfig, SimDevice, SimWindow};
use ndarray::{Array4, ArrayView4};

use super::{check_batch, check_taps, frames, Accelerator, Contract, IoSpec, Outputs, Tap};
use crate::error::{Error, Result};
use crate::lower::{self, sim_error};
use crate::model::FoldedModel;

/// How the simulated accelerator is set up.
#[derive(Clone, Debug)]
pub struct SimAccelConfig {
    /// Frames the DMA buffers hold; larger batches go in several runs, as on the board.
    pub max_batch: usize,
    pub driver: DriverConfig,
    pub device: DeviceConfig,
    /// Input and output buffers to use instead of allocating them (they are put into the
    /// device's memory as they are, e.g. misaligned or too small, to test the checks).
    pub buffers: Option<(HostBuffer, HostBuffer)>,
    /// A FINN deployment folder whose driver.py shapes the device's frames.
    pub deploy: Option<PathBuf>,
}

impl Default for SimAccelConfig {
    fn default() -> Self {
        SimAccelConfig {
            max_batch: 64,
            // The device raises ap_done within DeviceConfig::max_polls busy reads whatever the
            // batch, so a long wait only ever means a hang: no per-frame allowance.
            driver: DriverConfig {
                timeout: Duration::from_millis(500),
                per_frame: Duration::ZERO,
                ..Default::default()
            },
            device: DeviceConfig::default(),
            buffers: None,
            deploy: None,
        }
    }
}

struct Inner {
    dev: SimDevice,
    ibuf: HostBuffer,
    obuf: HostBuffer,
    /// driver.py's input and output frames, when a deployment shapes the label runs.
    frames: Option<(IoShape, IoShape)>,
}

pub struct SimAccel {
    model: FoldedModel,
    io: IoSpec,
    /// Per topology layer, the FINN node producing its output.
    layer_nodes: Vec<String>,
    driver: DriverConfig,
    inner: Mutex<Inner>,
}

/// A folding config from a file or a paper preset name (cnv, ncnv, ucnv); None: the paper's
/// folding of the preset whose layer shapes the model has, if any.
pub fn folding_for(model: &FoldedModel, spec: Option<&str>) -> Result<FoldingConfig> {
    let Some(spec) = spec else {
        return lower::paper_config(model).ok_or_else(|| {
            Error::invalid(format!(
                "the sim backend needs a folding: the model's topology '{}' does not have the layer shapes \
                 of a paper preset (cnv, ncnv, ucnv); pass --folding with a FINN folding config or a preset name",
                model.topology.name
            ))
        });
    };
    folding_file(spec)
}

/// A FINN folding config file, or a paper preset name (cnv, ncnv, ucnv) when no such file exists.
pub fn folding_file(spec: &str) -> Result<FoldingConfig> {
    let path = Path::new(spec);
    if !path.exists() {
        if let Some(c) = binarycop_hw::folding::paper_config(spec) {
            return Ok(c);
        }
    }
    let text = crate::data::read_text_input(path, "folding config (not a preset: cnv, ncnv, ucnv)")?;
    FoldingConfig::from_json(&text).map_err(|e| Error::file(path, format!("folding config: {e}")))
}

/// A driver error, with the device's own account of a hang.
fn driver_error(e: DriverError, dev: &SimDevice) -> Error {
    match dev.fault() {
        Some(f) => Error::driver(format!("simulated accelerator (the device hung: {f})"), e),
        None => Error::driver("simulated accelerator", e),
    }
}

impl SimAccel {
    pub fn new(model: FoldedModel, folding: &FoldingConfig) -> Result<SimAccel> {
        Self::with_config(model, folding, SimAccelConfig::default())
    }

    pub fn with_config(model: FoldedModel, folding: &FoldingConfig, cfg: SimAccelConfig) -> Result<SimAccel> {
        if cfg.max_batch == 0 {
            return Err(Error::invalid("the sim backend's max batch must be at least 1"));
        }
        // A deployment is read and checked against the model before the device exists.
        let contract = cfg.deploy.as_deref().map(|dir| deployment_contract(dir, &model)).transpose()?;
        let mut device = cfg.device;
        let io = match &contract {
            Some((c, window_len)) => {
                device.window_len = *window_len;
                c.io_spec(Some(&model))?
            }
            None => IoSpec::from_model(&model),
        };
        let contract = contract.map(|(c, _)| c);
        let low = lower::lower(&model, folding)?;
        let dev = SimDevice::new(low.graph, device).map_err(sim_error)?;
        if let Some(c) = &contract {
            check_device(c, &dev)?;
        }
        // The output buffer must hold the largest stream odma0 may carry: labels or any tap.
        let mut out_frame = dev.output_shape().frame_bytes();
        for node in &low.layer_nodes {
            dev.set_tap(Some(node)).map_err(sim_error)?;
            out_frame = out_frame.max(dev.output_shape().frame_bytes());
        }
        dev.set_tap(None).map_err(sim_error)?;
        let (ibuf, obuf) = match cfg.buffers {
            Some((i, o)) => {
                for b in [&i, &o] {
                    dev.attach(b, None).map_err(|e| Error::invalid(format!("{}: {e}", b.name())))?;
                }
                (i, o)
            }
            None => {
                let too_big = || Error::invalid(format!("max batch {} makes the buffers too large", cfg.max_batch));
                let fin = dev.input_shape().frame_bytes();
                let ilen = cfg.max_batch.checked_mul(fin).ok_or_else(too_big)?;
                let olen = cfg.max_batch.checked_mul(out_frame).ok_or_else(too_big)?;
                (dev.alloc(ilen), dev.alloc(olen))
            }
        };
        let frames = contract.map(|c| (c.input, c.output));
        let inner = Inner { dev, ibuf, obuf, frames };
        // The driver checks windows, alignment and sizes up front; so do we, once.
        inner.driver(None, cfg.driver).map_err(|e| driver_error(e, &inner.dev))?;
        Ok(SimAccel { model, io, layer_nodes: low.layer_nodes, driver: cfg.driver, inner: Mutex::new(inner) })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the device at worst hung, which it reports.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The simulated device, for fault injection and inspection.
    pub fn device(&self) -> SimDevice {
        self.lock().dev.clone()
    }

    /// The FINN node whose stream is layer `layer`'s output.
    pub fn layer_node(&self, layer: usize) -> Option<&str> {
        self.layer_nodes.get(layer).map(String::as_str)
    }
}

/// Reads the deployment, refuses what the simulated device cannot be, checks the model; the
/// contract and the register window length the .hwh gives the input and output IODMAs.
fn deployment_contract(dir: &Path, model: &FoldedModel) -> Result<(Contract, usize)> {
    let d = FinnDeployment::open(dir)?;
    let c = Contract::from_driver(&d.driver)?;
    c.check_model(model)?;
    if let Some(w) = d.weights.first() {
        return Err(Error::file(
            &w.file.path,
            "runtime-writable weights: the simulated accelerator computes with the model's own weights and has no \
             weight memories to write; run this deployment with --backend zynq",
        ));
    }
    let (i, o) = d.driver.single_io()?;
    let window = |n: &str| d.files.hwh.dma(n).map_or(0, |w| w.range);
    for dma in [&i.dma, &o.dma] {
        if window(dma) < binarycop_hw::regs::WINDOW_MIN as u64 {
            return Err(Error::file(
                &d.files.hwh_path,
                format!(
                    "{dma}'s register window is {} bytes; the IODMA's registers need {:#x}",
                    window(dma),
                    binarycop_hw::regs::WINDOW_MIN
                ),
            ));
        }
    }
    let window_len = usize::try_from(window(&i.dma).min(window(&o.dma))).unwrap_or(usize::MAX);
    Ok((c, window_len))
}

/// driver.py's frames must be what the simulated dataflow reads and writes, byte for byte.
fn check_device(c: &Contract, dev: &SimDevice) -> Result<()> {
    let path = c.driver_path.display();
    for (what, key, want, have) in
        [("input", "idt", c.input, dev.input_shape()), ("output", "odt", c.output, dev.output_shape())]
    {
        if want.dtype != have.dtype || want.frame_bytes() != have.frame_bytes() {
            return Err(Error::invalid(format!(
                "{path} says the {what} is {} ({key}) in {} bytes per frame, the model's dataflow has {} in {}: \
                 the deployment is not a build of this model",
                want.dtype,
                want.frame_bytes(),
                have.dtype,
                have.frame_bytes()
            )));
        }
    }
    Ok(())
}

impl Inner {
    /// The driver for a run with odma0 on `node` (None: LabelSelect, in driver.py's frames when
    /// a deployment gives them).
    fn driver(
        &self,
        node: Option<&str>,
        cfg: DriverConfig,
    ) -> std::result::Result<IodmaDriver<SimWindow, HostBuffer>, DriverError> {
        let (input, output) = match (node, self.frames) {
            (None, Some(f)) => f,
            _ => (self.dev.input_shape(), self.dev.output_shape()),
        };
        self.dev.driver(self.ibuf.clone(), self.obuf.clone(), input, output, cfg)
    }

    /// Runs the frames with odma0 on `node` (None: LabelSelect); the unpacked output values.
    fn execute(&self, input: &[u8], node: Option<&str>, cfg: DriverConfig) -> Result<Vec<i64>> {
        self.dev.set_tap(node).map_err(sim_error)?;
        let result = self
            .driver(node, cfg)
            .and_then(|mut d| d.execute::<u8, i64>(input))
            .map_err(|e| driver_error(e, &self.dev));
        if node.is_some() {
            // Back to labels even after an error; a hung device refuses, and says so next run.
            let _ = self.dev.set_tap(None);
        }
        result
    }
}

impl Accelerator for SimAccel {
    fn name(&self) -> &'static str {
        "sim"
    }
    fn io(&self) -> &IoSpec {
        &self.io
    }
    fn model(&self) -> Option<&FoldedModel> {
        Some(&self.model)
    }
    fn has_scores(&self) -> bool {
        false
    }
    fn has_taps(&self) -> bool {
        true
    }

    fn run(&self, images: ArrayView4<u8>, taps: &[usize]) -> Result<Outputs> {
        let n = check_batch(&self.io, &images)?;
        check_taps(&self.model, self.name(), true, taps)?;
        let input = frames(&images);
        let inner = self.lock();
        let labels = inner
            .execute(&input, None, self.driver)?
            .into_iter()
            .map(|l| self.io.label("simulated", l))
            .collect::<Result<Vec<_>>>()?;
        if labels.len() != n {
            return Err(Error::invalid(format!(
                "simulated accelerator returned {} labels for {n} images",
                labels.len()
            )));
        }
        let layers = self.model.resolved();
        let mut out = Vec::with_capacity(taps.len());
        for &t in taps {
            let node = &self.layer_nodes[t];
            let s = layers[t].output;
            let values: Vec<i32> = inner
                .execute(&input, Some(node), self.driver)?
                .into_iter()
                .map(|v| i32::try_from(v).map_err(|_| Error::invalid(format!("{node}: value {v} exceeds 32 bits"))))
                .collect::<Result<_>>()?;
            let values = Array4::from_shape_vec((n, s.height, s.width, s.channels), values).map_err(|_| {
                Error::invalid(format!("{node}: its stream is not {n} maps of {s} (layer '{}')", layers[t].name))
            })?;
            out.push(Tap { layer: t, values });
        }
        Ok(Outputs { labels, scores: None, taps: out })
    }
}
