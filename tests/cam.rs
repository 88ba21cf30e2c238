//! CAMs: the seed workflow against pytorch-grad-cam, the training graph against Brevitas'
//! autograd, deployed against training, every method, and bad input.
//!
//! Fixture: tests/fixtures/ncnv_trained/cam_pool2, written by python/export_cam.py (Brevitas
//! 0.13.4, pytorch-grad-cam 1.5.7): per image, the Pool2 activations and d logit / d
//! activations (seed format), the raw image, and pytorch-grad-cam's GradCAM heatmap.

use std::path::{Path, PathBuf};

use binarycop::cam::{self, compare, methods, read_exported, Deployed, Post, Request, Ste, Training};
use binarycop::engine::Engine;
use binarycop::model;
use binarycop::reference::Reference;
use ndarray::{Array2, Array4, Axis};
use ndarray_npy::read_npy;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ncnv_trained")
}

fn exported(i: usize) -> (ndarray::Array3<f32>, ndarray::Array3<f32>, Array2<f32>) {
    let d = fixture().join(format!("cam_pool2/{i}"));
    (
        read_exported(&d.join("activations.npz"), "arr_0", false).unwrap(),
        read_exported(&d.join("gradients.npz"), "arr_0", false).unwrap(),
        read_npy(d.join("gradcam.npy")).unwrap(),
    )
}

#[test]
fn seed_workflow_matches_pytorch_grad_cam() {
    for i in 0..8 {
        let (a, g, want) = exported(i);
        let got = cam::from_exported(&a, &g, (32, 32), Post::PYTORCH_GRAD_CAM).unwrap().heatmap.map;
        let max_diff = got.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        let p = compare::similarity(&got, &want).pearson.unwrap_or(1.0);
        assert!(p >= 0.99 && max_diff <= 0.02, "image {i}: Pearson {p}, max |diff| {max_diff}");
    }
}

#[test]
fn training_graph_reproduces_brevitas_gradients() {
    let loaded = model::load(&fixture().join("model.onnx")).unwrap();
    let reference = Reference::new(loaded.trained.unwrap()).unwrap();
    let training = Training::new(&reference);
    let inputs: Array4<u8> = read_npy(fixture().join("inputs.npy")).unwrap();
    let layer = reference.model().topology.find_layer("Pool2").unwrap();
    for i in 0..8 {
        let (a, g, _) = exported(i);
        let s = training.signals(inputs.index_axis(Axis(0), i), layer, None, Ste::Windowed).unwrap();
        assert_eq!(s.activations, a, "image {i}: activations");
        let scale = g.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        let err = s.gradients.iter().zip(&g).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(err <= 1e-5 * scale, "image {i}: gradient error {err} (scale {scale})");
        // Same math, two routes: the heatmaps agree too.
        let ours =
            cam::compute(&training, inputs.index_axis(Axis(0), i), &req(layer, "gradcam", Ste::Windowed)).unwrap();
        let theirs = cam::from_exported(&a, &g, (32, 32), Post::SEED).unwrap();
        let d = ours.heatmap.map.iter().zip(&theirs.heatmap.map).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(d < 1e-4, "image {i}: heatmaps differ by {d}");
    }
}

fn req(layer: usize, method: &str, ste: Ste) -> Request {
    Request { layer, method: methods::by_name(method).unwrap(), class: None, ste, post: Post::SEED }
}

/// Deployed against training Grad-CAM on the fixture: the README's figures, each held by its own
/// floor just under the value measured when it was written (identity 1.00000; windowed 0.95438
/// at Pool2, 0.95426 at Conv2_2, 0.91248 at Pool1), over all 32 images.
#[test]
fn deployed_and_training_gradcam_agree() {
    let loaded = model::load(&fixture().join("model.onnx")).unwrap();
    let engine = Engine::new(loaded.folded).unwrap();
    let reference = Reference::new(loaded.trained.unwrap()).unwrap();
    let (dep, tr) = (Deployed::new(&engine), Training::new(&reference));
    let inputs: Array4<u8> = read_npy(fixture().join("inputs.npy")).unwrap();
    for (layer_name, ste, floor) in [
        ("Pool2", Ste::Identity, 0.999),
        ("Pool2", Ste::Windowed, 0.95),
        ("Conv2_2", Ste::Windowed, 0.95),
        ("Pool1", Ste::Windowed, 0.91),
    ] {
        let layer = engine.model().topology.find_layer(layer_name).unwrap();
        let mut ps = Vec::new();
        for img in inputs.axis_iter(Axis(0)) {
            let d = cam::compute(&dep, img, &req(layer, "gradcam", ste)).unwrap();
            let t = cam::compute(&tr, img, &Request { class: Some(d.class), ..req(layer, "gradcam", ste) }).unwrap();
            assert_eq!(d.activations_len(), t.activations_len());
            if let Some(p) = compare::similarity(&d.heatmap.map, &t.heatmap.map).pearson {
                ps.push(p);
            }
        }
        assert_eq!(ps.len(), inputs.len_of(Axis(0)), "{layer_name} {ste:?}: a constant map on some image");
        let mean = ps.iter().sum::<f64>() / ps.len() as f64;
        eprintln!(
            "deployed vs training Grad-CAM at {layer_name} ({ste:?} STE): mean Pearson {mean:.5} over {} images",
            ps.len()
        );
        assert!(mean >= floor, "{layer_name} {ste:?}: {mean} < {floor}");
    }
}

trait Len {
    fn activations_len(&self) -> usize;
}
impl Len for cam::Cam {
    fn activations_len(&self) -> usize {
        self.raw.len()
    }
}

#[test]
fn every_method_gives_finite_maps_on_both_graphs() {
    let loaded = model::load(&fixture().join("model.onnx")).unwrap();
    let engine = Engine::new(loaded.folded).unwrap();
    let reference = Reference::new(loaded.trained.unwrap()).unwrap();
    let (dep, tr) = (Deployed::new(&engine), Training::new(&reference));
    let inputs: Array4<u8> = read_npy(fixture().join("inputs.npy")).unwrap();
    let layer = engine.model().topology.find_layer("Pool2").unwrap();
    for m in methods::ALL {
        for route in [&dep as &dyn cam::Route, &tr] {
            for img in inputs.axis_iter(Axis(0)).take(2) {
                let c = cam::compute(route, img, &req(layer, m.name(), Ste::Windowed)).unwrap();
                assert!(c.raw.iter().all(|v| v.is_finite()), "{}", m.name());
                assert!(c.heatmap.map.iter().all(|v| (0.0..=1.0).contains(v)), "{}", m.name());
                assert!(!c.heatmap.constant, "{} gave a constant map", m.name());
            }
        }
    }
}

/// A probe with fixed answers, for hand-checked gradient-free methods.
struct FakeProbe;
impl cam::Probe for FakeProbe {
    fn input_size(&self) -> (usize, usize) {
        (2, 2)
    }
    fn base_logit(&self) -> f32 {
        2.0
    }
    fn masked_logits(&self, masks: &[Array2<f32>]) -> binarycop::Result<Vec<f32>> {
        // Logit = the mask's top-left value, so channel 0 (top-left high) scores 1, channel 1 0.
        Ok(masks.iter().map(|m| m[[0, 0]]).collect())
    }
    fn ablated_logit(&self, c: usize) -> binarycop::Result<f32> {
        Ok([1.0, 3.0][c])
    }
}

#[test]
fn each_method_on_a_hand_checked_map() {
    // 2×2×2 activations: channel 0 = [[1, -1], [-1, -1]], channel 1 = [[-1, 1], [1, 1]].
    let a = ndarray::Array3::from_shape_vec((2, 2, 2), vec![1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0]).unwrap();
    // Gradients: channel 0 = [[2, 2], [2, 2]], channel 1 = [[-1, 0], [0, 1]].
    let g = ndarray::Array3::from_shape_vec((2, 2, 2), vec![2.0, -1.0, 2.0, 0.0, 2.0, 0.0, 2.0, 1.0]).unwrap();
    let inputs = cam::CamInputs { activations: a.view(), gradients: Some(g.view()), probe: Some(&FakeProbe) };
    let run = |name: &str| methods::by_name(name).unwrap().raw_map(&inputs).unwrap();
    let approx = |got: Array2<f32>, want: [f32; 4], name: &str| {
        for (x, y) in got.iter().zip(want) {
            assert!((x - y).abs() < 1e-4, "{name}: {got:?} vs {want:?}");
        }
    };
    // Grad-CAM: weights (2, 0) → 2·A0.
    approx(run("gradcam"), [2.0, -2.0, -2.0, -2.0], "gradcam");
    // HiResCAM: Σ_c g·A: [2·1 + (−1)(−1), 2(−1) + 0, 2(−1) + 0, 2(−1) + 1·1].
    approx(run("hirescam"), [3.0, -2.0, -2.0, -1.0], "hirescam");
    // LayerCAM: Σ_c ReLU(g)·A: [2, −2, −2, −2 + 1].
    approx(run("layercam"), [2.0, -2.0, -2.0, -1.0], "layercam");
    // XGrad-CAM: w0 = Σ A0·g0 / Σ A0 = (2 − 6)/(−2) = 2; w1 = (1 + 1)/2 = 1 → 2·A0 + A1.
    approx(run("xgradcam"), [1.0, -1.0, -1.0, -1.0], "xgradcam");
    // Grad-CAM++: α = g²/(2g² + ΣA·g³); c0: 4/(8 − 2·8) = −0.5 each → w0 = 4·(−0.5·2) = −4;
    // c1: g = ±1 where nonzero, ΣA1 = 2: at g=−1: 1/(2 − 2) → 1/1e-6 but ReLU(g) = 0; at g=1:
    // 1/(2 + 2) = 0.25 → w1 = 0.25.
    approx(run("gradcam++"), [-4.25, 4.25, 4.25, 4.25], "gradcam++");
    // Score-CAM: channel logits (1, 0) → softmax (e/(e+1), 1/(e+1)).
    let e = std::f32::consts::E;
    let (w0, w1) = (e / (e + 1.0), 1.0 / (e + 1.0));
    approx(run("scorecam"), [w0 - w1, w1 - w0, w1 - w0, w1 - w0], "scorecam");
    // Ablation-CAM: ((2 − 1)/2, (2 − 3)/2) = (0.5, −0.5) → 0.5·A0 − 0.5·A1.
    approx(run("ablationcam"), [1.0, -1.0, -1.0, -1.0], "ablationcam");
    // Eigen-CAM: A1 = −A0, so the first component separates the top-left pixel from the rest;
    // its sign follows the channel-summed activation, which is 0 everywhere → the tie keeps +.
    let ev = run("eigencam");
    assert!((ev[[0, 1]] - ev[[1, 0]]).abs() < 1e-5 && (ev[[0, 0]] - ev[[1, 1]]).abs() > 1.0, "eigencam: {ev:?}");
}

#[test]
fn bad_cam_input_is_a_clear_error() {
    let a = ndarray::Array3::<f32>::zeros((5, 5, 3));
    let g = ndarray::Array3::<f32>::zeros((5, 5, 4));
    let err = cam::from_exported(&a, &g, (32, 32), Post::SEED).unwrap_err().to_string();
    assert!(err.contains("must match"), "{err}");
    let d = fixture().join("cam_pool2/0/activations.npz");
    let err = read_exported(&d, "nope", false).unwrap_err().to_string();
    assert!(err.contains("no array 'nope'") && err.contains("arr_0"), "{err}");
    assert!(methods::by_name("gradcam3000").err().unwrap().to_string().contains("known: gradcam"));
    let loaded = model::load(&fixture().join("model.onnx")).unwrap();
    let engine = Engine::new(loaded.folded).unwrap();
    let dep = Deployed::new(&engine);
    let img = ndarray::Array3::<u8>::zeros((32, 32, 3));
    let last = engine.layers().len() - 1;
    let err = dep.signals(img.view(), last, None, Ste::Windowed).unwrap_err().to_string();
    assert!(err.contains("output layer"), "{err}");
    let err = dep.signals(img.view(), 5, Some(9), Ste::Windowed).unwrap_err().to_string();
    assert!(err.contains("class 9 is out of range"), "{err}");
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_binarycop")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn cam_cli_writes_outputs_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = fixture();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (acts, grads, image) =
        (f.join("cam_pool2/0/activations.npz"), f.join("cam_pool2/0/gradients.npz"), f.join("cam_pool2/0/image.png"));
    // The seed workflow writes the seed's four outputs; heatmap.npy is the image size in [0, 1].
    let seed = d.join("seed");
    let (code, _, err) =
        run(&["cam", "--activations", &s(&acts), "--gradients", &s(&grads), "--image", &s(&image), "--out", &s(&seed)]);
    assert_eq!(code, 0, "{err}");
    for file in ["raw_image.png", "heat_map.png", "overlay.png", "heatmap.npy"] {
        assert!(seed.join(file).exists(), "{file}");
    }
    let h: Array2<f32> = read_npy(seed.join("heatmap.npy")).unwrap();
    assert_eq!(h.dim(), (32, 32));
    assert!(h.iter().all(|v| (0.0..=1.0).contains(v)));

    let model = s(&f.join("model.onnx"));
    let inputs = s(&f.join("inputs.npy"));
    let out = s(&d.join("o"));
    let notimg = d.join("x.png");
    std::fs::write(&notimg, b"nope").unwrap();
    let other = d.join("other.npz");
    ndarray_npy::NpzWriter::new(std::fs::File::create(&other).unwrap())
        .add_array("arr_0", &ndarray::Array3::<f32>::zeros((5, 5, 7)))
        .unwrap();
    // Seed-workflow and model-workflow argument lists, with the parts that vary.
    let seed_args = |grads: &Path, image: &Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["cam".into(), "--activations".into(), s(&acts), "--gradients".into(), s(grads)];
        v.extend(["--image".into(), s(image), "--out".into(), out.clone()]);
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let model_args = |cmd: &str, images: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![cmd.into(), "--model".into(), model.clone(), "--images".into(), images.into()];
        if !extra.contains(&"--layer") {
            v.extend(["--layer".into(), "pool2".into()]);
        }
        v.extend(["--out".into(), out.clone()]);
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let missing = s(&d.join("missing"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (seed_args(&other, &image, &[]), "must match"),
        (seed_args(&grads, &image, &["--key", "x"]), "no array 'x'"),
        (seed_args(&grads, &image, &["--layout", "chw"]), "--layout chw right?"),
        (seed_args(&grads, &notimg, &[]), "x.png"),
        (model_args("cam", &inputs, &["--layer", "Conv9"]), "unknown layer 'Conv9'"),
        (model_args("cam", &inputs, &["--class", "7"]), "class 7 is out of range"),
        (model_args("cam", &s(&notimg), &[]), "x.png"),
        (model_args("cam", &inputs, &["--method", "magic"]), "unknown CAM method"),
        (model_args("compare", &inputs, &["--against", &missing]), "--against must be"),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{args:?}: '{err}' lacks '{want}'");
    }

    // compare writes metrics.json, report.html and a grid per predicted class.
    let cmp = d.join("cmp");
    let (code, stdout, err) = run(&[
        "compare",
        "--model",
        &model,
        "--images",
        &inputs,
        "--layer",
        "Pool2",
        "--method",
        "gradcam,scorecam",
        "--out",
        &s(&cmp),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("gradcam on Pool2") && stdout.contains("scorecam on Pool2"), "{stdout}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cmp.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["per_image"].as_array().unwrap().len(), 32);
    // The README's compare output: Pearson 0.954 (Grad-CAM, windowed STE) and 1.000 (Score-CAM).
    assert!(metrics["methods"]["gradcam"]["mean"]["pearson"].as_f64().unwrap() >= 0.95);
    assert!(metrics["methods"]["scorecam"]["mean"]["pearson"].as_f64().unwrap() >= 0.9999);
    let html = std::fs::read_to_string(cmp.join("report.html")).unwrap();
    assert!(html.contains("data:image/jpeg;base64,") && !html.contains("src=\"http"));
    for f in ["grid.png", "grid.svg", "grid_preview.jpg"] {
        assert!(cmp.join(f).exists(), "{f}");
    }
}
