//! The real BinaryCoP deployment (NaelF/BinaryCoP `notebook/resizer.hwh` and `resizer.bit`) reads
//! as the README says: idma0 at 0x40000000, odma0 at 0x40010000 (64 KiB each), a 100 MHz PL
//! clock, a PYNQ-Z1 (7z020clg400-1) design from Vivado 2019.1.
//!
//! The files are not in this repository (4 MB, not ours). Set `BINARYCOP_REPO` to a work tree of
//! https://github.com/NaelF/BinaryCoP to run the check; without it the test prints a note and
//! checks nothing.

use std::path::PathBuf;

use binarycop_hw::deploy::find_deployment;

#[test]
fn binarycop_resizer_files_read_as_the_readme_says() {
    let Some(repo) = std::env::var_os("BINARYCOP_REPO") else {
        eprintln!("note: BINARYCOP_REPO is not set; resizer.hwh/.bit (NaelF/BinaryCoP) were not checked");
        return;
    };
    let dir = PathBuf::from(repo).join("notebook");
    let d = find_deployment(&dir).unwrap_or_else(|e| panic!("BINARYCOP_REPO={}: {e}", dir.display()));
    assert_eq!(d.hwh_path.file_name().unwrap(), "resizer.hwh");
    let windows: Vec<(&str, u64, u64)> = d.hwh.dmas.iter().map(|w| (w.name.as_str(), w.base, w.range)).collect();
    assert_eq!(windows, [("idma0", 0x4000_0000, 0x1_0000), ("odma0", 0x4001_0000, 0x1_0000)]);
    assert_eq!((d.hwh.fclk_mhz, d.hwh.fclk_actual_mhz), (Some(100.0), Some(100.0)));
    assert_eq!(d.hwh.processor, "processing_system7");
    assert_eq!(d.hwh.part.as_deref(), Some("7z020clg400-1"));
    assert_eq!(d.hwh.board.as_deref(), Some("www.digilentinc.com:pynq-z1:part0:1.0"));
    assert_eq!(d.hwh.vivado.as_deref(), Some("2019.1"));
    assert_eq!((d.bit.design.as_str(), d.bit.version.as_deref()), ("top_wrapper", Some("2019.1")));
    assert_eq!(d.bit.part, "7z020clg400");
    assert_eq!(d.bit.payload_len, 4_045_564);
}
