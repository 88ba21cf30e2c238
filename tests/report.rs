//! Figures and reports: a grid's header text is drawn (the header band has ink only when the
//! headers have text; a golden checksum of the pixels on x86_64, where the text rasterizer's
//! floats are known), the SVG carries the same text, and the demo's report is self-contained,
//! small, captioned and links only to files it wrote.

mod common;

use binarycop::demo::{self, models, Options};
use binarycop::progress::Progress;
use binarycop::report::grid::{Block, Grid, Layout, Prediction, Row, RowLabel, Tile};
use image::RgbImage;
use ndarray::Array2;

const COLUMNS: [&str; 4] = ["Raw", "Grad-CAM deployed", "Grad-CAM training", "LayerCAM Conv1_2 identity STE"];

/// A fixed grid: two blocks of coloured 32×32 tiles, one wrong prediction, one outline.
fn grid(columns: &[&str]) -> Grid {
    let tile = |seed: u32| {
        Tile::new(RgbImage::from_fn(32, 32, |x, y| {
            let v = x.wrapping_mul(7).wrapping_add(y.wrapping_mul(13)).wrapping_add(seed * 29);
            image::Rgb([(v % 256) as u8, ((v * 3) % 256) as u8, ((v * 5) % 256) as u8])
        }))
    };
    let region = Array2::from_shape_fn((32, 32), |(y, x)| (10..20).contains(&y) && (8..24).contains(&x));
    let row = |truth: &str, pred: &str, seed: u32| Row {
        label: RowLabel::classified(truth, Some(Prediction { class: pred.into(), score: 0.875 })),
        tiles: (0..columns.len() as u32)
            .map(|c| tile(seed + c).with_outline(Some(region.clone()).filter(|_| c > 0)))
            .collect(),
    };
    Grid {
        label_header: columns.first().map_or("", |_| "Label").into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        blocks: vec![
            Block {
                caption: "(a) Correctly masked".into(),
                rows: vec![row("Correctly masked", "Correctly masked", 1)],
            },
            Block { caption: "(b) Nose exposed".into(), rows: vec![row("Nose exposed", "Chin exposed", 5)] },
        ],
        layout: Layout::default(),
    }
}

#[test]
fn header_text_is_drawn_in_the_header_band() {
    let labelled = grid(&COLUMNS);
    let blank = Grid { label_header: String::new(), columns: vec![String::new(); COLUMNS.len()], ..labelled.clone() };
    // Pixels off the background in each header band (between the top rule and the double rule).
    let ink = |g: &Grid| -> Vec<usize> {
        let img = g.figure().unwrap().to_rgb();
        g.header_bands()
            .into_iter()
            .map(|b| {
                let (x0, y0, x1, y1) = (b.x as u32, b.y.ceil() as u32, (b.x + b.w) as u32, (b.y + b.h) as u32);
                (y0..y1)
                    .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                    .filter(|&(x, y)| img.get_pixel(x, y).0 != [255; 3])
                    .count()
            })
            .collect()
    };
    assert_eq!(ink(&blank), vec![0, 0], "an empty header leaves its band white");
    for n in ink(&labelled) {
        assert!(n > 400, "a header band has only {n} non-background pixels");
    }
    // The SVG has the same words as text.
    let svg = labelled.figure().unwrap().to_svg().unwrap();
    for c in COLUMNS.iter().flat_map(|c| c.split_whitespace()) {
        assert!(svg.contains(c), "{c} is not in the SVG");
    }
    assert!(svg.contains("✗ pred. Chin") && svg.contains("✓ pred. 0.88"), "the predictions are marked");
}

/// The rendered pixels, fixed on x86_64 (ab_glyph's rasterizer uses floats; other ISAs may
/// differ in the last bit of coverage).
#[cfg(target_arch = "x86_64")]
#[test]
fn golden_checksum_of_a_grid() {
    const GOLDEN: u64 = 0x81cd_c496_b847_7af7;
    let img = grid(&COLUMNS).figure().unwrap().to_rgb();
    let h = common::fnv1a(img.as_raw(), common::fnv1a(&[img.width() as u8, img.height() as u8], 0xcbf2_9ce4_8422_2325));
    assert_eq!(h, GOLDEN, "the grid's pixels changed: {h:#018x} ({}x{})", img.width(), img.height());
}

#[test]
fn the_demo_report_is_small_self_contained_and_captioned() {
    let dir = tempfile::tempdir().unwrap();
    let opts =
        Options { out: dir.path().join("d"), per_class: 2, per_variation: 1, outline: true, ..Options::default() };
    demo::run(&[models::load("ucnv").unwrap(), models::load("ncnv").unwrap()], &opts, &Progress::hidden()).unwrap();
    let html = std::fs::read_to_string(opts.out.join("report.html")).unwrap();
    assert!(html.len() < 600_000, "report.html is {} bytes", html.len());
    assert!(!html.contains("<script") && !html.contains("src=\"http"), "the report loads nothing from outside");
    // Every figure has a caption, every thumbnail links to a file the demo wrote.
    assert_eq!(html.matches("<figure>").count(), html.matches("<figcaption>").count());
    for part in html.split("href=\"").skip(1) {
        let href = part.split('"').next().unwrap();
        if !href.starts_with('#') {
            assert!(opts.out.join(href).is_file(), "{href} is linked but missing");
        }
    }
    for f in ["paper_gradcam.png", "paper_layercam.svg", "ucnv_pointing.svg", "ncnv_classes.svg", "latching.svg"] {
        assert!(html.contains(f), "{f} is not linked");
    }
    // The generalization sets are columns of their own, and the summary comes first.
    for set in ["headgear", "glasses", "sunglasses", "double mask", "face paint"] {
        assert!(html.contains(&format!("<th>{set}</th>")), "{set}");
    }
    assert!(html.find("id=\"summary\"").unwrap() < html.find("id=\"model-ucnv\"").unwrap());
}
