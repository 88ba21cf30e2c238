//! The calibration set of the post-implementation estimate: published resource figures of
//! FINN-style accelerators other than BinaryCoP's (`sim/data/calibration.json`, each with its
//! source), and the graphs of the networks they were built from, folded as their designs fold
//! them. The graphs are for costing only: their weights are placeholders, and a design with
//! 2-bit weights is given that weight width after folding (the simulator computes only ±1
//! weights).

use binarycop_hw::folding::FoldingConfig;
use serde_json::Value;

use crate::flow::Flow;
use crate::graph::{Graph, LayerSpec, Op, OP_MVAU, OP_SWU_HLS};
use crate::maxpool::MaxPoolSpec;
use crate::mvau::{Activation, BitRows, MvauSpec};
use crate::stream::DType;
use crate::swu::SwuSpec;
use crate::thresholding::ThresholdingSpec;
use crate::Error;

const CALIBRATION_JSON: &str = include_str!("../data/calibration.json");

/// Resource figures as Vivado reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    pub lut: u64,
    pub ff: u64,
    pub ramb36: u64,
    pub ramb18: u64,
    pub dsp: u64,
}

impl Measured {
    /// Block RAM tiles: one per RAMB36, half per RAMB18.
    pub fn bram_tiles(&self) -> f64 {
        self.ramb36 as f64 + self.ramb18 as f64 / 2.0
    }
}

/// One published design.
#[derive(Clone, Debug)]
pub struct Design {
    pub name: String,
    pub source: String,
    /// "post-implementation", or "post-synthesis, out of context (no shell)".
    pub stage: String,
    /// Whether the figure includes the Zynq shell (DMA, interconnect) around the accelerator.
    pub shell: bool,
    /// Why its BRAM count is left out of the fit, if it is.
    pub bram_saturated: Option<String>,
    pub measured: Measured,
    pub graph: Graph,
}

fn err(design: &str, msg: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("calibration design '{design}': {msg}"))
}

fn num(v: &Value, k: &str, design: &str) -> Result<usize, Error> {
    v[k].as_u64().and_then(|x| usize::try_from(x).ok()).ok_or_else(|| err(design, format!("no integer '{k}'")))
}

/// Activation type and placeholder thresholds for a hidden layer of `abits`-bit activations.
fn activation(mh: usize, mw: usize, abits: u32) -> Activation {
    let steps = (1usize << abits) - 1;
    let t: Vec<i64> = (0..steps).map(|i| (mw / 2 + i) as i64).collect();
    let out = if abits == 1 { DType::BINARY } else { DType::new(abits, true) };
    Activation::Thresholds { thresholds: vec![t; mh], act_val: if abits == 1 { 0 } else { -(1 << (abits - 1)) }, out }
}

struct Net {
    specs: Vec<LayerSpec>,
    cfg: FoldingConfig,
}

/// The layer specs and folding of a design's network.
fn network(d: &Value, name: &str) -> Result<Net, Error> {
    let input: Vec<usize> = d["input"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_u64().map(|x| x as usize)).collect())
        .filter(|a: &Vec<usize>| a.len() == 3)
        .ok_or_else(|| err(name, "'input' must be [H, W, C]"))?;
    let abits = num(d, "abits", name)? as u32;
    let binary_input = d["input_bits"].as_u64() == Some(1);
    let act_type = if abits == 1 { DType::BINARY } else { DType::new(abits, true) };
    let layers = d["layers"].as_array().ok_or_else(|| err(name, "no 'layers'"))?;
    let (mut h, mut w, mut c) = (input[0], input[1], input[2]);
    let mut specs = Vec::new();
    let mut cfg = FoldingConfig::default();
    // The tensor type flowing into the next layer; the first layer reads 8-bit codes or bits.
    let mut dtype = if binary_input {
        c = h * w * c * 8;
        (h, w) = (1, 1);
        DType::BINARY
    } else {
        specs.push(LayerSpec::Thresholding(ThresholdingSpec {
            channels: c,
            vectors: h * w,
            thresholds: vec![(1..256).collect()],
            act_val: -128,
            input: DType::UINT8,
            out: DType::INT8,
        }));
        DType::INT8
    };
    let (mut nm, mut ns) = (0, 0);
    let count = layers.len();
    for (i, l) in layers.iter().enumerate() {
        if let Some(k) = l["pool"].as_u64() {
            // A pool of n-bit values is costed as n bit-planes of the binary pool (same stream).
            let channels = c * dtype.bits as usize;
            specs.push(LayerSpec::MaxPool(MaxPoolSpec { height: h, width: w, channels, kernel: k as usize }));
            (h, w) = (h / k as usize, w / k as usize);
            continue;
        }
        let (pe, simd) = (num(l, "pe", name)?, num(l, "simd", name)?);
        let last = i + 1 == count;
        let (mw, mh, vectors) = if let Some(oc) = l["conv"].as_u64() {
            specs.push(LayerSpec::Swu(SwuSpec { height: h, width: w, channels: c, kernel: 3, dtype }));
            cfg.set(&format!("{OP_SWU_HLS}_{ns}"), "SIMD", simd);
            ns += 1;
            let m = (9 * c, oc as usize, (h - 2) * (w - 2));
            (h, w, c) = (h - 2, w - 2, oc as usize);
            m
        } else {
            let oc = num(l, "fc", name)?;
            // finnthesizer pads rows to a multiple of PE (and BNN-PYNQ's last layer to 64).
            let oc = if last { oc.next_multiple_of(pe) } else { oc };
            let m = (h * w * c, oc, 1);
            (h, w, c) = (1, 1, oc);
            m
        };
        let activation = if last { Activation::Acc { out: DType::new(16, false) } } else { activation(mh, mw, abits) };
        let input = dtype;
        specs.push(LayerSpec::Mvau(MvauSpec { mw, mh, vectors, input, weights: BitRows::zeros(mh, mw), activation }));
        cfg.set(&format!("{OP_MVAU}_{nm}"), "PE", pe);
        cfg.set(&format!("{OP_MVAU}_{nm}"), "SIMD", simd);
        nm += 1;
        dtype = act_type;
    }
    Ok(Net { specs, cfg })
}

/// Builds one design's graph and applies its weight width and stream depths.
fn design(d: &Value) -> Result<Design, Error> {
    let name = d["name"].as_str().ok_or_else(|| err("?", "no 'name'"))?.to_string();
    let flow = d["flow"].as_str().and_then(Flow::from_name).ok_or_else(|| err(&name, "no valid 'flow'"))?;
    let net = network(d, &name)?;
    let input =
        d["input"].as_array().map(|a| a.iter().filter_map(Value::as_u64).map(|x| x as usize).collect::<Vec<_>>());
    let input = input.filter(|a| a.len() == 3).ok_or_else(|| err(&name, "'input' must be [H, W, C]"))?;
    let mut graph =
        Graph::build_flow(&net.specs, &net.cfg, (input[0], input[1], input[2]), flow).map_err(|e| err(&name, e))?;
    let wbits = num(d, "wbits", &name)? as u32;
    if wbits > 1 {
        for n in &mut graph.nodes {
            if let Op::Mvau(m) = &mut n.op {
                m.wdt = DType::new(wbits, true);
            }
        }
    }
    if let Some(over) = d["stream_depths"].as_object() {
        for f in &mut graph.fifos {
            if let Some(depth) = f.boundary.and_then(|b| over.get(b.name())).and_then(Value::as_u64) {
                f.depth = depth as usize;
            }
        }
    }
    let m = &d["measured"];
    let measured = Measured {
        lut: num(m, "lut", &name)? as u64,
        ff: num(m, "ff", &name)? as u64,
        ramb36: num(m, "ramb36", &name)? as u64,
        ramb18: num(m, "ramb18", &name)? as u64,
        dsp: num(m, "dsp", &name)? as u64,
    };
    Ok(Design {
        source: d["source"].as_str().unwrap_or_default().to_string(),
        stage: d["stage"].as_str().unwrap_or_default().to_string(),
        shell: d["shell"].as_bool().unwrap_or(true),
        bram_saturated: d["bram_saturated"].as_str().map(str::to_string),
        name,
        measured,
        graph,
    })
}

/// Every design of the calibration set.
pub fn designs() -> Result<Vec<Design>, Error> {
    let root: Value =
        serde_json::from_str(CALIBRATION_JSON).map_err(|e| Error::Invalid(format!("calibration.json: {e}")))?;
    root["designs"]
        .as_array()
        .ok_or_else(|| Error::Invalid("calibration.json: no 'designs'".into()))?
        .iter()
        .map(design)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_designs_build_as_their_configs_say() {
        let d = designs().unwrap();
        assert_eq!(d.len(), 6);
        let cnv = &d[0].graph;
        // cnvW1A1 config.h: L8 is padded to 64 rows at PE 4 → WMEM 8192, as config.h says.
        assert_eq!(cnv.mvaus().last().unwrap().1.mh_pad, 64);
        let wmem: Vec<usize> = cnv.mvaus().map(|(_, m)| m.nf_pad() * m.sf()).collect();
        assert_eq!(wmem, [36, 36, 144, 288, 2304, 18432, 32768, 32768, 8192]);
        let lfc = &d[3].graph;
        let wmem: Vec<usize> = lfc.mvaus().map(|(_, m)| m.nf_pad() * m.sf()).collect();
        assert_eq!(wmem, [416, 512, 512, 512], "lfcW1A1 config.h WMEMs");
        assert_eq!(lfc.fifos.first().unwrap().depth, 1024, "memInStrm");
        assert!(d[2].graph.mvaus().all(|(_, m)| m.wdt.bits == 2), "cnvW2A2's weights are 2-bit");
    }
}
