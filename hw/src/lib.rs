//! Zynq access for FINN-built accelerators. It knows nothing of neural networks.
//!
//! Today it holds the hardware description data that the rest of the workspace needs: the
//! BinaryCoP foldings (PE and SIMD per MVAU, binarycop.md §1), and the access layer for FINN's
//! zynq-iodma accelerators:
//! - [`regs`]: the IODMA's AXI-lite register map, as named fields;
//! - [`mmio`]: register windows behind a small trait (UIO, /dev/mem, a file); all `unsafe` is there;
//! - [`dma`]: DMA buffers behind a trait (u-dma-buf, plain memory);
//! - [`packing`]: FINN DataTypes and their packed byte layout;
//! - [`driver`]: the IODMA protocol, generic over the two traits (a board or a simulated device);
//! - [`deploy`]: the .hwh and .bit of a deployment;
//! - [`fpga`]: what the PL holds (FPGA manager, PYNQ's and binarycop's records), and loading it;
//! - [`clocks`]: PL clock 0 in the PS clock registers, read and set as PYNQ's `Clocks` does;
//! - [`preflight`]: the checks that run before the first register access.
//! - [`stand_in`]: a deployment folder's files for an accelerator that is not a bitstream.
//! - [`limits`]: the bounds on everything read from a file, and the one bounded file read.

// `unsafe` is confined to mmio.rs, which allows it for itself.
#![deny(unsafe_code)]

pub mod boards;
pub mod clocks;
pub mod deploy;
pub mod deployment;
pub mod dma;
pub mod driver;
pub mod finn_driver;
pub mod folding;
pub mod fpga;
pub mod limits;
pub mod mmio;
pub mod packing;
pub mod preflight;
pub mod regs;
pub mod runtime_weights;
pub mod stand_in;
mod sysfs;
mod xml_depth;

pub use sysfs::SysfsError;
