//! Loading images for the model.
//!
//! - `.npy`: uint8, N×H×W×C (or one H×W×C image), used as is; its H, W, C must match the model.
//! - image files (PNG, JPEG): decoded, converted to RGB (or to luma for a 1-channel model), and
//!   resized to the model's H×W with a bilinear (triangle) filter when the size differs. The
//!   whole frame is kept: no crop, so the aspect ratio changes if it was not square.

pub mod masks;
pub mod synth;

pub use masks::load_masks;

use std::path::Path;

use image::imageops::FilterType;
use ndarray::{Array3, Array4, ArrayD, Axis, Ix3, Ix4};
use ndarray_npy::ReadNpyExt;

use crate::error::{Error, Result};
use crate::model::Shape;

/// Loads every input into one N×H×W×C batch, with a name per image (`file` or `file[i]`).
pub fn load_images(paths: &[impl AsRef<Path>], shape: Shape) -> Result<(Array4<u8>, Vec<String>)> {
    if paths.is_empty() {
        return Err(Error::invalid("no input images were given"));
    }
    let mut parts: Vec<Array4<u8>> = Vec::new();
    let mut names = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let is_npy = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        let part = if is_npy { load_npy(p, shape)? } else { load_image(p, shape)?.insert_axis(Axis(0)) };
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

/// A PNG or JPEG file, converted and resized to the model's input.
pub fn load_image(path: &Path, shape: Shape) -> Result<Array3<u8>> {
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::file(path, format!("cannot open: {e}")))?
        .with_guessed_format()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?
        .decode()
        .map_err(|e| Error::file(path, format!("not a readable image: {e}")))?;
    let (w, h) = (shape.width as u32, shape.height as u32);
    let img = if (img.width(), img.height()) != (w, h) { img.resize_exact(w, h, FilterType::Triangle) } else { img };
    match shape.channels {
        3 => {
            let rgb = img.to_rgb8();
            Ok(Array3::from_shape_vec((shape.height, shape.width, 3), rgb.into_raw()).expect("RGB buffer"))
        }
        1 => {
            let l = img.to_luma8();
            Ok(Array3::from_shape_vec((shape.height, shape.width, 1), l.into_raw()).expect("luma buffer"))
        }
        c => {
            Err(Error::file(path, format!("image files can feed 1- or 3-channel models; this one takes {c} channels")))
        }
    }
}
