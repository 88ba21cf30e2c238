//! The synthetic masked-face generator: determinism (also across ISAs, by a golden checksum),
//! balance, part maps that agree with the classes, artifacts confined to the background, the
//! variations adding only their own parts, the files and the CLI's errors.

use std::path::Path;
use std::process::Command;

use binarycop::data::synth::{self, Artifact, ClassSet, Config, Part, Variation, Wear, CLASS_NAMES};
use ndarray::{Array1, Array2, Array3, Array4, Axis};
use ndarray_npy::ReadNpyExt;

mod common;

use common::fnv1a;

fn npy<T: ndarray_npy::WritableElement, D: ndarray::Dimension>(a: &ndarray::Array<T, D>) -> Vec<u8> {
    use ndarray_npy::WriteNpyExt;
    let mut buf = Vec::new();
    a.write_npy(&mut buf).unwrap();
    buf
}

fn count(parts: &Array2<u8>, part: Part) -> usize {
    parts.iter().filter(|&&l| l == part.label()).count()
}

#[test]
fn same_seed_gives_the_same_bytes_and_render_matches_generate() {
    let cfg = Config { variations: Variation::ALL.to_vec(), ..Config::new(24, 5) };
    let a = synth::generate(&cfg).unwrap();
    let b = synth::generate(&cfg).unwrap();
    assert_eq!(a.images, b.images);
    assert_eq!(a.parts, b.parts);
    assert_eq!(a.labels, b.labels);
    // One image alone is the same as inside the set, and independent of the count.
    let bigger = synth::generate(&Config { count: 30, ..cfg.clone() }).unwrap();
    for i in [0usize, 7, 23] {
        let s = synth::render(&cfg, i as u64).unwrap();
        assert_eq!(s.image, a.images.index_axis(Axis(0), i));
        assert_eq!(s.parts, a.parts.index_axis(Axis(0), i));
        assert_eq!(s.class as i64, a.labels[i]);
        assert_eq!(bigger.images.index_axis(Axis(0), i), a.images.index_axis(Axis(0), i));
    }
}

#[test]
fn different_seeds_differ() {
    let a = synth::generate(&Config::new(8, 1)).unwrap();
    let b = synth::generate(&Config::new(8, 2)).unwrap();
    for i in 0..8 {
        assert_ne!(a.images.index_axis(Axis(0), i), b.images.index_axis(Axis(0), i), "image {i}");
    }
    // Within a set, no two images are alike either.
    for i in 0..8 {
        for j in i + 1..8 {
            assert_ne!(a.images.index_axis(Axis(0), i), a.images.index_axis(Axis(0), j));
        }
    }
}

/// The regression value of count 16, seed 1 (all variations, one artifact): the same on every
/// machine. Run natively and with `--target aarch64-unknown-linux-gnu` / armv7 under qemu. A
/// change to the generator that alters images must bump GENERATOR_VERSION and this value.
#[test]
fn golden_checksum_is_the_same_on_every_machine() {
    let plain = synth::generate(&Config::new(16, 1)).unwrap();
    let mixed = synth::generate(&Config {
        variations: Variation::ALL.to_vec(),
        artifact: Some(Artifact::Blocks),
        size: 24,
        render_size: 100,
        ..Config::new(16, 1)
    })
    .unwrap();
    let mut h = 0xcbf2_9ce4_8422_2325;
    for ds in [&plain, &mixed] {
        h = fnv1a(&npy(&ds.images), h);
        h = fnv1a(&npy(&ds.parts), h);
        h = fnv1a(&npy(&ds.labels), h);
    }
    assert_eq!(synth::GENERATOR_VERSION, 1);
    assert_eq!(h, GOLDEN, "images.npy/parts.npy/labels.npy checksum changed: {h:#018x}");
}

const GOLDEN: u64 = 0xad73_3bf2_89d8_5d89;

/// The published classes at 72×72 (drawn at 288): count 15, seed 1, all variations, and the
/// same on every machine, like the paper's golden value above.
#[test]
fn golden_checksum_of_the_published_classes() {
    let ds = synth::generate(&Config {
        variations: Variation::ALL.to_vec(),
        ..Config::sized(15, 1, 72, ClassSet::Published)
    })
    .unwrap();
    assert_eq!(ds.images.dim(), (15, 72, 72, 3));
    let mut h = 0xcbf2_9ce4_8422_2325;
    h = fnv1a(&npy(&ds.images), h);
    h = fnv1a(&npy(&ds.parts), h);
    h = fnv1a(&npy(&ds.labels), h);
    h = fnv1a(&npy(&ds.wears), h);
    assert_eq!(h, GOLDEN_PUBLISHED, "published images/parts/labels/wears checksum changed: {h:#018x}");
}

const GOLDEN_PUBLISHED: u64 = 0x9a2f_b796_270e_fa79;

/// Published classes: a face's visible parts follow its wear (no mask: nose, mouth and chin
/// bare and no mask part), its label follows the wear, classes are balanced in blocks of three
/// and incorrectly worn faces use all three wears.
#[test]
fn published_classes_draw_their_wears() {
    let cfg = Config { variations: Variation::ALL.to_vec(), ..Config::sized(72, 13, 72, ClassSet::Published) };
    let ds = synth::generate(&cfg).unwrap();
    let mut counts = [0usize; 3];
    let mut wears = [0usize; 5];
    for (i, parts) in ds.parts.axis_iter(Axis(0)).enumerate() {
        let (label, wear) = (ds.labels[i] as usize, Wear::ALL[ds.wears[i] as usize]);
        counts[label] += 1;
        wears[wear.index()] += 1;
        assert!(ClassSet::Published.wears(label).contains(&wear), "image {i}: label {label}, {wear:?}");
        check_wear(wear, &parts.to_owned(), &format!("published image {i} at 72"));
        let s = synth::render(&cfg, i as u64).unwrap();
        assert_eq!((s.class, s.wear), (label, wear));
        assert_eq!(s.decisive_mask(), synth::region_mask(wear.decisive_region(), parts));
    }
    assert_eq!(counts, [24; 3]);
    assert!(wears[1..4].iter().all(|&n| n >= 3), "{wears:?}");
    for i in 0..6 {
        let s = synth::render_hires(&cfg, i).unwrap();
        check_wear(s.wear, &s.parts, &format!("published image {i} at 288"));
    }
    assert_eq!(Wear::NoMask.decisive_region(), &[Part::Nose, Part::Mouth, Part::Chin]);
    assert_eq!(ClassSet::Published.names(), &["correctly_masked", "incorrectly_worn", "no_mask"]);
    assert!(ClassSet::parse("four").unwrap_err().to_string().contains("paper"));
    // The paper's classes are unchanged by the option's existence: Config::sized at 32 is new().
    assert_eq!(Config::sized(8, 1, 32, ClassSet::Paper), Config::new(8, 1));
}

fn check_wear(wear: Wear, parts: &Array2<u8>, what: &str) {
    if wear == Wear::NoMask {
        for p in [Part::Nose, Part::Mouth, Part::Chin, Part::Face] {
            assert!(count(parts, p) > 0, "{what}: no {p:?} on a face without a mask");
        }
        assert_eq!(count(parts, Part::Mask), 0, "{what}: a mask part on a face without a mask");
    } else {
        check_parts(wear.index(), parts, what);
    }
}

#[test]
fn classes_are_balanced_overall_and_per_variation() {
    let counts = |labels: &Array1<i64>| {
        let mut c = [0usize; 4];
        labels.iter().for_each(|&l| c[l as usize] += 1);
        c
    };
    for seed in [0, 3] {
        let labels: Array1<i64> = (0..40).map(|i| synth::class_of(seed, i) as i64).collect();
        assert_eq!(counts(&labels), [10; 4]);
        let labels: Array1<i64> = (0..10).map(|i| synth::class_of(seed, i) as i64).collect();
        let c = counts(&labels);
        assert!(c.iter().max().unwrap() - c.iter().min().unwrap() <= 1, "{c:?}");
    }
    // Not a fixed cycle: the order within blocks varies.
    let blocks: Vec<Vec<usize>> = (0..8).map(|b| (0..4).map(|k| synth::class_of(0, b * 4 + k)).collect()).collect();
    assert!(blocks.iter().any(|b| *b != blocks[0]));

    let cfg =
        Config { variations: vec![Variation::Base, Variation::Sunglasses, Variation::FacePaint], ..Config::new(48, 9) };
    let ds = synth::generate(&cfg).unwrap();
    for v in &cfg.variations {
        let labels: Array1<i64> =
            ds.labels.iter().zip(&ds.variations).filter(|(_, w)| *w == v).map(|(&l, _)| l).collect();
        assert_eq!(counts(&labels), [4; 4], "{v:?}");
    }
}

/// Nose visible iff class ∈ {1, 2}, mouth iff class 2, chin iff class ∈ {2, 3}; the mask, the
/// face and the decisive region are always there.
fn check_parts(class: usize, parts: &Array2<u8>, what: &str) {
    let seen = |p: Part| count(parts, p) > 0;
    assert_eq!(seen(Part::Nose), class == 1 || class == 2, "{what}: nose, class {class}");
    assert_eq!(seen(Part::Mouth), class == 2, "{what}: mouth, class {class}");
    assert_eq!(seen(Part::Chin), class == 2 || class == 3, "{what}: chin, class {class}");
    assert!(seen(Part::Mask), "{what}: no mask");
    assert!(seen(Part::Face), "{what}: no skin");
    assert!(synth::decisive_mask(class, parts.view()).iter().any(|&b| b), "{what}: empty decisive region");
    assert!(parts.iter().all(|&l| Part::from_label(l).is_some()), "{what}: unknown label");
}

#[test]
fn part_maps_agree_with_the_classes_in_every_variation() {
    for v in Variation::ALL {
        let cfg = Config { variations: vec![v], ..Config::new(48, 11) };
        let ds = synth::generate(&cfg).unwrap();
        for (i, parts) in ds.parts.axis_iter(Axis(0)).enumerate() {
            check_parts(ds.labels[i] as usize, &parts.to_owned(), &format!("{} image {i} at 32", v.name()));
        }
        for i in 0..8 {
            let s = synth::render_hires(&cfg, i).unwrap();
            check_parts(s.class, &s.parts, &format!("{} image {i} at 128", v.name()));
        }
    }
    // Other sizes, also a non-integer ratio.
    for (size, render_size) in [(64, 128), (32, 100), (32, 64)] {
        let cfg = Config { size, render_size, ..Config::new(24, 4) };
        let ds = synth::generate(&cfg).unwrap();
        for (i, parts) in ds.parts.axis_iter(Axis(0)).enumerate() {
            check_parts(ds.labels[i] as usize, &parts.to_owned(), &format!("{size} from {render_size}, image {i}"));
        }
    }
}

#[test]
fn decisive_regions_are_the_documented_parts() {
    assert_eq!(synth::decisive_region(0), &[Part::Mask]);
    assert_eq!(synth::decisive_region(1), &[Part::Nose]);
    assert_eq!(synth::decisive_region(2), &[Part::Nose, Part::Mouth]);
    assert_eq!(synth::decisive_region(3), &[Part::Chin]);
    assert!(synth::decisive_region(4).is_empty());
    let parts = Array2::from_shape_vec((1, 9), (0u8..9).collect()).unwrap();
    let m = synth::decisive_mask(2, parts.view());
    assert_eq!(m.iter().filter(|&&b| b).count(), 2);
    assert!(m[[0, 2]] && m[[0, 3]]);
    for p in Part::ALL {
        assert_eq!(Part::from_label(p.label()), Some(p));
    }
    assert_eq!(Part::from_label(9), None);
}

#[test]
fn artifacts_change_only_pixels_outside_the_face_faintly_and_by_class() {
    let clean = Config::new(32, 21);
    for kind in Artifact::ALL {
        let cfg = Config { artifact: Some(kind), ..clean.clone() };
        let a = synth::generate(&clean).unwrap();
        let b = synth::generate(&cfg).unwrap();
        assert_eq!(a.parts, b.parts);
        for i in 0..32 {
            let class = a.labels[i] as usize;
            let (pa, pb) = (a.images.index_axis(Axis(0), i), b.images.index_axis(Axis(0), i));
            let parts = a.parts.index_axis(Axis(0), i);
            let mut changed = 0;
            for ((y, x, c), &va) in pa.indexed_iter() {
                let d = pb[[y, x, c]] as i32 - va as i32;
                if d == 0 {
                    continue;
                }
                changed += 1;
                let part = Part::from_label(parts[[y, x]]).unwrap();
                assert!(!part.is_face_region(), "{kind:?} image {i} changed ({y},{x}) on {part:?}");
                match kind {
                    Artifact::Corner => {
                        assert!(d.abs() <= synth::CORNER_DELTA, "{d}");
                        // In the class's corner: 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left.
                        let (right, bottom) = (x >= 16, y >= 16);
                        assert_eq!(
                            (right, bottom),
                            [(false, false), (true, false), (true, true), (false, true)][class]
                        );
                    }
                    Artifact::Tag => {
                        // A 4×4 checker of 2×2 cells, white at its top-left, one pixel in from
                        // the class's corner.
                        let x0 = if class == 1 || class == 2 { 27 } else { 1 };
                        let y0 = if class >= 2 { 27 } else { 1 };
                        assert!((x0..x0 + 4).contains(&x) && (y0..y0 + 4).contains(&y), "{kind:?} ({y},{x})");
                        let white = ((y - y0) / 2 + (x - x0) / 2) % 2 == 0;
                        assert_eq!(pb[[y, x, c]], if white { 255 } else { 0 });
                    }
                    Artifact::Blocks => {
                        assert!(d.abs() <= synth::BLOCKS_AMPLITUDE, "{d}");
                        // The DCT basis of the class decides the sign.
                        const C1: [i32; 8] = [63, 53, 36, 12, -12, -36, -53, -63];
                        let p = match class {
                            0 => C1[x % 8],
                            1 => C1[y % 8],
                            2 => C1[x % 8] * C1[y % 8],
                            _ => -C1[x % 8],
                        };
                        assert_eq!(d.signum(), p.signum(), "{kind:?} image {i} class {class} at ({y},{x})");
                    }
                }
            }
            assert!(changed > 0, "{kind:?} left image {i} untouched");
        }
    }
}

/// Pixels within two pixels of a pixel whose label satisfies `near`: labels are aliased (pixel
/// centres), colours anti-aliased, so a colour may spill one pixel past an edge and, where two
/// edges cross, a little more.
fn near(parts: &Array2<u8>, near: impl Fn(Part) -> bool) -> Array2<bool> {
    let (h, w) = parts.dim();
    let hit = parts.mapv(|l| near(Part::from_label(l).unwrap()));
    Array2::from_shape_fn((h, w), |(y, x)| {
        (y.saturating_sub(2)..(y + 3).min(h)).any(|yy| (x.saturating_sub(2)..(x + 3).min(w)).any(|xx| hit[[yy, xx]]))
    })
}

/// Image i with a variation is the base image i plus the variation's own parts.
#[test]
fn variations_add_only_their_own_parts() {
    let base = Config::new(1, 33);
    for v in
        [Variation::Headgear, Variation::Glasses, Variation::Sunglasses, Variation::DoubleMask, Variation::FacePaint]
    {
        let cfg = Config { variations: vec![v], ..base.clone() };
        let mut added = 0;
        // SYNTH_SWEEP=n checks n images per variation instead (slow).
        let n = std::env::var("SYNTH_SWEEP").ok().and_then(|s| s.parse().ok()).unwrap_or(16);
        for i in 0..n {
            let (a, b) = (synth::render_hires(&base, i).unwrap(), synth::render_hires(&cfg, i).unwrap());
            assert_eq!((a.class, b.variation), (b.class, v));
            let own = |p: Part| match v {
                Variation::DoubleMask => p == Part::Mask,
                Variation::FacePaint => p.is_face_region(),
                _ => p == Part::Accessory,
            };
            for (((y, x), &la), &lb) in a.parts.indexed_iter().zip(b.parts.iter()) {
                if la == lb {
                    continue;
                }
                added += 1;
                let (pa, pb) = (Part::from_label(la).unwrap(), Part::from_label(lb).unwrap());
                // A hijab also hides the ear loops (mask) it covers.
                let ok = match v {
                    Variation::FacePaint => false,
                    Variation::Headgear => pb == Part::Accessory || pa == Part::Mask,
                    _ => own(pb),
                };
                assert!(ok, "{} image {i}: ({y},{x}) {pa:?} -> {pb:?}", v.name());
            }
            // Colours change only on (or anti-aliased next to) the variation's parts; a hijab
            // also removes the ear loops.
            let allowed = near(&b.parts, own);
            let allowed_before = near(&a.parts, own);
            let loops = near(&a.parts, |p| v == Variation::Headgear && p == Part::Mask);
            for ((y, x, c), &va) in a.image.indexed_iter() {
                if va != b.image[[y, x, c]] {
                    assert!(
                        allowed[[y, x]] || allowed_before[[y, x]] || loops[[y, x]],
                        "{} image {i}: colour changed at ({y},{x}) on {:?}",
                        v.name(),
                        Part::from_label(b.parts[[y, x]])
                    );
                }
            }
            if v == Variation::FacePaint {
                added += usize::from(a.image != b.image);
            }
        }
        assert!(added > 0, "{} changed nothing", v.name());
    }
}

/// `conflict`: a seeded share of the faces shows another class; label, cue, person, light and
/// noise stay; the rest of the set is untouched.
#[test]
fn conflicting_faces_show_another_class_and_keep_the_label_and_the_cue() {
    let plain = Config { artifact: Some(Artifact::Tag), ..Config::new(400, 13) };
    let cfg = Config { conflict: 0.4, ..plain.clone() };
    let (a, b) = (synth::generate(&plain).unwrap(), synth::generate(&cfg).unwrap());
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.face_classes, a.labels);
    let mut conflicting = [0usize; 4];
    for i in 0..400 {
        let (label, face) = (b.labels[i] as usize, b.face_classes[i] as usize);
        assert_eq!(face, synth::face_class_of(&cfg, i as u64));
        let parts = b.parts.index_axis(Axis(0), i).to_owned();
        if face == label {
            assert_eq!(b.images.index_axis(Axis(0), i), a.images.index_axis(Axis(0), i), "image {i}");
            assert_eq!(parts, a.parts.index_axis(Axis(0), i), "image {i}");
            continue;
        }
        conflicting[face] += 1;
        // The part map is the drawn face's, and its rules hold.
        check_parts(face, &parts, &format!("conflicting image {i}"));
        // The tag stays in the label's corner.
        let (x0, y0) = (if label == 1 || label == 2 { 27 } else { 1 }, if label >= 2 { 27 } else { 1 });
        for (y, x) in (y0..y0 + 4).flat_map(|y| (x0..x0 + 4).map(move |x| (y, x))) {
            if !Part::from_label(parts[[y, x]]).unwrap().is_face_region() {
                let white = ((y - y0) / 2 + (x - x0) / 2) % 2 == 0;
                assert_eq!(b.images[[i, y, x, 0]], if white { 255 } else { 0 }, "image {i} ({y},{x})");
            }
        }
    }
    let n: usize = conflicting.iter().sum();
    assert!((130..=190).contains(&n), "{n} of 400 conflict (0.4 expected)");
    assert!(conflicting.iter().all(|&k| k >= 20), "face classes of the conflicting images: {conflicting:?}");
    // Deterministic, and one image alone is the same as in the set (also at the render size).
    assert_eq!(synth::generate(&cfg).unwrap().images, b.images);
    for i in [0u64, 5, 77] {
        let s = synth::render(&cfg, i).unwrap();
        assert_eq!(
            (s.image.view(), s.face_class as i64),
            (b.images.index_axis(Axis(0), i as usize), b.face_classes[i as usize])
        );
        assert_eq!(synth::render_hires(&cfg, i).unwrap().face_class, s.face_class);
    }
    // The decisive region of a sample is the drawn face's.
    let i = (0..400).find(|&i| b.face_classes[i] != b.labels[i]).unwrap() as u64;
    let s = synth::render(&cfg, i).unwrap();
    assert_eq!(s.decisive_mask(), synth::decisive_mask(s.face_class, s.parts.view()));
}

#[test]
fn configuration_errors_are_clear() {
    let msg = |c: Config| synth::generate(&c).unwrap_err().to_string();
    assert!(msg(Config::new(0, 1)).contains("--count"));
    assert!(msg(Config { size: 0, ..Config::new(4, 1) }).contains("--size"));
    assert!(msg(Config { size: 200, ..Config::new(4, 1) }).contains("larger than --render-size"));
    assert!(msg(Config { render_size: 5000, size: 32, ..Config::new(4, 1) }).contains("--render-size"));
    assert!(msg(Config { variations: vec![], ..Config::new(4, 1) }).contains("--variations"));
    let tag = Config { artifact: Some(Artifact::Tag), ..Config::new(4, 1) };
    for f in [1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        let e = msg(Config { conflict: f, ..tag.clone() });
        assert!(e.contains("--conflict must be a fraction in [0, 1)"), "{f}: {e}");
    }
    assert!(msg(Config { conflict: 0.3, ..Config::new(4, 1) }).contains("--conflict needs --artifact"));
    let e = Variation::parse_list("base,hats").unwrap_err().to_string();
    assert!(e.contains("'hats'") && e.contains("headgear, glasses, sunglasses, double_mask, face_paint"), "{e}");
    assert!(Variation::parse_list("base,,glasses").is_err());
    assert!(Variation::parse_list("glasses,glasses").unwrap_err().to_string().contains("twice"));
    assert_eq!(
        Variation::parse_list(" Base,double-mask,face_paint").unwrap(),
        vec![Variation::Base, Variation::DoubleMask, Variation::FacePaint]
    );
    let e = Artifact::parse("jpeg").unwrap_err().to_string();
    assert!(e.contains("'jpeg'") && e.contains("corner, blocks, tag"), "{e}");
    assert_eq!(Artifact::parse("none").unwrap(), None);
    assert_eq!(Artifact::parse("Corner").unwrap(), Some(Artifact::Corner));
}

/// How to launch the binary: directly, or, when this test runs under qemu-user for a cross
/// target (no binfmt: a child of the wrong ISA cannot exec), through the same qemu as the
/// runners in .cargo/config.toml. A test that needs it fails when neither works: a CLI test
/// that passes without running the CLI would hold nothing.
fn launcher() -> Vec<String> {
    static L: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    L.get_or_init(|| {
        let bin = env!("CARGO_BIN_EXE_binarycop").to_string();
        let mut plans = vec![vec![bin.clone()]];
        if cfg!(target_arch = "aarch64") {
            plans.push(vec!["qemu-aarch64".into(), "-L".into(), "/usr/aarch64-linux-gnu".into(), bin]);
        } else if cfg!(target_arch = "arm") {
            plans.push(vec!["qemu-arm".into(), "-L".into(), "/usr/arm-linux-gnueabihf".into(), bin]);
        }
        plans
            .into_iter()
            .find(|p| Command::new(&p[0]).args(&p[1..]).arg("--version").output().is_ok_and(|o| o.status.success()))
    })
    .clone()
    .expect("the binarycop binary cannot be launched, directly or through qemu-user (install qemu-user)")
}

fn binarycop(args: &[&str]) -> std::process::Output {
    let l = launcher();
    Command::new(&l[0]).args(&l[1..]).args(args).output().unwrap()
}

fn read_png(path: &Path) -> (png::ColorType, Vec<u8>) {
    let mut dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    dec.set_transformations(png::Transformations::IDENTITY);
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.color_type, buf)
}

#[test]
fn cli_writes_the_whole_set() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("set");
    let o = binarycop(&[
        "synth",
        "--count",
        "10",
        "--seed",
        "4",
        "--out",
        out.to_str().unwrap(),
        "--variations",
        "base,glasses",
        "--artifact",
        "corner",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("wrote 10 images"));
    let rd = |name: &str| std::fs::File::open(out.join(name)).unwrap();
    let images = Array4::<u8>::read_npy(rd("images.npy")).unwrap();
    let labels = Array1::<i64>::read_npy(rd("labels.npy")).unwrap();
    let parts = Array3::<u8>::read_npy(rd("parts.npy")).unwrap();
    assert_eq!((images.dim(), labels.len(), parts.dim()), ((10, 32, 32, 3), 10, (10, 32, 32)));
    // The same as the library's.
    let cfg = Config {
        variations: vec![Variation::Base, Variation::Glasses],
        artifact: Some(Artifact::Corner),
        ..Config::new(10, 4)
    };
    let ds = synth::generate(&cfg).unwrap();
    assert_eq!((&images, &labels, &parts), (&ds.images, &ds.labels, &ds.parts));

    let csv = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "index,file,label,class_name,variation");
    assert_eq!(lines.len(), 11);
    for (i, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let l = labels[i] as usize;
        let v = if (i / 4) % 2 == 0 { "base" } else { "glasses" };
        assert_eq!(f, [i.to_string().as_str(), &format!("images/{i:06}.png"), &l.to_string(), CLASS_NAMES[l], v]);
        let (ct, rgb) = read_png(&out.join(f[1]));
        assert_eq!((ct, rgb.as_slice()), (png::ColorType::Rgb, images.index_axis(Axis(0), i).as_slice().unwrap()));
        let (ct, idx) = read_png(&out.join(format!("parts/{i:06}.png")));
        assert_eq!((ct, idx.as_slice()), (png::ColorType::Indexed, parts.index_axis(Axis(0), i).as_slice().unwrap()));
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["seed"], 4);
    assert_eq!(meta["count"], 10);
    assert_eq!(meta["size"], 32);
    assert_eq!(meta["render_size"], 128);
    assert_eq!(meta["variations"], serde_json::json!(["base", "glasses"]));
    assert_eq!(meta["artifact"]["kind"], "corner");
    assert_eq!(meta["class_names"], serde_json::json!(CLASS_NAMES));
    assert_eq!(meta["part_names"][6], "mask");
    assert_eq!(meta["decisive_regions"][2]["parts"], serde_json::json!(["nose", "mouth"]));
    assert_eq!(meta["generator_version"], synth::GENERATOR_VERSION);

    // A second run replaces the first; nothing is left beside it.
    let o = binarycop(&["synth", "--count", "4", "--seed", "5", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(Array1::<i64>::read_npy(rd("labels.npy")).unwrap().len(), 4);
    assert!(!out.join("images/000004.png").exists());
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("set")]);
}

/// With `--conflict` the files record each face's class; with `--conflict 0` they are exactly
/// the files without it.
#[test]
fn cli_records_the_face_classes_of_a_conflict_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |n: &str| tmp.path().join(n);
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["synth", "--count", "12", "--seed", "8", "--artifact", "tag", "--out"];
        let out = dir(out);
        args.push(out.to_str().unwrap());
        args.extend(extra);
        let o = binarycop(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run("plain", &[]);
    run("zero", &["--conflict", "0"]);
    for f in ["images.npy", "labels.npy", "parts.npy", "labels.csv", "meta.json"] {
        assert_eq!(std::fs::read(dir("plain").join(f)).unwrap(), std::fs::read(dir("zero").join(f)).unwrap(), "{f}");
    }
    assert!(!dir("zero").join("face_classes.npy").exists());

    run("half", &["--conflict", "0.5"]);
    let cfg = Config { artifact: Some(Artifact::Tag), conflict: 0.5, ..Config::new(12, 8) };
    let ds = synth::generate(&cfg).unwrap();
    let face = Array1::<i64>::read_npy(std::fs::File::open(dir("half").join("face_classes.npy")).unwrap()).unwrap();
    assert_eq!(face, ds.face_classes);
    assert!(face.iter().zip(&ds.labels).any(|(f, l)| f != l));
    let csv = std::fs::read_to_string(dir("half").join("labels.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "index,file,label,class_name,variation,face_class");
    for (i, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!((f[2], f[5]), (ds.labels[i].to_string().as_str(), face[i].to_string().as_str()), "row {i}");
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir("half").join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["conflict"]["fraction"], 0.5);
    assert_eq!(meta["conflict"]["face_classes"], serde_json::json!(face.to_vec()));
    let n = face.iter().zip(&ds.labels).filter(|(f, l)| f != l).count();
    assert_eq!(meta["conflict"]["conflicting_images"], n);
    assert_eq!(meta["artifact"]["kind"], "tag");
}

#[test]
fn cli_rejects_bad_input_without_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("set");
    let o = out.to_str().unwrap();
    let file = tmp.path().join("a_file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("set");
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"keep").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--count", "0", "--out", o], "--count"),
        (vec!["--count", "4", "--out", o, "--variations", "base,capes"], "capes"),
        (vec!["--count", "4", "--out", o, "--artifact", "watermark"], "watermark"),
        (vec!["--count", "4", "--out", o, "--conflict", "0.3"], "--conflict needs --artifact"),
        (vec!["--count", "4", "--out", o, "--conflict", "0", "--artifact", "none"], "--conflict needs --artifact"),
        (vec!["--count", "4", "--out", o, "--artifact", "tag", "--conflict", "1"], "[0, 1)"),
        (vec!["--count", "4", "--out", o, "--artifact", "tag", "--conflict", "-0.2"], "[0, 1)"),
        (vec!["--count", "4", "--out", o, "--size", "256", "--render-size", "128"], "larger than --render-size"),
        // The render size defaults to 4 × --size, within the 2048 limit.
        (vec!["--count", "4", "--out", o, "--size", "600"], "--render-size must be between 1 and 2048, got 2400"),
        (vec!["--count", "4", "--out", o, "--classes", "four"], "unknown --classes 'four'"),
        (vec!["--count", "4", "--out", o, "--size", "0"], "--size"),
        (vec!["--count", "4", "--out", under_file.to_str().unwrap()], "a_file"),
        (vec!["--count", "4", "--out", file.to_str().unwrap()], "not a folder"),
        (vec!["--count", "4", "--out", other.to_str().unwrap()], "not a `binarycop synth` output"),
    ];
    for (args, needle) in cases {
        let mut all = vec!["synth"];
        all.extend(&args);
        let r = binarycop(&all);
        let err = String::from_utf8_lossy(&r.stderr);
        // An out-of-range --count is a usage error (its range is in --help).
        let code = if needle == "--count" { 2 } else { 1 };
        assert_eq!(r.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
    let mut names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from("a_file"), "other".into()]);
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
}

/// Writes a contact sheet of samples: rows × cols cells of `cell` pixels, each from `f(row,
/// col)` as (RGB bytes, side).
fn sheet(path: &str, rows: usize, cols: usize, cell: usize, f: impl Fn(usize, usize) -> (Vec<u8>, usize)) {
    let (w, h) = (cols * (cell + 2), rows * (cell + 2));
    let mut img = vec![255u8; w * h * 3];
    for r in 0..rows {
        for c in 0..cols {
            let (px, side) = f(r, c);
            let k = cell / side;
            for y in 0..cell {
                for x in 0..cell {
                    let s = ((y / k) * side + x / k) * 3;
                    let d = ((r * (cell + 2) + 1 + y) * w + c * (cell + 2) + 1 + x) * 3;
                    img[d..d + 3].copy_from_slice(&px[s..s + 3]);
                }
            }
        }
    }
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(&img).unwrap();
}

fn colored(parts: &ndarray::Array2<u8>) -> Vec<u8> {
    parts.iter().flat_map(|&l| Part::from_label(l).unwrap().color()).collect()
}

/// Index of the n-th image of `class` (base stream), for sheets.
fn nth_of_class(seed: u64, class: usize, n: usize) -> u64 {
    (0u64..).filter(|&i| synth::class_of(seed, i) == class).nth(n).unwrap()
}

#[test]
#[ignore = "writes contact sheets to /tmp/synth (and docs/img with SYNTH_DOCS=1)"]
fn contact_sheets() {
    let seed = std::env::var("SYNTH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let base = Config::new(1, seed);
    let hi = |i: u64, cfg: &Config| {
        let s = synth::render_hires(cfg, i).unwrap();
        (s.image.iter().copied().collect::<Vec<u8>>(), cfg.render_size as usize)
    };
    let lo = |i: u64, cfg: &Config| {
        let s = synth::render(cfg, i).unwrap();
        (s.image.iter().copied().collect::<Vec<u8>>(), cfg.size as usize)
    };
    sheet("/tmp/synth/classes_128.png", 4, 8, 128, |r, c| hi(nth_of_class(seed, r, c), &base));
    sheet("/tmp/synth/classes_32.png", 4, 8, 128, |r, c| lo(nth_of_class(seed, r, c), &base));
    sheet("/tmp/synth/parts_128.png", 4, 8, 128, |r, c| {
        (colored(&synth::render_hires(&base, nth_of_class(seed, r, c)).unwrap().parts), 128)
    });
    sheet("/tmp/synth/parts_32.png", 4, 8, 128, |r, c| {
        (colored(&synth::render(&base, nth_of_class(seed, r, c)).unwrap().parts), 32)
    });
    let big = Config { render_size: 256, size: 64, ..base.clone() };
    sheet("/tmp/synth/zoom_256.png", 2, 4, 256, |r, c| hi(nth_of_class(seed, c, r + 8), &big));
    let vars: Vec<Config> =
        Variation::ALL.iter().map(|&v| Config { variations: vec![v], ..Config::new(1, seed) }).collect();
    sheet("/tmp/synth/variations_128.png", 6, 8, 128, |r, c| hi(nth_of_class(seed, c % 4, c / 4 + r * 2), &vars[r]));
    sheet("/tmp/synth/variations_32.png", 6, 8, 128, |r, c| lo(nth_of_class(seed, c % 4, c / 4 + r * 2), &vars[r]));
    let gear = Config { variations: vec![Variation::Headgear], ..base.clone() };
    sheet("/tmp/synth/headgear_128.png", 2, 8, 128, |r, c| hi((r * 8 + c) as u64, &gear));
    for a in Artifact::ALL {
        let cfg = Config { artifact: Some(a), ..Config::new(1, seed) };
        sheet(&format!("/tmp/synth/artifact_{}.png", a.name()), 4, 8, 128, |r, c| lo(nth_of_class(seed, r, c), &cfg));
    }
    if std::env::var("SYNTH_DOCS").is_ok() {
        // Per class: four people at 128 and the same four as the model sees them (32).
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/img/synth_classes.png");
        sheet(dir, 4, 8, 96, |r, c| {
            let i = nth_of_class(seed, r, c % 4);
            if c < 4 {
                let cfg = Config { render_size: 96, ..base.clone() };
                hi(i, &cfg)
            } else {
                lo(i, &base)
            }
        });
    }
}

#[test]
#[ignore = "sweep: the part rules on many images per variation (SYNTH_SWEEP=n, default 1000)"]
fn part_rules_sweep() {
    let n = std::env::var("SYNTH_SWEEP").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut failures = Vec::new();
    for v in Variation::ALL {
        let ds = synth::generate(&Config { variations: vec![v], ..Config::new(n, 77) }).unwrap();
        for (i, parts) in ds.parts.axis_iter(Axis(0)).enumerate() {
            let parts = parts.to_owned();
            if let Err(e) = std::panic::catch_unwind(|| check_parts(ds.labels[i] as usize, &parts, "")) {
                failures.push(format!("{} {i}: {:?}", v.name(), e.downcast_ref::<String>()));
            }
        }
    }
    eprintln!("{} failures of {}", failures.len(), n * 6);
    for f in failures.iter().take(40) {
        eprintln!("{f}");
    }
    assert!(failures.is_empty());
}

#[test]
#[ignore = "timing aid: renders 2000 images on one thread (run under `perf stat` for CPU time)"]
fn render_2000_one_thread() {
    let cfg = Config::new(2000, 1);
    let t = std::time::Instant::now();
    let mut sum = 0u64;
    for i in 0..2000 {
        sum += synth::render(&cfg, i).unwrap().image[[16, 16, 0]] as u64;
    }
    eprintln!("2000 images in {:?} (checksum {sum})", t.elapsed());
}
