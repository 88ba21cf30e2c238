//! The two flows that build a FINN-style dataflow accelerator, and what each builds differently.
//!
//! - [`Flow::Finn`]: the FINN compiler (finn 39f0c9a). Window generators are the RTL SWG
//!   (`ConvolutionInputGenerator_rtl`); one width converter between a producer and its consumer,
//!   named `StreamingDataWidthConverter_rtl` where one width divides the other
//!   (`specialize_layers.py::_dwc_determine_impl_style`), `_hls` otherwise; FIFO depths from the
//!   folding config, else sized as FINN's default `largefifo_rtlsim` strategy does
//!   ([`crate::report::auto_fifo_depths`]); the last layer is not padded.
//! - [`Flow::BnnPynq`]: BNN-PYNQ's HLS top level (`bnn/src/network/cnvW1A1/hw/top.cpp`,
//!   BNN-PYNQ d39c1c7) on the finn-hlslib it pins (8b7f5f5). Window generators are finn-hlslib's
//!   `ConvolutionInputGenerator` loop ([`crate::swu`]); every layer boundary is a stream of whole
//!   pixels (conv, pool) or 64-bit words (between fully connected layers), reached through
//!   `ConvLayer_Batch`'s width-adjusting converters (`convlayer.h`); the input arrives as 64-bit
//!   words through `StreamingDataWidthConverter_Batch` 64→192→24; the boundary streams have
//!   top.cpp's `#pragma HLS STREAM` depths ([`bnn_pynq_boundary_depth`]) and every other stream
//!   Vivado HLS's default depth of 2; the last layer is padded to 64 rows as finnthesizer pads it
//!   (`cifar10-gen-weights-W1A1.py`: `paddedH = padTo(w.shape[0], 64)`).
//!
//! BNN-PYNQ has no standalone input thresholding (conv0 reads the 8-bit pixel as
//! `ap_fixed<8,1>`) and no LabelSelect (the host picks the top score); both nodes stay in the
//! graph for the function, the quantizer at one pixel per cycle.

/// Which flow builds the accelerator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Flow {
    #[default]
    Finn,
    BnnPynq,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::Finn => "finn",
            Flow::BnnPynq => "bnn-pynq",
        }
    }

    /// The flow by its name (`finn`, `bnn-pynq`).
    pub fn from_name(s: &str) -> Option<Flow> {
        match s.to_ascii_lowercase().as_str() {
            "finn" => Some(Flow::Finn),
            "bnn-pynq" | "bnn_pynq" | "bnnpynq" => Some(Flow::BnnPynq),
            _ => None,
        }
    }

    /// Vivado HLS's default depth of an `hls::stream` without a STREAM pragma.
    pub const HLS_DEFAULT_STREAM_DEPTH: usize = 2;

    /// BNN-PYNQ's AXI master and stream width into and out of the accelerator.
    pub const BNN_PYNQ_MEM_BITS: usize = 64;

    /// The row count BNN-PYNQ pads the last layer to (finnthesizer).
    pub const BNN_PYNQ_LAST_ROWS: usize = 64;
}

/// What sits on either side of a layer boundary, for BNN-PYNQ's stream depths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// The pixel stream into the first convolution (top.cpp `inter0_2`).
    Input,
    /// Between two convolutions of the same group; `group` counts the pools before.
    ConvConv { group: usize },
    /// A convolution into a max-pool.
    ConvPool,
    /// A max-pool into a convolution; `pools` counts the pools up to and including this one.
    PoolConv { pools: usize },
    /// The last convolution (or pool) into the first fully connected layer.
    ConvFc,
    /// Between fully connected layers; `into_last` when the consumer is the last layer.
    FcFc { into_last: bool },
    /// The stream into the output DMA (top.cpp `memOutStrm`).
    Output,
}

impl Boundary {
    /// A short name, for configs that override a design's depths by role.
    pub fn name(self) -> &'static str {
        match self {
            Boundary::Input => "input",
            Boundary::ConvConv { .. } => "conv_conv",
            Boundary::ConvPool => "conv_pool",
            Boundary::PoolConv { .. } => "pool_conv",
            Boundary::ConvFc => "conv_fc",
            Boundary::FcFc { into_last: false } => "fc_fc",
            Boundary::FcFc { into_last: true } => "fc_last",
            Boundary::Output => "output",
        }
    }
}

/// cnvW1A1 top.cpp's `#pragma HLS STREAM` depths, by the role of the boundary: `inter0_2` 128
/// (input), `inter1` 128 and `inter4` 128 (conv → conv in the first two groups), `inter7` 1 (conv
/// → conv in the third group), `inter2`/`inter5` none (conv → pool, HLS default 2), `inter3` 128
/// and `inter6` 81 (after the first and second pool), `inter8` 1 (into the first fc layer),
/// `inter9` 128 and `inter10` 3 (fc → fc, the latter into the last layer), `memOutStrm` none.
/// Depths count words of the boundary stream (pixels, or 64-bit words between fc layers).
pub fn bnn_pynq_boundary_depth(b: Boundary) -> usize {
    match b {
        Boundary::Input => 128,
        Boundary::ConvConv { group } if group < 2 => 128,
        Boundary::ConvConv { .. } => 1,
        Boundary::ConvPool => Flow::HLS_DEFAULT_STREAM_DEPTH,
        Boundary::PoolConv { pools: 1 } => 128,
        Boundary::PoolConv { .. } => 81,
        Boundary::ConvFc => 1,
        Boundary::FcFc { into_last: false } => 128,
        Boundary::FcFc { into_last: true } => 3,
        Boundary::Output => Flow::HLS_DEFAULT_STREAM_DEPTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_depths_follow_top_cpp() {
        for f in [Flow::Finn, Flow::BnnPynq] {
            assert_eq!(Flow::from_name(f.name()), Some(f));
        }
        assert_eq!(Flow::from_name("vitis"), None);
        // CNV's eleven streams in order: inter0_2, inter1..inter10.
        let cnv = [
            Boundary::Input,
            Boundary::ConvConv { group: 0 },
            Boundary::ConvPool,
            Boundary::PoolConv { pools: 1 },
            Boundary::ConvConv { group: 1 },
            Boundary::ConvPool,
            Boundary::PoolConv { pools: 2 },
            Boundary::ConvConv { group: 2 },
            Boundary::ConvFc,
            Boundary::FcFc { into_last: false },
            Boundary::FcFc { into_last: true },
        ];
        assert_eq!(cnv.map(bnn_pynq_boundary_depth), [128, 128, 2, 128, 128, 2, 81, 1, 1, 128, 3]);
    }
}
