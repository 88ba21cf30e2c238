//! Register windows and DMA buffers on fake sysfs/dev trees made of plain files.

use std::path::Path;

use binarycop_hw::dma::{CachePolicy, Direction, DmaBuffer, DmaError, UDmaBuf};
use binarycop_hw::mmio::{aligned_chunks, MappedWindow, Mmio, MmioError, Roots, WORD};

fn roots(dir: &Path) -> Roots {
    Roots { sys: dir.join("sys"), dev: dir.join("dev") }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn file_window_reads_and_writes_words() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("regs.bin");
    let mut w = MappedWindow::create_file(&p, 0x40).unwrap();
    assert_eq!(w.window_len(), 0x40);
    w.write32(0x1c, 0xdead_beef).unwrap();
    w.write32(0x3c, 7).unwrap();
    assert_eq!(w.read32(0x1c).unwrap(), 0xdead_beef);
    drop(w);
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[0x1c..0x20], &0xdead_beefu32.to_ne_bytes());
    assert_eq!(bytes[0x3c], 7);

    let mut w = MappedWindow::open_file(&p).unwrap();
    assert_eq!(w.read32(0x1c).unwrap(), 0xdead_beef);
    assert!(matches!(w.read32(0x40), Err(MmioError::OutOfWindow { offset: 0x40, len: 0x40, .. })));
    assert!(matches!(w.write32(0x3e, 1), Err(MmioError::Misaligned { offset: 0x3e, .. })));
    assert!(matches!(w.write32(usize::MAX - 3, 1), Err(MmioError::OutOfWindow { .. })));
    let e = w.read32(0x1000).unwrap_err().to_string();
    assert!(e.contains("regs.bin") && e.contains("0x1000"), "{e}");

    std::fs::write(tmp.path().join("tiny"), [0u8; 2]).unwrap();
    assert!(matches!(MappedWindow::open_file(&tmp.path().join("tiny")), Err(MmioError::WindowTooSmall { .. })));
    assert!(MappedWindow::open_file(&tmp.path().join("absent")).unwrap_err().to_string().contains("absent"));
}

#[test]
fn uio_window_size_comes_from_sysfs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = roots(tmp.path());
    write(&r.sys.join("class/uio/uio3/maps/map0/size"), "0x00010000\n");
    write(&r.sys.join("class/uio/uio3/name"), "odma0\n");
    write(&r.sys.join("class/uio/uio1/name"), "idma0\n");
    std::fs::create_dir_all(&r.dev).unwrap();
    std::fs::write(r.dev.join("uio3"), vec![0u8; 0x10000]).unwrap();

    assert_eq!(MappedWindow::find_uio("odma0", &r).unwrap(), Some(3));
    assert_eq!(MappedWindow::find_uio("nothing", &r).unwrap(), None);
    let mut w = MappedWindow::open_uio(3, &r).unwrap();
    assert_eq!(w.window_len(), 0x10000);
    w.write32(0xfffc, 5).unwrap();
    assert_eq!(w.read32(0xfffc).unwrap(), 5);
    assert!(w.read32(0x10000).is_err());

    // uio1 has no maps: the error names the attribute.
    let e = MappedWindow::open_uio(1, &r).unwrap_err().to_string();
    assert!(e.contains("uio1/maps/map0/size"), "{e}");
    write(&r.sys.join("class/uio/uio1/maps/map0/size"), "lots");
    let e = MappedWindow::open_uio(1, &r).unwrap_err().to_string();
    assert!(e.contains("not a number"), "{e}");
    // A device file shorter than the map is refused, not a SIGBUS later.
    write(&r.sys.join("class/uio/uio1/maps/map0/size"), "0x2000");
    std::fs::write(r.dev.join("uio1"), vec![0u8; 0x1000]).unwrap();
    assert!(MappedWindow::open_uio(1, &r).unwrap_err().to_string().contains("needs"));
}

#[test]
fn devmem_needs_the_opt_in_and_maps_at_the_physical_offset() {
    assert!(matches!(
        MappedWindow::open_devmem(0x4000_0000, 0x1_0000, false),
        Err(MmioError::DevMemNotAllowed { base: 0x4000_0000 })
    ));
    let tmp = tempfile::tempdir().unwrap();
    let mem = tmp.path().join("mem");
    let mut bytes = vec![0u8; 0x3000];
    bytes[0x2010..0x2014].copy_from_slice(&0x1234_5678u32.to_ne_bytes());
    std::fs::write(&mem, &bytes).unwrap();
    assert!(MappedWindow::open_devmem_at(&mem, 0x2000, 0x1000, false).is_err());
    // A base that is not page-aligned still maps the right bytes.
    let mut w = MappedWindow::open_devmem_at(&mem, 0x2008, 0x20, true).unwrap();
    assert_eq!(w.read32(0x08).unwrap(), 0x1234_5678);
    assert!(w.read32(0x20).is_err());
    assert!(MappedWindow::open_devmem_at(&mem, 0x2f00, 0x1000, true).is_err());
}

fn fake_udmabuf(dir: &Path, name: &str, phys: &str, size: usize) -> Roots {
    let r = roots(dir);
    let a = r.sys.join("class/u-dma-buf").join(name);
    write(&a.join("phys_addr"), phys);
    write(&a.join("size"), &format!("{size}\n"));
    for f in ["sync_offset", "sync_size", "sync_direction", "sync_for_cpu", "sync_for_device", "sync_mode"] {
        write(&a.join(f), "0\n");
    }
    std::fs::create_dir_all(&r.dev).unwrap();
    std::fs::write(r.dev.join(name), vec![0u8; size]).unwrap();
    r
}

#[test]
fn udmabuf_maps_and_syncs_whole_cache_lines_through_sysfs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = fake_udmabuf(tmp.path(), "udmabuf0", "0x000000003f000000\n", 8192);
    let attrs = r.sys.join("class/u-dma-buf/udmabuf0");
    let read = |f: &str| std::fs::read_to_string(attrs.join(f)).unwrap();

    let mut b = UDmaBuf::open_in("udmabuf0", &r, CachePolicy::Cached).unwrap();
    assert_eq!((b.phys_addr(), b.len()), (0x3f00_0000, 8192));
    b.write_at(100, &[1, 2, 3]).unwrap();
    let mut out = [0u8; 3];
    b.read_at(100, &mut out).unwrap();
    assert_eq!(out, [1, 2, 3]);
    assert!(matches!(b.write_at(8190, &[0; 3]), Err(DmaError::OutOfRange { .. })));

    b.sync_for_device(100, 3000, Direction::ToDevice).unwrap();
    assert_eq!(
        (read("sync_offset"), read("sync_size"), read("sync_direction")),
        ("64".into(), "3072".into(), "1".into())
    );
    assert_eq!(read("sync_for_device"), "1");
    assert_eq!(read("sync_for_cpu"), "0\n");
    b.sync_for_cpu(8100, 92, Direction::FromDevice).unwrap();
    assert_eq!(
        (read("sync_offset"), read("sync_size"), read("sync_direction")),
        ("8064".into(), "128".into(), "2".into())
    );
    assert_eq!(read("sync_for_cpu"), "1");
    assert!(b.sync_for_cpu(8100, 93, Direction::FromDevice).is_err());
    drop(b);
    // The bytes went to the device file.
    assert_eq!(&std::fs::read(r.dev.join("udmabuf0")).unwrap()[100..103], &[1, 2, 3]);

    // Uncached: sync_mode 2 (write-combine, Normal non-cacheable) before mapping, then no
    // sysfs traffic for the syncs.
    std::fs::write(attrs.join("sync_for_device"), "0").unwrap();
    std::fs::write(attrs.join("sync_mode"), "1\n").unwrap();
    let mut u = UDmaBuf::open_in("udmabuf0", &r, CachePolicy::Uncached).unwrap();
    assert_eq!(read("sync_mode"), "2");
    u.sync_for_device(0, 64, Direction::ToDevice).unwrap();
    assert_eq!(read("sync_for_device"), "0");
}

#[test]
fn uncached_buffers_copy_with_aligned_accesses_only() {
    let tmp = tempfile::tempdir().unwrap();
    let r = fake_udmabuf(tmp.path(), "udmabuf0", "0x3f000000", 256);
    let mut u = UDmaBuf::open_in("udmabuf0", &r, CachePolicy::Uncached).unwrap();
    // Odd offsets and lengths: head bytes, words, tail bytes; the bytes land where they belong
    // (checked against a plain Vec doing the same).
    let mut model = vec![0u8; 256];
    let data: Vec<u8> = (1..=45).collect();
    for offset in [0usize, 1, 3, 7, 8, 13] {
        u.write_at(offset, &data).unwrap();
        model[offset..offset + data.len()].copy_from_slice(&data);
        let mut back = vec![0u8; data.len()];
        u.read_at(offset, &mut back).unwrap();
        assert_eq!(back, data, "offset {offset}");
        let mut seen = Vec::new();
        u.with_bytes(offset, 5, &mut |b| seen.extend_from_slice(b)).unwrap();
        assert_eq!(seen, &data[..5]);
    }
    u.with_bytes_mut(2, 9, &mut |b| b.iter_mut().for_each(|x| *x = x.wrapping_add(100))).unwrap();
    model[2..11].iter_mut().for_each(|x| *x = x.wrapping_add(100));
    let mut back = vec![0u8; 256];
    u.read_at(0, &mut back).unwrap();
    assert_eq!(back, model);
    assert!(matches!(u.write_at(250, &[0; 7]), Err(DmaError::OutOfRange { .. })));
    drop(u);
    assert_eq!(std::fs::read(r.dev.join("udmabuf0")).unwrap(), model, "through the mapping to the device file");

    // Every access the copies make is naturally aligned, and they tile the range exactly.
    for addr in 0x1000..0x1000 + 2 * WORD {
        for len in 0..4 * WORD {
            let chunks: Vec<(usize, usize)> = aligned_chunks(addr, len).collect();
            let mut at = addr;
            for (a, w) in chunks {
                assert_eq!(a, at, "contiguous");
                assert!(w == 1 || w == WORD, "width {w}");
                assert_eq!(a % w, 0, "{a:#x} not aligned to {w}");
                at += w;
            }
            assert_eq!(at, addr + len);
        }
    }
    assert_eq!(aligned_chunks(0x1001, 2 * WORD).filter(|c| c.1 == WORD).count(), 1);
}

#[test]
fn uncached_needs_a_settable_sync_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let r = fake_udmabuf(tmp.path(), "udmabuf0", "0x3f000000", 256);
    std::fs::remove_file(r.sys.join("class/u-dma-buf/udmabuf0/sync_mode")).unwrap();
    let e = UDmaBuf::open_in("udmabuf0", &r, CachePolicy::Uncached).unwrap_err().to_string();
    assert!(e.contains("sync_mode"), "{e}");
}

#[test]
fn udmabuf_bad_trees_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let r = fake_udmabuf(tmp.path(), "udmabuf1", "garbage", 4096);
    let e = UDmaBuf::open_in("udmabuf1", &r, CachePolicy::Cached).unwrap_err().to_string();
    assert!(e.contains("phys_addr") && e.contains("garbage"), "{e}");
    let r = fake_udmabuf(tmp.path(), "udmabuf2", "0x10000000", 0);
    let e = UDmaBuf::open_in("udmabuf2", &r, CachePolicy::Cached).unwrap_err().to_string();
    assert!(e.contains("size"), "{e}");
    let r = fake_udmabuf(tmp.path(), "udmabuf3", "0x10000000", 4096);
    std::fs::remove_file(r.dev.join("udmabuf3")).unwrap();
    let e = UDmaBuf::open_in("udmabuf3", &r, CachePolicy::Cached).unwrap_err().to_string();
    assert!(e.contains("dev/udmabuf3"), "{e}");
    let e = UDmaBuf::open_in("udmabuf9", &r, CachePolicy::Cached).unwrap_err().to_string();
    assert!(e.contains("udmabuf9") && e.contains("module"), "{e}");
}
