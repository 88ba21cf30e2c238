//! CAM cost on CNV at Pool2 (5×5×128): deployed Grad-CAM per image on one core (a forward
//! trace and the backward pass), training-graph Grad-CAM (the f32 route) on the same image,
//! Score-CAM with its masked forward passes (one per distinct channel) on one core and on all
//! cores, and one engine forward pass for scale.

use std::hint::black_box;

use binarycop::cam::{self, methods, Deployed, Post, Request, Ste, Training};
use binarycop::engine::Engine;
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop::reference::Reference;
use criterion::Criterion;
use ndarray::Array3;

fn bench(c: &mut Criterion) {
    let topo = Topology::preset("cnv", 4).expect("preset");
    let trained = random_model(&topo, 1, false).expect("model");
    let engine = Engine::new(FoldedModel::fold(&trained).expect("fold")).expect("engine");
    let reference = Reference::new(trained).expect("reference");
    let (dep, tr) = (Deployed::new(&engine), Training::new(&reference));
    let mut s = 7u32;
    let img = Array3::from_shape_fn((32, 32, 3), |_| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        (s >> 24) as u8
    });
    let layer = topo.find_layer("Pool2").expect("layer");
    let req = |m: &str| Request {
        layer,
        method: methods::by_name(m).expect("method"),
        class: None,
        ste: Ste::Windowed,
        post: Post::SEED,
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    let mut g = c.benchmark_group("cam_cnv_pool2");
    g.sample_size(20);
    g.bench_function("engine_forward_1core", |b| b.iter(|| black_box(engine.scores(img.view()).expect("run"))));
    g.bench_function("gradcam_deployed_1core", |b| {
        b.iter(|| one.install(|| black_box(cam::compute(&dep, img.view(), &req("gradcam")).expect("cam"))))
    });
    g.bench_function("gradcam_training_1core", |b| {
        b.iter(|| one.install(|| black_box(cam::compute(&tr, img.view(), &req("gradcam")).expect("cam"))))
    });
    g.bench_function("scorecam_deployed_1core", |b| {
        b.iter(|| one.install(|| black_box(cam::compute(&dep, img.view(), &req("scorecam")).expect("cam"))))
    });
    g.bench_function("scorecam_deployed_all_cores", |b| {
        b.iter(|| black_box(cam::compute(&dep, img.view(), &req("scorecam")).expect("cam")))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
