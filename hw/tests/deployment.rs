//! Deployment folders as a whole: driver.py in FINN's list form (data/deploy, FINN's layout) and
//! in the single form of 2020 (a flat folder as BinaryCoP published), runtime weights matched to
//! the .hwh's AXI-lite windows, and every bad folder a clear error naming the file. A gated test
//! reads BinaryCoP's own published driver.py when `BINARYCOP_REPO` points at a work tree of
//! NaelF/BinaryCoP.

use std::path::{Path, PathBuf};

use binarycop_hw::deployment::{DeploymentError, FinnDeployment};
use binarycop_hw::driver::IoShape;
use binarycop_hw::finn_driver::{self, Form};
use binarycop_hw::packing::DataType;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

/// A flat copy of the fixture deployment (hwh, bit at the top) with `driver` as driver.py and
/// `edit` applied to the .hwh.
fn flat(dir: &Path, driver: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let src = data("deploy/bitfile");
    std::fs::create_dir_all(dir).unwrap();
    let hwh = std::fs::read_to_string(src.join("finn-accel.hwh")).unwrap();
    std::fs::write(dir.join("accel.hwh"), edit(hwh)).unwrap();
    std::fs::copy(src.join("finn-accel.bit"), dir.join("accel.bit")).unwrap();
    std::fs::write(dir.join("driver.py"), driver).unwrap();
    dir.to_path_buf()
}

fn single_form() -> String {
    std::fs::read_to_string(data("driver_single.py")).unwrap()
}

fn list_form() -> String {
    std::fs::read_to_string(data("deploy/driver/driver.py")).unwrap()
}

/// The fixture .hwh with AXI-lite windows for StreamingDataflowPartition_1 (two interfaces)
/// and _2 (one), as a FINN build with runtime-writable weights has them.
fn with_weight_windows(hwh: String) -> String {
    let ranges = r#"<MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_BASEADDR" BASEVALUE="0x40020000" HIGHNAME="C_HIGHADDR" HIGHVALUE="0x40020FFF" INSTANCE="StreamingDataflowPartition_1" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axilite_0"/>
        <MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_BASEADDR" BASEVALUE="0x40030000" HIGHNAME="C_HIGHADDR" HIGHVALUE="0x400300FF" INSTANCE="StreamingDataflowPartition_1" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axilite_1"/>
        <MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_BASEADDR" BASEVALUE="0x40040000" HIGHNAME="C_HIGHADDR" HIGHVALUE="0x400407FF" INSTANCE="StreamingDataflowPartition_2" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axilite_0"/>
      </MEMORYMAP>
      <PERIPHERALS>
        <PERIPHERAL INSTANCE="idma0"/>"#;
    let anchor = "</MEMORYMAP>\n      <PERIPHERALS>\n        <PERIPHERAL INSTANCE=\"idma0\"/>";
    assert!(hwh.contains(anchor));
    hwh.replace(anchor, ranges)
}

#[test]
fn finn_layout_with_the_list_form() {
    let d = FinnDeployment::open(&data("deploy")).unwrap();
    assert!(d.driver.path.ends_with("deploy/driver/driver.py"));
    assert_eq!(d.driver.form, Form::List);
    let (i, o) = d.driver.single_io().unwrap();
    assert_eq!((i.io_shape(), o.io_shape()), (IoShape::cnv_input(), IoShape::cnv_output()));
    assert!(d.weights.is_empty());
    let text = d.describe();
    for want in ["idma0", "0x40010000", "list form", "normal (1, 32, 32, 3)", "3072 byte(s) per frame", "weights: none"]
    {
        assert!(text.contains(want), "'{want}' not in {text}");
    }
}

#[test]
fn flat_layout_with_the_single_form_says_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let d = FinnDeployment::open(&flat(&tmp.path().join("nb"), &single_form(), |h| h)).unwrap();
    assert_eq!(d.driver.form, Form::Single);
    let list = FinnDeployment::open(&data("deploy")).unwrap();
    assert_eq!(d.driver.inputs.len(), 1);
    for (a, b) in
        d.driver.inputs.iter().chain(&d.driver.outputs).zip(list.driver.inputs.iter().chain(&list.driver.outputs))
    {
        assert_eq!(
            (a.dma.as_str(), a.dtype, &a.normal, &a.folded, &a.packed),
            (b.dma.as_str(), b.dtype, &b.normal, &b.folded, &b.packed)
        );
    }
}

#[test]
fn runtime_weights_go_to_their_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = flat(&tmp.path().join("rw"), &list_form(), with_weight_windows);
    let w = dir.join("runtime_weights");
    std::fs::create_dir(&w).unwrap();
    std::fs::write(w.join("1_0_MVAU_hls_0.dat"), "0000000a\n0000000b\n").unwrap();
    std::fs::write(w.join("1_1_MVAU_hls_1.dat"), "ffffffff\n".repeat(64)).unwrap();
    std::fs::write(w.join("2_0_Thresholding_hls_0.dat"), "00000001 00000002 00000003\n").unwrap();
    let d = FinnDeployment::open(&dir).unwrap();
    let got: Vec<(&str, u64, usize)> =
        d.weights.iter().map(|l| (l.name.as_str(), l.window.base, l.file.words.len())).collect();
    assert_eq!(
        got,
        [
            ("StreamingDataflowPartition_1/s_axilite_0", 0x4002_0000, 2),
            ("StreamingDataflowPartition_1/s_axilite_1", 0x4003_0000, 64),
            ("StreamingDataflowPartition_2", 0x4004_0000, 3),
        ]
    );
    assert!(d.describe().contains("-> StreamingDataflowPartition_2 at 0x40040000"), "{}", d.describe());

    // One word more than s_axilite_1's 256 bytes.
    std::fs::write(w.join("1_1_MVAU_hls_1.dat"), "ffffffff\n".repeat(65)).unwrap();
    let e = FinnDeployment::open(&dir).unwrap_err().to_string();
    assert!(e.contains("1_1_MVAU_hls_1.dat") && e.contains("65 words") && e.contains("0x100-byte"), "{e}");
    std::fs::write(w.join("1_1_MVAU_hls_1.dat"), "1\n").unwrap();
    std::fs::write(w.join("3_0_MVAU_hls_5.dat"), "1\n").unwrap();
    let e = FinnDeployment::open(&dir).unwrap_err().to_string();
    assert!(
        e.contains("3_0_MVAU_hls_5.dat") && e.contains("accel.hwh") && e.contains("StreamingDataflowPartition_3"),
        "{e}"
    );
    std::fs::remove_file(w.join("3_0_MVAU_hls_5.dat")).unwrap();
    std::fs::write(w.join("2_0_Thresholding_hls_0.dat"), "00000001 0000000g\n").unwrap();
    let e = FinnDeployment::open(&dir).unwrap_err().to_string();
    assert!(e.contains("2_0_Thresholding_hls_0.dat") && e.contains("'0000000g'"), "{e}");
}

#[test]
fn bad_folders_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let open = |dir: &Path| FinnDeployment::open(dir).unwrap_err().to_string();

    let dir = flat(&tmp.path().join("nodriver"), "", |h| h);
    std::fs::remove_file(dir.join("driver.py")).unwrap();
    let e = open(&dir);
    assert!(e.contains("nodriver") && e.contains("no driver.py") && e.contains("driver"), "{e}");

    let dir = flat(&tmp.path().join("syntax"), "io_shape_dict = {\n    \"idt\": DataType.UINT8\n    \"odt\"", |h| h);
    let e = open(&dir);
    assert!(e.contains("syntax/driver.py") && e.contains("not valid Python (line 3"), "{e}");

    let dir = flat(
        &tmp.path().join("float"),
        &single_form().replace("\"odt\" : DataType.UINT8", "\"odt\" : DataType.FLOAT32"),
        |h| h,
    );
    let e = open(&dir);
    assert!(e.contains("float/driver.py") && e.contains("[\"odt\"]") && e.contains("FLOAT32"), "{e}");

    let dir = flat(&tmp.path().join("huge"), &single_form().replace("(1, 32, 32, 3)", "(1, 100000, 100000, 3)"), |h| h);
    let e = open(&dir);
    assert!(e.contains("huge/driver.py") && e.contains("exceeds"), "{e}");

    // driver.py names an IODMA the .hwh does not have.
    let dir = flat(&tmp.path().join("nodma"), &list_form().replace("['odma0']", "['odma3']"), |h| h);
    let e = FinnDeployment::open(&dir).unwrap_err();
    assert!(matches!(e, DeploymentError::NoDma { .. }));
    let e = e.to_string();
    assert!(e.contains("output 0 (odma3)") && e.contains("accel.hwh") && e.contains("idma0, odma0"), "{e}");

    let dir = flat(&tmp.path().join("npy"), &list_form(), |h| h);
    std::fs::create_dir(dir.join("runtime_weights")).unwrap();
    std::fs::write(dir.join("runtime_weights/idma1.npy"), "x").unwrap();
    let e = open(&dir);
    assert!(e.contains("idma1.npy") && e.contains("external"), "{e}");
}

/// BinaryCoP's published deployment (NaelF/BinaryCoP notebook/, never committed here): its
/// driver.py is the single form with a 72×72×3 UINT8 input and one UINT8 label.
#[test]
fn binarycop_published_driver_py() {
    let Some(repo) = std::env::var_os("BINARYCOP_REPO") else {
        eprintln!("skipped: set BINARYCOP_REPO to a work tree of NaelF/BinaryCoP to read its notebook/driver.py");
        return;
    };
    let path = Path::new(&repo).join("notebook/driver.py");
    let d = finn_driver::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.form, Form::Single);
    let (i, o) = d.single_io().unwrap();
    assert_eq!(
        (i.dtype, i.normal.as_slice(), i.folded.as_slice()),
        (DataType::UINT8, &[1, 72, 72, 3][..], &[1, 72, 72, 1, 3][..])
    );
    assert_eq!((o.dtype, o.normal.as_slice()), (DataType::UINT8, &[1, 1][..]));
    assert_eq!(i.frame_bytes(), 15552);
    // The whole folder reads too: its .hwh has idma0 and odma0.
    let whole = FinnDeployment::open(&Path::new(&repo).join("notebook")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(whole.files.hwh.dma("idma0").unwrap().base, 0x4000_0000);
    assert_eq!(whole.files.hwh.dma("odma0").unwrap().base, 0x4001_0000);
}
