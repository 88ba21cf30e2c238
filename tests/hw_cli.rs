//! `pack`, `unpack` and `deploy-info` from the command line: results, and bad input as a clear
//! error (exit 1, the file named) that leaves no output behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use binarycop_hw::packing::{pack_to_vec, DataType, Layout};
use ndarray::{Array2, Array3, ArrayD};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_binarycop")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn save<A: WriteNpyExt>(path: &Path, a: &A) {
    let mut buf = Vec::new();
    a.write_npy(&mut buf).unwrap();
    std::fs::write(path, buf).unwrap();
}

fn deploy_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hw/tests/data/deploy")
}

#[test]
fn pack_and_unpack_round_trip_in_both_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let x = Array3::from_shape_fn((2, 3, 5), |(a, b, c)| ((a * 15 + b * 5 + c) % 16) as i32 - 8);
    let input = tmp.path().join("x.npy");
    save(&input, &x);
    let flat: Vec<i32> = x.iter().copied().collect();
    let int4 = DataType::int(4).unwrap();
    for (flag, layout) in [(None, Layout::DRIVER), (Some("--plain"), Layout::PLAIN)] {
        let bin = tmp.path().join("x.bin");
        let mut args = vec!["pack", "--dtype", "INT4", "--input", s(&input), "--out", s(&bin)];
        args.extend(flag);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("18 bytes"), "{out}");
        assert_eq!(std::fs::read(&bin).unwrap(), pack_to_vec(&flat, 5, int4, layout).unwrap());

        let back = tmp.path().join("back.npy");
        let mut args = vec!["unpack", "--dtype", "int4", "--shape", "2,3,5", "--input", s(&bin), "--out", s(&back)];
        args.extend(flag);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("int8"), "{out}");
        let y = ArrayD::<i8>::read_npy(std::fs::File::open(&back).unwrap()).unwrap();
        assert_eq!(y.shape(), &[2, 3, 5]);
        assert_eq!(y.iter().map(|&v| v as i32).collect::<Vec<_>>(), flat);
    }
}

#[test]
fn finn_worked_example_and_float_input() {
    // finn.md §7: UINT4 [1..5] packs to 21 43 05 (driver) and 01 23 45 (plain).
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("f.npy");
    save(&input, &Array2::from_shape_vec((1, 5), vec![1f32, 2., 3., 4., 5.]).unwrap());
    let bin = tmp.path().join("f.bin");
    assert_eq!(run(&["pack", "--dtype", "UINT4", "--input", s(&input), "--out", s(&bin)]).0, 0);
    assert_eq!(std::fs::read(&bin).unwrap(), [0x21, 0x43, 0x05]);
    assert_eq!(run(&["pack", "--dtype", "UINT4", "--input", s(&input), "--out", s(&bin), "--plain"]).0, 0);
    assert_eq!(std::fs::read(&bin).unwrap(), [0x01, 0x23, 0x45]);
    // FINN's float32 result on request.
    let back = tmp.path().join("b.npy");
    let (code, _, err) = run(&[
        "unpack",
        "--dtype",
        "UINT4",
        "--shape",
        "1x5",
        "--input",
        s(&bin),
        "--out",
        s(&back),
        "--plain",
        "--float32",
    ]);
    assert_eq!(code, 0, "{err}");
    let y = ArrayD::<f32>::read_npy(std::fs::File::open(&back).unwrap()).unwrap();
    assert_eq!(y.iter().copied().collect::<Vec<_>>(), [1., 2., 3., 4., 5.]);
}

/// Runs a failing command: exit 1, one error line containing all of `needles`, no `out` file.
fn fails(args: &[&str], needles: &[&str], out: &Path) {
    let (code, _, err) = run(args);
    assert_eq!(code, 1, "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: '{n}' not in '{err}'");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "{args:?} left {}", out.display());
}

#[test]
fn bad_pack_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.bin");
    let o = s(&out);
    let good = tmp.path().join("good.npy");
    save(&good, &Array2::from_shape_vec((1, 3), vec![0u8, 200, 7]).unwrap());
    fails(&["pack", "--dtype", "UINT9x", "--input", s(&good), "--out", o], &["--dtype", "UINT9x"], &out);
    fails(&["pack", "--dtype", "FLOAT32", "--input", s(&good), "--out", o], &["FLOAT32"], &out);
    fails(&["pack", "--dtype", "UINT4", "--input", s(&good), "--out", o], &["good.npy", "element 1", "200"], &out);
    fails(&["pack", "--dtype", "BIPOLAR", "--input", s(&good), "--out", o], &["good.npy", "BIPOLAR"], &out);

    let frac = tmp.path().join("frac.npy");
    save(&frac, &Array2::from_shape_vec((1, 2), vec![1.0f64, 0.5]).unwrap());
    fails(&["pack", "--dtype", "INT8", "--input", s(&frac), "--out", o], &["frac.npy", "element 1", "0.5"], &out);
    let nan = tmp.path().join("nan.npy");
    save(&nan, &Array2::from_shape_vec((1, 1), vec![f32::NAN]).unwrap());
    fails(&["pack", "--dtype", "INT8", "--input", s(&nan), "--out", o], &["nan.npy", "NaN"], &out);
    let boolean = tmp.path().join("bool.npy");
    save(&boolean, &Array2::from_shape_vec((1, 2), vec![true, false]).unwrap());
    fails(
        &["pack", "--dtype", "BINARY", "--input", s(&boolean), "--out", o],
        &["bool.npy", "unsupported .npy dtype"],
        &out,
    );
    let scalar = tmp.path().join("scalar.npy");
    save(&scalar, &ndarray::arr0(3i32));
    fails(&["pack", "--dtype", "INT8", "--input", s(&scalar), "--out", o], &["scalar.npy", "0-dimensional"], &out);
    let empty = tmp.path().join("empty.npy");
    save(&empty, &Array2::<u8>::zeros((0, 4)));
    fails(&["pack", "--dtype", "INT8", "--input", s(&empty), "--out", o], &["empty.npy", "empty"], &out);

    let bytes = std::fs::read(&good).unwrap();
    let cut = tmp.path().join("cut.npy");
    for n in [0, 5, 40, bytes.len() - 1] {
        std::fs::write(&cut, &bytes[..n]).unwrap();
        fails(&["pack", "--dtype", "UINT8", "--input", s(&cut), "--out", o], &["cut.npy"], &out);
    }
    fails(&["pack", "--dtype", "UINT8", "--input", "/nonexistent/x.npy", "--out", o], &["/nonexistent/x.npy"], &out);
    // An output folder that does not exist: the error names the output.
    let (code, _, err) = run(&["pack", "--dtype", "UINT8", "--input", s(&good), "--out", "/nonexistent/dir/o.bin"]);
    assert!(code == 1 && err.contains("/nonexistent/dir/o.bin"), "{err}");
}

#[test]
fn bad_unpack_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.npy");
    let o = s(&out);
    let bin = tmp.path().join("p.bin");
    std::fs::write(&bin, [0u8; 7]).unwrap();
    // UINT4 1×5 needs 3 bytes a row: 7 bytes fit no whole shape of 2 rows.
    fails(
        &["unpack", "--dtype", "UINT4", "--shape", "2,5", "--input", s(&bin), "--out", o],
        &["p.bin", "7 bytes", "needs 6"],
        &out,
    );
    fails(&["unpack", "--dtype", "UINT4", "--shape", "2,,5", "--input", s(&bin), "--out", o], &["--shape"], &out);
    fails(&["unpack", "--dtype", "UINT4", "--shape", "0,5", "--input", s(&bin), "--out", o], &["--shape"], &out);
    fails(&["unpack", "--dtype", "UINT4", "--shape", "", "--input", s(&bin), "--out", o], &["--shape"], &out);
    fails(&["unpack", "--dtype", "INT99", "--shape", "7", "--input", s(&bin), "--out", o], &["INT99"], &out);
    fails(
        &["unpack", "--dtype", "UINT8", "--shape", "7", "--input", "/nonexistent/p.bin", "--out", o],
        &["/nonexistent/p.bin"],
        &out,
    );
    // Wide types land in wide npy dtypes.
    let (code, outp, err) = run(&["unpack", "--dtype", "INT28", "--shape", "2,1", "--input", s(&bin), "--out", o]);
    assert_eq!(code, 1, "7 bytes are not 2 rows of 4: {outp}{err}");
    std::fs::write(&bin, [0xff; 8]).unwrap();
    let (code, outp, err) = run(&["unpack", "--dtype", "INT28", "--shape", "2,1", "--input", s(&bin), "--out", o]);
    assert_eq!(code, 0, "{err}");
    assert!(outp.contains("int32"), "{outp}");
    let y = ArrayD::<i32>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(y.iter().copied().collect::<Vec<_>>(), [-1, -1]);
}

#[test]
fn deploy_info_text_and_json() {
    let dir = deploy_fixture();
    let (code, out, err) = run(&["deploy-info", "--deploy", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    for want in ["idma0", "0x40000000", "odma0", "0x40010000", "100 MHz", "finn_design_wrapper", "7z020clg400"] {
        assert!(out.contains(want), "'{want}' not in {out}");
    }
    let (code, out, err) = run(&["deploy-info", "--deploy", s(&dir), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dmas"][0], serde_json::json!({"name": "idma0", "base": 0x4000_0000u64, "range": 0x1_0000}));
    assert_eq!(v["dmas"][1]["name"], "odma0");
    assert_eq!(v["dmas"][1]["base"], 0x4001_0000u64);
    assert_eq!(v["fclk_mhz"], 100.0);
    let b = &v["bitstream"];
    assert_eq!((b["design"].as_str(), b["part"].as_str()), (Some("finn_design_wrapper"), Some("7z020clg400")));
    assert_eq!((b["date"].as_str(), b["time"].as_str()), (Some("2026/04/11"), Some("14:03:27")));
    assert_eq!(b["payload_bytes"], 64);
    let d = &v["driver"];
    assert_eq!(d["form"], "list");
    assert_eq!(d["inputs"][0]["normal"], serde_json::json!([1, 32, 32, 3]));
    assert_eq!(d["inputs"][0]["frame_bytes"], 3072);
    assert_eq!((d["outputs"][0]["dma"].as_str(), d["outputs"][0]["dtype"].as_str()), (Some("odma0"), Some("UINT8")));
    assert_eq!(v["runtime_weights"], serde_json::json!([]));
}

#[test]
fn deploy_info_bad_folders_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let none = tmp.path().join("none");
    fails(&["deploy-info", "--deploy", s(&none)], &["none", "not a directory"], &none);
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    let (code, _, err) = run(&["deploy-info", "--deploy", s(&dir)]);
    assert!(code == 1 && err.contains("no .hwh"), "{err}");
    let src = deploy_fixture().join("bitfile");
    let hwh = std::fs::read_to_string(src.join("finn-accel.hwh")).unwrap();
    std::fs::write(dir.join("top.hwh"), hwh.replace("\"idma0\"", "\"dma_in\"")).unwrap();
    std::fs::copy(src.join("finn-accel.bit"), dir.join("top.bit")).unwrap();
    let (code, _, err) = run(&["deploy-info", "--deploy", s(&dir)]);
    assert!(code == 1 && err.contains("top.hwh") && err.contains("idma0"), "{err}");
    std::fs::write(dir.join("top.hwh"), &hwh).unwrap();
    let (code, _, err) = run(&["deploy-info", "--deploy", s(&dir)]);
    assert!(code == 1 && err.contains("no driver.py"), "{err}");
    let driver = std::fs::read_to_string(deploy_fixture().join("driver/driver.py")).unwrap();
    std::fs::write(
        dir.join("driver.py"),
        driver.replace("\"idt\" : [DataType['UINT8']]", "\"idt\" : [DataType['UINT12']]"),
    )
    .unwrap();
    let (code, _, err) = run(&["deploy-info", "--deploy", s(&dir)]);
    assert!(
        code == 1 && err.contains("driver.py") && err.contains("ishape_packed") && err.contains("5 bytes"),
        "{err}"
    );
    let bit = std::fs::read(src.join("finn-accel.bit")).unwrap();
    std::fs::write(dir.join("top.bit"), &bit[..bit.len() - 10]).unwrap();
    let (code, _, err) = run(&["deploy-info", "--deploy", s(&dir)]);
    assert!(code == 1 && err.contains("top.bit") && err.contains("truncated"), "{err}");
}

#[test]
fn load_and_board_check_off_a_board_are_clear_errors() {
    // This machine has no FPGA manager: both refuse before writing anything.
    if Path::new("/sys/class/fpga_manager/fpga0").exists() {
        return; // on a board these commands act; docs/board-checklist.md covers that
    }
    let dir = deploy_fixture();
    let before = std::fs::read_dir("/lib/firmware").map(|d| d.count()).unwrap_or(0);
    for args in [
        vec!["load", "--deploy", s(&dir)],
        vec!["board-check", "--deploy", s(&dir)],
        vec!["board-check", "--deploy", s(&dir), "--set-clock", "--pl-loaded"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(err.contains("no FPGA manager") && err.contains("fpga_manager/fpga0"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(std::fs::read_dir("/lib/firmware").map(|d| d.count()).unwrap_or(0), before);
    let (code, _, err) = run(&["load", "--deploy", "/nonexistent/deploy"]);
    assert!(code == 1 && err.contains("/nonexistent/deploy") && err.contains("not a directory"), "{err}");
    let (code, out, _) = run(&["load", "--help"]);
    assert!(code == 0 && out.contains("FPGA manager") && out.contains("--set-clock"), "{out}");
    let (code, out, _) = run(&["infer", "--help"]);
    assert!(code == 0 && out.contains("--set-clock") && out.contains("--pl-loaded"), "{out}");
}
