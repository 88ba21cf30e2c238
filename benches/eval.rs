//! `eval` over an image folder against the engine alone, in one run: a `synth --layout folders`
//! set of BINARYCOP_EVAL_IMAGES (default 10,000) 32×32 PNGs, classified by CNV (the shipped
//! models/cnv.params.npz) on the cpu backend.
//! - `eval/folder`: what `binarycop eval --images DIR` does: walk the folder, read and decode
//!   every PNG (in parallel), classify them 256 at a time, count the confusion matrix;
//! - `eval/engine`: the same backend on the same images already decoded, 256 at a time.
//!
//! After the runs it prints both in images/s and their ratio: the share of the engine's rate
//! that eval keeps once reading and decoding are included.

mod common;

use std::hint::black_box;
use std::path::Path;

use binarycop::accel::{Accelerator, CpuAccel};
use binarycop::data::synth::{self, Config};
use binarycop::data::Preprocess;
use binarycop::eval::{self, ClassIndex, Dataset, Folder, BATCH};
use binarycop::progress::Progress;
use criterion::{Criterion, Throughput};
use ndarray::{s, Array4, Axis};

fn count() -> usize {
    std::env::var("BINARYCOP_EVAL_IMAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

fn names() -> Vec<String> {
    synth::CLASS_NAMES.iter().map(|n| n.to_string()).collect()
}

/// Every image of the folder, decoded and preprocessed as eval does.
fn decoded(folder: &Folder, accel: &CpuAccel) -> Array4<u8> {
    let shape = accel.io().image;
    let imgs: Vec<_> = folder
        .entries
        .iter()
        .map(|e| binarycop::data::load_image(&e.path, shape, &Preprocess::default()).expect("a synth PNG"))
        .collect();
    let views: Vec<_> = imgs.iter().map(|i| i.view()).collect();
    ndarray::stack(Axis(0), &views).expect("one shape")
}

fn bench(c: &mut Criterion, dir: &Path) {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cnv.params.npz");
    let accel = CpuAccel::new(binarycop::model::load(&model).expect("cnv").folded).expect("engine");
    let index = ClassIndex::new(names(), None).expect("classes");
    let folder = Folder::scan(dir, &index).expect("a synth folder");
    let images = decoded(&folder, &accel);
    let n = images.len_of(Axis(0));
    let mut g = c.benchmark_group("eval");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("folder", |b| {
        b.iter(|| {
            let data = Dataset::Folder(Folder::scan(dir, &index).expect("scan"));
            black_box(eval::evaluate(&accel, &data, &Preprocess::default(), &Progress::hidden()).expect("eval"))
        })
    });
    g.bench_function("engine", |b| {
        b.iter(|| {
            for start in (0..n).step_by(BATCH) {
                let end = (start + BATCH).min(n);
                black_box(accel.run(images.slice(s![start..end, .., .., ..]), &[]).expect("run"));
            }
        })
    });
    g.finish();
}

fn main() {
    let n = count();
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("set");
    synth::write_folders_observed(&Config::new(n, 1), &dir, &Progress::hidden().bar(0, "")).expect("synth");
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &dir);
    c.final_summary();
    let (Some(folder), Some(engine)) = (common::mean_ns("eval/folder"), common::mean_ns("eval/engine")) else {
        return;
    };
    let rate = |ns: f64| n as f64 / (ns / 1e9);
    println!("\n{n} images of 32x32, cnv, cpu backend, {} rayon threads", rayon::current_num_threads());
    println!("eval over the folder (walk, read, decode, classify, count): {:>8.0} images/s", rate(folder));
    println!("engine alone on the same decoded images:                   {:>8.0} images/s", rate(engine));
    println!("eval's rate / the engine's: {:.2} (eval keeps {:.0}% of it)", engine / folder, 100.0 * engine / folder);
}
