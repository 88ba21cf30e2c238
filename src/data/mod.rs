//! Loading images for the model.
//!
//! - `.npy`: uint8, N×H×W×C (or one H×W×C image): model inputs, used as they are; H, W, C must
//!   match the model (no crop, resize or channel swap).
//! - image files (PNG, JPEG): decoded, converted to RGB (or to luma for a 1-channel model), then
//!   [`Preprocess`]: cropped if asked, resized to the model's H×W by the chosen policy when the
//!   size differs (default `cv2`, see [`resize`]). Without a crop
//!   the whole frame is kept, so the aspect ratio changes if it was not square.

pub mod resize;
pub mod synth;

use std::path::Path;

use ndarray::{Array3, Array4, ArrayD, Axis, Ix3, Ix4};
use ndarray_npy::ReadNpyExt;

use crate::error::{Error, Result};
use crate::model::Shape;
pub use resize::{Crop, Preprocess, Resize};

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
    let f = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let a = ArrayD::<u8>::read_npy(std::io::BufReader::new(f))
        .map_err(|e| Error::file(path, format!("not a uint8 .npy array: {e}")))?;
    let a = match a.ndim() {
        3 => a.into_dimensionality::<Ix3>().expect("3-D").insert_axis(Axis(0)),
        4 => a.into_dimensionality::<Ix4>().expect("4-D"),
        n => return Err(Error::file(path, format!("expected N×H×W×C or H×W×C, the array has {n} dimensions"))),
    };
    let (_, h, w, c) = a.dim();
    if (h, w, c) != (shape.height, shape.width, shape.channels) {
        return Err(Error::file(
            path,
            format!("images are {h}x{w}x{c} (H×W×C), the model takes {shape}; resize them or pass image files"),
        ));
    }
    if a.len_of(Axis(0)) == 0 {
        return Err(Error::file(path, "the array holds no images (empty batch)"));
    }
    Ok(a)
}

/// A PNG or JPEG file as an H×W×C picture of `channels` (3: RGB, 1: luma) at its own size.
pub fn decode_image(path: &Path, channels: usize) -> Result<Array3<u8>> {
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::file(path, format!("cannot open: {e}")))?
        .with_guessed_format()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?
        .decode()
        .map_err(|e| Error::file(path, format!("not a readable image: {e}")))?;
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
    let img = decode_image(path, shape.channels)?;
    prep.apply(img.view(), shape).map_err(|e| e.in_file(path))
}
