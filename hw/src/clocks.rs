//! PL clock 0 (fclk0): reading and setting its dividers in the PS clock registers, as PYNQ's
//! `Clocks` does (`pynq/ps.py`, v2.5–v3.1), through the [`Mmio`] trait.
//!
//! - Zynq-7000: the SLCR at 0xF800_0000. FPGA0_CLK_CTRL (0x170) holds SRCSEL (bits 5:4; 0 or 1
//!   IO PLL, 2 ARM PLL, 3 DDR PLL), DIVISOR0 (13:8) and DIVISOR1 (25:20). A PLL's frequency is
//!   the PS reference clock times PLL_FDIV (bits 18:12 of ARM/DDR/IO_PLL_CTRL at 0x100, 0x104,
//!   0x108). SLCR writes need the SLCR unlocked (SLCR_LOCKSTA, 0x00C, bit 0 clear; Linux leaves
//!   it unlocked).
//! - ZynqMP: CRL_APB at 0xFF5E_0000. PL0_REF_CTRL (0xC0) holds SRCSEL (2:0; 0 IOPLL, 2 RPLL,
//!   3 DPLL), DIVISOR0 (13:8), DIVISOR1 (21:16) and CLKACT (24). A PLL gives ref × FBDIV (14:8),
//!   halved when DIV2 (16) is set; its PRE_SRC (22:20) must be 0 (the PS reference clock).
//!   IOPLL_CTRL is CRL_APB 0x20, RPLL_CTRL 0x30, DPLL_CTRL is CRF_APB (0xFD1A_0000) 0x2C.
//!
//! fclk0 = PLL / (DIVISOR0 × DIVISOR1). The PS reference clock comes from the .hwh
//! (PCW_CRYSTAL_PERIPHERAL_FREQMHZ, PSU__PSS_REF_CLK__FREQMHZ), else PYNQ's defaults (50 MHz on
//! Zynq-7000 boards such as the Pynq-Z1/Z2, 33.333 MHz on ZynqMP).
//!
//! Setting keeps the source PLL and writes only the divisors (and CLKACT on ZynqMP). The pair is
//! the .hwh's (PCW_FCLK0_PERIPHERAL_DIVISOR0/1, PSU__CRL_APB__PL0_REF_CTRL__DIVISOR0/1, what
//! PYNQ's `Overlay.download` writes) when it gives the wanted clock from the current PLL, else
//! PYNQ's `_get_2_divisors` choice (what FINN's `Clocks.fclk0_mhz = …` writes).

use tock_registers::register_bitfields;
use tock_registers::LocalRegisterCopy;

use crate::mmio::{Mmio, MmioError};

/// Zynq-7000 SLCR: physical base and the bytes binarycop maps.
pub const SLCR_BASE: u64 = 0xF800_0000;
pub const SLCR_LEN: usize = 0x200;
/// ZynqMP CRL_APB and CRF_APB: physical bases and the bytes mapped.
pub const CRL_APB_BASE: u64 = 0xFF5E_0000;
pub const CRF_APB_BASE: u64 = 0xFD1A_0000;
pub const ZU_CLK_LEN: usize = 0x100;

const SLCR_LOCKSTA: usize = 0x00C;
const SLCR_PLL_CTRL: [usize; 3] = [0x100, 0x104, 0x108]; // ARM, DDR, IO
const FPGA0_CLK_CTRL: usize = 0x170;
const ZU_IOPLL_CTRL: usize = 0x20;
const ZU_RPLL_CTRL: usize = 0x30;
const ZU_DPLL_CTRL: usize = 0x2C; // in CRF_APB
const PL0_REF_CTRL: usize = 0xC0;

register_bitfields![u32,
    ZynqPll [ FDIV OFFSET(12) NUMBITS(7) [] ],
    ZynqFclk [
        SRCSEL OFFSET(4) NUMBITS(2) [],
        DIVISOR0 OFFSET(8) NUMBITS(6) [],
        DIVISOR1 OFFSET(20) NUMBITS(6) []
    ],
    ZuPll [
        FBDIV OFFSET(8) NUMBITS(7) [],
        DIV2 OFFSET(16) NUMBITS(1) [],
        PRE_SRC OFFSET(20) NUMBITS(3) []
    ],
    ZuPlRef [
        SRCSEL OFFSET(0) NUMBITS(3) [],
        DIVISOR0 OFFSET(8) NUMBITS(6) [],
        DIVISOR1 OFFSET(16) NUMBITS(6) [],
        CLKACT OFFSET(24) NUMBITS(1) []
    ]
];

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error(transparent)]
    Mmio(#[from] MmioError),
    #[error("{0}")]
    Registers(String),
    #[error("no divider pair of two 6-bit values makes {want} MHz from {src_mhz} MHz")]
    NoDivisors { src_mhz: f64, want: f64 },
}

/// The PS generation, from the .hwh's processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsFamily {
    /// processing_system7.
    Zynq7000,
    /// zynq_ultra_ps_e.
    ZynqMp,
}

impl PsFamily {
    pub fn from_processor(processor: &str) -> Option<Self> {
        match processor {
            "processing_system7" => Some(PsFamily::Zynq7000),
            "zynq_ultra_ps_e" => Some(PsFamily::ZynqMp),
            _ => None,
        }
    }

    /// PYNQ's reference clock when the .hwh does not give one.
    pub fn default_ref_mhz(self) -> f64 {
        match self {
            PsFamily::Zynq7000 => 50.0,
            PsFamily::ZynqMp => 33.333,
        }
    }

    /// The .hwh parameters of this family: reference clock, divisor 0, divisor 1, source.
    fn params(self) -> [&'static str; 4] {
        match self {
            PsFamily::Zynq7000 => [
                "PCW_CRYSTAL_PERIPHERAL_FREQMHZ",
                "PCW_FCLK0_PERIPHERAL_DIVISOR0",
                "PCW_FCLK0_PERIPHERAL_DIVISOR1",
                "PCW_FCLK0_PERIPHERAL_CLKSRC",
            ],
            PsFamily::ZynqMp => [
                "PSU__PSS_REF_CLK__FREQMHZ",
                "PSU__CRL_APB__PL0_REF_CTRL__DIVISOR0",
                "PSU__CRL_APB__PL0_REF_CTRL__DIVISOR1",
                "PSU__CRL_APB__PL0_REF_CTRL__SRCSEL",
            ],
        }
    }
}

/// What a .hwh says about PL clock 0 besides its frequency.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fclk0Design {
    /// The PS reference clock, MHz.
    pub ref_mhz: Option<f64>,
    /// DIVISOR0, DIVISOR1 as the design computed them.
    pub divisors: Option<(u32, u32)>,
    /// The source PLL as Vivado names it ("IO PLL", "IOPLL", "RPLL", …).
    pub source: Option<String>,
}

impl Fclk0Design {
    /// Reads the parameters through `param` (a module parameter lookup); a malformed value is
    /// an error naming it.
    pub fn from_params<'a>(family: PsFamily, param: impl Fn(&str) -> Option<&'a str>) -> Result<Fclk0Design, String> {
        let [ref_name, d0, d1, src] = family.params();
        let ref_mhz = match param(ref_name) {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f > 0.0)
                    .ok_or_else(|| format!("{ref_name} = '{v}' is not a frequency in MHz"))?,
            ),
        };
        let div = |name: &str| -> Result<Option<u32>, String> {
            match param(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|d| (1..64).contains(d))
                    .map(Some)
                    .ok_or_else(|| format!("{name} = '{v}' is not a divisor in 1..=63")),
            }
        };
        let divisors = match (div(d0)?, div(d1)?) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        Ok(Fclk0Design { ref_mhz, divisors, source: param(src).map(str::to_string) })
    }
}

/// fclk0 as the registers make it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fclk0 {
    /// The source PLL ("IO PLL", "ARM PLL", "DDR PLL", "IOPLL", "RPLL", "DPLL").
    pub source: &'static str,
    pub pll_mhz: f64,
    pub divisors: (u32, u32),
    pub mhz: f64,
    /// The control register (FPGA0_CLK_CTRL or PL0_REF_CTRL).
    pub ctrl: u32,
    /// ZynqMP CLKACT (always true on Zynq-7000, whose gate is elsewhere).
    pub active: bool,
}

impl std::fmt::Display for Fclk0 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = self.divisors;
        write!(f, "{} MHz = {} {} MHz / ({a} × {b})", self.mhz, self.source, self.pll_mhz)?;
        if !self.active {
            write!(f, ", clock output disabled (CLKACT 0)")?;
        }
        Ok(())
    }
}

/// Rounds to 6 decimals, as PYNQ does at each step.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// PYNQ's `_get_2_divisors`: the pair of 6-bit divisors whose product is nearest to
/// `src_mhz / want_mhz`. PYNQ builds `{i*j: (i, j) for i in 0..64 for j in 0..64}`: a product
/// keeps the position of its first pair and the value of its last (the largest i); `min` takes
/// the first nearest product in that order.
pub fn pynq_divisors(src_mhz: f64, want_mhz: f64) -> Result<(u32, u32), ClockError> {
    let desired = round6(src_mhz / want_mhz);
    if !desired.is_finite() {
        return Err(ClockError::NoDivisors { src_mhz, want: want_mhz });
    }
    // (first position, last pair) per product.
    let mut table: Vec<Option<(usize, (u32, u32))>> = vec![None; 63 * 63 + 1];
    let mut order = 0;
    for i in 0..64u32 {
        for j in 0..64u32 {
            let slot = &mut table[(i * j) as usize];
            let first = slot.map_or_else(
                || {
                    order += 1;
                    order
                },
                |(pos, _)| pos,
            );
            *slot = Some((first, (i, j)));
        }
    }
    let best = table
        .iter()
        .enumerate()
        .filter_map(|(product, e)| e.map(|(pos, pair)| (pos, product, pair)))
        .min_by(|a, b| {
            let (da, db) = ((a.1 as f64 - desired).abs(), (b.1 as f64 - desired).abs());
            da.total_cmp(&db).then(a.0.cmp(&b.0))
        })
        .map(|(_, _, pair)| pair)
        .expect("table is not empty");
    if best.0 == 0 || best.1 == 0 {
        return Err(ClockError::NoDivisors { src_mhz, want: want_mhz });
    }
    Ok(best)
}

/// The PS clock registers of one chip: the SLCR (Zynq-7000) or CRL_APB with CRF_APB (ZynqMP).
pub struct PsClocks<M: Mmio> {
    family: PsFamily,
    main: M,
    crf: Option<M>,
    ref_mhz: f64,
}

impl<M: Mmio> PsClocks<M> {
    /// `main` is the SLCR or CRL_APB window; `crf` is CRF_APB (ZynqMP only, needed when fclk0
    /// comes from the DPLL).
    pub fn new(family: PsFamily, main: M, crf: Option<M>, ref_mhz: f64) -> Self {
        PsClocks { family, main, crf, ref_mhz }
    }

    pub fn family(&self) -> PsFamily {
        self.family
    }

    /// fclk0 now.
    pub fn read_fclk0(&mut self) -> Result<Fclk0, ClockError> {
        match self.family {
            PsFamily::Zynq7000 => self.read_zynq(),
            PsFamily::ZynqMp => self.read_zu(),
        }
    }

    fn read_zynq(&mut self) -> Result<Fclk0, ClockError> {
        let ctrl = LocalRegisterCopy::<u32, ZynqFclk::Register>::new(self.main.read32(FPGA0_CLK_CTRL)?);
        let (pll, source) = match ctrl.read(ZynqFclk::SRCSEL) {
            0 | 1 => (SLCR_PLL_CTRL[2], "IO PLL"),
            2 => (SLCR_PLL_CTRL[0], "ARM PLL"),
            _ => (SLCR_PLL_CTRL[1], "DDR PLL"),
        };
        let fdiv = LocalRegisterCopy::<u32, ZynqPll::Register>::new(self.main.read32(pll)?).read(ZynqPll::FDIV);
        if fdiv == 0 {
            return Err(ClockError::Registers(format!("{source}: PLL_FDIV is 0 (SLCR {pll:#x})")));
        }
        let pll_mhz = round6(self.ref_mhz * f64::from(fdiv));
        let divisors = (ctrl.read(ZynqFclk::DIVISOR0), ctrl.read(ZynqFclk::DIVISOR1));
        finish(source, pll_mhz, divisors, ctrl.get(), true, "FPGA0_CLK_CTRL")
    }

    fn read_zu(&mut self) -> Result<Fclk0, ClockError> {
        let ctrl = LocalRegisterCopy::<u32, ZuPlRef::Register>::new(self.main.read32(PL0_REF_CTRL)?);
        let (pll, source) = match ctrl.read(ZuPlRef::SRCSEL) {
            0 => (self.main.read32(ZU_IOPLL_CTRL)?, "IOPLL"),
            2 => (self.main.read32(ZU_RPLL_CTRL)?, "RPLL"),
            3 => {
                let crf = self.crf.as_mut().ok_or_else(|| {
                    ClockError::Registers("PL0_REF_CTRL selects the DPLL, and CRF_APB is not mapped".into())
                })?;
                (crf.read32(ZU_DPLL_CTRL)?, "DPLL")
            }
            s => return Err(ClockError::Registers(format!("PL0_REF_CTRL selects source {s}, not a PLL PYNQ knows"))),
        };
        let pll = LocalRegisterCopy::<u32, ZuPll::Register>::new(pll);
        if pll.read(ZuPll::PRE_SRC) != 0 {
            return Err(ClockError::Registers(format!(
                "{source}_CTRL: PRE_SRC {} is not the PS reference clock",
                pll.read(ZuPll::PRE_SRC)
            )));
        }
        let fbdiv = pll.read(ZuPll::FBDIV);
        if fbdiv == 0 {
            return Err(ClockError::Registers(format!("{source}_CTRL: FBDIV is 0")));
        }
        let halve = if pll.is_set(ZuPll::DIV2) { 2.0 } else { 1.0 };
        let pll_mhz = round6(self.ref_mhz * f64::from(fbdiv) / halve);
        let divisors = (ctrl.read(ZuPlRef::DIVISOR0), ctrl.read(ZuPlRef::DIVISOR1));
        finish(source, pll_mhz, divisors, ctrl.get(), ctrl.is_set(ZuPlRef::CLKACT), "PL0_REF_CTRL")
    }

    /// Writes the divisors (and, on ZynqMP, CLKACT = 1, as PYNQ does), keeping the source;
    /// reads back and returns fclk0.
    pub fn set_divisors(&mut self, (div0, div1): (u32, u32)) -> Result<Fclk0, ClockError> {
        if !(1..64).contains(&div0) || !(1..64).contains(&div1) {
            return Err(ClockError::Registers(format!("divisors ({div0}, {div1}) are not both in 1..=63")));
        }
        let (offset, value) = match self.family {
            PsFamily::Zynq7000 => {
                if self.main.read32(SLCR_LOCKSTA)? & 1 != 0 {
                    return Err(ClockError::Registers(
                        "the SLCR is locked (SLCR_LOCKSTA bit 0): the clock registers cannot be written".into(),
                    ));
                }
                let mut c = LocalRegisterCopy::<u32, ZynqFclk::Register>::new(self.main.read32(FPGA0_CLK_CTRL)?);
                c.modify(ZynqFclk::DIVISOR0.val(div0) + ZynqFclk::DIVISOR1.val(div1));
                (FPGA0_CLK_CTRL, c.get())
            }
            PsFamily::ZynqMp => {
                let mut c = LocalRegisterCopy::<u32, ZuPlRef::Register>::new(self.main.read32(PL0_REF_CTRL)?);
                c.modify(ZuPlRef::DIVISOR0.val(div0) + ZuPlRef::DIVISOR1.val(div1) + ZuPlRef::CLKACT::SET);
                (PL0_REF_CTRL, c.get())
            }
        };
        self.main.write32(offset, value)?;
        let now = self.read_fclk0()?;
        if now.ctrl != value {
            return Err(ClockError::Registers(format!(
                "wrote {value:#010x} to the clock control register at {offset:#x}, read back {:#010x}",
                now.ctrl
            )));
        }
        Ok(now)
    }
}

fn finish(
    source: &'static str,
    pll_mhz: f64,
    divisors: (u32, u32),
    ctrl: u32,
    active: bool,
    reg: &str,
) -> Result<Fclk0, ClockError> {
    if divisors.0 == 0 || divisors.1 == 0 {
        return Err(ClockError::Registers(format!("{reg} = {ctrl:#010x} has a zero divisor {divisors:?}")));
    }
    let mhz = round6(pll_mhz / f64::from(divisors.0 * divisors.1));
    Ok(Fclk0 { source, pll_mhz, divisors, mhz, ctrl, active })
}

/// Whether `have` is within `tolerance` (a fraction, e.g. 0.01) of `want`.
pub fn within(have: f64, want: f64, tolerance: f64) -> bool {
    (have - want).abs() <= tolerance * want
}

/// The divisors to write for `want_mhz` from a PLL at `pll_mhz`: the design's pair when it
/// gives the clock within `tolerance`, else PYNQ's choice.
pub fn choose_divisors(
    design: &Fclk0Design,
    pll_mhz: f64,
    want_mhz: f64,
    tolerance: f64,
) -> Result<(u32, u32), ClockError> {
    if let Some((a, b)) = design.divisors {
        if within(pll_mhz / f64::from(a * b), want_mhz, tolerance) {
            return Ok((a, b));
        }
    }
    pynq_divisors(pll_mhz, want_mhz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pynq_pair_choice() {
        // 1000 MHz IO PLL → 100 MHz: product 10, last pair (10, 1).
        assert_eq!(pynq_divisors(1000.0, 100.0).unwrap(), (10, 1));
        // 1499.985 → 100: product 15 (14.99985 rounds nearest to 15).
        assert_eq!(pynq_divisors(1499.985, 100.0).unwrap(), (15, 1));
        // A product above 63 needs two factors: 200 → the pair with the largest first factor.
        assert_eq!(pynq_divisors(1000.0, 5.0).unwrap(), (50, 4));
        // Nothing below 0.5.
        assert!(pynq_divisors(10.0, 100.0).is_err());
    }
}
