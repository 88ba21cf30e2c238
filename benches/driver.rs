//! The IODMA driver against the simulated device, CNV with the paper's folding.
//!
//! - `driver_overhead/{1,64}`: hw's `IodmaDriver::execute_u8` on a `SimDevice` in replay mode,
//!   which writes precomputed labels without running the dataflow: what is measured is the
//!   driver (packing into the DMA buffer, cache syncs, register protocol, polls, unpacking)
//!   plus the device's register bookkeeping, not the simulated compute.
//! - `sim_backend_overhead/{1,64}`: the same through the `sim` accelerator backend (batch copy,
//!   lock, driver set-up per call).
//! - `sim_backend_end_to_end/64`: the `sim` backend with the cycle-level dataflow; images/s.

mod common;

use std::hint::black_box;

use binarycop::accel::{Accelerator, SimAccel, SimAccelConfig};
use binarycop::lower;
use binarycop::model::random::random_model;
use binarycop::model::{FoldedModel, Topology};
use binarycop_hw::driver::{DriverConfig, IodmaDriver};
use binarycop_sim::device::{Compute, DeviceConfig, Dma, SimDevice};
use criterion::{BenchmarkId, Criterion, Throughput};
use ndarray::{s, Array4};

const BATCHES: [usize; 2] = [1, 64];

fn images(n: usize) -> Array4<u8> {
    let mut s = 7u32;
    Array4::from_shape_fn((n, 32, 32, 3), |_| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        (s >> 24) as u8
    })
}

fn bench(c: &mut Criterion, m: &FoldedModel) {
    let cfg = lower::paper_config(m).expect("paper folding");
    let imgs = images(64);
    // The labels the replaying device returns: the real ones, so the results stay checkable.
    let timed = SimAccel::new(m.clone(), &cfg).expect("sim backend");
    let labels: Vec<u8> = timed.run(imgs.view(), &[]).expect("run").labels.iter().map(|&l| l as u8).collect();
    let replay = DeviceConfig { compute: Compute::Replay(labels.clone()), ..Default::default() };

    let mut g = c.benchmark_group("driver_overhead");
    let dev = SimDevice::new(lower::lower(m, &cfg).expect("lower").graph, replay.clone()).expect("device");
    let (ibuf, obuf) = (dev.alloc(64 * 3072), dev.alloc(64));
    let mut drv = IodmaDriver::cnv(dev.window(Dma::Idma), dev.window(Dma::Odma), ibuf, obuf, DriverConfig::default())
        .expect("driver");
    let flat: Vec<u8> = imgs.iter().copied().collect();
    for n in BATCHES {
        assert_eq!(drv.execute_u8(&flat[..n * 3072]).expect("run"), labels[..n]);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| black_box(drv.execute_u8(&flat[..n * 3072]).expect("run")))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sim_backend_overhead");
    let acc = SimAccel::with_config(m.clone(), &cfg, SimAccelConfig { device: replay, ..Default::default() })
        .expect("sim backend");
    for n in BATCHES {
        let batch = imgs.slice(s![..n, .., .., ..]);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(acc.run(batch, &[]).expect("run")))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sim_backend_end_to_end");
    g.sample_size(10);
    g.throughput(Throughput::Elements(64));
    g.bench_function(BenchmarkId::from_parameter(64), |b| {
        b.iter(|| black_box(timed.run(imgs.view(), &[]).expect("run")))
    });
    g.finish();
}

fn main() {
    let topo = Topology::preset("cnv", 4).expect("preset");
    let m = FoldedModel::fold(&random_model(&topo, 1, false).expect("random model")).expect("fold");
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &m);
    c.final_summary();
    for group in ["driver_overhead", "sim_backend_overhead"] {
        for n in BATCHES {
            if let Some(ns) = common::mean_ns(&format!("{group}/{n}")) {
                println!(
                    "{group:<22} batch {n:>2}: {:>8.1} µs per batch, {:>6.2} µs per image",
                    ns / 1e3,
                    ns / 1e3 / n as f64
                );
            }
        }
    }
    if let Some(ns) = common::mean_ns("sim_backend_end_to_end/64") {
        println!("sim backend end to end (timed dataflow, batch 64): {:.1} images/s", 64.0 / (ns * 1e-9));
    }
}
