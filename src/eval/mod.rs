//! `eval`: a model's accuracy on labelled images (an image folder or a labelled `.npy` pair),
//! through any backend ([`crate::accel`]): per-class precision and recall, a confusion matrix,
//! and the backend's images per second.
//!
//! A folder is streamed: its paths are walked first ([`dataset::Folder::scan`]), then
//! [`BATCH`] files at a time are decoded (in parallel, with `infer`'s loader:
//! [`crate::data::load_image`], the same [`DecodeBound`](crate::data::DecodeBound), crop and
//! resize), classified and counted into the [`Confusion`] matrix; only one batch of images is
//! held. A file that cannot be used (not an image, undecodable, too large to decode, a crop that
//! does not fit it) is skipped and counted, and the first [`MAX_EVAL_LISTED_SKIPS`] are named;
//! it is never fatal. A labelled `.npy` pair is read whole (as `infer` reads an .npy, within
//! [`MAX_TENSOR_ELEMENTS`](crate::limits::MAX_TENSOR_ELEMENTS)) and classified in batches.

pub mod classmap;
pub mod dataset;
pub mod errors;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{s, Array3, Array4, ArrayView4, Axis};
use rayon::prelude::*;

pub use classmap::{ClassIndex, ClassMap};
pub use dataset::{Dataset, Entry, Folder, NpyPair};
pub use metrics::Confusion;

use crate::accel::Accelerator;
use crate::data::Preprocess;
use crate::error::{Error, Result};
use crate::limits::{MAX_EVAL_CLASSES, MAX_EVAL_KEPT_ERRORS, MAX_EVAL_LISTED_SKIPS};
use crate::model::Shape;
use crate::progress::Progress;

/// Images decoded and classified per step.
pub const BATCH: usize = 256;

/// A file left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub path: String,
    pub why: String,
}

/// A misclassified image, kept for `eval --errors`.
#[derive(Clone, Debug, PartialEq)]
pub struct Miss {
    /// The file it came from (or `IMAGES.npy[i]`).
    pub source: PathBuf,
    /// As the model took it (cropped and resized).
    pub image: Array3<u8>,
    pub truth: usize,
    pub predicted: usize,
}

/// What an evaluation counted.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub confusion: Confusion,
    /// Files skipped, all counted.
    pub skipped: usize,
    /// The first [`MAX_EVAL_LISTED_SKIPS`] of them.
    pub listed: Vec<Skip>,
    /// Time inside the backend's `run`.
    pub backend_seconds: f64,
    /// The whole pass, reading and decoding included.
    pub seconds: f64,
    /// The first misclassified images, at most `keep` of them (0 unless asked).
    pub misses: Vec<Miss>,
    keep: usize,
}

impl Evaluation {
    fn new(classes: usize) -> Evaluation {
        Evaluation {
            confusion: Confusion::new(classes),
            skipped: 0,
            listed: Vec::new(),
            backend_seconds: 0.0,
            seconds: 0.0,
            misses: Vec::new(),
            keep: 0,
        }
    }

    fn skip(&mut self, path: &Path, why: String) {
        self.skipped += 1;
        if self.listed.len() < MAX_EVAL_LISTED_SKIPS {
            self.listed.push(Skip { path: path.display().to_string(), why });
        }
    }

    /// Classifies a batch and counts it against `truth`; `source(i)` names image i.
    fn run(
        &mut self,
        accel: &dyn Accelerator,
        images: ArrayView4<u8>,
        truth: &[usize],
        source: &dyn Fn(usize) -> PathBuf,
    ) -> Result<()> {
        let start = Instant::now();
        let out = accel.run(images, &[])?;
        self.backend_seconds += start.elapsed().as_secs_f64();
        for (i, (&t, &p)) in truth.iter().zip(&out.labels).enumerate() {
            self.confusion.add(t, p);
            if t != p && self.misses.len() < self.keep {
                let image = images.index_axis(Axis(0), i).to_owned();
                self.misses.push(Miss { source: source(i), image, truth: t, predicted: p });
            }
        }
        Ok(())
    }

    /// Images per second inside the backend.
    pub fn backend_rate(&self) -> Option<f64> {
        (self.backend_seconds > 0.0).then(|| self.confusion.total() as f64 / self.backend_seconds)
    }

    /// Images per second over the whole pass.
    pub fn overall_rate(&self) -> Option<f64> {
        (self.seconds > 0.0).then(|| self.confusion.total() as f64 / self.seconds)
    }
}

/// The classes an accelerator reports, which `eval` needs (a model gives them).
fn classes_of(accel: &dyn Accelerator) -> Result<usize> {
    let classes = accel.io().classes.ok_or_else(|| Error::invalid("eval needs the model's classes: pass --model"))?;
    check_classes(classes)
}

/// At most [`MAX_EVAL_CLASSES`]: the confusion matrix holds classes² counters.
fn check_classes(classes: usize) -> Result<usize> {
    if classes > MAX_EVAL_CLASSES {
        return Err(Error::invalid(format!(
            "the model has {classes} classes; eval counts a confusion matrix of at most {} classes ({})",
            MAX_EVAL_CLASSES,
            crate::limits::named("MAX_EVAL_CLASSES", MAX_EVAL_CLASSES)
        )));
    }
    Ok(classes)
}

/// Evaluates `accel` on `data`; progress counts files (or images of an `.npy` pair).
pub fn evaluate(accel: &dyn Accelerator, data: &Dataset, prep: &Preprocess, progress: &Progress) -> Result<Evaluation> {
    evaluate_keeping(accel, data, prep, progress, 0)
}

/// [`evaluate`], keeping the first `keep` misclassified images (at most
/// [`MAX_EVAL_KEPT_ERRORS`]) in [`Evaluation::misses`].
pub fn evaluate_keeping(
    accel: &dyn Accelerator,
    data: &Dataset,
    prep: &Preprocess,
    progress: &Progress,
    keep: usize,
) -> Result<Evaluation> {
    let start = Instant::now();
    let mut ev = Evaluation::new(classes_of(accel)?);
    ev.keep = keep.min(MAX_EVAL_KEPT_ERRORS);
    match data {
        Dataset::Folder(f) => eval_folder(accel, f, prep, progress, &mut ev)?,
        Dataset::Npy(p) => eval_npy(accel, p, progress, &mut ev)?,
    }
    ev.seconds = start.elapsed().as_secs_f64();
    if ev.confusion.total() == 0 {
        let first = ev.listed.first().map_or(String::new(), |s| format!("; the first: {}: {}", s.path, s.why));
        return Err(Error::invalid(format!("none of the {} files could be used{first}", ev.skipped)));
    }
    Ok(ev)
}

fn eval_folder(
    accel: &dyn Accelerator,
    f: &Folder,
    prep: &Preprocess,
    progress: &Progress,
    ev: &mut Evaluation,
) -> Result<()> {
    let bar = progress.bar(f.entries.len() as u64, "evaluating");
    let shape = accel.io().image;
    for chunk in f.entries.chunks(BATCH) {
        let (images, truth, used) = decode(chunk, shape, prep, ev);
        if let Some(images) = images {
            ev.run(accel, images.view(), &truth, &|i| used[i].to_path_buf())?;
        }
        bar.inc(chunk.len() as u64);
    }
    Ok(())
}

/// Decodes a chunk in parallel: the images that could be used, their classes and paths; the
/// others are skipped on `ev`.
fn decode<'e>(
    chunk: &'e [Entry],
    shape: Shape,
    prep: &Preprocess,
    ev: &mut Evaluation,
) -> (Option<Array4<u8>>, Vec<usize>, Vec<&'e Path>) {
    let decoded: Vec<Result<Array3<u8>>> =
        chunk.par_iter().map(|e| crate::data::load_image(&e.path, shape, prep)).collect();
    let mut views = Vec::with_capacity(chunk.len());
    let mut truth = Vec::with_capacity(chunk.len());
    let mut used = Vec::with_capacity(chunk.len());
    for (e, d) in chunk.iter().zip(&decoded) {
        match d {
            Ok(img) => {
                views.push(img.view());
                truth.push(e.class);
                used.push(e.path.as_path());
            }
            Err(err) => ev.skip(&e.path, reason(err)),
        }
    }
    let batch = (!views.is_empty()).then(|| ndarray::stack(Axis(0), &views).expect("images of the model's shape"));
    (batch, truth, used)
}

/// An error's message without the path it names (the skip list names it).
fn reason(e: &Error) -> String {
    match e {
        Error::File { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

fn eval_npy(accel: &dyn Accelerator, pair: &NpyPair, progress: &Progress, ev: &mut Evaluation) -> Result<()> {
    let images = crate::data::load_npy(&pair.images, accel.io().image)?;
    let n = images.len_of(Axis(0));
    let labels = dataset::read_labels(&pair.labels, n, ev.confusion.classes())?;
    let bar = progress.bar(n as u64, "evaluating");
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let source = |i: usize| PathBuf::from(format!("{}[{}]", pair.images.display(), start + i));
        ev.run(accel, images.slice(s![start..end, .., .., ..]), &labels[start..end], &source)?;
        bar.inc((end - start) as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_confusion_matrix_is_bounded() {
        assert_eq!(super::check_classes(1024).unwrap(), 1024);
        let e = super::check_classes(65536).unwrap_err().to_string();
        assert!(e.contains("65536 classes") && e.contains("MAX_EVAL_CLASSES = 1024"), "{e}");
    }
}
