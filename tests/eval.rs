//! `eval` through the command line (issue 17): on a `synth --layout folders` set it counts what
//! `infer` says about the same files against their folders' classes; the sim backend counts the
//! same; a labelled .npy pair of the same images too; bad folders and odd files end as stated.

mod cli_run;

use std::path::{Path, PathBuf};

use cli_run::{assert_error, run, s, Run};
use serde_json::Value;

const CLASSES: [&str; 4] = ["correctly_masked", "nose_exposed", "nose_mouth_exposed", "chin_exposed"];

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ucnv.params.npz")
}

fn ok(r: &Run) {
    assert!(!r.timed_out && r.code == Some(0) && !r.stderr.contains("panicked"), "{r:?}");
}

/// `synth` into `dir/name` (folders or npy layout), `count` images, seed 7.
fn synth(dir: &Path, name: &str, count: usize, layout: &str) -> PathBuf {
    let out = dir.join(name);
    ok(&run(&["synth", "--count", &count.to_string(), "--seed", "7", "--out", s(&out), "--layout", layout]));
    out
}

/// `eval --json` with `extra` arguments; the JSON it wrote and its stdout.
fn eval_json(images: &Path, extra: &[&str]) -> (Value, String) {
    let json = images.with_extension("eval.json");
    let m = model();
    let mut args = vec!["eval", "--model", s(&m), "--images", s(images), "--json", s(&json), "-q"];
    args.extend_from_slice(extra);
    let r = run(&args);
    ok(&r);
    (serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap(), r.stdout)
}

fn matrix(v: &Value) -> Vec<Vec<u64>> {
    serde_json::from_value(v["confusion"]["matrix"].clone()).unwrap()
}

/// Every PNG below `dir`'s class folders, with its class index.
fn labelled_files(dir: &Path) -> Vec<(PathBuf, usize)> {
    let mut out = Vec::new();
    for (k, class) in CLASSES.iter().enumerate() {
        for e in std::fs::read_dir(dir.join(class)).unwrap() {
            out.push((e.unwrap().path(), k));
        }
    }
    out
}

#[test]
fn eval_counts_what_infer_says_against_the_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let set = synth(tmp.path(), "set", 40, "folders");
    let files = labelled_files(&set);
    assert_eq!(files.len(), 40);
    let mut args = vec!["infer".to_string(), "--model".into(), s(&model()).into(), "--json".into(), "--images".into()];
    args.extend(files.iter().map(|(p, _)| s(p).to_string()));
    let r = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&r);
    let infer: Value = serde_json::from_str(&r.stdout).unwrap();
    let mut want = vec![vec![0u64; 4]; 4];
    for (row, (path, class)) in infer["results"].as_array().unwrap().iter().zip(&files) {
        assert_eq!(row["input"], s(path));
        want[*class][row["label"].as_u64().unwrap() as usize] += 1;
    }
    let (got, stdout) = eval_json(&set, &[]);
    assert_eq!(matrix(&got), want);
    let total: u64 = matrix(&got).iter().flatten().sum();
    assert_eq!((total, got["images"].as_u64(), got["skipped"].as_u64()), (40, Some(40), Some(0)));
    let correct: u64 = (0..4).map(|k| want[k][k]).sum();
    assert_eq!(got["correct"].as_u64(), Some(correct));
    assert_eq!(got["accuracy"].as_f64(), Some(correct as f64 / 40.0));
    assert!(stdout.contains(&format!("accuracy: {:.2}% ({correct} of 40)", correct as f64 / 0.4)), "{stdout}");
    assert!(stdout.contains("confusion matrix") && stdout.contains("nose_mouth_exposed"), "{stdout}");
    assert!(stdout.contains("ignored, in no class folder: meta.json"), "{stdout}");
}

#[test]
fn sim_backend_counts_as_the_cpu_does() {
    let tmp = tempfile::tempdir().unwrap();
    let set = synth(tmp.path(), "set", 40, "folders");
    let (cpu, _) = eval_json(&set, &[]);
    let (sim, stdout) = eval_json(&set, &["--backend", "sim"]);
    assert_eq!(sim["backend"], "sim");
    assert_eq!(matrix(&sim), matrix(&cpu));
    assert!(stdout.contains("backend sim") && stdout.contains("images/s"), "{stdout}");
}

#[test]
fn a_labelled_npy_pair_and_the_maskedface_net_map_count_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let set = synth(tmp.path(), "set", 40, "folders");
    let npy = synth(tmp.path(), "npy", 40, "npy");
    // synth --layout folders writes the npy layout's images, each in its label's folder.
    let images: ndarray::Array4<u8> = ndarray_npy::read_npy(npy.join("images.npy")).unwrap();
    let labels: ndarray::Array1<i64> = ndarray_npy::read_npy(npy.join("labels.npy")).unwrap();
    for (path, class) in labelled_files(&set) {
        let i: usize = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let png = image::open(&path).unwrap().to_rgb8().into_raw();
        assert_eq!(png, images.index_axis(ndarray::Axis(0), i).iter().copied().collect::<Vec<u8>>(), "{path:?}");
        assert_eq!(labels[i], class as i64, "{path:?}");
    }
    let (folders, _) = eval_json(&set, &[]);
    let (pair, _) = eval_json(&npy.join("images.npy"), &["--labels", s(&npy.join("labels.npy"))]);
    assert_eq!(matrix(&pair), matrix(&folders));
    // The same images under MaskedFace-Net's names, through the shipped map.
    let mfn = tmp.path().join("mfn");
    std::fs::create_dir(&mfn).unwrap();
    for (class, name) in CLASSES.iter().zip(["CMFD", "Mask_Mouth_Chin", "IMFD_Nose_Mouth", "mask-nose-mouth"]) {
        std::fs::rename(set.join(class), mfn.join(name)).unwrap();
    }
    let map = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/classmaps/maskedface-net.json");
    let (mapped, stdout) = eval_json(&mfn, &["--class-map", s(&map)]);
    assert_eq!(matrix(&mapped), matrix(&folders));
    assert!(stdout.contains("folder Mask_Mouth_Chin -> class 1 nose_exposed (10 files)"), "{stdout}");
}

fn png(path: &Path, w: u32, h: u32) {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 9) as u8, (y * 5) as u8, 120])).save(path).unwrap();
}

#[test]
fn odd_files_are_skipped_counted_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let set = synth(tmp.path(), "set", 20, "folders");
    std::fs::write(set.join("nose_exposed/notes.txt"), "not an image").unwrap();
    let good = std::fs::read(labelled_files(&set)[0].0.clone()).unwrap();
    std::fs::write(set.join("chin_exposed/cut.png"), &good[..good.len() / 2]).unwrap();
    // Unreadable: a FIFO (never opened for reading: it would block) and a dangling link.
    let fifo = set.join("nose_exposed/pipe.png");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::os::unix::fs::symlink(set.join("gone.png"), set.join("correctly_masked/dangling.png")).unwrap();
    // Mixed sizes are resized to the model's input: counted, not skipped.
    png(&set.join("chin_exposed/wide.png"), 48, 40);
    png(&set.join("correctly_masked/sub_small.png"), 20, 20);
    let (v, stdout) = eval_json(&set, &[]);
    assert_eq!((v["images"].as_u64(), v["skipped"].as_u64()), (Some(22), Some(4)), "{stdout}");
    assert_eq!(matrix(&v).iter().flatten().sum::<u64>(), 22);
    assert!(stdout.contains("22 evaluated, 4 skipped"), "{stdout}");
    assert!(stdout.contains("pipe.png: not a regular file"), "{stdout}");
    assert!(stdout.contains("dangling.png: cannot open"), "{stdout}");
    assert!(stdout.contains("cut.png: not a readable image"), "{stdout}");
    assert!(stdout.contains("notes.txt: not a readable image"), "{stdout}");
    // A crop that does not fit the small image skips it and says why.
    let (v, stdout) = eval_json(&set, &["--crop", "0:24,0:24"]);
    assert_eq!((v["images"].as_u64(), v["skipped"].as_u64()), (Some(21), Some(5)), "{stdout}");
    assert!(stdout.contains("sub_small.png: --crop 0:24,0:24 does not fit a 20x20"), "{stdout}");
}

fn eval_err(images: &Path, extra: &[&str], wants: &[&str]) {
    let m = model();
    let mut args = vec!["eval", "--model", s(&m), "--images", s(images)];
    args.extend_from_slice(extra);
    assert_error(&run(&args), 1, wants);
}

#[test]
fn bad_folders_are_refused_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |name: &str, subs: &[&str]| {
        let p = tmp.path().join(name);
        std::fs::create_dir(&p).unwrap();
        subs.iter().for_each(|s| std::fs::create_dir_all(p.join(s)).unwrap());
        p
    };
    let empty = d("empty", &[]);
    eval_err(&empty, &[], &[s(&empty), "no class subfolders"]);
    let one = d("one", &["nose_exposed", "2"]);
    png(&one.join("nose_exposed/a.png"), 32, 32);
    eval_err(&one, &[], &[s(&one), "only one class has files (nose_exposed)"]);
    let hollow = d("hollow", &["0", "1"]);
    eval_err(&hollow, &[], &[s(&hollow), "no images"]);
    let unknown = d("unknown", &["0", "masks"]);
    eval_err(&unknown, &[], &["unknown/masks", "'masks' is not a class of the model", "--class-map"]);
    let junk = d("junk", &["0", "1"]);
    std::fs::write(junk.join("0/a.png"), "no").unwrap();
    std::fs::write(junk.join("1/b.jpg"), "no").unwrap();
    eval_err(&junk, &[], &["none of the 2 files could be used", "a.png: not a readable image"]);
    eval_err(&tmp.path().join("missing"), &[], &["missing", "not a folder"]);
    let nowhere = tmp.path().join("no/such/dir/r.json");
    eval_err(&junk, &["--json", s(&nowhere)], &[s(&nowhere), "does not exist"]);
    eval_err(&junk, &["--labels", s(&junk.join("0/a.png"))], &["--labels goes with an images .npy"]);
    let map = tmp.path().join("map.json");
    std::fs::write(&map, r#"{"folders": {"masks": "no_such_class"}}"#).unwrap();
    eval_err(&unknown, &["--class-map", s(&map)], &[s(&map), "maps to \"no_such_class\"", "not a class of the model"]);
}

#[test]
fn a_bad_npy_pair_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let npy = synth(tmp.path(), "npy", 8, "npy");
    let images = npy.join("images.npy");
    eval_err(&images, &[], &[s(&images), "--labels"]);
    let labels = tmp.path().join("labels.npy");
    let few = ndarray::Array1::<i64>::from(vec![0, 1, 2]);
    ndarray_npy::write_npy(&labels, &few).unwrap();
    eval_err(&images, &["--labels", s(&labels)], &[s(&labels), "shape [3]", "(8,)"]);
    let wrong = ndarray::Array1::<i64>::from(vec![0, 1, 2, 3, 4, 0, 1, 2]);
    ndarray_npy::write_npy(&labels, &wrong).unwrap();
    eval_err(&images, &["--labels", s(&labels)], &[s(&labels), "label 4 is 4"]);
}

/// The folder is streamed: eval's peak memory over 16,384 images is within 16 MiB of its peak
/// over 256 (16,384 images held at the model's 32×32×3 would be 48 MiB more; their paths take
/// about 2 MiB). Peak resident memory is read from /proc while it runs.
#[test]
fn eval_memory_does_not_grow_with_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let m = model();
    let peak = |count: usize| {
        let set = synth(tmp.path(), &format!("set{count}"), count, "folders");
        let args = ["eval", "--model", s(&m), "--images", s(&set), "-q"];
        let (r, kb) = cli_run::run_peak_kb(&args, std::time::Duration::from_secs(300));
        ok(&r);
        assert!(r.stdout.contains(&format!("images: {count} evaluated")), "{}", r.stdout);
        kb
    };
    let small = peak(256);
    let large = peak(16_384);
    assert!(large < small + 16 * 1024, "peak {large} kB for 16,384 images vs {small} kB for 256");
}

/// `--errors DIR`: one entry per misclassified image (counted against the JSON's matrix), each
/// listed in errors.csv under its folder's class and a different predicted class, its source
/// copied, and its Grad-CAM overlay exactly `cam`'s for the predicted class (enlarged ×4); an
/// unknown layer or a folder that is not an `--errors` output is refused before the pass.
#[test]
fn errors_holds_each_misclassified_image_with_its_deployed_gradcam() {
    let tmp = tempfile::tempdir().unwrap();
    let set = synth(tmp.path(), "set", 80, "folders");
    let errs = tmp.path().join("errs");
    let (v, stdout) = eval_json(&set, &["--errors", s(&errs)]);
    let m = matrix(&v);
    let wrong: u64 = (0..4).map(|t| (0..4).filter(|&p| p != t).map(|p| m[t][p]).sum::<u64>()).sum();
    assert!(wrong > 0, "the model is wrong on some of 80 synthetic faces: {m:?}");
    assert!(stdout.contains(&format!("wrote {wrong} of {wrong} misclassified images")), "{stdout}");
    let csv = std::fs::read_to_string(errs.join("errors.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as u64, wrong);
    let model = model();
    for (n, r) in rows.iter().enumerate() {
        let source = Path::new(r[1]);
        let (truth, predicted): (usize, usize) = (r[2].parse().unwrap(), r[4].parse().unwrap());
        assert_eq!(source.parent().unwrap().file_name().unwrap().to_str().unwrap(), CLASSES[truth]);
        assert_ne!(truth, predicted);
        assert_eq!(std::fs::read(errs.join(format!("{n:04}_source.png"))).unwrap(), std::fs::read(source).unwrap());
        let cam_out = tmp.path().join(format!("cam{n}"));
        let class = predicted.to_string();
        ok(&run(&[
            "cam",
            "--model",
            s(&model),
            "--images",
            r[1],
            "--layer",
            "Pool2",
            "--class",
            &class,
            "--out",
            s(&cam_out),
        ]));
        let theirs = image::open(cam_out.join("0000/overlay.png")).unwrap().to_rgb8();
        let ours = image::open(errs.join(format!("{n:04}_gradcam.png"))).unwrap().to_rgb8();
        let (w, h) = theirs.dimensions();
        assert_eq!(ours.dimensions(), (4 * w, 4 * h));
        assert!(ours.enumerate_pixels().all(|(x, y, p)| p == theirs.get_pixel(x / 4, y / 4)), "image {n}");
    }
    // Refused before the pass: an unknown layer, a folder holding something else.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    eval_err(&set, &["--errors", s(&other)], &["other"]);
    eval_err(&set, &["--errors", s(&tmp.path().join("e2")), "--errors-layer", "Nope"], &["unknown layer 'Nope'"]);
    assert!(!tmp.path().join("e2").exists());
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
}
