//! The accelerator backends against each other: the sim backend (hw's real IODMA driver on the
//! simulated FINN device) equals the cpu engine on every fixture, labels and taps, through the
//! whole protocol; faults give prompt, clear errors; threads share one device and stay exact;
//! the zynq backend programs file-backed register windows and u-dma-buf buffers on a fake
//! sysfs tree, and refuses bad deployments and machines that are not a Zynq.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use binarycop::accel::{Accelerator, CpuAccel, Outputs, SimAccel, SimAccelConfig, ZynqAccel, ZynqOptions, ZynqSource};
use binarycop::engine::top_k;
use binarycop::lower;
use binarycop::model::{self, FoldedModel};
use binarycop_hw::dma::HostBuffer;
use binarycop_hw::driver::DriverConfig;
use binarycop_hw::fpga::FpgaPaths;
use binarycop_hw::mmio::{Mmio, MmioError, Roots};
use binarycop_hw::preflight::Checks;
use binarycop_sim::device::{DeviceConfig, Dma, Faults};
use ndarray::{s, Array4, Axis};
use ndarray_npy::{read_npy, ReadNpyExt};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.join("model.onnx").exists() && d.join("inputs.npy").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 6, "expected the committed fixtures, found {dirs:?}");
    dirs
}

fn fixture(name: &str) -> (FoldedModel, Array4<u8>) {
    let dir = root().join("tests/fixtures").join(name);
    let m = model::load(&dir.join("model.onnx")).unwrap().folded;
    let imgs: Array4<u8> = read_npy(dir.join("inputs.npy")).unwrap();
    (m, imgs)
}

fn sim(m: &FoldedModel, cfg: SimAccelConfig) -> SimAccel {
    SimAccel::with_config(m.clone(), &lower::paper_config(m).unwrap(), cfg).unwrap()
}

fn quick() -> SimAccelConfig {
    SimAccelConfig {
        driver: DriverConfig { timeout: Duration::from_millis(60), per_frame: Duration::ZERO, ..Default::default() },
        ..Default::default()
    }
}

/// cpu and sim agree on labels (the engine's top-1 with FINN's tie rule) and taps.
fn assert_same(cpu: &Outputs, got: &Outputs, what: &str) {
    let scores = cpu.scores.as_ref().unwrap();
    let top1: Vec<usize> = scores.axis_iter(Axis(0)).map(|r| top_k(&r.to_vec(), 1)[0]).collect();
    assert_eq!(cpu.labels, top1, "{what}: cpu labels are the engine's top-1");
    assert_eq!(got.labels, cpu.labels, "{what}: labels");
    assert!(got.scores.is_none(), "{what}: a LabelSelect accelerator has no scores");
    assert_eq!(got.taps.len(), cpu.taps.len());
    for (g, c) in got.taps.iter().zip(&cpu.taps) {
        assert_eq!(g.layer, c.layer);
        assert_eq!(g.values.dim(), c.values.dim(), "{what}: layer {} shape", c.layer);
        let bad = g.values.iter().zip(&c.values).position(|(a, b)| a != b);
        assert!(bad.is_none(), "{what}: layer {} differs at value {bad:?}", c.layer);
    }
}

#[test]
fn sim_equals_cpu_on_every_fixture_labels_and_every_tap() {
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (m, imgs) = fixture(&name);
        let layers = m.topology.layers.len();
        let taps: Vec<usize> = (0..layers).collect();
        let cpu = CpuAccel::new(m.clone()).unwrap().run(imgs.view(), &taps).unwrap();
        // Taps are ±1 where the layer has a map; the last layer's are the class scores.
        for t in &cpu.taps[..layers - 1] {
            assert!(t.values.iter().all(|&v| v == 1 || v == -1), "{name}: layer {} is not ±1", t.layer);
        }
        let last = &cpu.taps[layers - 1].values;
        assert_eq!(
            last.iter().copied().collect::<Vec<_>>(),
            cpu.scores.as_ref().unwrap().iter().copied().collect::<Vec<_>>()
        );
        // Batches larger than the buffers go in several runs, as on a board.
        let max_batch = 6;
        let acc = sim(&m, SimAccelConfig { max_batch, ..Default::default() });
        let got = acc.run(imgs.view(), &taps).unwrap();
        assert_same(&cpu, &got, &name);
        let n = imgs.len_of(Axis(0));
        let dev = acc.device();
        assert_eq!(dev.runs() as usize, (1 + taps.len()) * n.div_ceil(max_batch), "{name}: driver runs");
        let rec = dev.last_run().unwrap();
        assert_eq!(rec.frames, (n - 1) % max_batch + 1);
        assert_eq!(rec.stream, acc.layer_node(layers - 1).unwrap());
        assert!(rec.cycles > 0 && dev.fault().is_none());
    }
}

#[test]
fn a_corrupted_device_output_is_caught() {
    let (m, imgs) = fixture("ucnv_random");
    let imgs = imgs.slice(s![..4, .., .., ..]);
    let cpu = CpuAccel::new(m.clone()).unwrap().run(imgs, &[]).unwrap();
    let acc = sim(&m, SimAccelConfig::default());
    acc.device().set_faults(Faults { corrupt_output: true, ..Default::default() });
    let got = acc.run(imgs, &[]).unwrap();
    assert_ne!(got.labels, cpu.labels);
    assert_eq!(got.labels.iter().map(|l| l ^ 1).collect::<Vec<_>>(), cpu.labels, "exactly bit 0 flipped");
}

#[test]
fn done_never_rising_is_a_prompt_timeout_and_the_device_stays_hung() {
    let (m, imgs) = fixture("ucnv_random");
    let imgs = imgs.slice(s![..3, .., .., ..]);
    let acc = sim(&m, quick());
    let dev = acc.device();
    dev.set_faults(Faults { done_never: true, ..Default::default() });
    let t = Instant::now();
    let e = acc.run(imgs, &[]).unwrap_err().to_string();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(e.contains("timed out") && e.contains("ap_done"), "{e}");
    // As on a board, a hung accelerator refuses the next run until it is reloaded.
    dev.set_faults(Faults::default());
    let e = acc.run(imgs, &[]).unwrap_err().to_string();
    assert!(e.contains("not idle"), "{e}");
    dev.reset();
    let cpu = CpuAccel::new(m.clone()).unwrap().run(imgs, &[]).unwrap();
    assert_eq!(acc.run(imgs, &[]).unwrap().labels, cpu.labels);
}

#[test]
fn a_busy_device_at_start_is_refused_before_any_write() {
    let (m, imgs) = fixture("ucnv_random");
    let acc = sim(&m, quick());
    for (d, name) in [(Dma::Odma, "odma"), (Dma::Idma, "idma")] {
        acc.device().set_faults(Faults { busy_at_start: Some(d), ..Default::default() });
        let e = acc.run(imgs.slice(s![..1, .., .., ..]), &[]).unwrap_err().to_string();
        assert!(e.contains(&format!("{name} is not idle")), "{e}");
        assert_eq!(acc.device().runs(), 0);
    }
}

#[test]
fn small_or_misaligned_buffers_and_small_windows_are_refused() {
    let (m, _) = fixture("ucnv_random");
    let cfg = |buffers| SimAccelConfig { buffers: Some(buffers), ..quick() };
    let folding = lower::paper_config(&m).unwrap();
    let open = |c| SimAccel::with_config(m.clone(), &folding, c).map(|_| ()).unwrap_err().to_string();
    let e = open(cfg((HostBuffer::new(0x2000_0000, 3071), HostBuffer::new(0x3000_0000, 4096))));
    assert!(e.contains("3071") && e.contains("3072"), "{e}");
    let e = open(cfg((HostBuffer::new(0x2000_0020, 8192), HostBuffer::new(0x3000_0000, 4096))));
    assert!(e.contains("0x20000020") && e.contains("aligned"), "{e}");
    let e = open(cfg((HostBuffer::new(0x2000_0000, 8192), HostBuffer::new(0x2000_1000, 64))));
    assert!(e.contains("overlaps"), "{e}");
    // A register window that does not reach numReps.
    let e = open(SimAccelConfig { device: DeviceConfig { window_len: 0x1c, ..Default::default() }, ..quick() });
    assert!(e.contains("0x1c") && e.contains("outside"), "{e}");
    // Good buffers of the caller's work, and batches beyond them are split.
    let (m, imgs) = fixture("ucnv_random");
    let acc = SimAccel::with_config(
        m.clone(),
        &folding,
        cfg((HostBuffer::new(0x2000_0000, 3 * 3072), HostBuffer::new(0x3000_0000, 64 * 1024))),
    )
    .unwrap();
    let cpu = CpuAccel::new(m).unwrap().run(imgs.view(), &[]).unwrap();
    assert_eq!(acc.run(imgs.view(), &[]).unwrap().labels, cpu.labels);
    assert_eq!(acc.device().runs() as usize, imgs.len_of(Axis(0)).div_ceil(3));
}

#[test]
fn register_accesses_outside_the_window_are_refused() {
    let (m, _) = fixture("ucnv_random");
    let acc = sim(&m, quick());
    let mut w = acc.device().window(Dma::Odma);
    assert_eq!(w.window_len(), 0x1_0000);
    assert!(matches!(w.read32(0x1_0000), Err(MmioError::OutOfWindow { .. })));
    assert!(matches!(w.write32(0x1_0000, 1), Err(MmioError::OutOfWindow { .. })));
    assert!(matches!(w.write32(0x1e, 1), Err(MmioError::Misaligned { .. })));
    let e = w.read32(0x2_0000).unwrap_err().to_string();
    assert!(e.contains("odma0") && e.contains("0x20000"), "{e}");
}

#[test]
fn bad_batches_and_taps_are_errors() {
    let (m, imgs) = fixture("ucnv_random");
    let acc = sim(&m, quick());
    let e = acc.run(imgs.slice(s![..0, .., .., ..]), &[]).unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
    let small = Array4::<u8>::zeros((1, 16, 16, 3));
    assert!(acc.run(small.view(), &[]).unwrap_err().to_string().contains("16x16x3"));
    let e = acc.run(imgs.slice(s![..1, .., .., ..]), &[99]).unwrap_err().to_string();
    assert!(e.contains("99") && e.contains("out of range"), "{e}");
    assert_eq!(acc.device().runs(), 0);
}

#[test]
fn threads_share_one_simulated_accelerator_exactly() {
    let (m, imgs) = fixture("ucnv_trained");
    let n = imgs.len_of(Axis(0));
    let cpu = CpuAccel::new(m.clone()).unwrap().run(imgs.view(), &[2, 8]).unwrap();
    let shared = Arc::new(sim(&m, SimAccelConfig { max_batch: 4, ..Default::default() }));
    let acc: Arc<dyn Accelerator> = shared.clone();
    let imgs = Arc::new(imgs);
    let cpu = Arc::new(cpu);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (acc, imgs, cpu) = (acc.clone(), imgs.clone(), cpu.clone());
            std::thread::spawn(move || {
                let mut runs = 0;
                for b in 0..4 {
                    let start = (t * 5 + b * 3) % (n - 6);
                    let len = 1 + (t + b) % 6;
                    let batch = imgs.slice(s![start..start + len, .., .., ..]);
                    let taps: Vec<usize> = if (t + b) % 3 == 0 { vec![2] } else { Vec::new() };
                    let got = acc.run(batch, &taps).unwrap();
                    assert_eq!(got.labels, cpu.labels[start..start + len], "thread {t} batch {b}");
                    for tap in &got.taps {
                        let want = cpu.taps[0].values.slice(s![start..start + len, .., .., ..]);
                        assert_eq!(tap.values, want, "thread {t} batch {b} tap");
                    }
                    runs += (1 + taps.len()) * len.div_ceil(4);
                }
                runs
            })
        })
        .collect();
    let runs: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Every run of every call reached the one device, none lost or doubled.
    assert_eq!(shared.device().runs() as usize, runs);
    assert!(shared.device().fault().is_none());
}

// ---- zynq on a fake tree ----

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn fake_uio(roots: &Roots, index: u32, name: &str, ctrl: u32) {
    let d = roots.sys.join(format!("class/uio/uio{index}"));
    write(&d.join("name"), format!("{name}\n"));
    write(&d.join("maps/map0/size"), "0x00010000\n");
    let mut regs = vec![0u8; 0x1_0000];
    regs[..4].copy_from_slice(&ctrl.to_ne_bytes());
    write(&roots.dev.join(format!("uio{index}")), regs);
}

fn fake_udmabuf(roots: &Roots, name: &str, phys: u64, bytes: Vec<u8>) {
    let a = roots.sys.join("class/u-dma-buf").join(name);
    write(&a.join("phys_addr"), format!("{phys:#018x}\n"));
    write(&a.join("size"), format!("{}\n", bytes.len()));
    for f in ["sync_offset", "sync_size", "sync_direction", "sync_for_cpu", "sync_for_device"] {
        write(&a.join(f), "0\n");
    }
    write(&roots.dev.join(name), bytes);
}

/// An FPGA manager that says `operating` on a Zynq-7000 (what hw's preflight checks first).
fn fake_fpga(dir: &Path) {
    write(&dir.join("sys/class/fpga_manager/fpga0/state"), "operating\n");
    write(&dir.join("sys/firmware/devicetree/base/compatible"), b"xlnx,zynq-7000\0");
}

fn fake_board(dir: &Path, idma_ctrl: u32, odma_ctrl: u32, labels: &[u8]) -> Roots {
    let roots = Roots { sys: dir.join("sys"), dev: dir.join("dev") };
    fake_fpga(dir);
    fake_uio(&roots, 0, "idma0", idma_ctrl);
    fake_uio(&roots, 1, "odma0", odma_ctrl);
    fake_udmabuf(&roots, "udmabuf0", 0x1_3f00_0000, vec![0; 4 * 3072]);
    let mut out = vec![0u8; 64];
    out[..labels.len()].copy_from_slice(labels);
    fake_udmabuf(&roots, "udmabuf1", 0x3e00_0040, out);
    roots
}

fn reg(path: &Path, offset: usize) -> u32 {
    let b = std::fs::read(path).unwrap();
    u32::from_ne_bytes(b[offset..offset + 4].try_into().unwrap())
}

fn opts(roots: Roots) -> ZynqOptions {
    ZynqOptions {
        driver: DriverConfig { timeout: Duration::from_millis(30), per_frame: Duration::ZERO, ..Default::default() },
        // The PL checks on the same tree; these tests vouch for the design (tests/zynq_preflight.rs
        // holds the checks themselves).
        checks: Checks { paths: FpgaPaths::under(roots.sys.parent().unwrap()), pl_loaded: true, ..Default::default() },
        roots,
        ..Default::default()
    }
}

/// A JSON description of the fake board's UIO windows with the fixture deployment's driver.py.
fn uio_json(timeout_ms: u64) -> String {
    let driver = root().join("hw/tests/data/deploy/driver/driver.py");
    format!(
        r#"{{"driver": "{}", "idma0": {{"uio": "idma0"}}, "odma0": {{"uio": "odma0"}}, "timeout_ms": {timeout_ms}}}"#,
        driver.display()
    )
}

/// A stand-in for the programmable logic behind file-backed windows: when both DMAs have
/// ap_start, it reads numReps frames from the input buffer's file, classifies them with the
/// engine, writes the labels to the output buffer's file and sets idle and done.
struct FakePl {
    stop: Arc<std::sync::atomic::AtomicBool>,
    forced: Arc<std::sync::atomic::AtomicU32>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl FakePl {
    fn start(regs: [(PathBuf, u64); 2], ibuf: PathBuf, obuf: PathBuf, m: &FoldedModel) -> FakePl {
        use std::os::unix::fs::FileExt;
        use std::sync::atomic::Ordering;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let forced = Arc::new(std::sync::atomic::AtomicU32::new(u32::MAX));
        let (flag, force, engine) = (stop.clone(), forced.clone(), CpuAccel::new(m.clone()).unwrap());
        let s = m.topology.input;
        let thread = std::thread::spawn(move || {
            let open = |p: &Path| std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap();
            let [(ip, io), (op, oo)] = &regs;
            let (idma, odma, ifile, ofile) = (open(ip), open(op), open(&ibuf), open(&obuf));
            let word = |f: &std::fs::File, at: u64| {
                let mut b = [0u8; 4];
                f.read_exact_at(&mut b, at).unwrap();
                u32::from_ne_bytes(b)
            };
            let mut runs = 0;
            while !flag.load(Ordering::Relaxed) {
                if word(&idma, *io) == 1 && word(&odma, *oo) == 1 {
                    let n = word(&idma, io + 0x1c) as usize;
                    let mut frames = vec![0u8; n * s.len()];
                    ifile.read_exact_at(&mut frames, 0).unwrap();
                    let batch = Array4::from_shape_vec((n, s.height, s.width, s.channels), frames).unwrap();
                    let mut labels: Vec<u8> =
                        engine.run(batch.view(), &[]).unwrap().labels.iter().map(|&l| l as u8).collect();
                    if let Ok(f) = u8::try_from(force.load(Ordering::Relaxed)) {
                        labels.fill(f);
                    }
                    ofile.write_all_at(&labels, 0).unwrap();
                    idma.write_all_at(&4u32.to_ne_bytes(), *io).unwrap();
                    odma.write_all_at(&6u32.to_ne_bytes(), *oo).unwrap();
                    runs += 1;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            runs
        });
        FakePl { stop, forced, thread: Some(thread) }
    }

    /// Answers every run with this label instead of the engine's.
    fn forcing(self, label: u8) -> FakePl {
        self.forced.store(u32::from(label), std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// Stops it; the runs it served.
    fn finish(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

#[test]
fn zynq_programs_the_iodma_registers_and_buffers() {
    let (m, imgs) = fixture("ucnv_random");
    let tmp = tempfile::tempdir().unwrap();
    let desc = tmp.path().join("accel.json");
    std::fs::write(&desc, uio_json(30)).unwrap();

    // Register files start at 0: ap_idle clear, so the driver refuses before writing.
    let roots = fake_board(tmp.path(), 0, 0, &[]);
    let acc = ZynqAccel::open(&ZynqSource::Json(desc.clone()), &opts(roots.clone()), Some(m.clone())).unwrap();
    let e = acc.run(imgs.slice(s![..2, .., .., ..]), &[]).unwrap_err().to_string();
    assert!(e.contains("odma is not idle"), "{e}");
    assert_eq!(reg(&roots.dev.join("uio1"), 0x1c), 0);

    // Idle, but nothing ever raises ap_done: the run times out and leaves its writes behind.
    let roots = fake_board(tmp.path(), 0x4, 0x4, &[]);
    let acc = ZynqAccel::open(&ZynqSource::Json(desc.clone()), &opts(roots.clone()), Some(m.clone())).unwrap();
    assert_eq!(acc.max_batch(), 4);
    let e = acc.run(imgs.slice(s![..2, .., .., ..]), &[]).unwrap_err().to_string();
    assert!(e.contains("timed out"), "{e}");
    let (idma, odma) = (roots.dev.join("uio0"), roots.dev.join("uio1"));
    assert_eq!([0x00, 0x10, 0x14, 0x1c].map(|o| reg(&idma, o)), [1, 0x3f00_0000, 1, 2]);
    assert_eq!([0x00, 0x10, 0x14, 0x1c].map(|o| reg(&odma, o)), [1, 0x3e00_0040, 0, 2]);
    let packed = std::fs::read(roots.dev.join("udmabuf0")).unwrap();
    assert_eq!(&packed[..2 * 3072], imgs.slice(s![..2, .., .., ..]).iter().copied().collect::<Vec<_>>());
    let attr = |b: &str, f: &str| std::fs::read_to_string(roots.sys.join("class/u-dma-buf").join(b).join(f)).unwrap();
    assert_eq!((attr("udmabuf0", "sync_for_device"), attr("udmabuf0", "sync_direction")), ("1".into(), "1".into()));
    assert_eq!(attr("udmabuf1", "sync_for_device"), "1");

    // With a stand-in PL answering: the engine's labels come back, in runs of the 4 frames the
    // input buffer holds.
    let roots = fake_board(tmp.path(), 0x4, 0x4, &[]);
    let desc = tmp.path().join("slow.json");
    std::fs::write(&desc, uio_json(5000)).unwrap();
    let acc = ZynqAccel::open(&ZynqSource::Json(desc.clone()), &opts(roots.clone()), Some(m.clone())).unwrap();
    let d = |f: &str| roots.dev.join(f);
    let pl = FakePl::start([(d("uio0"), 0), (d("uio1"), 0)], d("udmabuf0"), d("udmabuf1"), &m);
    let got = acc.run(imgs.view(), &[]).unwrap();
    assert_eq!(pl.finish(), imgs.len_of(Axis(0)).div_ceil(4));
    let cpu = CpuAccel::new(m.clone()).unwrap().run(imgs.view(), &[]).unwrap();
    assert_eq!(got.labels, cpu.labels);
    assert!(got.scores.is_none());
    assert_eq!(attr("udmabuf1", "sync_for_cpu"), "1");
    let e = acc.run(imgs.slice(s![..1, .., .., ..]), &[0]).unwrap_err().to_string();
    assert!(e.contains("zynq backend cannot tap"), "{e}");
    // A label beyond the classes means the bitstream is not this model.
    let pl = FakePl::start([(d("uio0"), 0), (d("uio1"), 0)], d("udmabuf0"), d("udmabuf1"), &m).forcing(7);
    let e = acc.run(imgs.slice(s![..2, .., .., ..]), &[]).unwrap_err().to_string();
    assert_eq!(pl.finish(), 1);
    assert!(e.contains("label 7") && e.contains("4 classes"), "{e}");
}

/// The fixture deployment (FINN's layout) copied to `dir/deploy`, with `edit` applied to the .hwh
/// and .bit.
fn deploy_copy(dir: &Path, edit: impl Fn(&mut String, &mut Vec<u8>)) -> PathBuf {
    let src = root().join("hw/tests/data/deploy/bitfile");
    let dst = dir.join("deploy/bitfile");
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::create_dir_all(dir.join("deploy/driver")).unwrap();
    std::fs::copy(root().join("hw/tests/data/deploy/driver/driver.py"), dir.join("deploy/driver/driver.py")).unwrap();
    let mut hwh = std::fs::read_to_string(src.join("finn-accel.hwh")).unwrap();
    let mut bit = std::fs::read(src.join("finn-accel.bit")).unwrap();
    edit(&mut hwh, &mut bit);
    std::fs::write(dst.join("finn-accel.hwh"), hwh).unwrap();
    std::fs::write(dst.join("finn-accel.bit"), bit).unwrap();
    dir.join("deploy")
}

#[test]
fn zynq_from_a_deployment_folder_uses_uio_then_devmem() {
    let (m, imgs) = fixture("ucnv_random");
    let tmp = tempfile::tempdir().unwrap();
    let deploy = deploy_copy(tmp.path(), |_, _| {});
    let roots = fake_board(tmp.path(), 0x4, 0x4, &[]);
    let mut o = opts(roots.clone());
    o.driver.timeout = Duration::from_secs(5);
    let acc = ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), &o, Some(m.clone())).unwrap();
    assert!(acc.summary().contains("finn-accel.bit") && acc.summary().contains("100 MHz"), "{}", acc.summary());
    let d = |f: &str| roots.dev.join(f);
    let pl = FakePl::start([(d("uio0"), 0), (d("uio1"), 0)], d("udmabuf0"), d("udmabuf1"), &m).forcing(2);
    assert_eq!(acc.run(imgs.slice(s![..3, .., .., ..]), &[]).unwrap().labels, [2, 2, 2]);
    assert_eq!(pl.finish(), 1);

    // No UIO devices: /dev/mem at the .hwh's bases, only when allowed and on a Zynq.
    let tree = tmp.path().join("noui");
    let roots = Roots { sys: tree.join("sys"), dev: tree.join("dev") };
    fake_udmabuf(&roots, "udmabuf0", 0x1000_0000, vec![0; 3072]);
    fake_udmabuf(&roots, "udmabuf1", 0x1100_0000, vec![1; 64]);
    let mem = tree.join("mem");
    let f = std::fs::File::create(&mem).unwrap();
    f.set_len(0x4002_0000).unwrap(); // sparse: only the touched pages take space
    drop(f);
    let mut o = opts(roots.clone());
    o.devmem = mem.clone();
    o.allow_devmem = true;
    let e =
        ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), &o, Some(m.clone())).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("not a Zynq") && e.contains("fpga_manager"), "{e}");
    fake_fpga(&tree);
    o.allow_devmem = false;
    let e =
        ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), &o, Some(m.clone())).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("idma0") && e.contains("--allow-devmem") && e.contains("deploy"), "{e}");
    o.allow_devmem = true;
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&mem).unwrap();
        f.write_all_at(&4u32.to_ne_bytes(), 0x4000_0000).unwrap();
        f.write_all_at(&4u32.to_ne_bytes(), 0x4001_0000).unwrap();
        // /dev/mem also reaches the SLCR: fclk0 = IO PLL (50 MHz × 20) / (5 × 2) = 100 MHz.
        f.set_len(0xF800_0200).unwrap();
        f.write_all_at(&(20u32 << 12).to_ne_bytes(), 0xF800_0108).unwrap();
        f.write_all_at(&(2u32 << 20 | 5 << 8).to_ne_bytes(), 0xF800_0170).unwrap();
    }
    o.driver.timeout = Duration::from_secs(5);
    let acc = ZynqAccel::open(&ZynqSource::Deploy(deploy), &o, Some(m.clone())).unwrap();
    let d = |f: &str| roots.dev.join(f);
    let pl = FakePl::start([(mem.clone(), 0x4000_0000), (mem.clone(), 0x4001_0000)], d("udmabuf0"), d("udmabuf1"), &m);
    let got = acc.run(imgs.slice(s![3..4, .., .., ..]), &[]).unwrap();
    assert_eq!(pl.finish(), 1);
    let cpu = CpuAccel::new(m).unwrap().run(imgs.slice(s![3..4, .., .., ..]), &[]).unwrap();
    assert_eq!(got.labels, cpu.labels);
    let f = std::fs::File::open(&mem).unwrap();
    let at = |a: u64| {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 4];
        f.read_exact_at(&mut b, a).unwrap();
        u32::from_ne_bytes(b)
    };
    assert_eq!((at(0x4000_0010), at(0x4000_001c), at(0x4001_0010)), (0x1000_0000, 1, 0x1100_0000));
}

#[test]
fn zynq_bad_deployments_and_descriptions_are_clear_errors() {
    let (m, _) = fixture("ucnv_random");
    let tmp = tempfile::tempdir().unwrap();
    let roots = fake_board(tmp.path(), 0x4, 0x4, &[]);
    let open = |src: ZynqSource| {
        ZynqAccel::open(&src, &opts(roots.clone()), Some(m.clone())).map(|_| ()).unwrap_err().to_string()
    };

    let d = deploy_copy(&tmp.path().join("a"), |_, bit| bit.truncate(bit.len() - 10));
    let e = open(ZynqSource::Deploy(d));
    assert!(e.contains("finn-accel.bit") && e.contains("truncated"), "{e}");
    let d =
        deploy_copy(&tmp.path().join("b"), |hwh, _| *hwh = hwh.replace("INSTANCE=\"idma0\"", "INSTANCE=\"input_dma\""));
    let e = open(ZynqSource::Deploy(d));
    assert!(e.contains("finn-accel.hwh") && e.contains("idma0"), "{e}");
    let e = open(ZynqSource::Deploy(tmp.path().join("nowhere")));
    assert!(e.contains("nowhere") && e.contains("directory"), "{e}");

    let desc = tmp.path().join("bad.json");
    std::fs::write(&desc, uio_json(30).replace(r#", "odma0": {"uio": "odma0"}"#, "")).unwrap();
    let e = open(ZynqSource::Json(desc.clone()));
    assert!(e.contains("bad.json") && e.contains("odma0"), "{e}");
    std::fs::write(&desc, uio_json(30).replace(r#"{"uio": "idma0"}"#, r#"{"uio": "idma7"}"#)).unwrap();
    let e = open(ZynqSource::Json(desc.clone()));
    assert!(e.contains("idma7") && e.contains("generic-uio"), "{e}");
    std::fs::write(&desc, uio_json(30).replace(r#""timeout_ms""#, r#""input_buffer": "udmabuf5", "timeout_ms""#))
        .unwrap();
    let e = open(ZynqSource::Json(desc.clone()));
    assert!(e.contains("udmabuf5") && e.contains("module"), "{e}");
    // A buffer too small for one 3072-byte frame.
    fake_udmabuf(&roots, "udmabuf0", 0x1000_0000, vec![0; 1024]);
    std::fs::write(&desc, uio_json(30)).unwrap();
    let e = open(ZynqSource::Json(desc));
    assert!(e.contains("1024") && e.contains("3072"), "{e}");
}

// ---- deployments: driver.py shapes the frames ----

fn fixture_driver(name: &str) -> String {
    std::fs::read_to_string(root().join("hw/tests/data").join(name)).unwrap()
}

/// The fixture deployment copied to `dir/deploy` with `driver` as its driver.py and `edit` on
/// the .hwh.
fn deploy_with(dir: &Path, driver: &str, edit: impl Fn(&mut String)) -> PathBuf {
    let d = deploy_copy(dir, |hwh, _| edit(hwh));
    std::fs::write(d.join("driver/driver.py"), driver).unwrap();
    d
}

/// The same frames in BinaryCoP's single form, in a flat folder as BinaryCoP published.
fn flat_single_form(dir: &Path) -> PathBuf {
    let src = root().join("hw/tests/data/deploy/bitfile");
    std::fs::create_dir_all(dir).unwrap();
    for ext in ["hwh", "bit"] {
        std::fs::copy(src.join(format!("finn-accel.{ext}")), dir.join(format!("resizer.{ext}"))).unwrap();
    }
    std::fs::write(dir.join("driver.py"), fixture_driver("driver_single.py")).unwrap();
    dir.to_path_buf()
}

/// driver.py variants that no 32×32×3, 4-class model matches (or binarycop cannot drive), with
/// what the error must say.
fn mismatched_drivers() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let single = fixture_driver("driver_single.py");
    vec![
        (
            "72x72",
            single.replace("32, 32", "72, 72"),
            vec!["the model takes 32x32x3 images", "driver.py says 72x72x3", "(1, 72, 72, 3)"],
        ),
        (
            "binary-odt",
            single.replace("\"odt\" : DataType.UINT8", "\"odt\" : DataType.BINARY"),
            vec!["the model has 4 classes", "odt BINARY", "up to 1"],
        ),
        (
            "float-idt",
            single.replace("\"idt\" : DataType.UINT8", "\"idt\" : DataType.FLOAT32"),
            vec!["[\"idt\"]", "FLOAT32"],
        ),
        (
            "int4-idt",
            single
                .replace("\"idt\" : DataType.UINT8", "\"idt\" : DataType.INT4")
                .replace("\"ishape_packed\" : (1, 32, 32, 1, 3)", "\"ishape_packed\" : (1, 32, 32, 1, 2)"),
            vec!["idt is INT4", "UINT8 images"],
        ),
        (
            "scores-out",
            single.replace("(1, 1)", "(1, 4)").replace("(1, 1, 1)", "(1, 1, 4)"),
            vec!["oshape_normal (1, 4)", "one class index"],
        ),
        ("malformed", single.replace("\"odt\" :", "\"odt\" ::"), vec!["not valid Python"]),
        ("no-dict", "import numpy as np\n".to_string(), vec!["no module-level `io_shape_dict"]),
    ]
}

#[test]
fn sim_shaped_by_a_deployment_equals_cpu_in_both_forms() {
    let (m, imgs) = fixture("ucnv_trained");
    let tmp = tempfile::tempdir().unwrap();
    let cpu = CpuAccel::new(m.clone()).unwrap().run(imgs.view(), &[]).unwrap();
    for dir in [root().join("hw/tests/data/deploy"), flat_single_form(&tmp.path().join("notebook"))] {
        let acc = sim(&m, SimAccelConfig { deploy: Some(dir.clone()), max_batch: 5, ..Default::default() });
        assert_eq!((acc.io().image.to_string(), acc.io().classes), ("32x32x3".to_string(), Some(4)));
        let got = acc.run(imgs.view(), &[2]).unwrap();
        assert_eq!(got.labels, cpu.labels, "{}", dir.display());
        assert_eq!(acc.device().runs() as usize, 2 * imgs.len_of(Axis(0)).div_ceil(5));
    }
}

#[test]
fn sim_refuses_mismatched_deployments() {
    let (m, _) = fixture("ucnv_trained");
    let tmp = tempfile::tempdir().unwrap();
    let open = |dir: PathBuf| {
        let cfg = SimAccelConfig { deploy: Some(dir), ..Default::default() };
        SimAccel::with_config(m.clone(), &lower::paper_config(&m).unwrap(), cfg).map(|_| ()).unwrap_err().to_string()
    };
    for (name, driver, needles) in mismatched_drivers() {
        let e = open(deploy_with(&tmp.path().join(name), &driver, |_| {}));
        assert!(e.contains(&format!("{name}/deploy/driver/driver.py")) || e.contains("driver.py says"), "{name}: {e}");
        for n in needles {
            assert!(e.contains(n), "{name}: '{n}' not in {e}");
        }
    }
    // A label type the model's classes fit, but not the bytes its LabelSelect writes.
    let single = fixture_driver("driver_single.py");
    let wide = single
        .replace("\"odt\" : DataType.UINT8", "\"odt\" : DataType.UINT16")
        .replace("\"oshape_packed\" : (1, 1, 1)", "\"oshape_packed\" : (1, 1, 2)");
    let e = open(deploy_with(&tmp.path().join("wide"), &wide, |_| {}));
    assert!(e.contains("UINT16 (odt) in 2 bytes") && e.contains("UINT8 in 1"), "{e}");
    // Runtime weights: the simulated device has no weight memories.
    let d = deploy_with(&tmp.path().join("rw"), &single, |h| *h = with_weight_window(h));
    std::fs::create_dir(d.join("driver/runtime_weights")).unwrap();
    std::fs::write(d.join("driver/runtime_weights/1_0_MVAU_hls_0.dat"), "1\n2\n").unwrap();
    let e = open(d);
    assert!(e.contains("1_0_MVAU_hls_0.dat") && e.contains("--backend zynq"), "{e}");
}

/// The fixture .hwh with one AXI-lite window for StreamingDataflowPartition_1.
fn with_weight_window(hwh: &str) -> String {
    let range = r#"<MEMRANGE ADDRESSBLOCK="Reg" BASEVALUE="0x40020000" HIGHVALUE="0x40020FFF" INSTANCE="StreamingDataflowPartition_1" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axilite_0"/>
      </MEMORYMAP>
      <PERIPHERALS>
        <PERIPHERAL INSTANCE="idma0"/>"#;
    let anchor = "</MEMORYMAP>\n      <PERIPHERALS>\n        <PERIPHERAL INSTANCE=\"idma0\"/>";
    assert!(hwh.contains(anchor));
    hwh.replace(anchor, range)
}

/// Every register window and DMA buffer file of the fake tree, to compare before and after.
fn device_files(roots: &Roots) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&roots.dev)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn zynq_runs_without_a_model_shaped_by_driver_py() {
    let (m, imgs) = fixture("ucnv_trained");
    let tmp = tempfile::tempdir().unwrap();
    let deploy = flat_single_form(&tmp.path().join("notebook"));
    let roots = fake_board(tmp.path(), 0x4, 0x4, &[]);
    let mut o = opts(roots.clone());
    o.driver.timeout = Duration::from_secs(5);
    let acc = ZynqAccel::open(&ZynqSource::Deploy(deploy), &o, None).unwrap();
    assert!(acc.model().is_none());
    assert_eq!((acc.io().image.to_string(), acc.io().classes, acc.io().max_label), ("32x32x3".to_string(), None, 255));
    let d = |f: &str| roots.dev.join(f);
    // The stand-in PL runs the model; the backend knows only driver.py.
    let pl = FakePl::start([(d("uio0"), 0), (d("uio1"), 0)], d("udmabuf0"), d("udmabuf1"), &m);
    let got = acc.run(imgs.slice(s![..8, .., .., ..]), &[]).unwrap();
    assert_eq!(pl.finish(), 2);
    let cpu = CpuAccel::new(m.clone()).unwrap().run(imgs.slice(s![..8, .., .., ..]), &[]).unwrap();
    assert_eq!(got.labels, cpu.labels);
    // Without a model the label range is odt's: 200 passes, and images must be 32x32x3.
    let pl = FakePl::start([(d("uio0"), 0), (d("uio1"), 0)], d("udmabuf0"), d("udmabuf1"), &m).forcing(200);
    assert_eq!(acc.run(imgs.slice(s![..1, .., .., ..]), &[]).unwrap().labels, [200]);
    pl.finish();
    let e = acc.run(Array4::<u8>::zeros((1, 72, 72, 3)).view(), &[]).unwrap_err().to_string();
    assert!(e.contains("72x72x3") && e.contains("32x32x3"), "{e}");
}

#[test]
fn zynq_refuses_bad_deployments_with_nothing_touched() {
    let (m, _) = fixture("ucnv_trained");
    let tmp = tempfile::tempdir().unwrap();
    let roots = fake_board(tmp.path(), 0x4, 0x4, &[]);
    let before = device_files(&roots);
    let open = |dir: PathBuf, model: Option<FoldedModel>| {
        ZynqAccel::open(&ZynqSource::Deploy(dir), &opts(roots.clone()), model).map(|_| ()).unwrap_err().to_string()
    };
    let mut cases: Vec<(String, PathBuf, Vec<String>)> = mismatched_drivers()
        .into_iter()
        .map(|(name, driver, needles)| {
            let dir = deploy_with(&tmp.path().join(name), &driver, |_| {});
            (name.to_string(), dir, needles.into_iter().map(String::from).collect())
        })
        .collect();
    let missing = deploy_copy(&tmp.path().join("missing"), |_, _| {});
    std::fs::remove_file(missing.join("driver/driver.py")).unwrap();
    cases.push(("missing".into(), missing, vec!["no driver.py".into()]));
    // Two inputs, both in the .hwh: parsed, then refused.
    let two = fixture_driver("driver_two_inputs.py");
    let dir = deploy_with(&tmp.path().join("two"), &two, |h| {
        *h = h.replace(
            "</MEMORYMAP>\n      <PERIPHERALS>\n        <PERIPHERAL INSTANCE=\"idma0\"/>",
            "<MEMRANGE BASEVALUE=\"0x40050000\" HIGHVALUE=\"0x4005FFFF\" INSTANCE=\"idma1\" MEMTYPE=\"REGISTER\"/>\n      </MEMORYMAP>\n      <PERIPHERALS>\n        <PERIPHERAL INSTANCE=\"idma0\"/>",
        )
    });
    cases.push(("two".into(), dir, vec!["2 input(s) (idma0, idma1)".into(), "one input".into()]));
    // Runtime weights larger than their window.
    let dir = deploy_with(&tmp.path().join("rw"), &fixture_driver("driver_single.py"), |h| *h = with_weight_window(h));
    std::fs::create_dir(dir.join("driver/runtime_weights")).unwrap();
    std::fs::write(dir.join("driver/runtime_weights/1_0_MVAU_hls_0.dat"), "1\n".repeat(1025)).unwrap();
    cases.push(("rw".into(), dir, vec!["1025 words".into(), "0x1000-byte window StreamingDataflowPartition_1".into()]));

    for (name, dir, needles) in cases {
        let e = open(dir, Some(m.clone()));
        for n in needles {
            assert!(e.contains(&n), "{name}: '{n}' not in {e}");
        }
        assert!(!e.contains("panicked"), "{e}");
        assert!(device_files(&roots) == before, "{name}: a register window or buffer changed");
    }
}

#[test]
fn zynq_loads_runtime_weights_verifies_and_flushes() {
    let (m, imgs) = fixture("ucnv_trained");
    let tmp = tempfile::tempdir().unwrap();
    let dir = deploy_with(&tmp.path().join("rw"), &fixture_driver("driver_single.py"), |h| *h = with_weight_window(h));
    std::fs::create_dir(dir.join("driver/runtime_weights")).unwrap();
    let words: Vec<u32> = (0..300u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
    let text: String = words.iter().map(|w| format!("{w:08x}\n")).collect();
    std::fs::write(dir.join("driver/runtime_weights/1_0_MVAU_hls_0.dat"), text).unwrap();
    let roots = fake_board(tmp.path(), 0x4, 0x4, &[]);
    fake_uio(&roots, 2, "StreamingDataflowPartition_1", 0);
    let mut o = opts(roots.clone());
    o.driver.timeout = Duration::from_secs(5);
    let d = |f: &str| roots.dev.join(f);
    let pl = FakePl::start([(d("uio0"), 0), (d("uio1"), 0)], d("udmabuf0"), d("udmabuf1"), &m);
    let acc = ZynqAccel::open(&ZynqSource::Deploy(dir), &o, None).unwrap();
    let window = std::fs::read(d("uio2")).unwrap();
    let written: Vec<u32> = window[..1200].chunks_exact(4).map(|b| u32::from_ne_bytes(b.try_into().unwrap())).collect();
    assert_eq!(written, words);
    assert!(window[1200..].iter().all(|&b| b == 0));
    // The flush run happened during open, then a real one.
    assert_eq!(acc.run(imgs.slice(s![..3, .., .., ..]), &[]).unwrap().labels.len(), 3);
    assert_eq!(pl.finish(), 2);
}

#[test]
fn crosscheck_reports_the_images_an_accelerator_got_wrong() {
    use binarycop::accel::crosscheck;
    let (m, imgs) = fixture("ucnv_trained");
    let imgs = imgs.slice(s![..6, .., .., ..]);
    let cpu = CpuAccel::new(m.clone()).unwrap();
    let acc = sim(&m, SimAccelConfig::default());
    let good = crosscheck::against_cpu(&cpu, imgs, &acc.run(imgs, &[]).unwrap()).unwrap();
    assert!(good.agrees() && good.checked == 6, "{good:?}");
    assert!(good.summary("sim").contains("equal the CPU engine's on all 6"));
    acc.device().set_faults(Faults { corrupt_output: true, ..Default::default() });
    let bad = crosscheck::against_cpu(&cpu, imgs, &acc.run(imgs, &[]).unwrap()).unwrap();
    assert_eq!(bad.mismatches, [0, 1, 2, 3, 4, 5]);
    assert!(bad.summary("sim").starts_with("6 of 6 images"), "{}", bad.summary("sim"));
}

/// Every file under `dir`, with its bytes: the register windows and buffers, to show that a
/// refused open touched nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

/// A deployment folder and a board tree (idle DMAs) under `dir`: (deploy, board, roots).
fn deploy_and_board(dir: &Path) -> (PathBuf, PathBuf, Roots) {
    let deploy = deploy_copy(dir, |_, _| {});
    let board = dir.join("board");
    let roots = fake_board(&board, 0x4, 0x4, &[]);
    (deploy, board, roots)
}

#[test]
fn zynq_refuses_a_pl_without_this_design_before_any_register_access() {
    let (m, _) = fixture("ucnv_random");
    let tmp = tempfile::tempdir().unwrap();
    let (deploy, board, roots) = deploy_and_board(tmp.path());
    let mut o = opts(roots.clone());
    o.checks.pl_loaded = false;
    let before = snapshot(&board);
    let open = |o: &ZynqOptions| ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), o, Some(m.clone())).map(|_| ());
    let state = board.join("sys/class/fpga_manager/fpga0/state");

    // Not configured.
    write(&state, "unknown\n");
    let e = open(&o).unwrap_err().to_string();
    assert!(e.contains("not configured") && e.contains("'unknown'"), "{e}");
    // No manager at all.
    std::fs::remove_dir_all(board.join("sys/class/fpga_manager")).unwrap();
    let e = open(&o).unwrap_err().to_string();
    assert!(e.contains("no FPGA manager"), "{e}");
    fake_fpga(&board);
    // PYNQ's record names another bitstream.
    let rec = board.join("usr/local/share/pynq-venv/lib/python3.10/site-packages/pynq/pl_server/global_pl_state_.json");
    write(
        &rec,
        r#"{"bitfile_name": "/home/xilinx/pynq/overlays/base/base.bit", "timestamp": "t", "bitfile_hash": "00"}"#,
    );
    let e = open(&o).unwrap_err().to_string();
    assert!(e.contains("another design") && e.contains("base.bit") && e.contains("finn-accel.bit"), "{e}");
    // No record at all, and nobody vouches.
    std::fs::remove_file(&rec).unwrap();
    let e = open(&o).unwrap_err().to_string();
    assert!(e.contains("cannot confirm") && e.contains("--pl-loaded"), "{e}");
    // A JSON description has no bitstream to compare.
    let desc = tmp.path().join("accel.json");
    std::fs::write(&desc, uio_json(30)).unwrap();
    let e = ZynqAccel::open(&ZynqSource::Json(desc), &o, Some(m.clone())).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("names no bitstream"), "{e}");

    let after: Vec<_> = snapshot(&board).into_iter().filter(|(p, _)| p.starts_with(&roots.dev)).collect();
    let before: Vec<_> = before.into_iter().filter(|(p, _)| p.starts_with(&roots.dev)).collect();
    assert_eq!(after, before, "no register or buffer was written");

    // PYNQ's record with this bitstream's SHA-1: the design is confirmed.
    let sha = binarycop_hw::fpga::sha1_hex(&deploy.join("bitfile/finn-accel.bit")).unwrap();
    write(&rec, format!(r#"{{"bitfile_name": "/home/xilinx/x.bit", "timestamp": "t", "bitfile_hash": "{sha}"}}"#));
    let acc = ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), &o, Some(m.clone())).unwrap();
    let lines: Vec<String> = acc.preflight().iter().map(|f| f.to_string()).collect();
    assert!(lines.iter().any(|l| l.contains("design") && l.contains("SHA-1")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("PL clock") && l.contains("not checked")), "{lines:?}");
}

/// A sparse file standing in for /dev/mem with a Zynq-7000 SLCR: IO PLL 1000 MHz and
/// FPGA0_CLK_CTRL = `fclk_ctrl`; idma0 and odma0 idle.
fn fake_devmem(path: &Path, fclk_ctrl: u32) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).unwrap();
    f.set_len(0xF800_0200).unwrap();
    f.write_all_at(&(20u32 << 12).to_ne_bytes(), 0xF800_0108).unwrap();
    f.write_all_at(&fclk_ctrl.to_ne_bytes(), 0xF800_0170).unwrap();
}

fn devmem_word(path: &Path, at: u64) -> u32 {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 4];
    std::fs::File::open(path).unwrap().read_exact_at(&mut b, at).unwrap();
    u32::from_ne_bytes(b)
}

#[test]
fn zynq_refuses_a_wrong_pl_clock_unless_set_clock_sets_it() {
    let (m, imgs) = fixture("ucnv_random");
    let tmp = tempfile::tempdir().unwrap();
    let (deploy, _, roots) = deploy_and_board(tmp.path());
    let mem = tmp.path().join("mem");
    fake_devmem(&mem, 2 << 20 | 10 << 8); // 1000 / (10 × 2) = 50 MHz; the .hwh asks 100
    let mut o = opts(roots.clone());
    o.devmem = mem.clone();
    o.allow_devmem = true;
    let before = snapshot(&roots.dev);
    let e =
        ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), &o, Some(m.clone())).map(|_| ()).unwrap_err().to_string();
    for want in ["PL clock 0 runs at 50 MHz", "IO PLL 1000 MHz / (10 × 2)", "100 MHz", "--set-clock"] {
        assert!(e.contains(want), "'{want}' not in {e}");
    }
    assert_eq!(snapshot(&roots.dev), before, "no register or buffer was written");
    assert_eq!(devmem_word(&mem, 0xF800_0170), 2 << 20 | 10 << 8, "the clock was only read");

    // Without /dev/mem the clock cannot be read: reported as not checked, not guessed.
    o.allow_devmem = false;
    let acc = ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), &o, Some(m.clone())).unwrap();
    assert!(acc.preflight().iter().any(|f| f.what == "PL clock" && !f.checked));
    drop(acc);

    // --set-clock writes the .hwh's divisors (5 × 2) and reads them back; then the run goes on.
    o.checks.set_clock = true;
    o.driver.timeout = Duration::from_secs(5);
    let acc = ZynqAccel::open(&ZynqSource::Deploy(deploy.clone()), &o, Some(m.clone())).unwrap();
    assert_eq!(devmem_word(&mem, 0xF800_0170), 2 << 20 | 5 << 8);
    let clock = acc.preflight().iter().find(|f| f.what == "PL clock").unwrap().to_string();
    assert!(clock.contains("100 MHz") && clock.contains("set (was 50 MHz"), "{clock}");
    let d = |f: &str| roots.dev.join(f);
    let pl = FakePl::start([(d("uio0"), 0), (d("uio1"), 0)], d("udmabuf0"), d("udmabuf1"), &m);
    let got = acc.run(imgs.slice(s![..2, .., .., ..]), &[]).unwrap();
    assert_eq!(pl.finish(), 1);
    assert_eq!(got.labels, CpuAccel::new(m).unwrap().run(imgs.slice(s![..2, .., .., ..]), &[]).unwrap().labels);
}

// ---- the command line ----

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_binarycop")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_backends_agree_and_taps_are_saved() {
    let dir = root().join("tests/fixtures/ncnv_trained");
    let (model, inputs) = (dir.join("model.onnx"), dir.join("inputs.npy"));
    let (model, inputs) = (model.to_str().unwrap(), inputs.to_str().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let mut labels = Vec::new();
    for backend in ["cpu", "sim"] {
        let tap = tmp.path().join(format!("{backend}.npy"));
        let (code, out, err) = cli(&[
            "infer",
            "--model",
            model,
            "--images",
            inputs,
            "--backend",
            backend,
            "--json",
            "--tap",
            "pool2",
            "--save-tap",
            tap.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["backend"], backend);
        assert_eq!(v["tap"]["layer"], "Pool2");
        let rows = v["results"].as_array().unwrap();
        assert_eq!(rows[0].get("scores").is_some(), backend == "cpu", "{out}");
        labels.push(rows.iter().map(|r| r["label"].as_u64().unwrap()).collect::<Vec<_>>());
    }
    assert_eq!(labels[0], labels[1]);
    let a = Array4::<i8>::read_npy(std::fs::File::open(tmp.path().join("cpu.npy")).unwrap()).unwrap();
    let b = Array4::<i8>::read_npy(std::fs::File::open(tmp.path().join("sim.npy")).unwrap()).unwrap();
    assert_eq!(a, b);
    assert!(a.iter().all(|&v| v == 1 || v == -1) && a.dim().3 > 0);

    // The table without scores: input and label only.
    let (code, out, err) =
        cli(&["infer", "--model", model, "--images", inputs, "--backend", "sim", "--folding", "ncnv"]);
    assert_eq!(code, 0, "{err}");
    let first: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first, ["input", "label"]);
    let second: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(second[1], labels[1][0].to_string());
}

#[test]
fn cli_backend_errors_are_clear() {
    let dir = root().join("tests/fixtures/ucnv_random");
    let (model, inputs) = (dir.join("model.onnx"), dir.join("inputs.npy"));
    let (model, inputs) = (model.to_str().unwrap(), inputs.to_str().unwrap());
    let deploy = root().join("hw/tests/data/deploy");
    let deploy = deploy.to_str().unwrap();
    let base = ["infer", "--model", model, "--images", inputs];
    let cases: [(&[&str], &str); 7] = [
        (&["--backend", "sim", "--top-k", "2"], "top-1 label only"),
        (&["--backend", "sim", "--save-scores", "/tmp/never.npy"], "--save-scores"),
        (&["--backend", "sim", "--folding", "vgg"], "vgg"),
        (&["--backend", "zynq"], "--deploy"),
        (&["--backend", "zynq", "--deploy", deploy], "no FPGA manager"),
        (&["--folding", "ucnv"], "--backend sim"),
        (&["--tap", "nope", "--save-tap", "/tmp/never.npy"], "unknown layer 'nope'"),
    ];
    for (extra, want) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let (code, out, err) = cli(&args);
        assert_eq!(code, 1, "{extra:?}: {out}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!Path::new("/tmp/never.npy").exists());
    let (code, out, _) = cli(&["infer", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--backend") && out.contains("top-1 label only") && out.contains("--save-tap"), "{out}");
}

#[test]
fn cli_infer_with_a_deployment() {
    let dir = root().join("tests/fixtures/ucnv_trained");
    let (model, inputs) = (dir.join("model.onnx"), dir.join("inputs.npy"));
    let (model, inputs) = (model.to_str().unwrap(), inputs.to_str().unwrap());
    let deploy = root().join("hw/tests/data/deploy");
    let deploy = deploy.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let names = tmp.path().join("classes.txt");
    std::fs::write(&names, "Correct\nNose\n\nNose+Mouth\nChin\n").unwrap();

    // sim shaped by driver.py, checked against the engine, labels named from a file.
    let base = ["infer", "--model", model, "--images", inputs, "--backend", "sim", "--deploy", deploy];
    let mut args = base.to_vec();
    args.extend(["--json", "--class-names", names.to_str().unwrap()]);
    let (code, out, err) = cli(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cpu_check"], serde_json::json!({"checked": 32, "mismatches": []}));
    assert_eq!(v["deploy"], deploy);
    let truth: Vec<i64> = read_npy::<_, ndarray::Array1<i64>>(dir.join("labels.npy")).unwrap().to_vec();
    let classes = ["Correct", "Nose", "Nose+Mouth", "Chin"];
    for (r, t) in v["results"].as_array().unwrap().iter().zip(&truth) {
        assert_eq!(r["label"], *t);
        assert_eq!(r["class"], classes[*t as usize]);
    }
    let mut args = base.to_vec();
    args.extend(["--class-names", "Correct,Nose,Nose+Mouth,Chin"]);
    let (code, out, err) = cli(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().unwrap().split_whitespace().eq(["input", "label", "class"]), "{out}");
    assert!(out.contains("cpu check: sim labels equal the CPU engine's on all 32 images"), "{out}");

    // Bad inputs: each a clear error.
    let bad72 =
        deploy_with(&tmp.path().join("b72"), &fixture_driver("driver_single.py").replace("32, 32", "72, 72"), |_| {});
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--deploy", bad72.to_str().unwrap()], "the model takes 32x32x3 images"),
        (vec!["--deploy", deploy, "--class-names", "a,b,c"], "3 class names for the model's 4 classes"),
        (vec!["--deploy", deploy, "--class-names", "a,b,a,c"], "('a') appears twice"),
        (vec!["--deploy", deploy, "--class-names", "a,,b,c"], "class name 1 is empty"),
    ];
    for (extra, want) in cases {
        let mut args = ["infer", "--model", model, "--images", inputs, "--backend", "sim"].to_vec();
        args.extend(extra.iter().copied());
        let (code, _, err) = cli(&args);
        assert_eq!(code, 1, "{extra:?}: {err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{extra:?}: {err}");
    }
    // Without a model: zynq goes as far as this machine allows (driver.py read, then no FPGA
    // manager); sim and cpu need one; --deploy is not for cpu.
    let (code, _, err) =
        cli(&["infer", "--images", inputs, "--backend", "zynq", "--deploy", deploy, "--class-names", "a,b"]);
    assert!(code == 1 && err.contains("no FPGA manager"), "{err}");
    let (code, _, err) = cli(&["infer", "--images", inputs, "--backend", "sim", "--deploy", deploy]);
    assert!(code == 1 && err.contains("--backend sim needs --model"), "{err}");
    let (code, _, err) = cli(&["infer", "--images", inputs]);
    assert!(code == 1 && err.contains("--backend cpu needs --model"), "{err}");
    let (code, _, err) = cli(&["infer", "--model", model, "--images", inputs, "--deploy", deploy]);
    assert!(code == 1 && err.contains("--deploy applies to --backend zynq and sim"), "{err}");
}

/// BinaryCoP's published deployment (72×72×3, 3 classes) is refused for our 32×32 model with
/// one error naming both. Needs `BINARYCOP_REPO`: a work tree of NaelF/BinaryCoP.
#[test]
fn cli_refuses_binarycop_published_deployment_for_a_32x32_model() {
    let Some(repo) = std::env::var_os("BINARYCOP_REPO") else {
        eprintln!("skipped: set BINARYCOP_REPO to a work tree of NaelF/BinaryCoP to try its notebook/ deployment");
        return;
    };
    let notebook = Path::new(&repo).join("notebook");
    let dir = root().join("tests/fixtures/ucnv_trained");
    let (model, inputs) = (dir.join("model.onnx"), dir.join("inputs.npy"));
    let args = ["infer", "--model", model.to_str().unwrap(), "--images", inputs.to_str().unwrap()];
    let mut with = args.to_vec();
    with.extend(["--backend", "sim", "--deploy", notebook.to_str().unwrap()]);
    let (code, out, err) = cli(&with);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("the model takes 32x32x3 images") && err.contains("notebook/driver.py says 72x72x3"), "{err}");
    let (code, out, err) = cli(&["deploy-info", "--deploy", notebook.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("normal (1, 72, 72, 3)") && out.contains("15552 byte(s) per frame"), "{out}");
}
