//! `binarycop watch`: a live loop as BinaryCoP's notebook webcam cells run it. Frames come one
//! at a time from a [`source`] (folder, video, camera), are brought to the model's input by the
//! [`Preprocess`] policy, classified by an [`Accelerator`] (cpu, sim; the same code drives a
//! board), and reported with the frame rate. Optionally each frame gets the deployed CAM
//! (computed on the CPU for the accelerator's label) and is served on a local web page
//! ([`serve`]).
//!
//! Memory is bounded: one frame in flight, a fixed window of frame times, and the server keeps
//! only the latest annotated frame. The loop ends at the end of the input, after
//! `max_frames`, or when the stop flag is raised (Ctrl-C in the CLI), between frames.

pub mod camera;
pub mod serve;
pub mod source;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use image::RgbImage;
use ndarray::{Array3, Axis};

use crate::accel::Accelerator;
use crate::cam::{self, render, CamMethod, Deployed, Post, Request, Ste};
use crate::data::Preprocess;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::limits::MAX_CLASSES;
pub use source::{Frame, FrameSource};

/// Which CAM to overlay: the demo's fine map by default (LayerCAM at Conv1_2, identity STE).
#[derive(Clone, Copy)]
pub struct CamSpec {
    pub method: &'static dyn CamMethod,
    pub layer: usize,
    pub ste: Ste,
}

/// How the loop runs.
#[derive(Clone, Copy, Default)]
pub struct Options {
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// Wait between frames so that no more than this many go through per second.
    pub max_fps: Option<f64>,
}

/// What one frame gave.
pub struct Outcome {
    /// 0-based frame count.
    pub index: u64,
    pub name: String,
    pub label: usize,
    /// Time spent in the accelerator for this frame.
    pub infer_ms: f64,
    /// Frames per second over the last [`FPS_WINDOW`] frames (the whole loop: read, resize,
    /// classify, CAM, report).
    pub fps: f64,
    /// The model input.
    pub input: Array3<u8>,
    /// The deployed CAM for the label, [0, 1] at the input size, when asked.
    pub heatmap: Option<ndarray::Array2<f32>>,
}

/// How many frame intervals the FPS figure averages.
pub const FPS_WINDOW: usize = 30;

/// The end of a run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub frames: u64,
    pub seconds: f64,
    /// Frames per label.
    pub labels: Vec<u64>,
    /// True when the stop flag ended it.
    pub interrupted: bool,
}

impl Summary {
    pub fn fps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.frames as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// A frame rate over a sliding window of frame times.
struct Rate {
    times: VecDeque<Instant>,
}

impl Rate {
    fn new() -> Rate {
        Rate { times: VecDeque::with_capacity(FPS_WINDOW + 1) }
    }

    fn tick(&mut self, now: Instant) -> f64 {
        self.times.push_back(now);
        if self.times.len() > FPS_WINDOW + 1 {
            self.times.pop_front();
        }
        let span = now.duration_since(*self.times.front().expect("just pushed")).as_secs_f64();
        if self.times.len() < 2 || span <= 0.0 {
            0.0
        } else {
            (self.times.len() - 1) as f64 / span
        }
    }
}

/// Classifies frames: the accelerator, the preprocessing, and the CAM engine when asked.
pub struct Watcher<'a> {
    accel: &'a dyn Accelerator,
    prep: Preprocess,
    cam: Option<(CamSpec, Engine)>,
}

impl<'a> Watcher<'a> {
    /// `cam`: overlay this CAM, computed on a CPU engine of the accelerator's model.
    pub fn new(accel: &'a dyn Accelerator, prep: Preprocess, cam: Option<CamSpec>) -> Result<Watcher<'a>> {
        let cam = match cam {
            Some(spec) => {
                let model = accel.model().ok_or_else(|| Error::invalid("a CAM overlay needs a model"))?;
                Some((spec, Engine::new(model.clone())?))
            }
            None => None,
        };
        Ok(Watcher { accel, prep, cam })
    }

    /// One frame: preprocess, classify, CAM (the frame count and rate are the loop's).
    fn classify(&self, frame: Frame) -> Result<Outcome> {
        let shape = self.accel.io().image;
        let rgb = match shape.channels {
            // As image files are read for a 1-channel model: the image crate's luma.
            1 => {
                let (h, w, _) = frame.rgb.dim();
                let img =
                    RgbImage::from_raw(w as u32, h as u32, frame.rgb.iter().copied().collect()).expect("h·w·3 bytes");
                let luma = image::DynamicImage::ImageRgb8(img).to_luma8();
                Array3::from_shape_vec((h, w, 1), luma.into_raw()).expect("h·w bytes")
            }
            _ => frame.rgb.clone(),
        };
        let input = self.prep.apply(rgb.view(), shape).map_err(|e| e.in_file(&frame.name))?;
        let t = Instant::now();
        let out = self.accel.run(input.view().insert_axis(Axis(0)), &[])?;
        let infer_ms = t.elapsed().as_secs_f64() * 1e3;
        let label = out.labels[0];
        let heatmap = match &self.cam {
            Some((spec, engine)) => {
                let req = Request {
                    layer: spec.layer,
                    method: spec.method,
                    class: Some(label),
                    ste: spec.ste,
                    post: Post::PYTORCH_GRAD_CAM,
                };
                Some(cam::compute(&Deployed::new(engine), input.view(), &req)?.heatmap.map)
            }
            None => None,
        };
        Ok(Outcome { index: 0, name: frame.name, label, infer_ms, fps: 0.0, input, heatmap })
    }

    /// Runs until the end of the input, `opts.max_frames`, or `stop`; calls `report` for every
    /// frame (an error there ends the run).
    pub fn run(
        &self,
        source: &mut dyn FrameSource,
        opts: &Options,
        stop: &AtomicBool,
        report: &mut dyn FnMut(&Outcome) -> Result<()>,
    ) -> Result<Summary> {
        // One count per class; without a model (driver.py's odt may allow 2^32 labels) the
        // counts grow with the labels that come, up to MAX_CLASSES.
        let mut summary = Summary { labels: vec![0; self.accel.io().classes.unwrap_or(0)], ..Default::default() };
        let start = Instant::now();
        let mut rate = Rate::new();
        let pace = opts.max_fps.filter(|f| *f > 0.0).map(|f| Duration::from_secs_f64(1.0 / f));
        let mut next_slot = start;
        loop {
            if stop.load(Ordering::SeqCst) {
                summary.interrupted = true;
                break;
            }
            if opts.max_frames.is_some_and(|m| summary.frames >= m) {
                break;
            }
            if let Some(p) = pace {
                let now = Instant::now();
                if next_slot > now {
                    std::thread::sleep(next_slot - now);
                }
                next_slot = next_slot.max(now) + p;
            }
            let Some(frame) = source.next_frame()? else { break };
            let mut outcome = self.classify(frame)?;
            (outcome.index, outcome.fps) = (summary.frames, rate.tick(Instant::now()));
            summary.frames += 1;
            if outcome.label >= summary.labels.len() {
                if outcome.label >= MAX_CLASSES {
                    return Err(Error::invalid(format!(
                        "the accelerator returned label {}, beyond binarycop's limit of {} classes ({}); pass --model to check labels \
                         against its classes",
                        outcome.label,
                        MAX_CLASSES,
                        crate::limits::named("MAX_CLASSES", MAX_CLASSES)
                    )));
                }
                summary.labels.resize(outcome.label + 1, 0);
            }
            summary.labels[outcome.label] += 1;
            report(&outcome)?;
        }
        summary.seconds = start.elapsed().as_secs_f64();
        Ok(summary)
    }
}

/// The picture served for a frame: the model input enlarged, and next to it the CAM overlay
/// (jet, 50/50 blend) when there is one.
pub fn annotate(outcome: &Outcome, scale: u32) -> RgbImage {
    let raw = render::to_rgb(outcome.input.view());
    let mut tiles = vec![render::enlarge(&raw, scale)];
    if let Some(h) = &outcome.heatmap {
        tiles.push(render::enlarge(&render::overlay(&raw, &render::colorize(h)), scale));
    }
    side_by_side(&tiles)
}

/// Tiles next to each other, left to right, on white.
fn side_by_side(tiles: &[RgbImage]) -> RgbImage {
    let width = tiles.iter().map(|t| t.width()).sum::<u32>().max(1);
    let height = tiles.iter().map(|t| t.height()).max().unwrap_or(1);
    let mut out = RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let mut x = 0;
    for t in tiles {
        image::imageops::replace(&mut out, t, i64::from(x), 0);
        x += t.width();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device without a model whose driver.py allows UINT32 labels, answering `label`.
    struct Answers {
        io: crate::accel::IoSpec,
        label: usize,
    }

    impl Accelerator for Answers {
        fn name(&self) -> &'static str {
            "stub"
        }
        fn io(&self) -> &crate::accel::IoSpec {
            &self.io
        }
        fn model(&self) -> Option<&crate::model::FoldedModel> {
            None
        }
        fn has_scores(&self) -> bool {
            false
        }
        fn has_taps(&self) -> bool {
            false
        }
        fn run(&self, images: ndarray::ArrayView4<u8>, _: &[usize]) -> Result<crate::accel::Outputs> {
            let n = images.len_of(Axis(0));
            Ok(crate::accel::Outputs { labels: vec![self.label; n], scores: None, taps: Vec::new() })
        }
    }

    struct Blank(u32);

    impl source::FrameSource for Blank {
        fn describe(&self) -> String {
            "blank frames".into()
        }
        fn next_frame(&mut self) -> Result<Option<source::Frame>> {
            self.0 = self.0.saturating_sub(1);
            Ok((self.0 > 0).then(|| source::Frame { name: "blank".into(), rgb: Array3::zeros((4, 4, 3)) }))
        }
    }

    #[test]
    fn label_counts_without_a_model_grow_with_the_labels_seen_and_are_bounded() {
        let io = crate::accel::IoSpec {
            image: crate::model::Shape::new(4, 4, 3),
            classes: None,
            max_label: u32::MAX as u64,
        };
        let stop = AtomicBool::new(false);
        let opts = Options { max_frames: None, max_fps: None };
        let run = |label| {
            let acc = Answers { io: io.clone(), label };
            let w = Watcher::new(&acc, Preprocess::default(), None).unwrap();
            w.run(&mut Blank(4), &opts, &stop, &mut |_| Ok(()))
        };
        assert_eq!(run(2).unwrap().labels, [0, 0, 3]);
        let e = run(u32::MAX as usize).unwrap_err().to_string();
        assert!(e.contains("4294967295") && e.contains("MAX_CLASSES") && e.contains("--model"), "{e}");
    }

    #[test]
    fn rate_counts_frames_over_the_window() {
        let mut r = Rate::new();
        let t0 = Instant::now();
        assert_eq!(r.tick(t0), 0.0);
        for i in 1..=100u64 {
            let fps = r.tick(t0 + Duration::from_millis(100 * i));
            assert!((fps - 10.0).abs() < 1e-6, "{fps}");
        }
        assert_eq!(r.times.len(), FPS_WINDOW + 1);
    }
}
