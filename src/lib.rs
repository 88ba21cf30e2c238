//! binarycop: run binarized CNNs of the BinaryCoP / FINN CNV family bit-exactly as the FINN
//! accelerator does, and look inside them.
//!
//! - [`model`]: topology, import from Brevitas QONNX or a parameter npz, threshold folding, the
//!   deployable artifact;
//! - [`engine`]: the bit-packed XNOR-popcount engine with layer taps;
//! - [`accel`]: one trait over the engine, the simulated accelerator and a Zynq board;
//! - [`reference`]: the f32 training-time graph (the test oracle);
//! - [`cam`]: class-activation maps on the deployed and training graphs, metrics, pictures;
//! - [`data`]: image loading, the crop and resize policies ([`data::resize`]), synthetic faces;
//! - [`eval`]: accuracy, precision, recall and confusion matrices on labelled image folders;
//! - [`watch`]: the live loop over a camera, a video or a folder of frames, and its web page;
//! - [`npy`]: .npy/.npz reading with every header checked against the real data;
//! - [`output`]: output folders written all or nothing;
//! - [`packed`]: FINN packed bytes checked against the shape they unpack to;
//! - [`limits`]: the bounds on everything read from a file (from binarycop-hw);
//! - [`report`]: labelled figures, plots and HTML reports;
//! - [`progress`]: progress bars for long work;
//! - [`cli`]: the `binarycop` command.

pub mod accel;
pub mod cam;
pub mod cli;
pub mod data;
pub mod demo;
pub mod engine;
pub mod error;
pub mod eval;
pub mod lower;
pub mod model;
pub mod npy;
pub mod output;
pub mod packed;
pub mod progress;
pub mod reference;
pub mod report;
pub mod watch;

pub use binarycop_hw::limits;
pub use error::{Error, Result};
