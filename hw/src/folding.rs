//! The PE / SIMD foldings of the three BinaryCoP accelerators, one entry per MVAU in layer order
//! (the paper's table, binarycop.md §1; CNV's equals BNN-PYNQ cnvW1A1).

/// PE and SIMD of each MVAU, in layer order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folding {
    pub name: &'static str,
    pub pe: &'static [usize],
    pub simd: &'static [usize],
}

pub const CNV: Folding =
    Folding { name: "cnv", pe: &[16, 32, 16, 16, 4, 1, 1, 1, 4], simd: &[3, 32, 32, 32, 32, 32, 4, 8, 1] };
pub const NCNV: Folding =
    Folding { name: "ncnv", pe: &[16, 16, 16, 16, 4, 1, 1, 1, 1], simd: &[3, 16, 16, 32, 32, 32, 4, 8, 1] };
pub const UCNV: Folding = Folding { name: "ucnv", pe: &[4, 4, 4, 4, 1, 1, 1], simd: &[3, 16, 16, 32, 32, 16, 1] };

/// The paper's folding for a preset name.
pub fn paper_folding(preset: &str) -> Option<Folding> {
    [CNV, NCNV, UCNV].into_iter().find(|f| f.name == preset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pe_and_simd_per_mvau() {
        assert_eq!(paper_folding("cnv").unwrap().pe.len(), 9);
        for f in [CNV, NCNV, UCNV] {
            assert_eq!(f.pe.len(), f.simd.len(), "{}", f.name);
        }
        assert!(paper_folding("vgg").is_none());
    }
}
