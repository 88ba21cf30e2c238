#!/usr/bin/env python3
"""Generate the binarycop test fixtures from Brevitas BNN-PYNQ CNV-family models.

Run (from the repository root, with the toolbox venv described in python/README.md):

    /root/.venv-toolbox/bin/python python/make_fixtures.py --out tests/fixtures

Everything is deterministic (fixed seeds).  Each fixture folder gets model.onnx (raw QONNX export),
inputs.npy, logits.npy, labels.npy (+ truth.npy for trained models), acts.npz, params.npz and
meta.json.  See python/README.md for what each fixture is and for the file layouts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(2)

sys.dont_write_bytecode = True  # keep python/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_params import export_params, layer_names  # noqa: E402

import brevitas  # noqa: E402
import brevitas_examples.bnn_pynq.models.CNV as CNVmod  # noqa: E402
from brevitas.export import export_qonnx  # noqa: E402
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear  # noqa: E402

# --------------------------------------------------------------------------------------------
# Topologies
# --------------------------------------------------------------------------------------------
TOPOLOGIES = {
    "cnv": dict(
        conv=[(64, False), (64, True), (128, False), (128, True), (256, False), (256, False)],
        fc=[(256, 512), (512, 512)],
        last_in=512,
    ),
    "ncnv": dict(
        conv=[(16, False), (16, True), (32, False), (32, True), (64, False), (64, False)],
        fc=[(64, 128), (128, 128)],
        last_in=128,
    ),
    "ucnv": dict(
        conv=[(16, False), (16, True), (32, False), (32, True), (64, False)],
        fc=[(576, 128)],
        last_in=128,
    ),
    # n-CNV's layers on a 72x72 input (train_models.py's published-classes model):
    # 72->70->68->P34->32->30->P15->13->11, so FC1 sees 11*11*64 = 7744 inputs
    "ncnv72": dict(
        conv=[(16, False), (16, True), (32, False), (32, True), (64, False), (64, False)],
        fc=[(7744, 128), (128, 128)],
        last_in=128,
    ),
}

NUM_CLASSES = 4
TRAIN_STEPS = 400
# latent weight levels for the random fixtures (only the sign matters; few levels deflate well)
SMALL_LEVELS = [s * v for s in (-1, 1) for v in (0.125, 0.25, 0.375, 0.5)]  # ncnv/ucnv
CNV_LEVELS = [-0.1, 0.1]   # cnv: 1.5 M weights; two levels deflate to ~1.9 bits/weight
LATENT_GRID = 2.0 ** -3    # trained models: latent weights snapped to this grid (sign kept)


@contextlib.contextmanager
def patched_topology(topo: str):
    t = TOPOLOGIES[topo]
    saved = (CNVmod.CNV_OUT_CH_POOL, CNVmod.INTERMEDIATE_FC_FEATURES, CNVmod.LAST_FC_IN_FEATURES)
    CNVmod.CNV_OUT_CH_POOL = list(t["conv"])
    CNVmod.INTERMEDIATE_FC_FEATURES = list(t["fc"])
    CNVmod.LAST_FC_IN_FEATURES = t["last_in"]
    try:
        yield
    finally:
        CNVmod.CNV_OUT_CH_POOL, CNVmod.INTERMEDIATE_FC_FEATURES, CNVmod.LAST_FC_IN_FEATURES = saved


def build_model(topo: str, seed: int, num_classes: int = NUM_CLASSES, size: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    with patched_topology(topo):
        m = CNVmod.CNV(num_classes=num_classes, weight_bit_width=1, act_bit_width=1, in_bit_width=8,
                       in_ch=3)
    m.eval()
    with torch.no_grad():
        out = m(torch.rand(1, 3, size, size))
    assert tuple(out.shape) == (1, num_classes), out.shape
    return m


def to_float_input(u8: np.ndarray) -> torch.Tensor:
    """The model's float input, exactly as the Rust side is told to compute it.

    ``.contiguous()`` changes only the memory layout, not a value: a channels-last (permuted)
    tensor makes ``x.view(N, -1)`` in CNV.forward fail when the last conv map is larger than 1x1
    (µ-CNV)."""
    return (torch.from_numpy(u8).permute(0, 3, 1, 2).float() / 255.0).contiguous()


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def random_inputs(rng: np.random.Generator, n: int) -> np.ndarray:
    """uint8 NHWC images: random noise mixed with smooth structure (waves, blobs, gradients)."""
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    imgs = np.empty((n, 32, 32, 3), dtype=np.float64)
    for i in range(n):
        img = rng.uniform(40, 215, size=(1, 1, 3)) * np.ones((32, 32, 3))
        # gradient
        g = rng.uniform(-3, 3, size=(2, 3))
        img += g[0] * (xx[..., None] - 16) + g[1] * (yy[..., None] - 16)
        # a couple of low-frequency waves
        for _ in range(2):
            fx, fy = rng.uniform(-0.4, 0.4, size=2)
            ph = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(10, 60, size=3)
            img += amp * np.sin(fx * xx + fy * yy + ph)[..., None]
        # a blob
        cy, cx = rng.uniform(0, 32, size=2)
        r = rng.uniform(3, 10)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img += rng.uniform(-120, 120, size=3) * blob[..., None]
        # noise (amount varies per image), sometimes pure uniform noise mixed in
        img += rng.normal(0, rng.uniform(5, 40), size=img.shape)
        mix = rng.uniform(0, 0.5)
        img = (1 - mix) * img + mix * rng.uniform(0, 255, size=img.shape)
        imgs[i] = img
    # make sure the extremes (0, 255 and 127/128) occur
    imgs[0, 0, 0, :] = 0
    imgs[0, 0, 1, :] = 255
    imgs[0, 0, 2, :] = 127
    imgs[0, 0, 3, :] = 128
    return np.clip(np.rint(imgs), 0, 255).astype(np.uint8)


def synth_task(rng: np.random.Generator, n: int):
    """Synthetic 4-class task: a bright or dark disc whose quadrant defines the class
    (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) on a noisy gradient background."""
    y = rng.integers(0, 4, size=n)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    base = rng.uniform(60, 190, size=(n, 1, 1, 3))
    gx = rng.uniform(-2, 2, size=(n, 1, 1, 3))
    gy = rng.uniform(-2, 2, size=(n, 1, 1, 3))
    bg = base + gx * (xx - 16)[None, :, :, None] + gy * (yy - 16)[None, :, :, None]
    cy = np.where(y // 2 == 0, 8.0, 24.0) + rng.uniform(-3, 3, size=n)
    cx = np.where(y % 2 == 0, 8.0, 24.0) + rng.uniform(-3, 3, size=n)
    r = rng.uniform(4, 7, size=n)
    d2 = (yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2
    mask = np.clip(r[:, None, None] + 0.5 - np.sqrt(d2), 0, 1)[..., None]  # soft edge
    bright = rng.random(n) < 0.5
    colour = np.where(bright[:, None], rng.uniform(215, 255, size=(n, 3)), rng.uniform(0, 40, size=(n, 3)))
    img = bg * (1 - mask) + colour[:, None, None, :] * mask
    img += rng.normal(0, 1, size=img.shape) * rng.uniform(2, 10, size=(n, 1, 1, 1))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), y.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Activations (forward hooks)
# --------------------------------------------------------------------------------------------
def activation_names(model):
    """[(module, key)] for every module whose output we record."""
    res = [(model.conv_features[0], "input")]
    group, idx, cur = 1, 0, None
    for m in list(model.conv_features)[1:]:
        if isinstance(m, QuantConv2d):
            idx += 1
            cur = f"conv{group}_{idx}"
        elif isinstance(m, QuantIdentity):
            res.append((m, cur))
        elif isinstance(m, nn.MaxPool2d):
            res.append((m, f"pool{group}"))
            group, idx = group + 1, 0
    fc = 0
    lin = [m for m in model.linear_features if isinstance(m, QuantLinear)]
    for m in model.linear_features:
        if isinstance(m, QuantLinear):
            fc += 1
            cur = f"fc{fc}"
            if m is lin[-1]:
                res.append((m, "dot"))
        elif isinstance(m, QuantIdentity):
            res.append((m, cur))
    return res


@torch.no_grad()
def record(model, x: torch.Tensor):
    """Eval-mode forward; returns logits (np.float32) and the acts dict in the fixture layout."""
    model.eval()
    raw = {}
    hooks = []
    for mod, key in activation_names(model):
        hooks.append(mod.register_forward_hook(
            lambda m, i, o, key=key: raw.__setitem__(key, (o.value if hasattr(o, "value") else o).detach().clone())))
    try:
        logits = model(x)
    finally:
        for h in hooks:
            h.remove()
    acts = {}
    in_scale = float(model.conv_features[0].act_quant.scale().reshape(-1)[0])
    for key, t in raw.items():
        a = t.double().numpy()
        if key == "input":
            codes = a / in_scale
            assert np.array_equal(codes, np.rint(codes)), "input codes not integral"
            assert codes.min() >= -128 and codes.max() <= 127
            acts[key] = np.ascontiguousarray(np.rint(codes).astype(np.int8).transpose(0, 2, 3, 1))
        elif key == "dot":
            assert np.array_equal(a, np.rint(a)), "dot not integral"
            acts[key] = a.astype(np.float32)
        else:
            assert np.all(np.abs(a) == 1.0), f"{key}: values not exactly +-1"
            v = a.astype(np.int8)
            if v.ndim == 4:
                v = np.ascontiguousarray(v.transpose(0, 2, 3, 1))
            acts[key] = v
    return logits.detach().numpy().astype(np.float32), acts


def plus_fractions(acts):
    return {k: float((v == 1).mean()) for k, v in acts.items() if k not in ("input", "dot")}


# --------------------------------------------------------------------------------------------
# Random parameters + BN calibration
# --------------------------------------------------------------------------------------------
def pool_followed(model):
    """Names of conv layers directly followed by a max-pool."""
    out, cur = set(), None
    group, idx = 1, 0
    for m in list(model.conv_features)[1:]:
        if isinstance(m, QuantConv2d):
            idx += 1
            cur = f"conv{group}_{idx}"
        elif isinstance(m, nn.MaxPool2d):
            out.add(cur)
            group, idx = group + 1, 0
    return out


@torch.no_grad()
def randomize(model, x: torch.Tensor, rng: np.random.Generator, *, weight_levels,
              tn_negative=False, zero_gammas=(), zero_weights=()):
    """Random latent weights, then layer by layer: calibrate BN to the real pre-activation
    statistics of ``x`` and perturb gamma/beta/mean/var so every channel's threshold sits
    inside its data (away from attainable accumulator values), about a third of gammas < 0."""
    model.eval()
    layers = layer_names(model)
    pooled = pool_followed(model)
    for name, wmod, _ in layers:
        shape = tuple(wmod.weight.shape)
        # latent weights drawn from a small set of levels: only the sign matters for inference,
        # and a small set keeps the committed (deflated) fixture size down
        w = rng.choice(np.asarray(weight_levels), size=shape).astype(np.float32)
        for zname, count in zero_weights:
            if zname == name:  # exact +0.0 and -0.0 latent weights: both binarise to +1
                flat = w.reshape(-1)
                pos = rng.choice(flat.size, size=count, replace=False)
                flat[pos[: count // 2]] = 0.0
                flat[pos[count // 2:]] = -0.0
        wmod.weight.copy_(torch.from_numpy(w))

    eps_first = True
    for li, (name, wmod, bn) in enumerate(layers[:-1]):
        cap = {}
        h = bn.register_forward_hook(lambda m, i, o: cap.__setitem__("x", i[0].detach().clone()))
        model(x)
        h.remove()
        xin = cap["x"].double()
        C = xin.shape[1]
        samples = xin.transpose(0, 1).reshape(C, -1).numpy()
        # accumulator units: first layer acc * 2^-7, later layers integer +-1 dot products
        unit = 2.0 ** -7 if eps_first else 1.0
        eps_first = False
        acc = samples / unit
        assert np.allclose(acc, np.rint(acc)), f"{name}: BN input not on the accumulator grid"
        neg = np.zeros(C, dtype=bool)
        neg[rng.permutation(C)[: C // 3]] = True
        gamma = rng.uniform(0.3, 1.5, size=C) * np.where(neg, -1.0, 1.0)
        beta = rng.uniform(-0.3, 0.3, size=C)
        std = samples.std(axis=1)
        std = np.where(std > 0, std, unit)
        var = (std * rng.uniform(0.5, 2.0, size=C)) ** 2
        # target fraction of +1 per channel (lower before a max-pool, since OR raises it)
        if name in pooled:
            f = rng.uniform(0.12, 0.4, size=C)
        else:
            f = rng.uniform(0.3, 0.7, size=C)
        q = np.where(gamma > 0, 1 - f, f)
        tau = np.array([np.quantile(acc[c], q[c]) for c in range(C)])
        tau = np.floor(tau) + 0.5  # half-way between attainable accumulator values
        tau = tau * unit
        mean = tau + beta * np.sqrt(var + bn.eps) / gamma
        bn.weight.copy_(torch.from_numpy(gamma.astype(np.float32)))
        bn.bias.copy_(torch.from_numpy(beta.astype(np.float32)))
        bn.running_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
        bn.running_var.copy_(torch.from_numpy(var.astype(np.float32)))
        for zname, ch, b in zero_gammas:
            if zname == name:
                bn.weight[ch] = 0.0
                bn.bias[ch] = b

    # TensorNorm
    tn = model.linear_features[-1]
    cap = {}
    h = tn.register_forward_hook(lambda m, i, o: cap.__setitem__("x", i[0].detach().clone()))
    model(x)
    h.remove()
    dot = cap["x"].double().numpy()
    tn.running_mean.fill_(float(dot.mean() + rng.uniform(-0.5, 0.5) * dot.std()))
    tn.running_var.fill_(float(dot.var() * rng.uniform(0.5, 2.0) + 1.0))
    wmag = rng.uniform(0.5, 2.0)
    tn.weight.fill_(-wmag if tn_negative else wmag)
    tn.bias.fill_(float(rng.uniform(-0.5, 0.5)))


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
def train(model, rng: np.random.Generator, steps: int, batch: int = 64, lr: float = 0.01):
    xtr, ytr = synth_task(rng, 8192)
    xt = to_float_input(xtr)
    yt = torch.from_numpy(ytr)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    lossf = nn.CrossEntropyLoss()
    model.train()
    t0 = time.process_time()
    w0 = time.time()
    for step in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(ytr), size=batch))
        out = model(xt[idx])
        loss = lossf(out, yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        model.clip_weights(-1.0, 1.0)
        if (step + 1) % 100 == 0:
            acc = (out.argmax(1) == yt[idx]).float().mean().item()
            print(f"    step {step + 1}: loss {loss.item():.3f}  batch acc {acc:.2f}", flush=True)
    model.eval()
    return dict(train_cpu_s=round(time.process_time() - t0, 1), train_wall_s=round(time.time() - w0, 1),
                steps=steps, batch=batch, optimizer=f"Adam lr={lr} cosine", train_set=len(ytr))


@torch.no_grad()
def round_latent_weights(model, step=2.0 ** -7):
    """Snap latent weights to a grid of ``step`` keeping their sign and |w| >= step, so the binary
    weights (and hence every output) are unchanged while the files deflate much better."""
    for _, wmod, _ in layer_names(model):
        w = wmod.weight
        before = w >= 0
        r = torch.where(before, 1.0, -1.0) * torch.clamp(torch.round(w.abs() / step), min=1) * step
        assert torch.equal(r >= 0, before)
        w.copy_(r)


@torch.no_grad()
def accuracy(model, u8, y):
    model.eval()
    return float((model(to_float_input(u8)).argmax(1).numpy() == y).mean())


# --------------------------------------------------------------------------------------------
# Export + checks
# --------------------------------------------------------------------------------------------
def export(model, x1: torch.Tensor, path: str, dynamo: bool):
    import onnx
    tmpdir = tempfile.mkdtemp()
    try:
        tmp = os.path.join(tmpdir, "model.onnx")
        export_qonnx(model, input_t=x1, export_path=tmp, dynamo=dynamo)
        stray = [f for f in os.listdir(tmpdir) if f != "model.onnx"]
        m = onnx.load(tmp, load_external_data=True)
        onnx.save(m, path, save_as_external_data=False)
    finally:
        shutil.rmtree(tmpdir)
    m = onnx.load(path, load_external_data=False)
    for init in m.graph.initializer:
        assert init.data_location != onnx.TensorProto.EXTERNAL, init.name
    return stray


def qonnx_check(path: str, u8: np.ndarray, logits: np.ndarray):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    mw = ModelWrapper(path)
    mw = cleanup_model(mw)
    mw = mw.transform(InferShapes())
    mw = mw.transform(InferDataTypes())
    iname = mw.graph.input[0].name
    oname = mw.graph.output[0].name
    x = to_float_input(u8).numpy()
    outs = []
    for i in range(len(x)):
        outs.append(execute_onnx(mw, {iname: x[i:i + 1]})[oname])
    q = np.concatenate(outs, 0)
    return float(np.abs(q - logits).max())


def integer_reference(params: dict, acts: dict):
    """Pure-integer evaluation with the threshold formulas of finn.md §2 (numpy). Returns
    (all binary layers equal, max |logits_ref - (scale*dot+bias)| vs stored dot)."""
    names = [k[:-len(".weight")] for k in params if k.endswith(".weight")]
    x = acts["input"].astype(np.int64)  # NHWC
    first = True
    mismatches = []
    order = list(acts.keys())
    for li, name in enumerate(names):
        W = params[f"{name}.weight"]
        Wb = np.where(W >= 0, 1, -1).astype(np.int64)
        if W.ndim == 4:
            N, H, Wd, C = x.shape
            Ho, Wo = H - 2, Wd - 2
            cols = np.stack([x[:, ky:ky + Ho, kx:kx + Wo, :] for ky in range(3) for kx in range(3)], axis=3)
            cols = cols.reshape(N, Ho, Wo, 9 * C)
            Wm = Wb.transpose(0, 2, 3, 1).reshape(Wb.shape[0], -1)  # [out, (ky,kx,c)]
            acc = cols @ Wm.T
        else:
            if x.ndim == 4:
                x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # torch (c,h,w) flatten
            acc = x @ Wb.T
        if li == len(names) - 1:
            dot_ok = np.array_equal(acc.astype(np.float32), acts["dot"])
            logits = params["output.scale"] * acc.astype(np.float32) + params["output.bias"]
            return (not mismatches) and dot_ok, mismatches, logits
        g = params[f"{name}.bn.gamma"].astype(np.float64)
        b = params[f"{name}.bn.beta"].astype(np.float64)
        mu = params[f"{name}.bn.mean"].astype(np.float64)
        var = params[f"{name}.bn.var"].astype(np.float64)
        eps = float(params[f"{name}.bn.eps"])
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = mu - b * np.sqrt(var + eps) / g
        if first:
            t_pos = np.ceil(128 * tau)
            t_neg = np.ceil(-128 * tau)
            bit = np.where(g > 0, acc >= t_pos, np.where(g < 0, -acc >= t_neg, b >= 0))
        else:
            K = Wb.shape[1]
            P = (acc + K) // 2
            bit = np.where(g > 0, P >= np.ceil((K + tau) / 2),
                           np.where(g < 0, (K - P) >= np.ceil((K - tau) / 2), b >= 0))
        first = False
        x = np.where(bit, 1, -1).astype(np.int64)
        if not np.array_equal(x, acts[name]):
            mismatches.append((name, int((x != acts[name]).sum())))
        # max pool
        idx = order.index(name)
        if idx + 1 < len(order) and order[idx + 1].startswith("pool"):
            pool = order[idx + 1]
            N, H, Wd, C = x.shape
            x = x.reshape(N, H // 2, 2, Wd // 2, 2, C).max(axis=(2, 4))
            if not np.array_equal(x, acts[pool]):
                mismatches.append((pool, int((x != acts[pool]).sum())))
    raise AssertionError("unreachable")


def write_fixture(out_dir, name, model, u8, *, topo, exporter, seed, truth=None, extra=None,
                  check_fractions=True):
    t0 = time.time()
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    model.eval()
    x = to_float_input(u8)
    logits, acts = record(model, x)
    labels = logits.argmax(1).astype(np.int64)
    srt = np.sort(logits, axis=1)
    ties = int((srt[:, -1] == srt[:, -2]).sum())
    fr = plus_fractions(acts)
    print(f"  [{name}] +1 fractions: " + ", ".join(f"{k}={v:.2f}" for k, v in fr.items()))
    bad = {k: v for k, v in fr.items() if not (0.2 <= v <= 0.8)}
    if bad:
        msg = f"  [{name}] activation fractions outside [0.2, 0.8]: {bad}"
        if check_fractions:
            raise SystemExit(msg)
        print("  WARNING" + msg)

    np.save(os.path.join(d, "inputs.npy"), u8.astype(np.uint8))
    np.save(os.path.join(d, "logits.npy"), logits.astype(np.float32))
    np.save(os.path.join(d, "labels.npy"), labels)
    if truth is not None:
        np.save(os.path.join(d, "truth.npy"), truth.astype(np.int64))
    np.savez(os.path.join(d, "acts.npz"), **acts)
    params = export_params(model, os.path.join(d, "params.npz"))

    # integer reference (finn.md §2 formulas) against torch
    int_ok, int_mis, int_logits = integer_reference(params, acts)
    int_diff = float(np.abs(int_logits - logits).max())
    print(f"  [{name}] integer reference: layers agree={int_ok} {int_mis}  logits max diff {int_diff:.2e}")
    if not int_ok or int_diff > 1e-3:
        raise SystemExit(f"[{name}] integer reference disagrees with torch")

    onnx_path = os.path.join(d, "model.onnx")
    stray = export(model, x[:1], onnx_path, dynamo=(exporter == "dynamo"))
    diff = qonnx_check(onnx_path, u8, logits)
    print(f"  [{name}] qonnx vs torch max abs diff {diff:.3e}  (stray export files: {stray})")
    if not diff <= 1e-3:
        raise SystemExit(f"[{name}] qonnx disagrees with torch: max abs diff {diff}")

    meta = dict(
        name=name, topology=topo, exporter=exporter, n=int(len(u8)), seed=seed,
        torch_version=torch.__version__, brevitas_version=brevitas.__version__,
        layers=[n for n, _, _ in layer_names(model)],
        plus_one_fraction=fr,
        qonnx_max_abs_diff=diff, qonnx_agrees=bool(diff <= 1e-3),
        int_reference_agrees=bool(int_ok), int_reference_logits_max_abs_diff=int_diff,
        logits_argmax_ties=ties,
        export_input_shape=[1, 3, 32, 32],
        stray_export_files=stray,
        negative_gammas={n: int((params[f"{n}.bn.gamma"] < 0).sum()) for n, _, _ in layer_names(model)[:-1]},
        zero_gammas={n: int((params[f"{n}.bn.gamma"] == 0).sum()) for n, _, _ in layer_names(model)[:-1]},
        output_scale=float(params["output.scale"]), output_bias=float(params["output.bias"]),
    )
    if extra:
        meta.update(extra)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"  [{name}] done in {time.time() - t0:.1f}s")
    return meta


# --------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--only", nargs="*", help="fixture names to (re)build (default: all)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    want = lambda n: not args.only or n in args.only  # noqa: E731
    t_cpu, t_wall = time.process_time(), time.time()

    # ---- random fixtures ------------------------------------------------------------------
    if want("cnv_random"):
        seed = 1001
        print("cnv_random")
        rng = np.random.default_rng(seed)
        u8 = random_inputs(rng, 16)
        m = build_model("cnv", seed)
        levels = CNV_LEVELS
        randomize(m, to_float_input(u8), rng, weight_levels=levels)
        write_fixture(args.out, "cnv_random", m, u8, topo="cnv", exporter="dynamo", seed=seed,
                      extra=dict(latent_weight_levels=levels))

    if want("ncnv_random") or want("ncnv_random_ts"):
        seed = 1002
        print("ncnv_random / ncnv_random_ts")
        rng = np.random.default_rng(seed)
        u8 = random_inputs(rng, 32)
        m = build_model("ncnv", seed)
        randomize(m, to_float_input(u8), rng, weight_levels=SMALL_LEVELS,
                  zero_gammas=[("conv2_1", 0, 0.0), ("fc1", 3, -0.1)],
                  zero_weights=[("conv1_1", 6), ("conv2_2", 6), ("fc2", 6)])
        if want("ncnv_random"):
            write_fixture(args.out, "ncnv_random", m, u8, topo="ncnv", exporter="dynamo", seed=seed,
                          extra=dict(latent_weight_levels=SMALL_LEVELS))
        if want("ncnv_random_ts"):
            write_fixture(args.out, "ncnv_random_ts", m, u8, topo="ncnv", exporter="torchscript", seed=seed,
                          extra=dict(same_model_as="ncnv_random", latent_weight_levels=SMALL_LEVELS))

    if want("ucnv_random"):
        seed = 1003
        print("ucnv_random")
        rng = np.random.default_rng(seed)
        u8 = random_inputs(rng, 32)
        m = build_model("ucnv", seed)
        randomize(m, to_float_input(u8), rng, weight_levels=SMALL_LEVELS, tn_negative=True)
        write_fixture(args.out, "ucnv_random", m, u8, topo="ucnv", exporter="dynamo", seed=seed,
                      extra=dict(latent_weight_levels=SMALL_LEVELS))

    # ---- trained fixtures -----------------------------------------------------------------
    for name, topo, exporter, seed in [("ncnv_trained", "ncnv", "dynamo", 2001),
                                       ("ucnv_trained", "ucnv", "torchscript", 2002)]:
        if not want(name):
            continue
        print(name)
        rng = np.random.default_rng(seed)
        m = build_model(topo, seed)
        info = train(m, rng, steps=TRAIN_STEPS)
        with torch.no_grad():
            before = m(to_float_input(synth_task(np.random.default_rng(seed + 7), 64)[0]))
        round_latent_weights(m, LATENT_GRID)
        with torch.no_grad():
            after = m(to_float_input(synth_task(np.random.default_rng(seed + 7), 64)[0]))
        assert torch.equal(before, after), "rounding latent weights changed the outputs"
        info["latent_weights_rounded_to"] = LATENT_GRID
        xte, yte = synth_task(np.random.default_rng(seed + 500), 1024)
        info["heldout_accuracy"] = accuracy(m, xte, yte)
        info["heldout_size"] = len(yte)
        print(f"  [{name}] trained: {info}")
        u8, truth = xte[:32], yte[:32]
        info["fixture_accuracy"] = accuracy(m, u8, truth)
        write_fixture(args.out, name, m, u8, topo=topo, exporter=exporter, seed=seed, truth=truth,
                      extra=dict(training=info, task="quadrant of a bright/dark disc (0 TL, 1 TR, 2 BL, 3 BR)"),
                      check_fractions=False)

    # ---- summary --------------------------------------------------------------------------
    print(f"\nTotal: CPU {time.process_time() - t_cpu:.1f}s, wall {time.time() - t_wall:.1f}s")
    total = 0
    for root, _, files in sorted(os.walk(args.out)):
        for f in sorted(files):
            p = os.path.join(root, f)
            s = os.path.getsize(p)
            total += s
            print(f"  {s:>10}  {p}")
    print(f"  {total:>10}  total bytes")
    print("Fixtures written; commit them with the rest of the tree (this script never commits).")


if __name__ == "__main__":
    main()
