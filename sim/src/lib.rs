//! The FINN dataflow simulator. It knows FINN nodes, not BinaryCoP.
//!
//! One module per node, each holding the node's bit-exact function, its cycle-level timing and
//! its cost (FINN's estimates) side by side, as FINN's custom ops do: [`thresholding`], [`swu`],
//! [`mvau`] (its whole-layer arithmetic in [`dot`]), [`maxpool`], [`dwc`], [`label_select`],
//! [`fifo`], [`iodma`]. [`graph`] builds the folded node graph from layer descriptions and a FINN
//! folding config; [`clock`] runs it;
//! [`report`] turns a run into FINN-style numbers; [`search`] picks a folding; [`images`] lays
//! the memories out as FINN and BNN-PYNQ files.

pub mod calibration;
pub mod clock;
pub mod cost;
pub mod device;
pub mod dot;
pub mod dsp_xnor;
pub mod dwc;
pub mod fifo;
pub mod flow;
pub mod graph;
pub mod images;
pub mod implementation;
pub mod iodma;
pub mod label_select;
pub mod maxpool;
pub mod mvau;
pub mod report;
pub mod search;
pub mod stream;
pub mod swu;
pub mod thresholding;

pub use graph::{Graph, LayerSpec, Node, Op};
pub use stream::DType;

/// What went wrong, naming the node where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A node's folding or attributes are invalid.
    Node { node: String, msg: String },
    /// The folding config as a whole is malformed.
    Config(String),
    /// Anything else the caller passed.
    Invalid(String),
}

impl Error {
    pub fn node(node: &str, msg: impl Into<String>) -> Error {
        Error::Node { node: node.to_string(), msg: msg.into() }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Node { node, msg } => write!(f, "node '{node}': {msg}"),
            Error::Config(m) => write!(f, "folding config: {m}"),
            Error::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
