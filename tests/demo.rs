//! The demo on the embedded models: every output is written, the figures the README quotes are
//! reproduced on the demo's fixed seed, and the latching verdict follows a hand-computed case.

use binarycop::cam::roi;
use binarycop::demo::{self, models, Options};
use ndarray::Array2;

#[test]
fn demo_writes_its_report_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { out: dir.path().join("d"), per_class: 1, per_variation: 1, ..Options::default() };
    let m = models::load("ucnv").unwrap();
    let s = demo::run(&[m], &opts, &|_| {}).unwrap();
    assert_eq!(s.len(), 1);
    let s = &s[0];
    // One face per class (seed 2021): µ-CNV gets three of the four right.
    assert_eq!(s.accuracy, 0.75, "{}", s.accuracy);
    assert_eq!(s.generalization.len(), 5);
    // µ-CNV with the paper's folding: FINN's formula gives 32400 cycles per frame.
    assert!((s.exp_fps - 3086.4).abs() < 0.1, "{}", s.exp_fps);
    assert!(s.fps > 0.0 && s.latency_us > 0.0);
    // Score-CAM is forward-only, and both graphs compute the same forward pass.
    assert!((s.scorecam_agreement.unwrap() - 1.0).abs() < 1e-9);
    for f in ["metrics.json", "report.html"] {
        assert!(opts.out.join(f).exists(), "{f}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(opts.out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["models"][0]["name"], "ucnv");
    assert_eq!(metrics["latch_head_factor"], roi::LATCH_HEAD_FACTOR);
    assert!(s.head_mass_ratio.is_some() && (0.0..=1.0).contains(&s.head_area.unwrap()));
    assert!(std::fs::read_dir(&opts.out).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("ucnv_class")));
    let err = models::load("vgg").err().unwrap().to_string();
    assert!(err.contains("unknown model 'vgg'"), "{err}");
    let bad = Options { per_class: 0, ..opts };
    assert!(demo::run(&[models::load("ucnv").unwrap()], &bad, &|_| {}).is_err());
}

/// The investigation's finding, held as a regression check on images the investigation did not
/// use (examples/pointing_game.rs scored seed 9001; the demo draws seed 2021): on CNV, the fine
/// map (deployed LayerCAM at Conv1_2, identity STE) points into the decisive region far more
/// often than deployed Grad-CAM at Pool2 and than a centre-peaked map (51 % there).
#[test]
fn the_fine_map_points_into_the_decisive_region() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { out: dir.path().join("d"), per_class: 10, per_variation: 1, ..Options::default() };
    let s = demo::run(&[models::load("cnv").unwrap()], &opts, &|_| {}).unwrap();
    let (fine, grad) = (s[0].layercam_pointing_rate.unwrap(), s[0].pointing_rate.unwrap());
    println!("cnv pointing game: LayerCAM Conv1_2 identity {fine:.3}, Grad-CAM Pool2 {grad:.3}");
    assert!(fine >= 0.75 && fine > grad + 0.3, "LayerCAM {fine} Grad-CAM {grad}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(opts.out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["fine_map"]["layer"], "Conv1_2");
}

/// The README's demo table for the µ-CNV pair, on the demo's fixed seed (24 base images, 4 per
/// generalization set): µ-CNV 96 % / 100 %, not latching at 1.07; µ-CNV trained on the tag
/// 100 % / 100 %, latching at 0.66.
#[test]
fn the_demo_reproduces_its_published_figures() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { out: dir.path().join("d"), ..Options::default() };
    let models = [models::load("ucnv").unwrap(), models::load("ucnv_artifact").unwrap()];
    let s = demo::run(&models, &opts, &|_| {}).unwrap();
    let gen = |i: usize| s[i].generalization.values().sum::<f64>() / 5.0;
    let ratio = |i: usize| s[i].head_mass_ratio.unwrap();
    println!(
        "ucnv: {} {} {}; ucnv_artifact: {} {} {}",
        s[0].accuracy,
        gen(0),
        ratio(0),
        s[1].accuracy,
        gen(1),
        ratio(1)
    );
    assert_eq!((s[0].accuracy * 24.0).round(), 23.0, "ucnv: 23 of 24");
    assert_eq!((s[1].accuracy, gen(0), gen(1)), (1.0, 1.0, 1.0));
    assert!((ratio(0) - 1.07).abs() < 0.005 && !s[0].latching, "ucnv: {}", ratio(0));
    assert!((ratio(1) - 0.66).abs() < 0.005 && s[1].latching, "ucnv_artifact: {}", ratio(1));
}

/// The latching verdict, by hand: two 4×4 maps whose head is the top half (area 1/2 each).
/// Map A has total mass 8, of which 1 on the head: share 1/8. Map B has mass 4, 3 on the head:
/// share 3/4. Pooled: (1/8 + 3/4) / (1/2 + 1/2) = 7/8 = 0.875 ≥ 3/4, no latching; map A alone
/// gives (1/8) / (1/2) = 1/4 < 3/4, latching.
#[test]
fn latching_on_a_hand_computed_case() {
    let head = Array2::from_shape_fn((4, 4), |(y, _)| y < 2);
    let decisive = Array2::from_shape_fn((4, 4), |(y, x)| y == 3 && x == 3);
    let mut a = Array2::<f32>::zeros((4, 4));
    a[[0, 0]] = 1.0; // 1 on the head
    a[[3, 0]] = 1.0;
    a[[3, 1]] = 1.0;
    a[[3, 2]] = 1.0;
    a[[3, 3]] = 1.0;
    a[[2, 0]] = 1.0;
    a[[2, 1]] = 1.0;
    a[[2, 2]] = 1.0; // 7 off it: total 8
    let mut b = Array2::<f32>::zeros((4, 4));
    b[[0, 0]] = 1.0;
    b[[0, 1]] = 1.0;
    b[[1, 1]] = 1.0; // 3 on the head
    b[[3, 3]] = 1.0; // 1 off it: total 4
    let (ra, rb) = (roi::score(&a, &decisive, &head), roi::score(&b, &decisive, &head));
    assert_eq!((ra.energy_on_head, ra.head_area), (Some(0.125), 0.5));
    assert_eq!((rb.energy_on_head, rb.head_area), (Some(0.75), 0.5));
    assert!(ra.latching && !rb.latching);
    let pooled = roi::pooled_head_ratio(&[ra, rb]);
    assert_eq!(pooled, Some(0.875));
    assert!(!roi::latches(pooled));
}
