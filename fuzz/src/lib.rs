//! The bodies of binarycop's fuzz targets, one per parser that reads a file: each feeds the bytes
//! to the library's public entry point and, where the parse succeeds, exercises what is built
//! from it (folding, round trips, the first use of its sizes). A target fails only by panicking
//! or aborting (an overflow, an out-of-bounds index, an allocation past the fuzzer's limit) or
//! by hanging; errors are the expected outcome for most inputs.
//!
//! This file uses only binarycop's own crates, so the stable test suite replays every crash the
//! fuzzers found through the same functions (tests/fuzz_regressions.rs includes it by path).

use std::path::Path;
use std::sync::LazyLock;

use binarycop::cam::{self, Post};
use binarycop::data::{self, DecodeBound};
use binarycop::eval::classmap::{ClassIndex, ClassMap};
use binarycop::model::{self, artifact, import_npz, qonnx, FoldedModel, Shape, Topology};
use binarycop_hw::deploy;
use binarycop_hw::folding::FoldingConfig;
use binarycop_hw::packing::{self, DataType, Layout};

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets by name, for the replay test.
pub const TARGETS: [(&str, Target); 14] = [
    ("onnx", onnx),
    ("artifact", artifact),
    ("params_npz", params_npz),
    ("topology_json", topology_json),
    ("npy_images", npy_images),
    ("image_decode", image_decode),
    ("folding_json", folding_json),
    ("accel_config", accel_config),
    ("hwh", hwh),
    ("bit", bit),
    ("pack_unpack", pack_unpack),
    ("cam_npz", cam_npz),
    ("driver_py", driver_py),
    ("class_map", class_map),
];

/// A µ-CNV model the folding target lowers onto.
static UCNV: LazyLock<FoldedModel> = LazyLock::new(|| {
    let t = Topology::preset("ucnv", 4).expect("preset");
    FoldedModel::fold(&model::random::random_model(&t, 1, false).expect("random model")).expect("fold")
});

/// Folds and describes an imported model: every size the topology states is used.
fn use_trained(m: &model::TrainedModel) {
    if let Ok(f) = FoldedModel::fold(m) {
        let _ = model::describe(&f);
    }
}

/// A QONNX model. Its folder does not exist, so external data is refused before any file is
/// opened.
pub fn onnx(data: &[u8]) {
    if let Ok(m) = qonnx::import_bytes(data, Path::new("/nonexistent-binarycop-fuzz/model.onnx")) {
        use_trained(&m);
    }
}

/// A folded artifact: what loads must write back to the same model.
pub fn artifact(data: &[u8]) {
    if let Ok(m) = artifact::from_bytes(data) {
        let _ = model::describe(&m);
        let again = artifact::to_bytes(&m).expect("a loaded artifact encodes");
        assert_eq!(artifact::from_bytes(&again).expect("re-encoded artifact loads"), m);
    }
}

pub fn params_npz(data: &[u8]) {
    if let Ok(m) = import_npz::import_bytes(data, None) {
        use_trained(&m);
    }
}

pub fn topology_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Topology::from_json(text) {
        let layers = t.resolve().expect("from_json resolved it");
        let macs: usize = layers.iter().map(|l| l.macs()).sum();
        assert!(macs <= binarycop::limits::MAX_MACS_PER_IMAGE);
        assert_eq!(Topology::from_json(&t.to_json()).expect("round trip"), t);
    }
}

pub fn npy_images(data: &[u8]) {
    let _ = data::images_from_npy(data, Shape::new(32, 32, 3));
    let _ = binarycop::npy::read_integers(data);
}

/// PNG/JPEG decoding with a bound (smaller than the commands' so that iterations stay fast; the
/// check is the same), then the resize every model route does.
pub fn image_decode(data: &[u8]) {
    let bound = DecodeBound { max_pixels: 1 << 18, limit: "MAX_DECODED_PIXELS", why: "fuzzing" };
    if let Ok(img) = data::decode_image(data, &bound) {
        assert!(u64::from(img.width()) * u64::from(img.height()) <= bound.max_pixels);
        let _ = img.resize_exact(32, 32, image::imageops::FilterType::Triangle).to_rgb8();
    }
}

/// A FINN folding config, applied to µ-CNV (its node names and attributes checked there).
pub fn folding_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = FoldingConfig::from_json(text) {
        assert_eq!(FoldingConfig::from_json(&cfg.to_json()).expect("round trip"), cfg);
        if let Ok(mut low) = binarycop::lower::lower(&UCNV, &cfg) {
            let _ = low.set_fifo_depth(&binarycop::lower::FifoDepth::Flow);
        }
    }
}

pub fn accel_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = binarycop::accel::zynq::check_description(text);
    }
}

pub fn hwh(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = deploy::parse_hwh(text);
    }
}

/// FINN's generated driver.py: its io_shape_dict; what parses is described and, where it has
/// one input and one output, turned into the backends' contract.
pub fn driver_py(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = binarycop_hw::finn_driver::parse(text, Path::new("driver.py")) {
        let _ = binarycop_hw::finn_driver::describe(&d);
        for t in d.inputs.iter().chain(&d.outputs) {
            let _ = (t.label(), t.frame_bytes(), t.io_shape());
        }
        if d.single_io().is_ok() {
            if let Ok(c) = binarycop::accel::Contract::from_driver(&d) {
                let _ = c.io_spec(None);
            }
        }
    }
}

pub fn bit(data: &[u8]) {
    if let Ok(h) = deploy::parse_bit(data) {
        let bin = deploy::bit_to_bin(data);
        assert!(bin.is_err() || bin.is_ok_and(|b| b.len() == h.payload_len));
    }
}

/// An integer .npy packed as `pack` does, or (other inputs) raw bytes unpacked and packed back:
/// byte 0 picks the type, byte 1 the layout, bytes 2..4 the row length.
pub fn pack_unpack(data: &[u8]) {
    if data.starts_with(b"\x93NUMPY") {
        if let Ok((values, shape)) = binarycop::npy::read_integers(data) {
            if let Some(&inner) = shape.last().filter(|&&i| i > 0) {
                let _ = packing::pack_to_vec(&values, inner, DataType::INT8, Layout::DRIVER);
            }
        }
        return;
    }
    let [t, l, i0, i1, rest @ ..] = data else { return };
    let Ok(dtype) =
        DataType::uint(u32::from(t % 32) + 1).and_then(|u| if t & 0x80 != 0 { DataType::int(u.bits()) } else { Ok(u) })
    else {
        return;
    };
    let layout = Layout { reverse_inner: l & 1 != 0, reverse_endian: l & 2 != 0 };
    let inner = usize::from(u16::from_le_bytes([*i0, *i1]));
    let _ = packing::packed_size(dtype, &[rest.len(), inner]);
    if let Ok(values) = packing::unpack_to_vec::<i64>(rest, inner, dtype, layout) {
        let again = packing::pack_to_vec(&values, inner, dtype, layout).expect("unpacked values pack");
        let back = packing::unpack_to_vec::<i64>(&again, inner, dtype, layout).expect("packed bytes unpack");
        assert_eq!(back, values);
    }
}

/// A CAM export (`np.savez` of H×W×C or C×H×W f32): read, then Grad-CAM on itself.
pub fn cam_npz(data: &[u8]) {
    let chw = data.len() % 2 == 1;
    if let Ok(a) = cam::exported_from_bytes(data, "arr_0", chw) {
        if let Ok(c) = cam::from_exported(&a, &a, (32, 32), Post::SEED) {
            assert!(c.heatmap.map.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}

/// An `eval --class-map` file: what parses maps every folder it names to one of four classes,
/// or says which target is not a class.
pub fn class_map(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("classmap.json");
    if let Ok(map) = ClassMap::parse(text, path) {
        let names = map.class_names.clone().unwrap_or_else(|| (0..4).map(|i| format!("class{i}")).collect());
        if let Ok(index) = ClassIndex::new(names.clone(), Some(&map)) {
            for folder in ["CMFD", "IMFD_Nose", "0", "x"] {
                if let Ok(c) = index.class_of(folder, path) {
                    assert!(c < names.len());
                }
            }
        }
    }
}
