//! The zynq backend: hw's [`IodmaDriver`] on a board running a FINN zynq-iodma build of the
//! model. Labels only (the accelerator ends in LabelSelect); no taps.
//!
//! Set up from either
//! - a FINN deployment folder (`.hwh` + `.bit`, directly or in `bitfile/`): the bitstream header
//!   is checked (it must already be loaded) and idma0/odma0 are opened as the UIO devices of
//!   those names, else, with `allow_devmem`, through /dev/mem at the .hwh's base addresses; or
//! - a JSON description:
//!   ```json
//!   { "idma0": {"uio": "idma0"},
//!     "odma0": {"base": "0x40010000", "range": "0x10000"},
//!     "input_buffer": "udmabuf0", "output_buffer": "udmabuf1",
//!     "cache": "cached", "timeout_ms": 1000 }
//!   ```
//!   where a window is a UIO device name or a physical base and range (/dev/mem, needs
//!   `allow_devmem`), the buffers are u-dma-buf devices (defaults udmabuf0, udmabuf1), `cache`
//!   is `cached` (default) or `uncached`, and `timeout_ms` is the fixed part of the wait.
//!
//! Off a board every path ends in an error naming what is missing; /dev/mem is never opened
//! unless the machine has an FPGA manager (`/sys/class/fpga_manager/*`), so a workstation's
//! memory is never mapped by mistake.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use binarycop_hw::deploy;
use binarycop_hw::dma::{CachePolicy, UDmaBuf};
use binarycop_hw::driver::{DriverConfig, IoShape, IodmaDriver};
use binarycop_hw::mmio::{MappedWindow, Roots};
use binarycop_hw::packing::DataType;
use ndarray::ArrayView4;
use serde_json::Value;

use super::{check_batch, check_taps, frames, Accelerator, Outputs};
use crate::error::{Error, Result};
use crate::model::FoldedModel;

/// Where the accelerator's description comes from.
#[derive(Clone, Debug)]
pub enum ZynqSource {
    /// A FINN deployment folder.
    Deploy(PathBuf),
    /// A JSON accelerator description.
    Json(PathBuf),
}

/// Paths and permissions; tests point the roots at a fake tree.
#[derive(Clone, Debug)]
pub struct ZynqOptions {
    pub roots: Roots,
    /// The physical-memory device (`/dev/mem`).
    pub devmem: PathBuf,
    /// Whether windows may be mapped through /dev/mem.
    pub allow_devmem: bool,
    pub driver: DriverConfig,
}

impl Default for ZynqOptions {
    fn default() -> Self {
        ZynqOptions {
            roots: Roots::default(),
            devmem: PathBuf::from("/dev/mem"),
            allow_devmem: false,
            driver: DriverConfig::default(),
        }
    }
}

/// How to reach one IODMA's registers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum WindowSpec {
    Uio(String),
    DevMem { base: u64, range: u64 },
}

#[derive(Clone, Debug)]
struct Description {
    idma: WindowSpec,
    odma: WindowSpec,
    input_buffer: String,
    output_buffer: String,
    cache: CachePolicy,
    timeout: Option<Duration>,
}

pub struct ZynqAccel {
    model: FoldedModel,
    driver: Mutex<IodmaDriver<MappedWindow, UDmaBuf>>,
    summary: String,
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let t = s.trim();
            match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => t.parse().ok(),
            }
        }
        _ => None,
    }
}

/// Checks the text of an accelerator description (`--accel-config`) without opening anything:
/// what is wrong with it, if anything.
pub fn check_description(text: &str) -> std::result::Result<(), String> {
    parse_description(text).map(|_| ())
}

fn parse_description(text: &str) -> std::result::Result<Description, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let obj = v.as_object().ok_or("the top level must be an object")?;
    const KEYS: [&str; 6] = ["idma0", "odma0", "input_buffer", "output_buffer", "cache", "timeout_ms"];
    if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key '{k}' (known: {})", KEYS.join(", ")));
    }
    let window = |name: &str| -> std::result::Result<WindowSpec, String> {
        let w = obj
            .get(name)
            .ok_or_else(|| format!("missing '{name}': {{\"uio\": NAME}} or {{\"base\": ADDR, \"range\": BYTES}}"))?;
        if let Some(u) = w.get("uio") {
            return u
                .as_str()
                .map(|s| WindowSpec::Uio(s.to_string()))
                .ok_or_else(|| format!("{name}.uio must be a string"));
        }
        let field = |k: &str| {
            w.get(k).and_then(number).ok_or_else(|| format!("{name}.{k} must be a number or a \"0x…\" string"))
        };
        let (base, range) = (field("base")?, field("range")?);
        if range < regs_min() {
            return Err(format!("{name}.range {range:#x} does not reach numReps at 0x1c"));
        }
        Ok(WindowSpec::DevMem { base, range })
    };
    let text_field = |k: &str, dflt: &str| -> std::result::Result<String, String> {
        match obj.get(k) {
            None => Ok(dflt.to_string()),
            Some(Value::String(s)) if !s.is_empty() && !s.contains('/') => Ok(s.clone()),
            Some(other) => Err(format!("{k} must be a device name like \"{dflt}\", got {other}")),
        }
    };
    let cache = match obj.get("cache").map(|c| c.as_str()) {
        None | Some(Some("cached")) => CachePolicy::Cached,
        Some(Some("uncached")) => CachePolicy::Uncached,
        Some(_) => return Err("cache must be \"cached\" or \"uncached\"".into()),
    };
    let timeout = match obj.get("timeout_ms") {
        None => None,
        Some(t) => {
            Some(Duration::from_millis(t.as_u64().filter(|&ms| ms > 0).ok_or("timeout_ms must be a positive integer")?))
        }
    };
    Ok(Description {
        idma: window("idma0")?,
        odma: window("odma0")?,
        input_buffer: text_field("input_buffer", "udmabuf0")?,
        output_buffer: text_field("output_buffer", "udmabuf1")?,
        cache,
        timeout,
    })
}

fn regs_min() -> u64 {
    binarycop_hw::regs::WINDOW_MIN as u64
}

/// What the deployment folder says: UIO when a device of the instance's name exists, else
/// /dev/mem at the .hwh's window.
fn from_deployment(dir: &Path, opts: &ZynqOptions) -> Result<(Description, String)> {
    let d = deploy::find_deployment(dir).map_err(|e| match e {
        deploy::DeployError::File { path, msg } => Error::file(path, msg),
        other => Error::file(dir, other),
    })?;
    let spec = |name: &str| -> Result<WindowSpec> {
        let w = d.hwh.dma(name).expect("find_deployment requires idma0 and odma0");
        let uio = MappedWindow::find_uio(name, &opts.roots).map_err(|e| Error::file(dir, e))?;
        Ok(match uio {
            Some(_) => WindowSpec::Uio(name.to_string()),
            None => WindowSpec::DevMem { base: w.base, range: w.range },
        })
    };
    let desc = Description {
        idma: spec("idma0")?,
        odma: spec("odma0")?,
        input_buffer: "udmabuf0".into(),
        output_buffer: "udmabuf1".into(),
        cache: CachePolicy::Cached,
        timeout: None,
    };
    let clock = d.hwh.fclk_mhz.map_or("unknown clock".to_string(), |f| format!("{f} MHz"));
    let summary = format!("{} ({}, part {}, {clock})", d.bit_path.display(), d.bit.design, d.bit.part);
    Ok((desc, summary))
}

/// Whether this machine has a PL the FPGA manager drives.
fn has_fpga(roots: &Roots) -> bool {
    std::fs::read_dir(roots.sys.join("class/fpga_manager")).is_ok_and(|mut e| e.next().is_some())
}

fn open_window(name: &str, spec: &WindowSpec, opts: &ZynqOptions, origin: &Path) -> Result<MappedWindow> {
    let fail = |msg: String| Error::file(origin, format!("{name}: {msg}"));
    match spec {
        WindowSpec::Uio(dev) => {
            let idx = MappedWindow::find_uio(dev, &opts.roots).map_err(|e| fail(e.to_string()))?.ok_or_else(|| {
                fail(format!(
                    "no UIO device named '{dev}' under {} (bind the IODMA to generic-uio in the device tree)",
                    opts.roots.sys.join("class/uio").display()
                ))
            })?;
            MappedWindow::open_uio(idx, &opts.roots).map_err(|e| fail(e.to_string()))
        }
        WindowSpec::DevMem { base, range } => {
            if !opts.allow_devmem {
                return Err(fail(format!(
                    "no UIO device of that name, and mapping {base:#x} through {} was not allowed: bind the \
                     IODMAs to generic-uio, or pass --allow-devmem (needs root)",
                    opts.devmem.display()
                )));
            }
            if !has_fpga(&opts.roots) {
                return Err(fail(format!(
                    "this machine is not a Zynq with a loaded PL ({} lists no FPGA): refusing to map physical \
                     address {base:#x}",
                    opts.roots.sys.join("class/fpga_manager").display()
                )));
            }
            let len = usize::try_from(*range).map_err(|_| fail(format!("range {range:#x} is too large")))?;
            MappedWindow::open_devmem_at(&opts.devmem, *base, len, true).map_err(|e| fail(e.to_string()))
        }
    }
}

impl ZynqAccel {
    /// Opens the accelerator for `model` (its input shape and classes; the bitstream must be a
    /// build of it, which nothing on the board can check).
    pub fn open(model: FoldedModel, source: &ZynqSource, opts: &ZynqOptions) -> Result<ZynqAccel> {
        let (desc, origin, summary) = match source {
            ZynqSource::Deploy(dir) => {
                let (d, s) = from_deployment(dir, opts)?;
                (d, dir.clone(), s)
            }
            ZynqSource::Json(path) => {
                let text = crate::data::read_text_input(path, "the accelerator description")?;
                let d = parse_description(&text).map_err(|m| Error::file(path, m))?;
                (d, path.clone(), path.display().to_string())
            }
        };
        let s = model.topology.input;
        let classes = model.topology.classes();
        // LabelSelect writes the smallest whole-byte unsigned type holding classes−1.
        let label_bits = (usize::BITS - (classes.max(2) - 1).leading_zeros()).div_ceil(8) * 8;
        let label = DataType::uint(label_bits).map_err(|e| Error::invalid(e.to_string()))?;
        let input = IoShape::new(DataType::UINT8, s.height * s.width, s.channels);
        let output = IoShape::new(label, 1, 1);

        let idma = open_window("idma0", &desc.idma, opts, &origin)?;
        let odma = open_window("odma0", &desc.odma, opts, &origin)?;
        let buf = |name: &str| {
            UDmaBuf::open_in(name, &opts.roots, desc.cache).map_err(|e| Error::file(&origin, format!("{name}: {e}")))
        };
        let (ibuf, obuf) = (buf(&desc.input_buffer)?, buf(&desc.output_buffer)?);
        let mut cfg = opts.driver;
        if let Some(t) = desc.timeout {
            cfg.timeout = t;
        }
        let driver = IodmaDriver::new(idma, odma, ibuf, obuf, input, output, cfg)
            .map_err(|e| Error::file(&origin, format!("accelerator setup: {e}")))?;
        Ok(ZynqAccel { model, driver: Mutex::new(driver), summary })
    }

    /// Where the accelerator was described.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    fn lock(&self) -> MutexGuard<'_, IodmaDriver<MappedWindow, UDmaBuf>> {
        self.driver.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The largest batch one run takes (larger ones go in several runs).
    pub fn max_batch(&self) -> usize {
        self.lock().max_batch()
    }
}

impl Accelerator for ZynqAccel {
    fn name(&self) -> &'static str {
        "zynq"
    }
    fn model(&self) -> &FoldedModel {
        &self.model
    }
    fn has_scores(&self) -> bool {
        false
    }
    fn has_taps(&self) -> bool {
        false
    }

    fn run(&self, images: ArrayView4<u8>, taps: &[usize]) -> Result<Outputs> {
        let n = check_batch(&self.model, &images)?;
        check_taps(&self.model, self.name(), false, taps)?;
        let input = frames(&images);
        let labels: Vec<i64> =
            self.lock().execute::<u8, i64>(&input).map_err(|e| Error::invalid(format!("zynq accelerator: {e}")))?;
        let classes = self.model.topology.classes();
        let labels = labels
            .into_iter()
            .map(|l| {
                usize::try_from(l).ok().filter(|&l| l < classes).ok_or_else(|| {
                    Error::invalid(format!(
                        "zynq accelerator returned label {l}, the model has {classes} classes (is the loaded \
                         bitstream a build of this model?)"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        debug_assert_eq!(labels.len(), n);
        Ok(Outputs { labels, scores: None, taps: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_parse_or_say_what_is_wrong() {
        let d = parse_description(
            r#"{"idma0": {"uio": "idma0"}, "odma0": {"base": "0x40010000", "range": 65536},
                "cache": "uncached", "timeout_ms": 50}"#,
        )
        .unwrap();
        assert_eq!(d.idma, WindowSpec::Uio("idma0".into()));
        assert_eq!(d.odma, WindowSpec::DevMem { base: 0x4001_0000, range: 0x1_0000 });
        assert_eq!((d.input_buffer.as_str(), d.output_buffer.as_str()), ("udmabuf0", "udmabuf1"));
        assert_eq!((d.cache, d.timeout), (CachePolicy::Uncached, Some(Duration::from_millis(50))));
        for (text, want) in [
            ("{", "JSON"),
            ("[]", "object"),
            (r#"{"idma0": {"uio": "a"}}"#, "missing 'odma0'"),
            (r#"{"idma0": {"uio": 3}, "odma0": {"uio": "b"}}"#, "idma0.uio"),
            (r#"{"idma0": {"base": "0xzz", "range": 64}, "odma0": {"uio": "b"}}"#, "idma0.base"),
            (r#"{"idma0": {"base": 0, "range": 16}, "odma0": {"uio": "b"}}"#, "0x1c"),
            (r#"{"idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "cache": "write-back"}"#, "cache"),
            (r#"{"idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "input_buffer": "../x"}"#, "input_buffer"),
            (r#"{"idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "timeout_ms": 0}"#, "timeout_ms"),
            (r#"{"idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "idma1": {}}"#, "unknown key 'idma1'"),
        ] {
            let e = parse_description(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
