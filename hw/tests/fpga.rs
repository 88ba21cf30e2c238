//! What the PL holds, and loading it, on fake sysfs / firmware / PYNQ trees made of plain files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use binarycop_hw::deploy::{bit_to_bin, find_deployment, Deployment};
use binarycop_hw::fpga::{check_loaded, load, sha1_hex, FpgaPaths, PlError};

fn fixture() -> Deployment {
    find_deployment(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/deploy")).unwrap()
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A Pynq-Z1's tree: an FPGA manager in `state`, a Zynq-7000 device tree, a boot id.
fn board(root: &Path, state: &str) -> FpgaPaths {
    let paths = FpgaPaths::under(root);
    let mgr = paths.manager();
    for (f, v) in [("state", state), ("flags", "0"), ("firmware", "")] {
        write(&mgr.join(f), format!("{v}\n"));
    }
    std::fs::create_dir_all(&paths.firmware).unwrap();
    write(&paths.sys.join("firmware/devicetree/base/compatible"), b"digilent,zynq-pynqz1\0xlnx,zynq-7000\0");
    write(&paths.boot_id, "5b1e-boot-1\n");
    paths
}

fn pynq_record(paths: &FpgaPaths, file: &str, bitfile: &str, hash: &str) -> PathBuf {
    let p = paths.pynq_venv_lib.join("python3.10/site-packages/pynq/pl_server").join(file);
    let json = serde_json::json!({
        "bitfile_name": bitfile, "active_name": "fpga0", "timestamp": "2026/4/11 14:3:27 +12345",
        "bitfile_hash": hash, "shutdown_ips": {}, "psddr": {},
    });
    write(&p, json.to_string());
    p
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_unconfigured_pl_is_refused_before_anything_else() {
    let d = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let paths = FpgaPaths::under(tmp.path());
    let e = check_loaded(Some(&d), &paths, true).unwrap_err();
    assert!(matches!(e, PlError::NoManager { .. }), "{e}");
    assert!(e.to_string().contains("fpga_manager/fpga0") && e.to_string().contains("not a Zynq"), "{e}");

    let paths = board(tmp.path(), "unknown");
    let before = files_under(tmp.path());
    for vouch in [false, true] {
        let e = check_loaded(Some(&d), &paths, vouch).unwrap_err().to_string();
        assert!(e.contains("not configured") && e.contains("'unknown'") && e.contains("binarycop load"), "{e}");
        let e = check_loaded(None, &paths, vouch).unwrap_err().to_string();
        assert!(e.contains("not configured"), "{e}");
    }
    assert_eq!(files_under(tmp.path()), before, "a check writes nothing");
}

#[test]
fn a_bitstream_for_another_chip_family_is_refused() {
    let d = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let paths = board(tmp.path(), "operating");
    write(&paths.sys.join("firmware/devicetree/base/compatible"), b"xlnx,zcu104-revc\0xlnx,zynqmp\0");
    let e = check_loaded(Some(&d), &paths, true).unwrap_err().to_string();
    assert!(e.contains("processing_system7") && e.contains("xlnx,zynq-7000") && e.contains("xlnx,zynqmp"), "{e}");
}

#[test]
fn without_a_record_the_design_is_unconfirmed_unless_vouched_for() {
    let d = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let paths = board(tmp.path(), "operating");
    let e = check_loaded(Some(&d), &paths, false).unwrap_err().to_string();
    for want in ["cannot confirm", "state is operating", "xlnx,zynq-7000", "no PYNQ v3 record", "--pl-loaded"] {
        assert!(e.contains(want), "'{want}' not in {e}");
    }
    // PYNQ v2's pl_server keeps its record in memory: named, not queried.
    write(&paths.pynq2_socket_dir.join("pynq.xlnk.socket"), "");
    let e = check_loaded(Some(&d), &paths, false).unwrap_err().to_string();
    assert!(e.contains("pynq.xlnk.socket") && e.contains("not queried"), "{e}");

    let found = check_loaded(Some(&d), &paths, true).unwrap();
    let text: Vec<String> = found.iter().map(|f| f.to_string()).collect();
    assert_eq!(found.len(), 3, "{text:?}");
    assert!(found[0].checked && found[1].checked && !found[2].checked, "{text:?}");
    assert!(text[2].contains("not checked") && text[2].contains("--pl-loaded"), "{text:?}");
    // A JSON description has no bitstream: only the state can be checked.
    assert!(check_loaded(None, &paths, false).unwrap_err().to_string().contains("names no bitstream"));
    assert_eq!(check_loaded(None, &paths, true).unwrap().len(), 2);
}

#[test]
fn pynq_v3_records_name_the_loaded_bitstream() {
    let d = fixture();
    let sha = sha1_hex(&d.bit_path).unwrap();
    assert_eq!(sha.len(), 40);
    let tmp = tempfile::tempdir().unwrap();
    let paths = board(tmp.path(), "operating");
    // v3.1's file name, with the hash of this .bit (any path: PYNQ copies overlays around).
    let rec = pynq_record(&paths, "global_pl_state_.json", "/home/xilinx/overlays/top.bit", &sha);
    let found = check_loaded(Some(&d), &paths, false).unwrap();
    assert!(found[2].checked && found[2].detail.contains("SHA-1"), "{:?}", found[2]);

    // Another bitstream's hash: refused, naming both, even when vouched for.
    pynq_record(&paths, "global_pl_state_.json", "/usr/local/share/pynq-venv/pynq/overlays/base/base.bit", "ab12");
    for vouch in [false, true] {
        let e = check_loaded(Some(&d), &paths, vouch).unwrap_err().to_string();
        assert!(e.contains("another design") && e.contains("base.bit") && e.contains("finn-accel.bit"), "{e}");
        assert!(e.contains(&rec.display().to_string()), "{e}");
    }
    // No hash (older records): the file name decides.
    pynq_record(&paths, "global_pl_state_.json", "/home/xilinx/finn-accel.bit", "");
    assert!(check_loaded(Some(&d), &paths, false).unwrap()[2].detail.contains("same file name"));
    pynq_record(&paths, "global_pl_state_.json", "/home/xilinx/resizer.bit", "");
    assert!(check_loaded(Some(&d), &paths, false).unwrap_err().to_string().contains("resizer.bit"));
    // PYNQ's cold-boot rule: flags 100 mean the record predates this boot.
    write(&paths.manager().join("flags"), "100\n");
    assert!(check_loaded(Some(&d), &paths, false).unwrap_err().to_string().contains("cannot confirm"));
    // A record that is not JSON is an error naming it.
    write(&paths.manager().join("flags"), "0\n");
    write(&rec, "{");
    let e = check_loaded(Some(&d), &paths, false).unwrap_err().to_string();
    assert!(e.contains("global_pl_state_.json") && e.contains("JSON"), "{e}");
}

#[test]
fn load_writes_the_bin_and_drives_the_manager_as_pynq_does() {
    let d = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let paths = board(tmp.path(), "operating");
    let old = pynq_record(&paths, "global_pl_state.json", "/home/xilinx/base.bit", "ab12");
    let pkl = old.with_file_name("_current_metadata.pkl");
    write(&pkl, "pickle");

    let before = files_under(tmp.path());
    assert!(matches!(load(&d, &paths, false, Duration::from_secs(1)), Err(PlError::LoadNotAllowed)));
    assert_eq!(files_under(tmp.path()), before);

    let done = load(&d, &paths, true, Duration::from_secs(1)).unwrap();
    let text: Vec<String> = done.iter().map(|f| f.to_string()).collect();
    let bin = paths.firmware.join("finn-accel.bin");
    assert_eq!(std::fs::read(&bin).unwrap(), bit_to_bin(&std::fs::read(&d.bit_path).unwrap()).unwrap());
    let attr = |f: &str| std::fs::read_to_string(paths.manager().join(f)).unwrap();
    assert_eq!((attr("flags"), attr("firmware")), ("0".into(), "finn-accel.bin".into()));
    assert!(!old.exists() && !pkl.exists(), "PYNQ's stale record stays: {text:?}");
    assert!(text.iter().any(|t| t.contains("removed") && t.contains("global_pl_state.json")), "{text:?}");
    let rec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&paths.record).unwrap()).unwrap();
    assert_eq!(rec["sha1"], sha1_hex(&d.bit_path).unwrap());
    assert_eq!(rec["boot_id"], "5b1e-boot-1");

    // Now the check finds binarycop's record.
    let found = check_loaded(Some(&d), &paths, false).unwrap();
    assert!(found[2].detail.contains("binarycop's record"), "{:?}", found[2]);
}

#[test]
fn binarycop_record_is_trusted_only_while_nothing_loaded_after_it() {
    let d = fixture();
    let sha = sha1_hex(&d.bit_path).unwrap();
    /// What happened after binarycop's load, and the words the refusal must contain.
    type After = fn(&FpgaPaths);
    let cases: [(&str, After); 3] = [
        ("from an earlier boot", |p| write(&p.boot_id, "5b1e-boot-2\n")),
        ("another design", |p| {
            pynq_record(p, "global_pl_state_.json", "/home/xilinx/base.bit", "ab12");
        }),
        ("was written after", |p| {
            std::thread::sleep(Duration::from_millis(20));
            write(&p.firmware.join("base.bin"), [0u8; 8]);
        }),
    ];
    for (why, after) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let paths = board(tmp.path(), "operating");
        load(&d, &paths, true, Duration::from_secs(1)).unwrap();
        after(&paths);
        let e = check_loaded(Some(&d), &paths, false).unwrap_err().to_string();
        assert!(e.contains(why), "{why}: {e}");
    }
    // A PYNQ record made after binarycop's load decides; it may name this very bitstream.
    let tmp = tempfile::tempdir().unwrap();
    let paths = board(tmp.path(), "operating");
    load(&d, &paths, true, Duration::from_secs(1)).unwrap();
    pynq_record(&paths, "global_pl_state_.json", "/x/finn-accel.bit", &sha);
    assert!(check_loaded(Some(&d), &paths, false).unwrap()[2].detail.contains("PYNQ's record"));
}

#[test]
fn failed_and_impossible_loads_are_clear_errors() {
    let d = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let paths = board(tmp.path(), "write error");
    let start = std::time::Instant::now();
    let e = load(&d, &paths, true, Duration::from_millis(100)).unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(e.contains("finn-accel.bin") && e.contains("write error"), "{e}");
    assert!(!paths.record.exists(), "no record of a failed load");

    let paths = board(tmp.path(), "operating");
    std::fs::remove_file(paths.manager().join("firmware")).unwrap();
    let e = load(&d, &paths, true, Duration::from_secs(1)).unwrap_err().to_string();
    assert!(e.contains("'firmware'") && e.contains("device-tree overlays"), "{e}");

    let e = load(&d, &FpgaPaths::under(&tmp.path().join("none")), true, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(e, PlError::NoManager { .. }), "{e}");
}

/// A stand-in deployment (`binarycop export-deploy`) has a .bit header and no payload: loading
/// it is refused before the FPGA manager or the firmware folder is touched.
#[test]
fn a_stand_in_bitstream_is_never_loaded() {
    use binarycop_hw::driver::IoShape;
    use binarycop_hw::packing::DataType;
    use binarycop_hw::stand_in::{StandIn, Tensor};
    let tmp = tempfile::tempdir().unwrap();
    let input = Tensor { normal: vec![1, 8, 8, 3], io: IoShape::new(DataType::UINT8, 64, 3) };
    let output = Tensor { normal: vec![1, 1], io: IoShape::new(DataType::UINT8, 1, 1) };
    let s = StandIn::pynq_z1("tiny", "a test", input, output);
    let dir = tmp.path().join("deploy");
    write(&dir.join("tiny.hwh"), s.hwh());
    write(&dir.join("tiny.bit"), s.bit());
    let d = find_deployment(&dir).unwrap();
    let paths = board(&tmp.path().join("board"), "operating");
    let before = files_under(tmp.path());
    let e = load(&d, &paths, true, Duration::from_secs(1)).unwrap_err().to_string();
    assert!(e.contains("tiny.bit") && e.contains("0 payload bytes") && e.contains("stand-in"), "{e}");
    assert_eq!(files_under(tmp.path()), before);
}

#[test]
fn board_check_lists_what_sysfs_offers_without_opening_it() {
    use binarycop_hw::mmio::Roots;
    let d = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let roots = Roots { sys: tmp.path().join("sys"), dev: tmp.path().join("dev") };
    write(&roots.sys.join("class/uio/uio4/name"), "odma0\n");
    write(&roots.sys.join("class/uio/uio4/maps/map0/size"), "0x00010000\n");
    let a = roots.sys.join("class/u-dma-buf/udmabuf0");
    for (f, v) in [("phys_addr", "0x000000003f000000\n"), ("size", "1048576\n"), ("sync_mode", "1\n")] {
        write(&a.join(f), v);
    }
    let lines: Vec<String> = binarycop_hw::preflight::devices(&d, &roots).iter().map(|f| f.to_string()).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].contains("idma0 window not checked") && lines[0].contains("--allow-devmem"), "{lines:?}");
    assert!(lines[1].contains("odma0 window ok") && lines[1].contains("uio4") && lines[1].contains("0x00010000"));
    assert!(lines[2].contains("udmabuf0") && lines[2].contains("0x000000003f000000") && lines[2].contains("1048576"));
    assert!(lines[3].contains("udmabuf1") && lines[3].contains("not checked") && lines[3].contains("u-dma-buf"));
}
