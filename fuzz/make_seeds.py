#!/usr/bin/env python3
"""Writes the committed seeds that need a toolbox to make (tests/hostile/fuzz/<target>/):
- onnx/seed-tiny.onnx: the smallest QONNX graph binarycop imports (2x-1, an 8-bit Quant, one 3x3
  conv with BatchNorm and a binary activation, a flatten, an fc), 1 kB instead of the fixtures'
  0.5-6 MB, so that the ONNX fuzzer mutates a small input; onnx/hand-weight-cycle.onnx, the
  same with the conv's weight read through an Identity that reads itself (issue 12's hang);
- image_decode/seed-16x16.jpg, and hand-claims-13364.jpg: the same JPEG whose frame header
  claims 13,364x13,364 pixels (issue 12's decode amplification).

    /root/.venv-toolbox/bin/python fuzz/make_seeds.py   (needs `onnx`, `numpy` and `pillow`)
"""
import io
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"
rng = np.random.default_rng(12)


def const(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


inits = [
    const("two", 2.0), const("one", 1.0), const("scale", 1.0 / 128), const("zero", 0.0), const("bits", 8.0),
    const("w1", rng.standard_normal((2, 1, 3, 3))), const("gamma", [1.0, -0.5]), const("beta", [0.1, 0.0]),
    const("mean", [0.0, 0.2]), const("var", [1.0, 2.0]), const("w2", rng.standard_normal((3, 8))),
    numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "flat"),
]
nodes = [
    helper.make_node("Mul", ["x", "two"], ["m"]),
    helper.make_node("Sub", ["m", "one"], ["s"]),
    helper.make_node("Quant", ["s", "scale", "zero", "bits"], ["q"], domain=QONNX, signed=1, narrow=0,
                     rounding_mode="ROUND"),
    helper.make_node("BipolarQuant", ["w1", "one"], ["w1b"], domain=QONNX),
    helper.make_node("Conv", ["q", "w1b"], ["c1"], kernel_shape=[3, 3]),
    helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["b1"], epsilon=1e-5),
    helper.make_node("BipolarQuant", ["b1", "one"], ["a1"], domain=QONNX),
    helper.make_node("Reshape", ["a1", "flat"], ["f"]),
    helper.make_node("BipolarQuant", ["w2", "one"], ["w2b"], domain=QONNX),
    helper.make_node("Gemm", ["f", "w2b"], ["y"], transB=1),
]
graph = helper.make_graph(
    nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "hostile", "fuzz", "onnx")
os.makedirs(out, exist_ok=True)
onnx.save(model, os.path.join(out, "seed-tiny.onnx"))

# Issue 12's hang: the conv's weight read through an Identity that reads its own output.
cycle = onnx.ModelProto()
cycle.CopyFrom(model)
conv = next(n for n in cycle.graph.node if n.op_type == "Conv")
conv.input[1] = "spin"
cycle.graph.node.append(helper.make_node("Identity", ["spin"], ["spin"], name="spin_node"))
onnx.save(cycle, os.path.join(out, "hand-weight-cycle.onnx"))

# JPEGs: a 16x16 one, and the same claiming 13,364x13,364 in its frame header (SOF0).
from PIL import Image  # noqa: E402

xs, ys = np.meshgrid(np.arange(16) * 16, np.arange(16) * 16)
img = Image.fromarray(np.stack([xs, ys, np.full((16, 16), 128)], -1).astype(np.uint8))
buf = io.BytesIO()
img.save(buf, "JPEG", quality=50)
jpeg = buf.getvalue()
jdir = os.path.join(out, "..", "image_decode")
os.makedirs(jdir, exist_ok=True)
with open(os.path.join(jdir, "seed-16x16.jpg"), "wb") as f:
    f.write(jpeg)
sof = jpeg.index(b"\xff\xc0")
huge = bytearray(jpeg)
huge[sof + 5:sof + 9] = (13364).to_bytes(2, "big") * 2
with open(os.path.join(jdir, "hand-claims-13364.jpg"), "wb") as f:
    f.write(bytes(huge))
