//! The IODMA protocol against a scripted fake device: two register windows whose behaviour the
//! test sets (idle or not, done after n polls or never), and which, when done, really moves the
//! data between the buffers at the addresses the driver programmed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binarycop_hw::dma::{Direction, DmaBuffer, HostBuffer, SyncRecord};
use binarycop_hw::driver::{DriverConfig, DriverError, IoShape, IodmaDriver};
use binarycop_hw::mmio::{check_access, MappedWindow, Mmio, MmioError};
use binarycop_hw::packing::{DataType, PackError};
use binarycop_hw::regs;

const IDMA: usize = 0;
const ODMA: usize = 1;
const NAMES: [&str; 2] = ["idma", "odma"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    R(&'static str, usize),
    W(&'static str, usize, u32),
}

type Frame = Box<dyn Fn(&[u8]) -> Vec<u8> + Send>;

struct Device {
    log: Vec<Access>,
    idle: [bool; 2],
    /// Polls of odma's control after the start until done; None: never.
    done_after: Option<usize>,
    regs: [[u32; 8]; 2],
    started: [bool; 2],
    polls: usize,
    buffers: Vec<HostBuffer>,
    frames: (usize, usize),
    compute: Frame,
}

impl Device {
    fn buffer_at(&self, addr: u64) -> &HostBuffer {
        self.buffers.iter().find(|b| b.phys_addr() == addr).unwrap_or_else(|| panic!("no buffer at {addr:#x}"))
    }

    /// What the IODMAs do: numReps frames from idma's address through `compute` to odma's.
    fn transfer(&mut self) {
        let addr = |r: &[u32; 8]| u64::from(r[regs::ADDR_LO / 4]) | (u64::from(r[regs::ADDR_HI / 4]) << 32);
        let reps = self.regs[IDMA][regs::NUM_REPS / 4] as usize;
        assert_eq!(reps, self.regs[ODMA][regs::NUM_REPS / 4] as usize, "idma and odma numReps differ");
        let (fi, fo) = self.frames;
        let input = self.buffer_at(addr(&self.regs[IDMA])).lock()[..reps * fi].to_vec();
        let out: Vec<u8> = input.chunks(fi).flat_map(|f| (self.compute)(f)).collect();
        assert_eq!(out.len(), reps * fo);
        self.buffer_at(addr(&self.regs[ODMA])).lock()[..reps * fo].copy_from_slice(&out);
    }
}

struct FakeRegs {
    dev: Arc<Mutex<Device>>,
    which: usize,
    len: usize,
}

impl Mmio for FakeRegs {
    fn window_len(&self) -> usize {
        self.len
    }
    fn read32(&mut self, offset: usize) -> Result<u32, MmioError> {
        check_access(NAMES[self.which], offset, self.len)?;
        let mut d = self.dev.lock().unwrap();
        d.log.push(Access::R(NAMES[self.which], offset));
        if offset != regs::CTRL {
            return Ok(d.regs[self.which][offset / 4]);
        }
        if !d.started[self.which] {
            return Ok(if d.idle[self.which] { 0x4 } else { 0x1 });
        }
        if self.which == IDMA {
            return Ok(0);
        }
        d.polls += 1;
        match d.done_after {
            Some(n) if d.polls >= n => {
                d.transfer();
                d.started = [false, false];
                d.polls = 0;
                Ok(0x6) // done (cleared on read) and idle
            }
            _ => Ok(0),
        }
    }
    fn write32(&mut self, offset: usize, value: u32) -> Result<(), MmioError> {
        check_access(NAMES[self.which], offset, self.len)?;
        let mut d = self.dev.lock().unwrap();
        d.log.push(Access::W(NAMES[self.which], offset, value));
        if offset == regs::CTRL && value & 1 == 1 {
            d.started[self.which] = true;
        } else {
            d.regs[self.which][offset / 4] = value;
        }
        Ok(())
    }
}

struct Rig {
    dev: Arc<Mutex<Device>>,
    ibuf: HostBuffer,
    obuf: HostBuffer,
}

impl Rig {
    fn new(in_phys: u64, in_len: usize, out_phys: u64, out_len: usize, frames: (usize, usize), compute: Frame) -> Self {
        let ibuf = HostBuffer::new(in_phys, in_len);
        let obuf = HostBuffer::new(out_phys, out_len);
        let dev = Device {
            log: Vec::new(),
            idle: [true, true],
            done_after: Some(3),
            regs: [[0; 8]; 2],
            started: [false; 2],
            polls: 0,
            buffers: vec![ibuf.clone(), obuf.clone()],
            frames,
            compute,
        };
        Rig { dev: Arc::new(Mutex::new(dev)), ibuf, obuf }
    }

    /// CNV shapes; the "network" sums a frame's bytes.
    fn cnv(in_frames: usize, out_frames: usize) -> Self {
        Rig::new(0x1_2345_6000, 3072 * in_frames, 0x3f00_0040, out_frames, (3072, 1), Box::new(sum_frame))
    }

    fn regs(&self, which: usize, len: usize) -> FakeRegs {
        FakeRegs { dev: self.dev.clone(), which, len }
    }

    fn driver(&self, cfg: DriverConfig) -> Result<IodmaDriver<FakeRegs, HostBuffer>, DriverError> {
        IodmaDriver::cnv(self.regs(IDMA, 0x10000), self.regs(ODMA, 0x10000), self.ibuf.clone(), self.obuf.clone(), cfg)
    }

    fn log(&self) -> Vec<Access> {
        self.dev.lock().unwrap().log.clone()
    }
}

fn sum_frame(f: &[u8]) -> Vec<u8> {
    vec![f.iter().fold(0u8, |a, &b| a.wrapping_add(b))]
}

fn images(n: usize) -> Vec<u8> {
    (0..n * 3072).map(|i| (i * 7 + i / 3072) as u8).collect()
}

#[test]
fn exact_register_sequence_and_syncs() {
    let rig = Rig::cnv(2, 2);
    let mut drv = rig.driver(DriverConfig::default()).unwrap();
    let img = images(2);
    let labels = drv.execute_u8(&img).unwrap();
    assert_eq!(labels, vec![sum_frame(&img[..3072])[0], sum_frame(&img[3072..])[0]]);

    use Access::{R, W};
    let mut want = vec![
        R("odma", 0x00),
        R("idma", 0x00),
        W("odma", 0x10, 0x3f00_0040),
        W("odma", 0x14, 0),
        W("odma", 0x1c, 2),
        W("odma", 0x00, 1),
        W("idma", 0x10, 0x2345_6000),
        W("idma", 0x14, 0x1),
        W("idma", 0x1c, 2),
        W("idma", 0x00, 1),
    ];
    want.extend([R("odma", 0x00); 3]);
    assert_eq!(rig.log(), want);

    assert_eq!(rig.ibuf.syncs(), vec![SyncRecord { for_device: true, offset: 0, len: 6144, dir: Direction::ToDevice }]);
    assert_eq!(
        rig.obuf.syncs(),
        vec![
            SyncRecord { for_device: true, offset: 0, len: 2, dir: Direction::FromDevice },
            SyncRecord { for_device: false, offset: 0, len: 2, dir: Direction::FromDevice },
        ]
    );
}

#[test]
fn large_inputs_run_in_batches_the_buffers_hold() {
    // Room for 3 frames in, 4 out: 7 frames go as 3, 3, 1.
    let rig = Rig::cnv(3, 4);
    let mut drv = rig.driver(DriverConfig::default()).unwrap();
    assert_eq!(drv.max_batch(), 3);
    let img = images(7);
    let want: Vec<u8> = img.chunks(3072).map(|f| sum_frame(f)[0]).collect();
    assert_eq!(drv.execute_u8(&img).unwrap(), want);
    let reps: Vec<u32> = rig
        .log()
        .iter()
        .filter_map(|a| match a {
            Access::W("idma", 0x1c, v) => Some(*v),
            _ => None,
        })
        .collect();
    assert_eq!(reps, vec![3, 3, 1]);
    // The packed path gives the same.
    assert_eq!(drv.execute_packed(&img).unwrap(), want);
}

#[test]
fn done_never_rising_times_out_promptly() {
    let rig = Rig::cnv(1, 1);
    rig.dev.lock().unwrap().done_after = None;
    let cfg = DriverConfig { timeout: Duration::from_millis(40), per_frame: Duration::ZERO, ..Default::default() };
    let mut drv = rig.driver(cfg).unwrap();
    let t = Instant::now();
    let err = drv.execute_u8(&images(1)).unwrap_err();
    let took = t.elapsed();
    assert!(matches!(err, DriverError::Timeout { batch: 1, .. }), "{err}");
    assert!(took >= Duration::from_millis(40) && took < Duration::from_millis(400), "{took:?}");
    // It polled with sleeps, not thousands of busy reads.
    let polls = rig.log().iter().filter(|a| **a == Access::R("odma", 0)).count();
    assert!(polls < 200, "{polls} polls");
    assert!(err.to_string().contains("ap_done"));
}

#[test]
fn a_busy_dma_is_refused_before_any_write() {
    for (which, name) in [(ODMA, "odma"), (IDMA, "idma")] {
        let rig = Rig::cnv(1, 1);
        rig.dev.lock().unwrap().idle[which] = false;
        let mut drv = rig.driver(DriverConfig::default()).unwrap();
        match drv.execute_u8(&images(1)) {
            Err(DriverError::NotIdle { dma, ctrl: 1 }) => assert_eq!(dma, name),
            other => panic!("{name}: {other:?}"),
        }
        assert!(rig.log().iter().all(|a| matches!(a, Access::R(..))), "{:?}", rig.log());
    }
}

#[test]
fn buffers_and_windows_are_checked_up_front() {
    let cfg = DriverConfig::default();
    // Too small for one frame.
    let rig = Rig::new(0x1000_0000, 3071, 0x2000_0000, 64, (3072, 1), Box::new(sum_frame));
    match rig.driver(cfg) {
        Err(DriverError::BufferTooSmall { len: 3071, need: 3072, .. }) => {}
        other => panic!("{other:?}"),
    }
    // Misaligned for the 64-bit AXI bursts.
    let rig = Rig::new(0x1000_0020, 4096, 0x2000_0000, 64, (3072, 1), Box::new(sum_frame));
    match rig.driver(cfg) {
        Err(e @ DriverError::Misaligned { phys: 0x1000_0020, align: 64, .. }) => {
            assert!(e.to_string().contains("0x10000020"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let rig = Rig::cnv(1, 1);
    assert!(matches!(rig.driver(DriverConfig { alignment: 48, ..cfg }), Err(DriverError::Config(_))));
    // A window that does not reach numReps (0x1C).
    let small =
        IodmaDriver::cnv(rig.regs(IDMA, 0x1c), rig.regs(ODMA, 0x10000), rig.ibuf.clone(), rig.obuf.clone(), cfg);
    match small {
        Err(DriverError::Mmio(MmioError::OutOfWindow { offset: 0x1c, len: 0x1c, .. })) => {}
        other => panic!("{other:?}"),
    }
    assert!(rig.log().is_empty());
}

#[test]
fn batch_and_input_limits() {
    let rig = Rig::cnv(2, 2);
    let mut drv = rig.driver(DriverConfig::default()).unwrap();
    assert!(matches!(drv.run_on_buffers(3), Err(DriverError::BatchTooLarge { batch: 3, max: 2 })));
    assert!(matches!(drv.run_on_buffers(0), Err(DriverError::BatchTooLarge { batch: 0, .. })));
    assert!(matches!(drv.execute_u8(&[0u8; 3073]), Err(DriverError::InputLength { got: 3073, frame: 3072, .. })));
    assert!(matches!(drv.execute_packed(&[]), Err(DriverError::InputLength { got: 0, .. })));
    assert!(rig.log().is_empty());
    drv.run_on_buffers(2).unwrap();
}

#[test]
fn sub_byte_types_are_packed_into_and_out_of_the_buffers() {
    // INT4 frames of 2 rows × 5 (3 bytes a row); the device passes bytes through.
    let shape = IoShape::new(DataType::int(4).unwrap(), 2, 5);
    assert_eq!(shape.frame_bytes(), 6);
    let rig = Rig::new(0x8000_0000, 64, 0x8000_1000, 64, (6, 6), Box::new(|f: &[u8]| f.to_vec()));
    let mut drv = IodmaDriver::new(
        rig.regs(IDMA, 0x40),
        rig.regs(ODMA, 0x40),
        rig.ibuf.clone(),
        rig.obuf.clone(),
        shape,
        shape,
        DriverConfig::default(),
    )
    .unwrap();
    let values: Vec<i8> = (0..30).map(|i| (i % 16) as i8 - 8).collect();
    let back: Vec<i16> = drv.execute::<i8, i16>(&values).unwrap();
    assert_eq!(back, values.iter().map(|&v| v as i16).collect::<Vec<_>>());
    // Driver layout: element 0 in the low nibble of byte 0.
    assert_eq!(rig.ibuf.lock()[0], ((-7i8 as u8 & 0xf) << 4) | (-8i8 as u8 & 0xf));
    let bad = [8i8; 10];
    assert!(matches!(drv.execute::<i8, i8>(&bad), Err(DriverError::Pack(PackError::OutOfRange { index: 0, .. }))));
}

#[test]
fn trait_objects_drive_the_same_protocol() {
    fn assert_send<T: Send>(_: &T) {}
    let rig = Rig::cnv(1, 1);
    let boxed = |w: FakeRegs| -> Box<dyn Mmio> { Box::new(w) };
    let buf = |b: HostBuffer| -> Box<dyn DmaBuffer> { Box::new(b) };
    let mut drv = IodmaDriver::cnv(
        boxed(rig.regs(IDMA, 0x100)),
        boxed(rig.regs(ODMA, 0x100)),
        buf(rig.ibuf.clone()),
        buf(rig.obuf.clone()),
        DriverConfig::default(),
    )
    .unwrap();
    assert_send(&drv);
    let img = images(1);
    let out = std::thread::spawn(move || drv.execute_u8(&img).map(|o| (o, img))).join().unwrap().unwrap();
    assert_eq!(out.0, sum_frame(&out.1));
}

#[test]
fn file_backed_windows_receive_the_programmed_registers() {
    // A plain file per window: idle is preset, done never comes, so the run times out and
    // leaves its register writes in the files.
    let tmp = tempfile::tempdir().unwrap();
    let mut windows = Vec::new();
    for name in ["idma", "odma"] {
        let p = tmp.path().join(name);
        let mut w = MappedWindow::create_file(&p, 0x1000).unwrap();
        w.write32(regs::CTRL, 0x4).unwrap();
        windows.push(w);
    }
    let odma = windows.pop().unwrap();
    let idma = windows.pop().unwrap();
    let ibuf = HostBuffer::new(0x1_0000_0000, 3072);
    let obuf = HostBuffer::new(0x2000_0000, 64);
    let cfg = DriverConfig { timeout: Duration::from_millis(5), per_frame: Duration::ZERO, ..Default::default() };
    let mut drv = IodmaDriver::cnv(idma, odma, ibuf, obuf, cfg).unwrap();
    assert!(matches!(drv.execute_u8(&images(1)), Err(DriverError::Timeout { .. })));
    let (mut idma, mut odma, _, _) = drv.into_parts();
    let regs_of = |w: &mut MappedWindow| [0x00, 0x10, 0x14, 0x1c].map(|o| w.read32(o).unwrap());
    assert_eq!(regs_of(&mut idma), [1, 0, 1, 1]);
    assert_eq!(regs_of(&mut odma), [1, 0x2000_0000, 0, 1]);
}
