//! BinaryCoP's DSP bit-packing (XOHW'21 report, Sec. III-C and Fig. 2;
//! `utils/mvtu_dsp_bitpacking/` in NaelF/BinaryCoP): an MVAU's XNORs run on DSP48 slices
//! instead of LUTs. The script rewires the HLS-generated MVAU: each XNOR's activation bit goes
//! into the 48-bit A:B concatenation (A 30 bits, B 18), its weight bit into C, and the DSP runs
//! with OPMODE "0110011" (X = A:B, Z = C, multiplier bypassed) and ALUMODE "0101" (X XNOR Z);
//! P is split back into the 48 XNOR results that feed the popcount. The XNORs of all PEs are
//! packed in order, 48 per slice (`dsp_max = 48`), so a layer takes ⌈PE·SIMD/48⌉ DSP48s.
//!
//! **Function:** unchanged (the same XNOR-popcount). **Cycles:** unchanged: `DSP48E1_MOD.vhd`
//! instantiates the slice with every pipeline register off (AREG = BREG = CREG = PREG = 0), so
//! the XNOR stays combinational inside the MVAU's pipeline stage. **Resources:** the DSP48s, and
//! the LUTs of FINN-R's multiplier term (SIMD·(2⌈(W+A)/6⌉−1)·(W+A) per PE, 2·SIMD for XNORs)
//! are gone; the popcount's adder tree stays in LUTs. Set it with the folding attribute
//! `"dsp_xnor": 1` on an MVAU whose input is binary. It applies to the DSP48E1 (7-series) and
//! the DSP48E2 (UltraScale+), whose A:B and C are as wide.

use crate::mvau::Mvau;

/// XNORs one DSP48 packs: the width of A:B and of C.
pub const XNORS_PER_DSP: u64 = 48;

/// DSP48 slices the MVAU's packed XNORs take (0 unless `dsp_xnor` is set).
pub fn dsps(m: &Mvau) -> u64 {
    if m.cfg.dsp_xnor {
        ((m.cfg.pe * m.cfg.simd) as u64).div_ceil(XNORS_PER_DSP)
    } else {
        0
    }
}

/// DSP48s it would take to pack the MVAU (whether or not it is packed).
pub fn dsps_if_packed(m: &Mvau) -> u64 {
    ((m.cfg.pe * m.cfg.simd) as u64).div_ceil(XNORS_PER_DSP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvau::{Activation, BitRows, MvauConfig, MvauSpec};
    use crate::DType;

    fn mvau(pe: usize, simd: usize, packed: bool, input: DType) -> Result<Mvau, crate::Error> {
        let spec = MvauSpec {
            mw: 64,
            mh: 8,
            vectors: 1,
            input,
            weights: BitRows::zeros(8, 64),
            activation: Activation::Thresholds { thresholds: vec![vec![3]; 8], act_val: 0, out: DType::BINARY },
        };
        Mvau::new("MVAU_hls_2", &spec, MvauConfig { pe, simd, dsp_xnor: packed, ..Default::default() })
    }

    #[test]
    fn xnors_pack_48_to_a_slice_across_pes() {
        // The script's own setting: PE 4 × SIMD 32 = 128 XNORs → 3 slices.
        assert_eq!(dsps(&mvau(4, 32, true, DType::BINARY).unwrap()), 3);
        assert_eq!(dsps(&mvau(4, 32, false, DType::BINARY).unwrap()), 0);
        assert_eq!(dsps(&mvau(8, 64, true, DType::BINARY).unwrap()), 11);
        let e = mvau(1, 1, true, DType::INT8).unwrap_err().to_string();
        assert!(e.contains("MVAU_hls_2") && e.contains("dsp_xnor"), "{e}");
    }
}
