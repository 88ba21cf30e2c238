"""A user's labelled image folder for python/train_models.py --dataset: the layout and class map
that `binarycop eval` reads (one subfolder per class, PNG/JPEG files at any depth below it; a
folder is named after a class or its index, or mapped by a --class-map JSON), read the way
binarycop reads it: decoded to RGB, resized to the model's input with OpenCV's INTER_LINEAR
(binarycop's `--resize cv2`, byte for byte), then balanced by subsampling every class to the
smallest one (the paper's recipe) and split into train and held-out images.

Needs numpy and opencv-python (python/requirements-toolbox.txt)."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np

IMAGE_EXT = (".png", ".jpg", ".jpeg")


def folder_key(name: str) -> str:
    """As src/eval/classmap.rs compares folder names: trimmed, lower case, '-' and ' ' as '_'."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def class_index(names: list[str], class_map: str | None):
    """folder name -> class index: by the map's "folders" (a class name or index), else by the
    class names or indices themselves."""
    keys = {folder_key(n): i for i, n in enumerate(names)}
    if class_map is None:
        return lambda folder: keys.get(folder_key(folder), _index(folder, len(names)))
    m = json.load(open(class_map))
    table = {}
    for folder, target in m["folders"].items():
        c = target if type(target) is int else keys.get(folder_key(target), _index(str(target), len(names)))
        if c is None or not 0 <= c < len(names):
            raise ValueError(f"{class_map}: folder '{folder}' maps to {target!r}, not a class of {names}")
        table[folder_key(folder)] = c
    return lambda folder: table.get(folder_key(folder))


def _index(s: str, n: int):
    return int(s) if s.isdigit() and int(s) < n else None


def class_names(class_map: str | None, classes: int) -> list[str]:
    """The map's class_names, else the paper's four (as binarycop's synth and eval name them)."""
    if class_map is not None:
        names = json.load(open(class_map)).get("class_names")
        if names:
            return names
    if classes == 4:
        return ["correctly_masked", "nose_exposed", "nose_mouth_exposed", "chin_exposed"]
    return [str(i) for i in range(classes)]


def scan(root: str, classes: int, class_map: str | None):
    """[(path, class)] of every image file below the class folders of `root`, sorted."""
    index = class_index(class_names(class_map, classes), class_map)
    out, seen = [], set()
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        c = index(entry.name)
        if c is None:
            raise ValueError(f"{entry.path}: folder '{entry.name}' is not a class (pass --class-map)")
        for d, subdirs, files in os.walk(entry.path):
            subdirs[:] = sorted(s for s in subdirs if not s.startswith("."))
            images = [(os.path.join(d, f), c) for f in sorted(files) if f.lower().endswith(IMAGE_EXT)]
            out += images
            if images:
                seen.add(c)
    if len(seen) < 2:
        raise ValueError(f"{root}: images of {len(seen)} class(es); training needs at least two (as eval says)")
    return out


def load(root: str, size: int, classes: int, class_map: str | None, *, seed: int, held_out: float):
    """(x_train, y_train, x_held_out, y_held_out, counts): uint8 N×size×size×3 images, balanced by
    subsampling each class to the smallest, shuffled with `seed`, the last `held_out` share of
    each class held out. Unreadable files are skipped and counted in counts['skipped']."""
    files = scan(root, classes, class_map)
    rng = np.random.default_rng(seed)
    by_class = {}
    for p, c in files:
        by_class.setdefault(c, []).append(p)
    smallest = min(len(v) for v in by_class.values())
    xs, ys, hx, hy, skipped = [], [], [], [], 0
    for c, paths in sorted(by_class.items()):
        pick = [paths[i] for i in rng.permutation(len(paths))[:smallest]]
        imgs = []
        for p in pick:
            bgr = cv2.imread(p, cv2.IMREAD_COLOR)
            if bgr is None:
                skipped += 1
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if rgb.shape[:2] != (size, size):
                rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
            imgs.append(rgb)
        n_held = int(round(len(imgs) * held_out))
        xs += imgs[n_held:]
        ys += [c] * (len(imgs) - n_held)
        hx += imgs[:n_held]
        hy += [c] * n_held
    counts = dict(files=len(files), per_class_before=[len(by_class.get(c, [])) for c in range(classes)],
                  per_class_used=smallest, skipped=skipped, train=len(xs), held_out=len(hx))
    order = rng.permutation(len(xs))
    x = np.stack(xs)[order] if xs else np.zeros((0, size, size, 3), np.uint8)
    y = np.array(ys, dtype=np.int64)[order]
    hxa = np.stack(hx) if hx else np.zeros((0, size, size, 3), np.uint8)
    return x, y, hxa, np.array(hy, dtype=np.int64), counts
