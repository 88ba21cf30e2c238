//! Running the `binarycop` binary as an attacker's input would: with a time limit and a cap on
//! its address space (4 GiB), so that a hang is a timeout and a runaway allocation an abort,
//! both reported as failures instead of stalling or swapping the machine.
//!
//! `BINARYCOP_BIN` runs another build of the binary (e.g. one from before a fix, to see these
//! tests fail there).

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> String {
    std::env::var("BINARYCOP_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_binarycop").to_string())
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The binary under `sh -c 'ulimit -v …'`, stdout and stderr piped.
pub fn spawn(args: &[&str]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304; exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn binarycop")
}

pub struct Run {
    /// None: killed by a signal (an abort, a stack overflow) or by the timeout.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}{}; stderr: {}", self.code, if self.timed_out { " (timed out)" } else { "" }, self.stderr)
    }
}

/// Waits for `child` at most `limit`, then kills it.
pub fn finish(mut child: Child, limit: Duration) -> Run {
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = pipe(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = pipe(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break (st, false);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run { code: status.code(), timed_out, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// Runs the binary (at most `limit`), reading its peak resident memory (VmHWM, kB) from /proc
/// while it runs.
pub fn run_peak_kb(args: &[&str], limit: Duration) -> (Run, u64) {
    let child = spawn(args);
    let status = format!("/proc/{}/status", child.id());
    let watcher = std::thread::spawn(move || {
        let mut hwm = 0u64;
        // The shell execs the binary: the pid is the same.
        while let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kb) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                hwm = hwm.max(kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        hwm
    });
    let r = finish(child, limit);
    (r, watcher.join().unwrap())
}

/// Runs the binary with a 60-second limit.
pub fn run(args: &[&str]) -> Run {
    finish(spawn(args), Duration::from_secs(60))
}

/// Exit `code`, "error: " first, every `want` in stderr, no panic.
pub fn assert_error(r: &Run, code: i32, wants: &[&str]) {
    assert!(!r.timed_out, "timed out: {r:?}");
    assert_eq!(r.code, Some(code), "{r:?}");
    assert!(r.stderr.starts_with("error: ") || code == 2, "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    for w in wants {
        assert!(r.stderr.contains(w), "stderr lacks '{w}': {r:?}");
    }
}
