"""Toolbox-side Grad-CAM exports: the BinaryCoP seed workflow's steps 1-2 made real.

Hooks a chosen layer of a Brevitas CNV-family model and writes, per image, its activations and
the gradients d logit[class] / d activations as ``.npz`` in the seed's format (one array under
``arr_0``, H x W x C), the raw image as PNG, and pytorch-grad-cam's GradCAM heatmap for
comparison (``gradcam.npy``, float32 in [0, 1] at image size).

Usage (toolbox venv, see python/README.md):

    python python/export_cam.py --fixture tests/fixtures/ncnv_trained --layer pool2 --count 8 \
        --out tests/fixtures/ncnv_trained/cam_pool2

The model is rebuilt from the fixture's ``params.npz`` (export_params layout) on the Brevitas
CNV class; the script checks that its logits equal the fixture's ``logits.npy``. Output layout:
``<out>/<i>/{activations.npz, gradients.npz, image.png, gradcam.npy}`` and ``<out>/meta.json``
(class per image, layer, versions). The class is the predicted one.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from export_params import layer_names  # noqa: E402
from make_fixtures import build_model, to_float_input  # noqa: E402


def load_params(model, params):
    """Loads an export_params npz into a freshly built model (TensorNorm: mean 0, var 1 - eps)."""
    with torch.no_grad():
        for name, wmod, bn in layer_names(model):
            wmod.weight.copy_(torch.from_numpy(params[f"{name}.weight"]))
            if bn is not None:
                bn.weight.copy_(torch.from_numpy(params[f"{name}.bn.gamma"]))
                bn.bias.copy_(torch.from_numpy(params[f"{name}.bn.beta"]))
                bn.running_mean.copy_(torch.from_numpy(params[f"{name}.bn.mean"]))
                bn.running_var.copy_(torch.from_numpy(params[f"{name}.bn.var"]))
        tn = model.linear_features[-1]
        tn.running_mean.fill_(0.0)
        tn.running_var.fill_(1.0 - tn.eps)
        tn.weight.fill_(float(params["output.scale"]))
        tn.bias.fill_(float(params["output.bias"]))


def layer_module(model, layer):
    """The module whose output is the paper-named layer's output (conv: its binary activation)."""
    group, idx, pools = 1, 0, 0
    mods = list(model.conv_features)
    for i, m in enumerate(mods):
        kind = type(m).__name__
        if kind == "QuantConv2d":
            idx += 1
            # conv -> BatchNorm -> QuantIdentity (the binary activation)
            if f"conv{group}_{idx}" == layer:
                return mods[i + 2]
        elif kind == "MaxPool2d":
            pools += 1
            if f"pool{pools}" == layer:
                return m
            group, idx = group + 1, 0
    raise SystemExit(f"unknown layer '{layer}'")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--layer", default="pool2")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)

    meta = json.load(open(os.path.join(args.fixture, "meta.json")))
    params = dict(np.load(os.path.join(args.fixture, "params.npz")))
    model = build_model(meta["topology"], 0)
    load_params(model, params)
    model.eval()
    u8 = np.load(os.path.join(args.fixture, "inputs.npy"))[: args.count]
    want = np.load(os.path.join(args.fixture, "logits.npy"))[: args.count]
    x = to_float_input(u8)
    with torch.no_grad():
        got = model(x).numpy()
    err = float(np.abs(got - want).max())
    assert err < 1e-4, f"rebuilt model differs from the fixture: max |logit diff| {err}"

    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    target = layer_module(model, args.layer)
    store = {}
    target.register_forward_hook(lambda m, i, o: store.__setitem__("act", o))
    classes = []
    os.makedirs(args.out, exist_ok=True)
    for i in range(len(u8)):
        xi = x[i : i + 1].clone().requires_grad_(False)
        logits = model(xi)
        cls = int(logits.argmax(1).item())
        act = store["act"]
        if hasattr(act, "value"):
            act = act.value
        grad = torch.autograd.grad(logits[0, cls], act)[0]
        d = os.path.join(args.out, str(i))
        os.makedirs(d, exist_ok=True)
        hwc = lambda t: t[0].detach().permute(1, 2, 0).contiguous().numpy().astype(np.float32)  # noqa: E731
        np.savez(os.path.join(d, "activations.npz"), hwc(act))
        np.savez(os.path.join(d, "gradients.npz"), hwc(grad))
        Image.fromarray(u8[i]).save(os.path.join(d, "image.png"))
        with GradCAM(model=model, target_layers=[target]) as cam:
            heat = cam(input_tensor=xi, targets=[ClassifierOutputTarget(cls)])[0]
        np.save(os.path.join(d, "gradcam.npy"), heat.astype(np.float32))
        classes.append(cls)

    import brevitas
    import pytorch_grad_cam

    info = dict(
        fixture=os.path.basename(os.path.normpath(args.fixture)),
        layer=args.layer,
        count=len(u8),
        classes=classes,
        rebuilt_logits_max_abs_diff=err,
        torch_version=torch.__version__,
        brevitas_version=brevitas.__version__,
        grad_cam_version=getattr(pytorch_grad_cam, "__version__", "1.5.7"),
    )
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
