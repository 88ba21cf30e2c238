//! .hwh and .bit parsing and .bin conversion, on fixtures shaped like a FINN
//! PYNQ-Z1 build (data/deploy/bitfile/finn-accel.{hwh,bit}, written for these tests).

use std::path::{Path, PathBuf};

use binarycop_hw::clocks::Fclk0Design;
use binarycop_hw::deploy::{
    bit_to_bin, find_deployment, parse_bit, parse_hwh, read_hwh, BitError, DmaWindow, HwhError, BIT_MAGIC,
};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

fn fixture_hwh() -> String {
    std::fs::read_to_string(data("deploy/bitfile/finn-accel.hwh")).unwrap()
}

fn fixture_bit() -> Vec<u8> {
    std::fs::read(data("deploy/bitfile/finn-accel.bit")).unwrap()
}

#[test]
fn pynq_z1_hwh_gives_the_iodma_windows_and_clock() {
    let h = read_hwh(&data("deploy/bitfile/finn-accel.hwh")).unwrap();
    assert_eq!(
        h.dmas,
        vec![
            DmaWindow { name: "idma0".into(), base: 0x4000_0000, range: 0x1_0000 },
            DmaWindow { name: "odma0".into(), base: 0x4001_0000, range: 0x1_0000 },
        ]
    );
    // The module's own PARAMETERS, not the decoy 999 inside a BUSINTERFACE.
    assert_eq!(h.fclk_mhz, Some(100.0));
    assert_eq!(h.fclk_actual_mhz, Some(100.0));
    let want = Fclk0Design { ref_mhz: Some(50.0), divisors: Some((5, 2)), source: Some("IO PLL".into()) };
    assert_eq!(h.fclk0, want);
    assert_eq!(h.processor, "processing_system7");
    assert_eq!(h.part.as_deref(), Some("7z020clg400-1"));
    assert_eq!(h.vivado.as_deref(), Some("2022.2"));
    assert!(h.board.as_deref().unwrap().contains("pynq-z1"));
}

#[test]
fn byte_order_mark_and_module_parameters_fallback() {
    // Vivado writes a BOM; and without the processor's MEMORYMAP the modules' C_BASEADDR serve.
    let text = fixture_hwh();
    let start = text.find("      <MEMORYMAP>\n        <MEMRANGE ADDRESSBLOCK=\"Reg\"").unwrap();
    let end = text[start..].find("</MEMORYMAP>").unwrap() + start + "</MEMORYMAP>".len();
    let stripped = format!("\u{feff}{}{}", &text[..start], &text[end..]);
    let h = parse_hwh(&stripped).unwrap();
    assert_eq!(h.dma("odma0").unwrap().base, 0x4001_0000);
    assert_eq!(h.dma("idma0").unwrap().range, 0x1_0000);
}

#[test]
fn zynq_ultrascale_names_and_64_bit_addresses() {
    let text = r#"<EDKSYSTEM VIVADOVERSION="2022.2">
      <SYSTEMINFO ARCH="zynquplus" DEVICE="xczu3eg" PACKAGE="sbva484" SPEEDGRADE="-1"/>
      <MODULES>
        <MODULE INSTANCE="zynq_ps" MODTYPE="zynq_ultra_ps_e">
          <PARAMETERS>
            <PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ" VALUE="187.5"/>
            <PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ" VALUE="187.498123"/>
          </PARAMETERS>
          <MEMORYMAP>
            <MEMRANGE BASEVALUE="0x00A0010000" HIGHVALUE="0x00A001FFFF" INSTANCE="odma0" MEMTYPE="REGISTER"/>
            <MEMRANGE BASEVALUE="0x0400000000" HIGHVALUE="0x040000FFFF" INSTANCE="idma0" MEMTYPE="REGISTER"/>
            <MEMRANGE BASEVALUE="0x00A0020000" HIGHVALUE="0x00A002FFFF" INSTANCE="idma1" MEMTYPE="REGISTER"/>
            <MEMRANGE BASEVALUE="0x0" HIGHVALUE="0x7FFFFFFF" INSTANCE="idma0" MEMTYPE="MEMORY"/>
          </MEMORYMAP>
        </MODULE>
      </MODULES>
    </EDKSYSTEM>"#;
    let h = parse_hwh(text).unwrap();
    let names: Vec<&str> = h.dmas.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["idma0", "idma1", "odma0"]);
    assert_eq!(h.dma("idma0").unwrap().base, 0x4_0000_0000);
    assert_eq!(h.fclk_mhz, Some(187.5));
    assert_eq!(h.fclk_actual_mhz, Some(187.498123));
    assert_eq!(h.part.as_deref(), Some("xczu3egsbva484-1"));
}

#[test]
fn bad_hwh_are_clear_errors() {
    let text = fixture_hwh();
    let no_idma = text.replace("INSTANCE=\"idma0\"", "INSTANCE=\"input_dma\"");
    let e = parse_hwh(&no_idma).unwrap_err();
    assert!(matches!(e, HwhError::MissingDma { need: "idma0", .. }));
    let e = e.to_string();
    assert!(e.contains("idma0") && e.contains("odma0") && e.contains("input_dma"), "{e}");

    let e = parse_hwh(&text.replace("processing_system7", "microblaze")).unwrap_err().to_string();
    assert!(e.contains("processing_system7"), "{e}");
    let e = parse_hwh(&text.replace("0x4001FFFF\" INSTANCE=\"odma0\"", "0x3FFFFFFF\" INSTANCE=\"odma0\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("odma0") && e.contains("below"), "{e}");
    let e = parse_hwh(&text.replace("BASEVALUE=\"0x40000000\"", "BASEVALUE=\"forty\"")).unwrap_err().to_string();
    assert!(e.contains("idma0") && e.contains("forty"), "{e}");
    let e = parse_hwh(&text.replace("VALUE=\"100\"/>", "VALUE=\"fast\"/>")).unwrap_err().to_string();
    assert!(e.contains("PCW_FPGA0_PERIPHERAL_FREQMHZ"), "{e}");
    assert!(parse_hwh("<html><body/></html>").unwrap_err().to_string().contains("EDKSYSTEM"));
    assert!(parse_hwh(&text[..text.len() / 2]).unwrap_err().to_string().contains("XML"));

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.hwh");
    std::fs::write(&p, [0xffu8, 0xfe, 0x00]).unwrap();
    let e = read_hwh(&p).unwrap_err().to_string();
    assert!(e.contains("x.hwh"), "{e}");
}

#[test]
fn bit_header_fields_and_payload() {
    let bit = fixture_bit();
    let h = parse_bit(&bit).unwrap();
    assert_eq!(h.design, "finn_design_wrapper");
    assert_eq!(h.version.as_deref(), Some("2022.2"));
    assert_eq!((h.part.as_str(), h.date.as_str(), h.time.as_str()), ("7z020clg400", "2026/04/11", "14:03:27"));
    assert_eq!(h.payload_len, 64);
    assert_eq!(h.payload_offset + h.payload_len, bit.len());

    let bin = bit_to_bin(&bit).unwrap();
    assert_eq!(bin.len(), 64);
    // The sync word AA995566 comes out byte-swapped, as the Zynq FPGA manager wants it.
    let at = bit.windows(4).position(|w| w == [0xaa, 0x99, 0x55, 0x66]).unwrap() - h.payload_offset;
    assert_eq!(&bin[at..at + 4], &[0x66, 0x55, 0x99, 0xaa]);
    assert_eq!(&bin[32..36], &[0xbb, 0, 0, 0]);
}

#[test]
fn truncated_or_corrupt_bit_is_an_error_never_a_panic() {
    let bit = fixture_bit();
    for cut in 0..bit.len() {
        let e = parse_bit(&bit[..cut]).unwrap_err().to_string();
        assert!(e.contains("truncated"), "cut at {cut}: {e}");
    }
    let mut bad = bit.clone();
    bad[3] ^= 0xff;
    assert_eq!(parse_bit(&bad).unwrap_err(), BitError::BadMagic);
    for pos in BIT_MAGIC.len()..bit.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = bit.clone();
            b[pos] ^= x;
            let _ = parse_bit(&b);
            let _ = bit_to_bin(&b);
        }
    }
    // A payload that is not whole words cannot be swapped.
    let mut odd = bit.clone();
    let h = parse_bit(&bit).unwrap();
    odd.truncate(h.payload_offset - 4);
    odd.extend_from_slice(&63u32.to_be_bytes());
    odd.extend_from_slice(&[0u8; 63]);
    assert_eq!(bit_to_bin(&odd).unwrap_err(), BitError::PartialWords(63));
    assert!(bit_to_bin(&odd).unwrap_err().to_string().contains("32-bit words"));
    // No design field.
    let mut no_a = BIT_MAGIC.to_vec();
    no_a.extend_from_slice(b"b\x00\x02x\x00e\x00\x00\x00\x00");
    assert!(matches!(parse_bit(&no_a).unwrap_err(), BitError::MissingField { key: 'a', .. }));
}

#[test]
fn deployment_folder_layouts() {
    let d = find_deployment(&data("deploy")).unwrap();
    assert!(d.hwh_path.ends_with("bitfile/finn-accel.hwh") && d.bit_path.ends_with("bitfile/finn-accel.bit"));
    assert_eq!(d.bit.payload_len, 64);
    let text = binarycop_hw::deploy::describe(&d);
    assert!(text.contains("idma0") && text.contains("0x40010000") && text.contains("100 MHz"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let e = find_deployment(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("no .hwh"), "{e}");
    std::fs::copy(data("deploy/bitfile/finn-accel.hwh"), tmp.path().join("a.hwh")).unwrap();
    let e = find_deployment(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("a.bit") && e.contains("missing"), "{e}");
    std::fs::write(tmp.path().join("a.bit"), &fixture_bit()[..40]).unwrap();
    let e = find_deployment(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("a.bit") && e.contains("truncated"), "{e}");
    std::fs::copy(data("deploy/bitfile/finn-accel.hwh"), tmp.path().join("b.hwh")).unwrap();
    let e = find_deployment(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("several .hwh"), "{e}");
    let e = find_deployment(&tmp.path().join("nope")).unwrap_err().to_string();
    assert!(e.contains("not a directory"), "{e}");
}
