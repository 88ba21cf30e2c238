#!/usr/bin/env python3
"""Estimates (not measurements) of the engine on the boards' CPUs, from llvm-mca.

qemu cannot time the NEON kernels, so this script asks llvm-mca (Debian's `llvm` package) how
many cycles one pass of each kernel's inner loop takes on a Cortex-A9 (PYNQ-Z1/Z2, 650 MHz) and
a Cortex-A53 (Ultra96/ZCU104, 1.2 GHz), old kernel against new, and builds a cycle model of one
CNV forward pass from those figures:

  cycles = sum over binary layers of (loop passes × cycles per pass)
         + the first layer's passes × cycles per pass

Loop passes are counted from the CNV topology (pixels × row blocks × window words per pass).
Not modelled: loop entry and exit, the per-pixel epilogue (threshold compare and bit store),
odd-word tails, pooling, cache misses. So the figures are optimistic lower bounds on time.
Grad-CAM and Score-CAM at Pool2 are derived from the forward pass: Score-CAM runs one forward
pass per channel map (128) plus one; Grad-CAM costs GRADCAM_OVER_FORWARD forward passes, the
ratio measured on x86 (deployed Grad-CAM 0.44 ms against a 0.097 ms forward pass), assumed to
carry over to the boards.

The armv7 loops are read from the inline assembly in src/engine/kernels/neon_arm.rs (new) and
from the same file at commit c54c108 (old, one row at a time). The aarch64 loops are the
instruction sequences the intrinsics in src/engine/kernels/neon.rs (new: 4 rows per register,
weights resident, 18 lane words per 9-word window) and its c54c108 version (old: one row, 16
bytes per pass) map to, one instruction per intrinsic.

Usage: python3 benches/board_estimates.py   (prints a Markdown table)
"""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = "c54c108"
A9_HZ, A53_HZ = 650e6, 1.2e9
GRADCAM_OVER_FORWARD = 0.44 / 0.097
SCORECAM_PASSES = 128 + 1

# CNV: (name, output pixels, output channels, window words of 64 bits); binary layers only.
CNV_BIN = [
    ("Conv1_2", 28 * 28, 64, 9),
    ("Conv2_1", 12 * 12, 128, 9),
    ("Conv2_2", 10 * 10, 128, 18),
    ("Conv3_1", 3 * 3, 256, 18),
    ("Conv3_2", 1, 256, 36),
    ("FC1", 1, 512, 4),
    ("FC2", 1, 512, 8),
    ("FC3", 1, 4, 8),
]
# The first layer: 30×30 pixels, 64 channels, 27 taps (i16 lanes: 8 channels per q register).
FIRST = (30 * 30, 64, 27)

REGS = {"{t}": "r1", "{u}": "r5", "{x}": "r0", "{off}": "r2", "{w}": "r3", "{pairs}": "r4",
        "{pa}": "r0", "{pb}": "r1", "{n}": "r2", "{out}": "r6"}


def asm_lines(text, begin, end):
    """The quoted instructions between two markers of a Rust asm! block."""
    body = text[text.index(begin):text.index(end)]
    out = []
    for line in re.findall(r'^\s*"([^"]+)",', body, re.M):
        if line.endswith(":") or line.startswith(("bne", "b.ne", "beq")):
            continue
        for k, v in REGS.items():
            line = line.replace(k, v)
        out.append(line.replace("{{", "{").replace("}}", "}"))
    return out


def armv7_loops():
    new = (ROOT / "src/engine/kernels/neon_arm.rs").read_text()
    old = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD}:src/engine/kernels/neon_arm.rs"],
                         check=True, capture_output=True, text=True).stdout
    new_loop = asm_lines(new, "// pair loop: begin", "// pair loop: end")
    old_loop = asm_lines(old, '"2:",', '"bne 2b",')
    return (old_loop, 1), (new_loop, 1)


def staged(groups):
    """Interleaves the per-word instruction lists of a group stage by stage (all loads, then all
    XORs, ...): how a compiler schedules an unrolled loop for an in-order core."""
    out = []
    for stage in range(max(len(g) for g in groups)):
        out += [g[stage] for g in groups if stage < len(g)]
    return out


def aarch64_loops():
    """The aarch64 loops as the intrinsics map to instructions, unrolled and scheduled in
    stages (`staged`) as the compiler does for the in-order Cortex-A53."""
    # Old: one row, 16 bytes per pass (two loads, eor, cnt, byte add); 4 passes unrolled.
    old = staged([[f"ld1 {{v{2 * i}.2d}}, [x0], #16", f"ld1 {{v{2 * i + 1}.2d}}, [x1], #16",
                   f"eor v{2 * i}.16b, v{2 * i}.16b, v{2 * i + 1}.16b", f"cnt v{2 * i}.16b, v{2 * i}.16b",
                   f"add v{16 + i}.16b, v{16 + i}.16b, v{2 * i}.16b"] for i in range(4)])
    old.append("subs x2, x2, #4")
    old = (old, 4)  # four loop passes per block
    # New: one pixel against a resident block of 4 rows (18 lane words in v8-v25): per window
    # word its offset, then both halves broadcast, XOR, count, byte add; then the widening and
    # the threshold compare of the epilogue.
    words = []
    for j in range(9):
        for h in range(2):
            t, w = (2 * j + h) % 6, 8 + 2 * j + h
            words.append([f"ldr x9, [x2, #{8 * j + 4 * h}]", f"add x10, x0, x9, lsl #3",
                          f"ld1r {{v{t}.4s}}, [x10]", f"eor v{t}.16b, v{t}.16b, v{w}.16b",
                          f"cnt v{t}.16b, v{t}.16b", f"add v{26 + h}.16b, v{26 + h}.16b, v{t}.16b"])
    new = []
    for g in range(0, 18, 6):
        new += staged(words[g:g + 6])
    new += ["add v26.16b, v26.16b, v27.16b", "uaddlp v26.8h, v26.16b", "uaddlp v26.4s, v26.8h",
            "cmhs v28.4s, v30.4s, v26.4s", "and v28.16b, v28.16b, v31.16b", "addv s28, v28.4s",
            "fmov w12, s28", "add x1, x1, #8", "subs x3, x3, #1"]
    return old, (new, 1)  # one pixel and block per pass


def mca(lines, triple, cpu, attrs=""):
    """llvm-mca's steady-state cycles per pass of `lines`."""
    cmd = ["llvm-mca", f"-mtriple={triple}", f"-mcpu={cpu}", "-iterations=1000"]
    if attrs:
        cmd.append(f"-mattr={attrs}")
    r = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"llvm-mca failed: {r.stderr.strip()}")
    return int(re.search(r"Total Cycles:\s+(\d+)", r.stdout).group(1)) / 1000


def first_layer_loop(isa):
    """The first layer's inner loop as the portable body vectorizes it: per tap, one code
    broadcast, then AND with 8 mask registers (64 channels) and add into 8 i16 accumulators."""
    if isa == "armv7":
        body = ["ldrb r1, [r0], #1", "vdup.16 q8, r1", "vld1.16 {d18, d19, d20, d21}, [r2]!",
                "vld1.16 {d22, d23, d24, d25}, [r2]!"]
        for q in range(8):
            body += [f"vand q13, q8, q{9 + q % 4}", f"vadd.i16 q{q % 2}, q{q % 2}, q13"]
        return body + ["subs r3, r3, #1"]
    body = ["ldrb w1, [x0], #1", "dup v16.8h, w1", "ld1 {v17.8h, v18.8h, v19.8h, v20.8h}, [x2], #64",
            "ld1 {v21.8h, v22.8h, v23.8h, v24.8h}, [x2], #64"]
    for q in range(8):
        body += [f"and v25.16b, v16.16b, v{17 + q}.16b", f"add v{q}.8h, v{q}.8h, v25.8h"]
    return body + ["subs x3, x3, #1"]


def passes(kernel):
    """Inner-loop passes of one CNV forward pass, per kernel."""
    if kernel == "old":  # one row per pass of 2 words (armv7) / 2 words (aarch64)
        return sum(px * rows * (words // 2) for _, px, rows, words in CNV_BIN)
    if kernel == "new-armv7":  # 4 rows, 2 window words per pass
        return sum(px * -(-rows // 4) * (words // 2) for _, px, rows, words in CNV_BIN)
    if kernel == "new-aarch64":  # 4 rows, a whole 9-word window per pass (pro rata for others)
        return sum(px * -(-rows // 4) * words / 9 for _, px, rows, words in CNV_BIN)
    raise ValueError(kernel)


def main():
    a9 = ("armv7-linux-gnueabihf", "cortex-a9", "+neon")
    a53 = ("aarch64-linux-gnu", "cortex-a53", "")
    old7, new7 = armv7_loops()
    old8, new8 = aarch64_loops()
    px, ch, taps = FIRST
    first_passes = px * taps * (ch // 64)
    rows = []
    for board, cpu, hz, old, new, new_kind, isa in [
        ("PYNQ-Z1/Z2", a9, A9_HZ, old7, new7, "new-armv7", "armv7"),
        ("Ultra96/ZCU104", a53, A53_HZ, old8, new8, "new-aarch64", "aarch64"),
    ]:
        c_old, c_new = mca(old[0], *cpu) / old[1], mca(new[0], *cpu) / new[1]
        c_first = mca(first_layer_loop(isa), *cpu)
        first = first_passes * c_first
        fwd_old = passes("old") * c_old + first
        fwd_new = passes(new_kind) * c_new + first
        for name, cycles, per_pass in [("old", fwd_old, c_old), ("new", fwd_new, c_new)]:
            t = cycles / hz
            rows.append((board, cpu[1], name, per_pass, cycles / 1e6, t * 1e3, 1 / t,
                         GRADCAM_OVER_FORWARD * t * 1e3, SCORECAM_PASSES * t * 1e3))
    print("| board (CPU, clock) | kernel | cycles per loop pass | CNV forward, Mcycles | ms | images/s "
          "| Grad-CAM Pool2, ms | Score-CAM Pool2, ms |")
    print("|---|---|---|---|---|---|---|---|")
    for board, cpu, name, per_pass, mcyc, ms, ips, gc, sc in rows:
        clock = "650 MHz" if cpu == "cortex-a9" else "1.2 GHz"
        print(f"| {board} ({cpu}, {clock}) | {name} | {per_pass:.1f} | {mcyc:.2f} | {ms:.2f} | {ips:.0f} "
              f"| {gc:.1f} | {sc:.0f} |")


if __name__ == "__main__":
    main()
