//! The published demo end to end on the simulated device (issue #10 point 8): the committed
//! stand-in deployment `models/deploy/ncnv72_published` (FINN's layout, the io_shape_dict of
//! BinaryCoP's published notebook: UINT8 (1, 72, 72, 3) in, UINT8 (1, 1) out) is what
//! `export-deploy` writes, and `infer` and `watch` through it on the simulated device give the
//! CPU engine's labels for the 72×72 three-class model; a 32×32 model against it is refused
//! with one error naming both.

use std::path::{Path, PathBuf};
use std::process::Command;

use binarycop::data::synth::{self, ClassSet, Config};
use ndarray_npy::WriteNpyExt;

const NAMES: &str = "Correctly Masked,Incorrectly Worn,No Mask";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn path(rel: &str) -> String {
    root().join(rel).to_string_lossy().into_owned()
}

fn deploy() -> String {
    path("models/deploy/ncnv72_published")
}

fn model() -> String {
    path("models/ncnv72_published.params.npz")
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_binarycop")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "driver", "bitfile"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                let rel = Path::new(sub).join(e.file_name()).to_string_lossy().into_owned();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_committed_stand_in_is_what_export_deploy_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    let (code, text, err) =
        cli(&["export-deploy", "--model", &model(), "--folding", "ncnv", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("bitfile/ncnv72_published.hwh") && text.contains("no bitstream"), "{text}");
    let (fresh, committed) = (files(&out), files(Path::new(&deploy())));
    assert_eq!(fresh.len(), 4);
    for ((a, x), (b, y)) in fresh.iter().zip(&committed) {
        assert_eq!(a, b);
        assert!(x == y, "{a} differs from the committed one: run the export-deploy command in models/README.md");
    }
    assert_eq!(fresh.len(), committed.len());
    // And it reads as the published deployment's contract.
    let (code, info, err) = cli(&["deploy-info", "--deploy", &deploy()]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "idma0      base 0x40000000  range 0x10000",
        "odma0      base 0x40010000  range 0x10000",
        "single-tensor form",
        "UINT8   normal (1, 72, 72, 3)  folded (1, 72, 72, 1, 3)  packed (1, 72, 72, 1, 3): 15552 byte(s) per frame",
        "UINT8   normal (1, 1)  folded (1, 1, 1)  packed (1, 1, 1): 1 byte(s) per frame",
        "ncnv72_published_stand_in",
    ] {
        assert!(info.contains(want), "'{want}' not in\n{info}");
    }
}

/// `count` published-class synthetic faces drawn at `size`: a uint8 .npy and a folder of PNGs.
fn faces(dir: &Path, count: usize, size: u32) -> (PathBuf, PathBuf) {
    let ds = synth::generate(&Config::sized(count, 11, size, ClassSet::Published)).unwrap();
    let npy = dir.join("faces.npy");
    let mut f = std::fs::File::create(&npy).unwrap();
    ds.images.write_npy(&mut f).unwrap();
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for (i, img) in ds.images.outer_iter().enumerate() {
        let rgb = image::RgbImage::from_raw(size, size, img.iter().copied().collect()).unwrap();
        rgb.save(frames.join(format!("{i:04}.png"))).unwrap();
    }
    (npy, frames)
}

fn labels(v: &serde_json::Value) -> Vec<u64> {
    v["results"].as_array().unwrap().iter().map(|r| r["label"].as_u64().unwrap()).collect()
}

#[test]
fn infer_through_the_stand_in_gives_the_cpu_engines_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let (npy, _) = faces(tmp.path(), 12, 72);
    let (m, d, npy) = (model(), deploy(), npy.to_string_lossy().into_owned());
    let (code, out, err) = cli(&["infer", "--model", &m, "--images", &npy, "--json"]);
    assert_eq!(code, 0, "{err}");
    let cpu = labels(&serde_json::from_str(&out).unwrap());
    let sim = [
        "infer",
        "--model",
        &m,
        "--images",
        &npy,
        "--backend",
        "sim",
        "--folding",
        "ncnv",
        "--deploy",
        &d,
        "--class-names",
        NAMES,
    ];
    let (code, out, err) = cli(&[sim.as_slice(), &["--json"]].concat());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(labels(&v), cpu);
    assert_eq!(v["cpu_check"], serde_json::json!({"checked": 12, "mismatches": []}));
    let names: Vec<&str> = NAMES.split(',').collect();
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["class"], names[r["label"].as_u64().unwrap() as usize]);
    }
    // All three classes occur, so the labels are not a constant.
    assert!((0..3).all(|k| cpu.contains(&k)), "{cpu:?}");
    let (code, out, err) = cli(&sim);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cpu check: sim labels equal the CPU engine's on all 12 images"), "{out}");
}

#[test]
fn watch_through_the_stand_in_gives_the_cpu_engines_labels() {
    let tmp = tempfile::tempdir().unwrap();
    // 96×96 frames: the cv2 policy brings them to driver.py's 72×72.
    let (_, frames) = faces(tmp.path(), 6, 96);
    let (m, d, f) = (model(), deploy(), frames.to_string_lossy().into_owned());
    let run = |extra: &[&str]| {
        let (code, out, err) = cli(&[["watch", "--model", &m, "--source", &f, "--json"].as_slice(), extra].concat());
        assert_eq!(code, 0, "{extra:?}: {err}");
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        lines.iter().filter(|v| v.get("frame").is_some()).map(|v| v["label"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    let cpu = run(&[]);
    assert_eq!(cpu.len(), 6);
    assert_eq!(run(&["--backend", "sim", "--folding", "ncnv", "--deploy", &d]), cpu);
    let (code, out, err) =
        cli(&["watch", "--model", &m, "--source", &f, "--backend", "sim", "--folding", "ncnv", "--deploy", &d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().unwrap().contains(&format!("on the sim backend through {d}, cv2 → 72x72x3")), "{out}");
}

#[test]
fn a_32x32_model_against_the_published_stand_in_is_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, frames) = faces(tmp.path(), 1, 72);
    let small = path("tests/fixtures/ucnv_trained/model.onnx");
    let inputs = path("tests/fixtures/ucnv_trained/inputs.npy");
    let d = deploy();
    let want = format!(
        "the model takes 32x32x3 images, {d}/driver/driver.py says 72x72x3 (ishape_normal (1, 72, 72, 3)): this \
         deployment is not a build of this model"
    );
    let f = frames.to_string_lossy().into_owned();
    for args in [
        vec!["infer", "--model", &small, "--images", &inputs, "--backend", "sim", "--deploy", &d],
        vec!["watch", "--model", &small, "--source", &f, "--backend", "sim", "--deploy", &d],
    ] {
        let (code, out, err) = cli(&args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(err.contains(&want) && !err.contains("panicked"), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    // watch: --deploy is not for the cpu backend; without a model only zynq runs, and here it
    // stops at the PL check (no FPGA manager on this machine).
    let (code, _, err) = cli(&["watch", "--model", &model(), "--source", &f, "--deploy", &d]);
    assert!(code == 1 && err.contains("--deploy applies to --backend sim and zynq"), "{err}");
    let (code, _, err) = cli(&["watch", "--source", &f, "--backend", "sim", "--deploy", &d]);
    assert!(code == 1 && err.contains("--backend sim needs --model"), "{err}");
    let (code, _, err) = cli(&["watch", "--source", &f, "--backend", "zynq", "--deploy", &d, "--class-names", NAMES]);
    assert!(code == 1 && err.contains("no FPGA manager"), "{err}");
}

#[test]
fn the_sim_device_takes_its_register_windows_from_the_hwh() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("deploy");
    for (rel, bytes) in files(Path::new(&deploy())) {
        let p = copy.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let bytes = if rel.ends_with(".hwh") {
            // odma0's window shrunk to 16 bytes: too small for the IODMA's registers.
            String::from_utf8(bytes).unwrap().replace("0x4001FFFF", "0x4001000F").into_bytes()
        } else {
            bytes
        };
        std::fs::write(p, bytes).unwrap();
    }
    let (npy, _) = faces(tmp.path(), 1, 72);
    let (code, _, err) = cli(&[
        "infer",
        "--model",
        &model(),
        "--images",
        npy.to_str().unwrap(),
        "--backend",
        "sim",
        "--folding",
        "ncnv",
        "--deploy",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let hwh = copy.join("bitfile/ncnv72_published.hwh");
    let want = format!("{}: odma0's register window is 16 bytes; the IODMA's registers need 0x20", hwh.display());
    assert!(err.contains(&want) && !err.contains("panicked"), "{err}");
}

/// BinaryCoP's own published folder (its driver.py and resizer.hwh) shapes the simulated device
/// for the 72×72 model as our stand-in does. Needs `BINARYCOP_REPO`: a work tree of
/// NaelF/BinaryCoP (its files are never committed here).
#[test]
fn the_published_notebook_folder_drives_the_sim_for_the_72x72_model() {
    let Some(repo) = std::env::var_os("BINARYCOP_REPO") else {
        eprintln!("skipped: set BINARYCOP_REPO to a work tree of NaelF/BinaryCoP to try its notebook/ deployment");
        return;
    };
    let notebook = Path::new(&repo).join("notebook").to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    let (npy, _) = faces(tmp.path(), 6, 72);
    let npy = npy.to_string_lossy().into_owned();
    let m = model();
    let args = ["infer", "--model", &m, "--images", &npy, "--backend", "sim", "--folding", "ncnv", "--json"];
    let (code, out, err) = cli(&[args.as_slice(), &["--deploy", &notebook]].concat());
    assert_eq!(code, 0, "{err}");
    let published: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(published["cpu_check"], serde_json::json!({"checked": 6, "mismatches": []}));
    let (code, out, err) = cli(&[args.as_slice(), &["--deploy", &deploy()]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(labels(&published), labels(&serde_json::from_str(&out).unwrap()));
}
