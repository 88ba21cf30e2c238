//! `load` and `board-check`: the PL on a board (hw's `fpga` and `preflight`), and the flags the
//! zynq backend shares with them.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use binarycop_hw::deploy::{self, Deployment};
use binarycop_hw::fpga::{self, Finding, FpgaPaths};
use binarycop_hw::mmio::Roots;
use binarycop_hw::preflight::{self, Checks};

use crate::error::{Error, Result};

/// How the zynq backend treats the PL before its first register access.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PlArgs {
    /// zynq: set PL clock 0 to the .hwh's frequency before running, as PYNQ's Overlay and FINN's
    /// driver do: writes the fclk0 divisors in the PS clock registers (Zynq-7000 SLCR, ZynqMP
    /// CRL_APB) through /dev/mem, then reads them back (root). Without it the clock is only
    /// checked, and only where /dev/mem is allowed (--allow-devmem); a clock more than 1% off
    /// the .hwh's is an error.
    #[arg(long)]
    pub set_clock: bool,
    /// zynq: vouch that the PL holds this bitstream when no record names it (PYNQ v2 images keep
    /// theirs inside the pl_server; a bitstream loaded by the boot loader or fpgautil leaves
    /// none). The FPGA manager must still say `operating`. `binarycop load` leaves a record.
    #[arg(long)]
    pub pl_loaded: bool,
}

impl PlArgs {
    pub fn checks(&self) -> Checks {
        Checks { set_clock: self.set_clock, pl_loaded: self.pl_loaded, ..Checks::default() }
    }

    pub fn any(&self) -> bool {
        self.set_clock || self.pl_loaded
    }
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// A FINN deployment folder: the .hwh and .bit, directly or in bitfile/.
    #[arg(long)]
    deploy: PathBuf,
    /// After loading, set PL clock 0 to the .hwh's frequency (PS clock registers through
    /// /dev/mem), as PYNQ's Overlay does.
    #[arg(long)]
    set_clock: bool,
}

#[derive(clap::Args)]
pub struct BoardCheckArgs {
    /// A FINN deployment folder: the .hwh and .bit, directly or in bitfile/.
    #[arg(long)]
    deploy: PathBuf,
    /// Read PL clock 0 from the PS clock registers through /dev/mem (root).
    #[arg(long)]
    allow_devmem: bool,
    #[command(flatten)]
    pl: PlArgs,
}

fn deployment(dir: &Path) -> Result<Deployment> {
    deploy::find_deployment(dir).map_err(|e| {
        let (path, msg) = e.into_parts();
        Error::file(path, msg)
    })
}

fn print(out: &mut String, findings: &[Finding]) {
    for f in findings {
        let _ = writeln!(out, "{f}");
    }
}

const DEVMEM: &str = "/dev/mem";

/// Programs the deployment's bitstream through the FPGA manager, then runs the checks the
/// zynq backend runs (which now find binarycop's record).
pub fn load(args: LoadArgs, out: &mut String) -> Result<()> {
    let d = deployment(&args.deploy)?;
    let paths = FpgaPaths::default();
    let done = fpga::load(&d, &paths, true, fpga::LOAD_TIMEOUT).map_err(|e| Error::file(&d.bit_path, e))?;
    print(out, &done);
    let checks = Checks { paths, set_clock: args.set_clock, ..Checks::default() };
    let devmem = args.set_clock.then_some(Path::new(DEVMEM));
    let found = preflight::run(Some(&d), &checks, devmem).map_err(|e| Error::file(&args.deploy, e))?;
    print(out, &found);
    Ok(())
}

/// What sysfs offers the driver (UIO windows, u-dma-buf buffers), then the checks the zynq
/// backend runs before its first register access.
pub fn board_check(args: BoardCheckArgs, out: &mut String) -> Result<()> {
    let d = deployment(&args.deploy)?;
    let checks = args.pl.checks();
    let devmem = (args.allow_devmem || checks.set_clock).then_some(Path::new(DEVMEM));
    print(out, &preflight::devices(&d, &Roots::default()));
    let found = preflight::run(Some(&d), &checks, devmem).map_err(|e| Error::file(&args.deploy, e))?;
    print(out, &found);
    Ok(())
}
