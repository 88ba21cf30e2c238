//! Writing a generated set to a folder, all or nothing: everything goes into a hidden sibling
//! folder that is renamed into place at the end, so a failure leaves no half-written set.
//!
//! DIR/images.npy (uint8 N×S×S×3), labels.npy (int64 N), parts.npy (uint8 N×S×S),
//! images/NNNNNN.png (RGB), parts/NNNNNN.png (palette PNG: pixel index = part label),
//! labels.csv (index,file,label,class_name,variation) and meta.json. With `--conflict F > 0`
//! also face_classes.npy (int64 N, the class each face shows), a sixth CSV column
//! `face_class` and a `conflict` entry in meta.json (the fraction, how many images conflict,
//! and every image's face class); with F = 0 the files are exactly as without the option.
//! With `--classes published` also wears.npy (int64 N, each face's [`Wear`](super::Wear): 0
//! correct, 1 nose, 2 nose and mouth, 3 chin exposed, 4 no mask), a last CSV column `wear`, and
//! meta.json's `classes`, `display_names` and per-wear decisive regions; the paper's set is
//! written exactly as before.

use std::path::{Path, PathBuf};

use ndarray::Axis;
use ndarray_npy::WriteNpyExt;
use rayon::prelude::*;

use super::{
    ClassSet, Dataset, Part, Wear, GENERATOR_VERSION, MASKEDFACE_NET_NAMES, PART_COUNT, PUBLISHED_DISPLAY_NAMES,
};
use crate::error::{Error, Result};

/// The `generator` field of meta.json; a folder whose meta.json has it may be replaced.
const GENERATOR: &str = "binarycop synth";

/// Writes `ds` to `dir`, replacing an earlier `binarycop synth` output there; refuses a
/// folder holding anything else.
pub fn write_dataset(ds: &Dataset, dir: &Path) -> Result<()> {
    let name = dir.file_name().ok_or_else(|| Error::file(dir, "--out must name a folder"))?.to_string_lossy();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::file(&parent, format!("cannot create the output's parent folder: {e}")))?;
    let existing = check_existing(dir)?;

    let tmp = parent.join(format!(".{name}.synth-tmp{}", std::process::id()));
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    std::fs::create_dir(&tmp)
        .map_err(|e| Error::file(dir, format!("cannot write the output folder ({}): {e}", tmp.display())))?;
    if let Err(e) = write_all(ds, &tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.in_file(dir));
    }
    let io = |e: std::io::Error| Error::file(dir, format!("cannot move the new set into place: {e}"));
    let result = match existing {
        Existing::None => std::fs::rename(&tmp, dir).map_err(io),
        Existing::Empty => std::fs::remove_dir(dir).and_then(|_| std::fs::rename(&tmp, dir)).map_err(io),
        Existing::Synth => {
            let old = parent.join(format!(".{name}.synth-old{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(dir, &old).map_err(io).and_then(|_| match std::fs::rename(&tmp, dir) {
                Ok(()) => {
                    let _ = std::fs::remove_dir_all(&old);
                    Ok(())
                }
                Err(e) => {
                    let _ = std::fs::rename(&old, dir);
                    Err(io(e))
                }
            })
        }
    };
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

enum Existing {
    None,
    Empty,
    Synth,
}

fn check_existing(dir: &Path) -> Result<Existing> {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::None),
        Err(e) => return Err(Error::file(dir, format!("cannot inspect --out: {e}"))),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(Error::file(dir, "--out exists and is not a folder"));
    }
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot read --out: {e}")))?;
    if entries.next().is_none() {
        return Ok(Existing::Empty);
    }
    let ours = std::fs::read_to_string(dir.join("meta.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["generator"] == GENERATOR);
    if ours {
        Ok(Existing::Synth)
    } else {
        Err(Error::file(
            dir,
            "--out is a non-empty folder that is not a `binarycop synth` output (no meta.json from it); \
             choose a new folder or empty this one",
        ))
    }
}

fn file_name(i: usize) -> String {
    format!("{i:06}.png")
}

fn write_all(ds: &Dataset, dir: &Path) -> Result<()> {
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::file(&p, format!("cannot write: {e}")))
    };
    let npy = |name: &str, f: &dyn Fn(&mut Vec<u8>) -> std::result::Result<(), ndarray_npy::WriteNpyError>| {
        let mut buf = Vec::new();
        f(&mut buf).map_err(|e| Error::file(dir.join(name), format!("cannot encode: {e}")))?;
        write(name, &buf)
    };
    npy("images.npy", &|b| ds.images.write_npy(b))?;
    npy("labels.npy", &|b| ds.labels.write_npy(b))?;
    npy("parts.npy", &|b| ds.parts.write_npy(b))?;
    let conflict = ds.config.conflict > 0.0;
    if conflict {
        npy("face_classes.npy", &|b| ds.face_classes.write_npy(b))?;
    }
    let published = ds.config.classes == ClassSet::Published;
    if published {
        npy("wears.npy", &|b| ds.wears.write_npy(b))?;
    }

    for sub in ["images", "parts"] {
        let p = dir.join(sub);
        std::fs::create_dir(&p).map_err(|e| Error::file(&p, format!("cannot create: {e}")))?;
    }
    let s = ds.config.size;
    (0..ds.labels.len()).into_par_iter().try_for_each(|i| {
        let img = ds.images.index_axis(Axis(0), i);
        let parts = ds.parts.index_axis(Axis(0), i);
        let name = file_name(i);
        let rgb: Vec<u8> = img.iter().copied().collect();
        let labels: Vec<u8> = parts.iter().copied().collect();
        write(&format!("images/{name}"), &png_bytes(s, &rgb, false).map_err(|e| Error::file(dir.join(&name), e))?)?;
        write(&format!("parts/{name}"), &png_bytes(s, &labels, true).map_err(|e| Error::file(dir.join(&name), e))?)
    })?;

    let mut csv = csv_header(conflict, published);
    csv.push('\n');
    let names = ds.config.classes.names();
    for (i, (&label, v)) in ds.labels.iter().zip(&ds.variations).enumerate() {
        csv.push_str(&format!("{i},images/{},{label},{},{}", file_name(i), names[label as usize], v.name()));
        if conflict {
            csv.push_str(&format!(",{}", ds.face_classes[i]));
        }
        if published {
            csv.push_str(&format!(",{}", Wear::ALL[ds.wears[i] as usize].name()));
        }
        csv.push('\n');
    }
    write("labels.csv", csv.as_bytes())?;
    write("meta.json", serde_json::to_string_pretty(&meta(ds)).expect("JSON").as_bytes())
}

fn csv_header(conflict: bool, published: bool) -> String {
    let mut h = String::from("index,file,label,class_name,variation");
    if conflict {
        h.push_str(",face_class");
    }
    if published {
        h.push_str(",wear");
    }
    h
}

/// An RGB PNG, or a palette PNG whose indices are part labels.
fn png_bytes(size: u32, data: &[u8], palette: bool) -> std::result::Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let mut enc = png::Encoder::new(&mut buf, size, size);
    enc.set_depth(png::BitDepth::Eight);
    if palette {
        enc.set_color(png::ColorType::Indexed);
        enc.set_palette(Part::ALL.iter().flat_map(|p| p.color()).collect::<Vec<u8>>());
    } else {
        enc.set_color(png::ColorType::Rgb);
    }
    let mut w = enc.write_header().map_err(|e| format!("cannot encode PNG: {e}"))?;
    w.write_image_data(data).map_err(|e| format!("cannot encode PNG: {e}"))?;
    w.finish().map_err(|e| format!("cannot encode PNG: {e}"))?;
    Ok(buf)
}

fn meta(ds: &Dataset) -> serde_json::Value {
    let c = &ds.config;
    let names = c.classes.names();
    let mut counts = vec![0usize; names.len()];
    for &l in &ds.labels {
        counts[l as usize] += 1;
    }
    let region = |parts: &[Part]| {
        serde_json::json!({
            "parts": parts.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "labels": parts.iter().map(|p| p.label()).collect::<Vec<_>>(),
        })
    };
    let regions: Vec<_> = (0..names.len())
        .map(|k| {
            let wears = c.classes.wears(k);
            let mut r = serde_json::json!({ "class": k, "class_name": names[k] });
            if let [wear] = wears {
                r.as_object_mut()
                    .expect("object")
                    .extend(region(wear.decisive_region()).as_object().cloned().expect("object"));
            } else {
                r["by_wear"] = wears
                    .iter()
                    .map(|w| serde_json::json!({ "wear": w.name(), "region": region(w.decisive_region()) }))
                    .collect();
            }
            r
        })
        .collect();
    let parts: Vec<_> = Part::ALL
        .iter()
        .map(|p| serde_json::json!({"label": p.label(), "name": p.name(), "color": p.color()}))
        .collect();
    debug_assert_eq!(parts.len(), PART_COUNT);
    let mut meta = serde_json::json!({
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": c.seed,
        "count": c.count,
        "size": c.size,
        "render_size": c.render_size,
        "variations": c.variations.iter().map(|v| v.name()).collect::<Vec<_>>(),
        "artifact": c.artifact.map(|a| serde_json::json!({"kind": a.name(), "description": a.description()})),
        "class_names": names,
        "maskedface_net_names": MASKEDFACE_NET_NAMES,
        "class_counts": counts,
        "part_names": Part::ALL.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "parts": parts,
        "decisive_regions": regions,
        "balance": format!("blocks of {n} consecutive indices hold each class once in a seeded order; block b uses variations[b % len(variations)]", n = names.len()),
        "downsampling": "RGB: exact area average from render_size to size; parts: the label covering the largest area (ties to the lower label)",
        "files": {
            "images.npy": "uint8 N x size x size x 3 (RGB)",
            "labels.npy": "int64 N (class index)",
            "parts.npy": "uint8 N x size x size (part label)",
            "images/NNNNNN.png": "RGB",
            "parts/NNNNNN.png": "palette PNG, pixel index = part label",
            "labels.csv": "index,file,label,class_name,variation",
        },
    });
    if c.classes == ClassSet::Published {
        let m = meta.as_object_mut().expect("object");
        m.remove("maskedface_net_names");
        m.insert("classes".into(), c.classes.name().into());
        m.insert("display_names".into(), serde_json::json!(PUBLISHED_DISPLAY_NAMES));
        m.insert("wears".into(), serde_json::json!(Wear::ALL.iter().map(|w| w.name()).collect::<Vec<_>>()));
        meta["files"]["wears.npy"] = serde_json::json!("int64 N (how the face wears its mask, an index into `wears`)");
        meta["files"]["labels.csv"] = csv_header(c.conflict > 0.0, true).into();
    }
    if c.conflict > 0.0 {
        let n = ds.labels.iter().zip(&ds.face_classes).filter(|(l, f)| l != f).count();
        meta["conflict"] = serde_json::json!({
            "fraction": c.conflict,
            "conflicting_images": n,
            "description": format!(
                "each image shows, with probability `fraction` (seeded per image), a face of one of the {} other \
                 classes (uniformly), while its label and the artifact's cue follow the label; the part map is the \
                 drawn face's",
                ["", "one", "two", "three"][names.len() - 1]
            ),
            "face_classes": ds.face_classes.iter().collect::<Vec<_>>(),
        });
        meta["files"]["face_classes.npy"] = serde_json::json!("int64 N (the class the face shows)");
        meta["files"]["labels.csv"] = csv_header(true, c.classes == ClassSet::Published).into();
    }
    meta
}
