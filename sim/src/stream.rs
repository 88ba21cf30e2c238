//! Stream words and FINN data types. A word of `bits` bits is held LSB-first in
//! `ceil(bits/64)` u64s; lane i of a word with `lane_bits`-bit lanes sits at bits
//! [i·lane_bits, (i+1)·lane_bits), lane 0 at the LSB, as FINN packs streams (finn.md §3, §7).

/// A FINN integer data type: BINARY (1 bit, read as ±1 in XNOR mode), UINTn or INTn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DType {
    pub bits: u32,
    pub signed: bool,
}

impl DType {
    pub const BINARY: DType = DType { bits: 1, signed: false };
    pub const UINT8: DType = DType { bits: 8, signed: false };
    pub const INT8: DType = DType { bits: 8, signed: true };

    pub fn new(bits: u32, signed: bool) -> DType {
        DType { bits, signed }
    }

    /// The smallest type holding every value in lo..=hi.
    pub fn covering(lo: i64, hi: i64) -> DType {
        let signed = lo < 0;
        let mut bits = 1;
        while bits < 64 {
            let d = DType { bits, signed };
            if d.min() <= lo && hi <= d.max() {
                return d;
            }
            bits += 1;
        }
        DType { bits: 64, signed }
    }

    pub fn min(&self) -> i64 {
        if self.signed {
            -(1i64 << (self.bits - 1))
        } else {
            0
        }
    }
    pub fn max(&self) -> i64 {
        if self.signed {
            (1i64 << (self.bits - 1)) - 1
        } else if self.bits >= 63 {
            i64::MAX
        } else {
            (1i64 << self.bits) - 1
        }
    }

    /// FINN's name: BINARY, UINT8, INT13, ...
    pub fn finn_name(&self) -> String {
        match (self.bits, self.signed) {
            (1, false) => "BINARY".into(),
            (b, true) => format!("INT{b}"),
            (b, false) => format!("UINT{b}"),
        }
    }

    /// Rounded up to a whole number of bytes (FINN does this for a graph's last output).
    pub fn byte_aligned(&self) -> DType {
        DType { bits: self.bits.div_ceil(8) * 8, signed: self.signed }
    }

    /// The raw bits of a value (two's complement for signed types).
    #[inline]
    pub fn encode(&self, v: i64) -> u64 {
        (v as u64) & mask(self.bits as usize)
    }

    /// The value of raw bits.
    #[inline]
    pub fn decode(&self, raw: u64) -> i64 {
        let b = self.bits;
        if self.signed && b < 64 && (raw >> (b - 1)) & 1 == 1 {
            (raw | !mask(b as usize)) as i64
        } else {
            raw as i64
        }
    }
}

/// u64s per word of `bits` bits.
#[inline]
pub fn words_for(bits: usize) -> usize {
    bits.div_ceil(64).max(1)
}

#[inline]
pub fn mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Reads `n` ≤ 64 bits at bit offset `off`.
#[inline]
pub fn get_bits(src: &[u64], off: usize, n: usize) -> u64 {
    let (w, s) = (off / 64, off % 64);
    let mut v = src[w] >> s;
    if s != 0 && s + n > 64 {
        v |= src[w + 1] << (64 - s);
    }
    v & mask(n)
}

/// ORs `n` ≤ 64 bits of `v` in at bit offset `off` (the destination bits must be zero).
#[inline]
pub fn or_bits(dst: &mut [u64], off: usize, n: usize, v: u64) {
    let v = v & mask(n);
    let (w, s) = (off / 64, off % 64);
    dst[w] |= v << s;
    if s != 0 && s + n > 64 {
        dst[w + 1] |= v >> (64 - s);
    }
}

/// ORs `n` bits of `src` (from bit 0) into `dst` at bit offset `off` (destination bits zero).
pub fn or_copy(dst: &mut [u64], off: usize, src: &[u64], n: usize) {
    if off.is_multiple_of(64) {
        let full = n / 64;
        let base = off / 64;
        for i in 0..full {
            dst[base + i] |= src[i];
        }
        if !n.is_multiple_of(64) {
            dst[base + full] |= src[full] & mask(n % 64);
        }
        return;
    }
    let mut done = 0;
    while done < n {
        let k = (n - done).min(64);
        or_bits(dst, off + done, k, get_bits(src, done, k));
        done += k;
    }
}

/// Every lane of a sequence of words, in stream order (word-major, lane 0 first).
pub fn lanes(words: &[u64], word_bits: usize, dtype: DType) -> Vec<i64> {
    let wpw = words_for(word_bits);
    let lb = dtype.bits as usize;
    let per = word_bits / lb;
    let mut out = Vec::with_capacity(words.len() / wpw * per);
    for w in words.chunks_exact(wpw) {
        for i in 0..per {
            out.push(dtype.decode(get_bits(w, i * lb, lb)));
        }
    }
    out
}

/// Packs values into words of `per_word` lanes of `dtype` each.
pub fn pack(values: &[i64], per_word: usize, dtype: DType) -> Vec<u64> {
    let lb = dtype.bits as usize;
    let wpw = words_for(per_word * lb);
    let mut out = vec![0u64; values.len().div_ceil(per_word) * wpw];
    for (j, &v) in values.iter().enumerate() {
        let (w, i) = (j / per_word, j % per_word);
        or_bits(&mut out[w * wpw..(w + 1) * wpw], i * lb, lb, dtype.encode(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtypes_cover_and_round_trip() {
        assert_eq!(DType::covering(0, 576), DType::new(10, false));
        assert_eq!(DType::covering(-3456, 3457), DType::new(13, true));
        assert_eq!(DType::covering(0, 1), DType::BINARY);
        assert_eq!(DType::INT8.finn_name(), "INT8");
        assert_eq!(DType::new(10, false).byte_aligned().finn_name(), "UINT16");
        for v in [-128i64, -1, 0, 1, 127] {
            assert_eq!(DType::INT8.decode(DType::INT8.encode(v)), v);
        }
        assert_eq!(DType::INT8.encode(-1), 0xff);
    }

    #[test]
    fn bits_pack_lsb_first_across_words() {
        // finn.md §7: [-1, 2] as INT8 packs to FF 02 (element 0 at bit 0).
        let w = pack(&[-1, 2], 2, DType::INT8);
        assert_eq!(w, vec![0x02ff]);
        let vals: Vec<i64> = (0..40).map(|i| (i * 7) % 13 - 6).collect();
        let w = pack(&vals, 20, DType::new(5, true));
        assert_eq!(w.len(), 2 * 2);
        assert_eq!(lanes(&w, 100, DType::new(5, true)), vals);
        let mut dst = vec![0u64; 3];
        or_copy(&mut dst, 37, &[u64::MAX, 0b1011], 68);
        assert_eq!(get_bits(&dst, 37, 64), u64::MAX);
        assert_eq!(get_bits(&dst, 101, 4), 0b1011);
        assert_eq!(get_bits(&dst, 0, 37), 0);
    }
}
