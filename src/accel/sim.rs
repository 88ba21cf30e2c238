//! The sim backend: hw's [`IodmaDriver`], the code that runs on the board, drives a
//! [`SimDevice`] running the model's folded FINN dataflow. Inputs are packed and outputs
//! unpacked by the driver (FINN's layout); the device reads and writes them at the physical
//! addresses the driver programs. Labels come from LabelSelect; a tap is a second run with the
//! device's odma0 routed to that layer's stream. Calls are serialised on a mutex.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use binarycop_hw::dma::{DmaBuffer, HostBuffer};
use binarycop_hw::driver::{DriverConfig, DriverError, IoShape, IodmaDriver};
use binarycop_hw::folding::FoldingConfig;
use binarycop_sim::device::{DeviceConfig, SimDevice, SimWindow};
use ndarray::{Array4, ArrayView4};

use super::{check_batch, check_taps, frames, Accelerator, Outputs, Tap};
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
        }
    }
}

struct Inner {
    dev: SimDevice,
    ibuf: HostBuffer,
    obuf: HostBuffer,
}

pub struct SimAccel {
    model: FoldedModel,
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
    let path = Path::new(spec);
    if !path.exists() {
        if let Some(c) = binarycop_hw::folding::paper_config(spec) {
            return Ok(c);
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, format!("cannot read folding config (not a preset: cnv, ncnv, ucnv): {e}")))?;
    FoldingConfig::from_json(&text).map_err(|e| Error::file(path, format!("folding config: {e}")))
}

/// A driver error, with the device's own account of a hang.
fn driver_error(e: DriverError, dev: &SimDevice) -> Error {
    match dev.fault() {
        Some(f) => Error::invalid(format!("simulated accelerator: {e}; the device hung: {f}")),
        None => Error::invalid(format!("simulated accelerator: {e}")),
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
        let low = lower::lower(&model, folding)?;
        let dev = SimDevice::new(low.graph, cfg.device).map_err(sim_error)?;
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
        let inner = Inner { dev, ibuf, obuf };
        // The driver checks windows, alignment and sizes up front; so do we, once.
        inner.driver(inner.dev.output_shape(), cfg.driver).map_err(|e| driver_error(e, &inner.dev))?;
        Ok(SimAccel { model, layer_nodes: low.layer_nodes, driver: cfg.driver, inner: Mutex::new(inner) })
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

impl Inner {
    fn driver(
        &self,
        out: IoShape,
        cfg: DriverConfig,
    ) -> std::result::Result<IodmaDriver<SimWindow, HostBuffer>, DriverError> {
        self.dev.driver(self.ibuf.clone(), self.obuf.clone(), out, cfg)
    }

    /// Runs the frames with odma0 on `node` (None: LabelSelect); the unpacked output values.
    fn execute(&self, input: &[u8], node: Option<&str>, cfg: DriverConfig) -> Result<Vec<i64>> {
        self.dev.set_tap(node).map_err(sim_error)?;
        let result = self
            .driver(self.dev.output_shape(), cfg)
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
    fn model(&self) -> &FoldedModel {
        &self.model
    }
    fn has_scores(&self) -> bool {
        false
    }
    fn has_taps(&self) -> bool {
        true
    }

    fn run(&self, images: ArrayView4<u8>, taps: &[usize]) -> Result<Outputs> {
        let n = check_batch(&self.model, &images)?;
        check_taps(&self.model, self.name(), true, taps)?;
        let input = frames(&images);
        let inner = self.lock();
        let classes = self.model.topology.classes();
        let labels = inner
            .execute(&input, None, self.driver)?
            .into_iter()
            .map(|l| {
                usize::try_from(l).ok().filter(|&l| l < classes).ok_or_else(|| {
                    Error::invalid(format!("simulated accelerator returned label {l}, the model has {classes} classes"))
                })
            })
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
