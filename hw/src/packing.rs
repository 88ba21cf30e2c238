//! FINN DataTypes and the packed byte layout of `finnpy_to_packed_bytearray` /
//! `packed_bytearray_to_finnpy` (finn `src/finn/util/data_packing.py`, finn.md §7).
//!
//! A tensor is a sequence of rows of `inner` elements (FINN's innermost, "folded" dimension). Each
//! row is packed on its own into ⌈inner·bits/8⌉ bytes. In FINN's terms, the row is the integer
//! V = Σ_j f_j·2^(j·bits) over bit fields f (two's complement; BIPOLAR x → (x+1)/2), where
//! f = the elements in order when `reverse_inner`, else reversed; the bytes of V are
//! little-endian when `reverse_endian`, else big-endian (padding in the top bits either way).
//! The PYNQ driver uses both flags ([`Layout::DRIVER`]): element 0 at bit 0, as the hardware
//! lanes expect. This is the per-frame hot path on the board, so rows are packed whole with a
//! bit accumulator, 8-bit and 1-bit types have their own loops, and nothing is allocated per
//! element.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("unknown FINN DataType '{0}' (expected BINARY, BIPOLAR, TERNARY, UINTn or INTn with n in 1..=32)")]
    UnknownType(String),
    #[error("{dtype} cannot hold {value} (element {index}; allowed {min}..={max})")]
    OutOfRange { dtype: DataType, index: usize, value: i64, min: i64, max: i64 },
    #[error("the inner (packed) dimension must be at least 1")]
    EmptyInner,
    #[error("{len} elements are not whole rows of {inner}")]
    RaggedRows { len: usize, inner: usize },
    #[error("packed data has {got} bytes, expected {expected} ({rows} rows of {row_bytes} bytes)")]
    PackedLength { got: usize, expected: usize, rows: usize, row_bytes: usize },
    #[error("output holds {got} elements, expected {expected}")]
    OutputLength { got: usize, expected: usize },
    #[error("{dtype} values ({min}..={max}) do not fit the element type {elem}")]
    ElementTooNarrow { dtype: DataType, elem: &'static str, min: i64, max: i64 },
    #[error("shape {shape:?} of {dtype} is too large: its element or byte count does not fit in memory")]
    TooLarge { dtype: DataType, shape: Vec<usize> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Unsigned,
    Signed,
    Bipolar,
    Ternary,
}

/// A FINN integer DataType of 1 to 32 bits. UINT1 and BINARY are the same type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataType {
    kind: Kind,
    bits: u8,
}

impl DataType {
    pub const BINARY: DataType = DataType { kind: Kind::Unsigned, bits: 1 };
    pub const BIPOLAR: DataType = DataType { kind: Kind::Bipolar, bits: 1 };
    pub const TERNARY: DataType = DataType { kind: Kind::Ternary, bits: 2 };
    pub const UINT8: DataType = DataType { kind: Kind::Unsigned, bits: 8 };
    pub const INT8: DataType = DataType { kind: Kind::Signed, bits: 8 };

    /// UINTn, n in 1..=32.
    pub fn uint(bits: u32) -> Result<Self, PackError> {
        match bits {
            1..=32 => Ok(DataType { kind: Kind::Unsigned, bits: bits as u8 }),
            _ => Err(PackError::UnknownType(format!("UINT{bits}"))),
        }
    }

    /// INTn, n in 1..=32 (INT1 holds −1 and 0).
    pub fn int(bits: u32) -> Result<Self, PackError> {
        match bits {
            1..=32 => Ok(DataType { kind: Kind::Signed, bits: bits as u8 }),
            _ => Err(PackError::UnknownType(format!("INT{bits}"))),
        }
    }

    pub fn bits(self) -> u32 {
        u32::from(self.bits)
    }

    pub fn signed(self) -> bool {
        self.kind != Kind::Unsigned
    }

    /// The smallest allowed value.
    pub fn min(self) -> i64 {
        match self.kind {
            Kind::Unsigned => 0,
            Kind::Signed => -(1i64 << (self.bits - 1)),
            Kind::Bipolar | Kind::Ternary => -1,
        }
    }

    /// The largest allowed value.
    pub fn max(self) -> i64 {
        match self.kind {
            Kind::Unsigned => (1i64 << self.bits) - 1,
            Kind::Signed => (1i64 << (self.bits - 1)) - 1,
            Kind::Bipolar | Kind::Ternary => 1,
        }
    }

    /// Whether FINN accepts `v` for this type (`DataType.allowed`).
    #[inline]
    pub fn allowed(self, v: i64) -> bool {
        match self.kind {
            Kind::Bipolar => v == 1 || v == -1,
            _ => v >= self.min() && v <= self.max(),
        }
    }

    /// What unpacking can return: every bit pattern of the field (TERNARY's 0b10 reads as −2,
    /// as in FINN).
    fn unpacked_range(self) -> (i64, i64) {
        match self.kind {
            Kind::Ternary => (-2, 1),
            _ => (self.min(), self.max()),
        }
    }

    /// FINN's canonical name: BINARY, BIPOLAR, TERNARY, UINTn, INTn.
    pub fn name(self) -> String {
        self.to_string()
    }

    /// Bytes of one packed row of `inner` elements; `usize::MAX / 8`-ish, never a wrapped
    /// small number, when `inner` is absurd (see [`packed_size`] for the checked count).
    pub fn row_bytes(self, inner: usize) -> usize {
        inner.saturating_mul(self.bits() as usize).div_ceil(8)
    }

    #[inline(always)]
    fn mask(self) -> u64 {
        (1u64 << self.bits) - 1
    }

    /// The bit field of an allowed value.
    #[inline(always)]
    fn field(self, v: i64) -> u64 {
        match self.kind {
            Kind::Bipolar => ((v + 1) >> 1) as u64,
            _ => (v as u64) & self.mask(),
        }
    }

    /// The value of a bit field: sign-extended for signed types, 2b−1 for BIPOLAR.
    #[inline(always)]
    fn value(self, f: u64) -> i64 {
        match self.kind {
            Kind::Unsigned => f as i64,
            Kind::Bipolar => 2 * f as i64 - 1,
            Kind::Signed | Kind::Ternary => {
                let sh = 64 - u32::from(self.bits);
                ((f << sh) as i64) >> sh
            }
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.bits) {
            (Kind::Unsigned, 1) => f.write_str("BINARY"),
            (Kind::Unsigned, n) => write!(f, "UINT{n}"),
            (Kind::Signed, n) => write!(f, "INT{n}"),
            (Kind::Bipolar, _) => f.write_str("BIPOLAR"),
            (Kind::Ternary, _) => f.write_str("TERNARY"),
        }
    }
}

impl FromStr for DataType {
    type Err = PackError;

    /// FINN's names, case-insensitive: "UINT8", "INT4", "BIPOLAR", "BINARY", "TERNARY".
    fn from_str(s: &str) -> Result<Self, PackError> {
        let up = s.trim().to_ascii_uppercase();
        let unknown = || PackError::UnknownType(s.to_string());
        let width = |digits: &str| -> Result<u32, PackError> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
                return Err(unknown());
            }
            digits.parse().map_err(|_| unknown())
        };
        match up.as_str() {
            "BINARY" => Ok(Self::BINARY),
            "BIPOLAR" => Ok(Self::BIPOLAR),
            "TERNARY" => Ok(Self::TERNARY),
            _ => {
                if let Some(d) = up.strip_prefix("UINT") {
                    DataType::uint(width(d)?).map_err(|_| unknown())
                } else if let Some(d) = up.strip_prefix("INT") {
                    DataType::int(width(d)?).map_err(|_| unknown())
                } else {
                    Err(unknown())
                }
            }
        }
    }
}

/// FINN's two packing flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    pub reverse_inner: bool,
    pub reverse_endian: bool,
}

impl Layout {
    /// What the PYNQ driver uses (`reverse_inner=True, reverse_endian=True`).
    pub const DRIVER: Layout = Layout { reverse_inner: true, reverse_endian: true };
    /// FINN's defaults (no flags): element 0 in the top bits, big-endian.
    pub const PLAIN: Layout = Layout { reverse_inner: false, reverse_endian: false };
}

/// Integer element types that packing reads and unpacking writes.
pub trait Element: Copy + Send + Sync + 'static {
    const NAME: &'static str;
    const MIN: i64;
    const MAX: i64;
    fn to_i64(self) -> i64;
    /// Only called with values in MIN..=MAX.
    fn from_i64(v: i64) -> Self;
    /// The elements as bytes, when they are bytes already (the 8-bit fast path).
    #[inline(always)]
    fn as_u8_slice(_s: &[Self]) -> Option<&[u8]> {
        None
    }
    #[inline(always)]
    fn as_u8_slice_mut(_s: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
}

macro_rules! element {
    ($($t:ty),*) => {$(
        impl Element for $t {
            const NAME: &'static str = stringify!($t);
            const MIN: i64 = <$t>::MIN as i64;
            const MAX: i64 = <$t>::MAX as i64;
            #[inline(always)]
            fn to_i64(self) -> i64 { self as i64 }
            #[inline(always)]
            fn from_i64(v: i64) -> Self { v as $t }
        }
    )*};
}
element!(i8, i16, u16, i32, u32, i64);

impl Element for u8 {
    const NAME: &'static str = "u8";
    const MIN: i64 = 0;
    const MAX: i64 = 255;
    #[inline(always)]
    fn to_i64(self) -> i64 {
        i64::from(self)
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as u8
    }
    #[inline(always)]
    fn as_u8_slice(s: &[u8]) -> Option<&[u8]> {
        Some(s)
    }
    #[inline(always)]
    fn as_u8_slice_mut(s: &mut [u8]) -> Option<&mut [u8]> {
        Some(s)
    }
}

/// The rows, row bytes and total bytes of a tensor of `shape` (its last dimension packed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedSize {
    pub rows: usize,
    pub inner: usize,
    pub row_bytes: usize,
    pub bytes: usize,
    pub elements: usize,
}

/// The packed size of a tensor of `shape`, in checked arithmetic: a shape whose counts overflow
/// is [`PackError::TooLarge`], an empty one [`PackError::EmptyInner`].
pub fn packed_size(dtype: DataType, shape: &[usize]) -> Result<PackedSize, PackError> {
    let too_large = || PackError::TooLarge { dtype, shape: shape.to_vec() };
    let (&inner, outer) = shape.split_last().ok_or(PackError::EmptyInner)?;
    if inner == 0 {
        return Err(PackError::EmptyInner);
    }
    let rows = outer.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(too_large)?;
    let bits = inner.checked_mul(dtype.bits() as usize).ok_or_else(too_large)?;
    let row_bytes = bits.div_ceil(8);
    let bytes = rows.checked_mul(row_bytes).ok_or_else(too_large)?;
    let elements = rows.checked_mul(inner).ok_or_else(too_large)?;
    Ok(PackedSize { rows, inner, row_bytes, bytes, elements })
}

/// Bytes of `values.len()/inner` packed rows.
pub fn packed_len(dtype: DataType, inner: usize, elements: usize) -> usize {
    if inner == 0 {
        return 0;
    }
    (elements / inner).saturating_mul(dtype.row_bytes(inner))
}

/// Checks every value against the type; the first bad one is the error.
pub fn check_values<T: Element>(values: &[T], dtype: DataType) -> Result<(), PackError> {
    // Element types inside the range need no look (u8 for UINT8, i8 for INT8).
    let (lo, hi) = (dtype.min(), dtype.max());
    if dtype.kind != Kind::Bipolar && T::MIN >= lo && T::MAX <= hi {
        return Ok(());
    }
    let bad = match dtype.kind {
        Kind::Bipolar => first_bad(values, |v| v == 1 || v == -1),
        _ => first_bad(values, |v| v >= lo && v <= hi),
    };
    match bad {
        None => Ok(()),
        Some(index) => Err(PackError::OutOfRange { dtype, index, value: values[index].to_i64(), min: lo, max: hi }),
    }
}

/// A branch-free pass first (it vectorizes); the position only when something is wrong.
#[inline(always)]
fn first_bad<T: Element>(values: &[T], ok: impl Fn(i64) -> bool) -> Option<usize> {
    if values.iter().fold(true, |all, v| all & ok(v.to_i64())) {
        return None;
    }
    values.iter().position(|v| !ok(v.to_i64()))
}

/// 8/BW fields of BW bits to a byte, element j of the row at bit j·BW (the driver layout).
#[inline(always)]
fn pack_small<const BW: usize, T: Element>(row: &[T], out: &mut [u8], field: impl Fn(i64) -> u8) {
    let per = 8 / BW;
    let mut chunks = row.chunks_exact(per);
    for (b, c) in out.iter_mut().zip(&mut chunks) {
        *b = c.iter().enumerate().fold(0u8, |x, (j, v)| x | (field(v.to_i64()) << (j * BW)));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        out[out.len() - 1] = rest.iter().enumerate().fold(0u8, |x, (j, v)| x | (field(v.to_i64()) << (j * BW)));
    }
}

/// Packs rows of `inner` elements into `out` (exactly [`packed_len`] bytes), byte-exact with
/// FINN's `finnpy_to_packed_bytearray(values, dtype, reverse_inner, reverse_endian)`.
pub fn pack<T: Element>(
    values: &[T],
    inner: usize,
    dtype: DataType,
    layout: Layout,
    out: &mut [u8],
) -> Result<(), PackError> {
    if inner == 0 {
        return Err(PackError::EmptyInner);
    }
    if !values.len().is_multiple_of(inner) {
        return Err(PackError::RaggedRows { len: values.len(), inner });
    }
    let rows = values.len() / inner;
    let PackedSize { row_bytes: rb, bytes, .. } = packed_size(dtype, &[rows, inner])?;
    if out.len() != bytes {
        return Err(PackError::PackedLength { got: out.len(), expected: bytes, rows, row_bytes: rb });
    }
    check_values(values, dtype)?;
    // With 8-bit fields V's bytes are the elements: in order unless exactly one flag reverses.
    let reversed = layout.reverse_inner != layout.reverse_endian;
    if dtype.bits == 8 {
        if let Some(bytes) = T::as_u8_slice(values) {
            if reversed {
                for (o, v) in out.chunks_exact_mut(inner).zip(bytes.chunks_exact(inner)) {
                    o.iter_mut().zip(v.iter().rev()).for_each(|(o, v)| *o = *v);
                }
            } else {
                out.copy_from_slice(bytes);
            }
            return Ok(());
        }
    }
    if matches!(dtype.bits, 1 | 2 | 4) && layout == Layout::DRIVER {
        // Fields that tile a byte: whole bytes at a time, no accumulator.
        let mask = dtype.mask() as u8;
        for (row, o) in values.chunks_exact(inner).zip(out.chunks_exact_mut(rb)) {
            match (dtype.bits, dtype.kind) {
                (1, Kind::Bipolar) => pack_small::<1, T>(row, o, |v| (v > 0) as u8),
                (1, _) => pack_small::<1, T>(row, o, |v| v as u8 & 1),
                (2, _) => pack_small::<2, T>(row, o, |v| v as u8 & mask),
                _ => pack_small::<4, T>(row, o, |v| v as u8 & mask),
            }
        }
        return Ok(());
    }
    let pad = (rb * 8 - inner * dtype.bits() as usize) as u32;
    for (row, o) in values.chunks_exact(inner).zip(out.chunks_exact_mut(rb)) {
        match (layout.reverse_endian, layout.reverse_inner) {
            (true, true) => write_lsb_first(row.iter(), dtype, o),
            (true, false) => write_lsb_first(row.iter().rev(), dtype, o),
            (false, false) => write_msb_first(row.iter(), dtype, pad, o),
            (false, true) => write_msb_first(row.iter().rev(), dtype, pad, o),
        }
    }
    Ok(())
}

/// [`pack`] into a new vector.
pub fn pack_to_vec<T: Element>(
    values: &[T],
    inner: usize,
    dtype: DataType,
    layout: Layout,
) -> Result<Vec<u8>, PackError> {
    if inner == 0 {
        return Err(PackError::EmptyInner);
    }
    let size = packed_size(dtype, &[values.len() / inner, inner])?;
    let mut out = vec![0u8; size.bytes];
    pack(values, inner, dtype, layout, &mut out)?;
    Ok(out)
}

/// V's little-endian bytes, fields taken from bit 0 up.
#[inline(always)]
fn write_lsb_first<'a, T: Element>(fields: impl Iterator<Item = &'a T>, dt: DataType, out: &mut [u8]) {
    let bw = dt.bits();
    if bw == 1 {
        return write_bits_lsb(fields, dt, out);
    }
    let mut acc: u64 = 0;
    let mut n: u32 = 0;
    let mut k = 0;
    for v in fields {
        acc |= dt.field(v.to_i64()) << n;
        n += bw;
        while n >= 8 {
            out[k] = acc as u8;
            acc >>= 8;
            n -= 8;
            k += 1;
        }
    }
    if n > 0 {
        out[k] = acc as u8;
    }
}

/// One-bit fields, eight to a byte.
#[inline(always)]
fn write_bits_lsb<'a, T: Element>(mut fields: impl Iterator<Item = &'a T>, dt: DataType, out: &mut [u8]) {
    for o in out.iter_mut() {
        let mut b = 0u8;
        for j in 0..8 {
            match fields.next() {
                Some(v) => b |= (dt.field(v.to_i64()) as u8) << j,
                None => break,
            }
        }
        *o = b;
    }
}

/// V's big-endian bytes: `pad` zero bits first, then the fields from the top bits down.
#[inline(always)]
fn write_msb_first<'a, T: Element>(fields: impl Iterator<Item = &'a T>, dt: DataType, pad: u32, out: &mut [u8]) {
    let bw = dt.bits();
    let mut acc: u64 = 0;
    let mut n: u32 = pad; // pending bits in acc (< 8 between fields)
    let mut k = 0;
    for v in fields {
        acc = (acc << bw) | dt.field(v.to_i64());
        n += bw;
        while n >= 8 {
            n -= 8;
            out[k] = (acc >> n) as u8;
            k += 1;
        }
        acc &= (1u64 << n) - 1;
    }
}

/// Unpacks rows of `inner` elements from `packed` (whole rows) into `out`, matching FINN's
/// `packed_bytearray_to_finnpy(packed, dtype, shape, reverse_inner, reverse_endian)`: signed
/// types are sign-extended, BIPOLAR bits read as ±1, padding bits are ignored.
pub fn unpack<T: Element>(
    packed: &[u8],
    inner: usize,
    dtype: DataType,
    layout: Layout,
    out: &mut [T],
) -> Result<(), PackError> {
    if inner == 0 {
        return Err(PackError::EmptyInner);
    }
    let (lo, hi) = dtype.unpacked_range();
    if T::MIN > lo || T::MAX < hi {
        return Err(PackError::ElementTooNarrow { dtype, elem: T::NAME, min: lo, max: hi });
    }
    let rb = packed_size(dtype, &[inner])?.row_bytes;
    if !packed.len().is_multiple_of(rb) {
        let rows = packed.len() / rb + 1;
        let expected = rows.saturating_mul(rb);
        return Err(PackError::PackedLength { got: packed.len(), expected, rows, row_bytes: rb });
    }
    // rows·inner ≤ 8·packed.len(): no overflow.
    let rows = packed.len() / rb;
    if out.len() != rows * inner {
        return Err(PackError::OutputLength { got: out.len(), expected: rows * inner });
    }
    let reversed = layout.reverse_inner != layout.reverse_endian;
    if dtype == DataType::UINT8 {
        if let Some(bytes) = T::as_u8_slice_mut(out) {
            if reversed {
                for (o, p) in bytes.chunks_exact_mut(inner).zip(packed.chunks_exact(inner)) {
                    o.iter_mut().zip(p.iter().rev()).for_each(|(o, p)| *o = *p);
                }
            } else {
                bytes.copy_from_slice(packed);
            }
            return Ok(());
        }
    }
    if dtype.bits == 1 && layout == Layout::DRIVER {
        for (p, o) in packed.chunks_exact(rb).zip(out.chunks_exact_mut(inner)) {
            for (b, c) in p.iter().zip(o.chunks_mut(8)) {
                for (j, v) in c.iter_mut().enumerate() {
                    *v = T::from_i64(dtype.value(u64::from(b >> j) & 1));
                }
            }
        }
        return Ok(());
    }
    let pad = (rb * 8 - inner * dtype.bits() as usize) as u32;
    for (p, o) in packed.chunks_exact(rb).zip(out.chunks_exact_mut(inner)) {
        match (layout.reverse_endian, layout.reverse_inner) {
            (true, true) => read_lsb_first(p, dtype, o.iter_mut()),
            (true, false) => read_lsb_first(p, dtype, o.iter_mut().rev()),
            (false, false) => read_msb_first(p, dtype, pad, o.iter_mut()),
            (false, true) => read_msb_first(p, dtype, pad, o.iter_mut().rev()),
        }
    }
    Ok(())
}

/// [`unpack`] into a new vector of `rows·inner` elements.
pub fn unpack_to_vec<T: Element>(
    packed: &[u8],
    inner: usize,
    dtype: DataType,
    layout: Layout,
) -> Result<Vec<T>, PackError> {
    if inner == 0 {
        return Err(PackError::EmptyInner);
    }
    let rows = packed.len() / packed_size(dtype, &[inner])?.row_bytes;
    let mut out = vec![T::from_i64(0); rows * inner];
    unpack(packed, inner, dtype, layout, &mut out)?;
    Ok(out)
}

/// Fields from bit 0 of V's little-endian bytes up.
#[inline(always)]
fn read_lsb_first<'a, T: Element>(p: &[u8], dt: DataType, out: impl Iterator<Item = &'a mut T>) {
    let bw = dt.bits();
    if bw == 1 {
        for (i, o) in out.enumerate() {
            *o = T::from_i64(dt.value(u64::from(p[i >> 3] >> (i & 7)) & 1));
        }
        return;
    }
    let mask = dt.mask();
    let mut acc: u64 = 0;
    let mut n: u32 = 0;
    let mut k = 0;
    for o in out {
        while n < bw {
            acc |= u64::from(p[k]) << n;
            k += 1;
            n += 8;
        }
        *o = T::from_i64(dt.value(acc & mask));
        acc >>= bw;
        n -= bw;
    }
}

/// Fields from the top of V's big-endian bytes down, after `pad` bits.
#[inline(always)]
fn read_msb_first<'a, T: Element>(p: &[u8], dt: DataType, pad: u32, out: impl Iterator<Item = &'a mut T>) {
    let bw = dt.bits();
    let mask = dt.mask();
    let mut acc: u64 = 0;
    let mut n: u32 = 0; // unread bits at the bottom of acc
    let mut k = 0;
    if pad > 0 {
        acc = u64::from(p[0]) & ((1u64 << (8 - pad)) - 1);
        n = 8 - pad;
        k = 1;
    }
    for o in out {
        while n < bw {
            acc = (acc << 8) | u64::from(p[k]);
            k += 1;
            n += 8;
        }
        n -= bw;
        *o = T::from_i64(dt.value((acc >> n) & mask));
        acc &= (1u64 << n) - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn finn_md_worked_examples() {
        // finn.md §7, from FINN's data_packing.py.
        let d = Layout::DRIVER;
        assert_eq!(hex(&pack_to_vec(&[1u8, 2, 3], 3, DataType::UINT8, d).unwrap()), "010203");
        let bip = [1i8, -1, -1, -1, -1, -1, -1, -1, 1, 1];
        assert_eq!(hex(&pack_to_vec(&bip, 10, DataType::BIPOLAR, d).unwrap()), "0103");
        let u4: DataType = "UINT4".parse().unwrap();
        assert_eq!(hex(&pack_to_vec(&[1u8, 2, 3, 4, 5], 5, u4, d).unwrap()), "214305");
        assert_eq!(hex(&pack_to_vec(&[1u8, 2, 3, 4, 5], 5, u4, Layout::PLAIN).unwrap()), "012345");
        assert_eq!(hex(&pack_to_vec(&[-1i8, 2], 2, DataType::INT8, d).unwrap()), "ff02");
    }

    #[test]
    fn names_parse_and_print() {
        for n in ["BINARY", "BIPOLAR", "TERNARY", "UINT2", "UINT32", "INT1", "INT4", "INT32"] {
            assert_eq!(n.parse::<DataType>().unwrap().to_string(), n);
        }
        assert_eq!("uint1".parse::<DataType>().unwrap(), DataType::BINARY);
        assert_eq!("int8".parse::<DataType>().unwrap(), DataType::INT8);
        for bad in ["UINT0", "INT33", "UINT", "FLOAT32", "INT-4", "UINT+8", "", "UINT0008x"] {
            assert!(matches!(bad.parse::<DataType>(), Err(PackError::UnknownType(_))), "{bad}");
        }
        let i3 = DataType::int(3).unwrap();
        assert_eq!((i3.min(), i3.max()), (-4, 3));
        assert_eq!((DataType::uint(32).unwrap().max()), u32::MAX as i64);
    }

    #[test]
    fn bad_values_and_shapes_are_errors() {
        let u4 = DataType::uint(4).unwrap();
        let e = pack_to_vec(&[1i32, 16], 2, u4, Layout::DRIVER).unwrap_err();
        assert_eq!(e, PackError::OutOfRange { dtype: u4, index: 1, value: 16, min: 0, max: 15 });
        assert!(pack_to_vec(&[0i8], 1, DataType::BIPOLAR, Layout::DRIVER).is_err());
        assert!(pack_to_vec(&[-1i8], 1, DataType::UINT8, Layout::DRIVER).is_err());
        assert!(matches!(pack_to_vec(&[1u8; 5], 2, u4, Layout::DRIVER), Err(PackError::RaggedRows { .. })));
        assert!(matches!(pack_to_vec(&[1u8; 4], 0, u4, Layout::DRIVER), Err(PackError::EmptyInner)));
        let mut small = [0u8; 1];
        assert!(matches!(pack(&[1u8; 4], 4, u4, Layout::DRIVER, &mut small), Err(PackError::PackedLength { .. })));
        assert!(matches!(
            unpack_to_vec::<u8>(&[0u8; 3], 3, DataType::INT8, Layout::DRIVER),
            Err(PackError::ElementTooNarrow { .. })
        ));
        assert!(matches!(unpack_to_vec::<u8>(&[0u8; 3], 4, u4, Layout::DRIVER), Err(PackError::PackedLength { .. })));
    }
}
