//! Outputs are all or nothing even when the process is killed (SIGKILL, as the OOM killer does):
//! `synth`, `fold`, `export-hw`, `compare` and `demo` are killed mid-write, and nothing exists
//! under the output's final name (see `binarycop::output` for what "all or nothing" means).
//!
//! "Mid-write" is hit on purpose: each command writes into a hidden temporary sibling
//! (`.NAME.TAG-tmpPID`, or `.NAME.tmpPID` for a single file) that is renamed at the end, so the
//! test watches for that sibling and kills the process while it exists; the sibling left behind
//! proves the kill landed mid-write. `fold`, whose write takes milliseconds, is also killed at
//! increasing delays from the start until it completes on its own.

mod cli_run;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli_run::{fixture, s};

/// Entries of `dir` whose names start with `prefix`.
fn temps(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(prefix)).map(|e| e.path()).collect()
        })
        .unwrap_or_default()
}

/// Runs `args`, waits until a temporary `prefix…` appears in `dir`, then `after` more, and kills
/// the process. True if it was killed with the temporary present (mid-write); false if it
/// finished first.
fn kill_mid_write(args: &[&str], dir: &Path, prefix: &str, after: Duration) -> bool {
    let mut child = cli_run::spawn(args);
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "{args:?} failed before it was killed: {st}");
            return false;
        }
        if !temps(dir, prefix).is_empty() {
            std::thread::sleep(after);
            let _ = child.kill();
            let st = child.wait().unwrap();
            return st.code().is_none() && !temps(dir, prefix).is_empty();
        }
        assert!(start.elapsed() < Duration::from_secs(300), "{args:?}: no temporary output appeared");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Kills `args` mid-write at each delay after its temporary output appears: every time,
/// nothing may exist under `out`'s name. At least one kill must land mid-write.
fn assert_all_or_nothing(make_args: impl Fn(&Path) -> Vec<String>, tag: &str, delays_ms: &[u64]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut mid = 0;
    for (i, &ms) in delays_ms.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let args = make_args(&out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let prefix = format!(".out{i}.{tag}");
        if kill_mid_write(&args, tmp.path(), &prefix, Duration::from_millis(ms)) {
            mid += 1;
            assert!(!out.exists(), "{args:?} killed {ms} ms into writing left {}", out.display());
        } else {
            assert!(out.is_dir(), "{args:?} finished without its output");
        }
    }
    assert!(mid > 0, "{tag}: no kill landed mid-write");
}

#[test]
fn synth_killed_mid_write_leaves_nothing() {
    assert_all_or_nothing(
        |out| ["synth", "--count", "1500", "--seed", "3", "--out", s(out)].map(String::from).to_vec(),
        "synth-tmp",
        &[0, 30, 300],
    );
}

#[test]
fn export_hw_killed_mid_write_leaves_nothing() {
    let m = fixture("ncnv_random/model.onnx");
    assert_all_or_nothing(
        |out| ["export-hw", "--model", s(&m), "--folding", "ncnv", "--out", s(out)].map(String::from).to_vec(),
        "export-hw-tmp",
        &[0, 0, 1, 2, 5],
    );
}

#[test]
fn compare_killed_mid_write_leaves_nothing() {
    let (m, x) = (fixture("ncnv_trained/model.onnx"), fixture("ncnv_trained/inputs.npy"));
    assert_all_or_nothing(
        |out| {
            ["compare", "--model", s(&m), "--images", s(&x), "--layer", "Pool2", "--steps", "4", "--out", s(out)]
                .map(String::from)
                .to_vec()
        },
        "compare-tmp",
        &[0, 0, 1],
    );
}

#[test]
fn demo_killed_mid_write_leaves_nothing() {
    assert_all_or_nothing(
        |out| {
            ["demo", "--models", "ucnv", "--per-class", "1", "--per-variation", "1", "--out", s(out)]
                .map(String::from)
                .to_vec()
        },
        "demo-tmp",
        &[0, 0, 1],
    );
}

/// `fold` writes one file: killed at the moment its temporary appears, and at increasing delays
/// from the start until it completes on its own, the artifact is either absent or whole.
#[test]
fn fold_killed_at_any_time_leaves_nothing_or_the_whole_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("cnv_random/model.onnx");
    let out = tmp.path().join("m.npz");
    let args = ["fold", "--model", s(&model), "--out", s(&out)];
    let r = cli_run::run(&args);
    assert_eq!(r.code, Some(0), "{r:?}");
    let whole = std::fs::read(&out).unwrap();
    let mut mid = 0;
    for _ in 0..20 {
        std::fs::remove_file(&out).ok();
        if kill_mid_write(&args, tmp.path(), ".m.npz.tmp", Duration::ZERO) {
            mid += 1;
            assert!(!out.exists(), "a killed fold left m.npz");
        } else {
            assert_eq!(std::fs::read(&out).unwrap(), whole);
        }
        if mid >= 3 {
            break;
        }
    }
    assert!(mid > 0, "no kill landed while the artifact was being written");
    let mut delay = Duration::from_millis(1);
    loop {
        std::fs::remove_file(&out).ok();
        let mut child = cli_run::spawn(&args);
        std::thread::sleep(delay);
        let _ = child.kill();
        let finished = child.wait().unwrap().success();
        if out.exists() {
            assert_eq!(std::fs::read(&out).unwrap(), whole, "killed after {delay:?}: a partial m.npz");
        }
        if finished {
            break;
        }
        delay = delay * 3 / 2 + Duration::from_millis(1);
        assert!(delay < Duration::from_secs(120), "fold never completed");
    }
}
