//! Register access: a small trait, and mapped windows behind it (UIO, /dev/mem, a plain file).
//!
//! This is the crate's only module with `unsafe`: the volatile 32-bit accesses, the I/O barriers
//! around them, and the creation of the DMA buffer mapping that [`crate::dma`] uses. Every access
//! is checked against the window (offset + 4 ≤ length) and 4-byte alignment before it happens.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions, MmapRaw};

use crate::sysfs::{self, SysfsError};

#[derive(Debug, thiserror::Error)]
pub enum MmioError {
    #[error("{window}: register offset {offset:#x} is outside the {len:#x}-byte window")]
    OutOfWindow { window: String, offset: usize, len: usize },
    #[error("{window}: register offset {offset:#x} is not 4-byte aligned")]
    Misaligned { window: String, offset: usize },
    #[error("{path}: {msg}")]
    Open { path: PathBuf, msg: String },
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
    #[error(
        "/dev/mem access at {base:#x} was not allowed: it can reach any physical address; opt in \
         explicitly (allow_devmem = true; the CLI asks for --allow-devmem) or use a UIO device"
    )]
    DevMemNotAllowed { base: u64 },
    #[error("{window}: a window of {len:#x} bytes is too small (needs {need:#x})")]
    WindowTooSmall { window: String, len: usize, need: usize },
}

/// 32-bit register access at byte offsets into one device's window.
///
/// Methods take `&mut self` because reads can have effects (HLS clears ap_done on read) and a
/// simulated device advances when it is looked at. Object safe; `Send` so a driver can move to
/// a worker thread.
pub trait Mmio: Send {
    /// Bytes in the window.
    fn window_len(&self) -> usize;
    /// Reads the 32-bit register at `offset`.
    fn read32(&mut self, offset: usize) -> Result<u32, MmioError>;
    /// Writes the 32-bit register at `offset`.
    fn write32(&mut self, offset: usize, value: u32) -> Result<(), MmioError>;
}

impl<M: Mmio + ?Sized> Mmio for Box<M> {
    fn window_len(&self) -> usize {
        (**self).window_len()
    }
    fn read32(&mut self, offset: usize) -> Result<u32, MmioError> {
        (**self).read32(offset)
    }
    fn write32(&mut self, offset: usize, value: u32) -> Result<(), MmioError> {
        (**self).write32(offset, value)
    }
}

impl<M: Mmio + ?Sized> Mmio for &mut M {
    fn window_len(&self) -> usize {
        (**self).window_len()
    }
    fn read32(&mut self, offset: usize) -> Result<u32, MmioError> {
        (**self).read32(offset)
    }
    fn write32(&mut self, offset: usize, value: u32) -> Result<(), MmioError> {
        (**self).write32(offset, value)
    }
}

/// The checks every implementation makes before touching a register; public so that simulated
/// devices refuse exactly what the real windows refuse.
pub fn check_access(window: &str, offset: usize, len: usize) -> Result<(), MmioError> {
    if !offset.is_multiple_of(4) {
        return Err(MmioError::Misaligned { window: window.to_string(), offset });
    }
    match offset.checked_add(4) {
        Some(end) if end <= len => Ok(()),
        _ => Err(MmioError::OutOfWindow { window: window.to_string(), offset, len }),
    }
}

/// Where the standard paths live; tests point these at a fake tree.
#[derive(Clone, Debug)]
pub struct Roots {
    /// `/sys` on a board.
    pub sys: PathBuf,
    /// `/dev` on a board.
    pub dev: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots { sys: PathBuf::from("/sys"), dev: PathBuf::from("/dev") }
    }
}

/// A mapped register window: a UIO device's map 0, a /dev/mem range, or a file standing in for one.
pub struct MappedWindow {
    map: MmapRaw,
    len: usize,
    name: String,
}

impl std::fmt::Debug for MappedWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedWindow").field("name", &self.name).field("len", &self.len).finish()
    }
}

fn open_rw(path: &Path, sync: bool) -> Result<File, MmioError> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if sync {
        // O_SYNC makes /dev/mem map the range uncached (device memory), as registers need.
        o.custom_flags(libc::O_SYNC);
    }
    o.open(path).map_err(|e| MmioError::Open { path: path.to_path_buf(), msg: format!("cannot open: {e}") })
}

fn map(file: &File, path: &Path, offset: u64, len: usize) -> Result<MmapRaw, MmioError> {
    MmapOptions::new().offset(offset).len(len).map_raw(file).map_err(|e| MmioError::Open {
        path: path.to_path_buf(),
        msg: format!("cannot map {len:#x} bytes at {offset:#x}: {e}"),
    })
}

/// Refuses a regular file shorter than the mapping (touching past its end is SIGBUS, not an error).
fn check_file_len(file: &File, path: &Path, end: u64) -> Result<(), MmioError> {
    let meta = file.metadata().map_err(|e| MmioError::Open { path: path.to_path_buf(), msg: e.to_string() })?;
    if meta.is_file() && meta.len() < end {
        return Err(MmioError::Open {
            path: path.to_path_buf(),
            msg: format!("file has {} bytes, the window needs {end}", meta.len()),
        });
    }
    Ok(())
}

impl MappedWindow {
    /// UIO device `uio<index>`: its map 0, sized by `<sys>/class/uio/uio<index>/maps/map0/size`.
    /// The device tree must bind the IODMA to `generic-uio`.
    pub fn open_uio(index: u32, roots: &Roots) -> Result<Self, MmioError> {
        let dev = format!("uio{index}");
        let size_path = roots.sys.join("class/uio").join(&dev).join("maps/map0/size");
        let size = sysfs::read_u64(&size_path)?;
        let len = usize::try_from(size)
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| sysfs::err(&size_path, format!("unusable window size {size:#x}")))?;
        let path = roots.dev.join(&dev);
        let file = open_rw(&path, false)?;
        check_file_len(&file, &path, len as u64)?;
        // UIO selects map N with mmap offset N·page size; map 0 is offset 0.
        let map = map(&file, &path, 0, len)?;
        Ok(MappedWindow { map, len, name: path.display().to_string() })
    }

    /// The UIO device whose `name` attribute is `name` (the device-tree node name), if any.
    pub fn find_uio(name: &str, roots: &Roots) -> Result<Option<u32>, MmioError> {
        let class = roots.sys.join("class/uio");
        let Ok(entries) = std::fs::read_dir(&class) else { return Ok(None) };
        let mut found: Vec<u32> = Vec::new();
        for e in entries.flatten() {
            let file_name = e.file_name();
            let Some(idx) = file_name.to_str().and_then(|s| s.strip_prefix("uio")).and_then(|s| s.parse().ok()) else {
                continue;
            };
            if sysfs::read_text(&e.path().join("name")).is_ok_and(|n| n == name) {
                found.push(idx);
            }
        }
        found.sort_unstable();
        Ok(found.first().copied())
    }

    /// `len` bytes of physical address space at `phys_base` through /dev/mem, uncached (O_SYNC).
    /// Needs root, and `allow_devmem = true`: a wrong base can hang the bus or corrupt memory.
    pub fn open_devmem(phys_base: u64, len: usize, allow_devmem: bool) -> Result<Self, MmioError> {
        Self::open_devmem_at(Path::new("/dev/mem"), phys_base, len, allow_devmem)
    }

    /// [`open_devmem`](Self::open_devmem) on another path (a file standing in for /dev/mem).
    pub fn open_devmem_at(path: &Path, phys_base: u64, len: usize, allow_devmem: bool) -> Result<Self, MmioError> {
        if !allow_devmem {
            return Err(MmioError::DevMemNotAllowed { base: phys_base });
        }
        if len == 0 {
            return Err(MmioError::WindowTooSmall { window: path.display().to_string(), len, need: 4 });
        }
        let file = open_rw(path, true)?;
        check_file_len(&file, path, phys_base.saturating_add(len as u64))?;
        let map = map(&file, path, phys_base, len)?;
        Ok(MappedWindow { map, len, name: format!("{}@{phys_base:#x}", path.display()) })
    }

    /// A regular file as the window: a stand-in device for tests and dry runs.
    pub fn open_file(path: &Path) -> Result<Self, MmioError> {
        let file = open_rw(path, false)?;
        let size = file.metadata().map_err(|e| MmioError::Open { path: path.to_path_buf(), msg: e.to_string() })?.len();
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        if len < 4 {
            return Err(MmioError::WindowTooSmall { window: path.display().to_string(), len, need: 4 });
        }
        let map = map(&file, path, 0, len)?;
        Ok(MappedWindow { map, len, name: path.display().to_string() })
    }

    /// Creates (or resizes) `path` to `len` zero bytes and maps it.
    pub fn create_file(path: &Path, len: usize) -> Result<Self, MmioError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .and_then(|f| f.set_len(len as u64).map(|_| f))
            .map_err(|e| MmioError::Open { path: path.to_path_buf(), msg: format!("cannot create: {e}") })?;
        drop(file);
        Self::open_file(path)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Mmio for MappedWindow {
    fn window_len(&self) -> usize {
        self.len
    }

    fn read32(&mut self, offset: usize) -> Result<u32, MmioError> {
        check_access(&self.name, offset, self.len)?;
        // SAFETY: offset + 4 <= len (checked above) keeps the access inside the live mapping,
        // which `self.map` owns for as long as `self` lives; the base is page-aligned and the
        // offset a multiple of 4, so the u32 pointer is aligned. Volatile, because the device
        // changes the value behind the compiler's back.
        let v = unsafe { self.map.as_ptr().add(offset).cast::<u32>().read_volatile() };
        io_barrier();
        Ok(v)
    }

    fn write32(&mut self, offset: usize, value: u32) -> Result<(), MmioError> {
        check_access(&self.name, offset, self.len)?;
        // Earlier writes to DMA buffers must reach memory before the device is told to start.
        io_barrier();
        // SAFETY: as in read32: bounds and alignment checked, the mapping outlives the access,
        // and volatile keeps the store (the device acts on it) in program order.
        unsafe { self.map.as_mut_ptr().add(offset).cast::<u32>().write_volatile(value) };
        Ok(())
    }
}

/// Orders normal-memory accesses (the DMA buffers) against device accesses, as Linux's
/// writel/readl do: a full-system DSB on ARM, a fence elsewhere.
#[inline(always)]
fn io_barrier() {
    #[cfg(any(target_arch = "arm", target_arch = "aarch64"))]
    // SAFETY: `dsb sy` only waits for outstanding memory accesses; it touches no registers or
    // memory the compiler tracks, and the default asm! options (may read/write memory) keep the
    // compiler from moving accesses across it.
    unsafe {
        core::arch::asm!("dsb sy", options(nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "arm", target_arch = "aarch64")))]
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}

/// A shared, writable mapping of a DMA buffer's device file (u-dma-buf). Created here because
/// mapping a file is `unsafe` in memmap2; [`crate::dma`] only sees safe slices.
pub struct DmaMapping {
    map: MmapMut,
}

impl DmaMapping {
    /// Maps `len` bytes of `file` (opened by the caller, with O_SYNC for an uncached mapping).
    pub(crate) fn new(file: &File, path: &Path, len: usize) -> Result<Self, MmioError> {
        check_file_len(file, path, len as u64)?;
        // SAFETY: memmap2 asks the caller to make sure nothing else changes the mapped file
        // while Rust holds slices into it. The only other writer is the device, and the driver
        // lets it write only between sync_for_device and sync_for_cpu, while it holds `&mut`
        // to the buffer and no slice is alive; other processes mapping the same u-dma-buf are
        // outside what this crate supports (documented on `UDmaBuf`).
        let map = unsafe { MmapOptions::new().len(len).map_mut(file) }.map_err(|e| MmioError::Open {
            path: path.to_path_buf(),
            msg: format!("cannot map {len:#x} bytes: {e}"),
        })?;
        Ok(DmaMapping { map })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// Copies `out.len()` bytes from `offset` with naturally aligned volatile accesses only
    /// ([`aligned_chunks`]): for uncached mappings, where an unaligned access can fault (arm64
    /// Device memory) and `memcpy` makes them.
    pub(crate) fn read_aligned(&self, offset: usize, out: &mut [u8]) {
        assert!(offset.checked_add(out.len()).is_some_and(|end| end <= self.map.len()), "range checked by the caller");
        let base = self.map.as_ptr();
        let mut at = 0;
        for (off, width) in aligned_chunks(base as usize + offset, out.len()) {
            let src = off - base as usize;
            // SAFETY: `src..src + width` lies inside the mapping (asserted above; the chunks
            // tile `offset..offset + out.len()`), which lives as long as `self`; `off` is a
            // multiple of `width` (aligned_chunks), so the pointer is aligned for its type.
            // Volatile keeps each access as one load of that width.
            unsafe {
                let p = base.add(src);
                if width == WORD {
                    let w = p.cast::<usize>().read_volatile();
                    out[at..at + WORD].copy_from_slice(&w.to_ne_bytes());
                } else {
                    out[at] = p.read_volatile();
                }
            }
            at += width;
        }
    }

    /// Copies `data` in at `offset` with naturally aligned volatile accesses only (see
    /// [`read_aligned`](Self::read_aligned)).
    pub(crate) fn write_aligned(&mut self, offset: usize, data: &[u8]) {
        assert!(offset.checked_add(data.len()).is_some_and(|end| end <= self.map.len()), "range checked by the caller");
        let base = self.map.as_mut_ptr();
        let mut at = 0;
        for (off, width) in aligned_chunks(base as usize + offset, data.len()) {
            let dst = off - base as usize;
            // SAFETY: as in read_aligned: in bounds, the mapping outlives the access, aligned
            // for the access width, one volatile store each.
            unsafe {
                let p = base.add(dst);
                if width == WORD {
                    let w = usize::from_ne_bytes(data[at..at + WORD].try_into().expect("WORD bytes"));
                    p.cast::<usize>().write_volatile(w);
                } else {
                    p.write_volatile(data[at]);
                }
            }
            at += width;
        }
    }
}

/// The machine word: the widest access [`aligned_chunks`] makes (4 bytes on armv7, 8 on aarch64).
pub const WORD: usize = std::mem::size_of::<usize>();

/// Splits the byte range `addr..addr + len` into accesses that are each naturally aligned:
/// single bytes up to the first word boundary, whole words, then single bytes. Yields
/// (address, width) in order; the accesses tile the range exactly.
pub fn aligned_chunks(addr: usize, len: usize) -> impl Iterator<Item = (usize, usize)> {
    let end = addr + len;
    let words_start = addr.next_multiple_of(WORD).min(end);
    let words_end = (end / WORD * WORD).max(words_start);
    let head = (addr..words_start).map(|a| (a, 1));
    let words = (words_start..words_end).step_by(WORD).map(|a| (a, WORD));
    let tail = (words_end..end).map(|a| (a, 1));
    head.chain(words).chain(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_checks() {
        assert!(check_access("w", 0x1c, 0x20).is_ok());
        assert!(matches!(check_access("w", 0x20, 0x20), Err(MmioError::OutOfWindow { .. })));
        assert!(matches!(check_access("w", 0x1e, 0x20), Err(MmioError::Misaligned { .. })));
        assert!(matches!(check_access("w", usize::MAX - 3, usize::MAX), Err(MmioError::OutOfWindow { .. })));
    }
}
