//! The FINN dataflow simulator. It knows FINN nodes, not BinaryCoP.
//!
//! Today it holds FINN's analytical cycle model of the MVAU (`mvau`), checked against the
//! BinaryCoP foldings from binarycop-hw. The node graph, the cycle-level clock and the simulated
//! device come with the simulator issue.

pub mod mvau;
