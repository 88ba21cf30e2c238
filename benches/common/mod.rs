//! What the benchmarks share: criterion's estimates, read back after the run to print ratios.

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
