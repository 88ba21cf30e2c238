"""Export the parameters of a Brevitas BNN-PYNQ ``CNV``-family model to binarycop's ``params.npz`` layout.

Usage (works on any CNV / n-CNV / µ-CNV built from
``brevitas_examples.bnn_pynq.models.CNV.CNV``, trained or not)::

    from export_params import export_params
    export_params(model, "params.npz")        # writes the file
    d = export_params(model)                  # or just returns the dict

Layout (``np.savez``, uncompressed; every key below is one array):

Layer names are lowercase paper names, in network order.  Conv layers are named ``conv<g>_<i>``:
group ``g`` starts at 1 and advances after every max-pool, ``i`` counts convs inside the group
(CNV/n-CNV: conv1_1, conv1_2, conv2_1, conv2_2, conv3_1, conv3_2; µ-CNV stops at conv3_1).
Fully connected layers are ``fc1``, ``fc2``, ... (CNV/n-CNV: fc1..fc3; µ-CNV: fc1, fc2).

=========================  =========  =====================================================================
key                        dtype      shape / meaning
=========================  =========  =====================================================================
``<layer>.weight``         float32    latent (pre-binarisation) weights in torch layout:
                                      conv ``[out, in, kh, kw]``, FC ``[out, in]``.  The FC input index
                                      follows torch's flatten of NCHW, i.e. (c, h, w) order.  The binary
                                      weight is ``+1 if w >= 0 else -1``.
``<layer>.bn.gamma``       float32    ``[out]`` BatchNorm weight (may be negative or exactly 0)
``<layer>.bn.beta``        float32    ``[out]`` BatchNorm bias
``<layer>.bn.mean``        float32    ``[out]`` BatchNorm running_mean
``<layer>.bn.var``         float32    ``[out]`` BatchNorm running_var
``<layer>.bn.eps``         float32    ``()``    BatchNorm eps (1e-4 in BNN-PYNQ)
``input.scale``            float32    ``()``    scale of the 8-bit input quantizer (2**-7): the model computes
                                      ``q = clamp(round((2*x - 1) / scale), -128, 127)`` for x in [0, 1]
``input.bits``             int64      ``()``    bit width of the input quantizer (8)
``output.scale``           float32    ``()``    TensorNorm collapsed: ``logits = output.scale * dot + output.bias``
``output.bias``            float32    ``()``    where ``dot`` is the last layer's ±1 dot product;
                                      ``scale = weight / sqrt(running_var + eps)``,
                                      ``bias = bias - scale * running_mean``
=========================  =========  =====================================================================

Every layer except the last has the four ``.bn.*`` vectors plus ``.bn.eps``; the last FC layer only
has ``.weight``.  Every hidden layer is followed by sign binarisation (BN output ``>= 0`` → +1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["layer_names", "export_params"]


def _is_qconv(m):
    from brevitas.nn import QuantConv2d
    return isinstance(m, QuantConv2d)


def _is_qlinear(m):
    from brevitas.nn import QuantLinear
    return isinstance(m, QuantLinear)


def layer_names(model) -> list[tuple[str, nn.Module, nn.Module | None]]:
    """Return ``[(name, weight_module, batchnorm_module_or_None), ...]`` in network order."""
    out = []
    group, idx = 1, 0
    pending = None
    for m in model.conv_features:
        if _is_qconv(m):
            idx += 1
            pending = [f"conv{group}_{idx}", m, None]
            out.append(pending)
        elif isinstance(m, nn.BatchNorm2d):
            pending[2] = m
        elif isinstance(m, nn.MaxPool2d):
            group, idx = group + 1, 0
    fc = 0
    for m in model.linear_features:
        if _is_qlinear(m):
            fc += 1
            pending = [f"fc{fc}", m, None]
            out.append(pending)
        elif isinstance(m, nn.BatchNorm1d):
            pending[2] = m
    return [tuple(x) for x in out]


def _f32(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def export_params(model, path=None) -> dict[str, np.ndarray]:
    """Collect the parameters of ``model`` in binarycop's layout; save to ``path`` if given."""
    d: dict[str, np.ndarray] = {}
    layers = layer_names(model)
    for i, (name, wmod, bn) in enumerate(layers):
        d[f"{name}.weight"] = _f32(wmod.weight)
        last = i == len(layers) - 1
        if last:
            assert bn is None, f"last layer {name} unexpectedly has a BatchNorm"
            continue
        assert bn is not None, f"layer {name} has no BatchNorm"
        d[f"{name}.bn.gamma"] = _f32(bn.weight)
        d[f"{name}.bn.beta"] = _f32(bn.bias)
        d[f"{name}.bn.mean"] = _f32(bn.running_mean)
        d[f"{name}.bn.var"] = _f32(bn.running_var)
        d[f"{name}.bn.eps"] = np.array(bn.eps, dtype=np.float32)

    inq = model.conv_features[0]
    scale = float(inq.act_quant.scale().detach().reshape(-1)[0])
    bits = int(round(float(inq.act_quant.bit_width().detach().reshape(-1)[0])))
    d["input.scale"] = np.array(scale, dtype=np.float32)
    d["input.bits"] = np.array(bits, dtype=np.int64)

    tn = model.linear_features[-1]
    assert type(tn).__name__ == "TensorNorm", type(tn)
    w = float(tn.weight.detach().reshape(-1)[0])
    b = float(tn.bias.detach().reshape(-1)[0])
    rm = float(tn.running_mean.detach().reshape(-1)[0])
    rv = float(tn.running_var.detach().reshape(-1)[0])
    s = w / math.sqrt(rv + tn.eps)
    d["output.scale"] = np.array(s, dtype=np.float32)
    d["output.bias"] = np.array(b - s * rm, dtype=np.float32)

    if path is not None:
        np.savez(path, **d)
    return d
