#!/usr/bin/env python3
"""Write the CNV final_hw_config.json fixture the way a FINN build writes it.

FINN's step_set_fifo_depths (finn 39f0c9a, src/finn/builder/build_dataflow_steps.py:606-621)
calls qonnx's extract_model_config_to_json (qonnx fd61cfe, src/qonnx/util/config.py:34-51): a
"Defaults" entry (empty), then every node of the final dataflow graph in graph order, each with
those of the attributes below that its op type has, in this order:

    PE, SIMD, parallel_window, ram_style, depth, impl_style, resType, mem_mode,
    runtime_writeable_weights, inFIFODepths, outFIFODepths, depth_trigger_uram, depth_trigger_bram

The graph is CNV-W1A1's with the paper's folding after InsertDWC and InsertFIFO
(create_shallow_fifos): a FIFO before the first node, between every two nodes and after the last;
a width converter wherever widths differ, all StreamingDataWidthConverter_rtl since every pair of
CNV widths divides (specialize_layers.py:183-194); names numbered per op type in graph order
(GiveUniqueNodeNames). InsertAndSetFIFODepths sets each non-FIFO node's inFIFODepths and
outFIFODepths to its neighbouring FIFOs' depths; FIFO nodes keep their default [0].

The FIFO depths are a largefifo_rtlsim sizing of this graph (binarycop's mirror of it, with
depths above 256 as vivado FIFOs, the first and last FIFO rtl); they stand in for a real build's,
which differ run to run. Run: python3 python/make_finn_final_hw_config.py > sim/tests/data/cnv_final_hw_config.json
"""

import json
import sys

# (op type, attributes) in graph order, FIFOs left out; widths in bits of each node's in/out.
LAYERS = [
    ("Thresholding_rtl", {"PE": 1, "runtime_writeable_weights": 0, "depth_trigger_uram": 0, "depth_trigger_bram": 0}, 8, 8),
    ("ConvolutionInputGenerator_rtl", {"SIMD": 3, "parallel_window": 0, "ram_style": "distributed"}, 24, 24),
    ("MVAU_hls", {"PE": 16, "SIMD": 3}, 24, 16),
    ("ConvolutionInputGenerator_rtl", {"SIMD": 32, "parallel_window": 0, "ram_style": "distributed"}, 32, 32),
    ("MVAU_hls", {"PE": 32, "SIMD": 32}, 32, 32),
    ("StreamingMaxPool_hls", {"PE": 1}, 64, 64),
    ("ConvolutionInputGenerator_rtl", {"SIMD": 32, "parallel_window": 0, "ram_style": "distributed"}, 32, 32),
    ("MVAU_hls", {"PE": 16, "SIMD": 32}, 32, 16),
    ("ConvolutionInputGenerator_rtl", {"SIMD": 32, "parallel_window": 0, "ram_style": "distributed"}, 32, 32),
    ("MVAU_hls", {"PE": 16, "SIMD": 32}, 32, 16),
    ("StreamingMaxPool_hls", {"PE": 1}, 128, 128),
    ("ConvolutionInputGenerator_rtl", {"SIMD": 32, "parallel_window": 0, "ram_style": "distributed"}, 32, 32),
    ("MVAU_hls", {"PE": 4, "SIMD": 32}, 32, 4),
    ("ConvolutionInputGenerator_rtl", {"SIMD": 32, "parallel_window": 0, "ram_style": "distributed"}, 32, 32),
    ("MVAU_hls", {"PE": 1, "SIMD": 32}, 32, 1),
    ("MVAU_hls", {"PE": 1, "SIMD": 4}, 4, 1),
    ("MVAU_hls", {"PE": 1, "SIMD": 8}, 8, 1),
    ("MVAU_hls", {"PE": 4, "SIMD": 1}, 1, 64),
    ("LabelSelect_hls", {"PE": 1}, 16, 8),
]
MVAU_ATTRS = {"ram_style": "auto", "resType": "lut", "mem_mode": "internal_decoupled", "runtime_writeable_weights": 0}
# One depth per FIFO in graph order (31: before, between and after the 30 nodes).
DEPTHS = [2, 777, 1024, 8100, 2, 2, 2, 2, 2, 32, 32, 180, 2, 2, 974, 2, 2, 32, 32, 108, 2, 2, 2, 2, 64, 2, 63, 2, 2, 2, 2]
ORDER = ["PE", "SIMD", "parallel_window", "ram_style", "depth", "impl_style", "resType", "mem_mode",
         "runtime_writeable_weights", "inFIFODepths", "outFIFODepths", "depth_trigger_uram", "depth_trigger_bram"]


def nodes():
    """The dataflow nodes with converters, in graph order: (op type, attributes)."""
    out = []
    prev_out = None
    for op, attrs, w_in, w_out in LAYERS:
        if prev_out is not None and prev_out != w_in:
            out.append(("StreamingDataWidthConverter_rtl", {}))
        a = dict(attrs)
        if op == "MVAU_hls":
            a.update(MVAU_ATTRS)
        out.append((op, a))
        prev_out = w_out
    return out


def main():
    graph = nodes()
    assert len(graph) + 1 == len(DEPTHS), (len(graph), len(DEPTHS))
    counters = {}
    cfg = {"Defaults": {}}

    def name(op):
        counters[op] = counters.get(op, 0) + 1
        return f"{op}_{counters[op] - 1}"

    def fifo(i):
        d = DEPTHS[i]
        vivado = d > 256 and i not in (0, len(DEPTHS) - 1)
        cfg[name("StreamingFIFO_rtl")] = {
            "ram_style": "auto", "depth": d, "impl_style": "vivado" if vivado else "rtl",
            "inFIFODepths": [0], "outFIFODepths": [0],
        }

    for i, (op, attrs) in enumerate(graph):
        fifo(i)
        a = dict(attrs, inFIFODepths=[DEPTHS[i]], outFIFODepths=[DEPTHS[i + 1]])
        cfg[name(op)] = {k: a[k] for k in ORDER if k in a}
    fifo(len(graph))
    json.dump(cfg, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
