//! Zynq access for FINN-built accelerators. It knows nothing of neural networks.
//!
//! Today it holds the hardware description data that the rest of the workspace needs: the
//! BinaryCoP foldings (PE and SIMD per MVAU, binarycop.md §1). The IODMA driver, packing, MMIO
//! and DMA buffers come with the driver issue.

pub mod folding;
