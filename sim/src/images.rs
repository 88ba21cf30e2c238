//! Memory images: the per-PE weight and threshold memories of an MVAU laid out as FINN and
//! BNN-PYNQ load them (finn.md §4).
//!
//! - FINN memstream `.dat` (`make_weight_file`, mode `decoupled_verilog_dat`,
//!   `matrixvectoractivation.py:703-716`): one hex line per address nf·SF+sf, PE·SIMD·W bits
//!   wide, padded to whole hex digits, most significant digit first; bits [(p·SIMD+i)·W, …)
//!   hold W[nf·PE+p][sf·SIMD+i] in the weight type (BINARY 1 = +1; the first layer's INT2 after
//!   `minimize_bit_width`: +1 = 01, −1 = 11), so PE 0 lane 0 is the least significant field.
//! - FINN's runtime-writable weights (mode `decoupled_runtime`, lines 717-737, written by the
//!   driver generator as `runtime_weights/<partition>_<layer>_<node>.dat`): each memory line
//!   padded to a power-of-two number of 32-bit words, one word per line, least significant
//!   first.
//! - BNN-PYNQ `L-P-weights.bin` (finnthesizer `BNNProcElemMem`): one little-endian uint64 per
//!   address of PE P, column sf·SIMD+i at bit i (needs SIMD ≤ 64); the last layer's rows padded
//!   to 64 with all-ones rows (`__padMatrix`: 1 bits pad 1-bit weights).
//! - BNN-PYNQ `L-P-thres.bin`: little-endian int64, nf-major then threshold index. BNN-PYNQ's
//!   pinned finn-hlslib fires on acc > T where FINN fires on acc ≥ T, so the caller passes the
//!   conversion (T − 1 for integer accumulators).
//! - HLS `params.h`: finn-hlslib's `BinaryWeights<SIMD, PE, WMEM>` and
//!   `ThresholdsActivation<TMEM, PE, steps, ...>` initializers, as FINN's `internal_embedded`
//!   mode and BNN-PYNQ compile them in; `config.h`: BNN-PYNQ's per-layer `L<i>_*` defines.

use std::fmt::Write;

use crate::graph::{Graph, Op};
use crate::mvau::Mvau;
use crate::stream::{get_bits, words_for};
use crate::Error;

/// Hex digits of `bits` bits of `words`, most significant first, ⌈bits/4⌉ digits.
pub fn hex(words: &[u64], bits: usize) -> String {
    let digits = bits.div_ceil(4).max(1);
    let mut s = String::with_capacity(digits);
    for d in (0..digits).rev() {
        let n = (bits - d * 4).min(4);
        let v = get_bits(words, d * 4, n);
        s.push(char::from_digit(v as u32, 16).expect("a nibble"));
    }
    s
}

/// One memstream line: every PE's SIMD weights of address `a`, in the weight type.
fn memory_line(m: &Mvau, a: usize, word: &mut [u64]) {
    let (pe, simd, wb) = (m.cfg.pe, m.cfg.simd, m.wdt.bits as usize);
    word.fill(0);
    for p in 0..pe {
        let w = m.weight_word(p, a);
        for i in 0..simd {
            let v = m.encode_weight(get_bits(w, i, 1) == 1);
            crate::stream::or_bits(word, (p * simd + i) * wb, wb, v);
        }
    }
}

/// The memstream `.dat`: one line per address.
pub fn weights_dat(m: &Mvau) -> String {
    let width = m.weight_bits();
    let mut word = vec![0u64; words_for(width)];
    let mut out = String::new();
    for a in 0..m.wmem_depth() {
        memory_line(m, a, &mut word);
        out.push_str(&hex(&word, width));
        out.push('\n');
    }
    out
}

/// FINN's runtime-writable weight file: per address, the line padded to 2^⌈log₂(width/32)⌉
/// 32-bit words, written one word per line, least significant word first.
pub fn weights_runtime(m: &Mvau) -> String {
    let width = m.weight_bits();
    let per = (width.div_ceil(32)).next_power_of_two();
    let mut word = vec![0u64; words_for(per * 32)];
    let mut out = String::new();
    for a in 0..m.wmem_depth() {
        memory_line(m, a, &mut word);
        for k in 0..per {
            out.push_str(&hex(&[get_bits(&word, k * 32, 32)], 32));
            out.push('\n');
        }
    }
    out
}

/// BNN-PYNQ weights of PE `p`: one uint64 per address, rows padded to a multiple of
/// `pad_rows` (64 for the last layer, as finnthesizer pads it; 1 for none) with all-ones rows.
pub fn weights_bin(m: &Mvau, p: usize, pad_rows: usize) -> Result<Vec<u8>, Error> {
    if m.cfg.simd > 64 {
        return Err(Error::Invalid(format!(
            "BNN-PYNQ weight files hold 64 bits per address; SIMD {} is wider",
            m.cfg.simd
        )));
    }
    let to = pad_rows.max(m.cfg.pe);
    let nf_pad = m.mh.div_ceil(to) * to / m.cfg.pe;
    let ones = crate::stream::mask(m.cfg.simd);
    let sf = m.sf();
    Ok((0..nf_pad * sf)
        .flat_map(|a| if a / sf < m.nf() { m.weight_word(p, a)[0] } else { ones }.to_le_bytes())
        .collect())
}

/// BNN-PYNQ thresholds of PE `p`, each converted by `conv`.
pub fn thresholds_bin(m: &Mvau, p: usize, conv: impl Fn(i64) -> i64) -> Vec<u8> {
    (0..m.tmem_depth()).flat_map(|nf| m.thresholds(p, nf).to_vec()).flat_map(|t| conv(t).to_le_bytes()).collect()
}

/// finn-hlslib initializers for one MVAU's memories.
pub fn params_h(m: &Mvau, name: &str) -> String {
    let (pe, simd, wmem) = (m.cfg.pe, m.cfg.simd, m.wmem_depth());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// {name}: MW={} MH={} SIMD={simd} PE={pe} WMEM={wmem} TMEM={} (bit i of an entry = lane i; 1 = +1)",
        m.mw,
        m.mh,
        m.tmem_depth()
    );
    let wb = m.wdt.bits as usize;
    if wb == 1 {
        let _ = writeln!(s, "static BinaryWeights<{simd}, {pe}, {wmem}> weights_{name} = {{{{");
    } else {
        // FINN's hls_header for non-1-bit weights (matrixvectoractivation.py:664-672).
        let _ = writeln!(s, "static FixedPointWeights<{simd}, ap_int<{wb}>, {pe}, {wmem}> weights_{name} = {{{{");
    }
    for p in 0..pe {
        let entries: Vec<String> = (0..wmem)
            .map(|a| {
                let w = m.weight_word(p, a);
                let mut word = vec![0u64; words_for(simd * wb)];
                for i in 0..simd {
                    crate::stream::or_bits(&mut word, i * wb, wb, m.encode_weight(get_bits(w, i, 1) == 1));
                }
                format!("ap_uint<{}>(\"{}\", 16)", simd * wb, hex(&word, simd * wb))
            })
            .collect();
        let _ = writeln!(s, "  {{ {} }}{}", entries.join(", "), if p + 1 < pe { "," } else { "" });
    }
    s.push_str("}};\n");
    if m.tmem_depth() > 0 {
        let acc = format!("ap_{}int<{}>", if m.acc.signed { "" } else { "u" }, m.acc.bits);
        let _ = writeln!(
            s,
            "static ThresholdsActivation<{}, {pe}, {}, {acc}, ap_uint<{}>, {}, comp::less_equal<{acc}, {acc}>> threshs_{name} = {{{{",
            m.tmem_depth(),
            m.steps,
            m.out.bits,
            m.act_val
        );
        for p in 0..pe {
            let rows: Vec<String> = (0..m.tmem_depth())
                .map(|nf| {
                    let t: Vec<String> = m.thresholds(p, nf).iter().map(i64::to_string).collect();
                    format!("{{ {} }}", t.join(", "))
                })
                .collect();
            let _ = writeln!(s, "  {{ {} }}{}", rows.join(", "), if p + 1 < pe { "," } else { "" });
        }
        s.push_str("}};\n");
    }
    s
}

/// BNN-PYNQ-style `config.h`: per MVAU layer i, its geometry and folding.
pub fn config_h(g: &Graph) -> String {
    let mut s = String::from("// Per MVAU layer: geometry and folding (BNN-PYNQ config.h names).\n");
    let mut swu = None;
    let mut i = 0;
    for n in &g.nodes {
        match &n.op {
            Op::Swu(sw) => swu = Some(sw.clone()),
            Op::Mvau(m) => {
                let _ = writeln!(s, "\n// {}", n.name);
                if let Some(sw) = swu.take() {
                    for (k, v) in [("K", sw.k), ("IFM_CH", sw.c), ("IFM_DIM", sw.h), ("OFM_DIM", sw.oh())] {
                        let _ = writeln!(s, "#define L{i}_{k} {v}");
                    }
                    let _ = writeln!(s, "#define L{i}_OFM_CH {}", m.mh);
                }
                let defs = [
                    ("MW", m.mw),
                    ("MH", m.mh),
                    ("SIMD", m.cfg.simd),
                    ("PE", m.cfg.pe),
                    ("WMEM", m.wmem_depth()),
                    ("TMEM", m.tmem_depth()),
                    ("WPI", 1),
                    ("API", m.out.bits as usize),
                    ("WPF", 0),
                    ("APF", 0),
                ];
                for (k, v) in defs {
                    let _ = writeln!(s, "#define L{i}_{k} {v}");
                }
                i += 1;
            }
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvau::{Activation, BitRows, MvauConfig, MvauSpec};
    use crate::DType;

    /// 4 rows × 6 columns, PE 2, SIMD 3, thresholds 10·r.
    fn example() -> Mvau {
        let mut w = BitRows::zeros(4, 6);
        for (r, c) in [(0, 0), (1, 4), (2, 2), (3, 5), (3, 3), (1, 0)] {
            w.set(r, c, true);
        }
        let sp = MvauSpec {
            mw: 6,
            mh: 4,
            vectors: 1,
            input: DType::BINARY,
            weights: w,
            activation: Activation::Thresholds {
                thresholds: (0..4).map(|r| vec![10 * r as i64]).collect(),
                act_val: 0,
                out: DType::BINARY,
            },
        };
        Mvau::new("MVAU_hls_0", &sp, MvauConfig { pe: 2, simd: 3, ..Default::default() }).unwrap()
    }

    #[test]
    fn dat_lines_hold_every_pe_of_one_address() {
        // Address 0 (nf 0, sf 0): PE 0 = row 0 cols 0..3 = 0b001, PE 1 = row 1 = 0b001
        // → bits 0..6 = 0b001_001 = 0x09. Address 1 (sf 1): row 0 cols 3..6 = 0, row 1 col 4
        // → lane 1 of PE 1 = bit 4 → 0x10. Address 2 (nf 1, sf 0): row 2 col 2 → bit 2, row 3
        // nothing → 0x04. Address 3: row 3 cols 3, 5 → PE 1 lanes 0, 2 → bits 3, 5 → 0x28.
        assert_eq!(weights_dat(&example()), "09\n10\n04\n28\n");
        assert_eq!(hex(&[0xabc], 12), "abc");
        assert_eq!(hex(&[0x1f], 5), "1f");
        assert_eq!(hex(&[u64::MAX, 1], 65), "1ffffffffffffffff");
    }

    #[test]
    fn bnn_pynq_files_are_per_pe() {
        let m = example();
        let w1 = weights_bin(&m, 1, 1).unwrap();
        assert_eq!(w1.len(), 4 * 8);
        // PE 1: row 1 (nf 0) = cols 0, 4 → 0b001, 0b010; row 3 (nf 1) = cols 3, 5 → 0, 0b101.
        let words: Vec<u64> = w1.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(words, [0b001, 0b010, 0b000, 0b101]);
        // PE 1 holds rows 1 and 3: thresholds 10 and 30, written as acc > T − 1.
        let t: Vec<i64> =
            thresholds_bin(&m, 1, |t| t - 1).chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(t, [9, 29]);
    }

    /// 2 rows × 2 columns of an INT8-input layer, PE 2, SIMD 1: rows [+1, −1] and [−1, −1].
    fn first_layer(runtime: bool) -> Mvau {
        let mut w = BitRows::zeros(2, 2);
        w.set(0, 0, true);
        let sp = MvauSpec {
            mw: 2,
            mh: 2,
            vectors: 1,
            input: DType::INT8,
            weights: w,
            activation: Activation::Thresholds { thresholds: vec![vec![0]; 2], act_val: 0, out: DType::BINARY },
        };
        let cfg = MvauConfig { pe: 2, simd: 1, runtime_writeable_weights: runtime, ..Default::default() };
        Mvau::new("MVAU_hls_0", &sp, cfg).unwrap()
    }

    #[test]
    fn first_layer_weights_are_int2_as_minimize_bit_width_leaves_them() {
        // Address 0: PE 0 = +1 → 01, PE 1 = −1 → 11 → 0b1101; address 1: both −1 → 0b1111.
        let m = first_layer(false);
        assert_eq!(m.wdt, DType::new(2, true));
        assert_eq!(weights_dat(&m), "d\nf\n");
        // Runtime-writable weights keep one bit (1 = +1) and pad each line to 32-bit words.
        let r = first_layer(true);
        assert_eq!(r.wdt, DType::BINARY);
        assert_eq!(weights_dat(&r), "1\n0\n");
        assert_eq!(weights_runtime(&m), "0000000d\n0000000f\n");
        // 96 bits (CNV's MVAU 0: PE 16 × SIMD 3 × 2 bits) take 4 words per line, least
        // significant first: all −1 is 96 one bits, then the padding word.
        let sp = MvauSpec {
            mw: 3,
            mh: 16,
            vectors: 1,
            input: DType::INT8,
            weights: BitRows::zeros(16, 3),
            activation: Activation::Thresholds { thresholds: vec![vec![0]; 16], act_val: 0, out: DType::BINARY },
        };
        let wide = Mvau::new("MVAU_hls_0", &sp, MvauConfig { pe: 16, simd: 3, ..Default::default() }).unwrap();
        assert_eq!(weights_runtime(&wide), "ffffffff\nffffffff\nffffffff\n00000000\n");
        let h = params_h(&m, "MVAU_hls_0");
        assert!(h.contains("FixedPointWeights<1, ap_int<2>, 2, 2>"), "{h}");
        assert!(h.contains("ap_uint<2>(\"1\", 16), ap_uint<2>(\"3\", 16)"), "{h}");
    }

    #[test]
    fn bnn_pynq_pads_the_last_layer_with_ones() {
        let m = example();
        let words: Vec<u64> =
            weights_bin(&m, 0, 64).unwrap().chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        // 64 rows at PE 2 → 32 folds × 2 addresses; past the 2 real folds, all-ones SIMD words.
        assert_eq!(words.len(), 64);
        assert_eq!(words[..4], [0b001, 0b000, 0b100, 0b000]);
        assert!(words[4..].iter().all(|&w| w == 0b111));
    }

    #[test]
    fn params_header_lists_pe_memories() {
        let h = params_h(&example(), "MVAU_hls_0");
        assert!(h.contains("static BinaryWeights<3, 2, 4> weights_MVAU_hls_0"), "{h}");
        assert!(h.contains(
            "{ ap_uint<3>(\"1\", 16), ap_uint<3>(\"0\", 16), ap_uint<3>(\"4\", 16), ap_uint<3>(\"0\", 16) },"
        ));
        assert!(h.contains("{ { 0 }, { 20 } },"), "{h}");
        assert!(h.contains("comp::less_equal<ap_uint<5>, ap_uint<5>>"), "{h}");
    }
}
