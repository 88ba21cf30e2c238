#!/usr/bin/env python3
"""Inputs for examples/resize_gap.rs: how far apart the resize policies are on real pictures.

For every picture (decoded once, by PIL, to RGB) it stores the source and two references at the
target size: OpenCV's `cv2.resize(img, (w, h))` (INTER_LINEAR, what BinaryCoP's notebook uses) and
PIL's `Image.resize((w, h), Image.BILINEAR)`. The Rust example adds binarycop's two policies
(`cv2`, which must equal OpenCV's bytes, and the image crate's `triangle`) and prints mean and max
|Δ| in grey levels.

    /root/.venv-toolbox/bin/python python/resize_gap.py --size 72 --out /tmp/gap_pictures.npz PICTURES...
    cargo run --release --example resize_gap -- /tmp/gap_pictures.npz

Nothing here is committed: the pictures are BinaryCoP's notebook pictures (its repository's
`notebook/pictures/1-6.jpg`) and `binarycop synth` faces drawn at 288×288.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pictures", nargs="+")
    ap.add_argument("--size", type=int, default=72)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    arrays = {}
    for i, p in enumerate(sorted(args.pictures)):
        src = np.asarray(Image.open(p).convert("RGB"))
        arrays[f"{i}.src"] = src
        arrays[f"{i}.cv2"] = cv2.resize(src, (args.size, args.size))
        arrays[f"{i}.pil"] = np.asarray(Image.fromarray(src).resize((args.size, args.size), Image.BILINEAR))
    np.savez(args.out, **arrays)
    print(f"{len(args.pictures)} pictures → {args.out} (OpenCV {cv2.__version__}, Pillow {Image.__version__})")


if __name__ == "__main__":
    main()
