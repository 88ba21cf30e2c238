#!/usr/bin/env bash
# Re-measures every figure the README's Performance section quotes, in one run, and prints
# them: the XOR-popcount roofline (with the clock), the engine (cnv, ncnv, ucnv; batch 1 and 16;
# one and two cores; against the f32 reference and as a percentage of the roofline), the CAMs
# at CNV Pool2 (against pytorch-grad-cam when BINARYCOP_TOOLBOX_PYTHON names the toolbox
# python), the simulator, the driver and packing, and the llvm-mca board estimates.
# Run it on a quiet machine: every figure is a criterion mean of wall-clock time.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n===== %s =====\n' "$1"; }
summary() { grep -v -E '^(Benchmarking|Found|  [0-9]+ \(|Warning|$)' || true; }

section "roofline (cargo bench --bench roofline)"
cargo bench --bench roofline 2>&1 | summary
section "engine (cargo bench --bench engine)"
cargo bench --bench engine 2>&1 | summary
for k in x86-avx2 portable; do
  section "engine with BINARYCOP_KERNEL=$k"
  BINARYCOP_KERNEL=$k cargo bench --bench engine -- 'cnv/engine_1core/16' 2>&1 | summary
done
section "CAMs at CNV Pool2 (cargo bench --bench cam)"
cargo bench --bench cam 2>&1 | summary
section "simulator, driver, packing, synth"
cargo bench --bench sim 2>&1 | summary
cargo bench --bench driver 2>&1 | summary
cargo bench -p binarycop-hw 2>&1 | summary
cargo bench --bench synth 2>&1 | summary
cargo bench --bench eval 2>&1 | summary
section "board estimates (llvm-mca; needs Debian's llvm)"
python3 benches/board_estimates.py
