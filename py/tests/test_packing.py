"""pack/unpack against FINN's own packing: the vectors hw's Rust tests use
(hw/tests/data/packing_vectors.json, made by python/make_packing_vectors.py with FINN's
finnpy_to_packed_bytearray and packed_bytearray_to_finnpy)."""

import json

import numpy as np
import pytest

import binarycop
from conftest import ROOT

VECTORS = json.loads((ROOT / "hw" / "tests" / "data" / "packing_vectors.json").read_text())["cases"]


def test_there_are_the_276_vectors_of_the_rust_tests():
    assert len(VECTORS) == 276
    assert len({c["dtype"] for c in VECTORS}) >= 20
    assert {(c["reverse_inner"], c["reverse_endian"]) for c in VECTORS} == {
        (False, False), (False, True), (True, False), (True, True)}


@pytest.mark.parametrize("i", range(len(VECTORS)))
def test_pack_and_unpack_equal_finns(i):
    c = VECTORS[i]
    flags = dict(reverse_inner=c["reverse_inner"], reverse_endian=c["reverse_endian"])
    values = np.array(c["values"], dtype=np.int64).reshape(c["rows"], c["inner"])
    want = np.frombuffer(bytes.fromhex(c["packed"]), dtype=np.uint8).reshape(c["rows"], -1)
    got = binarycop.pack(values, c["dtype"], **flags)
    assert got.dtype == np.uint8 and np.array_equal(got, want)
    # FINN keeps its tensors in float32: the same values as floats pack the same.
    assert np.array_equal(binarycop.pack(values.astype(np.float32), c["dtype"], **flags), want)
    back = binarycop.unpack(want, c["dtype"], output_shape=values.shape, **flags)
    assert back.dtype == np.float32 and np.array_equal(back, values.astype(np.float32))


def test_unpack_without_a_shape_fills_the_bytes_as_finn_does():
    packed = binarycop.pack(np.array([[1, 2, 3]]), "UINT4")
    assert packed.shape == (1, 2)
    # FINN: 2 bytes × 8 // 4 bits = 4 elements, the padding element last (reverse_inner).
    out = binarycop.unpack(packed, "UINT4")
    assert out.shape == (1, 4)
    assert np.array_equal(binarycop.unpack(packed, "UINT4", output_shape=(1, 3)), [[1, 2, 3]])


def test_the_defaults_are_the_drivers_layout():
    v = np.arange(8).reshape(1, 8) % 2
    assert np.array_equal(binarycop.pack(v, "BINARY"), binarycop.pack(v, "BINARY", True, True))
    assert not np.array_equal(binarycop.pack(v, "BINARY"), binarycop.pack(v, "BINARY", False, False))


def test_unpack_takes_bytes_and_refuses_other_types():
    packed = binarycop.pack(np.array([[1, 2, 3, 4]]), "UINT4")
    flat = binarycop.unpack(packed.reshape(-1), "UINT4")
    assert np.array_equal(binarycop.unpack(packed.tobytes(), "UINT4"), flat)
    assert np.array_equal(binarycop.unpack(bytearray(packed.tobytes()), "UINT4"), flat)
    with pytest.raises(ValueError, match="uint8"):
        binarycop.unpack(packed.astype(np.int16), "UINT4")
    with pytest.raises(ValueError, match="uint8"):
        binarycop.unpack([1, 2], "UINT4")
