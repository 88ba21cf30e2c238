//! An accelerator's labels against the CPU engine's on the same images: with a model, every
//! sim or zynq run can be checked bit for bit (the engine is exact, so any difference is the
//! device's, its deployment's or the transfer's).

use ndarray::ArrayView4;

use super::{Accelerator, CpuAccel, Outputs};
use crate::error::Result;

/// Where an accelerator and the engine disagreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelCheck {
    /// Images compared.
    pub checked: usize,
    /// Indices of the images whose labels differ.
    pub mismatches: Vec<usize>,
    /// The engine's labels.
    pub cpu_labels: Vec<usize>,
}

impl LabelCheck {
    pub fn agrees(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// "3 of 16 images differ from the CPU engine: 0, 4, 9", or that all agree.
    pub fn summary(&self, backend: &str) -> String {
        if self.agrees() {
            return format!("{backend} labels equal the CPU engine's on all {} images", self.checked);
        }
        let shown: Vec<String> = self.mismatches.iter().take(32).map(usize::to_string).collect();
        let more = if self.mismatches.len() > 32 { ", …" } else { "" };
        format!(
            "{} of {} images: the {backend} label differs from the CPU engine's (images {}{more})",
            self.mismatches.len(),
            self.checked,
            shown.join(", ")
        )
    }
}

/// Runs `images` on the engine and compares with what the accelerator returned for them.
pub fn against_cpu(cpu: &CpuAccel, images: ArrayView4<u8>, got: &Outputs) -> Result<LabelCheck> {
    let cpu_labels = cpu.run(images, &[])?.labels;
    let mismatches =
        cpu_labels.iter().zip(&got.labels).enumerate().filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect();
    Ok(LabelCheck { checked: cpu_labels.len(), mismatches, cpu_labels })
}
