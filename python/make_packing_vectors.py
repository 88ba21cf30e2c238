#!/usr/bin/env python3
"""Make hw/tests/data/packing_vectors.json: FINN's own data packing on seeded cases.

Runs FINN's ``finnpy_to_packed_bytearray`` and ``packed_bytearray_to_finnpy``
(``src/finn/util/data_packing.py``, fast_mode off) from a FINN checkout given as an argument, with
qonnx's DataType; no FINN code is copied into this repository.  Needs numpy, bitstring and qonnx's
dependencies (the FINN venv of python/make_finn_tie_fixture.py has them):

    /tmp/venv-finn/bin/python python/make_packing_vectors.py --finn /tmp/finn --qonnx /tmp/qonnx \
        --out hw/tests/data/packing_vectors.json
    # check an existing file: every case's packed bytes are FINN's, and FINN unpacks them back
    /tmp/venv-finn/bin/python python/make_packing_vectors.py --finn /tmp/finn --qonnx /tmp/qonnx \
        --verify hw/tests/data/packing_vectors.json

Cases: 23 DataTypes; for each, three inner widths from {1,2,3,5,7,8,9,13,17,33} with 1-3 rows,
each under all four (reverse_inner, reverse_endian) settings with fresh seeded values, the type's
minimum and maximum placed first.  FINN holds values in float32, so 32-bit types draw from
[-2^24, 2^24] and place only their exactly representable extreme.  Deterministic: a rerun writes
the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

SEED = 276
DTYPES = ["BINARY", "BIPOLAR", "TERNARY", "UINT2", "UINT3", "UINT4", "UINT5", "UINT7", "UINT8", "UINT11",
          "UINT16", "UINT24", "UINT32", "INT1", "INT2", "INT3", "INT4", "INT6", "INT8", "INT9", "INT16", "INT17",
          "INT32"]
INNERS = [1, 2, 3, 5, 7, 8, 9, 13, 17, 33]
LAYOUTS = [(True, True), (False, False), (True, False), (False, True)]
F32_EXACT = 2 ** 24


def values_for(rng, dt, n):
    """n seeded values of DataType dt, its exactly representable extremes first."""
    lo, hi = int(dt.min()), int(dt.max())
    if dt.name == "BIPOLAR":
        v = [int(x) for x in rng.choice([-1, 1], size=n)]
    else:
        v = [int(x) for x in rng.integers(max(lo, -F32_EXACT), min(hi, F32_EXACT) + 1, size=n)]
    extremes = [x for x in (lo, hi) if float(np.float32(x)) == x]
    for i, x in enumerate(extremes[:n]):
        v[i] = x
    return v


def finn_pack(dp, dt, values, rows, inner, layout):
    """FINN's packing of rows x inner values as one hex string, checked by FINN's unpacking."""
    arr = np.asarray(values, dtype=np.float32).reshape(rows, inner)
    packed = dp.finnpy_to_packed_bytearray(arr, dt, reverse_inner=layout[0], reverse_endian=layout[1])
    back = dp.packed_bytearray_to_finnpy(packed, dt, output_shape=(rows, inner), reverse_inner=layout[0],
                                         reverse_endian=layout[1])
    assert np.array_equal(back, arr), (dt.name, inner, layout)
    return bytes(np.asarray(packed, dtype=np.uint8).reshape(-1)).hex()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finn", required=True, help="a FINN checkout (never committed)")
    ap.add_argument("--qonnx", help="a qonnx checkout (default: the installed qonnx)")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", help="write the vectors here")
    group.add_argument("--verify", help="check an existing vectors file against FINN")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(args.finn, "src"))
    if args.qonnx:
        sys.path.insert(0, os.path.join(args.qonnx, "src"))
    import bitstring
    import finn.util.data_packing as dp
    from qonnx.core.datatype import DataType

    if args.verify:
        with open(args.verify) as f:
            cases = json.load(f)["cases"]
        for i, c in enumerate(cases):
            got = finn_pack(dp, DataType[c["dtype"]], c["values"], c["rows"], c["inner"],
                            (c["reverse_inner"], c["reverse_endian"]))
            assert got == c["packed"], f"case {i}: FINN packs {got}, the file says {c['packed']}"
        print(f"{len(cases)} cases: every packed byte string is FINN's, and FINN unpacks each back")
        return

    rng = np.random.default_rng(SEED)
    cases = []
    for name in DTYPES:
        dt = DataType[name]
        for inner in sorted(int(x) for x in rng.choice(INNERS, size=3, replace=False)):
            rows = int(rng.integers(1, 4))
            for layout in LAYOUTS:
                values = values_for(rng, dt, rows * inner)
                cases.append(dict(dtype=name, rows=rows, inner=inner, reverse_inner=layout[0],
                                  reverse_endian=layout[1], values=values,
                                  packed=finn_pack(dp, dt, values, rows, inner, layout)))
    commit = os.popen(f"git -C {args.finn} rev-parse --short HEAD").read().strip() or "unknown"
    qcommit = (os.popen(f"git -C {args.qonnx} rev-parse --short HEAD").read().strip() if args.qonnx else "installed")
    made_with = (f"python/make_packing_vectors.py: finn {commit} src/finn/util/data_packing.py "
                 f"(finnpy_to_packed_bytearray, packed_bytearray_to_finnpy, fast_mode off), qonnx {qcommit} "
                 f"DataType, bitstring {bitstring.__version__}, numpy {np.__version__}")
    text = json.dumps(dict(made_with=made_with, cases=cases), separators=(",", ":"))
    with open(args.out, "w") as f:
        f.write(text)
    print(f"{len(cases)} cases written to {args.out}")


if __name__ == "__main__":
    main()
