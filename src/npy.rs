//! `.npy` and `.npz` reading with every header checked against the real size of its data before
//! anything is allocated.
//!
//! An .npy header states a dtype and a shape; a 228-byte file can claim petabytes. Every array
//! binarycop reads (images, `pack` input, the artifact, the parameter npz, CAM exports) goes
//! through [`header`]: the shape's element count is checked arithmetic, at most
//! [`MAX_TENSOR_ELEMENTS`](crate::limits::MAX_TENSOR_ELEMENTS), and its bytes must be exactly the
//! bytes that follow the header. Only then does ndarray-npy parse the array. An .npz member's
//! declared size is not trusted either: [`Npz`] reads the member's header first, then at most the
//! bytes it declares, counting what actually arrives (and at most
//! [`MAX_NPZ_BYTES`](crate::limits::MAX_NPZ_BYTES) from one archive).

use std::io::{Read, Seek};

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyError, ReadNpyExt, ReadableElement};

use crate::error::{Error, Result};
use crate::limits::{self, MAX_NPY_HEADER_BYTES, MAX_NPY_HEADER_NESTING, MAX_NPZ_BYTES, MAX_TENSOR_ELEMENTS};

const MAGIC: &[u8] = b"\x93NUMPY";

/// An .npy header, checked: its element and byte counts fit the limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// numpy's dtype string, e.g. `<f4`, `|u1`.
    pub descr: String,
    pub shape: Vec<usize>,
    pub elements: usize,
    pub item_bytes: usize,
    /// Where the data starts.
    pub data_offset: usize,
    pub data_bytes: usize,
}

impl Header {
    /// "float32 ('<f4')".
    pub fn dtype(&self) -> String {
        let kind = &self.descr[1..];
        let name = match kind {
            "u1" => "uint8",
            "i1" => "int8",
            "u2" => "uint16",
            "i2" => "int16",
            "u4" => "uint32",
            "i4" => "int32",
            "u8" => "uint64",
            "i8" => "int64",
            "f2" => "float16",
            "f4" => "float32",
            "f8" => "float64",
            "b1" => "bool",
            _ => return format!("'{}'", self.descr),
        };
        format!("{name} ('{}')", self.descr)
    }
}

/// The header's dictionary: where it starts, its length, and the format version.
fn prelude(bytes: &[u8]) -> Result<(usize, usize, (u8, u8))> {
    if !bytes.starts_with(MAGIC) {
        return Err(Error::invalid(if bytes.is_empty() {
            "the array is empty (0 bytes), not an .npy".to_string()
        } else {
            "not an .npy array (no \\x93NUMPY magic at the start)".to_string()
        }));
    }
    let cut = || Error::invalid(format!("truncated .npy: {} bytes end inside the header", bytes.len()));
    let version = (*bytes.get(6).ok_or_else(cut)?, *bytes.get(7).ok_or_else(cut)?);
    let (prefix, len) = match version {
        (1, 0) => (10, u16::from_le_bytes(bytes.get(8..10).ok_or_else(cut)?.try_into().expect("2 bytes")) as usize),
        (2, 0) | (3, 0) => {
            let b: [u8; 4] = bytes.get(8..12).ok_or_else(cut)?.try_into().expect("4 bytes");
            (12, u32::from_le_bytes(b) as usize)
        }
        (major, minor) => {
            return Err(Error::invalid(format!(
                "npy format {major}.{minor} is not supported (binarycop reads formats 1.0, 2.0 and 3.0)"
            )))
        }
    };
    if len > MAX_NPY_HEADER_BYTES {
        return Err(Error::invalid(format!(
            "the npy header (format {}.{}) says it is {len} bytes long, more than numpy writes ({}){}",
            version.0,
            version.1,
            limits::named("MAX_NPY_HEADER_BYTES", MAX_NPY_HEADER_BYTES),
            wrong_version_hint(version)
        )));
    }
    Ok((prefix, len, version))
}

fn wrong_version_hint(version: (u8, u8)) -> &'static str {
    if version.0 >= 2 {
        "; formats 2.0 and 3.0 store the header length in 4 bytes, 1.0 in 2: is the version byte right?"
    } else {
        ""
    }
}

/// Parses the header at the start of `bytes` (which must hold all of it) and checks its counts;
/// the data after it is not looked at (see [`header`]).
pub fn parse_header(bytes: &[u8]) -> Result<Header> {
    let (prefix, len, version) = prelude(bytes)?;
    let data_offset = prefix + len;
    if bytes.len() < data_offset {
        return Err(Error::invalid(format!(
            "the npy header (format {}.{}) says it is {len} bytes long, but only {} bytes follow{}",
            version.0,
            version.1,
            bytes.len() - prefix,
            wrong_version_hint(version)
        )));
    }
    let depth = nesting(&bytes[prefix..data_offset]);
    if depth > MAX_NPY_HEADER_NESTING {
        return Err(Error::invalid(format!(
            "bad npy header: its brackets nest {depth} deep, deeper than a numpy header ({})",
            limits::named("MAX_NPY_HEADER_NESTING", MAX_NPY_HEADER_NESTING)
        )));
    }
    let h = ndarray_npy::npy::header::Header::from_reader(&mut &bytes[..data_offset])
        .map_err(|e| Error::invalid(format!("bad npy header: {e}")))?;
    let descr = h.type_descriptor.as_string().filter(|d| d.len() >= 3 && d.is_ascii()).cloned().ok_or_else(|| {
        Error::invalid(format!("unsupported dtype {}: only plain numeric arrays are read", h.type_descriptor))
    })?;
    let item_bytes =
        descr[2..].parse::<usize>().ok().filter(|&n| (1..=16).contains(&n)).ok_or_else(|| {
            Error::invalid(format!("unsupported dtype '{descr}': only plain numeric arrays are read"))
        })?;
    let shape = h.shape;
    let elements =
        shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|&n| n <= MAX_TENSOR_ELEMENTS).ok_or_else(
            || {
                Error::invalid(format!(
                    "the npy header's shape {shape:?} has more elements than binarycop reads in one array ({})",
                    limits::named("MAX_TENSOR_ELEMENTS", MAX_TENSOR_ELEMENTS)
                ))
            },
        )?;
    // An empty array's other axes must still make a shape (ndarray checks the product of the
    // non-zero axes, and ndarray-npy unwraps that check): (0, 10^20) is refused here.
    let non_zero = shape.iter().filter(|&&d| d != 0).try_fold(1usize, |a, &d| a.checked_mul(d));
    if non_zero.is_none_or(|n| n > MAX_TENSOR_ELEMENTS) {
        return Err(Error::invalid(format!(
            "the npy header's shape {shape:?} is empty, but its other axes multiply past {}",
            limits::named("MAX_TENSOR_ELEMENTS", MAX_TENSOR_ELEMENTS)
        )));
    }
    let data_bytes = elements * item_bytes;
    Ok(Header { descr, shape, elements, item_bytes, data_offset, data_bytes })
}

/// The deepest nesting of brackets (`{`, `(`, `[`) in a header's text, strings left out.
fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    for &c in text {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(c),
            (None, b'{' | b'(' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, b'}' | b')' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The header of the .npy in `bytes`, checked against the data that follows it: exactly the
/// bytes its shape and dtype need.
pub fn header(bytes: &[u8]) -> Result<Header> {
    let h = parse_header(bytes)?;
    let have = bytes.len() - h.data_offset;
    if have != h.data_bytes {
        let (what, hint) = if have < h.data_bytes {
            ("only", "truncated, or the header lies")
        } else {
            ("", "extra bytes after the array")
        };
        return Err(Error::invalid(format!(
            "the npy header declares shape {:?} of {}, {} bytes of data, but {what} {have} follow ({hint})",
            h.shape,
            h.dtype(),
            h.data_bytes
        )));
    }
    Ok(h)
}

/// An element type binarycop reads, with numpy's name for messages.
pub trait Element: ReadableElement {
    const NAME: &'static str;
}

macro_rules! element {
    ($($t:ty => $n:literal),*) => {$(impl Element for $t { const NAME: &'static str = $n; })*};
}
element!(u8 => "uint8", i8 => "int8", u16 => "uint16", i16 => "int16", u32 => "uint32", i32 => "int32",
    i64 => "int64", f32 => "float32", f64 => "float64");

/// The array in `bytes` (a whole .npy), after [`header`]'s checks.
pub fn read<T: Element>(bytes: &[u8]) -> Result<ArrayD<T>> {
    let h = header(bytes)?;
    ArrayD::<T>::read_npy(bytes).map_err(|e| match e {
        ReadNpyError::WrongDescriptor(_) => Error::invalid(format!("its dtype is {}, expected {}", h.dtype(), T::NAME)),
        other => Error::invalid(format!("bad npy data: {other}")),
    })
}

/// An integer array (or floats holding whole numbers, as FINN keeps its tensors) as i64, with
/// its shape: uint8, int8, uint16, int16, uint32, int32, int64, float32, float64.
pub fn read_integers(bytes: &[u8]) -> Result<(Vec<i64>, Vec<usize>)> {
    fn ints<T: Element + Copy + Into<i64>>(b: &[u8]) -> Result<(Vec<i64>, Vec<usize>)> {
        let a = read::<T>(b)?;
        Ok((a.iter().map(|&v| v.into()).collect(), a.shape().to_vec()))
    }
    let h = header(bytes)?;
    let (vals, shape): (Vec<f64>, Vec<usize>) = match &h.descr[1..] {
        "u1" => return ints::<u8>(bytes),
        "i1" => return ints::<i8>(bytes),
        "u2" => return ints::<u16>(bytes),
        "i2" => return ints::<i16>(bytes),
        "u4" => return ints::<u32>(bytes),
        "i4" => return ints::<i32>(bytes),
        "i8" => return ints::<i64>(bytes),
        "f4" => {
            let a = read::<f32>(bytes)?;
            (a.iter().map(|&v| f64::from(v)).collect(), a.shape().to_vec())
        }
        "f8" => {
            let a = read::<f64>(bytes)?;
            (a.iter().copied().collect(), a.shape().to_vec())
        }
        _ => {
            return Err(Error::invalid(format!(
                "unsupported .npy dtype {}: expected uint8, int8, uint16, int16, uint32, int32, int64, or \
                 float32/float64 holding whole numbers",
                h.dtype()
            )))
        }
    };
    Ok((whole_numbers(vals)?, shape))
}

/// Floats that hold whole numbers (as FINN keeps its tensors) as i64; names the first that does
/// not.
pub fn whole_numbers(vals: impl IntoIterator<Item = f64>) -> Result<Vec<i64>> {
    let vals = vals.into_iter();
    let mut out = Vec::with_capacity(vals.size_hint().0);
    for (i, v) in vals.enumerate() {
        // 2^53 keeps the conversion exact; FINN's types need at most 32 bits.
        if !(v.is_finite() && v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0) {
            return Err(Error::invalid(format!("element {i} is {v}, not a whole number (FINN types are integers)")));
        }
        out.push(v as i64);
    }
    Ok(out)
}

/// An `.npz` (a zip of .npy members), read member by member with [`header`]'s checks.
pub struct Npz<R> {
    zip: zip::ZipArchive<R>,
    names: Vec<String>,
    /// Decompressed bytes read so far.
    read: u64,
}

impl<R: Read + Seek> Npz<R> {
    pub fn new(reader: R) -> Result<Self> {
        let zip = zip::ZipArchive::new(reader).map_err(|e| Error::invalid(format!("not a readable .npz: {e}")))?;
        let names = zip.file_names().map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string()).collect();
        Ok(Npz { zip, names, read: 0 })
    }

    /// The arrays' names (a `.npy` suffix stripped, as numpy does).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn has(&self, key: &str) -> bool {
        self.names.iter().any(|n| n == key)
    }

    /// The array `key`.
    pub fn read<T: Element>(&mut self, key: &str) -> Result<ArrayD<T>> {
        let bytes = self.member(key)?;
        read(&bytes).map_err(|e| Error::invalid(format!("array '{key}': {e}")))
    }

    /// The bytes of member `key` (or `key.npy`): its header first, then the data it declares and
    /// no more, checked as it arrives.
    fn member(&mut self, key: &str) -> Result<Vec<u8>> {
        let name = [key.to_string(), format!("{key}.npy")]
            .into_iter()
            .find(|n| self.zip.index_for_name(n).is_some())
            .ok_or_else(|| Error::invalid(format!("no array '{key}' (it has: {})", self.names.join(", "))))?;
        let budget = MAX_NPZ_BYTES.saturating_sub(self.read);
        let bad = |e: std::io::Error| Error::invalid(format!("array '{key}': cannot decompress: {e}"));
        let file = self.zip.by_name(&name).map_err(|e| Error::invalid(format!("array '{key}': {e}")))?;
        let mut r = file.take(budget);
        let mut bytes = Vec::new();
        (&mut r).take(12).read_to_end(&mut bytes).map_err(bad)?;
        let (prefix, len, _) = prelude(&bytes).map_err(|e| Error::invalid(format!("array '{key}': {e}")))?;
        (&mut r).take((prefix + len - bytes.len().min(prefix + len)) as u64).read_to_end(&mut bytes).map_err(bad)?;
        let h = parse_header(&bytes).map_err(|e| Error::invalid(format!("array '{key}': {e}")))?;
        // One byte more than declared, to see whether the member is longer than its header says.
        (&mut r).take(h.data_bytes as u64 + 1).read_to_end(&mut bytes).map_err(bad)?;
        self.read += bytes.len() as u64;
        if r.limit() == 0 {
            return Err(Error::invalid(format!(
                "array '{key}': the archive decompresses to more than binarycop reads from one .npz ({})",
                limits::named("MAX_NPZ_BYTES", MAX_NPZ_BYTES)
            )));
        }
        Ok(bytes)
    }
}
