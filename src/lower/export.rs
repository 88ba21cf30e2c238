//! `export-hw`: the memory images and FINN configs of a lowered model, written into a folder,
//! all or nothing ([`crate::output::write_dir`]). The formats are described in [`README`],
//! which is written alongside.

use std::path::{Path, PathBuf};

use binarycop_hw::boards::Board;
use binarycop_sim::images;
use binarycop_sim::Op;
use serde_json::json;

use super::Lowered;
use crate::error::{Error, Result};
use crate::model::FoldedModel;
use crate::output::{write_dir, Owner};

/// What goes into the FINN build config.
pub struct BuildTarget<'a> {
    pub board: &'a Board,
    pub clock_mhz: f64,
    pub target_fps: f64,
}

/// The README written next to the images.
pub const README: &str = "\
# binarycop export-hw

Files (one folder per FINN node that has memories):

- `folding_config.json`: FINN's folding config (ApplyConfig format): PE/SIMD and memory styles
  of every node and the depth of every StreamingFIFO_rtl_N, named as FINN names the nodes.
- `build_config.json`: a FINN DataflowBuildConfig (board, part, clock period, target FPS,
  the folding config above; FIFO depths are given, so auto_fifo_depths is off).
- `config.h`: BNN-PYNQ-style defines per MVAU layer i (`L<i>_K`, `L<i>_IFM_CH`, ..., `L<i>_SIMD`,
  `L<i>_PE`, `L<i>_WMEM`, `L<i>_TMEM`, `L<i>_MW`, `L<i>_MH`).
- `MVAU_hls_N/memblock.dat`: FINN memstream weight image (mode decoupled_verilog_dat). One line
  per address a = nf*SF + sf (NF = MH/PE, SF = MW/SIMD), PE*SIMD*W bits as hex, most
  significant digit first, padded to whole digits. Field p*SIMD + i (W bits) is the weight of
  matrix row nf*PE + p, column sf*SIMD + i: PE 0, lane 0 is the least significant field. W is
  the weight type FINN's minimize_bit_width leaves: 1 bit (1 = +1, 0 = -1) for binary-input
  layers, INT2 for the first layer (+1 = 01, -1 = 11), or 1 bit again when the folding sets
  runtime_writeable_weights. Columns are in FINN order: (ky, kx, c) for convolutions, (h, w, c)
  for fully connected layers.
- `runtime_weights/1_K_MVAU_hls_N.dat` (only for MVAUs with runtime_writeable_weights = 1): the
  same lines in FINN's decoupled_runtime format, the driver's runtime_weights files: each line
  padded to a power-of-two number of 32-bit words, one word per line, least significant first.
  K counts the runtime-writable layers. FINN names these files <partition>_<layer>_<node>.dat
  (make_pynq_driver.py:290); 1 is the dataflow partition's index when the input IODMA forms
  partition 0, as in a zynq-iodma build.
- `MVAU_hls_N/params.h`: the same memories as finn-hlslib initializers: `BinaryWeights<SIMD,
  PE, WMEM>` (entry [p][a], lane i at bit i; `FixedPointWeights<SIMD, ap_int<2>, PE, WMEM>` with
  2-bit lanes for INT2 weights) and `ThresholdsActivation<TMEM, PE, steps, acc,
  out, ActVal, comp::less_equal>` (entry [p][nf] is the threshold of row nf*PE + p; the output
  bit is 1 where acc >= T). The last MVAU has no thresholds (its accumulator is the score).
- `Thresholding_rtl_0/params.h`: the input quantizer: one row of thresholds shared by all
  channels; out = ActVal + #{T <= pixel}.
- `bnn-pynq/L-P-weights.bin`, `bnn-pynq/L-P-thres.bin`: BNN-PYNQ finnthesizer files for MVAU
  layer L and PE P. Weights: one little-endian uint64 per address nf*SF + sf, column
  sf*SIMD + i at bit i (only for SIMD <= 64; wider layers are skipped and listed in
  `bnn-pynq/SKIPPED`). The last layer's rows are padded to a multiple of 64 (of PE if larger)
  with all-ones rows, as finnthesizer pads them. Thresholds: little-endian int64, nf-major.
  BNN-PYNQ's finn-hlslib fires
  on acc > T, so these hold T - 1. For layer 0 (8-bit input read as ap_fixed<8,1>, thresholds
  as ap_fixed with 8 fraction bits) they hold (T - 1) * 256 * input_scale.

The accumulator of a binary-input MVAU is the XNOR popcount P (the +-1 dot product is 2P - K);
the first MVAU's accumulator is the sum of int8 input codes times +-1.
";

/// Writes `rel` under the folder being filled (`dir`) and records it as it will be named in
/// the output (`out`).
fn write(dir: &Path, rel: &str, bytes: &[u8], written: &mut Vec<PathBuf>) -> Result<()> {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::file(parent, format!("cannot create folder: {e}")))?;
    }
    std::fs::write(&p, bytes).map_err(|e| Error::file(&p, format!("cannot write: {e}")))?;
    written.push(PathBuf::from(rel));
    Ok(())
}

const OWNER: Owner = Owner {
    tag: "export-hw",
    what: "a `binarycop export-hw` output (its README.md)",
    is_ours: |d| std::fs::read_to_string(d.join("README.md")).is_ok_and(|t| t.starts_with("# binarycop export-hw")),
};

/// Writes everything into the folder `out` (replacing an earlier export there; refusing a
/// folder holding anything else); returns the files written.
pub fn export(low: &Lowered, m: &FoldedModel, out: &Path, target: &BuildTarget) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    write_dir(out, &OWNER, |dir| fill(low, m, dir, target, &mut written))?;
    Ok(written.into_iter().map(|rel| out.join(rel)).collect())
}

fn fill(low: &Lowered, m: &FoldedModel, dir: &Path, target: &BuildTarget, written: &mut Vec<PathBuf>) -> Result<()> {
    let g = &low.graph;
    write(dir, "README.md", README.as_bytes(), written)?;
    write(dir, "folding_config.json", g.to_folding_config().to_json().as_bytes(), written)?;
    let build = json!({
        "output_dir": format!("output_{}_{}", m.topology.name, target.board.name),
        "synth_clk_period_ns": 1000.0 / target.clock_mhz,
        "board": target.board.name,
        "fpga_part": target.board.part,
        "shell_flow_type": target.board.shell_flow_type,
        "folding_config_file": "folding_config.json",
        "target_fps": target.target_fps.floor() as u64,
        "auto_fifo_depths": false,
        "mvau_wwidth_max": 36,
        "generate_outputs": ["estimate_reports", "stitched_ip", "bitfile", "pynq_driver", "deployment_package"],
    });
    let text = serde_json::to_string_pretty(&build).expect("JSON") + "\n";
    write(dir, "build_config.json", text.as_bytes(), written)?;
    write(dir, "config.h", images::config_h(g).as_bytes(), written)?;
    let scale256 = m.input_quant.scale as f64 * 256.0;
    let mut skipped = Vec::new();
    let mut layer = 0;
    let mut runtime = 0;
    let last = g.nodes.iter().rposition(|n| matches!(n.op, Op::Mvau(_)));
    for (i, n) in g.nodes.iter().enumerate() {
        match &n.op {
            Op::Mvau(mv) => {
                write(dir, &format!("{}/memblock.dat", n.name), images::weights_dat(mv).as_bytes(), written)?;
                write(dir, &format!("{}/params.h", n.name), images::params_h(mv, &n.name).as_bytes(), written)?;
                if mv.cfg.runtime_writeable_weights {
                    let f = format!("runtime_weights/1_{runtime}_{}.dat", n.name);
                    write(dir, &f, images::weights_runtime(mv).as_bytes(), written)?;
                    runtime += 1;
                }
                let pad = if Some(i) == last { binarycop_sim::flow::Flow::BNN_PYNQ_LAST_ROWS } else { 1 };
                for p in 0..mv.cfg.pe {
                    match images::weights_bin(mv, p, pad) {
                        Ok(b) => write(dir, &format!("bnn-pynq/{layer}-{p}-weights.bin"), &b, written)?,
                        Err(e) => {
                            skipped.push(format!("{layer} ({}): {e}", n.name));
                            break;
                        }
                    }
                    if mv.tmem_depth() > 0 {
                        let first = layer == 0 && mv.input != binarycop_sim::DType::BINARY;
                        let conv = |t: i64| {
                            if first {
                                ((t - 1) as f64 * scale256).round() as i64
                            } else {
                                t - 1
                            }
                        };
                        let b = images::thresholds_bin(mv, p, conv);
                        write(dir, &format!("bnn-pynq/{layer}-{p}-thres.bin"), &b, written)?;
                    }
                }
                layer += 1;
            }
            Op::Thresholding(t) => {
                let row: Vec<String> = t.thresholds(0, 0).iter().map(i64::to_string).collect();
                let h = format!(
                    "// {}: {} channels, PE {}, out = {} + #{{T <= x}} for every channel\nstatic const int thresholds_{}[{}] = {{ {} }};\n",
                    n.name,
                    t.channels,
                    t.pe,
                    t.act_val,
                    n.name,
                    t.steps,
                    row.join(", ")
                );
                write(dir, &format!("{}/params.h", n.name), h.as_bytes(), written)?;
            }
            _ => {}
        }
    }
    if !skipped.is_empty() {
        write(dir, "bnn-pynq/SKIPPED", (skipped.join("\n") + "\n").as_bytes(), written)?;
    }
    Ok(())
}
