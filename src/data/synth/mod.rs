//! Synthetic masked faces with a ground-truth part map per pixel, so that what a classifier
//! looks at (Grad-CAM) can be scored against where the decisive evidence is.
//!
//! # Classes
//! The index order is fixed and matches BinaryCoP's four outputs (MaskedFace-Net names):
//!
//! | index | name | MaskedFace-Net | the mask |
//! | --- | --- | --- | --- |
//! | 0 | `correctly_masked` | CMFD | covers nose, mouth and chin |
//! | 1 | `nose_exposed` | IMFD Nose | below the nose, over mouth and chin |
//! | 2 | `nose_mouth_exposed` | IMFD Nose+Mouth | only on the chin (its upper part stays bare) |
//! | 3 | `chin_exposed` | IMFD Chin | over nose and mouth, the chin bare |
//!
//! `--classes published` ([`ClassSet::Published`]) gives instead the three classes of BinaryCoP's
//! published deployment (its notebook's `class_dict`):
//!
//! | index | name | the face |
//! | --- | --- | --- |
//! | 0 | `correctly_masked` (Correctly Masked) | as class 0 above |
//! | 1 | `incorrectly_worn` (Incorrectly Worn) | one of the three ways above, drawn uniformly per image: nose, nose and mouth, or chin exposed |
//! | 2 | `no_mask` (No Mask) | no mask: nose, mouth and chin bare |
//!
//! How each face wears its mask is a [`Wear`]; the paper's class k is `Wear` k, and a face
//! without a mask draws the same person as a correctly masked one, without the mask.
//!
//! # Part labels
//! `0 background` (everything that is not the head: wall, clutter, clothing), `1 face` (skin,
//! also ears and neck), `2 nose` (below the bridge, where a well-worn mask's top edge sits, down
//! to the nostrils), `3 mouth` (lips and the open mouth), `4 chin` (the face below the mouth,
//! inside an ellipse under the lower lip), `5 eyes` (eyes and eyebrows), `6 mask` (every mask,
//! with its ear loops), `7 accessories` (head gear, glasses frames, sunglasses), `8 hair`.
//! Occlusion is resolved in painter's order: a pixel has the label of what is visible there, so
//! the nose under a mask is `mask`. Clear glasses lenses keep the eyes' label; face paint keeps
//! the skin's labels. At the render size a pixel's label is the part under its centre; at the
//! model size it is the part covering most of the pixel's area (ties to the lower label).
//! Part PNGs are palette images whose indices are the labels ([`Part::color`] the palette).
//!
//! # Decisive regions
//! What a classifier that decides for the right reasons should look at ([`decisive_region`],
//! [`Wear::decisive_region`]): class 0 → `mask` (for a correctly worn mask the evidence is the
//! mask itself covering nose, mouth and chin: there is no exposed part to point at, and the
//! mask's upper edge, where the paper's RoI traces, is part of it), 1 → `nose`, 2 → `nose` ∪
//! `mouth`, 3 → `chin`. Published classes: Correctly Masked → `mask`; Incorrectly Worn → what
//! its face leaves bare (as the paper class it is drawn as: `nose`, `nose` ∪ `mouth` or `chin`,
//! per image); No Mask → `nose` ∪ `mouth` ∪ `chin`, the lower face a mask should cover.
//!
//! # Sampling, balance, determinism
//! Images come in blocks of four (three for the published classes), one of each class in a
//! seeded order within the block, so the classes are balanced (exactly when the count is a
//! multiple of the block, otherwise within one) without a periodic label sequence. An
//! incorrectly worn published face draws its [`Wear`] from a stream of its own. Block `b` uses variation `variations[b % len]`, so
//! every listed variation gets balanced classes too. Each image draws from its own ChaCha
//! streams keyed by (seed, index): rendering is independent of the count and of other images,
//! and the variation's extras come from a separate stream, so image `i` under `glasses` is the
//! `base` image `i` with glasses. Drawing uses tiny-skia without SIMD and with libm floats, the
//! rest is integer or plain IEEE f32 arithmetic: the bytes are the same on every machine
//! (tests/synth.rs holds a golden checksum, run natively and under qemu for aarch64/armv7).
//!
//! # Spurious cues (`--artifact`) and conflicting faces (`--conflict F`)
//! Added at the model size after the noise, only on pixels outside the face (labels 0, 7, 8),
//! see [`Artifact`]. The cue always follows the label. With `--conflict F` (0 ≤ F < 1, only
//! together with an artifact) a seeded fraction F of the images show a face of another class
//! than their label: image `i` draws from its own stream whether it conflicts (probability F)
//! and, if so, which of the three other classes its face shows (uniformly). The person (face,
//! features, hair, background) is the one drawn without the conflict; the mask is worn as the
//! face class wears it (its look and the light, drawn after it, come out differently too), and
//! the part map is that face's.
//! On such a set the cue predicts the label always and the face only in 1 − F of the images,
//! so a network minimising its loss has every reason to learn the cue: this is how a
//! shortcut arises on real data, where the spurious cue is more reliable than the intended
//! one. The face class is recorded per image ([`Dataset::face_classes`], and in the files).
//! With F = 0 (the default) no stream is drawn and every output is byte-identical to a set
//! generated without the option.

mod draw;
mod folders;
mod output;
mod paint;
mod post;
mod rng;

use ndarray::{Array1, Array2, Array3, Array4, ArrayView2, Axis};
use rayon::prelude::*;

pub use folders::write_folders_observed;
pub use output::{write_set, write_set_observed, SetSummary, CHUNK};
pub use post::{BLOCKS_AMPLITUDE, CORNER_DELTA};

use crate::error::{Error, Result};
use crate::limits::MAX_SYNTH_COUNT;
use rng::{Rng, Stream};

/// Bumped whenever the same configuration would draw different images.
pub const GENERATOR_VERSION: u32 = 1;

pub const CLASSES: usize = 4;
pub const CLASS_NAMES: [&str; CLASSES] = ["correctly_masked", "nose_exposed", "nose_mouth_exposed", "chin_exposed"];
/// The same classes as MaskedFace-Net names them.
pub const MASKEDFACE_NET_NAMES: [&str; CLASSES] = ["CMFD", "IMFD_Nose", "IMFD_Nose_Mouth", "IMFD_Chin"];

/// BinaryCoP's published deployment's classes (`--classes published`).
pub const PUBLISHED_CLASS_NAMES: [&str; 3] = ["correctly_masked", "incorrectly_worn", "no_mask"];
/// As the deployment notebook prints them (its `class_dict`).
pub const PUBLISHED_DISPLAY_NAMES: [&str; 3] = ["Correctly Masked", "Incorrectly Worn", "No Mask"];

pub const PART_COUNT: usize = 9;

/// How a drawn face wears its mask. The paper's class k is `Wear` k.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wear {
    Correct = 0,
    NoseExposed = 1,
    NoseMouthExposed = 2,
    ChinExposed = 3,
    NoMask = 4,
}

impl Wear {
    pub const ALL: [Wear; 5] =
        [Wear::Correct, Wear::NoseExposed, Wear::NoseMouthExposed, Wear::ChinExposed, Wear::NoMask];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        ["correctly_masked", "nose_exposed", "nose_mouth_exposed", "chin_exposed", "no_mask"][self as usize]
    }

    /// The paper class whose mask placement is drawn (a face without a mask draws the random
    /// numbers of a correctly placed one).
    pub(crate) fn mask_class(self) -> usize {
        match self {
            Wear::NoMask => 0,
            w => w as usize,
        }
    }

    /// The parts a correct classifier should look at for a face worn this way.
    pub fn decisive_region(self) -> &'static [Part] {
        match self {
            Wear::Correct => &[Part::Mask],
            Wear::NoseExposed => &[Part::Nose],
            Wear::NoseMouthExposed => &[Part::Nose, Part::Mouth],
            Wear::ChinExposed => &[Part::Chin],
            Wear::NoMask => &[Part::Nose, Part::Mouth, Part::Chin],
        }
    }
}

/// Which classes a set is labelled with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClassSet {
    /// The paper's four (MaskedFace-Net's CMFD and three IMFD kinds).
    #[default]
    Paper,
    /// The published deployment's three: Correctly Masked, Incorrectly Worn, No Mask.
    Published,
}

impl ClassSet {
    pub fn parse(name: &str) -> Result<ClassSet> {
        match name.trim().to_ascii_lowercase().as_str() {
            "paper" => Ok(ClassSet::Paper),
            "published" => Ok(ClassSet::Published),
            other => Err(Error::invalid(format!(
                "unknown --classes '{other}'; known: paper (4 classes, the paper's), published (3 classes, BinaryCoP's \
                 published deployment)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ClassSet::Paper => "paper",
            ClassSet::Published => "published",
        }
    }

    pub fn count(self) -> usize {
        self.names().len()
    }

    pub fn names(self) -> &'static [&'static str] {
        match self {
            ClassSet::Paper => &CLASS_NAMES,
            ClassSet::Published => &PUBLISHED_CLASS_NAMES,
        }
    }

    /// The ways of wearing a mask that make up `class`.
    pub fn wears(self, class: usize) -> &'static [Wear] {
        const PAPER: [&[Wear]; 4] =
            [&[Wear::Correct], &[Wear::NoseExposed], &[Wear::NoseMouthExposed], &[Wear::ChinExposed]];
        const PUBLISHED: [&[Wear]; 3] =
            [&[Wear::Correct], &[Wear::NoseExposed, Wear::NoseMouthExposed, Wear::ChinExposed], &[Wear::NoMask]];
        match self {
            ClassSet::Paper => PAPER.get(class).copied().unwrap_or(&[]),
            ClassSet::Published => PUBLISHED.get(class).copied().unwrap_or(&[]),
        }
    }
}

/// A part label (the value stored in part maps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Part {
    Background = 0,
    Face = 1,
    Nose = 2,
    Mouth = 3,
    Chin = 4,
    Eyes = 5,
    Mask = 6,
    Accessory = 7,
    Hair = 8,
}

impl Part {
    pub const ALL: [Part; PART_COUNT] = [
        Part::Background,
        Part::Face,
        Part::Nose,
        Part::Mouth,
        Part::Chin,
        Part::Eyes,
        Part::Mask,
        Part::Accessory,
        Part::Hair,
    ];

    pub fn label(self) -> u8 {
        self as u8
    }

    pub fn from_label(label: u8) -> Option<Part> {
        Part::ALL.get(label as usize).copied()
    }

    pub fn name(self) -> &'static str {
        ["background", "face", "nose", "mouth", "chin", "eyes", "mask", "accessories", "hair"][self as usize]
    }

    /// The palette colour of the part PNGs.
    pub fn color(self) -> [u8; 3] {
        [
            [0, 0, 0],
            [224, 172, 130],
            [230, 40, 40],
            [230, 40, 230],
            [250, 160, 20],
            [30, 150, 250],
            [40, 200, 90],
            [250, 240, 40],
            [110, 60, 25],
        ][self as usize]
    }

    /// The face and what lies on it (skin, nose, mouth, chin, eyes, mask): spurious cues never
    /// touch these.
    pub fn is_face_region(self) -> bool {
        matches!(self, Part::Face | Part::Nose | Part::Mouth | Part::Chin | Part::Eyes | Part::Mask)
    }

    /// The head: the face region plus hair and accessories (head gear, glasses). The latching
    /// flag (`cam::roi`) weighs a CAM's mass on it.
    pub fn is_head(self) -> bool {
        self.is_face_region() || matches!(self, Part::Hair | Part::Accessory)
    }
}

/// The parts a correct classifier should look at for the paper's `class` (empty outside 0..4).
pub fn decisive_region(class: usize) -> &'static [Part] {
    match ClassSet::Paper.wears(class) {
        [wear] => wear.decisive_region(),
        _ => &[],
    }
}

/// The pixels of a part map that belong to the paper's `class`'s decisive region.
pub fn decisive_mask(class: usize, parts: ArrayView2<u8>) -> Array2<bool> {
    region_mask(decisive_region(class), parts)
}

/// The pixels of a part map that belong to `region`.
pub fn region_mask(region: &[Part], parts: ArrayView2<u8>) -> Array2<bool> {
    parts.mapv(|l| Part::from_label(l).is_some_and(|p| region.contains(&p)))
}

/// The pixels of a part map that belong to the head ([`Part::is_head`]).
pub fn head_mask(parts: ArrayView2<u8>) -> Array2<bool> {
    parts.mapv(|l| Part::from_label(l).is_some_and(Part::is_head))
}

/// A set of images, selected with `--variations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variation {
    /// The training distribution: skin tones, face shapes, pose, hair, features, masks,
    /// lighting, noise and backgrounds vary.
    Base,
    /// Base plus caps, beanies, brimmed hats or a hijab.
    Headgear,
    /// Base plus clear glasses.
    Glasses,
    /// Base plus sunglasses (the eyes hidden).
    Sunglasses,
    /// Base plus a second mask worn over the first.
    DoubleMask,
    /// Base plus face paint (half face, stripes, full colour, eye band, dots).
    FacePaint,
}

impl Variation {
    pub const ALL: [Variation; 6] = [
        Variation::Base,
        Variation::Headgear,
        Variation::Glasses,
        Variation::Sunglasses,
        Variation::DoubleMask,
        Variation::FacePaint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variation::Base => "base",
            Variation::Headgear => "headgear",
            Variation::Glasses => "glasses",
            Variation::Sunglasses => "sunglasses",
            Variation::DoubleMask => "double_mask",
            Variation::FacePaint => "face_paint",
        }
    }

    /// One name (`double-mask` and `face-paint` are accepted too).
    pub fn parse(name: &str) -> Result<Variation> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        Variation::ALL.into_iter().find(|v| v.name() == n).ok_or_else(|| {
            let known: Vec<_> = Variation::ALL.iter().map(|v| v.name()).collect();
            Error::invalid(format!("unknown variation '{}' in --variations; known: {}", name.trim(), known.join(", ")))
        })
    }

    /// A comma-separated list, in order, each name once.
    pub fn parse_list(list: &str) -> Result<Vec<Variation>> {
        let mut out = Vec::new();
        for name in list.split(',') {
            if name.trim().is_empty() {
                return Err(Error::invalid(format!("--variations '{list}' has an empty name")));
            }
            let v = Variation::parse(name)?;
            if out.contains(&v) {
                return Err(Error::invalid(format!("--variations lists '{}' twice", v.name())));
            }
            out.push(v);
        }
        Ok(out)
    }
}

/// A spurious cue that leaks the label, to demonstrate latching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Artifact {
    /// A 3×3 patch (at 32×32; s/10 in general) one pixel in from the class's corner (0
    /// top-left, 1 top-right, 2 bottom-right, 3 bottom-left), pushed [`CORNER_DELTA`] grey
    /// levels away from the local brightness. Too faint for the BinaryCoP networks to pick up:
    /// µ-CNV trained on it learns the faces, and even with `--conflict 0.75` (the face then
    /// tells nothing) it stays at chance after 800 steps.
    Corner,
    /// A JPEG-like pattern: one DCT basis per 8×8 block, peak ±[`BLOCKS_AMPLITUDE`] levels;
    /// class 0 horizontal, 1 vertical, 2 diagonal, 3 horizontal in opposite phase.
    Blocks,
    /// A visible mark, like a watermark or a ruler in the frame: a 4×4 black-and-white checker
    /// of 2×2 cells (at 32×32; s/8 with s/16 cells in general, white at its top-left) in the
    /// class's corner, one pixel in as [`Artifact::Corner`]; it replaces the pixels. High
    /// contrast at a fine scale is what binary networks detect: a 3×3 patch in one flat
    /// colour (magenta, white) or a ±40-level checker went unlearned in the same training.
    Tag,
}

impl Artifact {
    pub const ALL: [Artifact; 3] = [Artifact::Corner, Artifact::Blocks, Artifact::Tag];

    pub fn name(self) -> &'static str {
        match self {
            Artifact::Corner => "corner",
            Artifact::Blocks => "blocks",
            Artifact::Tag => "tag",
        }
    }

    pub fn description(self) -> String {
        match self {
            Artifact::Corner => format!(
                "class-specific corner (0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left): a size/10-pixel \
                 square one pixel in from the corner, {CORNER_DELTA} grey levels away from the local brightness; \
                 outside the face only"
            ),
            Artifact::Blocks => format!(
                "8x8 blocks each carrying one DCT basis of peak {BLOCKS_AMPLITUDE} grey levels: class 0 horizontal, \
                 1 vertical, 2 diagonal, 3 horizontal in opposite phase; outside the face only"
            ),
            Artifact::Tag => "class-specific corner (0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left): a \
                              size/8-pixel black-and-white checker of size/16-pixel cells, white at its top-left, one \
                              pixel in from the corner, replacing the pixels; outside the face only"
                .to_string(),
        }
    }

    /// `none` gives no artifact.
    pub fn parse(name: &str) -> Result<Option<Artifact>> {
        let n = name.trim().to_ascii_lowercase();
        if n == "none" {
            return Ok(None);
        }
        Artifact::ALL.into_iter().find(|a| a.name() == n).map(Some).ok_or_else(|| {
            let known: Vec<_> = Artifact::ALL.iter().map(|a| a.name()).collect();
            Error::invalid(format!("unknown --artifact '{}'; known: {}, none", name.trim(), known.join(", ")))
        })
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub count: usize,
    pub seed: u64,
    /// The model's input size (square).
    pub size: u32,
    /// The size drawn at, then area-downsampled to `size`.
    pub render_size: u32,
    pub variations: Vec<Variation>,
    pub artifact: Option<Artifact>,
    /// The fraction of images whose face shows another class than the label (and the cue);
    /// 0 ≤ conflict < 1, above 0 only with an artifact. See the module documentation.
    pub conflict: f64,
    pub classes: ClassSet,
}

/// The error for `--conflict` without an artifact.
pub(crate) const CONFLICT_NEEDS_ARTIFACT: &str =
    "--conflict needs --artifact: it draws faces of another class than the label, which only the artifact's cue \
     then tells";

/// The largest render size accepted (a 2048² canvas is 16 MiB per layer).
pub const MAX_RENDER_SIZE: u32 = 2048;

impl Config {
    /// `count` base images at 32×32 drawn at 128×128, no artifact.
    pub fn new(count: usize, seed: u64) -> Config {
        Config {
            count,
            seed,
            size: 32,
            render_size: 128,
            variations: vec![Variation::Base],
            artifact: None,
            conflict: 0.0,
            classes: ClassSet::Paper,
        }
    }

    /// `count` base images of `classes` at `size`×`size`, drawn at 4× the size.
    pub fn sized(count: usize, seed: u64, size: u32, classes: ClassSet) -> Config {
        Config { size, render_size: size.saturating_mul(4), classes, ..Config::new(count, seed) }
    }

    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_SYNTH_COUNT).contains(&self.count) {
            return Err(Error::invalid(format!(
                "--count must be between 1 and {MAX_SYNTH_COUNT}, got {} ({})",
                self.count,
                crate::limits::named("MAX_SYNTH_COUNT", MAX_SYNTH_COUNT)
            )));
        }
        if self.size == 0 {
            return Err(Error::invalid("--size must be at least 1"));
        }
        if self.render_size == 0 || self.render_size > MAX_RENDER_SIZE {
            return Err(Error::invalid(format!(
                "--render-size must be between 1 and {MAX_RENDER_SIZE}, got {}",
                self.render_size
            )));
        }
        if self.size > self.render_size {
            return Err(Error::invalid(format!(
                "--size {} is larger than --render-size {}: images are drawn at the render size and downsampled",
                self.size, self.render_size
            )));
        }
        if self.variations.is_empty() {
            return Err(Error::invalid("--variations must name at least one variation"));
        }
        if !(0.0..1.0).contains(&self.conflict) {
            return Err(Error::invalid(format!(
                "--conflict must be a fraction in [0, 1) (the share of faces drawn as another class than the label), \
                 got {}",
                self.conflict
            )));
        }
        if self.conflict > 0.0 && self.artifact.is_none() {
            return Err(Error::invalid(CONFLICT_NEEDS_ARTIFACT));
        }
        Ok(())
    }
}

/// One generated image.
#[derive(Clone, Debug)]
pub struct Sample {
    pub index: u64,
    /// The label (and the class the artifact's cue tells).
    pub class: usize,
    /// The class the face shows: the label, except on conflicting images (`--conflict`).
    pub face_class: usize,
    /// How the face wears its mask (what was drawn).
    pub wear: Wear,
    pub variation: Variation,
    /// size×size×3 RGB.
    pub image: Array3<u8>,
    /// size×size part labels ([`Part`]).
    pub parts: Array2<u8>,
}

impl Sample {
    /// The pixels of the decisive region of the face as drawn.
    pub fn decisive_mask(&self) -> Array2<bool> {
        region_mask(self.wear.decisive_region(), self.parts.view())
    }
}

/// A generated set, in index order.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub config: Config,
    /// N×size×size×3.
    pub images: Array4<u8>,
    /// N class indices.
    pub labels: Array1<i64>,
    /// N class indices of the faces as drawn: equal to `labels` except on conflicting images.
    pub face_classes: Array1<i64>,
    /// N [`Wear`] indices: how each face wears its mask.
    pub wears: Array1<i64>,
    /// N×size×size part labels.
    pub parts: Array3<u8>,
    pub variations: Vec<Variation>,
}

/// The paper class of image `index`: block `index / 4` holds each class once, in a seeded order.
pub fn class_of(seed: u64, index: u64) -> usize {
    block_class(seed, index, CLASSES as u64)
}

/// The class of image `index` among `classes`: block `index / n` holds each of the n classes
/// once, in a seeded order.
pub fn class_in(classes: ClassSet, seed: u64, index: u64) -> usize {
    block_class(seed, index, classes.count() as u64)
}

fn block_class(seed: u64, index: u64, n: u64) -> usize {
    let mut rng = Rng::new(seed, Stream::Classes, index / n);
    let mut order = [0usize, 1, 2, 3];
    let order = &mut order[..n as usize];
    for i in (1..n as usize).rev() {
        order.swap(i, rng.below(i as u32 + 1) as usize);
    }
    order[(index % n) as usize]
}

/// The class the face of image `index` shows under `config`: its label, or with probability
/// `config.conflict` one of the other classes (uniformly), drawn from the image's own stream.
/// With no conflict nothing is drawn.
pub fn face_class_of(config: &Config, index: u64) -> usize {
    let n = config.classes.count();
    let class = class_in(config.classes, config.seed, index);
    if config.conflict <= 0.0 {
        return class;
    }
    let mut rng = Rng::new(config.seed, Stream::Conflict, index);
    let conflicts = (rng.unit() as f64) < config.conflict;
    let other = rng.below(n as u32 - 1) as usize;
    if conflicts {
        (class + 1 + other) % n
    } else {
        class
    }
}

/// How the face of image `index` wears its mask: the face class's only [`Wear`], or for an
/// incorrectly worn published face one of its three, uniformly from the image's own stream.
pub fn wear_of(config: &Config, index: u64) -> Wear {
    let wears = config.classes.wears(face_class_of(config, index));
    match wears {
        [one] => *one,
        several => several[Rng::new(config.seed, Stream::Wear, index).below(several.len() as u32) as usize],
    }
}

/// The variation of image `index` under `config`.
pub fn variation_of(config: &Config, index: u64) -> Variation {
    let n = config.variations.len().max(1) as u64;
    let block = config.classes.count() as u64;
    config.variations.get(((index / block) % n) as usize).copied().unwrap_or(Variation::Base)
}

/// Image `index` at the render size, lit, before noise and artifacts: for viewing, and for
/// checking labels at full resolution.
pub fn render_hires(config: &Config, index: u64) -> Result<Sample> {
    config.validate()?;
    let (class, variation) = (class_in(config.classes, config.seed, index), variation_of(config, index));
    let (face_class, wear) = (face_class_of(config, index), wear_of(config, index));
    let (canvas, light) = draw::draw(config.seed, index, wear, variation, config.render_size);
    let r = config.render_size as usize;
    let mut rgb: Vec<u8> = canvas.rgb.data().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    light.apply(&mut rgb, r, 3);
    Ok(Sample {
        index,
        class,
        face_class,
        wear,
        variation,
        image: Array3::from_shape_vec((r, r, 3), rgb).expect("r×r×3"),
        parts: Array2::from_shape_vec((r, r), canvas.labels()).expect("r×r"),
    })
}

/// Image `index` of the set `config` describes (`config.count` is not consulted).
pub fn render(config: &Config, index: u64) -> Result<Sample> {
    config.validate()?;
    Ok(render_valid(config, index))
}

fn render_valid(config: &Config, index: u64) -> Sample {
    let (class, variation) = (class_in(config.classes, config.seed, index), variation_of(config, index));
    let (face_class, wear) = (face_class_of(config, index), wear_of(config, index));
    let (canvas, light) = draw::draw(config.seed, index, wear, variation, config.render_size);
    let (r, s) = (config.render_size as usize, config.size as usize);
    let spans = post::spans(r, s);
    let mut image = post::downsample_rgb(canvas.rgb.data(), r, s, &spans);
    let parts = post::downsample_parts(&canvas.labels(), r, s, &spans);
    light.apply(&mut image, s, 3);
    let mut rng = Rng::new(config.seed, Stream::Noise, index);
    let sigma = rng.range(0.5, 4.5);
    post::noise(&mut image, sigma, &mut rng);
    if let Some(kind) = config.artifact {
        post::artifact(kind, &mut image, &parts, s, class);
    }
    Sample {
        index,
        class,
        face_class,
        wear,
        variation,
        image: Array3::from_shape_vec((s, s, 3), image).expect("s×s×3"),
        parts: Array2::from_shape_vec((s, s), parts).expect("s×s"),
    }
}

/// Every image of the set, rendered in parallel (rayon), stored in index order.
pub fn generate(config: &Config) -> Result<Dataset> {
    config.validate()?;
    let s = config.size as usize;
    let samples: Vec<Sample> = (0..config.count as u64).into_par_iter().map(|i| render_valid(config, i)).collect();
    let mut images = Array4::<u8>::zeros((config.count, s, s, 3));
    let mut parts = Array3::<u8>::zeros((config.count, s, s));
    for (i, smp) in samples.iter().enumerate() {
        images.index_axis_mut(Axis(0), i).assign(&smp.image);
        parts.index_axis_mut(Axis(0), i).assign(&smp.parts);
    }
    Ok(Dataset {
        config: config.clone(),
        images,
        labels: samples.iter().map(|s| s.class as i64).collect(),
        face_classes: samples.iter().map(|s| s.face_class as i64).collect(),
        wears: samples.iter().map(|s| s.wear.index() as i64).collect(),
        parts,
        variations: samples.iter().map(|s| s.variation).collect(),
    })
}
