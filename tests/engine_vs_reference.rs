//! The engine equals the f32 training-time graph, bit for bit at every layer, on every kernel:
//! on the three BinaryCoP presets and on random topologies (proptest).

mod common;

use binarycop::engine::Engine;
use binarycop::model::random::{random_model, random_model_with, Ties};
use binarycop::model::{streamline, FoldedModel, LayerSpec, Shape, Topology};
use binarycop::reference::Reference;
use proptest::prelude::*;

#[test]
fn presets_match_the_reference_at_every_layer() {
    for (name, seed, negative) in [("cnv", 1, false), ("ncnv", 2, true), ("ucnv", 3, false), ("ucnv", 4, true)] {
        let t = Topology::preset(name, 4).unwrap();
        let m = random_model(&t, seed, negative).unwrap();
        common::check_model(&m, &common::images(2, 32, 32, 3, seed as u32));
    }
}

/// A first layer whose K·max|code| exceeds i16 runs the portable i32 lanes; one that fits runs
/// the kernels' i16 lanes (the presets). Both must match.
#[test]
fn a_wide_first_layer_matches_the_reference() {
    let layers = vec![
        LayerSpec::Fc { name: "f0".into(), out_features: 70 },
        LayerSpec::Fc { name: "out".into(), out_features: 4 },
    ];
    let t = Topology { name: "wide".into(), input: Shape::new(16, 16, 3), layers };
    let k = t.resolve().unwrap()[0].fan_in();
    for seed in [5, 6] {
        let m = random_model(&t, seed, seed == 6).unwrap();
        let max_code = FoldedModel::fold(&m).unwrap().input_quant.table().iter().map(|&v| (v as i32).abs()).max();
        assert!(k as i32 * max_code.unwrap() > i16::MAX as i32, "K {k}, max |code| {max_code:?}");
        common::check_model(&m, &common::images(3, 16, 16, 3, seed as u32));
    }
}

/// Thresholds on the accumulator lattice and one ulp either side: at those ties the reference
/// decides as the accelerator does, and the engine matches it on every kernel.
#[test]
fn ties_match_the_reference_at_every_layer() {
    let mut differ = 0;
    for (name, seed) in [("cnv", 21), ("ncnv", 22), ("ucnv", 23)] {
        let t = Topology::preset(name, 4).unwrap();
        let m = random_model_with(&t, seed, seed % 2 == 0, Ties::OnLattice).unwrap();
        let ties: usize = streamline::near_ties(&m).unwrap().iter().map(|t| t.near_ties).sum();
        assert!(ties > 100, "{name}: {ties} channels near a tie");
        let imgs = common::images(2, 32, 32, 3, seed as u32);
        common::check_model(&m, &imgs);
        // Positions do land on the ties: there a float32 BatchNorm's sign and the accelerator's
        // decision part ways at some of them.
        let reference = Reference::plain(m.clone()).unwrap();
        for img in imgs.axis_iter(ndarray::Axis(0)) {
            for l in reference.forward(img).unwrap().layers {
                if let Some(pre) = &l.pre {
                    differ += pre.iter().zip(&l.out).filter(|(p, o)| (**p >= 0.0) != (**o > 0.0)).count();
                }
            }
        }
    }
    assert!(differ > 0, "no position met a tie");
    eprintln!("{differ} positions where a float32 BatchNorm's sign differs from the accelerator's");
}

#[test]
fn random_models_have_mixed_activations() {
    // A differential test on constant maps would check nothing: each layer must be mixed.
    let t = Topology::preset("ncnv", 4).unwrap();
    let m = random_model(&t, 9, false).unwrap();
    let e = Engine::new(FoldedModel::fold(&m).unwrap()).unwrap();
    let imgs = common::images(1, 32, 32, 3, 5);
    let trace = e.trace(imgs.index_axis(ndarray::Axis(0), 0), e.layers().len() - 1).unwrap();
    for (l, out) in e.layers().iter().zip(&trace.layers) {
        if let Some(bits) = &out.bits {
            let pm = bits.to_pm1();
            let plus = pm.iter().filter(|&&v| v > 0).count() as f64 / pm.len() as f64;
            assert!((0.1..0.9).contains(&plus), "layer {}: {plus:.2} of +1", l.name);
        }
    }
}

#[test]
fn batched_run_equals_single_images() {
    let t = Topology::preset("ucnv", 4).unwrap();
    let e = Engine::new(FoldedModel::fold(&random_model(&t, 11, false).unwrap()).unwrap()).unwrap();
    let imgs = common::images(5, 32, 32, 3, 3);
    let batch = e.run_batch(imgs.view()).unwrap();
    for (i, img) in imgs.axis_iter(ndarray::Axis(0)).enumerate() {
        assert_eq!(batch.row(i).to_vec(), e.scores(img).unwrap());
    }
    let empty = imgs.slice_axis(ndarray::Axis(0), (0..0).into());
    assert!(e.run_batch(empty).unwrap_err().to_string().contains("empty"));
    let wrong = common::images(1, 31, 32, 3, 3);
    assert!(e.scores(wrong.index_axis(ndarray::Axis(0), 0)).unwrap_err().to_string().contains("the model takes"));
}

/// Random small topologies: 0–2 convs (kernel 1 or 3, kernel 1 where the map is smaller than
/// 3), each with an optional 2×2 pool where the map size is even, then 0–1 hidden fcs and the
/// output fc; channel counts cross the 64-bit word boundary.
fn topology() -> impl Strategy<Value = Topology> {
    let channels = prop_oneof![1usize..5, 60usize..70, 126usize..131];
    (
        4usize..11,
        1usize..5,
        prop::collection::vec((channels.clone(), prop::bool::ANY, prop::bool::ANY), 0..3),
        prop::collection::vec(1usize..80, 0..2),
        1usize..6,
    )
        .prop_map(|(size, cin, convs, fcs, classes)| {
            let mut layers = Vec::new();
            let mut s = size;
            for (i, (c, k3, pool)) in convs.into_iter().enumerate() {
                let kernel = if k3 && s >= 3 { 3 } else { 1 };
                layers.push(LayerSpec::Conv { name: format!("c{i}"), out_channels: c, kernel });
                s = s - kernel + 1;
                if pool && s % 2 == 0 {
                    layers.push(LayerSpec::MaxPool { name: format!("p{i}"), size: 2 });
                    s /= 2;
                }
            }
            for (i, f) in fcs.into_iter().enumerate() {
                layers.push(LayerSpec::Fc { name: format!("f{i}"), out_features: f });
            }
            layers.push(LayerSpec::Fc { name: "out".into(), out_features: classes });
            Topology { name: "random".into(), input: Shape::new(size, size, cin), layers }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_networks_match_the_reference(
        t in topology(),
        seed in 0u64..1000,
        negative in prop::bool::ANY,
        ties in prop_oneof![Just(Ties::Avoid), Just(Ties::OnLattice)],
    ) {
        let m = random_model_with(&t, seed, negative, ties).unwrap();
        let s = t.input;
        common::check_model(&m, &common::images(2, s.height, s.width, s.channels, seed as u32));
    }
}
