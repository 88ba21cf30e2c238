#!/usr/bin/env python3
"""Reference vectors for binarycop's `cv2` resize policy (src/data/resize.rs).

Writes tests/fixtures/resize/cv2_linear.npz and cases.json: for every case the input (stored, or a
procedural pattern that Rust computes the same way) and OpenCV's output of

    cv2.resize(img, (out_w, out_h))                    # the default, INTER_LINEAR, on uint8

optionally after a crop `img[y0:y1, x0:x1]` and followed by `cv2.cvtColor(.., COLOR_BGR2RGB)`, as
BinaryCoP's notebook (`processing.py`: `resize`, and `rev` for webcam frames) does.

Run with the toolbox venv (opencv-python-headless):

    /root/.venv-toolbox/bin/python python/make_resize_fixtures.py --out tests/fixtures/resize

Deterministic: a rerun writes the same bytes (the inputs come from a fixed numpy seed).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import zipfile

import cv2
import numpy as np


def pattern(h: int, w: int, c: int) -> np.ndarray:
    """((x·73 + y·151 + c·41) XOR (x·y)) mod 256: texture at every scale, computed exactly the same way
    by tests/resize.rs for inputs too large to commit."""
    y, x, ch = np.meshgrid(np.arange(h, dtype=np.int64), np.arange(w, dtype=np.int64),
                           np.arange(c, dtype=np.int64), indexing="ij")
    return (((x * 73 + y * 151 + ch * 41) ^ (x * y)) & 255).astype(np.uint8)


def smooth(rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
    """Noise plus gradients, so both rounding-heavy and smooth regions occur."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = (xx * 255.0 / max(w - 1, 1) * 0.5 + yy * 255.0 / max(h - 1, 1) * 0.5)[..., None]
    noise = rng.integers(-40, 41, size=(h, w, c))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


# name, input (h, w, c), source ("random" | "smooth" | "pattern"), output (h, w), crop (x0, x1, y0, y1) or None, bgr
CASES = [
    ("up_1x1_to_3x5", (1, 1, 1), "random", (3, 5), None, False),
    ("row_to_1x1", (1, 5, 3), "random", (1, 1), None, False),
    ("column_to_2x7", (5, 1, 3), "random", (2, 7), None, False),
    ("up_2x2_to_7x9", (2, 2, 3), "random", (7, 9), None, False),
    ("down_7x9_to_2x2", (7, 9, 3), "random", (2, 2), None, False),
    ("half_10x12_to_5x6", (10, 12, 3), "random", (5, 6), None, False),
    ("half_64_to_32", (64, 64, 3), "smooth", (32, 32), None, False),
    ("half_y_third_x", (10, 12, 3), "random", (5, 4), None, False),
    ("third_9_to_3", (9, 9, 3), "random", (3, 3), None, False),
    ("odd_9x9_to_4x4", (9, 9, 3), "random", (4, 4), None, False),
    ("up_32_to_72", (32, 32, 3), "smooth", (72, 72), None, False),
    ("up_3x3_to_100x1", (3, 3, 3), "random", (100, 1), None, False),
    ("down_120_to_72", (120, 120, 3), "random", (72, 72), None, False),
    ("down_33x47_to_11x13", (33, 47, 3), "random", (11, 13), None, False),
    ("grey_13x17_to_29x31", (13, 17, 1), "random", (29, 31), None, False),
    ("grey_17x13_to_5x3", (17, 13, 1), "random", (5, 3), None, False),
    ("same_size_72", (72, 72, 3), "random", (72, 72), None, False),
    ("up_5x7_to_72x72", (5, 7, 3), "random", (72, 72), None, False),
    ("near_one_71_to_72", (71, 73, 3), "random", (72, 72), None, False),
    ("down_200x300_to_72", (200, 300, 3), "pattern", (72, 72), None, False),
    ("pattern_1024_to_72", (1024, 1024, 3), "pattern", (72, 72), None, False),
    ("pattern_1024_to_32", (1024, 1024, 3), "pattern", (32, 32), None, False),
    ("pattern_480x640_to_72", (480, 640, 3), "pattern", (72, 72), None, False),
    ("pattern_720x1280_to_72", (720, 1280, 3), "pattern", (72, 72), None, False),
    # processing.rev(): a 160×120 webcam frame (BGR), columns 20:140, 72×72, BGR→RGB
    ("webcam_rev_160x120", (120, 160, 3), "smooth", (72, 72), (20, 140, 0, 120), True),
    ("webcam_rev_pattern", (120, 160, 3), "pattern", (72, 72), (20, 140, 0, 120), True),
    ("crop_odd_then_up", (21, 23, 3), "random", (40, 30), (3, 20, 1, 18), False),
]


def reference(img: np.ndarray, out_hw, crop, bgr) -> np.ndarray:
    if crop is not None:
        x0, x1, y0, y1 = crop
        img = img[y0:y1, x0:x1, :]
    out = cv2.resize(np.ascontiguousarray(img), (out_hw[1], out_hw[0]))
    if out.ndim == 2:
        out = out[..., None]
    if bgr:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return out


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures/resize")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20240601)
    cases = []
    arrays = {}
    for name, (h, w, c), source, out_hw, crop, bgr in CASES:
        if source == "pattern":
            img = pattern(h, w, c)
        elif source == "smooth":
            img = smooth(rng, h, w, c)
        else:
            img = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        out = reference(img, out_hw, crop, bgr)
        if source != "pattern":
            arrays[f"{name}.in"] = img
        arrays[f"{name}.out"] = out
        cases.append(dict(name=name, input=[h, w, c], source=source, output=list(out_hw),
                          crop=list(crop) if crop else None, bgr=bgr))
    # A fixed zip (sorted names, fixed timestamps) so that reruns are byte-identical.
    path = os.path.join(args.out, "cv2_linear.npz")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, npy_bytes(arrays[key]))
    meta = dict(generator="python/make_resize_fixtures.py", opencv=cv2.__version__, numpy=np.__version__,
                call="cv2.resize(img[y0:y1, x0:x1], (out_w, out_h)) [then cv2.cvtColor(COLOR_BGR2RGB) when bgr]",
                pattern="((x*73 + y*151 + c*41) ^ (x*y)) & 255", cases=cases)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {args.out} (OpenCV {cv2.__version__})")


if __name__ == "__main__":
    main()
