//! Bit-exactness against the real toolbox: models built and exported by Brevitas
//! (python/make_fixtures.py), with torch's logits and every layer's binary activations.
//!
//! On every fixture: the engine's predictions equal torch's argmax; torch's logits are the
//! folded positive-slope affine of the engine's class scores, to |Δ| ≤ 1e-4·(1 + |logit|)
//! (float32 rounding of TensorNorm); the int8 input codes and every binary activation map
//! equal torch's bit for bit on all 176 images; the parameter-npz route folds to the same
//! deployed model. The fixtures avoid threshold ties (tests/finn_streamline.rs covers them).

use std::path::{Path, PathBuf};

use binarycop::engine::Engine;
use binarycop::model::{self, import_npz, FoldedModel};
use binarycop::reference::Reference;
use ndarray::{Array1, Array2, Array4, ArrayD, Axis, Ix2};
use ndarray_npy::{read_npy, NpzReader};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/fixtures")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.onnx").exists())
        .collect();
    v.sort();
    assert!(v.len() >= 6, "expected the committed fixtures, found {v:?}");
    v
}

const TOL: f32 = 1e-4;

#[test]
fn engine_matches_torch_on_every_fixture() {
    let mut images = 0;
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let loaded = model::load(&dir.join("model.onnx")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let engine = Engine::new(loaded.folded.clone()).unwrap();
        let inputs: Array4<u8> = read_npy(dir.join("inputs.npy")).unwrap();
        let logits: Array2<f32> = read_npy(dir.join("logits.npy")).unwrap();
        let labels: Array1<i64> = read_npy(dir.join("labels.npy")).unwrap();
        let scores = engine.run_batch(inputs.view()).unwrap();
        let mut worst = 0f32;
        for i in 0..inputs.len_of(Axis(0)) {
            let s = scores.row(i).to_vec();
            assert_eq!(binarycop::engine::top_k(&s, 1)[0] as i64, labels[i], "{name} image {i}: label");
            for (a, b) in engine.model().logits(&s).iter().zip(logits.row(i)) {
                let d = (a - b).abs();
                assert!(d <= TOL * (1.0 + b.abs()), "{name} image {i}: logit {a} vs torch {b}");
                worst = worst.max(d);
            }
        }
        assert!(engine.model().output.scale > 0.0);
        eprintln!("{name}: {} images, labels equal, max |logit - torch| = {worst:.2e}", labels.len());
        images += labels.len();
    }
    assert_eq!(images, 176, "images checked against torch");
}

#[test]
fn every_layer_matches_torch_bit_for_bit() {
    let mut images = 0;
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let loaded = model::load(&dir.join("model.onnx")).unwrap();
        let engine = Engine::new(loaded.folded).unwrap();
        let reference = Reference::new(loaded.trained.unwrap()).unwrap();
        let inputs: Array4<u8> = read_npy(dir.join("inputs.npy")).unwrap();
        let mut acts = NpzReader::new(std::fs::File::open(dir.join("acts.npz")).unwrap()).unwrap();
        let last = engine.layers().len() - 1;
        let n = inputs.len_of(Axis(0));
        let codes: ArrayD<i8> = acts.by_name("input").unwrap();
        let maps: Vec<(usize, ArrayD<i8>)> = engine
            .layers()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < last)
            .map(|(i, l)| {
                (i, acts.by_name(&l.name.to_ascii_lowercase()).unwrap_or_else(|e| panic!("{name} {}: {e}", l.name)))
            })
            .collect();
        let dot: Array2<f32> = acts.by_name::<ndarray::OwnedRepr<f32>, Ix2>("dot").unwrap();
        for i in 0..n {
            let img = inputs.index_axis(Axis(0), i);
            let trace = engine.trace(img, last).unwrap();
            assert_eq!(trace.input.view().into_dyn(), codes.index_axis(Axis(0), i), "{name} image {i}: input codes");
            for (li, want) in &maps {
                let got = trace.layers[*li].bits.as_ref().unwrap().to_pm1();
                let want = want.index_axis(Axis(0), i);
                let got_flat: Vec<i8> = got.iter().copied().collect();
                let want_flat: Vec<i8> = want.iter().copied().collect();
                assert_eq!(got_flat, want_flat, "{name} image {i}: layer {}", engine.layers()[*li].name);
            }
            // The f32 reference reproduces torch's last dot product exactly (integers in f32).
            let rt = reference.forward(img).unwrap();
            let rdot: Vec<f32> = rt.layers[last].dot.as_ref().unwrap().iter().copied().collect();
            assert_eq!(rdot, dot.row(i).to_vec(), "{name} image {i}: reference dot");
        }
        images += n;
    }
    // The README says "all 176 images": 16 (cnv_random) + 5 × 32.
    assert_eq!(images, 176, "images checked layer by layer");
}

#[test]
fn parameter_npz_folds_to_the_same_deployed_model() {
    let mut checked = 0;
    for dir in fixtures() {
        let p = dir.join("params.npz");
        assert!(p.exists(), "{}: every fixture has its params.npz", dir.display());
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let from_onnx = model::load(&dir.join("model.onnx")).unwrap().folded;
        let topo = from_onnx.topology.clone();
        let from_npz = FoldedModel::fold(&import_npz::import(&p, Some(topo)).unwrap()).unwrap();
        assert_eq!(from_npz.layers, from_onnx.layers, "{name}: weights and thresholds");
        let (a, b) = (from_npz.output, from_onnx.output);
        assert!(
            (a.scale - b.scale).abs() <= 1e-5 * b.scale.abs() && (a.bias - b.bias).abs() <= 1e-4,
            "{name}: {a:?} vs {b:?}"
        );
        checked += 1;
    }
    assert!(checked >= 6, "{checked} fixtures checked");
}
