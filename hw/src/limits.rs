//! The bounds binarycop puts on what it reads, in one place (re-exported as `binarycop::limits`).
//!
//! Every size that comes from a file is checked arithmetic against one of these, and an error
//! that hits one names it (`binarycop::limits::NAME`). They are far above what the BinaryCoP /
//! FINN CNV family needs (CNV: 1.5 M weights, 59 M MACs per image, 32×32 input) and far below
//! what would exhaust a board's 512 MiB: a hostile file can make binarycop refuse, never crash,
//! hang or allocate without bound.
//!
//! [`read_file`] is the one way inputs are read whole: regular files only (a FIFO or a device
//! can neither hang nor stream without end), at most a given size.

use std::io::Read;
use std::path::Path;

/// Bytes of one binary input file read whole: a model (.onnx, .npz), an .npy, an image, a
/// bitstream. CNV's QONNX export is 6 MB.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Bytes of one text input file: a .hwh, a topology, folding or accelerator JSON. A FINN
/// PYNQ-Z1 .hwh is about 1 MB.
pub const MAX_TEXT_FILE_BYTES: u64 = 64 << 20;

/// Elements of one array or tensor in a file: an ONNX initializer, an .npy, an .npz member
/// (64 Mi: 21,845 images of 32×32×3; CNV's largest weight has 590 k).
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 26;

/// Bytes of an .npy header's dictionary. numpy writes about 128 and refuses to read more than
/// 10,000 unless told to.
pub const MAX_NPY_HEADER_BYTES: usize = 1 << 16;

/// Bracket nesting of an .npy header's dictionary. numpy writes a dict holding a tuple (depth
/// 2); the header parser ndarray-npy uses (py_literal) backtracks exponentially on deep nesting
/// (a 258-byte header ran for minutes), so deeper headers are refused before it sees them.
pub const MAX_NPY_HEADER_NESTING: usize = 4;

/// Decompressed bytes read from one .npz (every member together); a zip member's declared
/// size is not trusted, the bytes are counted as they arrive.
pub const MAX_NPZ_BYTES: u64 = 1 << 30;

/// Values of one feature map of a topology (H·W·C, the input included): 16 Mi, e.g.
/// 1024×1024×16; CNV's largest is 30×30×64.
pub const MAX_MAP_ELEMENTS: usize = 1 << 24;

/// Multiply-accumulates per image over the whole network (1 Gi; CNV: 59.5 M). Operation
/// counts (2 per MAC) then fit a 32-bit `usize`, as on the armv7 boards.
pub const MAX_MACS_PER_IMAGE: usize = 1 << 30;

/// Classes of a preset topology (`--classes`).
pub const MAX_CLASSES: usize = 1 << 16;

/// Pixels decoded from an image file that is resized to the model's input (`infer`, `cam
/// --model`, `compare`): 32 Mi, a 24-megapixel photo fits. Checked from the file's header,
/// before decoding.
pub const MAX_DECODED_PIXELS: u64 = 1 << 25;

/// Pixels of `cam --image` (the seed workflow), whose heatmap and three PNGs are written at the
/// image's size: 4 Mi, 2048×2048.
pub const MAX_CAM_IMAGE_PIXELS: u64 = 1 << 22;

/// Element nesting depth of a .hwh (XML). Vivado's files nest about 8 deep; the XML parser
/// recurses per level, so deeper files are refused before parsing.
pub const MAX_XML_DEPTH: usize = 256;

/// `synth --count`: images per set. `synth` streams to disk, so memory does not grow with it;
/// the bound keeps one command's disk use (4 KiB of arrays plus two PNGs per 32×32 image) sane.
pub const MAX_SYNTH_COUNT: usize = 1_000_000;

/// `demo --per-class`: base images per class; each costs four CAMs, Score-CAM among them,
/// and a row in the report's grids.
pub const MAX_DEMO_PER_CLASS: usize = 256;

/// `demo --per-variation`: images per generalization set (classified only).
pub const MAX_DEMO_PER_VARIATION: usize = 4096;

/// `compare --steps`: deletion/insertion steps (two forward passes each per image and method;
/// more steps than the image's pixels add nothing).
pub const MAX_FAITHFULNESS_STEPS: usize = 1024;

/// `eval --images DIR`: files and folders walked in one dataset (MaskedFace-Net has 133,783
/// images). Only their paths are held (about 100 bytes each), never the images.
pub const MAX_EVAL_ENTRIES: usize = 2_000_000;

/// `eval`: class folders of a dataset, and entries of a `--class-map`.
pub const MAX_EVAL_CLASS_FOLDERS: usize = 4096;

/// `eval`: how deep images may sit below their class folder (MaskedFace-Net: one level of
/// numbered subfolders); deeper folders, and symbolic-link loops, stop here.
pub const MAX_EVAL_DEPTH: usize = 8;

/// `eval`: classes of the model evaluated; its confusion matrix holds classes² counters (1024
/// classes: 8 MiB), so a `--classes 65536` preset is refused rather than given 32 GiB.
pub const MAX_EVAL_CLASSES: usize = 1024;

/// `eval`: skipped files named in the summary (all are counted).
pub const MAX_EVAL_LISTED_SKIPS: usize = 10;

/// `eval --errors`: misclassified images written with their CAMs (all are counted); they are
/// held in memory until the pass ends (a 72×72 image is 15 kB: 16 MB at most).
pub const MAX_EVAL_KEPT_ERRORS: usize = 1000;

/// "binarycop::limits::NAME = value", for error messages.
pub fn named(name: &str, value: impl std::fmt::Display) -> String {
    format!("binarycop::limits::{name} = {value}")
}

/// Reads a whole regular file of at most `max` bytes; the error says what is wrong, without the
/// path (callers add it). `limit` names the bound for the message.
pub fn read_file(path: &Path, max: u64, limit: &str) -> Result<Vec<u8>, String> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| format!("cannot read: {e}"))?.len();
    let too_big =
        |n: u64| format!("the file has {n} bytes, more than binarycop reads from one file ({})", named(limit, max));
    if len > max {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow while it is read: never past the bound.
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_file`] for text: UTF-8 (a leading byte-order mark is kept for the parser to skip).
pub fn read_text(path: &Path, max: u64, limit: &str) -> Result<String, String> {
    String::from_utf8(read_file(path, max, limit)?).map_err(|_| "not UTF-8 text".to_string())
}

/// Opens `path` for reading if it is a regular file. A FIFO is opened without blocking and a
/// device without reading it, then refused by the type of the open handle (so a path swapped
/// between a check and the open cannot slip through).
pub fn open_regular(path: &Path) -> Result<std::fs::File, String> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if meta.is_dir() {
        return Err("is a folder, not a file".into());
    }
    if !meta.is_file() {
        return Err("not a regular file (a FIFO, socket or device is not read)".into());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_folders_and_big_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_file(dir.path(), 10, "X").unwrap_err().contains("folder"));
        #[cfg(unix)]
        assert!(read_file(Path::new("/dev/zero"), 10, "X").unwrap_err().contains("not a regular file"));
        let p = dir.path().join("f");
        std::fs::write(&p, [7u8; 11]).unwrap();
        let e = read_file(&p, 10, "MAX_FILE_BYTES").unwrap_err();
        assert!(e.contains("11 bytes") && e.contains("binarycop::limits::MAX_FILE_BYTES = 10"), "{e}");
        assert_eq!(read_file(&p, 11, "X").unwrap(), [7u8; 11]);
    }
}
