"""Make hw/tests/data/clock_vectors.json: PL clock register values computed by PYNQ's own
`Clocks` code (pynq/ps.py), for hw/tests/clocks.rs.

PYNQ is not a pip dependency of this project and is not committed. Give this script a PYNQ
source tree (a checkout of github.com/Xilinx/PYNQ at a release tag, e.g. v3.1 or v2.7.0):

    git -C PYNQ archive v3.1 pynq | tar -x -C /tmp/pynq-v3.1
    python python/make_clock_vectors.py /tmp/pynq-v3.1 > hw/tests/data/clock_vectors.json

It copies ps.py, registers.py, mmio.py and _3rdparty/ into a stub package in a temporary folder
(PYNQ's own __init__ pulls in the whole board stack), gives `_ClocksZynq` / `_ClocksUltrascale`
a fake device whose `mmap` returns numpy arrays (the register windows), sets each case's
starting register values, calls PYNQ's `get_pl_clk(0)` and `set_pl_clk(0, …)`, and records the
registers before and after. Needs numpy only.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

SLCR = 0xF8000000
CRL = 0xFF5E0000
CRF = 0xFD1A0000


class FakeDevice:
    """The part of pynq's Device that MMIO uses: memory-mapped arrays per base address."""

    def __init__(self, arch, windows):
        self.arch = arch
        self.windows = windows

    def has_capability(self, cap):
        return cap == "MEMORY_MAPPED"

    def mmap(self, base, length):
        return self.windows[base]


def stub_package(src: Path, dst: Path) -> None:
    pkg = dst / "pynq"
    (pkg / "_3rdparty").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for f in ["ps.py", "registers.py", "mmio.py"]:
        shutil.copy(src / "pynq" / f, pkg / f)
    for f in (src / "pynq" / "_3rdparty").glob("*.py"):
        shutil.copy(f, pkg / "_3rdparty" / f.name)


def words(arr, offsets):
    return {f"{o:#x}": int(arr[o // 4]) for o in offsets}


def case(name, family, ref, want, before, mhz_before, after, mhz_after):
    return {
        "name": name,
        "family": family,
        "ref_mhz": ref,
        "want_mhz": want,
        "before": before,
        "fclk0_mhz_before": mhz_before,
        "after": after,
        "fclk0_mhz_after": mhz_after,
    }


def zynq_case(ps, name, ref, pll_fdiv, srcsel, div0, div1, want):
    slcr = np.zeros(0x200 // 4, dtype=np.uint32)
    for off in (0x100, 0x104, 0x108):
        slcr[off // 4] = pll_fdiv[off] << 12
    slcr[0x170 // 4] = (div1 << 20) | (div0 << 8) | (srcsel << 4)
    offsets = [0x100, 0x104, 0x108, 0x170]
    before = words(slcr, offsets)
    clk = ps._ClocksZynq(ref, device=FakeDevice("armv7l", {SLCR: slcr}))
    mhz_before = clk.get_pl_clk(0)
    clk.set_pl_clk(0, clk_mhz=want)
    return case(name, "zynq7000", ref, want, before, mhz_before, words(slcr, offsets), clk.get_pl_clk(0))


def zu_case(ps, name, ref, plls, srcsel, div0, div1, clkact, want):
    crl = np.zeros(0x100 // 4, dtype=np.uint32)
    crf = np.zeros(0x100 // 4, dtype=np.uint32)
    for (arr, off), (fbdiv, div2) in plls.items():
        (crl if arr == "crl" else crf)[off // 4] = (div2 << 16) | (fbdiv << 8)
    crl[0xC0 // 4] = (clkact << 24) | (div1 << 16) | (div0 << 8) | srcsel
    before = {"crl": words(crl, [0x20, 0x30, 0xC0]), "crf": words(crf, [0x2C])}
    clk = ps._ClocksUltrascale(ref, device=FakeDevice("aarch64", {CRL: crl, CRF: crf}))
    mhz_before = clk.get_pl_clk(0)
    clk.set_pl_clk(0, clk_mhz=want)
    after = {"crl": words(crl, [0x20, 0x30, 0xC0]), "crf": words(crf, [0x2C])}
    return case(name, "zynqmp", ref, want, before, mhz_before, after, clk.get_pl_clk(0))


def main():
    src = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        stub_package(src, Path(tmp))
        sys.path.insert(0, tmp)
        from pynq import ps  # noqa: E402

        zpll = {0x100: 40, 0x104: 32, 0x108: 20}  # ARM 2000, DDR 1600, IO 1000 MHz at 50 MHz
        cases = [
            # Pynq-Z1/Z2: 50 MHz PS_CLK, IO PLL ×20 = 1000 MHz; Vivado's 5×2 → PYNQ's 10×1.
            zynq_case(ps, "pynq-z1 100 MHz", 50.0, zpll, 0, 5, 2, 100.0),
            # The same board left at 50 MHz by another overlay, brought back to 100.
            zynq_case(ps, "pynq-z1 from 50 MHz", 50.0, zpll, 0, 10, 2, 100.0),
            # A 142.86 MHz request: 1000/142.86 = 7.0.
            zynq_case(ps, "pynq-z1 142.86 MHz", 50.0, zpll, 0, 5, 2, 142.86),
            # fclk0 from the DDR PLL (SRCSEL 3): 1600 / 16 = 100.
            zynq_case(ps, "zynq ddr pll", 50.0, zpll, 3, 4, 4, 100.0),
            # ZCU104 / Ultra96: 33.333 MHz reference, IOPLL ×90 / 2 = 1499.985 MHz; 15×1 ≈ 100.
            zu_case(ps, "zcu104 100 MHz", 33.333, {("crl", 0x20): (90, 1), ("crl", 0x30): (72, 1),
                                                   ("crf", 0x2C): (64, 1)}, 0, 10, 1, 1, 100.0),
            # From the RPLL (×72 / 2 = 1199.988 MHz) at 300 MHz, clock output off.
            zu_case(ps, "zu rpll 300 MHz", 33.333, {("crl", 0x20): (90, 1), ("crl", 0x30): (72, 1),
                                                    ("crf", 0x2C): (64, 1)}, 2, 6, 2, 0, 300.0),
            # From the DPLL in CRF_APB (×64 / 2 = 1066.656 MHz) at 187.5 MHz: no pair within 1%
            # (PYNQ warns and sets 177.776 MHz).
            zu_case(ps, "zu dpll 187.5 MHz", 33.333, {("crl", 0x20): (90, 1), ("crl", 0x30): (72, 1),
                                                      ("crf", 0x2C): (64, 1)}, 3, 20, 1, 1, 187.5),
        ]
    json.dump({"source": f"PYNQ {src.name.removeprefix('pynq-')}: pynq/ps.py Clocks", "cases": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
