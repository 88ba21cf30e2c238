//! The AXI-lite register map of FINN's IODMA (`idma0`, `odma0`).
//!
//! Sources:
//! - FINN `custom_op/fpgadataflow/hls/iodma_hls.py::pragmas`: the top function's `return`, the
//!   memory pointer (`m_axi offset=slave`) and `numReps` are `s_axilite` ports of one `control`
//!   bundle, so Vivado HLS lays out its standard map: 0x00 control, 0x04 global interrupt
//!   enable, 0x08 IP interrupt enable, 0x0C IP interrupt status, then the arguments from 0x10.
//! - FINN `qnn-data/templates/driver/driver_base.py::execute_on_buffers` writes the buffer
//!   address to 0x10, the batch size to 0x1C and 1 to 0x00, checks 0x00 & 0x4 (idle) before and
//!   polls 0x00 & 0x2 (done) after (finn.md §7).
//! - 0x14 as the pointer's high word follows from HLS giving a 64-bit pointer two words
//!   (0x10, 0x14) and a reserved 0x18 before the next argument at 0x1C; FINN's own driver never
//!   writes it because PYNQ buffers sit below 4 GiB. We write it (0 there) so that a buffer
//!   above 4 GiB on Zynq UltraScale+ is not silently truncated.
//!
//! The fields are `tock-registers` bitfields applied to values read through [`crate::mmio`]:
//! the registers are reached through a trait object, not a memory-mapped struct.

use tock_registers::register_bitfields;
use tock_registers::LocalRegisterCopy;

/// Control: ap_start, ap_done, ap_idle, ap_ready, auto_restart.
pub const CTRL: usize = 0x00;
/// Global interrupt enable (unused by the driver; interrupts stay off, we poll).
pub const GIE: usize = 0x04;
/// IP interrupt enable.
pub const IER: usize = 0x08;
/// IP interrupt status.
pub const ISR: usize = 0x0C;
/// The DRAM buffer's physical address, bits 31:0.
pub const ADDR_LO: usize = 0x10;
/// The DRAM buffer's physical address, bits 63:32.
pub const ADDR_HI: usize = 0x14;
/// `numReps`: how many frames (the batch size).
pub const NUM_REPS: usize = 0x1C;
/// The window must reach at least past `numReps`.
pub const WINDOW_MIN: usize = NUM_REPS + 4;

register_bitfields![u32,
    /// The HLS block-level control register (`ap_ctrl_hs`). ap_done is clear-on-read in HLS.
    pub Control [
        AP_START OFFSET(0) NUMBITS(1) [],
        AP_DONE OFFSET(1) NUMBITS(1) [],
        AP_IDLE OFFSET(2) NUMBITS(1) [],
        AP_READY OFFSET(3) NUMBITS(1) [],
        AUTO_RESTART OFFSET(7) NUMBITS(1) []
    ]
];

/// A control register value read from (or to be written to) 0x00.
pub type ControlValue = LocalRegisterCopy<u32, Control::Register>;

/// The value that starts one run: ap_start alone (FINN writes 1; auto_restart stays off).
pub fn start_value() -> u32 {
    let mut v = ControlValue::new(0);
    v.write(Control::AP_START::SET);
    v.get()
}

/// Splits a 64-bit physical address into the (low, high) register words.
pub fn split_addr(addr: u64) -> (u32, u32) {
    (addr as u32, (addr >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sit_at_the_hls_bits() {
        let v = ControlValue::new(0b1000_0100);
        assert!(v.is_set(Control::AP_IDLE) && v.is_set(Control::AUTO_RESTART));
        assert!(!v.is_set(Control::AP_DONE) && !v.is_set(Control::AP_START) && !v.is_set(Control::AP_READY));
        assert!(ControlValue::new(0x2).is_set(Control::AP_DONE));
        assert!(ControlValue::new(0x8).is_set(Control::AP_READY));
        assert_eq!(start_value(), 1);
        assert_eq!(split_addr(0x0000_0001_2345_6780), (0x2345_6780, 1));
        assert_eq!(WINDOW_MIN, 0x20);
    }
}
