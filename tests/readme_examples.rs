//! The README's model commands, run as a user runs them from the repository root: their
//! printed figures (parameters, deployed bytes, MACs, scores, the artifact's size) are held here.
//! (The kernel line of `info` depends on the CPU and is not compared.)

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_binarycop"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn info_prints_the_readme_table() {
    let out = run(&["info", "--model", "tests/fixtures/ucnv_trained/model.onnx"]);
    let want = "\
model ucnv : input 32x32x3 -> 4 classes
  #  layer     kind              input      output   fan-in      params      bytes     ops/image
  0  Conv1_1   conv 3x3        32x32x3    30x30x16       27         448        128        777600
  1  Conv1_2   conv 3x3       30x30x16    28x28x16      144        2320        352       3612672
  2  Pool1     maxpool 2x2    28x28x16    14x14x16        0           0          0             0
  3  Conv2_1   conv 3x3       14x14x16    12x12x32      144        4640        704       1327104
  4  Conv2_2   conv 3x3       12x12x32    10x10x32      288        9248       1280       1843200
  5  Pool2     maxpool 2x2    10x10x32      5x5x32        0           0          0             0
  6  Conv3_1   conv 3x3         5x5x32      3x3x64      288       18496       2560        331776
  7  FC1       fc               3x3x64     1x1x128      576       73856       9728        147456
  8  FC2       fc              1x1x128       1x1x4      128         512         64          1024
total: 109520 parameters, 14816 bytes deployed, 4020416 MAC (8.04 MOp) per image
kernel on this machine: ";
    assert!(out.starts_with(want), "{out}");
}

#[test]
fn infer_prints_the_readme_rows() {
    let out = run(&[
        "infer",
        "--model",
        "tests/fixtures/cnv_random/model.onnx",
        "--images",
        "tests/fixtures/cnv_random/inputs.npy",
        "--top-k",
        "2",
    ]);
    let want = "\
input                                     label  top-k       scores
tests/fixtures/cnv_random/inputs.npy[0]       2  2,0         268 245 269 242
tests/fixtures/cnv_random/inputs.npy[1]       0  0,1         254 249 247 232
";
    assert!(out.starts_with(want), "{out}");
}

#[test]
fn cnv_folds_to_the_readme_size() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("cnv.npz");
    run(&["fold", "--model", "tests/fixtures/cnv_random/model.onnx", "--out", dest.to_str().unwrap()]);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 199_898, "the README: CNV folds to 199,898 bytes");
}

/// The README's `eval` example: its figures and matrix (everything but the timing line), read
/// from the README itself, are what `eval` prints on the same synthetic folder.
#[test]
fn eval_prints_the_readme_matrix() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let cmd = "$ binarycop eval --model models/cnv.params.npz --images faces_by_class\n";
    let block = &readme[readme.find(cmd).expect("the README's eval example") + cmd.len()..];
    let block = &block[..block.find("\nbackend: ").expect("its timing line")];
    let want = &block[block.find("images: ").expect("its counts")..];
    assert!(want.contains("confusion matrix") && want.lines().count() > 10, "{want}");
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("faces_by_class");
    let set = set.to_str().unwrap();
    run(&["synth", "--count", "400", "--seed", "7", "--out", set, "--layout", "folders"]);
    let out = run(&["eval", "--model", "models/cnv.params.npz", "--images", set]);
    assert!(out.contains(want), "README:\n{want}\nprinted:\n{out}");
}
