//! Hostile input (issue 12): every crafted input of the fuzzing pass, through the command line.
//! Each must end in a clear error naming the file and what is wrong (or the limit it hits), an
//! exit code ≠ 0, no panic, no hang, bounded memory, and nothing written under the output's
//! name. The binary runs with a time limit and a 4 GiB address space (`cli_run`), so the defects
//! these tests were written against show as failures: a timeout (the weight cycle, a FIFO as
//! external data, `compare --steps 1e8`), a signal (the huge allocations, the stack overflow on
//! a deep .hwh), a panic, or exit 0 with wrong output. Inputs are built here from the fixtures;
//! the fuzzers' finds are replayed by tests/fuzz_regressions.rs.

mod cli_run;

use std::path::{Path, PathBuf};

use cli_run::{assert_error, fixture, run, s};
use ndarray::{Array1, ArrayD, IxDyn};
use ndarray_npy::{NpzWriter, ReadNpyExt};
use onnx_protobuf::{Message, ModelProto, NodeProto, StringStringEntryProto, TensorProto};

// ---------------------------------------------------------------------------------------------
// Building hostile inputs

fn ucnv_onnx() -> ModelProto {
    ModelProto::parse_from_bytes(&std::fs::read(fixture("ucnv_random/model.onnx")).unwrap()).unwrap()
}

fn write_onnx(dir: &Path, name: &str, m: &ModelProto) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, m.write_to_bytes().unwrap()).unwrap();
    p
}

fn initializer<'a>(m: &'a mut ModelProto, name: &str) -> &'a mut TensorProto {
    m.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == name).unwrap()
}

/// A format 1.0 .npy with this header dictionary and these data bytes (the header may lie).
fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = dict.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    b
}

/// 228 bytes claiming a petabyte-scale uint8 image batch.
fn huge_images_npy() -> Vec<u8> {
    raw_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776, 32, 32, 3), }", &[0; 100])
}

/// An .npz (stored, not compressed) of raw members.
fn zip_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        z.start_file(*name, opts).unwrap();
        std::io::Write::write_all(&mut z, bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn npy_bytes<T: ndarray_npy::WritableElement, D: ndarray::Dimension>(a: &ndarray::Array<T, D>) -> Vec<u8> {
    let mut b = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(a, &mut b).unwrap();
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A small RGB PNG.
fn png(dir: &Path, name: &str, side: u32) -> PathBuf {
    let img = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 99]));
    let p = dir.join(name);
    img.save(&p).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// 1-3: ONNX

/// Defect 1: an Identity that reads its own output, as a conv's weight: the importer followed the
/// producer chain without a step limit and spun forever.
#[test]
fn a_weight_cycle_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ucnv_onnx();
    let g = m.graph.as_mut().unwrap();
    let conv = g.node.iter_mut().find(|n| n.op_type == "Conv").unwrap();
    conv.input[1] = "spin".into();
    g.node.push(NodeProto {
        op_type: "Identity".into(),
        name: "spin_node".into(),
        input: vec!["spin".into()],
        output: vec!["spin".into()],
        ..Default::default()
    });
    let p = write_onnx(dir.path(), "cycle.onnx", &m);
    assert_error(&run(&["info", "--model", s(&p)]), 1, &["cycle.onnx", "loops", "spin"]);
}

/// Defect 2: element counts that wrap: [2^62 + 4, 128] wraps to the 512 values the tensor
/// holds, so the initializer passed, and building the fc weight panicked ("Shape too large").
#[test]
fn onnx_element_counts_that_overflow_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ucnv_onnx();
    initializer(&mut m, "slice_7").dims = vec![(1i64 << 62) + 4, 128];
    let p = write_onnx(dir.path(), "wrap.onnx", &m);
    assert_error(&run(&["info", "--model", s(&p)]), 1, &["wrap.onnx", "slice_7", "MAX_TENSOR_ELEMENTS"]);
    // A negative dim.
    let mut m = ucnv_onnx();
    initializer(&mut m, "slice_7").dims = vec![-4, -128];
    let p = write_onnx(dir.path(), "negative.onnx", &m);
    assert_error(&run(&["info", "--model", s(&p)]), 1, &["negative.onnx", "slice_7", "out of range"]);
}

/// Found by the long fuzz run (the onnx target died of SIGSEGV): protobuf 3.4.0 skips a group
/// field (wire type 3, never written by ONNX) by recursing once per nested group, so 2 MiB of
/// start-group tags inside a node overflowed the stack and killed the process. Refused by a
/// wire-format walk before the parser (model::onnx_wire).
#[test]
fn nested_protobuf_groups_are_an_error_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ucnv_onnx();
    let mut bytes = m.write_to_bytes().unwrap();
    // A last ModelProto.graph (field 7) whose one node (GraphProto.node, field 1) holds
    // 2 MiB of start-group tags for field 15; protobuf merges it into the graph.
    let groups = vec![0x7b_u8; 2 << 20];
    let node = [&[0x0a][..], &varint(groups.len()), &groups].concat();
    bytes.extend_from_slice(&[0x3a]);
    bytes.extend_from_slice(&varint(node.len()));
    bytes.extend_from_slice(&node);
    let p = write(dir.path(), "groups.onnx", &bytes);
    assert_error(&run(&["info", "--model", s(&p)]), 1, &["groups.onnx", "protobuf group", "field 15"]);
    // Messages nested past protobuf's limit (AttributeProto.g → GraphProto.node → ...).
    m.graph.as_mut().unwrap().node[0].attribute.clear();
    let mut inner = Vec::new();
    for _ in 0..40 {
        let attr = [&[0x32][..], &varint(inner.len()), &inner].concat();
        let node = [&[0x2a][..], &varint(attr.len()), &attr].concat();
        inner = [&[0x0a][..], &varint(node.len()), &node].concat();
    }
    let mut bytes = m.write_to_bytes().unwrap();
    bytes.extend_from_slice(&[0x3a]);
    bytes.extend_from_slice(&varint(inner.len()));
    bytes.extend_from_slice(&inner);
    let p = write(dir.path(), "deep.onnx", &bytes);
    assert_error(&run(&["info", "--model", s(&p)]), 1, &["deep.onnx", "deeper than 100"]);
}

fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// The last fc's weight (4×128 f32, 2048 bytes) moved to external data with `location`.
fn external(dir: &Path, name: &str, location: &str, extra: &[(&str, &str)]) -> PathBuf {
    let mut m = ucnv_onnx();
    let t = initializer(&mut m, "slice_7");
    let raw = std::mem::take(&mut t.raw_data);
    assert_eq!(raw.len(), 2048);
    std::fs::write(dir.join("weights.bin"), &raw).unwrap();
    t.data_location = onnx_protobuf::tensor_proto::DataLocation::EXTERNAL.into();
    let entry = |k: &str, v: &str| StringStringEntryProto { key: k.into(), value: v.into(), ..Default::default() };
    t.external_data = vec![entry("location", location)];
    t.external_data.extend(extra.iter().map(|(k, v)| entry(k, v)));
    write_onnx(dir, name, &m)
}

/// Defect 3: external data may only name a regular file inside the model's folder, of the declared
/// size: /dev/zero grew without bound, a FIFO hung.
#[test]
fn external_data_stays_inside_the_model_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(tmp.path().join("outside.bin"), [0u8; 2048]).unwrap();

    // The well-formed case loads.
    let ok = external(&dir, "ok.onnx", "weights.bin", &[("offset", "0"), ("length", "2048")]);
    let r = run(&["info", "--model", s(&ok)]);
    assert_eq!(r.code, Some(0), "{r:?}");

    /// (location, other external_data entries, what the error says)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("/dev/zero", vec![], "relative path"),
        ("../outside.bin", vec![], "no '..'"),
        ("sub/../../outside.bin", vec![], "no '..'"),
        ("fifo.bin", vec![], "not a regular file"),
        ("zero.bin", vec![], "outside the model's folder"),
        ("escape.bin", vec![], "outside the model's folder"),
        ("missing.bin", vec![], "cannot open"),
        ("weights.bin", vec![("length", "4096")], "need 2048 bytes"),
        ("weights.bin", vec![("offset", "1024")], "run past the end"),
        ("weights.bin", vec![("offset", "18446744073709551615")], "run past the end"),
        ("weights.bin", vec![("offset", "-1")], "not a byte count"),
    ];
    assert!(std::process::Command::new("mkfifo").arg(dir.join("fifo.bin")).status().unwrap().success());
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.bin")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside.bin"), dir.join("escape.bin")).unwrap();
    for (i, (loc, extra, want)) in cases.into_iter().enumerate() {
        let name = format!("ext{i}.onnx");
        let p = external(&dir, &name, loc, &extra);
        let r = run(&["info", "--model", s(&p)]);
        assert_error(&r, 1, &[&name, "slice_7", "external data", want]);
    }
}

// ---------------------------------------------------------------------------------------------
// 4: npy and npz headers

/// Defect 4: a header that claims a huge shape made the allocation abort before anything was
/// read, on every route that reads arrays.
#[test]
fn npy_headers_are_checked_against_the_real_size() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let model = fixture("ucnv_random/model.onnx");
    let huge = write(d, "huge.npy", &huge_images_npy());
    assert_eq!(std::fs::metadata(&huge).unwrap().len(), 228);
    let lies = raw_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1000, 32, 32, 3), }", &[0; 100]);
    let lies = write(d, "lies.npy", &lies);
    let out = d.join("out");

    // Images for infer and cam.
    assert_error(&run(&["infer", "--model", s(&model), "--images", s(&huge)]), 1, &["huge.npy", "MAX_TENSOR_ELEMENTS"]);
    assert_error(
        &run(&["infer", "--model", s(&model), "--images", s(&lies)]),
        1,
        &["lies.npy", "3072000 bytes of data"],
    );
    let cam = ["cam", "--model", s(&model), "--images", s(&huge), "--layer", "Pool2", "--out", s(&out)];
    assert_error(&run(&cam), 1, &["huge.npy", "MAX_TENSOR_ELEMENTS"]);
    // pack.
    let packed = d.join("packed.bin");
    let r = run(&["pack", "--dtype", "UINT8", "--input", s(&huge), "--out", s(&packed)]);
    assert_error(&r, 1, &["huge.npy", "MAX_TENSOR_ELEMENTS"]);
    // The artifact (its `header` array), the parameter npz (its `topology`), a CAM export.
    let artifact = write(d, "artifact.npz", &zip_of(&[("header.npy", huge_images_npy())]));
    assert_error(&run(&["info", "--model", s(&artifact)]), 1, &["artifact.npz", "header", "MAX_TENSOR_ELEMENTS"]);
    let params = write(d, "params.npz", &zip_of(&[("topology.npy", huge_images_npy())]));
    assert_error(&run(&["info", "--model", s(&params)]), 1, &["params.npz", "topology", "MAX_TENSOR_ELEMENTS"]);
    let params = write(d, "params2.npz", &zip_of(&[("topology.npy", std::fs::read(&lies).unwrap())]));
    assert_error(&run(&["info", "--model", s(&params)]), 1, &["params2.npz", "topology", "but only 100 follow"]);
    let acts = write(d, "acts.npz", &zip_of(&[("arr_0.npy", huge_images_npy())]));
    let grads = write(d, "grads.npz", &zip_of(&[("arr_0.npy", npy_bytes(&ndarray::Array3::<f32>::zeros((2, 2, 4))))]));
    let img = png(d, "img.png", 32);
    let r = run(&["cam", "--activations", s(&acts), "--gradients", s(&grads), "--image", s(&img), "--out", s(&out)]);
    assert_error(&r, 1, &["acts.npz", "arr_0", "MAX_TENSOR_ELEMENTS"]);
    // A member whose data is longer than its header says (its zip size is not trusted either).
    let mut long = npy_bytes(&ndarray::Array3::<f32>::zeros((2, 2, 4)));
    long.extend_from_slice(&[0; 64]);
    let acts = write(d, "long.npz", &zip_of(&[("arr_0.npy", long)]));
    let r = run(&["cam", "--activations", s(&acts), "--gradients", s(&grads), "--image", s(&img), "--out", s(&out)]);
    assert_error(&r, 1, &["long.npz", "extra bytes"]);
    assert!(!out.exists() && !packed.exists());
}

/// The checks themselves, on the library's reader.
#[test]
fn npy_reader_checks_headers_before_allocating() {
    use binarycop::npy::read;
    let good = npy_bytes(&ndarray::Array2::<u8>::zeros((2, 3)));
    assert_eq!(good, raw_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}", &[0; 6]));
    assert_eq!(read::<u8>(&good).unwrap().shape(), [2, 3]);
    let e = read::<u8>(&good[..good.len() - 1]).unwrap_err().to_string();
    assert!(e.contains("shape [2, 3]") && e.contains("only 5 follow"), "{e}");
    let mut long = good.clone();
    long.push(0);
    assert!(read::<u8>(&long).unwrap_err().to_string().contains("extra bytes"));
    let e = read::<f32>(&good).unwrap_err().to_string();
    assert!(e.contains("uint8 ('|u1')") && e.contains("expected float32"), "{e}");
    let e = read::<u8>(&huge_images_npy()).unwrap_err().to_string();
    assert!(e.contains("MAX_TENSOR_ELEMENTS"), "{e}");
    let wraps = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 1), }", &[]);
    assert!(read::<f32>(&wraps).unwrap_err().to_string().contains("MAX_TENSOR_ELEMENTS"));
    let lie = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }", &[0; 16]);
    let e = read::<f32>(&lie).unwrap_err().to_string();
    assert!(e.contains("4000000 bytes of data, but only 16 follow"), "{e}");
    // Versions: a 1.0 header relabelled 3.0 reads its 2-byte length as 4 bytes.
    let mut v3 = good.clone();
    v3[6] = 3;
    let e = read::<u8>(&v3).unwrap_err().to_string();
    assert!(e.contains("format 3.0") && e.contains("version byte"), "{e}");
    let mut v9 = good;
    v9[6] = 9;
    assert!(read::<u8>(&v9).unwrap_err().to_string().contains("npy format 9.0 is not supported"));
    assert!(read::<u8>(b"").unwrap_err().to_string().contains("empty"));
}

/// The long fuzz run's find: a header whose brackets nest deep sent ndarray-npy's header parser
/// into exponential backtracking (258 bytes ran for minutes). Refused before parsing, through
/// every reader: `pack`, images, and an npz member.
/// Found by the long fuzz run (npy_images): a shape with a zero axis holds no data, so its
/// element count (0) passed, but ndarray also requires the product of the other axes to fit,
/// and ndarray-npy unwrapped that check: a panic.
#[test]
fn an_empty_npy_shape_whose_other_axes_overflow_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let npy = raw_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296, 3), }", &[]);
    let e = binarycop::npy::read::<u8>(&npy).unwrap_err().to_string();
    assert!(e.contains("is empty") && e.contains("MAX_TENSOR_ELEMENTS"), "{e}");
    let p = write(tmp.path(), "empty.npy", &npy);
    let model = fixture("ucnv_random/model.onnx");
    assert_error(&run(&["infer", "--model", s(&model), "--images", s(&p)]), 1, &["empty.npy", "is empty"]);
    // An empty array with small axes still reads (and is then refused as an empty batch).
    let small = raw_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 32, 32, 3), }", &[]);
    assert_eq!(binarycop::npy::read::<u8>(&small).unwrap().shape(), [0, 32, 32, 3]);
}

#[test]
fn a_deeply_nested_npy_header_is_an_error_not_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let nested = raw_npy(&format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({}", "{".repeat(24)), &[]);
    let npy = write(d, "nested.npy", &nested);
    let packed = d.join("packed.bin");
    let r = run(&["pack", "--dtype", "UINT8", "--input", s(&npy), "--out", s(&packed)]);
    assert_error(&r, 1, &["nested.npy", "nest 26 deep", "MAX_NPY_HEADER_NESTING"]);
    let model = fixture("ucnv_random/model.onnx");
    assert_error(
        &run(&["infer", "--model", s(&model), "--images", s(&npy)]),
        1,
        &["nested.npy", "MAX_NPY_HEADER_NESTING"],
    );
    let params = write(d, "params.npz", &zip_of(&[("topology.npy", nested)]));
    assert_error(&run(&["info", "--model", s(&params)]), 1, &["params.npz", "topology", "MAX_NPY_HEADER_NESTING"]);
    assert!(!packed.exists());
    // Brackets inside a string do not count, and numpy's own depth reads.
    use binarycop::npy::read;
    let quoted = raw_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}", &[0; 6]);
    assert_eq!(read::<u8>(&quoted).unwrap().shape(), [2, 3]);
    let in_string = raw_npy("{'descr': '|u1((((((', 'fortran_order': False, 'shape': (2, 3)}", &[0; 6]);
    assert!(!read::<u8>(&in_string).unwrap_err().to_string().contains("MAX_NPY_HEADER_NESTING"));
}

// ---------------------------------------------------------------------------------------------
// 5-6: topology and unpack sizes

/// A parameter npz of one fc layer (2 outputs over 4 inputs) that embeds `topology`.
fn one_fc_params(topology: &str) -> Vec<u8> {
    let mut z = NpzWriter::new(std::io::Cursor::new(Vec::new()));
    z.add_array("fc1.weight", &ndarray::Array2::<f32>::ones((2, 4))).unwrap();
    z.add_array("input.scale", &ndarray::arr0(1.0f32 / 128.0)).unwrap();
    z.add_array("input.bits", &ndarray::arr0(8i64)).unwrap();
    z.add_array("output.scale", &ndarray::arr0(1.0f32)).unwrap();
    z.add_array("output.bias", &ndarray::arr0(0.0f32)).unwrap();
    z.add_array("topology", &Array1::from(topology.as_bytes().to_vec())).unwrap();
    z.finish().unwrap().into_inner()
}

/// Defect 5: an input of (2^62 + 1)×4×1 values wraps to 4: the model validated, `info` printed
/// nonsense with exit 0, and `infer` and `cam` panicked.
#[test]
fn topology_sizes_that_overflow_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let topo = r#"{"name":"wrap","input":{"height":4611686018427387905,"width":4,"channels":1},
        "layers":[{"type":"fc","name":"FC1","out_features":2}]}"#;
    let p = write(d, "wrap.npz", &one_fc_params(topo));
    assert_error(&run(&["info", "--model", s(&p)]), 1, &["wrap.npz", "MAX_MAP_ELEMENTS"]);
    let t = write(d, "wrap.json", topo.as_bytes());
    let sane = write(
        d,
        "sane.npz",
        &one_fc_params(
            r#"{"name":"ok","input":{"height":2,"width":2,"channels":1},
        "layers":[{"type":"fc","name":"FC1","out_features":2}]}"#,
        ),
    );
    assert_error(&run(&["info", "--model", s(&sane), "--topology", s(&t)]), 1, &["wrap.json", "MAX_MAP_ELEMENTS"]);
    // The sane one works: the error above is the topology's.
    assert_eq!(run(&["info", "--model", s(&sane)]).code, Some(0));
}

/// Defect 6: `unpack`: inner × bits wrapped to 0 (a divide-by-zero panic), and a shape whose
/// element count wrapped was blamed on the output path.
#[test]
fn unpack_sizes_that_overflow_name_the_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let empty = write(d, "empty.bin", b"");
    let four = write(d, "four.bin", &[0; 4]);
    let out = d.join("out.npy");
    let o = s(&out);
    for (dtype, shape, input) in [
        ("UINT32", "1,576460752303423488", &empty),
        ("UINT8", "4294967296,4294967296,1", &empty),
        ("UINT8", "4611686018427387904,1", &four),
        ("BIPOLAR", "1,4611686018427387904", &four),
    ] {
        let r = run(&["unpack", "--dtype", dtype, "--shape", shape, "--input", s(input), "--out", o]);
        assert_error(&r, 1, &["--shape", shape, "MAX_TENSOR_ELEMENTS"]);
        assert!(!r.stderr.contains("out.npy"), "{r:?}");
    }
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------------
// 7-8: .hwh and .bit

fn deploy_dir(d: &Path, hwh: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("hw/tests/data/deploy/bitfile");
    let dir = d.join("deploy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("top.hwh"), hwh).unwrap();
    std::fs::copy(src.join("finn-accel.bit"), dir.join("top.bit")).unwrap();
    dir
}

fn fixture_hwh() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("hw/tests/data/deploy/bitfile/finn-accel.hwh"))
        .unwrap()
}

/// Defect 7: about 20k nested elements overflowed the XML parser's stack.
#[test]
fn a_deeply_nested_hwh_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = format!("<EDKSYSTEM>{}{}</EDKSYSTEM>", "<a x='/>'>".repeat(100_000), "</a>".repeat(100_000));
    let dir = deploy_dir(tmp.path(), &deep);
    assert_error(&run(&["deploy-info", "--deploy", s(&dir)]), 1, &["top.hwh", "MAX_XML_DEPTH"]);
    // 200 levels are within the limit: an ordinary error follows.
    let ok_depth = format!("<EDKSYSTEM>{}{}</EDKSYSTEM>", "<a>".repeat(200), "</a>".repeat(200));
    let dir = deploy_dir(tmp.path(), &ok_depth);
    assert_error(&run(&["deploy-info", "--deploy", s(&dir)]), 1, &["top.hwh", "no Zynq processing system"]);
}

/// Defect 8: a window from 0 to 2^64 − 1 has 2^64 bytes: the range wrapped to 0 and exit was 0.
#[test]
fn a_hwh_window_that_wraps_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let hwh = fixture_hwh().replace(
        "BASEVALUE=\"0x40000000\" HIGHNAME=\"C_HIGHADDR\" HIGHVALUE=\"0x4000FFFF\"",
        "BASEVALUE=\"0x0\" HIGHNAME=\"C_HIGHADDR\" HIGHVALUE=\"0xFFFFFFFFFFFFFFFF\"",
    );
    assert!(hwh.contains("0xFFFFFFFFFFFFFFFF"));
    let dir = deploy_dir(tmp.path(), &hwh);
    assert_error(&run(&["deploy-info", "--deploy", s(&dir)]), 1, &["top.hwh", "idma0", "whole 64-bit address space"]);
}

/// The unclear message: a bad field key was printed as a raw control character.
#[test]
fn a_bad_bit_field_key_is_printed_in_hex() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = deploy_dir(tmp.path(), &fixture_hwh());
    let mut bit = binarycop_hw::deploy::BIT_MAGIC.to_vec();
    bit.push(0x07);
    std::fs::write(dir.join("top.bit"), &bit).unwrap();
    let r = run(&["deploy-info", "--deploy", s(&dir)]);
    assert_error(&r, 1, &["top.bit", "field key 0x07"]);
    assert!(!r.stderr.bytes().any(|b| b < 0x20 && b != b'\n'), "{:?}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// 9: counts

/// Defect 9: counts without a range: `synth --count` u64::MAX panicked and 1e8 aborted (17.6 GB),
/// `demo --per-class` likewise, `--classes` on a preset aborted (51 GB), `compare --steps 1e8`
/// hung and `--steps 0` gave meaningless AUCs. Each now has its range in --help and is a usage
/// error (exit 2) outside it.
#[test]
fn counts_have_documented_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = s(&out);
    let model = fixture("ncnv_trained/model.onnx");
    let images = fixture("ncnv_trained/inputs.npy");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["synth", "--count", "18446744073709551615", "--out", o], "--count"),
        (vec!["synth", "--count", "100000000", "--out", o], "--count"),
        (vec!["synth", "--count", "0", "--out", o], "--count"),
        (vec!["demo", "--per-class", "18446744073709551615", "--out", o], "--per-class"),
        (vec!["demo", "--per-class", "100000000", "--out", o], "--per-class"),
        (vec!["demo", "--per-variation", "100000000", "--out", o], "--per-variation"),
        (vec!["simulate", "--model", "cnv", "--folding", "cnv", "--classes", "100000000"], "--classes"),
        (vec!["info", "--model", "x.npz", "--topology", "cnv", "--classes", "18446744073709551615"], "--classes"),
        (vec!["info", "--model", "x.npz", "--topology", "cnv", "--classes", "0"], "--classes"),
    ];
    let mut cases = cases;
    for steps in ["100000000", "0"] {
        cases.push((
            vec![
                "compare",
                "--model",
                s(&model),
                "--images",
                s(&images),
                "--layer",
                "Pool2",
                "--steps",
                steps,
                "--out",
                o,
            ],
            "--steps",
        ));
    }
    for (args, want) in cases {
        let r = run(&args);
        assert_error(&r, 2, &[want, "out of range"]);
    }
    assert!(!out.exists());
    // The ranges are in --help.
    for (cmd, want) in
        [("synth", "1 to 1000000"), ("demo", "1 to 256"), ("compare", "1 to 1024"), ("simulate", "1 to 65536")]
    {
        let r = run(&[cmd, "--help"]);
        assert!(r.code == Some(0) && r.stdout.contains(want), "{cmd}: {r:?} {}", r.stdout);
    }
}

/// `synth` streams to disk: its peak memory does not grow with --count (the set was held in
/// memory whole, then written). Peak resident memory is read from /proc while it runs.
#[test]
fn synth_memory_does_not_grow_with_the_count() {
    let tmp = tempfile::tempdir().unwrap();
    let peak = |count: &str| {
        let out = tmp.path().join(format!("set{count}"));
        let (r, kb) =
            cli_run::run_peak_kb(&["synth", "--count", count, "--out", s(&out)], std::time::Duration::from_secs(300));
        assert_eq!(r.code, Some(0), "{r:?}");
        kb
    };
    let small = peak("256");
    let large = peak("8192");
    // 8192 images held in memory are ≥ 64 MiB (samples, arrays and PNGs); streamed, the peak
    // stays that of one chunk of 256.
    assert!(large < small + 24 * 1024, "peak {large} kB for 8192 images vs {small} kB for 256");
}

// ---------------------------------------------------------------------------------------------
// 10: decode amplification

/// A baseline JPEG whose frame header (SOF0) claims `side`×`side` pixels: the entropy-coded
/// data is that of a 16×16 image.
fn jpeg_claiming(side: u16) -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([(x * 16) as u8, (y * 16) as u8, 128]));
    let mut b = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut b, 50).encode_image(&img).unwrap();
    let sof = b.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    b[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    b
}

/// Defect 10: a 1.2 kB JPEG claiming 13,364×13,364 cost `cam` 3 GB, 15 s and 1.5 GB of output. The
/// decoded size is now bounded by what the command needs, from the header, before decoding.
#[test]
fn decoded_image_size_is_bounded_by_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let jpeg = jpeg_claiming(13_364);
    assert!(jpeg.len() < 2000, "{} bytes", jpeg.len());
    let big = write(d, "big.jpg", &jpeg);
    let out = d.join("out");
    let acts = write(d, "a.npz", &zip_of(&[("arr_0.npy", npy_bytes(&ndarray::Array3::<f32>::ones((4, 4, 8))))]));
    let r = run(&["cam", "--activations", s(&acts), "--gradients", s(&acts), "--image", s(&big), "--out", s(&out)]);
    assert_error(&r, 1, &["big.jpg", "13364x13364", "178.6 megapixels", "MAX_CAM_IMAGE_PIXELS"]);
    let model = fixture("ucnv_random/model.onnx");
    let r = run(&["infer", "--model", s(&model), "--images", s(&big)]);
    assert_error(&r, 1, &["big.jpg", "resized to the model's input", "MAX_DECODED_PIXELS"]);
    assert!(!out.exists());
    // Within the bound the same file is decoded (its data is short; the decoder is lenient or
    // says so) without a crash.
    let small = write(d, "small.jpg", &jpeg_claiming(64));
    let r = run(&["infer", "--model", s(&model), "--images", s(&small)]);
    assert!(r.code == Some(0) || r.code == Some(1), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// 11: CAM maps

/// Defect 11: a 1×1 map's interpolation noise was stretched to [0, 1] without a warning (the README
/// promises all zeros and a warning); NaN in the activations became a "weights cancel" warning
/// with exit 0.
#[test]
fn cam_maps_are_constant_or_an_error_never_silently_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let img = png(d, "img.png", 32);
    let arr = |h, w, c, seed: u32| {
        ArrayD::from_shape_fn(IxDyn(&[h, w, c]), |i| {
            ((i[0] * 31 + i[1] * 17 + i[2] * 7 + seed as usize) % 13) as f32 - 6.3
        })
    };
    let npz = |name: &str, a: &ArrayD<f32>| write(d, name, &zip_of(&[("arr_0.npy", npy_bytes(a))]));
    let a1 = npz("a1.npz", &arr(1, 1, 64, 1));
    let g1 = npz("g1.npz", &arr(1, 1, 64, 5));
    for interp in ["bicubic", "bilinear", "nearest"] {
        let out = d.join(format!("one_{interp}"));
        let r = run(&[
            "cam",
            "--activations",
            s(&a1),
            "--gradients",
            s(&g1),
            "--image",
            s(&img),
            "--interp",
            interp,
            "--out",
            s(&out),
        ]);
        assert_eq!(r.code, Some(0), "{r:?}");
        assert!(r.stderr.contains("warning") && r.stderr.contains("constant"), "{interp}: {r:?}");
        let h = ndarray::Array2::<f32>::read_npy(std::fs::File::open(out.join("heatmap.npy")).unwrap()).unwrap();
        assert!(h.iter().all(|&v| v == 0.0), "{interp}: not all zeros");
    }
    let mut bad = arr(4, 4, 8, 2);
    bad[[1, 1, 1]] = f32::NAN;
    let an = npz("nan.npz", &bad);
    let g = npz("g.npz", &arr(4, 4, 8, 3));
    let out = d.join("nan");
    let r = run(&["cam", "--activations", s(&an), "--gradients", s(&g), "--image", s(&img), "--out", s(&out)]);
    assert_error(&r, 1, &["nan.npz", "NaN"]);
    bad[[1, 1, 1]] = f32::INFINITY;
    let gi = npz("inf.npz", &bad);
    let r = run(&["cam", "--activations", s(&g), "--gradients", s(&gi), "--image", s(&img), "--out", s(&out)]);
    assert_error(&r, 1, &["inf.npz", "inf"]);
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------------
// The unclear messages

#[test]
fn empty_and_mislabelled_files_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // An empty .npz was "not a valid ONNX model".
    let empty = write(d, "empty.npz", b"");
    assert_error(&run(&["info", "--model", s(&empty)]), 1, &["empty.npz", "empty"]);
    let no_arrays = write(d, "none.npz", &zip_of(&[]));
    assert_error(&run(&["info", "--model", s(&no_arrays)]), 1, &["none.npz", "holds no arrays"]);
    let text = write(d, "text.npz", b"hello");
    assert_error(&run(&["info", "--model", s(&text)]), 1, &["text.npz", "not a zip"]);
    // An npy v3 header (here a 1.0 header relabelled 3.0) gave "failed to fill whole buffer".
    let mut v3 = npy_bytes(&ndarray::Array4::<u8>::zeros((1, 32, 32, 3)));
    v3[6] = 3;
    let p = write(d, "v3.npy", &v3);
    let model = fixture("ucnv_random/model.onnx");
    assert_error(
        &run(&["infer", "--model", s(&model), "--images", s(&p)]),
        1,
        &["v3.npy", "format 3.0", "version byte"],
    );
    // A device or FIFO as an input file is refused, never read.
    assert_error(&run(&["info", "--model", "/dev/zero"]), 1, &["/dev/zero", "not a regular file"]);
    let zero = d.join("zero.npy");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    assert_error(&run(&["infer", "--model", s(&model), "--images", s(&zero)]), 1, &["zero.npy", "not a regular file"]);
    assert_error(&run(&["info", "--model", s(d)]), 1, &["folder"]);
}
