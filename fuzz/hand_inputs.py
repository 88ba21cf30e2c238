#!/usr/bin/env python3
"""Writes the hand-made hostile inputs of issue 12 that the fuzz replay test keeps
(tests/hostile/fuzz/<target>/hand-*): small files, standard library only.

    python3 fuzz/hand_inputs.py

Each is one of the defects as the fuzz target sees it; tests/hostile.rs builds the same kinds
of inputs through the command line.
"""
import io
import os
import struct
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "hostile", "fuzz")


def npy(dict_text, data=b"", version=(1, 0)):
    """A .npy whose header (which may lie) is `dict_text`."""
    h = dict_text
    while (10 + len(h) + 1) % 64:
        h += " "
    h += "\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(h)) + h.encode() + data


def npz(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hand-" + name), "wb") as f:
        f.write(data)


HUGE = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776, 32, 32, 3), }", b"\0" * 100)
assert len(HUGE) == 228
put("npy_images", "huge-shape.npy", HUGE)
put("npy_images", "wrapping-shape.npy",
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 1), }"))
v1 = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 32, 32, 3), }", b"\0" * 3072)
put("npy_images", "v3-relabelled.npy", v1[:6] + b"\x03" + v1[7:])
put("pack_unpack", "huge-shape.npy", HUGE)
# UINT32 (type byte 31), driver layout, inner 2^16 - 1, no data: the row size path.
put("pack_unpack", "empty-rows.bin", bytes([31, 3, 0xff, 0xff]))
put("artifact", "lying-header.npz", npz([("header.npy", HUGE)]))
put("params_npz", "lying-topology.npz", npz([("topology.npy", HUGE)]))
put("params_npz", "empty.npz", npz([]))
put("cam_npz", "lying-arr0.npz", npz([("arr_0.npy", HUGE)]))
nan = struct.pack("<f", float("nan")) + struct.pack("<f", 1.0) * 7
put("cam_npz", "nan.npz", npz([("arr_0.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", nan))]))
one = struct.pack("<4f", 0.5, -1.25, 2.0, 3.0)
put("cam_npz", "one-by-one.npz", npz([("arr_0.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4), }", one))]))
put("topology_json", "wrapping-input.json",
    b'{"name":"x","input":{"height":4611686018427387905,"width":4,"channels":1},'
    b'"layers":[{"type":"fc","name":"b","out_features":2}]}')
put("hwh", "deep.hwh", b"<EDKSYSTEM>" + b"<a>" * 20000)
put("hwh", "wrapping-window.hwh",
    b'<EDKSYSTEM><MODULES><MODULE INSTANCE="zynq_ps" MODTYPE="processing_system7"><MEMORYMAP>'
    b'<MEMRANGE INSTANCE="idma0" MEMTYPE="REGISTER" BASEVALUE="0x0" HIGHVALUE="0xFFFFFFFFFFFFFFFF"/>'
    b'<MEMRANGE INSTANCE="odma0" MEMTYPE="REGISTER" BASEVALUE="0x0" HIGHVALUE="0xFFFF"/>'
    b'</MEMORYMAP></MODULE></MODULES></EDKSYSTEM>')
MAGIC = bytes([0x00, 0x09, 0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0x00, 0x00, 0x01])
put("bit", "control-key.bit", MAGIC + b"\x07")
put("bit", "payload-past-end.bit", MAGIC + b"e\xff\xff\xff\xff")
put("accel_config", "huge-range.json", b'{"idma0": {"base": "0xffffffffffffffff", "range": "0xffffffffffffffff"}, "odma0": {"uio": "x"}}')
put("folding_json", "huge-pe.json", b'{"MVAU_hls_0": {"PE": 18446744073709551615, "SIMD": 4294967296}}')
