//! A stand-in deployment folder: the three files of a FINN zynq-iodma deployment (`driver.py`,
//! `.hwh`, `.bit`) written for an accelerator that is not a bitstream, such as binarycop's
//! simulated device. They are binarycop's own text in FINN's layout, and [`crate::deployment`]
//! reads them back as it reads FINN's:
//!
//! - `driver/driver.py`: only `io_shape_dict`, in the single-tensor form of FINN of 2020 (the
//!   form of BinaryCoP's published `notebook/driver.py`), with the normal, folded and packed
//!   shapes derived from what the IODMAs move per frame ([`IoShape`]);
//! - `bitfile/<name>.hwh`: a hardware handoff trimmed to what a driver reads: the processor
//!   (PYNQ-Z1's `processing_system7`), PL clock 0, and the `idma0`/`odma0` AXI-lite windows;
//! - `bitfile/<name>.bit`: a header that names the design (`<name>_stand_in`, version
//!   `binarycop-stand-in`), with no date and an empty payload: there is no bitstream, and
//!   `binarycop load` refuses an empty one.
//!
//! Everything here is a pure function of its arguments, so a committed stand-in can be checked
//! against a fresh one byte for byte.

use crate::deploy::BIT_MAGIC;
use crate::driver::IoShape;
use crate::finn_driver::py_tuple;

/// The `.bit` header's version field: marks a stand-in.
pub const STAND_IN_VERSION: &str = "binarycop-stand-in";

/// One IODMA tensor: its normal shape (batch first) and what the IODMA moves per frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    /// NHWC for an image, (1, K) for K class indices; the batch dimension is 1.
    pub normal: Vec<usize>,
    pub io: IoShape,
}

impl Tensor {
    /// FINN's folded shape: the normal one with its last dimension split into
    /// (last / inner, inner), `inner` being what one packed row holds.
    pub fn folded(&self) -> Result<Vec<usize>, String> {
        let (last, outer) = self.normal.split_last().ok_or("an empty shape")?;
        let inner = self.io.inner;
        if inner == 0 || last % inner != 0 {
            return Err(format!("the last dimension of {} is not a multiple of {inner}", py_tuple(&self.normal)));
        }
        let mut f = outer.to_vec();
        f.extend([last / inner, inner]);
        let rows: usize = f[1..f.len() - 1].iter().product();
        if self.normal.first() != Some(&1) || rows != self.io.rows {
            return Err(format!(
                "{} (batch 1) is not {} rows of {inner} {}",
                py_tuple(&self.normal),
                self.io.rows,
                self.io.dtype
            ));
        }
        Ok(f)
    }

    /// FINN's packed shape: the folded one with bytes in its last dimension.
    pub fn packed(&self) -> Result<Vec<usize>, String> {
        let mut p = self.folded()?;
        *p.last_mut().expect("folded has two dimensions or more") = self.io.dtype.row_bytes(self.io.inner);
        Ok(p)
    }
}

/// What a stand-in describes.
#[derive(Clone, Debug)]
pub struct StandIn {
    /// The design's name: the .hwh and .bit stem, e.g. "ncnv72_published".
    pub name: String,
    /// One line for the files' headers: what runs behind the windows.
    pub what: String,
    pub input: Tensor,
    pub output: Tensor,
    /// idma0's and odma0's AXI-lite windows: (base, bytes).
    pub idma0: (u64, u64),
    pub odma0: (u64, u64),
    /// PL clock 0's two divisors of the IO PLL (1000 MHz: a 50 MHz crystal × 20).
    pub fclk_divisors: (u32, u32),
}

impl StandIn {
    /// PYNQ-Z1's usual map: idma0 at 0x40000000 and odma0 at 0x40010000, 64 KiB each, and
    /// fclk0 at 100 MHz (1000 MHz / 5 / 2), as FINN's zynq-iodma builds for it have.
    pub fn pynq_z1(name: &str, what: &str, input: Tensor, output: Tensor) -> StandIn {
        StandIn {
            name: name.to_string(),
            what: what.to_string(),
            input,
            output,
            idma0: (0x4000_0000, 0x1_0000),
            odma0: (0x4001_0000, 0x1_0000),
            fclk_divisors: (5, 2),
        }
    }

    fn fclk_mhz(&self) -> f64 {
        1000.0 / f64::from(self.fclk_divisors.0 * self.fclk_divisors.1)
    }

    /// `driver/driver.py`.
    pub fn driver_py(&self) -> Result<String, String> {
        let (i, o) = (&self.input, &self.output);
        let entries = [
            ("idt", format!("DataType.{}", i.io.dtype)),
            ("odt", format!("DataType.{}", o.io.dtype)),
            ("ishape_normal", py_tuple(&i.normal)),
            ("oshape_normal", py_tuple(&o.normal)),
            ("ishape_folded", py_tuple(&i.folded()?)),
            ("oshape_folded", py_tuple(&o.folded()?)),
            ("ishape_packed", py_tuple(&i.packed()?)),
            ("oshape_packed", py_tuple(&o.packed()?)),
        ];
        let mut s = format!(
            "# A stand-in deployment's driver.py, written by `binarycop export-deploy`: {}.\n\
             # binarycop's own text: only the io_shape_dict that binarycop reads, in the single-tensor\n\
             # form of FINN's 2020 driver.py. There is no bitstream (see ../README.md); nothing runs this file.\n\n\
             from finn.core.datatype import DataType\n\n\
             # what the accelerator reads (idma0) and writes (odma0) per frame; shapes are NHWC, batch first\n\
             io_shape_dict = {{\n",
            self.what
        );
        for (k, v) in entries {
            s.push_str(&format!("    \"{k}\" : {v},\n"));
        }
        s.push_str("}\n");
        Ok(s)
    }

    /// `bitfile/<name>.hwh`.
    pub fn hwh(&self) -> String {
        let window = |inst: &str, (base, len): (u64, u64)| {
            format!(
                "        <MEMRANGE ADDRESSBLOCK=\"Reg\" BASENAME=\"C_BASEADDR\" BASEVALUE=\"{base:#010X}\" \
                 HIGHNAME=\"C_HIGHADDR\" HIGHVALUE=\"{:#010X}\" INSTANCE=\"{inst}\" MEMTYPE=\"REGISTER\" \
                 SLAVEBUSINTERFACE=\"s_axi_control_0\"/>\n",
                base + len - 1
            )
            .replace("0X", "0x")
        };
        let module = |inst: &str, partition: u32| {
            format!(
                "    <MODULE FULLNAME=\"/{inst}\" INSTANCE=\"{inst}\" MODTYPE=\"StreamingDataflowPartition_{partition}\" \
                 VLNV=\"xilinx_finn:finn:StreamingDataflowPartition_{partition}:1.0\"/>\n"
            )
        };
        let (d0, d1) = self.fclk_divisors;
        let mhz = self.fclk_mhz();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\" ?>\n\
             <!-- A stand-in hardware handoff, written by `binarycop export-deploy`: {what}.\n     \
             Not a Vivado output: there is no bitstream. It names the IODMA windows, the processor and PL\n     \
             clock 0 as a FINN zynq-iodma build for PYNQ-Z1 has them, and nothing else. -->\n\
             <EDKSYSTEM EDWVERSION=\"1.2\" VIVADOVERSION=\"{STAND_IN_VERSION}\">\n  \
             <SYSTEMINFO ARCH=\"zynq\" BOARD=\"www.digilentinc.com:pynq-z1:part0:1.0\" DEVICE=\"7z020\" NAME=\"{name}\" \
             PACKAGE=\"clg400\" SPEEDGRADE=\"-1\"/>\n  \
             <MODULES>\n{idma}{sdp}{odma}    \
             <MODULE FULLNAME=\"/zynq_ps\" INSTANCE=\"zynq_ps\" IS_PL=\"FALSE\" MODTYPE=\"processing_system7\" \
             VLNV=\"xilinx.com:ip:processing_system7:5.5\">\n      \
             <PARAMETERS>\n        \
             <PARAMETER NAME=\"PCW_FPGA0_PERIPHERAL_FREQMHZ\" VALUE=\"{mhz}\"/>\n        \
             <PARAMETER NAME=\"PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ\" VALUE=\"{mhz:.6}\"/>\n        \
             <PARAMETER NAME=\"PCW_FCLK0_PERIPHERAL_DIVISOR0\" VALUE=\"{d0}\"/>\n        \
             <PARAMETER NAME=\"PCW_FCLK0_PERIPHERAL_DIVISOR1\" VALUE=\"{d1}\"/>\n        \
             <PARAMETER NAME=\"PCW_FCLK0_PERIPHERAL_CLKSRC\" VALUE=\"IO PLL\"/>\n        \
             <PARAMETER NAME=\"PCW_CRYSTAL_PERIPHERAL_FREQMHZ\" VALUE=\"50\"/>\n        \
             <PARAMETER NAME=\"PCW_IOPLL_CTRL_FBDIV\" VALUE=\"20\"/>\n        \
             <PARAMETER NAME=\"PCW_FPGA_FCLK0_ENABLE\" VALUE=\"1\"/>\n      \
             </PARAMETERS>\n      \
             <MEMORYMAP>\n{wi}{wo}      </MEMORYMAP>\n    \
             </MODULE>\n  \
             </MODULES>\n\
             </EDKSYSTEM>\n",
            what = self.what,
            name = self.name,
            idma = module("idma0", 0),
            sdp = module("StreamingDataflowPartition_1", 1),
            odma = module("odma0", 2),
            wi = window("idma0", self.idma0),
            wo = window("odma0", self.odma0),
        )
    }

    /// `bitfile/<name>.bit`: the header fields a, b, c, d and an empty payload.
    pub fn bit(&self) -> Vec<u8> {
        let mut b = BIT_MAGIC.to_vec();
        let design = format!("{}_stand_in;UserID=0XFFFFFFFF;Version={STAND_IN_VERSION}", self.name);
        for (key, text) in [(b'a', design.as_str()), (b'b', "7z020clg400"), (b'c', "none"), (b'd', "none")] {
            let len = u16::try_from(text.len() + 1).expect("short header fields");
            b.push(key);
            b.extend(len.to_be_bytes());
            b.extend(text.as_bytes());
            b.push(0);
        }
        b.push(b'e');
        b.extend(0u32.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::{parse_bit, parse_hwh};
    use crate::finn_driver::{parse, Form};
    use crate::packing::DataType;
    use std::path::Path;

    fn published() -> StandIn {
        let input = Tensor { normal: vec![1, 72, 72, 3], io: IoShape::new(DataType::UINT8, 72 * 72, 3) };
        let output = Tensor { normal: vec![1, 1], io: IoShape::new(DataType::UINT8, 1, 1) };
        StandIn::pynq_z1("demo", "a test", input, output)
    }

    #[test]
    fn the_three_files_read_back_as_written() {
        let s = published();
        let d = parse(&s.driver_py().unwrap(), Path::new("driver.py")).unwrap();
        assert_eq!(d.form, Form::Single);
        let (i, o) = d.single_io().unwrap();
        assert_eq!(
            (i.folded.as_slice(), i.packed.as_slice()),
            ([1, 72, 72, 1, 3].as_slice(), [1, 72, 72, 1, 3].as_slice())
        );
        assert_eq!((i.frame_bytes(), o.frame_bytes(), o.folded.as_slice()), (15552, 1, [1, 1, 1].as_slice()));
        let h = parse_hwh(&s.hwh()).unwrap();
        let w: Vec<_> = h.dmas.iter().map(|d| (d.name.as_str(), d.base, d.range)).collect();
        assert_eq!(w, [("idma0", 0x4000_0000, 0x1_0000), ("odma0", 0x4001_0000, 0x1_0000)]);
        assert_eq!((h.fclk_mhz, h.fclk_actual_mhz), (Some(100.0), Some(100.0)));
        assert_eq!(h.processor, "processing_system7");
        let b = parse_bit(&s.bit()).unwrap();
        assert_eq!(
            (b.design.as_str(), b.version.as_deref(), b.payload_len),
            ("demo_stand_in", Some(STAND_IN_VERSION), 0)
        );
    }

    #[test]
    fn shapes_that_are_not_the_rows_are_refused() {
        let mut s = published();
        s.input.io = IoShape::new(DataType::UINT8, 32 * 32, 3);
        assert!(s.driver_py().unwrap_err().contains("is not 1024 rows of 3 UINT8"));
        s.input.io = IoShape::new(DataType::UINT8, 72 * 72, 2);
        assert!(s.driver_py().unwrap_err().contains("not a multiple of 2"));
    }
}
