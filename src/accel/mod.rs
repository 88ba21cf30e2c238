//! One interface over the three ways to run a folded model: images in, class outputs out.
//!
//! - [`cpu`]: the bit-packed engine. Labels, scores and taps of every layer.
//! - [`sim`]: hw's real IODMA driver, with the board's packing, talking to binarycop-sim's
//!   [`SimDevice`](binarycop_sim::device::SimDevice) that runs the folded FINN dataflow. A FINN
//!   accelerator ends in LabelSelect, so labels only (no scores); taps go through the driver
//!   too, the device routing odma0 to the layer's stream.
//! - [`zynq`]: the same driver over UIO or /dev/mem windows and u-dma-buf buffers on a board,
//!   set up from a FINN deployment folder or a JSON description. Labels only, no taps.
//!
//! Every backend is `Send + Sync`: threads may share one. The device-backed ones serialise
//! calls on a mutex (one accelerator runs one batch at a time), so every result is exact.
//!
//! A backend describes what it takes and returns by an [`IoSpec`]: the model's input and classes
//! for the cpu and sim backends, or what a FINN deployment's driver.py says ([`contract`]) for
//! zynq and for sim with a deployment, checked against the model when there is one. The zynq
//! backend runs without a model. [`crosscheck`] compares an accelerator's labels with the CPU
//! engine's.

pub mod contract;
pub mod cpu;
pub mod crosscheck;
pub mod sim;
pub mod zynq;

use ndarray::{Array2, Array4, ArrayView4};

use crate::error::{Error, Result};
use crate::model::{FoldedModel, Shape};

pub use contract::{ClassNames, Contract};
pub use cpu::CpuAccel;
pub use sim::{SimAccel, SimAccelConfig};
pub use zynq::{ZynqAccel, ZynqOptions, ZynqSource};

/// What a backend takes and returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoSpec {
    /// One uint8 image, H×W×C.
    pub image: Shape,
    /// The number of classes when a model says it; None for a deployment run without a model.
    pub classes: Option<usize>,
    /// The largest label the output can carry: classes − 1, or the top of driver.py's odt.
    pub max_label: u64,
}

impl IoSpec {
    /// The model's input and classes.
    pub fn from_model(model: &FoldedModel) -> IoSpec {
        let classes = model.topology.classes();
        IoSpec { image: model.topology.input, classes: Some(classes), max_label: classes.saturating_sub(1) as u64 }
    }

    /// A label the device returned, checked against the classes (or the output type).
    pub(crate) fn label(&self, backend: &str, value: i64) -> Result<usize> {
        let limit = self.classes.map_or(self.max_label, |c| c.saturating_sub(1) as u64);
        match u64::try_from(value).ok().filter(|&v| v <= limit).and_then(|v| usize::try_from(v).ok()) {
            Some(l) => Ok(l),
            None => Err(Error::invalid(match self.classes {
                Some(c) => format!(
                    "{backend} accelerator returned label {value}, the model has {c} classes (is the loaded \
                     bitstream a build of this model?)"
                ),
                None => format!("{backend} accelerator returned label {value}, beyond the output type's {limit}"),
            })),
        }
    }
}

/// One layer's output over a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Tap {
    /// Topology layer index.
    pub layer: usize,
    /// N×H×W×C in the layer's output shape: ±1 for a binary map, the accumulators (class
    /// scores) for the last layer.
    pub values: Array4<i32>,
}

/// What a batch produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    /// Top-1 class per image; ties go to the lower index (FINN's LabelSelect).
    pub labels: Vec<usize>,
    /// N×classes, where the backend has them.
    pub scores: Option<Array2<i32>>,
    /// One per requested layer, in the order asked.
    pub taps: Vec<Tap>,
}

/// A backend that classifies batches of images.
pub trait Accelerator: Send + Sync {
    /// "cpu", "sim" or "zynq".
    fn name(&self) -> &'static str;
    /// What it takes and returns.
    fn io(&self) -> &IoSpec;
    /// The model it runs or was checked against (layer names, logits), if any.
    fn model(&self) -> Option<&FoldedModel>;
    /// Whether [`Outputs::scores`] is filled.
    fn has_scores(&self) -> bool;
    /// Whether layers can be tapped.
    fn has_taps(&self) -> bool;
    /// Runs an N×H×W×C uint8 batch, tapping the given topology layers.
    fn run(&self, images: ArrayView4<u8>, taps: &[usize]) -> Result<Outputs>;
}

/// Checks a batch against the backend's input; returns N.
pub fn check_batch(io: &IoSpec, images: &ArrayView4<u8>) -> Result<usize> {
    let s = io.image;
    let (n, h, w, c) = images.dim();
    if n == 0 {
        return Err(Error::invalid("the batch is empty"));
    }
    if (h, w, c) != (s.height, s.width, s.channels) {
        return Err(Error::invalid(format!("images are {h}x{w}x{c} (H, W, C), the accelerator takes {s}")));
    }
    Ok(n)
}

/// Checks tap indices against the model's layers.
pub(crate) fn check_taps(model: &FoldedModel, backend: &str, has_taps: bool, taps: &[usize]) -> Result<()> {
    if taps.is_empty() {
        return Ok(());
    }
    if !has_taps {
        return Err(Error::invalid(format!("the {backend} backend cannot tap layers (the cpu and sim backends can)")));
    }
    let n = model.topology.layers.len();
    match taps.iter().find(|&&t| t >= n) {
        Some(t) => Err(Error::invalid(format!("layer index {t} is out of range (the model has {n} layers)"))),
        None => Ok(()),
    }
}

/// The batch as one contiguous N·H·W·C byte run (FINN's NHWC frames back to back).
pub(crate) fn frames(images: &ArrayView4<u8>) -> Vec<u8> {
    match images.as_slice() {
        Some(s) => s.to_vec(),
        // Logical (row-major) order whatever the view's strides.
        None => images.iter().copied().collect(),
    }
}
