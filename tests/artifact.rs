//! The folded artifact and the parameter npz: round trips, size, and bad input.

mod common;

use binarycop::model::random::random_model;
use binarycop::model::{artifact, import_npz, FoldedModel, Topology};

fn folded(name: &str, seed: u64) -> FoldedModel {
    FoldedModel::fold(&random_model(&Topology::preset(name, 4).unwrap(), seed, seed % 2 == 1).unwrap()).unwrap()
}

#[test]
fn artifact_round_trips_exactly() {
    for (name, seed) in [("cnv", 1), ("ncnv", 2), ("ucnv", 3)] {
        let m = folded(name, seed);
        let bytes = artifact::to_bytes(&m).unwrap();
        assert_eq!(artifact::from_bytes(&bytes).unwrap(), m, "{name}");
    }
}

#[test]
fn cnv_artifact_is_at_most_200_kib() {
    let bytes = artifact::to_bytes(&folded("cnv", 1)).unwrap();
    // 1,539,776 weight bits (192,472 bytes) plus thresholds and STE scales.
    assert!(bytes.len() <= 200 * 1024, "CNV artifact is {} bytes", bytes.len());
}

#[test]
fn artifact_is_written_atomically_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npz");
    let m = folded("ucnv", 5);
    artifact::save(&m, &p).unwrap();
    assert_eq!(artifact::load(&p).unwrap(), m);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // An unwritable destination is an error naming the file, and leaves nothing.
    let bad = dir.path().join("no-such-dir").join("m.npz");
    let err = artifact::save(&m, &bad).unwrap_err().to_string();
    assert!(err.contains("no-such-dir"), "{err}");
}

#[test]
fn corrupt_and_truncated_artifacts_are_clear_errors() {
    let bytes = artifact::to_bytes(&folded("ucnv", 6)).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        let err = artifact::from_bytes(&bytes[..cut]).unwrap_err().to_string();
        assert!(err.contains("artifact") || err.contains("npz"), "cut {cut}: {err}");
    }
    // Flip bytes across the file: never a panic; an error or (for flips in padding or weight
    // bits) a valid model.
    for pos in (0..bytes.len()).step_by(997) {
        let mut b = bytes.clone();
        b[pos] ^= 0x5a;
        let _ = artifact::from_bytes(&b);
    }
    // A header from a future version is refused by name.
    let mut npz = ndarray_npy::NpzWriter::new(std::io::Cursor::new(Vec::new()));
    let header = br#"{"format":"binarycop-folded","version":99}"#.to_vec();
    npz.add_array("header", &ndarray::Array1::from(header)).unwrap();
    let future = npz.finish().unwrap().into_inner();
    let err = artifact::from_bytes(&future).unwrap_err().to_string();
    assert!(err.contains("header") || err.contains("version"), "{err}");
}

#[test]
fn parameter_npz_round_trips_through_torch_layout() {
    for (name, seed) in [("ncnv", 3), ("ucnv", 4)] {
        let m = random_model(&Topology::preset(name, 4).unwrap(), seed, false).unwrap();
        let bytes = import_npz::export_bytes(&m).unwrap();
        assert_eq!(import_npz::import_bytes(&bytes, None).unwrap(), m, "{name}");
    }
}

#[test]
fn parameter_npz_errors_name_the_array() {
    let m = random_model(&Topology::preset("ucnv", 4).unwrap(), 3, false).unwrap();
    let bytes = import_npz::export_bytes(&m).unwrap();
    // Another topology than the file's: the first mismatching array is named.
    let err = import_npz::import_bytes(&bytes, Some(Topology::preset("cnv", 4).unwrap())).unwrap_err().to_string();
    assert!(err.contains("conv1_1.weight") && err.contains("expected [64, 3, 3, 3]"), "{err}");
    let err = import_npz::import_bytes(&bytes, Some(Topology::preset("ncnv", 4).unwrap())).unwrap_err().to_string();
    assert!(err.contains("missing array 'conv3_2.weight'"), "{err}");
    let err = import_npz::import_bytes(&bytes[..bytes.len() / 3], None).unwrap_err().to_string();
    assert!(err.contains("npz"), "{err}");
    let err = import_npz::import_bytes(b"not a zip", None).unwrap_err().to_string();
    assert!(err.contains("npz"), "{err}");
}
