//! The zynq backend: hw's [`IodmaDriver`] on a board running a FINN zynq-iodma build. Labels
//! only (the accelerator ends in LabelSelect); no taps. Frames are sized from the deployment's
//! driver.py ([`Contract`]), never from a host model; a model is optional and, when given, is
//! checked against the deployment before anything is opened.
//!
//! Set up from either
//! - a FINN deployment folder (hw's [`FinnDeployment`]: driver.py, `.hwh` + `.bit`, optional
//!   `runtime_weights/`): the bitstream must already be loaded; the IODMAs driver.py names are
//!   opened as the UIO devices of those names, else, with `allow_devmem`, through /dev/mem at the
//!   .hwh's base addresses; runtime weights go to their AXI-lite windows the same way (UIO name:
//!   PYNQ's window name with `/` as `_`), are read back and verified, and one flush run follows,
//!   as FINN's driver does; or
//! - a JSON description:
//!   ```json
//!   { "driver": "driver.py",
//!     "idma0": {"uio": "idma0"},
//!     "odma0": {"base": "0x40010000", "range": "0x10000"},
//!     "input_buffer": "udmabuf0", "output_buffer": "udmabuf1",
//!     "cache": "cached", "timeout_ms": 1000 }
//!   ```
//!   where `driver` is the deployment's driver.py (relative to the JSON file's folder), a window
//!   is a UIO device name or a physical base and range (/dev/mem, needs `allow_devmem`), the
//!   buffers are u-dma-buf devices (defaults udmabuf0, udmabuf1), `cache` is `cached` (default)
//!   or `uncached`, and `timeout_ms` is the fixed part of the wait. Runtime weights need the
//!   .hwh's windows, so a JSON description refuses them.
//!
//! [`ZynqAccel::open`] reads and checks everything first ([`check_plan`]: the deployment's
//! contract, the model, hw's [`preflight`], the windows), then maps the windows and buffers,
//! and only then writes registers.
//!
//! Before any device is opened, hw's [`preflight`] checks that the PL holds the design (FPGA
//! manager state, chip family, PYNQ's or binarycop's record of the loaded bitstream) and, where
//! /dev/mem is allowed, that PL clock 0 is the .hwh's (setting it first with `set_clock`).
//! Off a board every path ends in an error naming what is missing; /dev/mem is never opened
//! unless the machine has an FPGA manager (`/sys/class/fpga_manager/*`), so a workstation's
//! memory is never mapped by mistake.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use binarycop_hw::deployment::FinnDeployment;
use binarycop_hw::dma::{CachePolicy, UDmaBuf};
use binarycop_hw::driver::{DriverConfig, IodmaDriver};
use binarycop_hw::finn_driver::{self, DriverPy};
use binarycop_hw::fpga::Finding;
use binarycop_hw::mmio::{MappedWindow, Roots};
use binarycop_hw::preflight::{self, Checks};
use binarycop_hw::runtime_weights::{self, WeightLoad};
use ndarray::ArrayView4;
use serde_json::Value;

use super::{check_batch, frames, Accelerator, Contract, IoSpec, Outputs};
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
    /// The checks before the first register access (PL loaded, PL clock).
    pub checks: Checks,
}

impl Default for ZynqOptions {
    fn default() -> Self {
        ZynqOptions {
            roots: Roots::default(),
            devmem: PathBuf::from("/dev/mem"),
            allow_devmem: false,
            driver: DriverConfig::default(),
            checks: Checks::default(),
        }
    }
}

/// How to reach one register window.
#[derive(Clone, Debug, PartialEq, Eq)]
enum WindowSpec {
    Uio(String),
    DevMem { base: u64, range: u64 },
}

/// How the device is reached: the two IODMA windows and the DMA buffers.
#[derive(Clone, Debug)]
struct Access {
    idma: WindowSpec,
    odma: WindowSpec,
    input_buffer: String,
    output_buffer: String,
    cache: CachePolicy,
    timeout: Option<Duration>,
}

impl Access {
    /// The windows, with u-dma-buf's first two buffers, cached, and the default timeout.
    fn new(idma: WindowSpec, odma: WindowSpec) -> Access {
        Access {
            idma,
            odma,
            input_buffer: "udmabuf0".into(),
            output_buffer: "udmabuf1".into(),
            cache: CachePolicy::Cached,
            timeout: None,
        }
    }
}

#[derive(Clone, Debug)]
struct Description {
    /// driver.py, as written in the JSON (relative to its folder).
    driver: PathBuf,
    access: Access,
}

/// What [`ZynqAccel::open`] will do, read from the source before anything is opened.
struct Plan {
    /// The folder or JSON file, for messages.
    origin: PathBuf,
    summary: String,
    driver: DriverPy,
    access: Access,
    /// Runtime weights and their windows.
    weights: Vec<(WeightLoad, WindowSpec)>,
    /// Weight files that have no .hwh to find their windows in (JSON descriptions).
    unplaced_weights: Vec<PathBuf>,
    /// The .hwh and .bit, for hw's preflight (none for a JSON description).
    deployment: Option<binarycop_hw::deploy::Deployment>,
}

pub struct ZynqAccel {
    io: IoSpec,
    model: Option<FoldedModel>,
    driver: Mutex<IodmaDriver<MappedWindow, UDmaBuf>>,
    summary: String,
    preflight: Vec<Finding>,
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
    const KEYS: [&str; 7] = ["driver", "idma0", "odma0", "input_buffer", "output_buffer", "cache", "timeout_ms"];
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
    let driver = match obj.get("driver") {
        Some(Value::String(s)) if !s.is_empty() => PathBuf::from(s),
        Some(_) => return Err("driver must be the path of the deployment's driver.py".into()),
        None => {
            return Err("missing 'driver': the deployment's driver.py, which says the frames' shapes and types".into())
        }
    };
    let access = Access {
        input_buffer: text_field("input_buffer", "udmabuf0")?,
        output_buffer: text_field("output_buffer", "udmabuf1")?,
        cache,
        timeout,
        ..Access::new(window("idma0")?, window("odma0")?)
    };
    Ok(Description { driver, access })
}

fn regs_min() -> u64 {
    binarycop_hw::regs::WINDOW_MIN as u64
}

/// A window reached through the UIO device `name` if one exists, else /dev/mem at base/range.
fn window_spec(name: &str, base: u64, range: u64, opts: &ZynqOptions, origin: &Path) -> Result<WindowSpec> {
    let uio = MappedWindow::find_uio(name, &opts.roots).map_err(|e| Error::driver(origin.display().to_string(), e))?;
    Ok(match uio {
        Some(_) => WindowSpec::Uio(name.to_string()),
        None => WindowSpec::DevMem { base, range },
    })
}

impl Plan {
    fn read(source: &ZynqSource, opts: &ZynqOptions) -> Result<Plan> {
        match source {
            ZynqSource::Deploy(dir) => Self::from_deployment(dir, opts),
            ZynqSource::Json(path) => Self::from_json(path),
        }
    }

    /// What the deployment folder says: its driver.py's IODMAs, at their .hwh windows.
    fn from_deployment(dir: &Path, opts: &ZynqOptions) -> Result<Plan> {
        let d = FinnDeployment::open(dir)?;
        let (i, o) = d.driver.single_io()?;
        let dma = |name: &str| -> Result<WindowSpec> {
            let w = d.files.hwh.dma(name).expect("FinnDeployment checks driver.py's IODMAs are in the .hwh");
            window_spec(name, w.base, w.range, opts, dir)
        };
        let (idma, odma) = (dma(&i.dma)?, dma(&o.dma)?);
        let mut weights = Vec::with_capacity(d.weights.len());
        for w in &d.weights {
            let spec = window_spec(&w.name.replace('/', "_"), w.window.base, w.window.range, opts, dir)?;
            weights.push((w.clone(), spec));
        }
        let clock = d.files.hwh.fclk_mhz.map_or("unknown clock".to_string(), |f| format!("{f} MHz"));
        let b = &d.files.bit;
        let summary = format!("{} ({}, part {}, {clock})", d.files.bit_path.display(), b.design, b.part);
        Ok(Plan {
            origin: dir.to_path_buf(),
            summary,
            driver: d.driver,
            access: Access::new(idma, odma),
            weights,
            unplaced_weights: Vec::new(),
            deployment: Some(d.files),
        })
    }

    /// What the JSON description says, with the driver.py it names.
    fn from_json(path: &Path) -> Result<Plan> {
        let text = crate::data::read_text_input(path, "the accelerator description")?;
        let d = parse_description(&text).map_err(|m| Error::file(path, m))?;
        let driver_path = path.parent().unwrap_or(Path::new(".")).join(&d.driver);
        let driver = finn_driver::read(&driver_path)?;
        let weight_dir = driver_path.parent().unwrap_or(Path::new(".")).join("runtime_weights");
        let unplaced_weights = runtime_weights::read_dir(&weight_dir)?.into_iter().map(|w| w.path).collect();
        Ok(Plan {
            origin: path.to_path_buf(),
            summary: path.display().to_string(),
            driver,
            access: d.access,
            weights: Vec::new(),
            unplaced_weights,
            deployment: None,
        })
    }

    fn windows(&self) -> impl Iterator<Item = (&str, &WindowSpec)> {
        let w = self.weights.iter().map(|(l, spec)| (l.name.as_str(), spec));
        [("idma0", &self.access.idma), ("odma0", &self.access.odma)].into_iter().chain(w)
    }
}

/// Every check made before any device is opened or register touched; the backend's I/O.
///
/// 1. driver.py describes one input and one output, an NHWC UINT8 image in and one unsigned
///    class index out ([`Contract::from_driver`]);
/// 2. the model, when given, takes that image and its classes fit the index type;
/// 3. runtime weights have windows (a JSON description has no .hwh to place them);
/// 4. the PL holds this design and runs at its clock (hw's [`preflight`]);
/// 5. every register window is reachable as planned: a UIO device of its name, or /dev/mem
///    when allowed and on a machine with an FPGA manager.
fn check_plan(
    plan: &Plan,
    model: Option<&FoldedModel>,
    opts: &ZynqOptions,
) -> Result<(Contract, IoSpec, Vec<Finding>)> {
    let contract = Contract::from_driver(&plan.driver)?;
    let io = contract.io_spec(model)?;
    if let Some(w) = plan.unplaced_weights.first() {
        return Err(Error::file(
            w,
            "runtime-writable weights need the deployment's .hwh to find their windows; use --deploy DIR instead \
             of a JSON description",
        ));
    }
    let devmem = (opts.allow_devmem || opts.checks.set_clock).then_some(opts.devmem.as_path());
    let pl =
        preflight::run(plan.deployment.as_ref(), &opts.checks, devmem).map_err(|e| Error::file(&plan.origin, e))?;
    for (name, spec) in plan.windows() {
        check_reachable(name, spec, opts, &plan.origin)?;
    }
    Ok((contract, io, pl))
}

/// Whether this machine has a PL the FPGA manager drives.
fn has_fpga(roots: &Roots) -> bool {
    std::fs::read_dir(roots.sys.join("class/fpga_manager")).is_ok_and(|mut e| e.next().is_some())
}

fn check_reachable(name: &str, spec: &WindowSpec, opts: &ZynqOptions, origin: &Path) -> Result<()> {
    let fail = |msg: String| Error::file(origin, format!("{name}: {msg}"));
    match spec {
        WindowSpec::Uio(dev) => match MappedWindow::find_uio(dev, &opts.roots).map_err(|e| fail(e.to_string()))? {
            Some(_) => Ok(()),
            None => Err(fail(format!(
                "no UIO device named '{dev}' under {} (bind the IODMA to generic-uio in the device tree)",
                opts.roots.sys.join("class/uio").display()
            ))),
        },
        WindowSpec::DevMem { base, .. } if !opts.allow_devmem => Err(fail(format!(
            "no UIO device of that name, and mapping {base:#x} through {} was not allowed: bind the IODMAs to \
             generic-uio, or pass --allow-devmem (needs root)",
            opts.devmem.display()
        ))),
        WindowSpec::DevMem { base, .. } if !has_fpga(&opts.roots) => Err(fail(format!(
            "this machine is not a Zynq with a loaded PL ({} lists no FPGA): refusing to map physical address \
             {base:#x}",
            opts.roots.sys.join("class/fpga_manager").display()
        ))),
        WindowSpec::DevMem { .. } => Ok(()),
    }
}

/// Maps a window planned and checked by [`check_plan`]; touches no register.
fn open_window(name: &str, spec: &WindowSpec, opts: &ZynqOptions, origin: &Path) -> Result<MappedWindow> {
    let fail = |msg: String| Error::file(origin, format!("{name}: {msg}"));
    match spec {
        WindowSpec::Uio(dev) => {
            let idx = MappedWindow::find_uio(dev, &opts.roots)
                .map_err(|e| fail(e.to_string()))?
                .ok_or_else(|| fail(format!("the UIO device '{dev}' went away")))?;
            MappedWindow::open_uio(idx, &opts.roots).map_err(|e| fail(e.to_string()))
        }
        WindowSpec::DevMem { base, range } => {
            let len = usize::try_from(*range).map_err(|_| fail(format!("range {range:#x} is too large")))?;
            MappedWindow::open_devmem_at(&opts.devmem, *base, len, opts.allow_devmem).map_err(|e| fail(e.to_string()))
        }
    }
}

impl ZynqAccel {
    /// Opens the accelerator `source` describes. `model`, when given, is checked against the
    /// deployment (and names the layers); without one, labels are shaped by driver.py alone.
    pub fn open(source: &ZynqSource, opts: &ZynqOptions, model: Option<FoldedModel>) -> Result<ZynqAccel> {
        let plan = Plan::read(source, opts)?;
        let (contract, io, preflight) = check_plan(&plan, model.as_ref(), opts)?;

        // Devices are opened from here on; no register is touched until the weights are loaded.
        let (origin, access) = (&plan.origin, &plan.access);
        let idma = open_window("idma0", &access.idma, opts, origin)?;
        let odma = open_window("odma0", &access.odma, opts, origin)?;
        let buf = |name: &str| {
            UDmaBuf::open_in(name, &opts.roots, access.cache).map_err(|e| Error::file(origin, format!("{name}: {e}")))
        };
        let (ibuf, obuf) = (buf(&access.input_buffer)?, buf(&access.output_buffer)?);
        let mut cfg = opts.driver;
        if let Some(t) = access.timeout {
            cfg.timeout = t;
        }
        let mut driver = IodmaDriver::new(idma, odma, ibuf, obuf, contract.input, contract.output, cfg)
            .map_err(|e| Error::driver(format!("{}: accelerator setup", origin.display()), e))?;
        load_weights(&plan, &mut driver, opts)?;
        Ok(ZynqAccel { io, model, driver: Mutex::new(driver), summary: plan.summary, preflight })
    }

    /// Where the accelerator was described.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// What the checks before the first register access confirmed, and what they could not.
    pub fn preflight(&self) -> &[Finding] {
        &self.preflight
    }

    fn lock(&self) -> MutexGuard<'_, IodmaDriver<MappedWindow, UDmaBuf>> {
        self.driver.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The largest batch one run takes (larger ones go in several runs).
    pub fn max_batch(&self) -> usize {
        self.lock().max_batch()
    }
}

/// Writes and verifies each runtime weight file, then one run flushes stale weights out of the
/// weight streamers, as FINN's driver does (`load_runtime_weights`).
fn load_weights(plan: &Plan, driver: &mut IodmaDriver<MappedWindow, UDmaBuf>, opts: &ZynqOptions) -> Result<()> {
    if plan.weights.is_empty() {
        return Ok(());
    }
    for (w, spec) in &plan.weights {
        let mut window = open_window(&w.name, spec, opts, &plan.origin)?;
        runtime_weights::load(&mut window, w)?;
    }
    driver.run_on_buffers(1).map_err(|e| Error::driver("zynq accelerator: the run that flushes the loaded weights", e))
}

impl Accelerator for ZynqAccel {
    fn name(&self) -> &'static str {
        "zynq"
    }
    fn io(&self) -> &IoSpec {
        &self.io
    }
    fn model(&self) -> Option<&FoldedModel> {
        self.model.as_ref()
    }
    fn has_scores(&self) -> bool {
        false
    }
    fn has_taps(&self) -> bool {
        false
    }

    fn run(&self, images: ArrayView4<u8>, taps: &[usize]) -> Result<Outputs> {
        let n = check_batch(&self.io, &images)?;
        if !taps.is_empty() {
            return Err(Error::invalid("the zynq backend cannot tap layers (the cpu and sim backends can)"));
        }
        let input = frames(&images);
        let labels: Vec<i64> =
            self.lock().execute::<u8, i64>(&input).map_err(|e| Error::driver("zynq accelerator", e))?;
        let labels = labels.into_iter().map(|l| self.io.label("zynq", l)).collect::<Result<Vec<_>>>()?;
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
            r#"{"driver": "d/driver.py", "idma0": {"uio": "idma0"}, "odma0": {"base": "0x40010000", "range": 65536},
                "cache": "uncached", "timeout_ms": 50}"#,
        )
        .unwrap();
        assert_eq!(d.driver, PathBuf::from("d/driver.py"));
        let a = d.access;
        assert_eq!(a.idma, WindowSpec::Uio("idma0".into()));
        assert_eq!(a.odma, WindowSpec::DevMem { base: 0x4001_0000, range: 0x1_0000 });
        assert_eq!((a.input_buffer.as_str(), a.output_buffer.as_str()), ("udmabuf0", "udmabuf1"));
        assert_eq!((a.cache, a.timeout), (CachePolicy::Uncached, Some(Duration::from_millis(50))));
        for (text, want) in [
            ("{", "JSON"),
            ("[]", "object"),
            (r#"{"driver": "d.py", "idma0": {"uio": "a"}}"#, "missing 'odma0'"),
            (r#"{"driver": "d.py", "idma0": {"uio": 3}, "odma0": {"uio": "b"}}"#, "idma0.uio"),
            (r#"{"driver": "d.py", "idma0": {"base": "0xzz", "range": 64}, "odma0": {"uio": "b"}}"#, "idma0.base"),
            (r#"{"driver": "d.py", "idma0": {"base": 0, "range": 16}, "odma0": {"uio": "b"}}"#, "0x1c"),
            (r#"{"driver": "d.py", "idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "cache": "write-back"}"#, "cache"),
            (
                r#"{"driver": "d.py", "idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "input_buffer": "../x"}"#,
                "input_buffer",
            ),
            (r#"{"driver": "d.py", "idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "timeout_ms": 0}"#, "timeout_ms"),
            (r#"{"driver": "d.py", "idma0": {"uio": "a"}, "odma0": {"uio": "b"}, "idma1": {}}"#, "unknown key 'idma1'"),
        ] {
            let e = parse_description(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
