//! The FINN node graph: layers in pipeline order, named as FINN names them, folded from a FINN
//! folding config, with width converters and FIFOs inserted between nodes as FINN's InsertDWC
//! and InsertFIFO do. Costs add up here.

use std::collections::{BTreeMap, BTreeSet};

use binarycop_hw::folding::{int_attr, str_attr, FoldingConfig, OpTypes};
use serde_json::Value;

use crate::dwc::Dwc;
use crate::fifo::{self, FifoStyle};
use crate::label_select::LabelSelect;
use crate::maxpool::{MaxPool, MaxPoolSpec};
use crate::mvau::{Mvau, MvauConfig, MvauSpec};
use crate::stream::DType;
use crate::swu::{Swu, SwuSpec};
use crate::thresholding::{Thresholding, ThresholdingSpec};
use crate::Error;

/// One layer before folding, in pipeline order (the lowering produces these).
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    Thresholding(ThresholdingSpec),
    Swu(SwuSpec),
    Mvau(MvauSpec),
    MaxPool(MaxPoolSpec),
    LabelSelect { labels: usize, k: usize },
}

/// A folded node.
#[derive(Clone, Debug)]
pub enum Op {
    IoDmaIn,
    Thresholding(Thresholding),
    Swu(Swu),
    Mvau(Mvau),
    MaxPool(MaxPool),
    Dwc(Dwc),
    LabelSelect(LabelSelect),
    IoDmaOut,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub in_bits: usize,
    pub out_bits: usize,
    /// Words per frame on the input and output streams.
    pub in_words: usize,
    pub out_words: usize,
    /// FINN attributes that are kept but not modelled (inFIFODepths, ...), for writing back.
    pub extra: BTreeMap<String, Value>,
}

#[derive(Clone, Debug)]
pub struct FifoNode {
    pub name: String,
    pub bits: usize,
    pub depth: usize,
    pub style: FifoStyle,
    pub words_per_frame: usize,
}

/// The pipeline: nodes[i] → fifos[i] → nodes[i+1].
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub fifos: Vec<FifoNode>,
    /// Input frame: H, W, C of UINT8 pixels.
    pub input: (usize, usize, usize),
}

pub const OP_IODMA: &str = "IODMA_hls";
pub const OP_THRES: &str = "Thresholding_rtl";
pub const OP_SWU: &str = "ConvolutionInputGenerator_rtl";
pub const OP_SWU_HLS: &str = "ConvolutionInputGenerator_hls";
pub const OP_MVAU: &str = "MVAU_hls";
pub const OP_POOL: &str = "StreamingMaxPool_hls";
pub const OP_DWC: &str = "StreamingDataWidthConverter_hls";
pub const OP_LABEL: &str = "LabelSelect_hls";
pub const OP_FIFO: &str = "StreamingFIFO_rtl";

impl Op {
    pub fn op_type(&self) -> &'static str {
        match self {
            Op::IoDmaIn | Op::IoDmaOut => OP_IODMA,
            Op::Thresholding(_) => OP_THRES,
            Op::Swu(s) if s.hls_loop => OP_SWU_HLS,
            Op::Swu(_) => OP_SWU,
            Op::Mvau(_) => OP_MVAU,
            Op::MaxPool(_) => OP_POOL,
            Op::Dwc(_) => OP_DWC,
            Op::LabelSelect(_) => OP_LABEL,
        }
    }
}

/// Attributes binarycop reads or keeps, per op type (FINN names).
fn known_attrs(op_type: &str) -> &'static [&'static str] {
    match op_type {
        OP_MVAU => {
            &["PE", "SIMD", "mem_mode", "ram_style", "ram_style_thresholds", "resType", "runtime_writeable_weights"]
        }
        OP_SWU => &["SIMD", "ram_style", "parallel_window", "depth_trigger_uram", "depth_trigger_bram"],
        OP_THRES => &["PE", "runtime_writeable_weights", "depth_trigger_uram", "depth_trigger_bram", "deep_pipeline"],
        OP_POOL => &["PE"],
        OP_LABEL => &["PE"],
        OP_FIFO => &["depth", "impl_style", "ram_style"],
        OP_IODMA => &["burstMode", "intfWidth"],
        _ => &[],
    }
}

const COMMON_ATTRS: [&str; 2] = ["inFIFODepths", "outFIFODepths"];

fn check_choice(node: &str, attr: &str, v: Option<&str>, allowed: &[&str]) -> Result<(), Error> {
    match v {
        Some(s) if !allowed.contains(&s) => {
            Err(Error::node(node, format!("{attr} '{s}' is not one of {}", allowed.join(", "))))
        }
        _ => Ok(()),
    }
}

fn cfg_err(e: binarycop_hw::folding::ConfigError) -> Error {
    Error::Config(e.0)
}

/// The attributes of one node after defaults, checked against what the op accepts.
fn node_attrs(cfg: &FoldingConfig, name: &str, op_type: &str) -> Result<BTreeMap<String, Value>, Error> {
    let attrs = cfg.attrs_for(name, op_type);
    for k in attrs.keys() {
        if !known_attrs(op_type).contains(&k.as_str()) && !COMMON_ATTRS.contains(&k.as_str()) {
            return Err(Error::node(
                name,
                format!("unknown attribute '{k}' for {op_type} (known: {})", known_attrs(op_type).join(", ")),
            ));
        }
    }
    Ok(attrs)
}

fn extra(attrs: &BTreeMap<String, Value>, used: &[&str]) -> BTreeMap<String, Value> {
    attrs.iter().filter(|(k, _)| !used.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Node {
    fn new(name: String, op: Op, extra: BTreeMap<String, Value>) -> Node {
        let (in_bits, out_bits, in_words, out_words) = match &op {
            Op::Thresholding(t) => {
                let n = t.channels / t.pe * t.vectors;
                (t.in_bits(), t.out_bits(), n, n)
            }
            Op::Swu(s) => (s.word_bits(), s.word_bits(), s.in_words(), s.out_words()),
            Op::Mvau(m) => (m.in_bits(), m.out_bits(), m.sf() * m.vectors, m.nf() * m.vectors),
            Op::MaxPool(p) => (p.word_bits(), p.word_bits(), p.h * p.w, p.h / p.k * (p.w / p.k)),
            Op::Dwc(d) => (d.in_bits, d.out_bits, d.frame_bits / d.in_bits, d.frame_bits / d.out_bits),
            Op::LabelSelect(l) => (l.in_bits(), l.out.bits as usize, l.labels / l.pe, l.k),
            Op::IoDmaIn | Op::IoDmaOut => (0, 0, 0, 0),
        };
        Node { name, op, in_bits, out_bits, in_words, out_words, extra }
    }

    /// FINN's expected cycles per frame.
    pub fn exp_cycles(&self) -> u64 {
        match &self.op {
            Op::Thresholding(t) => t.exp_cycles(),
            Op::Swu(s) => s.exp_cycles(),
            Op::Mvau(m) => m.exp_cycles(),
            Op::MaxPool(p) => p.exp_cycles(),
            Op::Dwc(d) => d.exp_cycles(),
            Op::LabelSelect(l) => l.exp_cycles(),
            Op::IoDmaIn | Op::IoDmaOut => 0,
        }
    }
    /// FINN's LUT estimate (MVAUs; other nodes are not estimated and count 0).
    pub fn lut(&self) -> u64 {
        match &self.op {
            Op::Mvau(m) => m.lut(),
            _ => 0,
        }
    }
    pub fn bram18(&self) -> u64 {
        match &self.op {
            Op::Mvau(m) => m.bram18(),
            _ => 0,
        }
    }
    pub fn pe_simd(&self) -> (Option<usize>, Option<usize>) {
        match &self.op {
            Op::Thresholding(t) => (Some(t.pe), None),
            Op::Swu(s) => (None, Some(s.simd)),
            Op::Mvau(m) => (Some(m.cfg.pe), Some(m.cfg.simd)),
            Op::LabelSelect(l) => (Some(l.pe), None),
            _ => (None, None),
        }
    }
    fn in_frame_bits(&self) -> usize {
        self.in_bits * self.in_words
    }
    fn out_frame_bits(&self) -> usize {
        self.out_bits * self.out_words
    }
}

impl Graph {
    /// Folds `layers` with `cfg` and inserts converters and FIFOs. `input` is the H×W×C of the
    /// UINT8 frames the input IODMA reads.
    pub fn build(layers: &[LayerSpec], cfg: &FoldingConfig, input: (usize, usize, usize)) -> Result<Graph, Error> {
        let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
        let mut name = |op: &'static str| {
            let c = counters.entry(op).or_insert(0);
            *c += 1;
            format!("{op}_{}", *c - 1)
        };
        let mut nodes = vec![Node::new(name(OP_IODMA), Op::IoDmaIn, node_attrs(cfg, "IODMA_hls_0", OP_IODMA)?)];
        for l in layers {
            let node = match l {
                LayerSpec::Thresholding(spec) => {
                    let n = name(OP_THRES);
                    let a = node_attrs(cfg, &n, OP_THRES)?;
                    let pe = int_attr(&n, &a, "PE").map_err(cfg_err)?.unwrap_or(1);
                    let t = Thresholding::new(&n, spec, pe)?;
                    Node::new(n, Op::Thresholding(t), extra(&a, &["PE"]))
                }
                LayerSpec::Swu(spec) => {
                    let n = name(OP_SWU);
                    let a = node_attrs(cfg, &n, OP_SWU)?;
                    let simd = int_attr(&n, &a, "SIMD").map_err(cfg_err)?.unwrap_or(1);
                    let rs = str_attr(&n, &a, "ram_style").map_err(cfg_err)?.unwrap_or("auto");
                    check_choice(&n, "ram_style", Some(rs), &["auto", "block", "distributed", "ultra"])?;
                    if a.get("parallel_window").and_then(Value::as_u64).unwrap_or(0) != 0 {
                        return Err(Error::node(&n, "parallel_window = 1 is not modelled"));
                    }
                    let s = Swu::new(&n, spec, simd, rs)?;
                    Node::new(n, Op::Swu(s), extra(&a, &["SIMD", "ram_style"]))
                }
                LayerSpec::Mvau(spec) => {
                    let n = name(OP_MVAU);
                    let a = node_attrs(cfg, &n, OP_MVAU)?;
                    let d = MvauConfig::default();
                    let st = |k: &str, dflt: &str| -> Result<String, Error> {
                        Ok(str_attr(&n, &a, k).map_err(cfg_err)?.unwrap_or(dflt).to_string())
                    };
                    let c = MvauConfig {
                        pe: int_attr(&n, &a, "PE").map_err(cfg_err)?.unwrap_or(1),
                        simd: int_attr(&n, &a, "SIMD").map_err(cfg_err)?.unwrap_or(1),
                        mem_mode: st("mem_mode", &d.mem_mode)?,
                        ram_style: st("ram_style", &d.ram_style)?,
                        ram_style_thresholds: st("ram_style_thresholds", &d.ram_style_thresholds)?,
                        res_type: st("resType", &d.res_type)?,
                    };
                    check_choice(
                        &n,
                        "mem_mode",
                        Some(&c.mem_mode),
                        &["internal_embedded", "internal_decoupled", "external"],
                    )?;
                    check_choice(&n, "ram_style", Some(&c.ram_style), &["auto", "block", "distributed", "ultra"])?;
                    check_choice(
                        &n,
                        "ram_style_thresholds",
                        Some(&c.ram_style_thresholds),
                        &["auto", "block", "distributed"],
                    )?;
                    check_choice(&n, "resType", Some(&c.res_type), &["auto", "lut", "dsp"])?;
                    let m = Mvau::new(&n, spec, c)?;
                    let used = ["PE", "SIMD", "mem_mode", "ram_style", "ram_style_thresholds", "resType"];
                    Node::new(n, Op::Mvau(m), extra(&a, &used))
                }
                LayerSpec::MaxPool(spec) => {
                    let n = name(OP_POOL);
                    let a = node_attrs(cfg, &n, OP_POOL)?;
                    if let Some(pe) = int_attr(&n, &a, "PE").map_err(cfg_err)? {
                        if pe == 0 || spec.channels % pe != 0 {
                            return Err(Error::node(
                                &n,
                                format!("PE {pe} does not divide the {} channels", spec.channels),
                            ));
                        }
                    }
                    let p = MaxPool::new(&n, spec)?;
                    Node::new(n, Op::MaxPool(p), a)
                }
                LayerSpec::LabelSelect { labels, k } => {
                    let n = name(OP_LABEL);
                    let a = node_attrs(cfg, &n, OP_LABEL)?;
                    let pe = int_attr(&n, &a, "PE").map_err(cfg_err)?.unwrap_or(1);
                    let prev = nodes.last().expect("the input IODMA");
                    let input = match &prev.op {
                        Op::Mvau(m) => m.out,
                        _ => return Err(Error::node(&n, "LabelSelect must follow an MVAU")),
                    };
                    let l = LabelSelect::new(&n, *labels, *k, pe, input)?;
                    Node::new(n, Op::LabelSelect(l), extra(&a, &["PE"]))
                }
            };
            nodes.push(node);
        }
        let out_name = name(OP_IODMA);
        let a = node_attrs(cfg, &out_name, OP_IODMA)?;
        nodes.push(Node::new(out_name, Op::IoDmaOut, a));
        if nodes.len() < 3 {
            return Err(Error::Invalid("the graph has no layers".into()));
        }
        // IODMAs take the width of their neighbour (FINN's IODMA plus its width converter).
        let n = nodes.len();
        let (b, w) = (nodes[1].in_bits, nodes[1].in_words);
        nodes[0].out_bits = b;
        nodes[0].out_words = w;
        let (b, w) = (nodes[n - 2].out_bits, nodes[n - 2].out_words);
        nodes[n - 1].in_bits = b;
        nodes[n - 1].in_words = w;
        if input.0 * input.1 * input.2 * 8 != nodes[0].out_bits * nodes[0].out_words {
            return Err(Error::Invalid(format!(
                "the first node takes {} bits per frame, the {}x{}x{} UINT8 input has {}",
                nodes[0].out_bits * nodes[0].out_words,
                input.0,
                input.1,
                input.2,
                input.0 * input.1 * input.2 * 8
            )));
        }

        // Width converters where a producer's word differs from its consumer's.
        let mut with_dwc: Vec<Node> = Vec::with_capacity(nodes.len() * 2);
        let mut dwc_count = 0;
        for node in nodes {
            if let Some(prev) = with_dwc.last() {
                if prev.out_frame_bits() != node.in_frame_bits() {
                    return Err(Error::node(
                        &node.name,
                        format!(
                            "takes {} bits per frame but {} produces {}",
                            node.in_frame_bits(),
                            prev.name,
                            prev.out_frame_bits()
                        ),
                    ));
                }
                if prev.out_bits != node.in_bits {
                    let d = Dwc { in_bits: prev.out_bits, out_bits: node.in_bits, frame_bits: node.in_frame_bits() };
                    let n = format!("{OP_DWC}_{dwc_count}");
                    dwc_count += 1;
                    let a = node_attrs(cfg, &n, OP_DWC)?;
                    with_dwc.push(Node::new(n, Op::Dwc(d), a));
                }
            }
            with_dwc.push(node);
        }
        let nodes = with_dwc;

        let mut fifos = Vec::with_capacity(nodes.len() - 1);
        for (i, pair) in nodes.windows(2).enumerate() {
            let n = format!("{OP_FIFO}_{i}");
            let a = node_attrs(cfg, &n, OP_FIFO)?;
            let first = |attrs: &BTreeMap<String, Value>, k: &str| {
                attrs.get(k).and_then(Value::as_array).and_then(|v| v.first()).and_then(Value::as_u64)
            };
            let implied = first(&pair[0].extra, "outFIFODepths").max(first(&pair[1].extra, "inFIFODepths"));
            let depth = int_attr(&n, &a, "depth").map_err(cfg_err)?.or(implied.map(|d| d as usize)).unwrap_or(2);
            if depth == 0 || depth > 1 << 24 {
                return Err(Error::node(&n, format!("depth must be between 1 and {}, got {depth}", 1 << 24)));
            }
            let mut style = FifoStyle::default();
            if let Some(s) = str_attr(&n, &a, "impl_style").map_err(cfg_err)? {
                check_choice(&n, "impl_style", Some(s), &["rtl", "vivado"])?;
                style.impl_style = s.into();
            }
            if let Some(s) = str_attr(&n, &a, "ram_style").map_err(cfg_err)? {
                check_choice(&n, "ram_style", Some(s), &["auto", "block", "distributed", "ultra"])?;
                style.ram_style = s.into();
            }
            fifos.push(FifoNode { name: n, bits: pair[0].out_bits, depth, style, words_per_frame: pair[0].out_words });
        }

        // Every name in the config must be a node of this graph.
        let names: BTreeSet<&str> =
            nodes.iter().map(|n| n.name.as_str()).chain(fifos.iter().map(|f| f.name.as_str())).collect();
        for key in cfg.nodes.keys() {
            if !names.contains(key.as_str()) {
                let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                return Err(Error::node(
                    key,
                    format!(
                        "is not a node of this graph (nodes: {}, and StreamingFIFO_rtl_0..{})",
                        known.join(", "),
                        fifos.len().saturating_sub(1)
                    ),
                ));
            }
        }
        for (attr, (_, ops)) in &cfg.defaults {
            let ops: Vec<&str> = match ops {
                OpTypes::All => Vec::new(),
                OpTypes::Only(v) => v.iter().map(String::as_str).collect(),
            };
            for op in ops {
                if known_attrs(op).is_empty() {
                    return Err(Error::Config(format!("Defaults.{attr}: unknown op type '{op}'")));
                }
            }
        }
        Ok(Graph { nodes, fifos, input })
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn mvaus(&self) -> impl Iterator<Item = (&Node, &Mvau)> {
        self.nodes.iter().filter_map(|n| match &n.op {
            Op::Mvau(m) => Some((n, m)),
            _ => None,
        })
    }

    /// FINN's estimate of the steady-state cycles per frame: the slowest node.
    pub fn max_exp_cycles(&self) -> u64 {
        self.nodes.iter().map(Node::exp_cycles).max().unwrap_or(0)
    }

    pub fn fifo_lut(&self, i: usize) -> u64 {
        let f = &self.fifos[i];
        fifo::lut(f.depth, f.bits, &f.style)
    }
    pub fn fifo_bram18(&self, i: usize) -> u64 {
        let f = &self.fifos[i];
        fifo::bram18(f.depth, f.bits, &f.style)
    }
    /// LUTs of nodes and FIFOs (nodes other than MVAUs and FIFOs count 0).
    pub fn total_lut(&self) -> u64 {
        self.nodes.iter().map(Node::lut).sum::<u64>() + (0..self.fifos.len()).map(|i| self.fifo_lut(i)).sum::<u64>()
    }
    pub fn total_bram18(&self) -> u64 {
        self.nodes.iter().map(Node::bram18).sum::<u64>()
            + (0..self.fifos.len()).map(|i| self.fifo_bram18(i)).sum::<u64>()
    }

    /// Switches every SWU to the timing of finn-hlslib's HLS loop (ConvolutionInputGenerator_hls,
    /// as BNN-PYNQ builds it) or back to the RTL SWG; the nodes are renamed accordingly.
    pub fn set_swu_hls_loop(&mut self, on: bool) {
        for n in &mut self.nodes {
            if let Op::Swu(s) = &mut n.op {
                s.hls_loop = on;
                let (from, to) = if on { ("_rtl_", "_hls_") } else { ("_hls_", "_rtl_") };
                n.name = n.name.replacen(from, to, 1);
            }
        }
    }

    /// Sets FIFO depths; depths above 256 become vivado (BRAM) FIFOs, as FINN's sizing does.
    pub fn set_fifo_depths(&mut self, depths: &[usize]) {
        for (f, &d) in self.fifos.iter_mut().zip(depths) {
            f.depth = d.max(1);
            f.style = if d > 256 {
                FifoStyle { impl_style: "vivado".into(), ram_style: "auto".into() }
            } else {
                FifoStyle::default()
            };
        }
    }

    /// The folding and FIFO depths as a FINN folding config (every node spelled out, as FINN's
    /// final_hw_config.json).
    pub fn to_folding_config(&self) -> FoldingConfig {
        let mut cfg = FoldingConfig::default();
        for n in &self.nodes {
            let mut attrs = n.extra.clone();
            match &n.op {
                Op::Thresholding(t) => {
                    attrs.insert("PE".into(), t.pe.into());
                }
                Op::Swu(s) => {
                    attrs.insert("SIMD".into(), s.simd.into());
                    attrs.insert("ram_style".into(), s.ram_style.clone().into());
                }
                Op::Mvau(m) => {
                    attrs.insert("PE".into(), m.cfg.pe.into());
                    attrs.insert("SIMD".into(), m.cfg.simd.into());
                    attrs.insert("mem_mode".into(), m.cfg.mem_mode.clone().into());
                    attrs.insert("ram_style".into(), m.cfg.ram_style.clone().into());
                    attrs.insert("ram_style_thresholds".into(), m.cfg.ram_style_thresholds.clone().into());
                    attrs.insert("resType".into(), m.cfg.res_type.clone().into());
                }
                Op::LabelSelect(l) => {
                    attrs.insert("PE".into(), l.pe.into());
                }
                _ => {}
            }
            if !attrs.is_empty() {
                cfg.nodes.insert(n.name.clone(), attrs);
            }
        }
        for f in &self.fifos {
            cfg.set(&f.name, "depth", f.depth);
            cfg.set(&f.name, "impl_style", f.style.impl_style.clone());
            cfg.set(&f.name, "ram_style", f.style.ram_style.clone());
        }
        cfg
    }

    /// Packs UINT8 frames (H·W·C bytes each, NHWC) into the input IODMA's words.
    pub fn pack_frames(&self, frames: &[&[u8]]) -> Result<Vec<u64>, Error> {
        let (h, w, c) = self.input;
        let bits = self.nodes[0].out_bits;
        if !bits.is_multiple_of(8) {
            return Err(Error::Invalid("the first node's input is not byte-aligned".into()));
        }
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            if f.len() != h * w * c {
                return Err(Error::Invalid(format!("frame {i} has {} bytes, expected {}", f.len(), h * w * c)));
            }
            let vals: Vec<i64> = f.iter().map(|&b| b as i64).collect();
            out.extend(crate::stream::pack(&vals, bits / 8, DType::UINT8));
        }
        Ok(out)
    }
}
