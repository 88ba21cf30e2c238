#!/usr/bin/env python3
"""Make the tie-heavy FINN fixture (tests/finn/ncnv_ties): a Brevitas n-CNV whose thresholds sit on
reachable accumulator values, streamlined by FINN's own transformations.

The accelerator computes what FINN's streamline produces, not what torch's float32 BatchNorm
computes: BatchNorm -> affine in float32, the Add/Mul absorptions into the thresholds, the sign of a
negative scale moved into the weights, the change to the XNOR-popcount domain, and
RoundAndClipThresholds' ceil.  Where a threshold lands on (or within a rounding error of) a value
the accumulator takes, torch and the accelerator can disagree; this fixture holds binarycop to the
accelerator.

Two interpreters take part, because FINN pins an older onnx/numpy than the Brevitas toolbox:

  * the toolbox venv (torch, Brevitas; python/README.md) builds, calibrates and exports the model;
  * a FINN venv runs FINN's streamline from a FINN checkout (never committed), e.g.

        git clone https://github.com/Xilinx/finn /tmp/finn
        git clone https://github.com/fastmachinelearning/qonnx /tmp/qonnx
        git -C /tmp/qonnx checkout $(grep ^QONNX_COMMIT= /tmp/finn/fetch-repos.sh | cut -d'"' -f2)
        python3 -m venv /tmp/venv-finn
        /tmp/venv-finn/bin/pip install numpy==1.24.1 onnx==1.17.0 onnxruntime==1.18.1 \
            protobuf==5.29.6 bitstring==3.1.7 clize==5.0.1 sigtools==4.0.1 toposort==1.7.0 attrs

Run from the repository root:

    /root/.venv-toolbox/bin/python python/make_finn_tie_fixture.py --finn /tmp/finn \
        --qonnx /tmp/qonnx --finn-python /tmp/venv-finn/bin/python --out tests/finn/ncnv_ties

The FINN flow is the one of FINN's tests/end2end/test_end2end_bnn_pynq.py for cnv (export, tidy,
ToTensor pre-processing, TopK, Streamline, LowerConvsToMatMul, MakeMaxPoolNHWC,
ConvertBipolarMatMulToXnorPopcount, Streamline, AbsorbScalarMulAddIntoTopK).  The streamlined graph
is then executed with qonnx's execute_onnx image by image.  Files written (see python/README.md):
model.onnx, inputs.npy, torch_labels.npy, finn_thresholds.npz, finn_weights.npz, finn_acts.npz,
meta.json.  Deterministic (fixed seeds); a rerun reproduces every file except meta.json's timings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

import numpy as np

sys.dont_write_bytecode = True  # keep python/ free of __pycache__

SEED = 3001
N_IMAGES = 64
LAYERS = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "fc1", "fc2", "fc3"]
POOLS = {"conv1_2": "pool1", "conv2_2": "pool2"}


# ------------------------------------------------------------------------------------------------
# Stage 1 (toolbox venv): model, tie calibration, export
# ------------------------------------------------------------------------------------------------
def tie_calibrate(model, x, rng):
    """Random latent weights; then, layer by layer on the fixture inputs, BatchNorm parameters that
    put every channel's threshold on a reachable accumulator value (the most frequent one near a
    random quantile), with decimal (float32-unrepresentable) gamma, var and beta and about 30 %
    negative gamma.  Half the channels have beta = 0 and mean exactly on the lattice, so the real
    threshold is exactly that value; the others have beta != 0 and mean rounded to float32."""
    import torch
    from export_params import layer_names
    from make_fixtures import SMALL_LEVELS

    layers = layer_names(model)
    with torch.no_grad():
        for _, wmod, _ in layers:
            w = rng.choice(np.asarray(SMALL_LEVELS), size=tuple(wmod.weight.shape)).astype(np.float32)
            wmod.weight.copy_(torch.from_numpy(w))
    kinds = {}
    for li, (name, wmod, bn) in enumerate(layers[:-1]):
        cap = {}
        h = bn.register_forward_hook(lambda m, i, o: cap.__setitem__("x", i[0].detach().clone()))
        with torch.no_grad():
            model(x)
        h.remove()
        xin = cap["x"].double()
        C = xin.shape[1]
        unit = 2.0 ** -7 if li == 0 else 1.0
        acc = np.rint(xin.transpose(0, 1).reshape(C, -1).numpy() / unit).astype(np.int64)
        neg = np.zeros(C, dtype=bool)
        neg[rng.permutation(C)[: round(0.3 * C)]] = True
        gamma = np.round(rng.uniform(0.3, 1.5, size=C), 3) * np.where(neg, -1.0, 1.0)
        var = np.round((acc.std(axis=1).clip(min=1.0) * unit * rng.uniform(0.5, 2.0, size=C)) ** 2, 3 + 4 * (li == 0))
        var = np.maximum(var, 1e-3 if li else 1e-7)
        zero_beta = rng.random(C) < 0.5
        beta = np.where(zero_beta, 0.0, np.round(rng.uniform(-0.3, 0.3, size=C), 3))
        mean = np.empty(C)
        for c in range(C):
            q = rng.uniform(0.3, 0.7)
            lo, hi = np.quantile(acc[c], [max(q - 0.15, 0.0), min(q + 0.15, 1.0)])
            vals, counts = np.unique(acc[c][(acc[c] >= lo) & (acc[c] <= hi)], return_counts=True)
            L = vals[np.argmax(counts)] * unit  # a reachable value, where many positions land
            g32, v32, b32 = np.float32(gamma[c]), np.float32(var[c]), np.float32(beta[c])
            sigma = np.sqrt(np.float64(v32) + np.float64(np.float32(bn.eps)))
            mean[c] = L if zero_beta[c] else L + np.float64(b32) * sigma / np.float64(g32)
        with torch.no_grad():
            bn.weight.copy_(torch.from_numpy(gamma.astype(np.float32)))
            bn.bias.copy_(torch.from_numpy(beta.astype(np.float32)))
            bn.running_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
            bn.running_var.copy_(torch.from_numpy(var.astype(np.float32)))
        kinds[name] = dict(negative_gamma=int(neg.sum()), zero_beta=int(zero_beta.sum()), channels=C)
    tn = model.linear_features[-1]
    with torch.no_grad():
        tn.running_mean.fill_(0.5)
        tn.running_var.fill_(30.0)
        tn.weight.fill_(1.25)
        tn.bias.fill_(0.1)
    return kinds


def build_and_export(out, work):
    import torch
    from brevitas.export import export_qonnx
    from make_fixtures import build_model, random_inputs, record, to_float_input

    rng = np.random.default_rng(SEED)
    u8 = random_inputs(rng, N_IMAGES)
    model = build_model("ncnv", SEED)
    kinds = tie_calibrate(model, to_float_input(u8), rng)
    logits, acts = record(model, to_float_input(u8))
    np.save(os.path.join(out, "inputs.npy"), u8)
    np.save(os.path.join(out, "torch_labels.npy"), logits.argmax(1).astype(np.int64))
    # FINN's end2end flow exports with opset 13 through the TorchScript exporter.
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "model.onnx")
        export_qonnx(model, input_t=torch.randn(1, 3, 32, 32), export_path=p, opset_version=13, dynamo=False)
        import onnx
        onnx.save(onnx.load(p, load_external_data=True), os.path.join(out, "model.onnx"))

    class ToTensor(torch.nn.Module):  # finn.util.pytorch.ToTensor
        def forward(self, x):
            return x / 255

    export_qonnx(ToTensor(), input_t=torch.randn(1, 3, 32, 32), export_path=os.path.join(work, "preproc.onnx"),
                 opset_version=13, dynamo=False)
    np.savez(os.path.join(work, "torch.npz"), logits=logits, **acts)
    return model, kinds


# ------------------------------------------------------------------------------------------------
# Stage 2 (FINN venv): FINN's streamline, its thresholds, weights and per-layer outputs
# ------------------------------------------------------------------------------------------------
def finn_stage(out, work, finn, qonnx):
    sys.path.insert(0, os.path.join(finn, "src"))
    if qonnx:
        sys.path.insert(0, os.path.join(qonnx, "src"))
    import finn.transformation.streamline.absorb as absorb
    import finn.transformation.streamline.round_thresholds as rt
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC, MoveScalarLinearPastInvariants
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames,
                                              RemoveStaticGraphInputs, RemoveUnusedTensors)
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.insert_topk import InsertTopK
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
    from qonnx.transformation.merge_onnx_models import MergeONNXModels
    from qonnx.util.cleanup import cleanup as qonnx_cleanup

    # Record every MultiThreshold's thresholds the first time RoundAndClipThresholds sees them:
    # FINN's float32 thresholds before the ceil.
    unrounded = {}
    orig_apply = rt.RoundAndClipThresholds.apply

    def recording_apply(self, model):
        if not unrounded:
            for n in model.graph.node:
                if n.op_type == "MultiThreshold":
                    unrounded[len(unrounded)] = model.get_initializer(n.input[1]).copy()
        return orig_apply(self, model)

    rt.RoundAndClipThresholds.apply = recording_apply
    import finn.transformation.streamline as sl
    sl.RoundAndClipThresholds = rt.RoundAndClipThresholds

    def tidy(m):
        for t in [InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(),
                  InferDataTypes(), RemoveStaticGraphInputs()]:
            m = m.transform(t)
        return m

    clean = os.path.join(work, "clean.onnx")
    qonnx_cleanup(os.path.join(out, "model.onnx"), out_file=clean)
    m = tidy(ModelWrapper(clean).transform(ConvertQONNXtoFINN()))
    pre_path = os.path.join(work, "preproc.onnx")
    qonnx_cleanup(pre_path, out_file=pre_path)
    pre = ModelWrapper(pre_path).transform(ConvertQONNXtoFINN())
    pre = pre.transform(InferShapes()).transform(FoldConstants())
    m = m.transform(MergeONNXModels(pre))
    m.set_tensor_datatype(m.graph.input[0].name, DataType["UINT8"])
    m = tidy(m.transform(InsertTopK(k=1)))
    m = m.transform(absorb.AbsorbSignBiasIntoMultiThreshold())
    m = m.transform(MoveScalarLinearPastInvariants())
    m = m.transform(Streamline())
    m = m.transform(LowerConvsToMatMul())
    m = m.transform(MakeMaxPoolNHWC())
    m = m.transform(absorb.AbsorbTransposeIntoMultiThreshold())
    m = m.transform(ConvertBipolarMatMulToXnorPopcount())
    m = m.transform(Streamline())
    m = m.transform(absorb.AbsorbScalarMulAddIntoTopK())
    m = m.transform(InferDataLayouts())
    m = m.transform(RemoveUnusedTensors())
    m.save(os.path.join(work, "streamlined.onnx"))

    nodes = list(m.graph.node)
    mts = [n for n in nodes if n.op_type == "MultiThreshold"]
    assert len(mts) == 1 + len(LAYERS) - 1, [n.name for n in mts]
    assert len(unrounded) == len(mts), unrounded.keys()
    mms = [n for n in nodes if n.op_type in ("MatMul", "XnorPopcountMatMul")]
    assert len(mms) == len(LAYERS), [n.op_type for n in mms]
    pools = [n for n in nodes if n.op_type == "MaxPoolNHWC"]
    topk = [n for n in nodes if n.op_type == "TopK"]
    assert len(pools) == 2 and len(topk) == 1

    thresholds, weights = {}, {}
    for i, name in enumerate(LAYERS):
        w = m.get_initializer(mms[i].input[1])  # [K, C], rows in (ky, kx, c) order
        weights[name] = np.ascontiguousarray((w.T > 0).astype(np.uint8))  # [C, K], 1 = +1
        if i + 1 < len(LAYERS):
            mt = mts[i + 1]
            assert m.find_producer(mt.input[0]).name == mms[i].name, name
            thresholds[name] = m.get_initializer(mt.input[1]).reshape(-1).astype(np.float32)
            thresholds[name + ".unrounded"] = unrounded[i + 1].reshape(-1).astype(np.float32)
    np.savez_compressed(os.path.join(out, "finn_thresholds.npz"), **thresholds)
    np.savez_compressed(os.path.join(out, "finn_weights.npz"), **weights)

    u8 = np.load(os.path.join(out, "inputs.npy"))
    iname = m.graph.input[0].name
    want = {"input": mts[0].output[0], "scores": topk[0].input[0], "label": topk[0].output[1]}
    for i, name in enumerate(LAYERS[:-1]):
        want[name] = mts[i + 1].output[0]
    for p, name in zip(pools, ["pool1", "pool2"]):
        want[name] = p.output[0]
    got = {k: [] for k in want}
    for img in u8:
        x = img.transpose(2, 0, 1)[None].astype(np.float32)
        ctx = execute_onnx(m, {iname: x}, return_full_exec_context=True)
        for k, t in want.items():
            got[k].append(np.asarray(ctx[t]))
    acts = {}
    for k, v in got.items():
        a = np.concatenate(v, 0)
        if k == "input":
            a = a.transpose(0, 2, 3, 1) if a.shape[1] == 3 else a  # codes, NHWC int8
            assert np.array_equal(a, np.rint(a)) and a.min() >= -128 and a.max() <= 127
            acts[k] = np.ascontiguousarray(a.astype(np.int8))
        elif k in ("scores", "label"):
            acts[k] = a.reshape(len(u8), -1).astype(np.int32 if k == "scores" else np.int64)
        else:
            assert set(np.unique(a)) <= {0.0, 1.0}, k  # BINARY after the XNOR conversion
            acts[k] = np.ascontiguousarray(np.where(a > 0, 1, -1).astype(np.int8))
    np.savez_compressed(os.path.join(out, "finn_acts.npz"), **acts)
    print("  FINN: streamlined, executed", len(u8), "images; layer shapes",
          {k: v.shape for k, v in acts.items()})


# ------------------------------------------------------------------------------------------------
# Stage 3 (toolbox venv): how torch's float32 BatchNorm and exact arithmetic compare at the ties
# ------------------------------------------------------------------------------------------------
def reachable_near(t, lattice_step, offset):
    """Is float32 t within one ulp of a value offset + k*lattice_step (k integer)?"""
    t = np.float32(t)
    k = np.round((np.float64(t) - offset) / lattice_step)
    v = np.float32(offset + k * lattice_step)
    return bool(t == v or np.nextafter(t, np.float32(np.inf)) == v or np.nextafter(t, np.float32(-np.inf)) == v)


def exact_sign(acc, unit, g, b, mu, var, eps):
    """sign of BatchNorm at the accumulator value acc in real arithmetic on the float32
    parameters: (x - mean) * gamma / sqrt(var + eps) + beta >= 0 with x = acc * unit."""
    x = Fraction(int(acc)) * Fraction(unit)
    u = (x - Fraction(float(mu))) * Fraction(float(g))  # the term over sqrt(var + eps) > 0
    v = Fraction(float(b))
    r = Fraction(float(var)) + Fraction(float(eps))
    # u/s + v >= 0  <=>  u + v*s >= 0 with s = sqrt(r)
    if v == 0:
        return u >= 0
    w = -u / v  # u + v s >= 0 <=> (v > 0: s >= w) / (v < 0: s <= w)
    s_ge_w = w <= 0 or r >= w * w
    s_le_w = w >= 0 and r <= w * w
    return s_ge_w if v > 0 else s_le_w


def compare_stage(out, work, model):
    import torch
    from export_params import layer_names

    finn = np.load(os.path.join(out, "finn_acts.npz"))
    thr = np.load(os.path.join(out, "finn_thresholds.npz"))
    torch_labels = np.load(os.path.join(out, "torch_labels.npy"))
    layers = layer_names(model)
    stats = {}
    near_ties = {}
    x = finn["input"].astype(np.int64)  # NHWC codes
    for li, (name, wmod, bn) in enumerate(layers[:-1]):
        W = np.where(wmod.weight.detach().numpy() >= 0, 1, -1).astype(np.int64)
        if W.ndim == 4:
            N, H, Wd, C = x.shape
            cols = np.stack([x[:, ky:ky + H - 2, kx:kx + Wd - 2, :] for ky in range(3) for kx in range(3)], axis=3)
            acc = cols.reshape(N, H - 2, Wd - 2, -1) @ W.transpose(0, 2, 3, 1).reshape(W.shape[0], -1).T
        else:
            x2 = x.reshape(x.shape[0], -1) if x.ndim == 2 else x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)
            acc = x2 @ W.T
        unit = 2.0 ** -7 if li == 0 else 1.0
        # torch's own BatchNorm on the exact dot product (what Brevitas computes in eval mode)
        t_in = torch.from_numpy((acc * unit).astype(np.float32))
        t_in = t_in.permute(0, 3, 1, 2) if t_in.ndim == 4 else t_in
        with torch.no_grad():
            pre = bn(t_in)
        pre = pre.permute(0, 2, 3, 1).numpy() if pre.ndim == 4 else pre.numpy()
        torch_bit = pre >= 0
        finn_bit = finn[name] > 0
        g, b = bn.weight.detach().numpy(), bn.bias.detach().numpy()
        mu, var = bn.running_mean.detach().numpy(), bn.running_var.detach().numpy()
        eps = np.float32(bn.eps)
        C = acc.shape[-1]
        flat = acc.reshape(-1, C)
        exact_bit = np.empty_like(flat, dtype=bool)
        for c in range(C):
            cache = {}
            for j, a in enumerate(flat[:, c]):
                if a not in cache:
                    cache[a] = exact_sign(a, unit, g[c], b[c], mu[c], var[c], eps)
                exact_bit[j, c] = cache[a]
        exact_bit = exact_bit.reshape(acc.shape)
        K = W.reshape(W.shape[0], -1).shape[1]
        t = thr[name + ".unrounded"]
        near_ties[name] = int(sum(reachable_near(t[c], 1.0 if li == 0 else 2.0, 0.0 if li == 0 else float(K % 2))
                                  for c in range(C)))
        stats[name] = dict(
            torch_vs_finn=float((torch_bit != finn_bit).mean()),
            torch_vs_exact=float((torch_bit != exact_bit).mean()),
            finn_vs_exact=float((finn_bit != exact_bit).mean()),
            positions=int(acc.size),
            channels_within_one_ulp=near_ties[name],
        )
        x = np.where(finn_bit, 1, -1).astype(np.int64)
        if name in POOLS:
            x = finn[POOLS[name]].astype(np.int64)
    agree = int((finn["label"].reshape(-1) == torch_labels).sum())
    return stats, agree, near_ties


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finn", required=True, help="a FINN checkout (never committed)")
    ap.add_argument("--qonnx", help="a qonnx checkout at the commit FINN pins (fetch-repos.sh); default: installed")
    ap.add_argument("--finn-python", help="the FINN venv's python (stage 2)")
    ap.add_argument("--out", default="tests/finn/ncnv_ties")
    ap.add_argument("--keep", help="keep the intermediate files (streamlined.onnx, ...) in this folder")
    ap.add_argument("--stage", choices=["all", "finn"], default="all", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage == "finn":
        finn_stage(args.out, args.work, args.finn, args.qonnx)
        return
    if not args.finn_python:
        ap.error("--finn-python is required (FINN runs in its own venv)")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import brevitas
    import torch
    torch.set_num_threads(2)
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        os.remove(os.path.join(args.out, f))
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        print("stage 1: Brevitas n-CNV with thresholds on the accumulator lattice")
        model, kinds = build_and_export(args.out, work)
        print("stage 2: FINN's streamline")
        cmd = [args.finn_python, os.path.abspath(__file__), "--stage", "finn", "--finn", args.finn,
               "--out", args.out, "--work", work] + (["--qonnx", args.qonnx] if args.qonnx else [])
        subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        print("stage 3: torch and exact arithmetic against FINN")
        stats, agree, near = compare_stage(args.out, work, model)
    for k, v in stats.items():
        print(f"  {k}: torch vs FINN {v['torch_vs_finn']:.4f}, torch vs exact {v['torch_vs_exact']:.4f}, "
              f"FINN vs exact {v['finn_vs_exact']:.4f}, channels within one ulp {v['channels_within_one_ulp']}")
    print(f"  labels: torch and FINN agree on {agree} of {N_IMAGES}")
    finn_commit = subprocess.run(["git", "-C", args.finn, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    qonnx_commit = (subprocess.run(["git", "-C", args.qonnx, "rev-parse", "HEAD"], capture_output=True,
                                   text=True).stdout.strip() if args.qonnx else "installed")
    meta = dict(
        name="ncnv_ties", topology="ncnv", n=N_IMAGES, seed=SEED, exporter="torchscript, opset 13",
        torch_version=torch.__version__, brevitas_version=brevitas.__version__,
        finn_commit=finn_commit, qonnx_commit=qonnx_commit,
        layers=kinds, per_layer=stats, torch_finn_label_agreement=agree,
        channels_within_one_ulp=sum(near.values()),
        wall_s=round(time.time() - t0, 1),
    )
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    for f in sorted(os.listdir(args.out)):
        print(f"  {os.path.getsize(os.path.join(args.out, f)):>9}  {f}")


if __name__ == "__main__":
    main()
