//! DMA buffers: physically contiguous memory the IODMAs read and write, behind a small trait.
//!
//! Implementations: [`UDmaBuf`] (the u-dma-buf kernel module, /dev/udmabufN) for boards, and
//! [`HostBuffer`] (plain memory with a made-up physical address) for tests and simulated
//! devices. Other allocators (CMA through xlnk or PYNQ's `allocate`, a dma-heap) fit the same
//! trait: a physical address, byte access, and the two cache syncs.
//!
//! Cache policy. Zynq's HP ports are not cache-coherent, so the CPU's caches must be cleaned
//! before the device reads and invalidated before the CPU reads what the device wrote. We keep
//! the buffer **cached** and sync by range through u-dma-buf's sysfs attributes (the kernel's
//! dma_sync_single_for_{device,cpu}), as PYNQ does for zynq-iodma (`allocate(cacheable=True)`,
//! then `flush()` and `invalidate()`). The alternative, an uncached O_SYNC mapping, skips the
//! sysfs writes (a few µs) but makes every CPU access go to DRAM; a Cortex-A9 reads uncached
//! memory roughly an order of magnitude slower than cached, which costs more than the syncs for
//! anything beyond a few hundred bytes. [`CachePolicy::Uncached`] is there for boards whose
//! u-dma-buf lacks manual sync (x86 builds of the module).
//!
//! Uncached, precisely. u-dma-buf maps a buffer opened with O_SYNC by its `sync_mode`: 1
//! (the module's default) `pgprot_noncached`, which is Device-nGnRnE memory on arm64 and
//! Strongly-ordered on armv7, where an unaligned access faults (SIGBUS) and every access is its
//! own bus transaction; 2 `pgprot_writecombine`, Normal non-cacheable memory on both, which
//! needs no cache maintenance either (the CPU never caches it; the write buffer is drained by
//! the `dsb` before each register write, see [`crate::mmio`]); 3 "dmacoherent", the same as 2
//! on arm64. binarycop writes **2** to `sync_mode` before mapping and checks it took. The byte
//! copies into and out of an uncached buffer are, besides, made of naturally aligned word and
//! byte accesses only ([`crate::mmio::aligned_chunks`]), never `memcpy`, so that they stay
//! sound even if another process switched the buffer back to mode 1.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::mmio::{DmaMapping, MmioError};
use crate::sysfs::{self, SysfsError};

#[derive(Debug, thiserror::Error)]
pub enum DmaError {
    #[error("{buffer}: range {offset}..{end} is outside the {len}-byte buffer")]
    OutOfRange { buffer: String, offset: usize, end: usize, len: usize },
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
    #[error(transparent)]
    Map(#[from] MmioError),
    #[error("{path}: {msg}")]
    Open { path: PathBuf, msg: String },
}

/// Which way the data goes, for the cache maintenance (Linux's `enum dma_data_direction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Bidirectional = 0,
    ToDevice = 1,
    FromDevice = 2,
}

/// A physically contiguous buffer the device can reach.
///
/// Object safe and `Send`. The byte access goes through callbacks so that an implementation
/// may keep its memory behind a lock (a simulated device shares it with the buffer).
pub trait DmaBuffer: Send {
    /// The bus address the device uses.
    fn phys_addr(&self) -> u64;
    /// Bytes in the buffer.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A name for error messages.
    fn name(&self) -> String;
    /// Calls `f` with bytes `offset..offset+len`, for reading.
    fn with_bytes(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&[u8])) -> Result<(), DmaError>;
    /// Calls `f` with bytes `offset..offset+len`, for writing.
    fn with_bytes_mut(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&mut [u8])) -> Result<(), DmaError>;
    /// Hands the range to the device: cleans (ToDevice) or invalidates (FromDevice) the caches.
    fn sync_for_device(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError>;
    /// Hands the range back to the CPU: invalidates the caches for FromDevice data.
    fn sync_for_cpu(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError>;

    /// Copies `data` in at `offset`.
    fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<(), DmaError> {
        self.with_bytes_mut(offset, data.len(), &mut |dst| dst.copy_from_slice(data))
    }
    /// Copies `out.len()` bytes out from `offset`.
    fn read_at(&mut self, offset: usize, out: &mut [u8]) -> Result<(), DmaError> {
        let n = out.len();
        self.with_bytes(offset, n, &mut |src| out.copy_from_slice(src))
    }
}

impl<B: DmaBuffer + ?Sized> DmaBuffer for Box<B> {
    fn phys_addr(&self) -> u64 {
        (**self).phys_addr()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn with_bytes(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&[u8])) -> Result<(), DmaError> {
        (**self).with_bytes(offset, len, f)
    }
    fn with_bytes_mut(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&mut [u8])) -> Result<(), DmaError> {
        (**self).with_bytes_mut(offset, len, f)
    }
    fn sync_for_device(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        (**self).sync_for_device(offset, len, dir)
    }
    fn sync_for_cpu(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        (**self).sync_for_cpu(offset, len, dir)
    }
    fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<(), DmaError> {
        (**self).write_at(offset, data)
    }
    fn read_at(&mut self, offset: usize, out: &mut [u8]) -> Result<(), DmaError> {
        (**self).read_at(offset, out)
    }
}

/// `offset..offset+len` inside `total`, or the error naming the buffer.
pub fn check_range(buffer: &str, offset: usize, len: usize, total: usize) -> Result<std::ops::Range<usize>, DmaError> {
    match offset.checked_add(len) {
        Some(end) if end <= total => Ok(offset..end),
        _ => Err(DmaError::OutOfRange {
            buffer: buffer.to_string(),
            offset,
            end: offset.saturating_add(len),
            len: total,
        }),
    }
}

/// How a [`UDmaBuf`] is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// Cached mapping; the syncs clean/invalidate by range through sysfs (the default).
    #[default]
    Cached,
    /// O_SYNC mapping with u-dma-buf `sync_mode` 2 (Normal non-cacheable, see the module doc);
    /// no sysfs syncs; copies go through aligned accesses.
    Uncached,
}

/// A u-dma-buf buffer: `/dev/<name>` mapped, `/sys/class/u-dma-buf/<name>/` for its physical
/// address, size and cache syncs (ikwzm/udmabuf README). One process should map it at a time.
pub struct UDmaBuf {
    map: DmaMapping,
    phys: u64,
    len: usize,
    name: String,
    attrs: PathBuf,
    policy: CachePolicy,
}

impl std::fmt::Debug for UDmaBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UDmaBuf")
            .field("name", &self.name)
            .field("phys", &format_args!("{:#x}", self.phys))
            .field("len", &self.len)
            .field("policy", &self.policy)
            .finish()
    }
}

/// u-dma-buf's write-combine mode: Normal non-cacheable memory for O_SYNC mappings.
const SYNC_MODE_WRITECOMBINE: u64 = 2;

/// Writes [`SYNC_MODE_WRITECOMBINE`] to the buffer's `sync_mode` and checks it took (the
/// attribute must be set before the mapping is made).
fn set_sync_mode(path: &std::path::Path) -> Result<(), DmaError> {
    sysfs::write_text(path, &SYNC_MODE_WRITECOMBINE.to_string())?;
    let mode = sysfs::read_u64(path)?;
    if mode != SYNC_MODE_WRITECOMBINE {
        return Err(sysfs::err(path, format!("wrote {SYNC_MODE_WRITECOMBINE}, reads back {mode}")).into());
    }
    Ok(())
}

/// Cache lines are at most 64 bytes on the Cortex-A9 (L2: 32) and A53; syncs cover whole lines.
const CACHE_LINE: usize = 64;

impl UDmaBuf {
    /// Opens `udmabuf<index>` under the standard roots.
    pub fn open(index: u32, policy: CachePolicy) -> Result<Self, DmaError> {
        Self::open_in(&format!("udmabuf{index}"), &crate::mmio::Roots::default(), policy)
    }

    /// Opens the u-dma-buf device `name` with `<sys>/class/u-dma-buf/<name>` and `<dev>/<name>`.
    pub fn open_in(name: &str, roots: &crate::mmio::Roots, policy: CachePolicy) -> Result<Self, DmaError> {
        let attrs = roots.sys.join("class/u-dma-buf").join(name);
        if !attrs.is_dir() {
            return Err(DmaError::Open {
                path: attrs,
                msg: "no such u-dma-buf device (is the u-dma-buf module loaded with this buffer?)".into(),
            });
        }
        let phys = sysfs::read_u64(&attrs.join("phys_addr"))?;
        let size_path = attrs.join("size");
        let size = sysfs::read_u64(&size_path)?;
        let len = usize::try_from(size)
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| sysfs::err(&size_path, format!("unusable buffer size {size}")))?;
        if policy == CachePolicy::Uncached {
            set_sync_mode(&attrs.join("sync_mode"))?;
        }
        let dev = roots.dev.join(name);
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        if policy == CachePolicy::Uncached {
            o.custom_flags(libc::O_SYNC);
        }
        let file = o.open(&dev).map_err(|e| DmaError::Open { path: dev.clone(), msg: format!("cannot open: {e}") })?;
        let map = DmaMapping::new(&file, &dev, len)?;
        Ok(UDmaBuf { map, phys, len, name: dev.display().to_string(), attrs, policy })
    }

    pub fn policy(&self) -> CachePolicy {
        self.policy
    }

    /// Writes the range and direction, then 1 to `sync_for_{cpu,device}`. The separate
    /// attributes work on every u-dma-buf version (the packed one-write form needs ≥ 3.2).
    fn sync(&mut self, which: &str, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        check_range(&self.name, offset, len, self.len)?;
        if self.policy == CachePolicy::Uncached || len == 0 {
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
            return Ok(());
        }
        // Whole cache lines: a partial line invalidated could lose a neighbour's bytes.
        let start = offset / CACHE_LINE * CACHE_LINE;
        let end = (offset + len).div_ceil(CACHE_LINE) * CACHE_LINE;
        let end = end.min(self.len);
        sysfs::write_text(&self.attrs.join("sync_offset"), &start.to_string())?;
        sysfs::write_text(&self.attrs.join("sync_size"), &(end - start).to_string())?;
        sysfs::write_text(&self.attrs.join("sync_direction"), &(dir as u32).to_string())?;
        sysfs::write_text(&self.attrs.join(which), "1")?;
        Ok(())
    }
}

impl DmaBuffer for UDmaBuf {
    fn phys_addr(&self) -> u64 {
        self.phys
    }
    fn len(&self) -> usize {
        self.len
    }
    fn name(&self) -> String {
        self.name.clone()
    }
    fn with_bytes(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&[u8])) -> Result<(), DmaError> {
        let r = check_range(&self.name, offset, len, self.len)?;
        if self.policy == CachePolicy::Uncached {
            // No slice of uncached memory is handed out: the caller's code may read it with
            // unaligned wide loads. A cached copy, made with aligned accesses.
            let mut staged = vec![0u8; len];
            self.map.read_aligned(offset, &mut staged);
            f(&staged);
        } else {
            f(&self.map.bytes()[r]);
        }
        Ok(())
    }
    fn with_bytes_mut(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&mut [u8])) -> Result<(), DmaError> {
        let r = check_range(&self.name, offset, len, self.len)?;
        if self.policy == CachePolicy::Uncached {
            let mut staged = vec![0u8; len];
            self.map.read_aligned(offset, &mut staged);
            f(&mut staged);
            self.map.write_aligned(offset, &staged);
        } else {
            f(&mut self.map.bytes_mut()[r]);
        }
        Ok(())
    }
    fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<(), DmaError> {
        check_range(&self.name, offset, data.len(), self.len)?;
        match self.policy {
            CachePolicy::Uncached => self.map.write_aligned(offset, data),
            CachePolicy::Cached => self.map.bytes_mut()[offset..offset + data.len()].copy_from_slice(data),
        }
        Ok(())
    }
    fn read_at(&mut self, offset: usize, out: &mut [u8]) -> Result<(), DmaError> {
        check_range(&self.name, offset, out.len(), self.len)?;
        match self.policy {
            CachePolicy::Uncached => self.map.read_aligned(offset, out),
            CachePolicy::Cached => out.copy_from_slice(&self.map.bytes()[offset..offset + out.len()]),
        }
        Ok(())
    }
    fn sync_for_device(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        self.sync("sync_for_device", offset, len, dir)
    }
    fn sync_for_cpu(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        self.sync("sync_for_cpu", offset, len, dir)
    }
}

/// One cache sync a [`HostBuffer`] was asked for, kept so that tests can check the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncRecord {
    pub for_device: bool,
    pub offset: usize,
    pub len: usize,
    pub dir: Direction,
}

#[derive(Debug, Default)]
struct HostState {
    bytes: Vec<u8>,
    syncs: Vec<SyncRecord>,
}

/// Plain memory standing in for a DMA buffer, at a physical address the caller makes up.
/// Clones share the memory: hand one to a simulated device (it reads and writes through
/// [`HostBuffer::lock`]) and the other to the driver.
#[derive(Clone, Debug)]
pub struct HostBuffer {
    phys: u64,
    len: usize,
    state: Arc<Mutex<HostState>>,
}

impl HostBuffer {
    /// `len` zero bytes at the made-up bus address `phys`.
    pub fn new(phys: u64, len: usize) -> Self {
        HostBuffer { phys, len, state: Arc::new(Mutex::new(HostState { bytes: vec![0; len], syncs: Vec::new() })) }
    }

    fn state(&self) -> MutexGuard<'_, HostState> {
        // A panic elsewhere while holding the lock leaves plain bytes; keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The memory, for the device side.
    pub fn lock(&self) -> impl std::ops::DerefMut<Target = Vec<u8>> + '_ {
        struct Bytes<'a>(MutexGuard<'a, HostState>);
        impl std::ops::Deref for Bytes<'_> {
            type Target = Vec<u8>;
            fn deref(&self) -> &Vec<u8> {
                &self.0.bytes
            }
        }
        impl std::ops::DerefMut for Bytes<'_> {
            fn deref_mut(&mut self) -> &mut Vec<u8> {
                &mut self.0.bytes
            }
        }
        Bytes(self.state())
    }

    /// The syncs asked for so far, oldest first.
    pub fn syncs(&self) -> Vec<SyncRecord> {
        self.state().syncs.clone()
    }

    fn record(&mut self, for_device: bool, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        check_range(&self.name(), offset, len, self.len)?;
        self.state().syncs.push(SyncRecord { for_device, offset, len, dir });
        Ok(())
    }
}

impl DmaBuffer for HostBuffer {
    fn phys_addr(&self) -> u64 {
        self.phys
    }
    fn len(&self) -> usize {
        self.len
    }
    fn name(&self) -> String {
        format!("host buffer @{:#x}", self.phys)
    }
    fn with_bytes(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&[u8])) -> Result<(), DmaError> {
        let r = check_range(&self.name(), offset, len, self.len)?;
        f(&self.state().bytes[r]);
        Ok(())
    }
    fn with_bytes_mut(&mut self, offset: usize, len: usize, f: &mut dyn FnMut(&mut [u8])) -> Result<(), DmaError> {
        let r = check_range(&self.name(), offset, len, self.len)?;
        f(&mut self.state().bytes[r]);
        Ok(())
    }
    fn sync_for_device(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        self.record(true, offset, len, dir)
    }
    fn sync_for_cpu(&mut self, offset: usize, len: usize, dir: Direction) -> Result<(), DmaError> {
        self.record(false, offset, len, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_buffer_bounds_and_sharing() {
        let mut b = HostBuffer::new(0x1000, 16);
        let dev = b.clone();
        b.write_at(4, &[1, 2, 3]).unwrap();
        assert_eq!(&dev.lock()[3..8], &[0, 1, 2, 3, 0]);
        dev.lock()[15] = 9;
        let mut one = [0u8];
        b.read_at(15, &mut one).unwrap();
        assert_eq!(one, [9]);
        assert!(matches!(b.write_at(14, &[0; 3]), Err(DmaError::OutOfRange { .. })));
        assert!(matches!(b.read_at(usize::MAX, &mut one), Err(DmaError::OutOfRange { .. })));
        b.sync_for_device(0, 16, Direction::ToDevice).unwrap();
        assert!(b.sync_for_cpu(8, 9, Direction::FromDevice).is_err());
        assert_eq!(dev.syncs(), vec![SyncRecord { for_device: true, offset: 0, len: 16, dir: Direction::ToDevice }]);
    }

    #[test]
    fn missing_udmabuf_is_a_clear_error() {
        let roots = crate::mmio::Roots { sys: "/nonexistent/sys".into(), dev: "/nonexistent/dev".into() };
        let e = UDmaBuf::open_in("udmabuf0", &roots, CachePolicy::Cached).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/sys/class/u-dma-buf/udmabuf0") && e.contains("u-dma-buf"), "{e}");
    }
}
