#!/usr/bin/env python3
"""Time FINN's data packing on one CNV input frame, next to binarycop's (README, Performance).

The frame is the one `cargo bench -p binarycop-hw --bench packing` packs (uint8_cnv/batch1): 32x32x3
UINT8 values ``(i*31) % 251`` in rows of 3 (one pixel), with the driver's flags (reverse_inner and
reverse_endian).  FINN's ``finnpy_to_packed_bytearray`` / ``packed_bytearray_to_finnpy``
(``src/finn/util/data_packing.py``, run from a FINN checkout outside the repository) are timed on
their general path (fast_mode off: hex strings per row) and with ``fast_mode=True`` (the PYNQ
driver's setting: a view for 8-bit data).  When criterion's estimates of the Rust bench are under
``--criterion`` (run the cargo bench first, in the same session), the ratios are printed too.

    cargo bench -p binarycop-hw --bench packing -- uint8_cnv
    /tmp/venv-finn/bin/python python/bench_finn_packing.py --finn /tmp/finn --qonnx /tmp/qonnx

Needs numpy, bitstring and qonnx's dependencies (the FINN venv of make_finn_tie_fixture.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import timeit

import numpy as np


def best_of(fn, seconds=1.0):
    """Mean seconds per call of the fastest of 5 rounds, each about seconds/5 long."""
    n = 1
    while timeit.timeit(fn, number=n) < seconds / 25:
        n *= 2
    return min(timeit.repeat(fn, number=n, repeat=5)) / n


def criterion_ns(root, bench_id):
    p = os.path.join(root, bench_id, "new", "estimates.json")
    try:
        with open(p) as f:
            return json.load(f)["mean"]["point_estimate"]
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finn", required=True, help="a FINN checkout (never committed)")
    ap.add_argument("--qonnx", help="a qonnx checkout (default: the installed qonnx)")
    ap.add_argument("--criterion", default="target/criterion", help="criterion's output folder")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(args.finn, "src"))
    if args.qonnx:
        sys.path.insert(0, os.path.join(args.qonnx, "src"))
    import finn.util.data_packing as dp
    from qonnx.core.datatype import DataType

    dt = DataType["UINT8"]
    frame = (np.arange(32 * 32 * 3) * 31 % 251).reshape(1, 32, 32, 3)
    flags = dict(reverse_inner=True, reverse_endian=True)
    as_f32 = frame.astype(np.float32)
    as_u8 = frame.astype(np.uint8)
    packed = dp.finnpy_to_packed_bytearray(as_f32, dt, **flags)
    assert np.array_equal(packed.reshape(-1), as_u8.reshape(-1)), "a UINT8 frame packs to its own bytes"
    shape = frame.shape
    rows = [
        ("pack, general", lambda: dp.finnpy_to_packed_bytearray(as_f32, dt, **flags), "uint8_cnv/pack_driver/batch1"),
        ("unpack, general", lambda: dp.packed_bytearray_to_finnpy(packed, dt, shape, **flags),
         "uint8_cnv/unpack_driver/batch1"),
        ("pack, fast_mode", lambda: dp.finnpy_to_packed_bytearray(as_u8, dt, fast_mode=True, **flags),
         "uint8_cnv/pack_driver/batch1"),
        ("unpack, fast_mode", lambda: dp.packed_bytearray_to_finnpy(packed, dt, shape, fast_mode=True, **flags),
         "uint8_cnv/unpack_driver/batch1"),
    ]
    print(f"FINN data_packing on one UINT8 CNV frame (32x32x3, driver flags); numpy {np.__version__}")
    print(f"{'FINN path':<20} {'FINN':>12} {'binarycop':>12} {'ratio':>10}")
    for name, fn, bench in rows:
        s = best_of(fn)
        ns = criterion_ns(args.criterion, bench)
        ours = "n/a" if ns is None else f"{ns:.1f} ns"
        ratio = "" if ns is None else f"{s * 1e9 / ns:,.0f}x"
        print(f"{name:<20} {s * 1e6:>9.2f} µs {ours:>12} {ratio:>10}")


if __name__ == "__main__":
    main()
