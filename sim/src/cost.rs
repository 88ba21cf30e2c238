//! What FINN's resource estimates are made of: the per-node figures `estimate_layer_resources`
//! reports (finn `src/finn/analysis/fpgadataflow/res_estimation.py`, each node's
//! `node_res_estimation`, `hwcustomop.py:139`), and the arithmetic the node formulas share.
//! The formulas themselves live with their nodes (mvau, thresholding, swu, dwc, fifo); nodes
//! without a formula in FINN (StreamingMaxPool, LabelSelect, IODMA) count zero, as FINN's base
//! class does (`hwcustomop.py:161-179`).

/// One node's estimate in FINN's units: LUTs, RAMB18s, URAMs and DSP slices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub lut: u64,
    pub bram18: u64,
    pub uram: u64,
    pub dsp: u64,
}

impl std::ops::Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources {
            lut: self.lut + o.lut,
            bram18: self.bram18 + o.bram18,
            uram: self.uram + o.uram,
            dsp: self.dsp + o.dsp,
        }
    }
}

impl std::iter::Sum for Resources {
    fn sum<I: Iterator<Item = Resources>>(it: I) -> Resources {
        it.fold(Resources::default(), |a, b| a + b)
    }
}

/// Python's `math.log(x, 2)`: ln x / ln 2 in f64, with the same rounding (FINN's formulas take
/// ceilings of it, so 2^k stays exact as in Python).
pub fn log2(x: f64) -> f64 {
    x.ln() / 2f64.ln()
}

/// FINN's RAMB18 count for a memory of `depth` words of `width` bits, assuming SDP-mode RAMB18s
/// (`matrixvectoractivation.py:406-417`, `streamingfifo.py:158-169`).
pub fn bram_table(depth: u64, width: u64) -> u64 {
    let d = depth;
    match width {
        0 => 0,
        1 => d.div_ceil(16384),
        2 => d.div_ceil(8192),
        3..=4 => d.div_ceil(4096) * width.div_ceil(4),
        5..=9 => d.div_ceil(2048) * width.div_ceil(9),
        w if w <= 18 || d > 512 => d.div_ceil(1024) * w.div_ceil(18),
        w => d.div_ceil(512) * w.div_ceil(36),
    }
}

/// FINN's memory primitives for `get_memutil_alternatives` (`util/basic.py:239-248`,
/// `mem_primitives_versal`, used for every part): (name, width, depth).
const MEM_PRIMITIVES: [(&str, u64, u64); 8] = [
    ("URAM", 72, 4096),
    ("URAM", 36, 8192),
    ("URAM", 18, 16384),
    ("URAM", 9, 32768),
    ("BRAM", 36, 512),
    ("BRAM", 18, 1024),
    ("BRAM", 9, 2048),
    ("LUTRAM", 1, 64),
];

/// The least-waste primitive for a `width`×`depth` memory and how many it takes
/// (`util/basic.py:251-286`, `memutil` and `get_memutil_alternatives` sorted by waste; Python's
/// sort is stable, so the first of equal waste wins).
pub fn least_waste_primitive(width: u64, depth: u64) -> (&'static str, u64) {
    let mut best: Option<(&str, u64, u64)> = None;
    for (name, pw, pd) in MEM_PRIMITIVES {
        let count = width.div_ceil(pw) * depth.div_ceil(pd);
        let waste = count * pw * pd - width * depth;
        if best.is_none_or(|(_, _, w)| waste < w) {
            best = Some((name, count, waste));
        }
    }
    let (name, count, _) = best.expect("primitives");
    (name, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finn_memory_formulas() {
        assert_eq!(bram_table(36, 48), 2);
        assert_eq!(bram_table(36, 96), 3);
        assert_eq!(bram_table(2304, 128), 24);
        assert_eq!(bram_table(32768, 8), 16);
        assert_eq!(log2(32.0).ceil(), 5.0);
        assert_eq!(log2(33.0).ceil(), 6.0);
        // 8 bits × 384: 48 LUTRAMs waste nothing; 8 × 3: one LUTRAM column of 64 per bit.
        assert_eq!(least_waste_primitive(8, 384), ("LUTRAM", 48));
        assert_eq!(least_waste_primitive(8, 3), ("LUTRAM", 8));
        assert_eq!(least_waste_primitive(36, 512), ("BRAM", 1));
    }
}
