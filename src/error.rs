//! One error type for the library: every failure names what was wrong and, where there is one,
//! the file.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input that is not tied to one file (a shape, a layer name, a flag).
    #[error("{0}")]
    Invalid(String),
    /// A file that could not be read, parsed or written.
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    /// A model graph outside the supported family; names the node.
    #[error("{path}: node '{node}' ({op}): {msg}")]
    Unsupported { path: PathBuf, node: String, op: String, msg: String },
    /// A FINN deployment folder (driver.py, .hwh, .bit, runtime weights) that hw refused; names
    /// the file.
    #[error(transparent)]
    Deployment(#[from] binarycop_hw::deployment::DeploymentError),
    /// A step of hw's IODMA driver that failed (setup, a run, loading weights), with where it
    /// was.
    #[error("{context}: {source}")]
    Driver {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
    pub fn file(path: impl AsRef<Path>, msg: impl std::fmt::Display) -> Self {
        Error::File { path: path.as_ref().to_path_buf(), msg: msg.to_string() }
    }
    /// A hw error with where it happened, e.g. `driver("zynq accelerator", e)`.
    pub fn driver(context: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Driver { context: context.into(), source: Box::new(source) }
    }
    /// Puts a file name on an error that had none.
    pub fn in_file(self, path: impl AsRef<Path>) -> Self {
        match self {
            Error::Invalid(msg) => Error::file(path, msg),
            other => other,
        }
    }
}

impl From<binarycop_hw::finn_driver::DriverPyError> for Error {
    fn from(e: binarycop_hw::finn_driver::DriverPyError) -> Self {
        Error::Deployment(e.into())
    }
}

impl From<binarycop_hw::runtime_weights::WeightsError> for Error {
    fn from(e: binarycop_hw::runtime_weights::WeightsError) -> Self {
        Error::Deployment(e.into())
    }
}

/// Writes a file atomically: to a temporary name in the same folder, then renamed into place,
/// so that a failure never leaves a half-written output.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| Error::file(path, "not a file path"))?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::file(path, format!("cannot write: {e}"))
    })
}
