//! Shared checks for the integration tests.
#![allow(dead_code)]

use binarycop::engine::kernels::Kernel;
use binarycop::engine::Engine;
use binarycop::model::{FoldedModel, TrainedModel};
use binarycop::reference::Reference;
use ndarray::{Array3, Array4, ArrayView3, Axis};

/// FNV-1a over `bytes`, continuing from `h` (start from 0xcbf2_9ce4_8422_2325), for golden
/// checksums.
pub fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Deterministic pseudo-random u8 images.
pub fn images(n: usize, h: usize, w: usize, c: usize, seed: u32) -> Array4<u8> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    Array4::from_shape_fn((n, h, w, c), |(_, y, x, ch)| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        // Noise over a smooth ramp, so that maps have structure.
        (((s >> 24) as usize + y * 5 + x * 3 + ch * 40) % 256) as u8
    })
}

/// Runs one image through the engine (with `kernel`) and the reference and checks every
/// layer: binary maps bit for bit, the accumulator against its thresholds, and the logits as
/// the folded affine of the scores. Returns the engine scores.
pub fn check_image(trained: &TrainedModel, kernel: &'static dyn Kernel, img: ArrayView3<u8>) -> Vec<i32> {
    let folded = FoldedModel::fold(trained).expect("fold");
    let engine = Engine::new(folded.clone()).expect("engine").with_kernel(kernel);
    let reference = Reference::plain(trained.clone()).expect("reference");
    let last = engine.layers().len() - 1;
    let trace = engine.trace(img, last).expect("trace");
    let rt = reference.forward(img).expect("reference");
    let q = trained.input_quant;
    let codes_ref: Array3<i8> = rt.input.mapv(|v| (v / q.scale).round() as i8);
    assert_eq!(trace.input, codes_ref, "input codes");
    for (i, (e, r)) in trace.layers.iter().zip(&rt.layers).enumerate() {
        let name = &engine.layers()[i].name;
        if let Some(bits) = &e.bits {
            let want = r.out.mapv(|v| if v >= 0.0 { 1i8 } else { -1 });
            let got = bits.to_pm1();
            assert_eq!(got, want, "layer {name} ({}) with kernel {}", i, kernel.name());
        }
        if let (Some(acc), Some(ci)) = (&e.acc, engine.layers()[i].compute_index) {
            if let (Some(t), Some(bits)) = (&folded.layers[ci].thresholds, &e.bits) {
                for ((y, x, c), &a) in acc.indexed_iter() {
                    assert_eq!(a >= t[c], bits.get(y, x, c), "layer {name}: acc vs threshold");
                }
            }
        }
    }
    let scores = trace.scores().expect("scores");
    assert_eq!(scores, engine.scores(img).expect("scores"), "trace and fast path agree");
    // The scores are integers and equal; the logits are two f32 computations (the folded
    // affine, the float graph) from terms as large as the largest logit, so a logit near zero
    // carries that magnitude's rounding (proptest found 2e-4 on a 0.023 logit next to a 50 one).
    let logits = folded.logits(&scores);
    let scale = 1.0 + rt.logits().iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (a, b) in logits.iter().zip(rt.logits()) {
        assert!((a - b).abs() <= 1e-4 * scale, "logits {logits:?} vs reference {:?}", rt.logits());
    }
    scores
}

/// Every image of a batch, every kernel.
pub fn check_model(trained: &TrainedModel, imgs: &Array4<u8>) {
    for k in binarycop::engine::kernels::all() {
        for img in imgs.axis_iter(Axis(0)) {
            check_image(trained, k, img);
        }
    }
}
