//! The training graph users run (`Reference::new`: each layer one SGEMM) equals the plain
//! oracle (`Reference::plain`: one dot product per output value) at every layer: every sign
//! and pool output, the binary layers' dot products exactly, the first layer's (sums of
//! `code · step`, whose rounding depends on the order of summation) and the logits within f32
//! rounding. On random presets with and without thresholds at ties, and on the Brevitas
//! fixtures; then every CAM method on the training route.

mod common;

use binarycop::cam::{self, methods, Post, Request, Ste, Training};
use binarycop::model::random::{random_model_with, Ties};
use binarycop::model::{self, Topology, TrainedModel};
use binarycop::reference::Reference;
use ndarray::{Array4, Axis};

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + a.abs().max(b.abs()))
}

/// Every layer of both graphs on these images; returns the positions compared.
fn same_traces(name: &str, m: &TrainedModel, imgs: &Array4<u8>) -> usize {
    let (fast, plain) = (Reference::new(m.clone()).unwrap(), Reference::plain(m.clone()).unwrap());
    let mut compared = 0;
    for img in imgs.axis_iter(Axis(0)) {
        let (f, p) = (fast.forward(img).unwrap(), plain.forward(img).unwrap());
        assert_eq!(f.input, p.input);
        for (i, (fl, pl)) in f.layers.iter().zip(&p.layers).enumerate() {
            let last = i + 1 == f.layers.len();
            if last {
                assert!(fl.out.iter().zip(&pl.out).all(|(a, b)| close(*a, *b)), "{name} logits");
            } else {
                assert_eq!(fl.out, pl.out, "{name} layer {i}: outputs");
            }
            if let (Some(fd), Some(pd)) = (&fl.dot, &pl.dot) {
                if i == 0 {
                    assert!(fd.iter().zip(pd).all(|(a, b)| close(*a, *b)), "{name} layer 0: dot");
                } else {
                    assert_eq!(fd, pd, "{name} layer {i}: binary dot products are exact");
                }
            }
            if let (Some(fp), Some(pp)) = (&fl.pre, &pl.pre) {
                assert!(fp.iter().zip(pp).all(|(a, b)| close(*a, *b)), "{name} layer {i}: BatchNorm outputs");
            }
            compared += pl.out.len();
        }
    }
    compared
}

#[test]
fn gemm_equals_the_plain_graph_on_random_presets_with_and_without_ties() {
    let mut compared = 0;
    for (name, seed, ties) in [
        ("cnv", 31, Ties::Avoid),
        ("cnv", 32, Ties::OnLattice),
        ("ncnv", 33, Ties::OnLattice),
        ("ucnv", 34, Ties::OnLattice),
    ] {
        let t = Topology::preset(name, 4).unwrap();
        let m = random_model_with(&t, seed, seed % 2 == 0, ties).unwrap();
        compared += same_traces(name, &m, &common::images(2, 32, 32, 3, seed as u32));
    }
    assert!(compared > 100_000, "{compared} values compared");
}

#[test]
fn gemm_equals_the_plain_graph_on_the_brevitas_fixtures() {
    for name in ["cnv_random", "ncnv_trained", "ucnv_trained"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let m = model::load(&dir.join("model.onnx")).unwrap().trained.unwrap();
        let inputs: Array4<u8> = ndarray_npy::read_npy(dir.join("inputs.npy")).unwrap();
        same_traces(name, &m, &inputs.slice(ndarray::s![..4, .., .., ..]).to_owned());
    }
}

#[test]
fn every_cam_method_is_the_same_on_both_graphs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ncnv_trained");
    let m = model::load(&dir.join("model.onnx")).unwrap().trained.unwrap();
    let layer = m.topology.find_layer("Pool2").unwrap();
    let (fast, plain) = (Reference::new(m.clone()).unwrap(), Reference::plain(m).unwrap());
    let (fast, plain) = (Training::new(&fast), Training::new(&plain));
    let inputs: Array4<u8> = ndarray_npy::read_npy(dir.join("inputs.npy")).unwrap();
    let img = inputs.index_axis(Axis(0), 0);
    for method in methods::ALL {
        let req = Request { layer, method, class: None, ste: Ste::Windowed, post: Post::SEED };
        let (a, b) = (cam::compute(&fast, img, &req).unwrap(), cam::compute(&plain, img, &req).unwrap());
        assert_eq!(a.class, b.class, "{}", method.name());
        let worst = a.heatmap.map.iter().zip(&b.heatmap.map).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-4, "{}: heatmaps differ by {worst}", method.name());
    }
}
