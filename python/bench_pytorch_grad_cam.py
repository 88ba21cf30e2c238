"""Times pytorch-grad-cam on the Brevitas CNV of tests/fixtures/cnv_random, at Pool2, on the
fixture's first image: GradCAM and ScoreCAM (128 channels), one torch thread, the way
benches/cam.rs times binarycop on the same model and image. Prints the median of the runs.

    /root/.venv-toolbox/bin/python python/bench_pytorch_grad_cam.py [--json] [--cpu]

`cargo bench --bench cam` runs it itself when BINARYCOP_TOOLBOX_PYTHON names the toolbox's
python, and prints the ratios. `--cpu` times process CPU time instead of wall time (the bench
passes it under BINARYCOP_BENCH_CLOCK=cpu, so both sides use the same clock).
"""

import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from export_cam import layer_module, load_params  # noqa: E402
from make_fixtures import build_model, to_float_input  # noqa: E402


CLOCK = time.process_time if "--cpu" in sys.argv[1:] else time.perf_counter


def timed(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t0 = CLOCK()
        fn()
        ts.append(CLOCK() - t0)
    return statistics.median(ts)


def main():
    torch.set_num_threads(1)
    fx = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "cnv_random")
    model = build_model("cnv", 0)
    load_params(model, dict(np.load(os.path.join(fx, "params.npz"))))
    model.eval()
    x = to_float_input(np.load(os.path.join(fx, "inputs.npy"))[:1])
    want = np.load(os.path.join(fx, "logits.npy"))[:1]
    with torch.no_grad():
        assert np.abs(model(x).numpy() - want).max() < 1e-4, "rebuilt model differs from the fixture"

    from pytorch_grad_cam import GradCAM, ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    target = layer_module(model, "pool2")
    cls = int(want.argmax())
    with torch.no_grad():
        fwd = timed(lambda: model(x), 20)
    with GradCAM(model=model, target_layers=[target]) as cam:
        grad = timed(lambda: cam(input_tensor=x, targets=[ClassifierOutputTarget(cls)]), 20)
    with ScoreCAM(model=model, target_layers=[target]) as cam:
        cam.batch_size = 16
        score = timed(lambda: cam(input_tensor=x, targets=[ClassifierOutputTarget(cls)]), 3)
    if "--json" in sys.argv[1:]:
        # For benches/cam.rs, which runs this right after its own measurements.
        print(json.dumps({"forward_ms": fwd * 1e3, "gradcam_ms": grad * 1e3, "scorecam_ms": score * 1e3}))
    else:
        print(f"torch forward {fwd * 1e3:.2f} ms, GradCAM {grad * 1e3:.2f} ms, ScoreCAM {score * 1e3:.1f} ms "
              f"(Brevitas CNV cnv_random, Pool2, 1 thread)")


if __name__ == "__main__":
    main()
