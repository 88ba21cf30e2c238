//! What runs before the first IODMA register access, so that a board is never locked by a
//! driver talking to a PL that does not hold its design or runs at the wrong clock:
//! 1. [`fpga::check_loaded`]: the FPGA manager says `operating`, the chip is the .hwh's family,
//!    and a record names this bitstream (or the caller vouches for it);
//! 2. PL clock 0 ([`crate::clocks`]): read from the PS clock registers and compared with the
//!    .hwh's fclk0 (within a tolerance, 1% by default: PYNQ's own warning threshold), after
//!    setting it when asked (`set_clock`). Reading the PS clock registers needs /dev/mem; when it
//!    is not allowed the clock is reported as not checked.
//!
//! Every failure is an error before anything is written to the accelerator; only `set_clock`
//! writes a register (the PS's fclk0 divisors).

use std::path::{Path, PathBuf};

use crate::clocks::{self, ClockError, Fclk0, PsClocks, PsFamily};
use crate::deploy::Deployment;
use crate::fpga::{self, Finding, FpgaPaths, PlError};
use crate::mmio::{MappedWindow, Roots};
use crate::sysfs;

/// What the checks may do and where they look.
#[derive(Clone, Debug)]
pub struct Checks {
    pub paths: FpgaPaths,
    /// Set fclk0 from the .hwh before checking it (writes the PS clock divisors; /dev/mem).
    pub set_clock: bool,
    /// The caller vouches that the PL holds the design when no record names it.
    pub pl_loaded: bool,
    /// Allowed relative difference between fclk0 and the .hwh's clock.
    pub clock_tolerance: f64,
}

impl Default for Checks {
    fn default() -> Self {
        Checks { paths: FpgaPaths::default(), set_clock: false, pl_loaded: false, clock_tolerance: 0.01 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(transparent)]
    Pl(#[from] PlError),
    #[error(
        "PL clock 0 runs at {have}, but {hwh} asks for {want} MHz (more than {tol}% off): the accelerator \
         would run out of its timing; {hint}"
    )]
    WrongClock { have: Fclk0, want: f64, hwh: PathBuf, tol: f64, hint: &'static str },
    #[error("PL clock 0 (PS clock registers through {devmem}): {err}")]
    Clock { devmem: PathBuf, err: ClockError },
}

/// Runs the checks for `deploy` (None: a description without .hwh/.bit). `devmem` is the
/// physical-memory device when its use is allowed. Returns what was and was not checked.
pub fn run(
    deploy: Option<&Deployment>,
    checks: &Checks,
    devmem: Option<&Path>,
) -> Result<Vec<Finding>, PreflightError> {
    let mut found = fpga::check_loaded(deploy, &checks.paths, checks.pl_loaded)?;
    match deploy {
        Some(d) => found.push(pl_clock(d, checks, devmem)?),
        None => found.push(Finding::skipped("PL clock", "a JSON description has no .hwh to take the clock from")),
    }
    Ok(found)
}

fn open_ps_clocks(family: PsFamily, devmem: &Path, ref_mhz: f64) -> Result<PsClocks<MappedWindow>, ClockError> {
    let map = |base, len| MappedWindow::open_devmem_at(devmem, base, len, true);
    Ok(match family {
        PsFamily::Zynq7000 => PsClocks::new(family, map(clocks::SLCR_BASE, clocks::SLCR_LEN)?, None, ref_mhz),
        PsFamily::ZynqMp => PsClocks::new(
            family,
            map(clocks::CRL_APB_BASE, clocks::ZU_CLK_LEN)?,
            Some(map(clocks::CRF_APB_BASE, clocks::ZU_CLK_LEN)?),
            ref_mhz,
        ),
    })
}

/// Reads (and with `set_clock` first sets) fclk0 and compares it with the .hwh's.
fn pl_clock(d: &Deployment, checks: &Checks, devmem: Option<&Path>) -> Result<Finding, PreflightError> {
    let Some(want) = d.hwh.fclk_mhz else {
        return Ok(Finding::skipped("PL clock", format!("{} gives no PL clock 0 frequency", d.hwh_path.display())));
    };
    let Some(devmem) = devmem else {
        return Ok(Finding::skipped(
            "PL clock",
            format!("the .hwh asks {want} MHz; reading the PS clock registers needs /dev/mem (--allow-devmem or --set-clock)"),
        ));
    };
    let Some(family) = PsFamily::from_processor(&d.hwh.processor) else {
        return Ok(Finding::skipped("PL clock", format!("unknown processor {}", d.hwh.processor)));
    };
    let (ref_mhz, ref_from) = match d.hwh.fclk0.ref_mhz {
        Some(r) => (r, "the .hwh"),
        None => (family.default_ref_mhz(), "PYNQ's default"),
    };
    let clock_err = |err| PreflightError::Clock { devmem: devmem.to_path_buf(), err };
    let mut ps = open_ps_clocks(family, devmem, ref_mhz).map_err(clock_err)?;
    let mut now = ps.read_fclk0().map_err(clock_err)?;
    let mut how = "read".to_string();
    let tol = checks.clock_tolerance;
    if checks.set_clock {
        let pair = clocks::choose_divisors(&d.hwh.fclk0, now.pll_mhz, want, tol).map_err(clock_err)?;
        let before = std::mem::replace(&mut now, ps.set_divisors(pair).map_err(clock_err)?);
        how = format!("set (was {before})");
    }
    if !clocks::within(now.mhz, want, tol) || !now.active {
        return Err(PreflightError::WrongClock {
            have: now,
            want,
            hwh: d.hwh_path.clone(),
            tol: tol * 100.0,
            hint: if checks.set_clock {
                "no divisor pair makes it from this PLL"
            } else {
                "pass --set-clock to set it from the .hwh, as PYNQ and FINN's driver do"
            },
        });
    }
    Ok(Finding::ok(
        "PL clock",
        format!("fclk0 {now}, {how}; the .hwh asks {want} MHz (reference {ref_mhz} MHz from {ref_from})"),
    ))
}

/// What Linux offers the driver, read from sysfs only (nothing is opened or mapped): a UIO
/// device per IODMA window of the .hwh, and the u-dma-buf buffers `udmabuf0` (input) and
/// `udmabuf1` (output) with their address, size and `sync_mode`.
pub fn devices(d: &Deployment, roots: &Roots) -> Vec<Finding> {
    let mut found = Vec::new();
    for w in &d.hwh.dmas {
        let what = format!("{} window", w.name);
        found.push(match MappedWindow::find_uio(&w.name, roots) {
            Ok(Some(i)) => {
                let size = sysfs::read_text(&roots.sys.join(format!("class/uio/uio{i}/maps/map0/size")));
                Finding::ok(
                    &what,
                    format!(
                        "UIO {} (map0 size {})",
                        roots.dev.join(format!("uio{i}")).display(),
                        size.unwrap_or_default()
                    ),
                )
            }
            _ => Finding::skipped(
                &what,
                format!("no UIO device named {}: needs --allow-devmem ({:#x}, {:#x} bytes)", w.name, w.base, w.range),
            ),
        });
    }
    for (name, role) in [("udmabuf0", "input"), ("udmabuf1", "output")] {
        let attrs = roots.sys.join("class/u-dma-buf").join(name);
        let attr = |a: &str| sysfs::read_text(&attrs.join(a)).unwrap_or_else(|_| "?".into());
        found.push(if attrs.is_dir() {
            Finding::ok(
                name,
                format!(
                    "{role} buffer at {}, {} bytes, sync_mode {}",
                    attr("phys_addr"),
                    attr("size"),
                    attr("sync_mode")
                ),
            )
        } else {
            Finding::skipped(name, format!("no {} (load the u-dma-buf module with it)", attrs.display()))
        });
    }
    found
}
