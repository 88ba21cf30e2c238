//! How far apart the resize policies are: binarycop's `triangle` (the image crate, the earlier
//! default) against OpenCV's `cv2.resize` and PIL's `resize(BILINEAR)`, in grey levels, on
//! pictures prepared by python/resize_gap.py (which also stores OpenCV's and PIL's outputs).
//! Also checks that binarycop's `cv2` policy equals OpenCV's bytes on them.
//!
//!     cargo run --release --example resize_gap -- /tmp/gap_pictures.npz [more.npz ...]

use ndarray::{Array3, ArrayD, Ix3};
use ndarray_npy::NpzReader;

use binarycop::data::resize;

/// Mean and max |a − b| over all bytes.
fn gap(a: &Array3<u8>, b: &Array3<u8>) -> (f64, u8) {
    let (mut sum, mut max) = (0u64, 0u8);
    for (x, y) in a.iter().zip(b) {
        let d = x.abs_diff(*y);
        sum += u64::from(d);
        max = max.max(d);
    }
    (sum as f64 / a.len() as f64, max)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        return Err("usage: resize_gap FILE.npz ... (made by python/resize_gap.py)".into());
    }
    println!("{:<34} {:>9} {:>16} {:>16} {:>16}", "set", "pictures", "triangle−cv2", "triangle−PIL", "cv2−PIL");
    for f in &files {
        let mut npz = NpzReader::new(std::fs::File::open(f)?)?;
        let n = npz.names()?.iter().filter(|k| k.trim_end_matches(".npy").ends_with(".src")).count();
        if n == 0 {
            return Err(format!("{f}: no pictures (made by python/resize_gap.py?)").into());
        }
        let mut read = |k: String| -> Result<Array3<u8>, Box<dyn std::error::Error>> {
            let a: ArrayD<u8> = npz.by_name(&k)?;
            Ok(a.into_dimensionality::<Ix3>()?)
        };
        let (mut tc, mut tp, mut cp) = ((0.0, 0u8), (0.0, 0u8), (0.0, 0u8));
        for i in 0..n {
            let (src, cv, pil) = (read(format!("{i}.src"))?, read(format!("{i}.cv2"))?, read(format!("{i}.pil"))?);
            let (h, w, _) = cv.dim();
            let ours = resize::cv2_linear(src.view(), h, w);
            if ours != cv {
                return Err(format!("{f}: picture {i}: the cv2 policy differs from OpenCV").into());
            }
            let tri = resize::triangle(src.view(), h, w);
            for (acc, (m, x)) in [(&mut tc, gap(&tri, &cv)), (&mut tp, gap(&tri, &pil)), (&mut cp, gap(&cv, &pil))] {
                acc.0 += m / n as f64;
                acc.1 = acc.1.max(x);
            }
        }
        let cell = |(m, x): (f64, u8)| format!("{m:.2} / {x}");
        let name = std::path::Path::new(f).file_stem().map_or(f.clone(), |s| s.to_string_lossy().into_owned());
        println!("{name:<34} {n:>9} {:>16} {:>16} {:>16}", cell(tc), cell(tp), cell(cp));
    }
    println!("(mean / max |Δ| in grey levels over every byte; the cv2 policy equalled OpenCV on every picture)");
    Ok(())
}
