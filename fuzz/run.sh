#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (libFuzzer, coverage-guided), one after
# another; prints executions and crashes per target; exits 1 if any target crashed.
#   fuzz/run.sh SECONDS [TARGET...]          e.g. FUZZ_BUILD=dev fuzz/run.sh 10 (CI), nice fuzz/run.sh 600 (long run)
# Crashes, out-of-memory and timeouts are kept in fuzz/artifacts/<target>/; copy each into
# tests/hostile/fuzz/<target>/ once fixed, where tests/fuzz_regressions.rs replays it.
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
ALL="onnx artifact params_npz topology_json npy_images image_decode folding_json accel_config hwh bit pack_unpack cam_npz driver_py class_map"
targets=${*:-$ALL}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
[ -d corpus ] || ./seed.sh

# No sanitizer: the code under test is safe Rust (debug assertions and overflow checks are on);
# an allocation past the address-space cap below aborts, which libFuzzer reports as a crash.
start=$(date +%s)
# FUZZ_BUILD=dev (CI) builds without optimisation: a third of the build time, fewer executions.
if [ "${FUZZ_BUILD:-release}" = dev ]; then
  cargo +nightly fuzz build -s none --dev
  bin=target/x86_64-unknown-linux-gnu/debug
else
  cargo +nightly fuzz build -s none
  bin=target/x86_64-unknown-linux-gnu/release
fi
echo "== fuzz build: $(( $(date +%s) - start )) s"

mkdir -p logs
failed=0
printf '%-14s %12s %8s\n' target executions crashes
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  set +e
  (
    ulimit -v 4194304
    extra=()
    [ -d "../tests/hostile/fuzz/$t" ] && extra=("../tests/hostile/fuzz/$t")
    "$bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" "corpus/$t" "${extra[@]}"
  ) >"logs/$t.log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo "?")
  crashes=$(find "artifacts/$t" -type f | wc -l)
  printf '%-14s %12s %8s\n' "$t" "$execs" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "   $t failed (exit $rc); see fuzz/logs/$t.log and fuzz/artifacts/$t/"
    grep -m3 -E 'panicked|ERROR|deadly|timeout' "logs/$t.log" | sed 's/^/   /' || true
  fi
done
exit $failed
