//! binarycop against FINN's own streamline on a tie-heavy model (tests/finn/ncnv_ties, made by
//! python/make_finn_tie_fixture.py from a FINN checkout): a Brevitas n-CNV whose thresholds sit
//! on reachable accumulator values, with decimal (float32-unrepresentable) parameters and ~30 %
//! negative γ. There torch's float32 BatchNorm and the accelerator disagree, and binarycop must
//! compute what the accelerator computes:
//! - every channel's float32 threshold equals FINN's before its ceil, bit for bit;
//! - the folded integer thresholds and weights equal FINN's streamlined MultiThresholds and
//!   (XNOR-popcount) MatMul weights;
//! - on all 64 images the input codes, every layer's binary map, the pools, the class scores and
//!   the labels equal the streamlined graph executed by qonnx; so does the f32 reference;
//! - the `fold` report counts the same near-tie channels as the generator, and torch's labels
//!   differ from the accelerator's as recorded.

use std::path::{Path, PathBuf};

use binarycop::engine::Engine;
use binarycop::model::streamline::{self, ChannelRule};
use binarycop::model::{self, folded::acc_range};
use binarycop::reference::Reference;
use ndarray::{Array1, Array4, ArrayD, Axis};
use ndarray_npy::{read_npy, NpzReader};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/finn/ncnv_ties")
}

fn npz(name: &str) -> NpzReader<std::fs::File> {
    NpzReader::new(std::fs::File::open(dir().join(name)).unwrap()).unwrap()
}

fn meta() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("meta.json")).unwrap()).unwrap()
}

fn load() -> model::Loaded {
    model::load(&dir().join("model.onnx")).unwrap()
}

/// The fixture's layer names (lower-case paper names) for the compute layers.
fn names(m: &model::FoldedModel) -> Vec<String> {
    m.resolved().iter().filter(|l| l.is_compute()).map(|l| l.name.to_ascii_lowercase()).collect()
}

#[test]
fn thresholds_and_weights_equal_finns_streamline() {
    let loaded = load();
    let (trained, folded) = (loaded.trained.unwrap(), loaded.folded);
    let resolved = folded.resolved();
    let compute: Vec<_> = resolved.iter().filter(|l| l.is_compute()).collect();
    let (mut thr, mut wts) = (npz("finn_thresholds.npz"), npz("finn_weights.npz"));
    let mut ties_seen = 0;
    for (i, name) in names(&folded).iter().enumerate() {
        let w: ndarray::Array2<u8> = wts.by_name(name).unwrap();
        let fl = &folded.layers[i];
        assert_eq!(w.dim(), (fl.weights.rows(), fl.weights.cols()), "{name}: weight shape");
        for ((r, c), &b) in w.indexed_iter() {
            assert_eq!(fl.weights.row(r)[c], b == 1, "{name}: weight [{r}, {c}]");
        }
        let Some(bn) = &trained.layers[i].bn else { continue };
        let unrounded: Array1<f32> = thr.by_name(&format!("{name}.unrounded")).unwrap();
        let rounded: Array1<f32> = thr.by_name(name).unwrap();
        let scale = (i == 0).then_some(trained.input_quant.scale);
        let (lo, hi) = acc_range(compute[i], i == 0, &trained.input_quant);
        for c in 0..bn.channels() {
            let ChannelRule::Threshold { t, .. } = streamline::channel_rule(bn, c, scale) else {
                panic!("{name} channel {c}: the fixture has no γ = 0")
            };
            assert_eq!(t.to_bits(), unrounded[c].to_bits(), "{name} channel {c}: {t} vs FINN {}", unrounded[c]);
            // FINN clips to its accumulator type's range; binarycop to the reachable one.
            let finn = (rounded[c] as f64).clamp(lo as f64, (hi + 1) as f64) as i32;
            assert_eq!(fl.thresholds.as_ref().unwrap()[c], finn, "{name} channel {c}: integer threshold");
            ties_seen += (t == t.round()) as usize;
        }
    }
    assert!(ties_seen >= 100, "the fixture must be tie-heavy: {ties_seen} thresholds are integers");
}

#[test]
fn every_layer_equals_finns_streamlined_graph_on_every_image() {
    let loaded = load();
    let engine = Engine::new(loaded.folded.clone()).unwrap();
    let reference = Reference::new(loaded.trained.unwrap()).unwrap();
    let inputs: Array4<u8> = read_npy(dir().join("inputs.npy")).unwrap();
    let mut acts = npz("finn_acts.npz");
    let n = inputs.len_of(Axis(0));
    assert_eq!(n, 64);
    let codes: ArrayD<i8> = acts.by_name("input").unwrap();
    let scores: ndarray::Array2<i32> = acts.by_name("scores").unwrap();
    let labels: ndarray::Array2<i64> = acts.by_name("label").unwrap();
    let layers = engine.layers().to_vec();
    let last = layers.len() - 1;
    let maps: Vec<ArrayD<i8>> = layers[..last]
        .iter()
        .map(|l| acts.by_name(&l.name.to_ascii_lowercase()).unwrap_or_else(|e| panic!("{}: {e}", l.name)))
        .collect();
    let mut checked = 0;
    for i in 0..n {
        let img = inputs.index_axis(Axis(0), i);
        let trace = engine.trace(img, last).unwrap();
        let rt = reference.forward(img).unwrap();
        assert_eq!(trace.input.view().into_dyn(), codes.index_axis(Axis(0), i), "image {i}: input codes");
        for (li, want) in maps.iter().enumerate() {
            let want: Vec<i8> = want.index_axis(Axis(0), i).iter().copied().collect();
            let got: Vec<i8> = trace.layers[li].bits.as_ref().unwrap().to_pm1().iter().copied().collect();
            assert_eq!(got, want, "image {i}: layer {}", layers[li].name);
            let reference: Vec<i8> = rt.layers[li].out.iter().map(|&v| v as i8).collect();
            assert_eq!(reference, want, "image {i}: the f32 reference at layer {}", layers[li].name);
            checked += 1;
        }
        let s = trace.scores().unwrap();
        assert_eq!(s, scores.row(i).to_vec(), "image {i}: scores");
        assert_eq!(binarycop::engine::top_k(&s, 1)[0] as i64, labels[[i, 0]], "image {i}: label");
    }
    assert_eq!(checked, 64 * last, "every image, every layer");
}

#[test]
fn fold_reports_the_near_ties_and_torch_disagrees_on_labels() {
    let loaded = load();
    let meta = meta();
    let ties = streamline::near_ties(loaded.trained.as_ref().unwrap()).unwrap();
    let names = names(&loaded.folded);
    assert_eq!(ties.len(), names.len() - 1);
    for (t, name) in ties.iter().zip(&names) {
        let want = meta["per_layer"][name]["channels_within_one_ulp"].as_u64().unwrap() as usize;
        assert_eq!(t.near_ties, want, "{name}");
    }
    let text = streamline::near_ties_text(&ties);
    let total = meta["channels_within_one_ulp"].as_u64().unwrap();
    assert!(text.starts_with(&format!("{total} of 480 channels")), "{text}");
    // torch's labels: binarycop (= FINN) agrees on as many as the generator recorded.
    let engine = Engine::new(loaded.folded).unwrap();
    let inputs: Array4<u8> = read_npy(dir().join("inputs.npy")).unwrap();
    let torch: Array1<i64> = read_npy(dir().join("torch_labels.npy")).unwrap();
    let scores = engine.run_batch(inputs.view()).unwrap();
    let agree = (0..inputs.len_of(Axis(0)))
        .filter(|&i| binarycop::engine::top_k(&scores.row(i).to_vec(), 1)[0] as i64 == torch[i])
        .count();
    assert_eq!(agree as u64, meta["torch_finn_label_agreement"].as_u64().unwrap());
    assert!(agree < 32, "on this fixture torch and the accelerator disagree on most labels: {agree}");
}

/// The README: no threshold of the torch fixtures or of the embedded trained models is within
/// one ulp of a reachable accumulator value (so torch and the accelerator agree on them).
#[test]
fn the_fixtures_and_trained_models_have_no_near_ties() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut models: Vec<(String, binarycop::model::TrainedModel)> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path().join("model.onnx"))
        .filter(|p| p.exists())
        .map(|p| (p.display().to_string(), model::load(&p).unwrap().trained.unwrap()))
        .collect();
    assert_eq!(models.len(), 6, "the torch fixtures");
    for name in ["cnv", "ncnv", "ucnv", "ucnv_artifact"] {
        models.push((name.into(), binarycop::demo::models::load(name).unwrap().trained));
    }
    let published = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ncnv72_published.params.npz");
    models.push(("ncnv72_published".into(), model::load(&published).unwrap().trained.unwrap()));
    for (name, m) in &models {
        let near: usize = streamline::near_ties(m).unwrap().iter().map(|t| t.near_ties).sum();
        assert_eq!(near, 0, "{name}");
    }
}
