//! FINN packed bytes on their way back to values: the shape they unpack to, checked against
//! binarycop's bound on one array and against the bytes there are. Shared by `unpack` and the
//! Python package's `unpack`.

use binarycop_hw::packing::{self, DataType, PackedSize};

use crate::error::{Error, Result};
use crate::limits::{named, MAX_TENSOR_ELEMENTS};

/// The packed size of `shape` of `dt`, refused above MAX_TENSOR_ELEMENTS elements or when its
/// counts overflow; `what` names the shape's origin in the message (e.g. "--shape 1,32,32,3").
pub fn unpack_size(dt: DataType, shape: &[usize], what: &str) -> Result<PackedSize> {
    packing::packed_size(dt, shape).ok().filter(|s| s.elements <= MAX_TENSOR_ELEMENTS).ok_or_else(|| {
        Error::invalid(format!(
            "{what}: {shape:?} of {dt} has more elements than binarycop unpacks into one array ({})",
            named("MAX_TENSOR_ELEMENTS", MAX_TENSOR_ELEMENTS)
        ))
    })
}

/// Checks that `len` bytes are exactly what `size` (of `shape` of `dt`) packs into.
pub fn check_len(size: &PackedSize, len: usize, shape: &[usize], dt: DataType) -> Result<()> {
    if len == size.bytes {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "{len} bytes, but shape {shape:?} of {dt} needs {} ({} rows of {} bytes)",
        size.bytes, size.rows, size.row_bytes
    )))
}
