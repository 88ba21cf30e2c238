"""Long calls release the GIL: another Python thread keeps running during them."""

import math
import os
import signal
import threading
import time

import numpy as np
import pytest

import binarycop
from conftest import FIXTURES


def count_until(done: threading.Event) -> int:
    n = 0
    while not done.is_set():
        n += 1
    return n


def test_another_thread_runs_during_a_cam_batch():
    m = binarycop.load(FIXTURES / "ncnv_trained" / "model.onnx")
    x = np.load(FIXTURES / "ncnv_trained" / "inputs.npy")
    # A batch that takes about a second on this machine, whatever its speed: one chunk of 64
    # images timed first, then as many chunks (at least 6) as a second needs.
    start = time.perf_counter()
    m.cam(np.concatenate([x] * 2), layer="Conv1_2", method="scorecam")
    chunk = time.perf_counter() - start
    chunks = min(200, max(6, math.ceil(1.0 / max(chunk, 1e-3))))
    x = np.concatenate([x] * (2 * chunks))
    # The loop's speed with nothing else running, over 0.2 s.
    idle = threading.Event()
    threading.Timer(0.2, idle.set).start()
    rate = count_until(idle) / 0.2
    done = threading.Event()
    took = []

    def work():
        start = time.perf_counter()
        m.cam(x, layer="Conv1_2", method="scorecam")
        took.append(time.perf_counter() - start)
        done.set()

    th = threading.Thread(target=work)
    th.start()
    n = count_until(done)
    th.join()
    assert took[0] > 0.6, "the call is long enough to tell"
    # Holding the GIL, the call leaves this loop a few 5 ms switch intervals per chunk (about
    # 20-60 ms of counting, measured with the GIL held); released, more than a third of the call.
    assert n > rate * 0.25, (n, rate, took)


def test_ctrl_c_stops_a_long_batch_between_chunks():
    m = binarycop.load(FIXTURES / "ncnv_trained" / "model.onnx")
    x = np.load(FIXTURES / "ncnv_trained" / "inputs.npy")
    start = time.perf_counter()
    m.cam(np.concatenate([x] * 2), layer="Conv1_2", method="scorecam")
    chunk = time.perf_counter() - start  # one chunk of 64 images
    many = np.concatenate([x] * 16)  # 8 chunks
    threading.Timer(chunk / 2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        m.cam(many, layer="Conv1_2", method="scorecam")
    took = time.perf_counter() - start
    # Stopped after the chunk running when Ctrl-C came, not after all 8.
    assert took < 4 * chunk, (took, chunk)
