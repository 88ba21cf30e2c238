//! The XOR-popcount roofline of this CPU (benches/common/roofline.rs): each XOR-popcount-
//! accumulate loop it runs, timed by criterion, then printed as 64-bit words per cycle (the
//! clock calibrated in the same run) and binary MACs per second. `cargo bench --bench engine`
//! runs the same loops and gives each engine figure as a percentage of the best.

mod common;

use criterion::Criterion;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    common::roofline::bench(&mut c);
    c.final_summary();
    let (hz, loops) = common::roofline::report();
    common::roofline::print(hz, &loops);
}
