//! The `cv2` resize policy equals opencv-python's `cv2.resize` (INTER_LINEAR, uint8) byte for
//! byte on the vectors python/make_resize_fixtures.py made (OpenCV 5.0.0; the same script's
//! outputs were also identical under OpenCV 4.5.5), including the crop of the notebook's
//! webcam path; and the CLI applies the policy and the crop to image files.

use std::path::{Path, PathBuf};
use std::process::Command;

use binarycop::data::{resize, Crop, Preprocess, Resize};
use binarycop::model::Shape;
use ndarray::{Array3, ArrayD, Axis, Ix3};
use ndarray_npy::NpzReader;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resize")
}

/// The procedural input of the large cases, as the Python script computes it.
fn pattern(h: usize, w: usize, c: usize) -> Array3<u8> {
    Array3::from_shape_fn((h, w, c), |(y, x, ch)| (((x * 73 + y * 151 + ch * 41) ^ (x * y)) & 255) as u8)
}

struct Case {
    name: String,
    input: Array3<u8>,
    out: Array3<u8>,
    crop: Option<Crop>,
    bgr: bool,
}

fn cases() -> Vec<Case> {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap()).unwrap();
    let mut npz = NpzReader::new(std::fs::File::open(fixtures().join("cv2_linear.npz")).unwrap()).unwrap();
    let mut read = |key: &str| -> Array3<u8> {
        let a: ArrayD<u8> = npz.by_name(key).unwrap();
        a.into_dimensionality::<Ix3>().unwrap()
    };
    let dims = |v: &serde_json::Value| -> Vec<usize> {
        v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
    };
    meta["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            let i = dims(&c["input"]);
            let input =
                if c["source"] == "pattern" { pattern(i[0], i[1], i[2]) } else { read(&format!("{name}.in.npy")) };
            assert_eq!(input.dim(), (i[0], i[1], i[2]), "{name}");
            let crop = c["crop"].as_array().map(|b| {
                let b: Vec<usize> = b.iter().map(|x| x.as_u64().unwrap() as usize).collect();
                Crop { x0: b[0], x1: Some(b[1]), y0: b[2], y1: Some(b[3]) }
            });
            let out = read(&format!("{name}.out.npy"));
            Case { name, input, out, crop, bgr: c["bgr"].as_bool().unwrap() }
        })
        .collect()
}

#[test]
fn cv2_policy_equals_opencv_byte_for_byte() {
    let cases = cases();
    assert!(cases.len() >= 25);
    for c in &cases {
        // The notebook's frames are BGR and swapped after the resize; binarycop decodes to RGB
        // first. The swap commutes with the per-channel resize.
        let mut input = c.input.clone();
        if c.bgr {
            input.invert_axis(Axis(2));
        }
        let (oh, ow, ch) = c.out.dim();
        let prep = Preprocess { crop: c.crop, resize: Resize::Cv2 };
        let got = prep.apply(input.view(), Shape::new(oh, ow, ch)).unwrap();
        let diff = got.iter().zip(c.out.iter()).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{}: {diff} of {} bytes differ from cv2.resize", c.name, c.out.len());
    }
}

#[test]
fn cv2_policy_differs_from_triangle_where_it_should() {
    // A large downscale: OpenCV samples 2×2 pixels, the triangle filter averages the whole
    // footprint, so on a textured input they disagree; an exact copy at the same size agrees.
    let img = pattern(1024, 1024, 3);
    let a = resize::cv2_linear(img.view(), 72, 72);
    let b = resize::triangle(img.view(), 72, 72);
    let mean = a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.len() as f64;
    assert!(mean > 10.0, "mean |Δ| {mean}");
    let small = pattern(9, 7, 3);
    assert_eq!(resize::cv2_linear(small.view(), 9, 7), small);
    assert_eq!(resize::triangle(small.view(), 9, 7), small);
}

fn binarycop(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_binarycop")).args(args).output().unwrap()
}

#[test]
fn infer_resizes_image_files_by_the_chosen_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A 160×120 "webcam frame" as a PNG, and what each policy makes of it for a 32×32 model.
    let frame = pattern(120, 160, 3);
    let png = d.join("frame.png");
    image::RgbImage::from_raw(160, 120, frame.iter().copied().collect()).unwrap().save(&png).unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ucnv_random/model.onnx");
    let shape = Shape::new(32, 32, 3);
    let crop: Crop = "20:140,:".parse().unwrap();
    for (args, prep) in [
        (vec![], Preprocess::default()),
        (vec!["--resize", "triangle"], Preprocess { crop: None, resize: Resize::Triangle }),
        (vec!["--crop", "20:140,:"], Preprocess { crop: Some(crop), resize: Resize::Cv2 }),
    ] {
        let want = prep.apply(frame.view(), shape).unwrap();
        let npy = d.join("want.npy");
        ndarray_npy::write_npy(&npy, &want.clone().insert_axis(Axis(0))).unwrap();
        let label = |images: &Path, extra: &[&str]| -> String {
            let mut a =
                vec!["infer", "--model", model.to_str().unwrap(), "--json", "--images", images.to_str().unwrap()];
            a.extend_from_slice(extra);
            let o = binarycop(&a);
            assert!(o.status.success(), "{a:?}: {}", String::from_utf8_lossy(&o.stderr));
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            v["results"][0]["scores"].to_string()
        };
        assert_eq!(label(&png, &args), label(&npy, &[]), "{args:?}");
    }
    // A crop that does not fit names the file.
    let o = binarycop(&[
        "infer",
        "--model",
        model.to_str().unwrap(),
        "--images",
        png.to_str().unwrap(),
        "--crop",
        "100:200,:",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("frame.png") && err.contains("does not fit a 160x120"), "{err}");
    let o =
        binarycop(&["infer", "--model", model.to_str().unwrap(), "--images", png.to_str().unwrap(), "--crop", "1:2"]);
    assert_eq!(o.status.code(), Some(2));
}
