//! A FINN deployment folder as one contract: FINN's generated `driver.py` says what the
//! accelerator reads and writes, the `.hwh`/`.bit` where it is and what it is, and
//! `runtime_weights/` what to write into it before the first run.
//!
//! Layouts: FINN's `deploy/` (`bitfile/*.bit|hwh`, `driver/driver.py`,
//! `driver/runtime_weights/`) and a flat folder such as BinaryCoP's published `notebook/`
//! (`driver.py`, `resizer.bit`, `resizer.hwh`). `runtime_weights/` sits beside driver.py and may
//! be absent. Everything is read and cross-checked here; nothing touches a device.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::deploy::{self, DeployError, Deployment};
use crate::finn_driver::{self, DriverPy, DriverPyError};
use crate::runtime_weights::{self, WeightLoad, WeightsError};

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Files(#[from] DeployError),
    #[error(transparent)]
    DriverPy(#[from] DriverPyError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("{driver}: {tensor} goes through {dma}, which {hwh} does not have (IODMA windows: {have})")]
    NoDma { driver: PathBuf, tensor: String, dma: String, hwh: PathBuf, have: String },
}

/// A deployment folder, read and cross-checked.
#[derive(Clone, Debug)]
pub struct FinnDeployment {
    pub dir: PathBuf,
    /// The .hwh and .bit.
    pub files: Deployment,
    pub driver: DriverPy,
    /// The runtime-writable weights and their windows (empty when there are none).
    pub weights: Vec<WeightLoad>,
}

impl FinnDeployment {
    /// Reads `dir`: the .hwh and .bit, driver.py, runtime weights; checks that every IODMA
    /// driver.py names has a window in the .hwh and every weight file a window it fits.
    pub fn open(dir: &Path) -> Result<FinnDeployment, DeploymentError> {
        let files = deploy::find_deployment(dir)?;
        let driver_path = finn_driver::find(dir)?;
        let driver = finn_driver::read(&driver_path)?;
        for t in driver.inputs.iter().chain(&driver.outputs) {
            if files.hwh.dma(&t.dma).is_none() {
                let have: Vec<&str> = files.hwh.dmas.iter().map(|d| d.name.as_str()).collect();
                return Err(DeploymentError::NoDma {
                    driver: driver.path.clone(),
                    tensor: t.label(),
                    dma: t.dma.clone(),
                    hwh: files.hwh_path.clone(),
                    have: have.join(", "),
                });
            }
        }
        let weight_dir = driver_path.parent().unwrap_or(dir).join("runtime_weights");
        let weight_files = runtime_weights::read_dir(&weight_dir)?;
        let weights = runtime_weights::match_windows(weight_files, &files.hwh, &files.hwh_path)?;
        Ok(FinnDeployment { dir: dir.to_path_buf(), files, driver, weights })
    }

    /// The hardware files, driver.py's tensors and the runtime weights, one screen.
    pub fn describe(&self) -> String {
        let mut s = deploy::describe(&self.files);
        s.push_str(&finn_driver::describe(&self.driver));
        if self.weights.is_empty() {
            let _ = writeln!(s, "runtime weights: none");
        }
        for w in &self.weights {
            let _ = writeln!(
                s,
                "weights    {} ({} words) -> {} at {:#010x}",
                w.file.path.display(),
                w.file.words.len(),
                w.name,
                w.window.base
            );
        }
        s
    }
}
