"""The Python package gives what the CLI gives on the repository's fixtures: labels, scores,
layer taps, CAM heatmaps and the simulation report."""

import json

import numpy as np
import pytest

import binarycop
from conftest import FIXTURES

MODELS = ["ncnv_trained", "ucnv_trained", "cnv_random"]


@pytest.mark.parametrize("name", MODELS)
def test_infer_labels_and_scores_equal_the_cli_and_the_fixture(name, cli_json, tmp_path):
    d = FIXTURES / name
    m = binarycop.load(d / "model.onnx")
    x = np.load(d / "inputs.npy")
    labels, scores = m.infer(x)
    assert labels.dtype == np.int64 and scores.dtype == np.int32
    assert scores.shape == (len(x), m.classes)
    report = cli_json("infer", "--model", d / "model.onnx", "--images", d / "inputs.npy",
                      "--save-scores", tmp_path / "scores.npy")
    assert [r["label"] for r in report["results"]] == labels.tolist()
    assert np.array_equal(np.load(tmp_path / "scores.npy"), scores)
    # The fixture's labels are torch's argmax of the same network.
    assert np.array_equal(labels, np.load(d / "labels.npy"))


@pytest.mark.parametrize("layer", ["Conv2_1", "Pool2", "FC3"])
def test_trace_equals_the_cli_tap(layer, cli, tmp_path):
    d = FIXTURES / "ncnv_trained"
    m = binarycop.load(d / "model.onnx")
    x = np.load(d / "inputs.npy")[:6]
    np.save(tmp_path / "x.npy", x)
    cli("infer", "--model", d / "model.onnx", "--images", tmp_path / "x.npy",
        "--tap", layer, "--save-tap", tmp_path / "tap.npy")
    tap = np.load(tmp_path / "tap.npy")
    t = m.trace(x, layers=[layer])[layer]
    if layer == "FC3":
        assert t["maps"] is None
        assert tap.dtype == np.int32 and np.array_equal(t["acc"], tap)
        assert np.array_equal(t["acc"].reshape(len(x), -1), m.infer(x)[1])
    else:
        assert tap.dtype == np.int8 and np.array_equal(t["maps"], tap)
        assert set(np.unique(t["maps"])) <= {-1, 1}
    if layer == "Pool2":
        assert t["acc"] is None
    if layer == "Conv2_1":
        assert t["acc"].dtype == np.int32 and t["acc"].shape == tap.shape


def test_trace_maps_equal_torchs_activations():
    d = FIXTURES / "ncnv_trained"
    m = binarycop.load(d / "model.onnx")
    x = np.load(d / "inputs.npy")
    acts = np.load(d / "acts.npz")
    layers = m.layers[:-1]
    t = m.trace(x, layers=layers)
    for name in layers:
        want = acts[name.lower()]
        assert np.array_equal(t[name]["maps"].reshape(want.shape), want), name


@pytest.mark.parametrize(
    "kw",
    [
        dict(layer="Pool2", method="gradcam"),
        dict(layer="Conv1_2", method="layercam", ste="identity"),
        dict(layer="Pool2", method="gradcam", graph="training", interp="bilinear", relu=True),
    ],
)
def test_cam_heatmaps_equal_the_clis(kw, cli, tmp_path):
    d = FIXTURES / "ncnv_trained"
    m = binarycop.load(d / "model.onnx")
    x = np.load(d / "inputs.npy")[:3]
    np.save(tmp_path / "x.npy", x)
    args = ["cam", "--model", d / "model.onnx", "--images", tmp_path / "x.npy", "--out", tmp_path / "cam",
            "--layer", kw["layer"], "--method", kw["method"], "--graph", kw.get("graph", "deployed"),
            "--ste", kw.get("ste", "windowed"), "--interp", kw.get("interp", "bicubic")]
    if kw.get("relu"):
        args.append("--relu")
    cli(*args)
    h = m.cam(x, **kw)
    assert h.dtype == np.float32 and h.shape == (3, 32, 32)
    assert h.min() >= 0.0 and h.max() <= 1.0
    for i in range(3):
        assert np.array_equal(h[i], np.load(tmp_path / "cam" / f"{i:04d}" / "heatmap.npy")), i


def test_cam_target_class_changes_the_map():
    d = FIXTURES / "ncnv_trained"
    m = binarycop.load(d / "model.onnx")
    x = np.load(d / "inputs.npy")[:1]
    predicted = int(m.infer(x)[0][0])
    other = (predicted + 1) % m.classes
    assert np.array_equal(m.cam(x, target=predicted), m.cam(x))
    assert not np.array_equal(m.cam(x, target=other), m.cam(x))


@pytest.mark.parametrize("name, folding", [("ncnv_trained", "ncnv"), ("ucnv_trained", "ucnv"), ("cnv_random", "cnv")])
def test_simulate_equals_simulate_json(name, folding, cli_json):
    path = str(FIXTURES / name / "model.onnx")
    m = binarycop.load(path)
    want = cli_json("simulate", "--model", path, "--folding", folding, "--clock-mhz", "125")
    got = m.simulate(folding=folding, clock_mhz=125)
    assert got == want
    assert got["clock_mhz"] == 125 and got["nodes"]


def test_topology_and_layers_are_the_models(cli_json):
    path = FIXTURES / "ucnv_trained" / "model.onnx"
    m = binarycop.load(path)
    info = cli_json("info", "--model", path)
    assert m.layers == [l["name"] for l in info["layers"]]
    assert m.topology["name"] == info["name"] == "ucnv"
    assert m.input_shape == tuple(int(v) for v in info["input"].split("x"))
    assert m.classes == info["classes"]
    assert [l["name"] for l in m.topology["layers"]] == m.layers


def test_compare_returns_the_metrics_compare_writes(cli, tmp_path):
    d = FIXTURES / "ncnv_trained"
    path = str(d / "model.onnx")
    m = binarycop.load(path)
    x = np.load(d / "inputs.npy")[:4]
    xp = tmp_path / "x.npy"
    np.save(xp, x)
    cli("compare", "--model", path, "--images", xp, "--layer", "Pool2", "--method", "gradcam,layercam",
        "--steps", "8", "--out", tmp_path / "cmp")
    want = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    got = m.compare(x, layer="Pool2", methods=["gradcam", "layercam"], steps=8,
                    names=[f"{xp}[{i}]" for i in range(4)])
    assert got == want
    assert set(got["methods"]) == {"gradcam", "layercam"}
