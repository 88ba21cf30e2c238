//! PL clock 0 on file-backed PS clock register windows, against the register values PYNQ's own
//! `Clocks` computes (data/clock_vectors.json, made by python/make_clock_vectors.py from PYNQ
//! v3.1's pynq/ps.py).

use std::path::Path;

use binarycop_hw::clocks::{
    choose_divisors, pynq_divisors, within, ClockError, Fclk0Design, PsClocks, PsFamily, CRF_APB_BASE, CRL_APB_BASE,
    SLCR_BASE, SLCR_LEN, ZU_CLK_LEN,
};
use binarycop_hw::mmio::{MappedWindow, Mmio};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clock_vectors.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn offset(k: &str) -> usize {
    usize::from_str_radix(k.trim_start_matches("0x"), 16).unwrap()
}

/// A register window file holding `words` (offset → value), `len` bytes.
fn window(dir: &Path, name: &str, len: usize, words: &Value) -> MappedWindow {
    let mut w = MappedWindow::create_file(&dir.join(name), len).unwrap();
    for (k, v) in words.as_object().unwrap() {
        w.write32(offset(k), v.as_u64().unwrap() as u32).unwrap();
    }
    w
}

fn words_of(w: &mut MappedWindow, expected: &Value) -> Vec<(usize, u32, u32)> {
    expected
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (offset(k), w.read32(offset(k)).unwrap(), v.as_u64().unwrap() as u32))
        .collect()
}

fn clocks_for(case: &Value, dir: &Path) -> PsClocks<MappedWindow> {
    let r = case["ref_mhz"].as_f64().unwrap();
    let before = &case["before"];
    match case["family"].as_str().unwrap() {
        "zynq7000" => PsClocks::new(PsFamily::Zynq7000, window(dir, "slcr", SLCR_LEN, before), None, r),
        _ => PsClocks::new(
            PsFamily::ZynqMp,
            window(dir, "crl", ZU_CLK_LEN, &before["crl"]),
            Some(window(dir, "crf", ZU_CLK_LEN, &before["crf"])),
            r,
        ),
    }
}

#[test]
fn reads_and_sets_fclk0_as_pynq_does() {
    let cases = vectors();
    assert_eq!(cases.len(), 7);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut clk = clocks_for(case, tmp.path());
        let now = clk.read_fclk0().unwrap();
        assert_eq!(now.mhz, case["fclk0_mhz_before"].as_f64().unwrap(), "{name}: {now}");
        let want = case["want_mhz"].as_f64().unwrap();
        let pair = pynq_divisors(now.pll_mhz, want).unwrap();
        let after = clk.set_divisors(pair).unwrap();
        assert_eq!(after.mhz, case["fclk0_mhz_after"].as_f64().unwrap(), "{name}: {after}");
        assert!(after.active, "{name}: PYNQ sets CLKACT");
        drop(clk);
        // Every register, written or not, holds what PYNQ's code left in it.
        let files: Vec<(&str, &Value)> = match case["family"].as_str().unwrap() {
            "zynq7000" => vec![("slcr", &case["after"])],
            _ => vec![("crl", &case["after"]["crl"]), ("crf", &case["after"]["crf"])],
        };
        for (file, expected) in files {
            let mut w = MappedWindow::open_file(&tmp.path().join(file)).unwrap();
            for (off, have, want) in words_of(&mut w, expected) {
                assert_eq!(have, want, "{name}: {file} {off:#x} = {have:#010x}, PYNQ: {want:#010x}");
            }
        }
    }
}

#[test]
fn the_designs_divisors_win_when_they_make_the_clock() {
    let case = &vectors()[0]; // Pynq-Z1: 1000 MHz IO PLL, the .hwh's 5 × 2.
    let design = Fclk0Design { ref_mhz: Some(50.0), divisors: Some((5, 2)), source: Some("IO PLL".into()) };
    assert_eq!(choose_divisors(&design, 1000.0, 100.0, 0.01).unwrap(), (5, 2));
    // From a PLL the design was not made for, PYNQ's choice.
    assert_eq!(choose_divisors(&design, 1600.0, 100.0, 0.01).unwrap(), (16, 1));
    assert_eq!(choose_divisors(&Fclk0Design::default(), 1000.0, 100.0, 0.01).unwrap(), (10, 1));
    let tmp = tempfile::tempdir().unwrap();
    let mut clk = clocks_for(case, tmp.path());
    let got = clk.set_divisors((5, 2)).unwrap();
    assert_eq!((got.divisors, got.mhz, got.source), ((5, 2), 100.0, "IO PLL"));
    assert_eq!(got.ctrl, 2 << 20 | 5 << 8);
    assert!(within(99.5, 100.0, 0.01) && !within(98.9, 100.0, 0.01));
}

#[test]
fn bad_registers_are_clear_errors_and_a_locked_slcr_is_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut slcr = MappedWindow::create_file(&tmp.path().join("slcr"), SLCR_LEN).unwrap();
    slcr.write32(0x108, 20 << 12).unwrap();
    slcr.write32(0x170, 2 << 20 | 5 << 8).unwrap();
    slcr.write32(0x00c, 1).unwrap(); // SLCR_LOCKSTA: locked
    let mut clk = PsClocks::new(PsFamily::Zynq7000, slcr, None, 50.0);
    assert_eq!(clk.read_fclk0().unwrap().mhz, 100.0);
    let e = clk.set_divisors((10, 1)).unwrap_err().to_string();
    assert!(e.contains("locked"), "{e}");
    assert!(clk.set_divisors((0, 1)).unwrap_err().to_string().contains("1..=63"));
    drop(clk);
    let mut w = MappedWindow::open_file(&tmp.path().join("slcr")).unwrap();
    assert_eq!(w.read32(0x170).unwrap(), 2 << 20 | 5 << 8, "nothing written");

    // A zero divisor or PLL multiplier cannot give a frequency.
    w.write32(0x170, 5 << 8).unwrap();
    let mut clk = PsClocks::new(PsFamily::Zynq7000, w, None, 50.0);
    assert!(matches!(clk.read_fclk0(), Err(ClockError::Registers(m)) if m.contains("zero divisor")));
    let mut crl = MappedWindow::create_file(&tmp.path().join("crl"), ZU_CLK_LEN).unwrap();
    crl.write32(0xc0, 1 << 24 | 1 << 16 | 15 << 8 | 3).unwrap(); // DPLL, no CRF window
    let mut clk = PsClocks::new(PsFamily::ZynqMp, crl, None, 33.333);
    assert!(clk.read_fclk0().unwrap_err().to_string().contains("CRF_APB"));
    let (base_slcr, base_crl, base_crf) = (SLCR_BASE, CRL_APB_BASE, CRF_APB_BASE);
    assert_eq!((base_slcr, base_crl, base_crf), (0xF800_0000, 0xFF5E_0000, 0xFD1A_0000));
}

#[test]
fn hwh_clock_parameters() {
    let p =
        |v: &'static [(&'static str, &'static str)]| move |n: &str| v.iter().find(|(k, _)| *k == n).map(|(_, x)| *x);
    let z = Fclk0Design::from_params(
        PsFamily::Zynq7000,
        p(&[
            ("PCW_CRYSTAL_PERIPHERAL_FREQMHZ", "50"),
            ("PCW_FCLK0_PERIPHERAL_DIVISOR0", "5"),
            ("PCW_FCLK0_PERIPHERAL_DIVISOR1", "2"),
            ("PCW_FCLK0_PERIPHERAL_CLKSRC", "IO PLL"),
        ]),
    )
    .unwrap();
    assert_eq!(z, Fclk0Design { ref_mhz: Some(50.0), divisors: Some((5, 2)), source: Some("IO PLL".into()) });
    let u = Fclk0Design::from_params(PsFamily::ZynqMp, p(&[("PSU__PSS_REF_CLK__FREQMHZ", "33.333")])).unwrap();
    assert_eq!((u.ref_mhz, u.divisors), (Some(33.333), None));
    let e = Fclk0Design::from_params(PsFamily::Zynq7000, p(&[("PCW_FCLK0_PERIPHERAL_DIVISOR0", "64")])).unwrap_err();
    assert!(e.contains("PCW_FCLK0_PERIPHERAL_DIVISOR0") && e.contains("64"), "{e}");
    let e = Fclk0Design::from_params(PsFamily::ZynqMp, p(&[("PSU__PSS_REF_CLK__FREQMHZ", "-1")])).unwrap_err();
    assert!(e.contains("PSU__PSS_REF_CLK__FREQMHZ"), "{e}");
}
