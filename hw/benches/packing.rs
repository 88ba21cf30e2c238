//! Packing throughput on the per-frame hot path: CNV UINT8 frames (32×32×3, batch 1 and 64),
//! BIPOLAR and UINT4 rows, with the driver's flags and FINN's plain layout.

use std::hint::black_box;

use binarycop_hw::packing::{pack, unpack, DataType, Layout};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn layouts() -> [(&'static str, Layout); 2] {
    [("driver", Layout::DRIVER), ("plain", Layout::PLAIN)]
}

/// Packs and unpacks `values` (rows of `inner`) both ways, `T` in and out.
fn bench_case<T>(c: &mut Criterion, group: &str, label: &str, values: &[T], inner: usize, dt: DataType)
where
    T: binarycop_hw::packing::Element + Default,
{
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(values.len() as u64));
    let packed_len = values.len() / inner * dt.row_bytes(inner);
    for (lname, layout) in layouts() {
        let mut packed = vec![0u8; packed_len];
        g.bench_function(BenchmarkId::new(format!("pack/{lname}"), label), |b| {
            b.iter(|| pack(black_box(values), inner, dt, layout, black_box(&mut packed)).unwrap())
        });
        let mut out = vec![T::default(); values.len()];
        g.bench_function(BenchmarkId::new(format!("unpack/{lname}"), label), |b| {
            b.iter(|| unpack(black_box(&packed), inner, dt, layout, black_box(&mut out)).unwrap())
        });
    }
    g.finish();
}

fn packing(c: &mut Criterion) {
    for batch in [1usize, 64] {
        let frames: Vec<u8> = (0..batch * 32 * 32 * 3).map(|i| (i * 31 % 251) as u8).collect();
        bench_case(c, "uint8_cnv", &format!("batch{batch}"), &frames, 3, DataType::UINT8);
    }
    // A 32×32×64 binary feature map: 1024 rows of 64 bipolar values.
    let bip: Vec<i8> = (0..1024 * 64).map(|i| if (i * 7919) % 13 < 6 { 1 } else { -1 }).collect();
    bench_case(c, "bipolar_rows", "1024x64", &bip, 64, DataType::BIPOLAR);
    // UINT4 rows with an odd inner width (padding in every row).
    let u4: Vec<u8> = (0..1024 * 27).map(|i| (i * 5 % 16) as u8).collect();
    bench_case(c, "uint4_rows", "1024x27", &u4, 27, DataType::uint(4).unwrap());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = packing
}
criterion_main!(benches);
