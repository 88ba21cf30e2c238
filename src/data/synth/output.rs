//! Writing a generated set to a folder, all or nothing ([`crate::output::write_dir`]: a hidden
//! sibling folder renamed into place at the end), and streamed: images are drawn
//! [`CHUNK`] at a time and written as they come, the `.npy` headers first (the count is known),
//! so memory does not grow with `--count`.
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

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use ndarray::IxDyn;
use rayon::prelude::*;

use super::{
    ClassSet, Config, Part, Sample, Wear, GENERATOR_VERSION, MASKEDFACE_NET_NAMES, PART_COUNT, PUBLISHED_DISPLAY_NAMES,
};
use crate::error::{Error, Result};
use crate::output::{write_dir, Owner};

/// The `generator` field of meta.json; a folder whose meta.json has it may be replaced.
const GENERATOR: &str = "binarycop synth";

/// Images drawn (in parallel) and written per step.
pub const CHUNK: usize = 256;

/// What was written: images per class, and how many faces show another class than their label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSummary {
    /// One count per class of the set's [`ClassSet`].
    pub class_counts: Vec<usize>,
    pub conflicts: usize,
}

pub(super) const OWNER: Owner = Owner {
    tag: "synth",
    what: "a `binarycop synth` output (no meta.json from it)",
    is_ours: |d| {
        std::fs::read_to_string(d.join("meta.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["generator"] == GENERATOR)
    },
};

/// Draws the set `config` describes into `dir`, replacing an earlier `binarycop synth` output
/// there; refuses a folder holding anything else.
pub fn write_set(config: &Config, dir: &Path) -> Result<SetSummary> {
    write_set_observed(config, dir, &crate::progress::Progress::hidden().bar(0, ""))
}

/// [`write_set`], advancing `bar` by each chunk of images written.
pub fn write_set_observed(config: &Config, dir: &Path, bar: &crate::progress::Bar) -> Result<SetSummary> {
    config.validate()?;
    let mut summary = None;
    write_dir(dir, &OWNER, |tmp| {
        let mut w = SetWriter::create(config, tmp)?;
        for start in (0..config.count).step_by(CHUNK) {
            let end = (start + CHUNK).min(config.count);
            let samples: Vec<Sample> =
                (start as u64..end as u64).into_par_iter().map(|i| super::render_valid(config, i)).collect();
            w.push(&samples)?;
            bar.inc(samples.len() as u64);
        }
        summary = Some(w.finish()?);
        Ok(())
    })?;
    Ok(summary.expect("write_dir ran the writer"))
}

pub(super) fn file_name(i: usize) -> String {
    format!("{i:06}.png")
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::file(path, format!("cannot write: {e}"))
}

/// An .npy whose header (for `shape`) is written first; the data follows as it is pushed.
fn npy_file<A: ndarray_npy::WritableElement>(path: &Path, shape: &[usize]) -> Result<BufWriter<File>> {
    let f = File::create(path).map_err(io_err(path))?;
    ndarray_npy::write_zeroed_npy::<A, _>(&f, IxDyn(shape))
        .map_err(|e| Error::file(path, format!("cannot write: {e}")))?;
    Ok(BufWriter::new(f))
}

/// The open files of a set being written.
struct SetWriter<'a> {
    config: &'a Config,
    dir: &'a Path,
    images: BufWriter<File>,
    labels: BufWriter<File>,
    parts: BufWriter<File>,
    faces: Option<BufWriter<File>>,
    /// wears.npy, for the published classes.
    wears: Option<BufWriter<File>>,
    csv: BufWriter<File>,
    summary: SetSummary,
    /// Every image's face class (one byte each), for meta.json; only with `--conflict`.
    face_classes: Vec<u8>,
    written: usize,
}

impl<'a> SetWriter<'a> {
    fn create(config: &'a Config, dir: &'a Path) -> Result<Self> {
        let (n, s) = (config.count, config.size as usize);
        let conflict = config.conflict > 0.0;
        for sub in ["images", "parts"] {
            let p = dir.join(sub);
            std::fs::create_dir(&p).map_err(|e| Error::file(&p, format!("cannot create: {e}")))?;
        }
        let images = npy_file::<u8>(&dir.join("images.npy"), &[n, s, s, 3])?;
        let labels = npy_file::<i64>(&dir.join("labels.npy"), &[n])?;
        let parts = npy_file::<u8>(&dir.join("parts.npy"), &[n, s, s])?;
        let faces = if conflict { Some(npy_file::<i64>(&dir.join("face_classes.npy"), &[n])?) } else { None };
        let published = config.classes == ClassSet::Published;
        let wears = if published { Some(npy_file::<i64>(&dir.join("wears.npy"), &[n])?) } else { None };
        let csv_path = dir.join("labels.csv");
        let mut csv = BufWriter::new(File::create(&csv_path).map_err(io_err(&csv_path))?);
        csv.write_all((csv_header(conflict, published) + "\n").as_bytes()).map_err(io_err(&csv_path))?;
        Ok(SetWriter {
            config,
            dir,
            images,
            labels,
            parts,
            faces,
            wears,
            csv,
            summary: SetSummary { class_counts: vec![0; config.classes.count()], conflicts: 0 },
            face_classes: Vec::new(),
            written: 0,
        })
    }

    /// Writes the next samples (in index order).
    fn push(&mut self, samples: &[Sample]) -> Result<()> {
        let (dir, s) = (self.dir, self.config.size);
        samples.par_iter().try_for_each(|smp| {
            let name = file_name(smp.index as usize);
            let rgb = smp.image.as_slice().expect("standard layout");
            let labels = smp.parts.as_slice().expect("standard layout");
            for (sub, data, palette) in [("images", rgb, false), ("parts", labels, true)] {
                let p = dir.join(sub).join(&name);
                let png = png_bytes(s, data, palette).map_err(|e| Error::file(&p, e))?;
                std::fs::write(&p, png).map_err(io_err(&p))?;
            }
            Ok::<(), Error>(())
        })?;
        let err = io_err(dir);
        for smp in samples {
            let i = smp.index as usize;
            debug_assert_eq!(i, self.written);
            self.images.write_all(smp.image.as_slice().expect("standard layout")).map_err(&err)?;
            self.parts.write_all(smp.parts.as_slice().expect("standard layout")).map_err(&err)?;
            self.labels.write_all(&(smp.class as i64).to_ne_bytes()).map_err(&err)?;
            let mut row = format!(
                "{i},images/{},{},{},{}",
                file_name(i),
                smp.class,
                self.config.classes.names()[smp.class],
                smp.variation.name()
            );
            if let Some(f) = &mut self.faces {
                f.write_all(&(smp.face_class as i64).to_ne_bytes()).map_err(&err)?;
                self.face_classes.push(smp.face_class as u8);
                row.push_str(&format!(",{}", smp.face_class));
            }
            if let Some(f) = &mut self.wears {
                f.write_all(&(smp.wear.index() as i64).to_ne_bytes()).map_err(&err)?;
                row.push_str(&format!(",{}", smp.wear.name()));
            }
            row.push('\n');
            self.csv.write_all(row.as_bytes()).map_err(&err)?;
            self.summary.class_counts[smp.class] += 1;
            self.summary.conflicts += usize::from(smp.face_class != smp.class);
            self.written += 1;
        }
        Ok(())
    }

    /// Flushes the files and writes meta.json.
    fn finish(self) -> Result<SetSummary> {
        let err = io_err(self.dir);
        let files = [Some(self.images), Some(self.labels), Some(self.parts), self.faces, self.wears, Some(self.csv)];
        for f in files.into_iter().flatten() {
            f.into_inner().map_err(|e| err(e.into_error()))?.sync_all().map_err(&err)?;
        }
        let meta = meta(self.config, &self.summary, &self.face_classes);
        let p = self.dir.join("meta.json");
        std::fs::write(&p, serde_json::to_string_pretty(&meta).expect("JSON")).map_err(io_err(&p))?;
        Ok(self.summary)
    }
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
pub(super) fn png_bytes(size: u32, data: &[u8], palette: bool) -> std::result::Result<Vec<u8>, String> {
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

pub(super) fn meta(c: &Config, summary: &SetSummary, face_classes: &[u8]) -> serde_json::Value {
    let counts = &summary.class_counts;
    let names = c.classes.names();
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
        meta["conflict"] = serde_json::json!({
            "fraction": c.conflict,
            "conflicting_images": summary.conflicts,
            "description": format!(
                "each image shows, with probability `fraction` (seeded per image), a face of one of the {} other \
                 classes (uniformly), while its label and the artifact's cue follow the label; the part map is the \
                 drawn face's",
                ["", "one", "two", "three"][names.len() - 1]
            ),
            "face_classes": face_classes,
        });
        meta["files"]["face_classes.npy"] = serde_json::json!("int64 N (the class the face shows)");
        meta["files"]["labels.csv"] = csv_header(true, c.classes == ClassSet::Published).into();
    }
    meta
}
