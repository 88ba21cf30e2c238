//! Ground-truth region masks for user images (`compare --outline`): a `.npy` of uint8 or bool,
//! N×H×W (or one H×W), or image files (PNG, JPEG: one per image, read as luma). Nonzero is
//! inside the region. Masks must have the model input's size (the size the images are
//! compared at) and there must be one per image, in the images' order.

use std::path::Path;

use ndarray::{Array2, Array3, ArrayD, Axis, Ix2, Ix3};
use ndarray_npy::ReadNpyExt;

use crate::error::{Error, Result};

fn read_npy(path: &Path) -> Result<Array3<bool>> {
    let f = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let a: ArrayD<u8> = match ArrayD::<u8>::read_npy(&f) {
        Ok(a) => a,
        Err(_) => {
            let f = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
            ArrayD::<bool>::read_npy(f)
                .map_err(|e| Error::file(path, format!("not a uint8 or bool .npy mask: {e}")))?
                .mapv(u8::from)
        }
    };
    let a = match a.ndim() {
        2 => a.into_dimensionality::<Ix2>().expect("2-D").insert_axis(Axis(0)),
        3 => a.into_dimensionality::<Ix3>().expect("3-D"),
        _ => return Err(Error::file(path, format!("masks have shape {:?}; expected N×H×W or H×W", a.shape()))),
    };
    Ok(a.mapv(|v| v != 0))
}

fn read_image(path: &Path) -> Result<Array3<bool>> {
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::file(path, format!("cannot open: {e}")))?
        .with_guessed_format()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?
        .decode()
        .map_err(|e| Error::file(path, format!("not a readable mask image: {e}")))?
        .to_luma8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let inside: Vec<bool> = img.into_raw().into_iter().map(|v| v != 0).collect();
    Ok(Array3::from_shape_vec((1, h, w), inside).expect("h×w luma"))
}

/// One mask per image (`count` of them), each `size` (H, W).
pub fn load_masks(paths: &[impl AsRef<Path>], size: (usize, usize), count: usize) -> Result<Vec<Array2<bool>>> {
    let mut masks = Vec::with_capacity(count);
    for p in paths {
        let p = p.as_ref();
        let is_npy = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        let part = if is_npy { read_npy(p)? } else { read_image(p)? };
        let (_, h, w) = part.dim();
        if (h, w) != size {
            return Err(Error::file(
                p,
                format!("the masks are {h}x{w} but the images are compared at {}x{} (the model input)", size.0, size.1),
            ));
        }
        masks.extend(part.axis_iter(Axis(0)).map(|m| m.to_owned()));
    }
    if masks.len() != count {
        return Err(Error::invalid(format!(
            "--outline gave {} masks for {count} images: one mask per image is needed, in the images' order",
            masks.len()
        )));
    }
    Ok(masks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_npy::WriteNpyExt;

    #[test]
    fn npy_and_png_masks_load_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let npy = dir.path().join("m.npy");
        let mut a = ndarray::Array3::<u8>::zeros((2, 4, 4));
        a[[1, 2, 3]] = 7;
        a.write_npy(std::fs::File::create(&npy).unwrap()).unwrap();
        let png = dir.path().join("m.png");
        image::GrayImage::from_fn(4, 4, |x, _| image::Luma([if x == 0 { 255 } else { 0 }])).save(&png).unwrap();
        let m = load_masks(&[npy.clone(), png], (4, 4), 3).unwrap();
        assert!(m[1][[2, 3]] && m[1].iter().filter(|&&v| v).count() == 1);
        assert!(m[2][[3, 0]] && !m[2][[0, 1]]);
        let count = load_masks(std::slice::from_ref(&npy), (4, 4), 3).err().unwrap().to_string();
        assert!(count.contains("2 masks for 3 images"), "{count}");
        let size = load_masks(std::slice::from_ref(&npy), (32, 32), 2).err().unwrap().to_string();
        assert!(size.contains("m.npy") && size.contains("4x4"), "{size}");
        let f32s = dir.path().join("f.npy");
        ndarray::Array2::<f32>::zeros((4, 4)).write_npy(std::fs::File::create(&f32s).unwrap()).unwrap();
        let e = load_masks(&[f32s], (4, 4), 1).err().unwrap().to_string();
        assert!(e.contains("f.npy") && e.contains("uint8 or bool"), "{e}");
    }
}
