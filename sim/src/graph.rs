//! The FINN node graph: layers in pipeline order, named as FINN names them, folded from a FINN
//! folding config, with width converters and FIFOs inserted between nodes as the chosen
//! [`Flow`] builds them (FINN's InsertDWC and InsertFIFO, or BNN-PYNQ's top level). Costs add
//! up here.

use std::collections::{BTreeMap, BTreeSet};

use binarycop_hw::folding::{int_attr, str_attr, FoldingConfig, OpTypes};
use serde_json::Value;

use crate::cost::Resources;
use crate::dwc::Dwc;
use crate::fifo::{self, FifoStyle};
use crate::flow::{bnn_pynq_boundary_depth, Boundary, Flow};
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
    /// In a BNN-PYNQ build, the layer boundary this stream is (None: a stream inside a layer).
    pub boundary: Option<Boundary>,
}

/// The pipeline: nodes[i] → fifos[i] → nodes[i+1].
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub fifos: Vec<FifoNode>,
    /// Input frame: H, W, C of UINT8 pixels.
    pub input: (usize, usize, usize),
    /// The flow that built it.
    pub flow: Flow,
    /// Whether the folding config gave FIFO depths (then they are not sized automatically).
    pub config_depths: bool,
}

pub const OP_IODMA: &str = "IODMA_hls";
pub const OP_THRES: &str = "Thresholding_rtl";
pub const OP_SWU: &str = "ConvolutionInputGenerator_rtl";
pub const OP_SWU_HLS: &str = "ConvolutionInputGenerator_hls";
pub const OP_MVAU: &str = "MVAU_hls";
pub const OP_POOL: &str = "StreamingMaxPool_hls";
pub const OP_DWC: &str = "StreamingDataWidthConverter_hls";
pub const OP_DWC_RTL: &str = "StreamingDataWidthConverter_rtl";
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
            Op::Dwc(d) if d.impl_rtl => OP_DWC_RTL,
            Op::Dwc(_) => OP_DWC,
            Op::LabelSelect(_) => OP_LABEL,
        }
    }
}

/// Attributes binarycop reads or keeps, per op type (FINN names); `dsp_xnor` is binarycop's.
fn known_attrs(op_type: &str) -> &'static [&'static str] {
    match op_type {
        OP_MVAU => &[
            "PE",
            "SIMD",
            "mem_mode",
            "ram_style",
            "ram_style_thresholds",
            "resType",
            "runtime_writeable_weights",
            "dsp_xnor",
        ],
        OP_SWU | OP_SWU_HLS => &["SIMD", "ram_style", "parallel_window", "depth_trigger_uram", "depth_trigger_bram"],
        OP_THRES => &["PE", "runtime_writeable_weights", "depth_trigger_uram", "depth_trigger_bram", "deep_pipeline"],
        OP_POOL => &["PE"],
        OP_LABEL => &["PE"],
        OP_FIFO => &["depth", "impl_style", "ram_style"],
        OP_IODMA => &["burstMode", "intfWidth"],
        _ => &[],
    }
}

/// Every op type a config may name.
const OP_TYPES: [&str; 10] =
    [OP_IODMA, OP_THRES, OP_SWU, OP_SWU_HLS, OP_MVAU, OP_POOL, OP_DWC, OP_DWC_RTL, OP_LABEL, OP_FIFO];

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

/// The name a window generator has under the other implementation (a config written for FINN's
/// RTL SWG also folds BNN-PYNQ's HLS one, and the other way round).
fn swu_alias(name: &str) -> Option<String> {
    let (a, b) = (format!("{OP_SWU}_"), format!("{OP_SWU_HLS}_"));
    name.strip_prefix(&a).map(|n| format!("{b}{n}")).or_else(|| name.strip_prefix(&b).map(|n| format!("{a}{n}")))
}

/// The attributes of one node after defaults, checked against what the op accepts.
fn node_attrs(cfg: &FoldingConfig, name: &str, op_type: &str) -> Result<BTreeMap<String, Value>, Error> {
    let mut attrs = cfg.attrs_for(name, op_type);
    if let Some(alias) = swu_alias(name).filter(|a| cfg.nodes.contains_key(a) && !cfg.nodes.contains_key(name)) {
        attrs.extend(cfg.nodes[&alias].iter().map(|(k, v)| (k.clone(), v.clone())));
    }
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

fn bool_attr(name: &str, a: &BTreeMap<String, Value>, attr: &str) -> Result<bool, Error> {
    match int_attr(name, a, attr).map_err(cfg_err)? {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(v) => Err(Error::node(name, format!("{attr} must be 0 or 1, got {v}"))),
    }
}

impl Node {
    fn new(name: String, op: Op, extra: BTreeMap<String, Value>) -> Node {
        let (in_bits, out_bits, in_words, out_words) = match &op {
            Op::Thresholding(t) => {
                let n = t.channels / t.pe * t.vectors;
                (t.in_bits(), t.out_bits(), n, n)
            }
            Op::Swu(s) => (s.word_bits(), s.word_bits(), s.in_words(), s.out_words()),
            Op::Mvau(m) => (m.in_bits(), m.out_bits(), m.sf() * m.vectors, m.nf_pad() * m.vectors),
            Op::MaxPool(p) => (p.word_bits(), p.word_bits(), p.h * p.w, p.h / p.k * (p.w / p.k)),
            Op::Dwc(d) => (d.in_bits, d.out_bits, d.frame_bits / d.in_bits, d.frame_bits / d.out_bits),
            Op::LabelSelect(l) => (l.in_bits(), l.out.bits as usize, l.in_words(), l.k),
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
    /// FINN's estimate for the node (`estimate_layer_resources`); StreamingMaxPool, LabelSelect
    /// and IODMA have no formula in FINN and count zero.
    pub fn finn_estimate(&self) -> Resources {
        match &self.op {
            Op::Mvau(m) => m.finn_estimate(),
            Op::Thresholding(t) => t.finn_estimate(),
            Op::Swu(s) => s.finn_estimate(),
            Op::Dwc(d) => d.finn_estimate(),
            _ => Resources::default(),
        }
    }
    pub fn lut(&self) -> u64 {
        self.finn_estimate().lut
    }
    pub fn bram18(&self) -> u64 {
        self.finn_estimate().bram18
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

/// Numbers nodes per op type in graph order, as FINN's GiveUniqueNodeNames does.
#[derive(Default)]
struct Names(BTreeMap<&'static str, usize>);

impl Names {
    fn next(&mut self, op: &'static str) -> String {
        let c = self.0.entry(op).or_insert(0);
        *c += 1;
        format!("{op}_{}", *c - 1)
    }
}

/// Folds one layer with its config attributes.
fn fold_layer(
    l: &LayerSpec,
    cfg: &FoldingConfig,
    flow: Flow,
    names: &mut Names,
    prev: &Node,
    last_mvau: bool,
) -> Result<Node, Error> {
    Ok(match l {
        LayerSpec::Thresholding(spec) => {
            let n = names.next(OP_THRES);
            let a = node_attrs(cfg, &n, OP_THRES)?;
            let pe = int_attr(&n, &a, "PE").map_err(cfg_err)?.unwrap_or(1);
            // BNN-PYNQ reads whole pixels into conv0: the quantizer keeps that pace.
            let pe = if flow == Flow::BnnPynq { spec.channels } else { pe };
            let t = Thresholding::new(&n, spec, pe)?;
            Node::new(n, Op::Thresholding(t), extra(&a, &["PE"]))
        }
        LayerSpec::Swu(spec) => {
            let n = names.next(if flow == Flow::BnnPynq { OP_SWU_HLS } else { OP_SWU });
            let a = node_attrs(cfg, &n, OP_SWU)?;
            let simd = int_attr(&n, &a, "SIMD").map_err(cfg_err)?.unwrap_or(1);
            let rs = str_attr(&n, &a, "ram_style").map_err(cfg_err)?.unwrap_or("auto");
            check_choice(&n, "ram_style", Some(rs), &["auto", "block", "distributed", "ultra"])?;
            if a.get("parallel_window").and_then(Value::as_u64).unwrap_or(0) != 0 {
                return Err(Error::node(&n, "parallel_window = 1 is not modelled"));
            }
            let mut s = Swu::new(&n, spec, simd, rs)?;
            s.hls_loop = flow == Flow::BnnPynq;
            Node::new(n, Op::Swu(s), extra(&a, &["SIMD", "ram_style"]))
        }
        LayerSpec::Mvau(spec) => {
            let n = names.next(OP_MVAU);
            let a = node_attrs(cfg, &n, OP_MVAU)?;
            let c = mvau_config(&n, &a)?;
            let mut m = Mvau::new(&n, spec, c)?;
            if flow == Flow::BnnPynq {
                // finn-hlslib reads ±1 weights as one bit (Recast<Binary>); no minimize_bit_width.
                m.wdt = DType::BINARY;
                if last_mvau {
                    m.pad_rows_to(Flow::BNN_PYNQ_LAST_ROWS);
                }
            }
            let used = ["PE", "SIMD", "mem_mode", "ram_style", "ram_style_thresholds", "resType", "dsp_xnor"];
            Node::new(n, Op::Mvau(m), extra(&a, &used))
        }
        LayerSpec::MaxPool(spec) => {
            let n = names.next(OP_POOL);
            let a = node_attrs(cfg, &n, OP_POOL)?;
            if let Some(pe) = int_attr(&n, &a, "PE").map_err(cfg_err)? {
                if pe == 0 || spec.channels % pe != 0 {
                    return Err(Error::node(&n, format!("PE {pe} does not divide the {} channels", spec.channels)));
                }
            }
            let p = MaxPool::new(&n, spec)?;
            Node::new(n, Op::MaxPool(p), a)
        }
        LayerSpec::LabelSelect { labels, k } => {
            let n = names.next(OP_LABEL);
            let a = node_attrs(cfg, &n, OP_LABEL)?;
            let pe = int_attr(&n, &a, "PE").map_err(cfg_err)?.unwrap_or(1);
            let Op::Mvau(m) = &prev.op else {
                return Err(Error::node(&n, "LabelSelect must follow an MVAU"));
            };
            let mut l = LabelSelect::new(&n, *labels, *k, pe, m.out)?;
            if m.mh_pad % pe != 0 {
                return Err(Error::node(&n, format!("PE {pe} does not divide the {} padded scores", m.mh_pad)));
            }
            l.scan = m.mh_pad;
            Node::new(n, Op::LabelSelect(l), extra(&a, &["PE"]))
        }
    })
}

fn mvau_config(n: &str, a: &BTreeMap<String, Value>) -> Result<MvauConfig, Error> {
    let d = MvauConfig::default();
    let st = |k: &str, dflt: &str| -> Result<String, Error> {
        Ok(str_attr(n, a, k).map_err(cfg_err)?.unwrap_or(dflt).to_string())
    };
    let c = MvauConfig {
        pe: int_attr(n, a, "PE").map_err(cfg_err)?.unwrap_or(1),
        simd: int_attr(n, a, "SIMD").map_err(cfg_err)?.unwrap_or(1),
        mem_mode: st("mem_mode", &d.mem_mode)?,
        ram_style: st("ram_style", &d.ram_style)?,
        ram_style_thresholds: st("ram_style_thresholds", &d.ram_style_thresholds)?,
        res_type: st("resType", &d.res_type)?,
        runtime_writeable_weights: bool_attr(n, a, "runtime_writeable_weights")?,
        dsp_xnor: bool_attr(n, a, "dsp_xnor")?,
    };
    check_choice(n, "mem_mode", Some(&c.mem_mode), &["internal_embedded", "internal_decoupled", "external"])?;
    check_choice(n, "ram_style", Some(&c.ram_style), &["auto", "block", "distributed", "ultra"])?;
    check_choice(n, "ram_style_thresholds", Some(&c.ram_style_thresholds), &["auto", "block", "distributed"])?;
    check_choice(n, "resType", Some(&c.res_type), &["auto", "lut", "dsp"])?;
    Ok(c)
}

/// The layer nodes between the two IODMAs, folded.
fn fold_layers(layers: &[LayerSpec], cfg: &FoldingConfig, flow: Flow) -> Result<Vec<Node>, Error> {
    let mut names = Names::default();
    let mut nodes = vec![Node::new(names.next(OP_IODMA), Op::IoDmaIn, node_attrs(cfg, "IODMA_hls_0", OP_IODMA)?)];
    let last_mvau = layers.iter().rposition(|l| matches!(l, LayerSpec::Mvau(_)));
    for (i, l) in layers.iter().enumerate() {
        let node = fold_layer(l, cfg, flow, &mut names, nodes.last().expect("the input IODMA"), Some(i) == last_mvau)?;
        nodes.push(node);
    }
    let out_name = names.next(OP_IODMA);
    let a = node_attrs(cfg, &out_name, OP_IODMA)?;
    nodes.push(Node::new(out_name, Op::IoDmaOut, a));
    if nodes.len() < 3 {
        return Err(Error::Invalid("the graph has no layers".into()));
    }
    Ok(nodes)
}

/// Sets the IODMAs' widths: the input one reads 64-bit words in BNN-PYNQ (when a frame is whole
/// 64-bit words), else both take their neighbour's width (FINN's IODMA with its converter).
fn size_iodmas(nodes: &mut [Node], flow: Flow, input: (usize, usize, usize)) -> Result<(), Error> {
    let n = nodes.len();
    let frame_bits = input.0 * input.1 * input.2 * 8;
    let (b, w) = (nodes[1].in_bits, nodes[1].in_words);
    if b * w != frame_bits {
        return Err(Error::Invalid(format!(
            "the first node takes {} bits per frame, the {}x{}x{} UINT8 input has {frame_bits}",
            b * w,
            input.0,
            input.1,
            input.2
        )));
    }
    let mem = Flow::BNN_PYNQ_MEM_BITS;
    let (b, w) = if flow == Flow::BnnPynq && frame_bits.is_multiple_of(mem) { (mem, frame_bits / mem) } else { (b, w) };
    nodes[0].out_bits = b;
    nodes[0].out_words = w;
    let (b, w) = (nodes[n - 2].out_bits, nodes[n - 2].out_words);
    nodes[n - 1].in_bits = b;
    nodes[n - 1].in_words = w;
    Ok(())
}

/// What a layer node is, for BNN-PYNQ's boundaries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An MVAU after a window generator, or a pool: its output is pixels.
    Conv,
    /// An MVAU of a fully connected layer.
    Fc,
    Other,
}

fn kinds(nodes: &[Node]) -> Vec<Kind> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| match &n.op {
            Op::MaxPool(_) => Kind::Conv,
            Op::Mvau(_) if i > 0 && matches!(nodes[i - 1].op, Op::Swu(_)) => Kind::Conv,
            Op::Mvau(_) => Kind::Fc,
            _ => Kind::Other,
        })
        .collect()
}

/// The stream between two layers in BNN-PYNQ: its word width and its role (for the depth).
/// Conv and pool outputs are whole pixels, fc outputs 64-bit words (when they fill them).
fn bnn_pynq_boundary(
    (prev, prev_kind): (&Node, Kind),
    (next, next_kind): (&Node, Kind),
    pools: usize,
    next_is_last: bool,
) -> Option<(usize, Boundary)> {
    if matches!(prev.op, Op::IoDmaIn) {
        return Some((next.in_bits, Boundary::Input));
    }
    let next_fc = next_kind == Kind::Fc;
    if prev_kind == Kind::Conv {
        let bits = prev.out_frame_bits() / conv_pixels(prev);
        let role = match &next.op {
            Op::Swu(_) if matches!(prev.op, Op::MaxPool(_)) => Boundary::PoolConv { pools },
            Op::Swu(_) => Boundary::ConvConv { group: pools },
            Op::MaxPool(_) => Boundary::ConvPool,
            _ if next_fc => Boundary::ConvFc,
            _ => return None,
        };
        return Some((bits, role));
    }
    match &prev.op {
        Op::Mvau(m) if prev_kind == Kind::Fc && next_fc => {
            let bits = m.mh_pad * m.out.bits as usize;
            let w = if bits.is_multiple_of(Flow::BNN_PYNQ_MEM_BITS) { Flow::BNN_PYNQ_MEM_BITS } else { bits };
            Some((w, Boundary::FcFc { into_last: next_is_last }))
        }
        _ => None,
    }
}

/// Pixels per frame on a conv or pool node's output.
fn conv_pixels(n: &Node) -> usize {
    match &n.op {
        Op::Mvau(m) => m.vectors,
        Op::MaxPool(p) => p.h / p.k * (p.w / p.k),
        _ => 1,
    }
}

/// A width converter from `from` to `to` bits over `frame_bits`, named as the flow names it.
fn dwc(from: usize, to: usize, frame_bits: usize, flow: Flow, names: &mut Names) -> Node {
    let mut d = Dwc { in_bits: from, out_bits: to, impl_rtl: false, frame_bits };
    d.impl_rtl = flow == Flow::Finn && d.rtl();
    let name = names.next(if d.impl_rtl { OP_DWC_RTL } else { OP_DWC });
    Node::new(name, Op::Dwc(d), BTreeMap::new())
}

/// Per gap between consecutive nodes: the FIFO depth the flow gives it and its boundary role.
type Gaps = Vec<(usize, Option<Boundary>)>;

/// Inserts width converters between the folded nodes; returns the nodes and their gaps.
fn connect(layer_nodes: Vec<Node>, flow: Flow) -> Result<(Vec<Node>, Gaps), Error> {
    let mut names = Names::default();
    let mut nodes: Vec<Node> = Vec::with_capacity(layer_nodes.len() * 3);
    let mut depths = Vec::with_capacity(layer_nodes.len() * 3);
    let last_mvau = layer_nodes.iter().rposition(|n| matches!(n.op, Op::Mvau(_)));
    let kind = kinds(&layer_nodes);
    let mut pools = 0;
    for (i, node) in layer_nodes.into_iter().enumerate() {
        let Some(prev) = nodes.last() else {
            nodes.push(node);
            continue;
        };
        let prev_kind = kind[i - 1];
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
        if matches!(prev.op, Op::MaxPool(_)) {
            pools += 1;
        }
        let frame = node.in_frame_bits();
        let boundary = match flow {
            Flow::BnnPynq if matches!(node.op, Op::IoDmaOut) => Some((node.in_bits, Boundary::Output)),
            Flow::BnnPynq => bnn_pynq_boundary((prev, prev_kind), (&node, kind[i]), pools, Some(i) == last_mvau),
            Flow::Finn => None,
        };
        match boundary {
            Some((bits, role)) => {
                // producer → [DWC to the boundary word] → boundary stream → [DWC to the consumer]
                let (from, to) = (prev.out_bits, node.in_bits);
                let mut chain = vec![from];
                if from != bits {
                    let mid = lcm(from, bits);
                    if mid != from && mid != bits {
                        chain.push(mid);
                    }
                    chain.push(bits);
                }
                for w in chain.windows(2) {
                    nodes.push(dwc(w[0], w[1], frame, flow, &mut names));
                    depths.push((Flow::HLS_DEFAULT_STREAM_DEPTH, None));
                }
                depths.push((bnn_pynq_boundary_depth(role), Some(role)));
                if to != bits {
                    nodes.push(dwc(bits, to, frame, flow, &mut names));
                    depths.push((Flow::HLS_DEFAULT_STREAM_DEPTH, None));
                }
            }
            None => {
                if prev.out_bits != node.in_bits {
                    let d = dwc(prev.out_bits, node.in_bits, frame, flow, &mut names);
                    nodes.push(d);
                    depths.push((Flow::HLS_DEFAULT_STREAM_DEPTH, None));
                }
                depths.push((Flow::HLS_DEFAULT_STREAM_DEPTH, None));
            }
        }
        nodes.push(node);
    }
    debug_assert_eq!(depths.len() + 1, nodes.len());
    Ok((nodes, depths))
}

fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

/// The FIFOs between the nodes: depths from the config where it gives them (a `depth` of the
/// FIFO, or the neighbours' out/inFIFODepths), else the flow's.
fn make_fifos(nodes: &[Node], cfg: &FoldingConfig, gaps: &Gaps) -> Result<(Vec<FifoNode>, bool), Error> {
    let mut fifos = Vec::with_capacity(nodes.len() - 1);
    let mut from_config = false;
    for (i, pair) in nodes.windows(2).enumerate() {
        let n = format!("{OP_FIFO}_{i}");
        let a = node_attrs(cfg, &n, OP_FIFO)?;
        let first = |attrs: &BTreeMap<String, Value>, k: &str| {
            attrs.get(k).and_then(Value::as_array).and_then(|v| v.first()).and_then(Value::as_u64)
        };
        let implied = first(&pair[0].extra, "outFIFODepths").max(first(&pair[1].extra, "inFIFODepths"));
        let given = int_attr(&n, &a, "depth").map_err(cfg_err)?.or(implied.and_then(|d| usize::try_from(d).ok()));
        from_config |= given.is_some();
        let (default, boundary) = gaps[i];
        let depth = given.unwrap_or(default);
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
        fifos.push(FifoNode {
            name: n,
            bits: pair[0].out_bits,
            depth,
            style,
            words_per_frame: pair[0].out_words,
            boundary,
        });
    }
    Ok((fifos, from_config))
}

/// Every name in the config must be a node of the graph, every Defaults op type a known one.
fn check_names(nodes: &[Node], fifos: &[FifoNode], cfg: &FoldingConfig) -> Result<(), Error> {
    let names: BTreeSet<String> = nodes
        .iter()
        .map(|n| n.name.clone())
        .chain(nodes.iter().filter_map(|n| swu_alias(&n.name)))
        .chain(fifos.iter().map(|f| f.name.clone()))
        .collect();
    for key in cfg.nodes.keys() {
        if !names.contains(key) {
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
        if let OpTypes::Only(v) = ops {
            if let Some(op) = v.iter().find(|op| !OP_TYPES.contains(&op.as_str())) {
                return Err(Error::Config(format!("Defaults.{attr}: unknown op type '{op}'")));
            }
        }
    }
    Ok(())
}

impl Graph {
    /// Folds `layers` with `cfg` and inserts converters and FIFOs as FINN does. `input` is the
    /// H×W×C of the UINT8 frames the input IODMA reads.
    pub fn build(layers: &[LayerSpec], cfg: &FoldingConfig, input: (usize, usize, usize)) -> Result<Graph, Error> {
        Graph::build_flow(layers, cfg, input, Flow::Finn)
    }

    /// Folds `layers` with `cfg` as `flow` builds the accelerator.
    pub fn build_flow(
        layers: &[LayerSpec],
        cfg: &FoldingConfig,
        input: (usize, usize, usize),
        flow: Flow,
    ) -> Result<Graph, Error> {
        let mut nodes = fold_layers(layers, cfg, flow)?;
        size_iodmas(&mut nodes, flow, input)?;
        let (nodes, defaults) = connect(nodes, flow)?;
        let (fifos, config_depths) = make_fifos(&nodes, cfg, &defaults)?;
        check_names(&nodes, &fifos, cfg)?;
        Ok(Graph { nodes, fifos, input, flow, config_depths })
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

    /// FINN's estimate for FIFO `i`.
    pub fn fifo_estimate(&self, i: usize) -> Resources {
        let f = &self.fifos[i];
        fifo::finn_estimate(f.depth, f.bits, &f.style)
    }
    /// FINN's estimate summed over every node and FIFO. FINN's own report
    /// (`step_generate_estimate_reports`) runs before converters and FIFOs are inserted; their
    /// formulas are added here so the total covers the graph that is built.
    pub fn finn_total(&self) -> Resources {
        self.nodes.iter().map(Node::finn_estimate).sum::<Resources>()
            + (0..self.fifos.len()).map(|i| self.fifo_estimate(i)).sum::<Resources>()
    }
    pub fn total_lut(&self) -> u64 {
        self.finn_total().lut
    }
    pub fn total_bram18(&self) -> u64 {
        self.finn_total().bram18
    }

    /// Sets FIFO depths as FINN's sizing does (`set_fifo_depths.py:321-337`): deeper than 256
    /// becomes a vivado FIFO (ram_style `auto`, FINN's `large_fifo_mem_style` default), except
    /// the FIFOs at the graph's input and output, which stay rtl.
    pub fn set_fifo_depths(&mut self, depths: &[usize]) {
        let last = self.fifos.len().saturating_sub(1);
        for (i, (f, &d)) in self.fifos.iter_mut().zip(depths).enumerate() {
            f.depth = d.max(1);
            f.style = if d > 256 && i != 0 && i != last {
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
                    attrs.insert("runtime_writeable_weights".into(), u8::from(m.cfg.runtime_writeable_weights).into());
                    if m.cfg.dsp_xnor {
                        attrs.insert("dsp_xnor".into(), 1.into());
                    }
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
