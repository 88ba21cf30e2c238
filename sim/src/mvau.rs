//! The MVAU (matrix-vector-activation unit), FINN's analytical model (finn.md §6).

/// Expected cycles per frame: (MH/PE)·(MW/SIMD)·vectors (FINN `get_exp_cycles`).
/// None when the folding does not divide the matrix (MW % SIMD, MH % PE).
pub fn exp_cycles(mw: usize, mh: usize, pe: usize, simd: usize, vectors: usize) -> Option<usize> {
    if pe == 0 || simd == 0 || mw % simd != 0 || mh % pe != 0 {
        return None;
    }
    Some((mh / pe) * (mw / simd) * vectors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use binarycop_hw::folding::CNV;

    #[test]
    fn cnv_cycles_match_finn() {
        // (MW, MH, vectors) of CNV-W1A1 with 10 classes; finn.md §6 gives the cycle counts.
        let dims = [
            (27, 64, 900),
            (576, 64, 784),
            (576, 128, 144),
            (1152, 128, 100),
            (1152, 256, 9),
            (2304, 256, 1),
            (256, 512, 1),
            (512, 512, 1),
            (512, 10, 1),
        ];
        let cycles: Vec<usize> = dims
            .iter()
            .enumerate()
            .map(|(i, &(mw, mh, v))| {
                // finn-examples folds the 10-class head with PE 5 (finn.md §5).
                let pe = if i == 8 { 5 } else { CNV.pe[i] };
                exp_cycles(mw, mh, pe, CNV.simd[i], v).unwrap()
            })
            .collect();
        assert_eq!(cycles, [32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768, 1024]);
        assert_eq!(exp_cycles(27, 64, 5, 3, 1), None);
    }
}
