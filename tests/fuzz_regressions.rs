//! Every input a fuzzer crashed on (tests/hostile/fuzz/<target>/, one file each), replayed
//! through the same target body the fuzzer runs (fuzz/src/lib.rs, included here), on stable
//! Rust: each must now pass without a panic. The directory also holds hand-made inputs for the
//! cases the fuzzing issue listed.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

#[test]
fn every_fuzz_find_is_replayed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/fuzz");
    let mut replayed = 0;
    for (name, target) in targets::TARGETS {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let ok = std::panic::catch_unwind(|| target(&bytes));
            assert!(ok.is_ok(), "{name}: {} panics", f.display());
            replayed += 1;
        }
    }
    // The directory is never silently empty.
    assert!(replayed > 0, "no regression inputs under {}", root.display());
}
