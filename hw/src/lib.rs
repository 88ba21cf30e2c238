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
//! - [`deploy`]: the .hwh and .bit of a deployment, and loading through the FPGA manager;
//! - [`limits`]: the bounds on everything read from a file, and the one bounded file read.

// `unsafe` is confined to mmio.rs, which allows it for itself.
#![deny(unsafe_code)]

pub mod boards;
pub mod deploy;
pub mod dma;
pub mod driver;
pub mod folding;
pub mod limits;
pub mod mmio;
pub mod packing;
pub mod regs;
mod sysfs;
mod xml_depth;

pub use sysfs::SysfsError;
