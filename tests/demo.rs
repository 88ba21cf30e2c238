//! The demo pipeline on an embedded model, small: every output is written and every figure is
//! defined. (The full `binarycop demo` runs in CI's README check time budget separately.)

use binarycop::demo::{self, models, Options};
use binarycop::progress::Progress;

#[test]
fn demo_writes_its_report_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { out: dir.path().join("d"), per_class: 1, per_variation: 1, ..Options::default() };
    let m = models::load("ucnv").unwrap();
    let s = demo::run(&[m], &opts, &Progress::hidden()).unwrap();
    assert_eq!(s.len(), 1);
    let s = &s[0];
    assert!((0.0..=1.0).contains(&s.accuracy));
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
    // The model's latching verdict is the pooled head mass ratio against the documented factor.
    assert_eq!(metrics["latch_head_factor"], binarycop::cam::roi::LATCH_HEAD_FACTOR);
    assert_eq!(s.latching, binarycop::cam::roi::latches(s.head_mass_ratio));
    assert!(s.head_mass_ratio.is_some() && (0.0..=1.0).contains(&s.head_area.unwrap()));
    for f in ["ucnv_classes.png", "ucnv_classes.svg", "ucnv_faithfulness.svg", "latching.svg", "agreement.svg"] {
        assert!(opts.out.join(f).exists(), "{f}");
    }
    let err = models::load("vgg").err().unwrap().to_string();
    assert!(err.contains("unknown model 'vgg'"), "{err}");
    let bad = Options { per_class: 0, ..opts };
    assert!(demo::run(&[models::load("ucnv").unwrap()], &bad, &Progress::hidden()).is_err());
}

/// The investigation's finding, held as a regression check on images the investigation did not
/// use (examples/pointing_game.rs scored seed 9001; the demo draws seed 2021): on CNV, the fine
/// map (deployed LayerCAM at Conv1_2, identity STE) points into the decisive region far more
/// often than deployed Grad-CAM at Pool2 and than a centre-peaked map (51 % there).
#[test]
fn the_fine_map_points_into_the_decisive_region() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { out: dir.path().join("d"), per_class: 10, per_variation: 1, ..Options::default() };
    let s = demo::run(&[models::load("cnv").unwrap()], &opts, &Progress::hidden()).unwrap();
    let (fine, grad) = (s[0].layercam_pointing_rate.unwrap(), s[0].pointing_rate.unwrap());
    println!("cnv pointing game: LayerCAM Conv1_2 identity {fine:.3}, Grad-CAM Pool2 {grad:.3}");
    assert!(fine >= 0.75 && fine > grad + 0.3, "LayerCAM {fine} Grad-CAM {grad}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(opts.out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["fine_map"]["layer"], "Conv1_2");
}
