//! Loading images for the model.
//!
//! - `.npy`: uint8, N×H×W×C (or one H×W×C image): model inputs, used as they are; H, W, C must
//!   match the model (no crop, resize or channel swap).
//! - image files (PNG, JPEG): decoded, converted to RGB (or to luma for a 1-channel model), then
//!   [`Preprocess`]: cropped if asked, resized to the model's H×W by the chosen policy when the
//!   size differs (default `cv2`, see [`resize`]). Without a crop
//!   the whole frame is kept, so the aspect ratio changes if it was not square.
//!
//! Both are checked before anything is allocated: an .npy's header against its data
//! ([`crate::npy`]), an image's size from its header against a [`DecodeBound`] (a 1 kB JPEG can
//! claim 13,364×13,364 pixels).

pub mod masks;
pub mod resize;
pub mod synth;

pub use masks::load_masks;

use std::path::Path;

use image::DynamicImage;
use ndarray::{Array3, Array4, Axis, Ix3, Ix4};

use crate::error::{Error, Result};
use crate::limits::{self, MAX_CAM_IMAGE_PIXELS, MAX_DECODED_PIXELS, MAX_FILE_BYTES, MAX_TEXT_FILE_BYTES};
use crate::model::Shape;
pub use resize::{Crop, Preprocess, Resize};

/// Reads a whole input file with [`limits::read_file`]'s checks (a regular file of at most
/// [`MAX_FILE_BYTES`]); errors name it.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    limits::read_file(path, MAX_FILE_BYTES, "MAX_FILE_BYTES").map_err(|m| Error::file(path, m))
}

/// Reads a whole text input (JSON, .hwh) with [`limits::read_text`]'s checks: a regular UTF-8
/// file of at most [`MAX_TEXT_FILE_BYTES`]; errors name it and say what it was read as.
pub fn read_text_input(path: &Path, what: &str) -> Result<String> {
    limits::read_text(path, MAX_TEXT_FILE_BYTES, "MAX_TEXT_FILE_BYTES")
        .map_err(|m| Error::file(path, format!("cannot read {what}: {m}")))
}

/// Loads every input into one N×H×W×C batch, with a name per image (`file` or `file[i]`).
pub fn load_images(paths: &[impl AsRef<Path>], shape: Shape, prep: &Preprocess) -> Result<(Array4<u8>, Vec<String>)> {
    if paths.is_empty() {
        return Err(Error::invalid("no input images were given"));
    }
    let mut parts: Vec<Array4<u8>> = Vec::new();
    let mut names = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let is_npy = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        let part = if is_npy { load_npy(p, shape)? } else { load_image(p, shape, prep)?.insert_axis(Axis(0)) };
        let n = part.len_of(Axis(0));
        if is_npy {
            names.extend((0..n).map(|i| format!("{}[{i}]", p.display())));
        } else {
            names.push(p.display().to_string());
        }
        parts.push(part);
    }
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    let batch = ndarray::concatenate(Axis(0), &views).expect("every part is N×H×W×C of the model's shape");
    if batch.len_of(Axis(0)) == 0 {
        return Err(Error::invalid("the inputs hold no images (empty batch)"));
    }
    Ok((batch, names))
}

/// A uint8 `.npy` of N×H×W×C or H×W×C.
pub fn load_npy(path: &Path, shape: Shape) -> Result<Array4<u8>> {
    images_from_npy(&read_input(path)?, shape).map_err(|e| e.in_file(path))
}

/// The images in the bytes of a uint8 `.npy` (N×H×W×C or H×W×C) for a model taking `shape`.
pub fn images_from_npy(bytes: &[u8], shape: Shape) -> Result<Array4<u8>> {
    let a = crate::npy::read::<u8>(bytes).map_err(|e| Error::invalid(format!("not a uint8 .npy array: {e}")))?;
    let a = match a.ndim() {
        3 => a.into_dimensionality::<Ix3>().expect("3-D").insert_axis(Axis(0)),
        4 => a.into_dimensionality::<Ix4>().expect("4-D"),
        n => return Err(Error::invalid(format!("expected N×H×W×C or H×W×C, the array has {n} dimensions"))),
    };
    let (_, h, w, c) = a.dim();
    if (h, w, c) != (shape.height, shape.width, shape.channels) {
        return Err(Error::invalid(format!(
            "images are {h}x{w}x{c} (H×W×C), the model takes {shape}; resize them or pass image files"
        )));
    }
    if a.len_of(Axis(0)) == 0 {
        return Err(Error::invalid("the array holds no images (empty batch)"));
    }
    Ok(a)
}

/// How many pixels an image file may decode to, and why: checked from the file's header before
/// decoding, so a small file that claims a huge image costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeBound {
    pub max_pixels: u64,
    /// The limit's name in [`crate::limits`].
    pub limit: &'static str,
    /// What the command does with the image.
    pub why: &'static str,
}

impl DecodeBound {
    /// An image resized to the model's input (`infer`, `cam --model`, `compare`).
    pub const RESIZED_TO_MODEL: DecodeBound = DecodeBound {
        max_pixels: MAX_DECODED_PIXELS,
        limit: "MAX_DECODED_PIXELS",
        why: "images are resized to the model's input",
    };
    /// `cam --image`: the heatmap and three PNGs are made at the image's size.
    pub const CAM_IMAGE: DecodeBound = DecodeBound {
        max_pixels: MAX_CAM_IMAGE_PIXELS,
        limit: "MAX_CAM_IMAGE_PIXELS",
        why: "cam writes its heatmap and PNGs at the image's size",
    };
}

/// Decodes a PNG or JPEG held in `bytes`, refusing (before decoding) one larger than `bound`.
pub fn decode_image(bytes: &[u8], bound: &DecodeBound) -> Result<DynamicImage> {
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| Error::invalid(format!("cannot read: {e}")))
    };
    let not_image = |e: image::ImageError| Error::invalid(format!("not a readable image: {e}"));
    let (w, h) = reader()?.into_dimensions().map_err(not_image)?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > bound.max_pixels {
        return Err(Error::invalid(format!(
            "the image is {w}x{h} ({:.1} megapixels); binarycop decodes at most {:.1} megapixels because {} ({})",
            pixels as f64 / 1e6,
            bound.max_pixels as f64 / 1e6,
            bound.why,
            limits::named(bound.limit, bound.max_pixels)
        )));
    }
    let mut reader = reader()?;
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    // RGBA at 16 bits per channel, twice over for the decoder's own buffers.
    lim.max_alloc = Some(pixels.max(1) * 16 + (1 << 20));
    reader.limits(lim);
    reader.decode().map_err(not_image)
}

/// A PNG or JPEG file as an H×W×C picture of `channels` (3: RGB, 1: luma) at its own size,
/// refused (before decoding) when larger than `bound`.
pub fn decode_picture(path: &Path, channels: usize, bound: &DecodeBound) -> Result<Array3<u8>> {
    let img = decode_image(&read_input(path)?, bound).map_err(|e| e.in_file(path))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = match channels {
        3 => img.to_rgb8().into_raw(),
        1 => img.to_luma8().into_raw(),
        c => {
            return Err(Error::file(
                path,
                format!("image files can feed 1- or 3-channel models; this one takes {c} channels"),
            ))
        }
    };
    Ok(Array3::from_shape_vec((h, w, channels), raw).expect("decoded buffer"))
}

/// A PNG or JPEG file, decoded and preprocessed to the model's input.
pub fn load_image(path: &Path, shape: Shape, prep: &Preprocess) -> Result<Array3<u8>> {
    let img = decode_picture(path, shape.channels, &DecodeBound::RESIZED_TO_MODEL)?;
    prep.apply(img.view(), shape).map_err(|e| e.in_file(path))
}
