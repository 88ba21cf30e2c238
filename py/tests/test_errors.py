"""Bad input gives Python exceptions with the CLI's messages, never a crash."""

import numpy as np
import pytest

import binarycop
from conftest import DEPLOY, FIXTURES, NCNV72, cli_error

ONNX = FIXTURES / "ncnv_trained" / "model.onnx"


@pytest.fixture(scope="module")
def model():
    return binarycop.load(ONNX)


def test_a_missing_model_is_file_not_found_with_the_clis_message(cli, tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(FileNotFoundError) as e:
        binarycop.load(missing)
    r = cli("info", "--model", missing, check=False)
    assert str(e.value) == cli_error(r)


def test_a_corrupt_model_is_a_binarycop_error_with_the_clis_message(cli, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07not a model" * 10)
    with pytest.raises(binarycop.Error) as e:
        binarycop.load(bad)
    assert str(e.value) == cli_error(cli("info", "--model", bad, check=False))
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_bytes(b"not a zip")
    with pytest.raises(binarycop.FileError, match="not a zip archive"):
        binarycop.load(bad_npz)


def test_an_unknown_layer_or_method_is_a_value_error_with_the_clis_message(model, cli, tmp_path):
    x = np.load(FIXTURES / "ncnv_trained" / "inputs.npy")[:1]
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(ValueError) as e:
        model.cam(x, layer="Conv9_9")
    r = cli("cam", "--model", ONNX, "--images", tmp_path / "x.npy", "--layer", "Conv9_9",
            "--out", tmp_path / "o", check=False)
    assert str(e.value) == cli_error(r)
    with pytest.raises(ValueError) as e:
        model.cam(x, method="nocam")
    r = cli("cam", "--model", ONNX, "--images", tmp_path / "x.npy", "--layer", "Pool2", "--method", "nocam",
            "--out", tmp_path / "o", check=False)
    assert str(e.value) == cli_error(r)
    with pytest.raises(ValueError, match="unknown graph"):
        model.cam(x, graph="trained")
    with pytest.raises(ValueError, match="unknown STE"):
        model.cam(x, ste="straight")
    with pytest.raises(ValueError):
        model.trace(x, layers=["Nope"])


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((2, 32, 32), np.uint8), "N×H×W×C"),
        (np.zeros((1, 32, 32, 1), np.uint8), "1 channels"),
        (np.full((1, 32, 32, 3), 0.5, np.float32), "not a whole number"),
        (np.full((1, 32, 32, 3), 256, np.int32), "outside 0..=255"),
        (np.zeros((0, 32, 32, 3), np.uint8), "empty"),
        (np.array([["a"]]), "not a number type"),
    ],
)
def test_bad_images_are_value_errors(model, x, match):
    with pytest.raises(ValueError, match=match):
        model.infer(x)


def test_whole_number_images_of_other_types_are_taken(model):
    x = np.load(FIXTURES / "ncnv_trained" / "inputs.npy")[:4]
    for t in (np.float32, np.int64, np.uint16):
        assert np.array_equal(model.infer(x.astype(t))[1], model.infer(x)[1])


def test_other_sizes_are_resized_as_the_cli_resizes_pictures(model):
    x = np.load(FIXTURES / "ncnv_trained" / "inputs.npy")[:2]
    big = x.repeat(2, axis=1).repeat(2, axis=2)
    assert model.infer(big)[1].shape == (2, model.classes)
    with pytest.raises(ValueError, match="unknown resize"):
        model.infer(big, resize="lanczos")


def test_training_graph_of_an_artifact_is_refused(cli, tmp_path):
    art = tmp_path / "model.npz"
    cli("fold", "--model", ONNX, "--out", art)
    m = binarycop.load(art)
    x = np.load(FIXTURES / "ncnv_trained" / "inputs.npy")[:1]
    assert np.array_equal(m.infer(x)[1], binarycop.load(ONNX).infer(x)[1])
    with pytest.raises(binarycop.FileError, match="no training graph"):
        m.cam(x, graph="training")


def test_simulate_and_packing_errors(model, cli):
    with pytest.raises(ValueError) as e:
        model.simulate(clock_mhz=-1)
    r = cli("simulate", "--model", ONNX, "--folding", "cnv", "--clock-mhz=-1", check=False)
    assert str(e.value) == cli_error(r)
    with pytest.raises(FileNotFoundError):
        model.simulate(folding="/no/such/folding.json")
    with pytest.raises(ValueError, match="element 1"):
        binarycop.pack(np.array([[1, 16]]), "UINT4")
    with pytest.raises(ValueError, match="dtype"):
        binarycop.pack(np.array([[1]]), "UINT99")
    with pytest.raises(ValueError, match="needs 2"):
        binarycop.unpack(np.zeros((1, 3), np.uint8), "UINT4", output_shape=(1, 3))


def test_accelerator_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        binarycop.Accelerator(tmp_path / "nothing", backend="sim", model=NCNV72)
    with pytest.raises(ValueError, match="needs --model"):
        binarycop.Accelerator(DEPLOY, backend="sim")
    with pytest.raises(ValueError, match="unknown backend"):
        binarycop.Accelerator(DEPLOY, backend="fpga")
    # A 32×32 model against the 72×72 deployment: refused, as `infer --deploy` refuses it.
    with pytest.raises(ValueError, match="not a build of this model"):
        binarycop.Accelerator(DEPLOY, backend="cpu", model=ONNX)
    # No board here: the zynq backend fails with an exception, not a crash.
    with pytest.raises(binarycop.Error):
        binarycop.Accelerator(DEPLOY, backend="zynq")
    a = binarycop.Accelerator(DEPLOY, backend="cpu", model=NCNV72)
    with pytest.raises(ValueError, match="ishape_normal"):
        a.execute(np.zeros((2, 72, 72, 3), np.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        a.batch_size = 0
