//! Bad input gives a clear error naming the file and what is wrong, exit code 1, never a panic,
//! and nothing half-written.

use std::path::{Path, PathBuf};
use std::process::Command;

use binarycop::model;
use onnx_protobuf::{Message, ModelProto};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn onnx_bytes() -> Vec<u8> {
    std::fs::read(fixture("ucnv_random/model.onnx")).unwrap()
}

/// Imports edited model bytes from a temporary file; returns the error text.
fn import_err(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("edited.onnx");
    std::fs::write(&p, bytes).unwrap();
    match model::load(&p) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

fn edit(f: impl FnOnce(&mut ModelProto)) -> Vec<u8> {
    let mut m = ModelProto::parse_from_bytes(&onnx_bytes()).unwrap();
    f(&mut m);
    m.write_to_bytes().unwrap()
}

#[test]
fn truncated_and_corrupt_onnx_are_errors() {
    let bytes = onnx_bytes();
    for cut in [0, 1, 100, bytes.len() / 3, bytes.len() - 7] {
        let err = import_err(&bytes[..cut]);
        assert!(err.contains("edited.onnx"), "cut {cut}: '{err}'");
    }
    // Byte flips all over the file: never a panic (an error, or a still-valid model).
    for pos in (0..bytes.len()).step_by(bytes.len() / 211) {
        let mut b = bytes.clone();
        b[pos] ^= 0xa5;
        let _ = import_err(&b);
    }
}

#[test]
fn unsupported_graphs_name_the_node() {
    let err = import_err(&edit(|m| {
        let g = m.graph.as_mut().unwrap();
        let n = g.node.iter_mut().find(|n| n.op_type == "BatchNormalization").unwrap();
        n.op_type = "InstanceNormalization".into();
    }));
    assert!(err.contains("node '") && err.contains("(InstanceNormalization)"), "{err}");

    let err = import_err(&edit(|m| {
        let g = m.graph.as_mut().unwrap();
        let n = g.node.iter_mut().find(|n| n.op_type == "Conv").unwrap();
        for a in n.attribute.iter_mut().filter(|a| a.name == "pads") {
            a.ints = vec![1, 1, 1, 1];
        }
    }));
    assert!(err.contains("(Conv)") && err.contains("valid"), "{err}");

    let err = import_err(&edit(|m| {
        let g = m.graph.as_mut().unwrap();
        let n = g.node.iter_mut().find(|n| n.op_type == "MaxPool").unwrap();
        n.op_type = "AveragePool".into();
    }));
    assert!(err.contains("(AveragePool)"), "{err}");

    let err = import_err(&edit(|m| {
        let g = m.graph.as_mut().unwrap();
        g.node.iter_mut().find(|n| n.op_type == "Quant").unwrap().domain = "com.example".into();
    }));
    assert!(err.contains("domain 'com.example'"), "{err}");

    let err = import_err(&edit(|m| {
        m.graph.as_mut().unwrap().node.clear();
    }));
    assert!(err.contains("no nodes"), "{err}");
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_binarycop")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn write_npy<T: ndarray_npy::WritableElement, D: ndarray::Dimension>(p: &Path, a: &ndarray::Array<T, D>) {
    ndarray_npy::write_npy(p, a).unwrap();
}

#[test]
fn cli_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = fixture("ucnv_random/model.onnx");
    let model = model.to_str().unwrap();

    let shape = d.join("shape.npy");
    write_npy(&shape, &ndarray::Array4::<u8>::zeros((2, 28, 28, 3)));
    let dtype = d.join("dtype.npy");
    write_npy(&dtype, &ndarray::Array4::<f32>::zeros((2, 32, 32, 3)));
    let empty = d.join("empty.npy");
    write_npy(&empty, &ndarray::Array4::<u8>::zeros((0, 32, 32, 3)));
    let notimg = d.join("notes.png");
    std::fs::write(&notimg, b"this is not a picture").unwrap();
    let scores = d.join("scores.npy");

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["infer", "--model", model, "--images", shape.to_str().unwrap()], "the model takes 32x32x3"),
        (vec!["infer", "--model", model, "--images", dtype.to_str().unwrap()], "not a uint8 .npy"),
        (vec!["infer", "--model", model, "--images", empty.to_str().unwrap()], "empty batch"),
        (vec!["infer", "--model", model, "--images", notimg.to_str().unwrap()], "notes.png"),
        (vec!["infer", "--model", "/no/such/model.onnx", "--images", shape.to_str().unwrap()], "/no/such/model.onnx"),
        (
            vec![
                "infer",
                "--model",
                model,
                "--images",
                shape.to_str().unwrap(),
                "--save-scores",
                scores.to_str().unwrap(),
            ],
            "the model takes",
        ),
        (vec!["info", "--model", notimg.to_str().unwrap()], "notes.png"),
        (vec!["fold", "--model", model, "--out", "/no/such/dir/m.npz"], "/no/such/dir/m.npz"),
        (vec!["infer", "--model", model, "--images", dtype.to_str().unwrap(), "--top-k", "9"], "--top-k"),
    ];
    for (args, want) in cases {
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(want), "{args:?}: '{err}' lacks '{want}'");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing half-written: the failed --save-scores run left no file.
    assert!(!scores.exists());
    // A usage error is exit code 2 (clap).
    assert_eq!(run(&["infer"]).0, 2);
}

/// A mistyped BINARYCOP_KERNEL is an error listing the valid names, never a silent fallback:
/// a figure labelled "x86-avx2" must not be measured with another kernel.
#[test]
fn an_unknown_kernel_name_is_an_error() {
    let images = fixture("ucnv_random/inputs.npy");
    let model = fixture("ucnv_random/model.onnx");
    let (model, images) = (model.to_str().unwrap(), images.to_str().unwrap());
    for args in [vec!["infer", "--model", model, "--images", images], vec!["info", "--model", model]] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_binarycop")).args(&args).env("BINARYCOP_KERNEL", "avx2").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("BINARYCOP_KERNEL='avx2' is not a kernel; this machine runs: portable"), "{err}");
        assert!(out.stdout.is_empty(), "{args:?} printed before failing");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_binarycop"))
        .args(["info", "--model", model])
        .env("BINARYCOP_KERNEL", "portable")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("kernel on this machine: portable"));
}

/// `fold` says how many thresholds sit within one ulp of a reachable accumulator value.
#[test]
fn fold_reports_near_ties() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.npz");
    let ties = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/finn/ncnv_ties/model.onnx");
    for (model, want) in [
        (fixture("ucnv_random/model.onnx"), "0 of 288 channels have a threshold within one ulp"),
        (ties, "440 of 480 channels have a threshold within one ulp of a reachable accumulator value (Conv1_1 13,"),
    ] {
        let (code, stdout, err) = run(&["fold", "--model", model.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(stdout.contains(want), "{stdout}");
    }
}
