//! Reading and writing the small text attributes of sysfs (UIO maps, u-dma-buf, fpga_manager).
//! Every path is given relative to a configurable root so that tests can use a fake tree.

use std::path::{Path, PathBuf};

/// A sysfs attribute that could not be read, parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {msg}")]
pub struct SysfsError {
    pub path: PathBuf,
    pub msg: String,
}

pub(crate) fn err(path: &Path, msg: impl Into<String>) -> SysfsError {
    SysfsError { path: path.to_path_buf(), msg: msg.into() }
}

/// The attribute's text without surrounding whitespace.
pub(crate) fn read_text(path: &Path) -> Result<String, SysfsError> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|e| err(path, format!("cannot read: {e}")))
}

/// A number as sysfs prints it: `0x…` hexadecimal (UIO sizes, `%pad` addresses) or decimal.
pub(crate) fn read_u64(path: &Path) -> Result<u64, SysfsError> {
    let text = read_text(path)?;
    parse_u64(&text).ok_or_else(|| err(path, format!("not a number: '{text}'")))
}

pub(crate) fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) if !h.is_empty() => u64::from_str_radix(h, 16).ok(),
        Some(_) => None,
        None => t.parse().ok(),
    }
}

pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), SysfsError> {
    // Sysfs attributes exist already; never create one in a wrong tree.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| err(path, format!("cannot open: {e}")))?;
    f.write_all(text.as_bytes()).map_err(|e| err(path, format!("cannot write '{text}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_sysfs_formats() {
        assert_eq!(parse_u64("0x00010000\n"), Some(0x10000));
        assert_eq!(parse_u64("0x000000007e000000"), Some(0x7e00_0000));
        assert_eq!(parse_u64("1048576"), Some(1 << 20));
        assert_eq!(parse_u64("0x"), None);
        assert_eq!(parse_u64("ten"), None);
        assert_eq!(parse_u64(""), None);
    }
}
