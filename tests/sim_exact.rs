//! The folded FINN graph (binarycop-sim) against the engine, bit for bit, at every stream:
//! the input quantizer's codes, every MVAU and max-pool output, the class scores on the last
//! MVAU's stream and the LabelSelect label. On the committed fixtures with the paper's
//! foldings, and on random models of random topologies with random valid foldings (proptest),
//! with timing on (finite FIFOs) and off, as FINN builds the graph (RTL window generator) and
//! as BNN-PYNQ does (finn-hlslib's window generator, its converters and stream depths, the
//! padded last layer).

use std::path::Path;

use binarycop::engine::{top_k, Engine};
use binarycop::lower::{self, Lowered};
use binarycop::model::random::random_model;
use binarycop::model::{self, FoldedModel, Topology};
use binarycop_hw::folding::FoldingConfig;
use binarycop_sim::clock::{simulate, SimOptions};
use binarycop_sim::flow::Flow;
use binarycop_sim::graph::LayerSpec;
use ndarray::{Array4, Axis};
use ndarray_npy::read_npy;
use proptest::prelude::*;

/// Runs `imgs` through the lowered graph and checks every stream against the engine's trace.
fn check(m: &FoldedModel, cfg: &FoldingConfig, imgs: &Array4<u8>, timing: bool, depth: Option<usize>, flow: Flow) {
    let mut low: Lowered = lower::lower_flow(m, cfg, flow).expect("lower");
    if let Some(d) = depth {
        let n = low.graph.fifos.len();
        low.graph.set_fifo_depths(&vec![d; n]);
    }
    let engine = Engine::new(m.clone()).expect("engine");
    let frames: Vec<Vec<u8>> = imgs.axis_iter(Axis(0)).map(|a| a.iter().copied().collect()).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let input = low.graph.pack_frames(&refs).unwrap();
    let run = simulate(&low.graph, &input, &SimOptions { timing, taps: true, ..Default::default() }).expect("simulate");
    let last = engine.layers().len() - 1;
    let n = imgs.len_of(Axis(0));
    let mut want_codes = Vec::new();
    let mut want_layers: Vec<Vec<i64>> = vec![Vec::new(); last + 1];
    let mut want_labels = Vec::new();
    for img in imgs.axis_iter(Axis(0)) {
        let tr = engine.trace(img, last).unwrap();
        want_codes.extend(tr.input.iter().map(|&c| c as i64));
        for (i, l) in tr.layers.iter().enumerate() {
            match &l.bits {
                Some(b) => want_layers[i].extend(b.to_pm1().iter().map(|&v| (v > 0) as i64)),
                None => want_layers[i].extend(l.acc.as_ref().unwrap().iter().map(|&v| v as i64)),
            }
        }
        let scores = tr.scores().unwrap();
        want_labels.push(top_k(&scores, 1)[0] as i64);
    }
    assert_eq!(low.node_output(&run, &low.input_node).unwrap(), want_codes, "input codes");
    for (i, node) in low.layer_nodes.iter().enumerate() {
        let got = low.node_output(&run, node).unwrap();
        assert_eq!(got.len(), want_layers[i].len(), "layer {i} ({node}): length");
        let bad = got.iter().zip(&want_layers[i]).position(|(a, b)| a != b);
        assert!(bad.is_none(), "layer {i} ({node}) differs at value {bad:?} (timing {timing})");
    }
    assert_eq!(low.node_output(&run, &low.label_node).unwrap(), want_labels, "labels");
    assert_eq!(run.done.len(), n);
    if timing {
        assert!(run.done.windows(2).all(|w| w[0] < w[1]), "frames complete in order");
        for (f, &occ) in low.graph.fifos.iter().zip(&run.fifo_max_occupancy) {
            assert!(occ as usize <= f.depth, "{} held {occ} words with depth {}", f.name, f.depth);
        }
    }
}

#[test]
fn fixtures_with_the_paper_foldings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("model.onnx").exists() {
            continue;
        }
        let loaded = model::load(&dir.join("model.onnx")).unwrap();
        let m = loaded.folded;
        let cfg = lower::paper_config(&m).expect("a preset topology");
        let imgs: Array4<u8> = read_npy(dir.join("inputs.npy")).unwrap();
        let n = if m.topology.name == "cnv" { 2 } else { 4 };
        let imgs = imgs.slice_axis(Axis(0), (0..n).into()).to_owned();
        check(&m, &cfg, &imgs, true, None, Flow::Finn);
        check(&m, &cfg, &imgs, true, None, Flow::BnnPynq);
        check(&m, &cfg, &imgs, true, Some(2), Flow::BnnPynq);
        seen += 1;
    }
    assert!(seen >= 6, "expected the committed fixtures");
}

fn images(n: usize, h: usize, w: usize, c: usize, seed: u64) -> Array4<u8> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    Array4::from_shape_fn((n, h, w, c), |(_, y, x, ch)| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 56) as usize / 2 + y * 3 + x * 5 + ch * 50) as u8
    })
}

fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
}

/// A random valid folding of a model's layers, written as a FINN config.
fn random_config(specs: &[LayerSpec], pick: &mut impl FnMut(usize) -> usize) -> FoldingConfig {
    let mut cfg = FoldingConfig::default();
    let mut choose = |v: Vec<usize>| v[pick(v.len())];
    let (mut swu, mut mvau) = (0, 0);
    for s in specs {
        match s {
            LayerSpec::Thresholding(t) => cfg.set("Thresholding_rtl_0", "PE", choose(divisors(t.channels))),
            LayerSpec::Swu(t) => {
                cfg.set(&format!("ConvolutionInputGenerator_rtl_{swu}"), "SIMD", choose(divisors(t.channels)));
                swu += 1;
            }
            LayerSpec::Mvau(m) => {
                let n = format!("MVAU_hls_{mvau}");
                cfg.set(&n, "PE", choose(divisors(m.mh)));
                cfg.set(&n, "SIMD", choose(divisors(m.mw)));
                mvau += 1;
            }
            LayerSpec::LabelSelect { labels, .. } => cfg.set("LabelSelect_hls_0", "PE", choose(divisors(*labels))),
            LayerSpec::MaxPool(_) => {}
        }
    }
    cfg
}

fn small_topology(sel: &[usize]) -> Topology {
    let c1 = [2, 5, 8][sel[0] % 3];
    let c2 = [3, 4, 6][sel[1] % 3];
    let pool = sel[2].is_multiple_of(2);
    let k = [1, 3][sel[3] % 2];
    let mut layers = format!(r#"{{"type":"conv","name":"c1","out_channels":{c1},"kernel":3}},"#);
    if pool {
        layers += r#"{"type":"maxpool","name":"p1","size":2},"#;
    }
    layers += &format!(r#"{{"type":"conv","name":"c2","out_channels":{c2},"kernel":{k}}},"#);
    layers += r#"{"type":"fc","name":"f1","out_features":6},{"type":"fc","name":"f2","out_features":4}"#;
    let json = format!(r#"{{"name":"small","input":{{"height":10,"width":10,"channels":3}},"layers":[{layers}]}}"#);
    Topology::from_json(&json).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_models_and_foldings(seed in 0u64..1_000_000, sel in proptest::collection::vec(0usize..1000, 40),
                                  timing in any::<bool>(), depth in 1usize..4, neg in any::<bool>(), bnn in any::<bool>()) {
        let topo = small_topology(&sel);
        let trained = random_model(&topo, seed, neg).unwrap();
        let m = FoldedModel::fold(&trained).unwrap();
        let specs = lower::layers(&m).unwrap();
        let mut i = 4;
        let cfg = random_config(&specs, &mut |n| { i += 1; sel[i % sel.len()] % n });
        let imgs = images(3, 10, 10, 3, seed);
        check(&m, &cfg, &imgs, timing, Some(depth), if bnn { Flow::BnnPynq } else { Flow::Finn });
    }

    #[test]
    fn random_preset_models(seed in 0u64..1_000_000, preset in 0usize..2, neg in any::<bool>()) {
        let name = ["ncnv", "ucnv"][preset];
        let trained = random_model(&Topology::preset(name, 4).unwrap(), seed, neg).unwrap();
        let m = FoldedModel::fold(&trained).unwrap();
        let cfg = lower::paper_config(&m).unwrap();
        check(&m, &cfg, &images(2, 32, 32, 3, seed), true, None, if seed % 2 == 0 { Flow::BnnPynq } else { Flow::Finn });
    }
}

/// The paper's folding follows the layer shapes, not the topology's name: a renamed n-CNV gets
/// n-CNV's folding, and a custom network called "cnv" gets none (the sim backend then asks for
/// --folding).
#[test]
fn the_paper_folding_is_chosen_by_layer_shapes() {
    let mut t = Topology::preset("ncnv", 4).unwrap();
    t.name = "my_net".into();
    let m = FoldedModel::fold(&random_model(&t, 3, false).unwrap()).unwrap();
    assert_eq!(lower::paper_config(&m), binarycop_hw::folding::paper_config("ncnv"));
    let custom = Topology::from_json(
        r#"{"name":"cnv","input":{"height":8,"width":8,"channels":3},"layers":[
            {"type":"conv","name":"Conv1_1","out_channels":64,"kernel":3},
            {"type":"fc","name":"FC1","out_features":4}]}"#,
    )
    .unwrap();
    let m = FoldedModel::fold(&random_model(&custom, 3, false).unwrap()).unwrap();
    assert!(lower::paper_config(&m).is_none());
    let err = binarycop::accel::sim::folding_for(&m, None).unwrap_err().to_string();
    assert!(err.contains("does not have the layer shapes of a paper preset"), "{err}");
}
