//! The fast CPU engine: bit-packed maps, XNOR-popcount kernels per ISA, and a runtime with taps.

pub mod kernels;
pub mod packed;
pub mod runtime;

pub use packed::PackedMap;
pub use runtime::{top_k, Engine, LayerOut, Trace};
