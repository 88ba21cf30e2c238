//! The programmable logic: what the Linux FPGA manager and PYNQ say it holds, and loading a
//! bitstream into it the way PYNQ does.
//!
//! Touching an IODMA register while the PL holds no design (or another one) can hang a
//! Zynq-7000's interconnect until a power cycle, so [`check_loaded`] runs before the first
//! register access:
//! 1. `/sys/class/fpga_manager/fpga0/state` must be `operating`. The Zynq-7000 and ZynqMP
//!    managers derive it from the hardware (PCFG_DONE / PCAP done), so it holds however the
//!    design was loaded (FSBL, U-Boot, PYNQ, fpgautil, binarycop).
//! 2. The running chip's family (`/sys/firmware/devicetree/base/compatible`) must be the one the
//!    .hwh was built for (`xlnx,zynq-7000` for processing_system7, `xlnx,zynqmp` for
//!    zynq_ultra_ps_e).
//! 3. A record of which bitstream was loaded must name this one. Where the records live:
//!    - PYNQ v3.0: `<pynq>/pl_server/global_pl_state.json`; v3.1: `global_pl_state_.json`
//!      (`<pynq>` is `/usr/local/share/pynq-venv/lib/python3.*/site-packages/pynq`). JSON with
//!      `bitfile_name` (absolute path), `timestamp` and `bitfile_hash` (SHA-1 of the .bit file).
//!      PYNQ discards it at a cold boot (state `unknown` or flags `100`); so do we.
//!    - PYNQ v2.5–v2.7: only in the memory of the `pl_server` process, behind the socket
//!      `/tmp/pynq.<device>.socket` (Python multiprocessing with pickled state). A client must
//!      write the whole state back after reading it, and the server dies if one does not, so
//!      binarycop never talks to it: on these images the record check needs `binarycop load`.
//!    - binarycop's own, written by [`load`]: `/run/binarycop/pl.json` (tmpfs: gone at reboot;
//!      it also carries the boot id). It is trusted only while nothing loaded after it: the
//!      PYNQ v3 record must be the one seen at load time, and no `.bin` in the firmware folder
//!      may be newer (PYNQ v2/v3 and fpgautil all write one there before loading).
//!
//!    With no usable record, which design the PL holds is unknown: the check fails and says
//!    what it did and did not check, unless the caller vouches for the design (`assume_loaded`,
//!    the CLI's `--pl-loaded`).
//!
//! Loading ([`load`]), as PYNQ's `Bitstream.download` does on an embedded device: the `.bit`
//! payload, byte-swapped per 32-bit word, is written to the firmware folder as `<stem>.bin`;
//! `flags` gets `0` (full reconfiguration); `firmware` gets the file name; then the state is
//! polled until `operating`, within a timeout. Afterwards PYNQ v3's record (and its pickled
//! metadata cache) is removed, as PYNQ does itself at a cold boot, so that PYNQ does not take
//! its old overlay for the running design, and binarycop's record is written.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use sha1::{Digest, Sha1};

use crate::deploy::{bit_to_bin, Deployment};
use crate::sysfs::{self, SysfsError};

#[derive(Debug, thiserror::Error)]
pub enum PlError {
    #[error(
        "{dir}: no FPGA manager: this is not a Zynq running Linux with its FPGA manager (or /sys is not \
         mounted); refusing to touch the PL"
    )]
    NoManager { dir: PathBuf },
    #[error(
        "the PL is not configured: {dir}/state is '{state}', not 'operating'; load the bitstream first \
         (binarycop load --deploy DIR, or PYNQ's Overlay)"
    )]
    NotOperating { dir: PathBuf, state: String },
    #[error("{hwh} was built for {processor} ({want}), but this chip is {have} ({path})")]
    WrongFamily { hwh: PathBuf, processor: String, want: &'static str, have: String, path: PathBuf },
    #[error(
        "the PL holds another design: {record} names {names}, not {want}; load this one first (binarycop \
         load --deploy DIR)"
    )]
    OtherDesign { record: String, names: String, want: PathBuf },
    #[error(
        "cannot confirm which design the PL holds ({checked}); no record names the loaded bitstream ({why}). \
         Load it with `binarycop load --deploy DIR`, or, if you loaded it yourself, say so with --pl-loaded"
    )]
    Unconfirmed { checked: String, why: String },
    #[error(
        "loading a bitstream replaces the running FPGA design; opt in explicitly (allow_load = true; the CLI \
         command is `binarycop load`)"
    )]
    LoadNotAllowed,
    #[error("{bit}: the header says {bytes} payload bytes{stand_in}: there is no bitstream to load")]
    EmptyBitstream { bit: PathBuf, bytes: usize, stand_in: &'static str },
    #[error("{dir}: the FPGA manager has no '{attr}' attribute: {why}")]
    NoLoadInterface { dir: PathBuf, attr: &'static str, why: &'static str },
    #[error("loading {name} failed: {dir}/state is '{state}' after {waited:?}")]
    LoadFailed { name: String, dir: PathBuf, state: String, waited: Duration },
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
}

fn file_err(path: &Path, msg: impl Into<String>) -> PlError {
    PlError::File { path: path.to_path_buf(), msg: msg.into() }
}

/// Where the FPGA manager, the firmware folder and the records live; tests point these at a
/// fake tree with [`FpgaPaths::under`].
#[derive(Clone, Debug)]
pub struct FpgaPaths {
    /// `/sys`.
    pub sys: PathBuf,
    /// The firmware loader's folder, `/lib/firmware`.
    pub firmware: PathBuf,
    /// Where PYNQ v3 images keep their Python packages: `<lib>/python3.*/site-packages/pynq`.
    pub pynq_venv_lib: PathBuf,
    /// binarycop's record of what it loaded.
    pub record: PathBuf,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: PathBuf,
    /// Where PYNQ v2's pl_server puts its socket (`/tmp`).
    pub pynq2_socket_dir: PathBuf,
}

impl Default for FpgaPaths {
    fn default() -> Self {
        FpgaPaths::under(Path::new("/"))
    }
}

impl FpgaPaths {
    /// The standard layout below `root` (`/` on a board).
    pub fn under(root: &Path) -> Self {
        FpgaPaths {
            sys: root.join("sys"),
            firmware: root.join("lib/firmware"),
            pynq_venv_lib: root.join("usr/local/share/pynq-venv/lib"),
            record: root.join("run/binarycop/pl.json"),
            boot_id: root.join("proc/sys/kernel/random/boot_id"),
            pynq2_socket_dir: root.join("tmp"),
        }
    }

    /// `<sys>/class/fpga_manager/fpga0`.
    pub fn manager(&self) -> PathBuf {
        self.sys.join("class/fpga_manager/fpga0")
    }

    fn compatible(&self) -> PathBuf {
        self.sys.join("firmware/devicetree/base/compatible")
    }
}

/// One line of what a check did: what was looked at, and whether it was confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub what: String,
    /// Confirmed (true) or not checked (false); failures are errors, not findings.
    pub checked: bool,
    pub detail: String,
}

impl Finding {
    pub(crate) fn ok(what: &str, detail: impl Into<String>) -> Self {
        Finding { what: what.into(), checked: true, detail: detail.into() }
    }
    pub(crate) fn skipped(what: &str, detail: impl Into<String>) -> Self {
        Finding { what: what.into(), checked: false, detail: detail.into() }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.checked { "ok" } else { "not checked" };
        write!(f, "{:<12} {mark}: {}", self.what, self.detail)
    }
}

/// The manager's `state` ("operating" after a good load), or why there is none.
pub fn manager_state(paths: &FpgaPaths) -> Result<String, PlError> {
    let dir = paths.manager();
    if !dir.is_dir() {
        return Err(PlError::NoManager { dir });
    }
    Ok(sysfs::read_text(&dir.join("state"))?)
}

/// The device-tree `compatible` a processor family's chip carries.
fn family_compatible(processor: &str) -> Option<&'static str> {
    match processor {
        "processing_system7" => Some("xlnx,zynq-7000"),
        "zynq_ultra_ps_e" => Some("xlnx,zynqmp"),
        _ => None,
    }
}

fn check_family(d: &Deployment, paths: &FpgaPaths) -> Result<Finding, PlError> {
    let Some(want) = family_compatible(&d.hwh.processor) else {
        return Ok(Finding::skipped("chip", format!("unknown processor {}", d.hwh.processor)));
    };
    let path = paths.compatible();
    let Ok(raw) = std::fs::read(&path) else {
        return Ok(Finding::skipped("chip", format!("{} is not readable", path.display())));
    };
    let have: Vec<String> =
        raw.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    if have.iter().any(|c| c == want) {
        return Ok(Finding::ok("chip", format!("{want}, as {} needs", d.hwh.processor)));
    }
    Err(PlError::WrongFamily {
        hwh: d.hwh_path.clone(),
        processor: d.hwh.processor.clone(),
        want,
        have: have.join(", "),
        path,
    })
}

/// PYNQ v3's record of the loaded bitstream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PynqRecord {
    pub path: PathBuf,
    pub bitfile_name: String,
    pub timestamp: String,
    /// SHA-1 of the .bit file, hex (empty in records that lack it).
    pub bitfile_hash: String,
}

/// binarycop's record of what it loaded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnRecord {
    pub bitstream: PathBuf,
    pub design: String,
    pub sha1: String,
    pub boot_id: Option<String>,
    /// PYNQ v3's record as it stood after the load (None: there was none).
    pub pynq_after_load: Option<PynqRecord>,
}

/// The PYNQ v3 record files on this image, newest first.
fn pynq_record_files(paths: &FpgaPaths) -> Vec<PathBuf> {
    let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
    let Ok(pythons) = std::fs::read_dir(&paths.pynq_venv_lib) else { return Vec::new() };
    for py in pythons.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("python3")) {
        let dir = py.path().join("site-packages/pynq/pl_server");
        let Ok(files) = std::fs::read_dir(&dir) else { continue };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with("global_pl_state") && name.ends_with(".json") {
                let t = f.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((t, f.path()));
            }
        }
    }
    found.sort_by_key(|e| std::cmp::Reverse(e.0));
    found.into_iter().map(|(_, p)| p).collect()
}

fn read_pynq_record(path: &Path) -> Result<PynqRecord, PlError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| file_err(path, format!("PYNQ's PL record is not JSON: {e}")))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let bitfile_name = field("bitfile_name").ok_or_else(|| file_err(path, "PYNQ's PL record has no bitfile_name"))?;
    Ok(PynqRecord {
        path: path.to_path_buf(),
        bitfile_name,
        timestamp: field("timestamp").unwrap_or_default(),
        bitfile_hash: field("bitfile_hash").unwrap_or_default(),
    })
}

/// PYNQ's cold-boot rule (`initial_global_state_file_boot_check`): a state of `unknown` or
/// flags `100` mean the record is from before this boot.
fn pynq_record_stale(paths: &FpgaPaths, state: &str) -> bool {
    let flags = sysfs::read_text(&paths.manager().join("flags")).unwrap_or_default();
    state.starts_with("unknown") || flags.starts_with("100")
}

fn current_pynq_record(paths: &FpgaPaths, state: &str) -> Result<Option<PynqRecord>, PlError> {
    match pynq_record_files(paths).first() {
        Some(p) if !pynq_record_stale(paths, state) => read_pynq_record(p).map(Some),
        _ => Ok(None),
    }
}

fn boot_id(paths: &FpgaPaths) -> Option<String> {
    sysfs::read_text(&paths.boot_id).ok().filter(|s| !s.is_empty())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A `.bin` in the firmware folder written after `since`, other than `ours`: someone loaded later.
fn newer_firmware(paths: &FpgaPaths, since: SystemTime, ours: &str) -> Option<String> {
    let entries = std::fs::read_dir(&paths.firmware).ok()?;
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bin") && e.file_name().to_string_lossy() != ours)
        .find(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t > since))
        .map(|e| e.path().display().to_string())
}

/// binarycop's record, if it still describes the PL: same boot, PYNQ's record unchanged since,
/// no newer firmware. Otherwise why not.
fn own_record(paths: &FpgaPaths, pynq: &Option<PynqRecord>) -> Result<OwnRecord, String> {
    let p = &paths.record;
    let text = std::fs::read_to_string(p).map_err(|_| format!("no binarycop record at {}", p.display()))?;
    let rec: OwnRecord =
        serde_json::from_str(&text).map_err(|e| format!("binarycop's record {} is unreadable: {e}", p.display()))?;
    if rec.boot_id.is_some() && rec.boot_id != boot_id(paths) {
        return Err(format!("binarycop's record {} is from an earlier boot", p.display()));
    }
    if &rec.pynq_after_load != pynq {
        return Err(format!("PYNQ loaded a bitstream after binarycop's record {}", p.display()));
    }
    let since = modified(p).unwrap_or(SystemTime::UNIX_EPOCH);
    let ours = bin_name(&rec.bitstream);
    if let Some(newer) = newer_firmware(paths, since, &ours) {
        return Err(format!("{newer} was written after binarycop's record {}: something loaded since", p.display()));
    }
    Ok(rec)
}

/// SHA-1 of a file, hex, as PYNQ's `bitstream_hash`.
pub fn sha1_hex(path: &Path) -> Result<String, PlError> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    Ok(Sha1::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// The firmware file name PYNQ uses: the .bit's stem + ".bin".
fn bin_name(bit: &Path) -> String {
    format!("{}.bin", bit.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default())
}

fn check_pynq_record(rec: &PynqRecord, d: &Deployment, sha1: &str) -> Result<Finding, PlError> {
    let what = format!("PYNQ's record {}", rec.path.display());
    let names = Path::new(&rec.bitfile_name);
    if !rec.bitfile_hash.is_empty() {
        if rec.bitfile_hash.eq_ignore_ascii_case(sha1) {
            return Ok(Finding::ok("design", format!("{what}: {} has this .bit's SHA-1", rec.bitfile_name)));
        }
        return Err(PlError::OtherDesign {
            record: what,
            names: format!("{} (SHA-1 {})", rec.bitfile_name, rec.bitfile_hash),
            want: d.bit_path.clone(),
        });
    }
    if names.file_name() == d.bit_path.file_name() {
        return Ok(Finding::ok("design", format!("{what}: names {} (same file name; no hash)", rec.bitfile_name)));
    }
    Err(PlError::OtherDesign { record: what, names: rec.bitfile_name.clone(), want: d.bit_path.clone() })
}

fn check_own_record(rec: &OwnRecord, paths: &FpgaPaths, d: &Deployment, sha1: &str) -> Result<Finding, PlError> {
    let what = format!("binarycop's record {}", paths.record.display());
    if rec.sha1.eq_ignore_ascii_case(sha1) {
        return Ok(Finding::ok("design", format!("{what}: {} has this .bit's SHA-1", rec.bitstream.display())));
    }
    Err(PlError::OtherDesign {
        record: what,
        names: format!("{} (design {})", rec.bitstream.display(), rec.design),
        want: d.bit_path.clone(),
    })
}

/// Checks that the PL holds `deploy` (or, for a description without a bitstream, at least some
/// design). Touches no register; reads sysfs and the records only.
pub fn check_loaded(
    deploy: Option<&Deployment>,
    paths: &FpgaPaths,
    assume_loaded: bool,
) -> Result<Vec<Finding>, PlError> {
    let state = manager_state(paths)?;
    let dir = paths.manager();
    if state != "operating" {
        return Err(PlError::NotOperating { dir, state });
    }
    let mut found = vec![Finding::ok("PL state", format!("{}/state is operating", dir.display()))];
    let Some(d) = deploy else {
        let why = "a JSON description names no bitstream to compare";
        if assume_loaded {
            found.push(Finding::skipped("design", format!("{why}; you vouched for it (--pl-loaded)")));
            return Ok(found);
        }
        return Err(PlError::Unconfirmed { checked: "state operating".into(), why: why.into() });
    };
    found.push(check_family(d, paths)?);
    let sha1 = sha1_hex(&d.bit_path)?;
    let pynq = current_pynq_record(paths, &state)?;
    match own_record(paths, &pynq) {
        Ok(rec) => found.push(check_own_record(&rec, paths, d, &sha1)?),
        Err(own_why) => match &pynq {
            Some(rec) => found.push(check_pynq_record(rec, d, &sha1)?),
            None => {
                let mut why = vec![own_why, "no PYNQ v3 record".to_string()];
                if let Some(s) = pynq2_socket(paths) {
                    why.push(format!("PYNQ v2's pl_server ({s}) keeps its record in memory and is not queried"));
                }
                let why = why.join("; ");
                if !assume_loaded {
                    let checked = found.iter().filter(|f| f.checked).map(|f| f.detail.clone()).collect::<Vec<_>>();
                    return Err(PlError::Unconfirmed { checked: checked.join(", "), why });
                }
                found.push(Finding::skipped("design", format!("{why}; you vouched for it (--pl-loaded)")));
            }
        },
    }
    Ok(found)
}

/// PYNQ v2's pl_server socket, if one is there.
fn pynq2_socket(paths: &FpgaPaths) -> Option<String> {
    let entries = std::fs::read_dir(&paths.pynq2_socket_dir).ok()?;
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("pynq.") && n.ends_with(".socket"))
        .map(|n| paths.pynq2_socket_dir.join(n).display().to_string())
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so that
/// no reader (the kernel's firmware loader) ever sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlError> {
    use std::io::Write;
    let dir = path.parent().ok_or_else(|| file_err(path, "no parent folder"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| file_err(path, format!("cannot write: {e}")))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| file_err(path, format!("cannot write: {e}")))?;
    tmp.persist(path).map_err(|e| file_err(path, format!("cannot write: {}", e.error)))?;
    Ok(())
}

/// How long [`load`] waits for the manager to report `operating`.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

fn wait_operating(paths: &FpgaPaths, name: &str, timeout: Duration) -> Result<(), PlError> {
    let dir = paths.manager();
    let start = Instant::now();
    loop {
        let state = sysfs::read_text(&dir.join("state"))?;
        if state == "operating" {
            return Ok(());
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(PlError::LoadFailed { name: name.to_string(), dir, state, waited });
        }
        std::thread::sleep(Duration::from_millis(20).min(timeout - waited));
    }
}

/// Removes PYNQ v3's record and metadata cache, as PYNQ does at a cold boot; returns what went.
fn forget_pynq_record(paths: &FpgaPaths) -> Result<Vec<PathBuf>, PlError> {
    let mut removed = Vec::new();
    for rec in pynq_record_files(paths) {
        let cache = rec.with_file_name("_current_metadata.pkl");
        for p in [rec, cache] {
            if p.exists() {
                std::fs::remove_file(&p)
                    .map_err(|e| file_err(&p, format!("cannot remove PYNQ's stale record: {e}")))?;
                removed.push(p);
            }
        }
    }
    Ok(removed)
}

/// Programs `d`'s bitstream through the FPGA manager (see the module doc). Replaces the running
/// design: needs `allow_load`. Returns what it did, line by line.
pub fn load(d: &Deployment, paths: &FpgaPaths, allow_load: bool, timeout: Duration) -> Result<Vec<Finding>, PlError> {
    if !allow_load {
        return Err(PlError::LoadNotAllowed);
    }
    if d.bit.payload_len == 0 {
        let stand_in = if d.bit.version.as_deref() == Some(crate::stand_in::STAND_IN_VERSION) {
            " (a stand-in from `binarycop export-deploy`, for the simulated device)"
        } else {
            ""
        };
        return Err(PlError::EmptyBitstream { bit: d.bit_path.clone(), bytes: 0, stand_in });
    }
    let dir = paths.manager();
    manager_state(paths)?;
    if !dir.join("firmware").exists() {
        return Err(PlError::NoLoadInterface {
            dir,
            attr: "firmware",
            why: "this kernel loads bitstreams through device-tree overlays only (PYNQ and Xilinx kernels have it)",
        });
    }
    let mut done = vec![check_family(d, paths)?];
    let bit = std::fs::read(&d.bit_path).map_err(|e| file_err(&d.bit_path, format!("cannot read: {e}")))?;
    let bin = bit_to_bin(&bit).map_err(|m| file_err(&d.bit_path, m.to_string()))?;
    let name = bin_name(&d.bit_path);
    let fw = paths.firmware.join(&name);
    write_atomic(&fw, &bin)?;
    done.push(Finding::ok("firmware", format!("wrote {} ({} bytes)", fw.display(), bin.len())));
    let flags = dir.join("flags");
    if flags.exists() {
        sysfs::write_text(&flags, "0")?; // full reconfiguration
    }
    sysfs::write_text(&dir.join("firmware"), &name)?;
    wait_operating(paths, &name, timeout)?;
    done.push(Finding::ok("PL state", format!("{}/state is operating after loading {name}", dir.display())));
    for p in forget_pynq_record(paths)? {
        done.push(Finding::ok("PYNQ", format!("removed {} (it named the previous design)", p.display())));
    }
    let rec = OwnRecord {
        bitstream: std::fs::canonicalize(&d.bit_path).unwrap_or_else(|_| d.bit_path.clone()),
        design: d.bit.design.clone(),
        sha1: Sha1::digest(&bit).iter().map(|b| format!("{b:02x}")).collect(),
        boot_id: boot_id(paths),
        pynq_after_load: None,
    };
    if let Some(parent) = paths.record.parent() {
        std::fs::create_dir_all(parent).map_err(|e| file_err(parent, format!("cannot create: {e}")))?;
    }
    write_atomic(&paths.record, serde_json::to_string_pretty(&rec).expect("JSON").as_bytes())?;
    done.push(Finding::ok("record", format!("wrote {}", paths.record.display())));
    Ok(done)
}
