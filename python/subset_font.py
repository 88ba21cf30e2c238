"""Subsets DejaVu Sans (regular and bold) to the characters binarycop's figures draw, so the
font embedded in the binary stays small (about 40 KB per face instead of 700 KB).

    /root/.venv-toolbox/bin/python python/subset_font.py \
        --src /usr/share/fonts/truetype/dejavu --out assets/fonts

The sources come from Debian's `fonts-dejavu-core` (DejaVu 2.37). Licence: the Bitstream Vera
licence (DejaVu's changes are public domain), which allows modified copies under a name without
"Bitstream" or "Vera"; the subset keeps the name "DejaVu Sans" and its copyright notices, and
assets/fonts/LICENSE carries the licence text. Needs fontTools (installed with matplotlib in the
toolbox venv).
"""

import argparse
from pathlib import Path

from fontTools import subset

# Printable ASCII, Latin-1, and the symbols the figures and plots use.
UNICODES = (
    list(range(0x20, 0x7F))
    + list(range(0xA0, 0x100))
    + [
        0x2013,  # en dash
        0x2014,  # em dash
        0x2018, 0x2019, 0x201C, 0x201D,  # quotes
        0x2026,  # ellipsis
        0x2190, 0x2192,  # arrows
        0x2212,  # minus
        0x2248,  # almost equal
        0x2260,  # not equal
        0x2264, 0x2265,  # less / greater or equal
        0x2713, 0x2717,  # check and ballot marks
        0x0394, 0x03B1, 0x03B2, 0x03C3,  # Δ α β σ
    ]
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", type=Path, default=Path("/usr/share/fonts/truetype/dejavu"))
    ap.add_argument("--out", type=Path, default=Path("assets/fonts"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ["DejaVuSans", "DejaVuSans-Bold"]:
        opts = subset.Options()
        opts.layout_features = ["kern", "liga"]
        opts.name_IDs = ["*"]  # keep every name record: copyright, licence, trademark
        opts.hinting = False
        opts.desubroutinize = True
        font = subset.load_font(str(args.src / f"{name}.ttf"), opts)
        s = subset.Subsetter(opts)
        s.populate(unicodes=UNICODES)
        s.subset(font)
        out = args.out / f"{name}-subset.ttf"
        subset.save_font(font, str(out), opts)
        print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
