//! CAM cost on CNV at Pool2 (5×5×128): deployed Grad-CAM per image on one core (a forward
//! trace and the backward pass), training-graph Grad-CAM and Score-CAM (the f32 route, each
//! layer one SGEMM) on the same image, deployed Score-CAM with its masked forward passes (one
//! per distinct channel) on one core and on all cores, and one engine forward pass for scale. Model and image: tests/fixtures/cnv_random.
//! With BINARYCOP_TOOLBOX_PYTHON set, it then times pytorch-grad-cam on the same model and
//! image (python/bench_pytorch_grad_cam.py) and prints the ratios. `engine_forward_1core` is the
//! same measurement as `cargo bench --bench engine`'s `forward/1` (on this Brevitas model).
//! BINARYCOP_BENCH_CLOCK=cpu times process CPU time on both sides (see benches/common).

mod common;

use std::hint::black_box;

use binarycop::cam::{self, methods, Deployed, Post, Request, Ste, Training};
use binarycop::engine::Engine;
use binarycop::model;
use binarycop::reference::Reference;
use criterion::measurement::Measurement;
use criterion::Criterion;
use ndarray::Array3;

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    // The Brevitas CNV of tests/fixtures/cnv_random: python/bench_pytorch_grad_cam.py times
    // pytorch-grad-cam on the same model and image.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cnv_random");
    let loaded = model::load(&dir.join("model.onnx")).expect("fixture");
    let engine = Engine::new(loaded.folded).expect("engine");
    let reference = Reference::new(loaded.trained.expect("training graph")).expect("reference");
    let topo = engine.model().topology.clone();
    let (dep, tr) = (Deployed::new(&engine), Training::new(&reference));
    let inputs: ndarray::Array4<u8> = ndarray_npy::read_npy(dir.join("inputs.npy")).expect("inputs");
    let img: Array3<u8> = inputs.index_axis(ndarray::Axis(0), 0).to_owned();
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
    g.bench_function("scorecam_training_1core", |b| {
        b.iter(|| one.install(|| black_box(cam::compute(&tr, img.view(), &req("scorecam")).expect("cam"))))
    });
    g.bench_function("scorecam_deployed_1core", |b| {
        b.iter(|| one.install(|| black_box(cam::compute(&dep, img.view(), &req("scorecam")).expect("cam"))))
    });
    g.bench_function("scorecam_deployed_all_cores", |b| {
        b.iter(|| black_box(cam::compute(&dep, img.view(), &req("scorecam")).expect("cam")))
    });
    g.finish();
}

/// Times pytorch-grad-cam on the same model and image with python/bench_pytorch_grad_cam.py,
/// when BINARYCOP_TOOLBOX_PYTHON names a python with torch, brevitas and pytorch-grad-cam.
fn pytorch_grad_cam() -> Option<serde_json::Value> {
    let python = std::env::var("BINARYCOP_TOOLBOX_PYTHON").ok()?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/bench_pytorch_grad_cam.py");
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(&script).arg("--json");
    if common::cpu_clock() {
        cmd.arg("--cpu");
    }
    let out = cmd.output();
    match out {
        Ok(o) if o.status.success() => {
            serde_json::from_slice(o.stdout.trim_ascii_end().rsplit(|&b| b == b'\n').next()?).ok()
        }
        Ok(o) => {
            eprintln!("{}: {}", script.display(), String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or(""));
            None
        }
        Err(e) => {
            eprintln!("cannot run {python}: {e}");
            None
        }
    }
}

fn main() {
    common::run(bench, bench);
    let Some(pgc) = pytorch_grad_cam() else {
        println!("\nset BINARYCOP_TOOLBOX_PYTHON to time pytorch-grad-cam on the same model and image");
        return;
    };
    println!("\nagainst torch (forward) and pytorch-grad-cam, one torch thread, same model and image, this run:");
    for (ours, theirs) in [
        ("engine_forward_1core", "forward_ms"),
        ("gradcam_deployed_1core", "gradcam_ms"),
        ("gradcam_training_1core", "gradcam_ms"),
        ("scorecam_training_1core", "scorecam_ms"),
        ("scorecam_deployed_1core", "scorecam_ms"),
        ("scorecam_deployed_all_cores", "scorecam_ms"),
    ] {
        if let (Some(ns), Some(ms)) = (common::mean_ns(&format!("cam_cnv_pool2/{ours}")), pgc[theirs].as_f64()) {
            println!("{ours:<28} {:>9.3} ms   toolbox {ms:>8.2} ms   {:>6.1}x", ns / 1e6, ms / (ns / 1e6));
        }
    }
}
