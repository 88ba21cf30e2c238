//! What the benchmarks share: criterion's estimates, read back after the run to print ratios,
//! and a CPU-time clock for runs on a shared machine, and the XOR-popcount roofline.

#![allow(dead_code)]

pub mod roofline;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::Criterion;

/// Criterion's mean estimate (ns) of benchmark `id` ("group/function[/parameter]"), as this run
/// wrote it under the target directory.
pub fn mean_ns(id: &str) -> Option<f64> {
    baseline_mean_ns(id, "new")
}

/// The same from a saved baseline (`--save-baseline NAME`; "new" is the latest run).
pub fn baseline_mean_ns(id: &str, baseline: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let p = format!("{dir}/criterion/{id}/{baseline}/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

/// The process's CPU time (all its threads, user and system) instead of wall time. On a machine
/// shared with other jobs, wall time mostly measures how often the scheduler runs us; CPU time
/// measures our work (still inflated by the cache traffic of the other jobs). A benchmark that
/// runs on two threads counts both. Selected with `BINARYCOP_BENCH_CLOCK=cpu`.
pub struct ProcessCpuTime(WallTime);

impl Measurement for ProcessCpuTime {
    type Intermediate = cpu_time::ProcessTime;
    type Value = std::time::Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ProcessTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

/// Whether `BINARYCOP_BENCH_CLOCK=cpu` asks for [`ProcessCpuTime`]; any other value is an error.
pub fn cpu_clock() -> bool {
    match std::env::var("BINARYCOP_BENCH_CLOCK").as_deref() {
        Err(_) | Ok("") | Ok("wall") => false,
        Ok("cpu") => true,
        Ok(other) => panic!("BINARYCOP_BENCH_CLOCK='{other}': use wall (the default) or cpu"),
    }
}

/// Runs `bench` with the clock `BINARYCOP_BENCH_CLOCK` selects, then prints which one it was.
pub fn run(bench: fn(&mut Criterion<WallTime>), bench_cpu: fn(&mut Criterion<ProcessCpuTime>)) {
    if cpu_clock() {
        let mut c = Criterion::default().with_measurement(ProcessCpuTime(WallTime)).configure_from_args();
        bench_cpu(&mut c);
        c.final_summary();
        println!("\nclock: process CPU time (BINARYCOP_BENCH_CLOCK=cpu)");
    } else {
        let mut c = Criterion::default().configure_from_args();
        bench(&mut c);
        c.final_summary();
        println!("\nclock: wall time");
    }
}
