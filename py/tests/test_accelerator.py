"""binarycop.Accelerator: FINN's FINNExampleOverlay surface over the Rust driver."""

import numpy as np
import pytest

import binarycop
from conftest import DEPLOY, NCNV72

# FINN's driver_base.py throughput_test() keys (zynq-iodma, no external weights).
FINN_KEYS = {
    "runtime[ms]", "throughput[images/s]", "DRAM_in_bandwidth[MB/s]", "DRAM_out_bandwidth[MB/s]",
    "fclk[mhz]", "batch_size", "fold_input[ms]", "pack_input[ms]", "copy_input_data_to_device[ms]",
    "copy_output_data_from_device[ms]", "unpack_output[ms]", "unfold_output[ms]",
}


def images(n, seed=7):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 72, 72, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def model():
    return binarycop.load(NCNV72)


def test_the_shapes_and_types_are_driver_pys(model):
    a = binarycop.Accelerator(DEPLOY, backend="sim", model=model, folding="ncnv")
    assert (a.ishape_normal, a.oshape_normal) == ((1, 72, 72, 3), (1, 1))
    assert (a.ishape_folded, a.ishape_packed, a.oshape_packed) == ((1, 72, 72, 1, 3), (1, 72, 72, 1, 3), (1, 1, 1))
    assert (a.idt, a.odt, a.batch_size, a.backend) == ("UINT8", "UINT8", 1, "sim")
    a.batch_size = 5
    assert a.ishape_normal == (5, 72, 72, 3) and a.oshape_normal == (5, 1)


@pytest.mark.parametrize("backend", ["sim", "cpu"])
def test_labels_equal_model_infer(model, backend):
    x = images(10)
    a = binarycop.Accelerator(DEPLOY, backend=backend, model=model, folding="ncnv", batch_size=10)
    out = a.execute(x.reshape(a.ishape_normal))
    assert out.shape == a.oshape_normal and out.dtype == np.float32
    labels, _ = model.infer(x)
    assert np.array_equal(out[:, 0].astype(np.int64), labels)
    # More than one class comes out, so the comparison says something.
    assert len(set(labels.tolist())) > 1 or len(set(model.infer(images(64, seed=3))[0].tolist())) > 1


def test_sim_labels_equal_the_clis_sim_backend(model, cli_json, tmp_path):
    x = images(4, seed=11)
    np.save(tmp_path / "x.npy", x)
    report = cli_json("infer", "--model", NCNV72, "--images", tmp_path / "x.npy", "--backend", "sim",
                      "--folding", "ncnv", "--deploy", DEPLOY)
    a = binarycop.Accelerator(DEPLOY, backend="sim", model=str(NCNV72), folding="ncnv", batch_size=4)
    assert a.execute(x)[:, 0].astype(int).tolist() == [r["label"] for r in report["results"]]


def test_throughput_test_has_finns_keys(model):
    a = binarycop.Accelerator(DEPLOY, backend="sim", model=model, folding="ncnv", batch_size=2)
    r = a.throughput_test()
    assert set(r) == FINN_KEYS
    assert r["batch_size"] == 2 and r["fclk[mhz]"] == 100.0
    assert r["runtime[ms]"] > 0 and r["throughput[images/s]"] > 0
    # 2 frames of 72×72×3 bytes in, 2 bytes out.
    assert r["DRAM_in_bandwidth[MB/s]"] == pytest.approx(2 * 72 * 72 * 3 * 1e-6 / (r["runtime[ms]"] / 1000))
