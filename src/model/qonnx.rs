//! Import of Brevitas' QONNX export of the bnn_pynq CNV family (both the dynamo and the
//! TorchScript exporters).
//!
//! The graph is walked along its data path from the input to the output. Constant subgraphs
//! (initializers, Constant nodes, and the arithmetic, Transpose and Reshape ops on them) are
//! folded first. Along the data path the importer accepts, in this order:
//! 1. the scalar affine `2x − 1` (Mul/Sub/Add/Div by constants), then `Quant` (signed, not
//!    narrow, zero point 0, ≤ 8 bits, scalar scale) — the input quantizer;
//! 2. per layer: `Conv` (valid, stride 1, square odd kernel, no groups, no bias) or
//!    `Gemm`/`MatMul` on weights binarized by `BipolarQuant` (scale 1); then
//!    `BatchNormalization`, `BipolarQuant` (scale 1), and optionally `MaxPool` (k×k, stride k);
//!    a `Reshape`/`Flatten` between the convs and the fcs;
//! 3. after the last fc: scalar `Sub`/`Div`/`Mul`/`Add` (TensorNorm), folded into one affine.
//!
//! Anything else is refused with an error that names the node and why.

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array2;
use onnx_protobuf::{Message, ModelProto, NodeProto, TensorProto};

use super::topology::{LayerKind, LayerSpec, Shape, Topology};
use super::trained::{Affine, BatchNorm, InputQuant, TrainedLayer, TrainedModel};
use crate::error::{Error, Result};

const QONNX_DOMAINS: [&str; 3] = ["qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas"];

/// A constant tensor, kept in f64 (enough for f32 weights and i64 shapes).
#[derive(Clone, Debug)]
struct Const {
    dims: Vec<usize>,
    data: Vec<f64>,
}

impl Const {
    fn scalar(&self) -> Option<f64> {
        (self.data.len() == 1).then(|| self.data[0])
    }
}

struct Ctx<'a> {
    path: &'a Path,
    consts: HashMap<String, Const>,
    /// For each tensor name, the nodes that read it.
    consumers: HashMap<String, Vec<usize>>,
    nodes: &'a [NodeProto],
}

impl Ctx<'_> {
    fn unsupported(&self, node: &NodeProto, msg: impl Into<String>) -> Error {
        Error::Unsupported {
            path: self.path.to_path_buf(),
            node: if node.name.is_empty() {
                node.output.first().cloned().unwrap_or_default()
            } else {
                node.name.clone()
            },
            op: node.op_type.clone(),
            msg: msg.into(),
        }
    }
    fn file_err(&self, msg: impl std::fmt::Display) -> Error {
        Error::file(self.path, msg)
    }
    fn input_const(&self, node: &NodeProto, i: usize) -> Result<&Const> {
        let name = node.input.get(i).ok_or_else(|| self.unsupported(node, format!("input {i} is missing")))?;
        self.consts.get(name).ok_or_else(|| self.unsupported(node, format!("input {i} ('{name}') must be a constant")))
    }
    fn scalar_input(&self, node: &NodeProto, i: usize) -> Result<f64> {
        let c = self.input_const(node, i)?;
        c.scalar()
            .ok_or_else(|| self.unsupported(node, format!("input {i} must be a scalar, it has shape {:?}", c.dims)))
    }
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a onnx_protobuf::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}
fn attr_i(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}
fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}
fn attr_s(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// Decodes a TensorProto (raw or typed fields; external data next to the model file).
fn tensor(t: &TensorProto, dir: Option<&Path>) -> std::result::Result<Const, String> {
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dim {d}")))
        .collect::<std::result::Result<_, _>>()?;
    let n: usize = dims.iter().product();
    let external;
    let raw: &[u8] = if !t.external_data.is_empty() {
        let get = |k: &str| t.external_data.iter().find(|e| e.key == k).map(|e| e.value.clone());
        let loc = get("location").ok_or("external data without a location")?;
        let dir = dir.ok_or("external data needs the model's folder")?;
        let file = std::fs::read(dir.join(&loc)).map_err(|e| format!("external data file '{loc}': {e}"))?;
        let offset: usize = get("offset").map_or(Ok(0), |s| s.parse()).map_err(|_| "bad external data offset")?;
        let length: usize = get("length")
            .map_or(Ok(file.len().saturating_sub(offset)), |s| s.parse())
            .map_err(|_| "bad external data length")?;
        external = file
            .get(offset..offset.saturating_add(length))
            .ok_or(format!("external data '{loc}' is shorter than the tensor"))?
            .to_vec();
        &external
    } else {
        &t.raw_data
    };
    let data: Vec<f64> = match t.data_type {
        1 => {
            if raw.is_empty() && !t.float_data.is_empty() {
                t.float_data.iter().map(|&v| v as f64).collect()
            } else {
                raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect()
            }
        }
        11 => {
            if raw.is_empty() {
                t.double_data.clone()
            } else {
                raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
            }
        }
        7 => {
            if raw.is_empty() {
                t.int64_data.iter().map(|&v| v as f64).collect()
            } else {
                raw.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64).collect()
            }
        }
        6 => {
            if raw.is_empty() {
                t.int32_data.iter().map(|&v| v as f64).collect()
            } else {
                raw.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64).collect()
            }
        }
        other => return Err(format!("tensor data type {other} is not supported")),
    };
    if data.len() != n {
        return Err(format!("tensor '{}' has {} values for shape {:?}", t.name, data.len(), dims));
    }
    Ok(Const { dims, data })
}

/// Evaluates a node whose inputs are all constant, for the ops that appear in constant
/// subgraphs of these exports. None if the op is not one of them.
fn fold_const(node: &NodeProto, ins: &[&Const]) -> Option<Const> {
    let bin = |f: fn(f64, f64) -> f64| -> Option<Const> {
        let (a, b) = (ins.first()?, ins.get(1)?);
        if a.data.len() == b.data.len() {
            Some(Const { dims: a.dims.clone(), data: a.data.iter().zip(&b.data).map(|(x, y)| f(*x, *y)).collect() })
        } else if b.data.len() == 1 {
            Some(Const { dims: a.dims.clone(), data: a.data.iter().map(|x| f(*x, b.data[0])).collect() })
        } else if a.data.len() == 1 {
            Some(Const { dims: b.dims.clone(), data: b.data.iter().map(|y| f(a.data[0], *y)).collect() })
        } else {
            None
        }
    };
    match node.op_type.as_str() {
        "Identity" | "Cast" => ins.first().map(|c| (*c).clone()),
        "Add" => bin(|a, b| a + b),
        "Sub" => bin(|a, b| a - b),
        "Mul" => bin(|a, b| a * b),
        "Div" => bin(|a, b| a / b),
        "Pow" => bin(f64::powf),
        "Sqrt" => ins.first().map(|c| Const { dims: c.dims.clone(), data: c.data.iter().map(|v| v.sqrt()).collect() }),
        "Neg" => ins.first().map(|c| Const { dims: c.dims.clone(), data: c.data.iter().map(|v| -v).collect() }),
        "Transpose" => {
            let c = ins.first()?;
            if c.dims.len() != 2 {
                return None;
            }
            let perm = attr_ints(node, "perm").unwrap_or(vec![1, 0]);
            if perm != [1, 0] {
                return None;
            }
            let (r, k) = (c.dims[0], c.dims[1]);
            let data = (0..k).flat_map(|j| (0..r).map(move |i| (i, j))).map(|(i, j)| c.data[i * k + j]).collect();
            Some(Const { dims: vec![k, r], data })
        }
        "Reshape" => {
            let (c, shape) = (ins.first()?, ins.get(1)?);
            let n = c.data.len();
            let mut dims: Vec<i64> = shape.data.iter().map(|&v| v as i64).collect();
            let known: i64 = dims
                .iter()
                .enumerate()
                .map(|(i, &d)| {
                    if d == -1 {
                        1
                    } else if d == 0 {
                        c.dims.get(i).copied().unwrap_or(1) as i64
                    } else {
                        d
                    }
                })
                .product();
            for (i, d) in dims.iter_mut().enumerate() {
                if *d == -1 {
                    *d = n as i64 / known.max(1);
                } else if *d == 0 {
                    *d = c.dims.get(i).copied().unwrap_or(1) as i64;
                }
            }
            let dims: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
            (dims.iter().product::<usize>() == n).then(|| Const { dims, data: c.data.clone() })
        }
        // A binarizer on a constant is kept latent: the weight path reads through it.
        _ => None,
    }
}

/// A scalar affine y = a·x + b accumulated along the data path.
#[derive(Clone, Copy, Debug)]
struct Lin {
    a: f64,
    b: f64,
}

impl Lin {
    const ID: Lin = Lin { a: 1.0, b: 0.0 };
    /// Applies one elementwise op with a constant operand; None if it is not such an op.
    fn then(self, ctx: &Ctx, node: &NodeProto, data: &str) -> Result<Lin> {
        let other = if node.input.first().map(String::as_str) == Some(data) { 1 } else { 0 };
        let c = ctx.scalar_input(node, other)?;
        let Lin { a, b } = self;
        Ok(match (node.op_type.as_str(), other) {
            ("Add", _) => Lin { a, b: b + c },
            ("Mul", _) => Lin { a: a * c, b: b * c },
            ("Sub", 1) => Lin { a, b: b - c },
            ("Sub", _) => Lin { a: -a, b: c - b },
            ("Div", 1) => Lin { a: a / c, b: b / c },
            _ => return Err(ctx.unsupported(node, "only x/c is supported, not c/x")),
        })
    }
}

/// The latent weight feeding `input` of a Conv/Gemm/MatMul: read back through Transpose,
/// Identity and exactly one BipolarQuant (scale 1) to a constant.
fn weight_of(ctx: &Ctx, node: &NodeProto, input: usize, producers: &HashMap<&str, usize>) -> Result<(Const, bool)> {
    let mut name =
        node.input.get(input).cloned().ok_or_else(|| ctx.unsupported(node, "the weight input is missing"))?;
    let mut transposed = false;
    let mut binarized = false;
    loop {
        if !binarized {
            if let Some(c) = ctx.consts.get(&name) {
                if c.data.iter().all(|&v| v == 1.0 || v == -1.0) {
                    // Already ±1 (a cleaned-up export): binarized as it is.
                    binarized = true;
                } else {
                    return Err(ctx.unsupported(node, "its weights are not binarized by a BipolarQuant"));
                }
            }
        }
        let Some(&p) = producers.get(name.as_str()) else {
            let c = ctx
                .consts
                .get(&name)
                .ok_or_else(|| ctx.unsupported(node, format!("weight '{name}' is not a constant")))?;
            let mut c = c.clone();
            if transposed {
                c = fold_const(&transpose_node(), &[&c])
                    .ok_or_else(|| ctx.unsupported(node, "cannot transpose its weight"))?;
            }
            return Ok((c, binarized));
        };
        let prod = &ctx.nodes[p];
        match prod.op_type.as_str() {
            "BipolarQuant" if !binarized => {
                let s = ctx.scalar_input(prod, 1)?;
                if s != 1.0 {
                    return Err(ctx.unsupported(
                        prod,
                        format!("weight scale {s} is not supported (binary weights with scale 1)"),
                    ));
                }
                binarized = true;
                name = prod.input[0].clone();
            }
            "Transpose" => {
                if attr_ints(prod, "perm").is_some_and(|p| p != [1, 0]) {
                    return Err(ctx.unsupported(prod, "only a 2-D transpose of a weight is supported"));
                }
                transposed = !transposed;
                name = prod.input.first().cloned().ok_or_else(|| ctx.unsupported(prod, "no input"))?;
            }
            "Identity" => name = prod.input.first().cloned().ok_or_else(|| ctx.unsupported(prod, "no input"))?,
            _ if ctx.consts.contains_key(&name) => {
                let mut c = ctx.consts[&name].clone();
                if transposed {
                    c = fold_const(&transpose_node(), &[&c])
                        .ok_or_else(|| ctx.unsupported(node, "cannot transpose its weight"))?;
                }
                return Ok((c, binarized));
            }
            _ => return Err(ctx.unsupported(prod, "unexpected op on a weight path")),
        }
    }
}

fn transpose_node() -> NodeProto {
    NodeProto { op_type: "Transpose".into(), ..Default::default() }
}

/// Reads a QONNX model file.
pub fn import(path: &Path) -> Result<TrainedModel> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    import_bytes(&bytes, path)
}

struct Pending {
    kind: PendingKind,
    weight: Array2<f32>,
    bn: Option<BatchNorm>,
    activated: bool,
}
enum PendingKind {
    Conv { out: usize },
    Fc { out: usize },
}

pub fn import_bytes(bytes: &[u8], path: &Path) -> Result<TrainedModel> {
    let model =
        ModelProto::parse_from_bytes(bytes).map_err(|e| Error::file(path, format!("not a valid ONNX model: {e}")))?;
    let graph = model.graph.as_ref().ok_or_else(|| Error::file(path, "not a valid ONNX model: it has no graph"))?;
    if graph.node.is_empty() {
        return Err(Error::file(path, "not a valid ONNX model: the graph has no nodes"));
    }
    let dir = path.parent();
    let mut ctx = Ctx { path, consts: HashMap::new(), consumers: HashMap::new(), nodes: &graph.node };
    for t in &graph.initializer {
        let c = tensor(t, dir).map_err(|e| ctx.file_err(format!("initializer '{}': {e}", t.name)))?;
        ctx.consts.insert(t.name.clone(), c);
    }
    let mut producers: HashMap<&str, usize> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for o in &n.output {
            producers.insert(o.as_str(), i);
        }
        for inp in &n.input {
            ctx.consumers.entry(inp.clone()).or_default().push(i);
        }
    }
    // Fold constant subgraphs (nodes are topologically sorted in ONNX).
    for n in &graph.node {
        if n.op_type == "Constant" {
            let t = attr(n, "value")
                .and_then(|a| a.t.as_ref())
                .ok_or_else(|| ctx.unsupported(n, "a Constant without a tensor value"))?;
            let c = tensor(t, dir).map_err(|e| ctx.unsupported(n, e))?;
            if let Some(o) = n.output.first() {
                ctx.consts.insert(o.clone(), c);
            }
            continue;
        }
        let ins: Option<Vec<&Const>> = n.input.iter().filter(|s| !s.is_empty()).map(|s| ctx.consts.get(s)).collect();
        if let Some(ins) = ins {
            if !ins.is_empty() {
                if let (Some(c), Some(o)) = (fold_const(n, &ins), n.output.first()) {
                    ctx.consts.insert(o.clone(), c);
                }
            }
        }
    }

    // The data input: the graph input that is not an initializer.
    let inputs: Vec<_> = graph.input.iter().filter(|v| !ctx.consts.contains_key(&v.name)).collect();
    let [input] = inputs.as_slice() else {
        return Err(ctx.file_err(format!("expected one data input, found {}", inputs.len())));
    };
    let dims: Vec<i64> = input
        .type_
        .as_ref()
        .and_then(|t| t.tensor_type().shape.as_ref().map(|s| s.dim.iter().map(|d| d.dim_value()).collect()))
        .unwrap_or_default();
    let in_shape = match dims.as_slice() {
        [_, c, h, w] if *c > 0 && *h > 0 && *w > 0 => Shape::new(*h as usize, *w as usize, *c as usize),
        _ => {
            return Err(ctx.file_err(format!("input '{}' must be NCHW with known C, H, W; it is {dims:?}", input.name)))
        }
    };
    if in_shape.channels > 64 || in_shape.height > 4096 || in_shape.width > 4096 {
        return Err(ctx.file_err(format!("input shape {in_shape} is out of range")));
    }

    enum Stage {
        Prefix,
        Layers,
        Suffix,
    }
    let mut stage = Stage::Prefix;
    let mut lin = Lin::ID;
    let mut quant: Option<InputQuant> = None;
    let mut specs: Vec<LayerSpec> = Vec::new();
    let mut layers: Vec<TrainedLayer> = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut shape = in_shape;
    let mut flattened = false;
    let (mut group, mut in_group, mut pools, mut fcs) = (1usize, 0usize, 0usize, 0usize);
    let mut tail = Lin::ID;

    let mut cur = input.name.clone();
    let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let mut steps = 0;
    while !outputs.contains(&cur.as_str()) {
        steps += 1;
        if steps > graph.node.len() {
            return Err(ctx.file_err("the data path does not reach the graph output"));
        }
        let readers = ctx.consumers.get(&cur).cloned().unwrap_or_default();
        let [ni] = readers.as_slice() else {
            return Err(ctx.file_err(format!(
                "tensor '{cur}' is read by {} nodes; only a single chain is supported",
                readers.len()
            )));
        };
        let node = &graph.node[*ni];
        let op = node.op_type.as_str();
        let domain_ok =
            node.domain.is_empty() || node.domain == "ai.onnx" || QONNX_DOMAINS.contains(&node.domain.as_str());
        if !domain_ok {
            return Err(ctx.unsupported(node, format!("domain '{}' is not supported", node.domain)));
        }
        match (op, &stage) {
            ("Mul" | "Sub" | "Add" | "Div", Stage::Prefix) => lin = lin.then(&ctx, node, &cur)?,
            ("Quant", Stage::Prefix) => {
                let scale = ctx.scalar_input(node, 1)?;
                let zp = ctx.scalar_input(node, 2)?;
                let bits = ctx.scalar_input(node, 3)?;
                if attr_i(node, "signed", 1) != 1 || attr_i(node, "narrow", 0) != 0 || zp != 0.0 {
                    return Err(
                        ctx.unsupported(node, "the input quantizer must be signed, not narrow, with zero point 0")
                    );
                }
                let rounding = attr_s(node, "rounding_mode").unwrap_or_else(|| "ROUND".into());
                if !rounding.eq_ignore_ascii_case("ROUND") {
                    return Err(ctx.unsupported(node, format!("rounding mode {rounding} is not supported (ROUND)")));
                }
                if bits.fract() != 0.0 || !(2.0..=8.0).contains(&bits) {
                    return Err(ctx.unsupported(node, format!("{bits} bits is not supported (2..=8)")));
                }
                if (lin.a - 2.0).abs() > 1e-9 || (lin.b + 1.0).abs() > 1e-9 {
                    return Err(ctx.unsupported(
                        node,
                        format!("its input must be 2x−1 of the image in [0,1]; found {}x{:+}", lin.a, lin.b),
                    ));
                }
                let q = InputQuant { scale: scale as f32, bits: bits as u32 };
                q.validate().map_err(|e| ctx.unsupported(node, e.to_string()))?;
                quant = Some(q);
                stage = Stage::Layers;
            }
            ("Conv", Stage::Layers) => {
                if pending.as_ref().is_some_and(|p| !p.activated) {
                    return Err(ctx.unsupported(node, "two compute layers without an activation between them"));
                }
                flush(&mut pending, &mut layers);
                if flattened {
                    return Err(ctx.unsupported(node, "a conv after the flatten"));
                }
                if node.input.len() > 2 && !node.input[2].is_empty() {
                    let b = ctx.input_const(node, 2)?;
                    if b.data.iter().any(|&v| v != 0.0) {
                        return Err(
                            ctx.unsupported(node, "a conv bias is not supported (BatchNorm carries the offset)")
                        );
                    }
                }
                let (w, _) = weight_of(&ctx, node, 1, &producers)?;
                let [o, c, kh, kw] = w.dims.as_slice() else {
                    return Err(ctx.unsupported(node, format!("weight shape {:?} is not [out, in, kh, kw]", w.dims)));
                };
                let ones = |name: &str| attr_ints(node, name).is_none_or(|v| v.iter().all(|&x| x == 1));
                let zeros = attr_ints(node, "pads").is_none_or(|v| v.iter().all(|&x| x == 0));
                if kh != kw
                    || kh % 2 == 0
                    || !ones("strides")
                    || !ones("dilations")
                    || !zeros
                    || attr_i(node, "group", 1) != 1
                {
                    return Err(ctx.unsupported(
                        node,
                        "only valid, stride-1, ungrouped convs with a square odd kernel are supported",
                    ));
                }
                let auto_pad = attr_s(node, "auto_pad").unwrap_or_default();
                if !(auto_pad.is_empty() || auto_pad == "NOTSET" || auto_pad == "VALID") {
                    return Err(ctx.unsupported(node, format!("auto_pad {auto_pad} is not supported")));
                }
                if *c != shape.channels {
                    return Err(
                        ctx.unsupported(node, format!("it takes {c} channels but its input has {}", shape.channels))
                    );
                }
                if *kh > shape.height || *kw > shape.width {
                    return Err(ctx.unsupported(node, format!("kernel {kh} is larger than its input {shape}")));
                }
                let flat: Vec<f32> = w.data.iter().map(|&v| v as f32).collect();
                let weight = TrainedModel::oihw_to_ohwi(&flat, *o, *c, *kh);
                in_group += 1;
                specs.push(LayerSpec::Conv { name: format!("Conv{group}_{in_group}"), out_channels: *o, kernel: *kh });
                shape = Shape::new(shape.height - kh + 1, shape.width - kw + 1, *o);
                pending = Some(Pending { kind: PendingKind::Conv { out: *o }, weight, bn: None, activated: false });
            }
            ("BatchNormalization", Stage::Layers) => {
                let p = pending
                    .as_mut()
                    .filter(|p| p.bn.is_none() && !p.activated)
                    .ok_or_else(|| ctx.unsupported(node, "a BatchNorm must directly follow a conv or fc"))?;
                let n = match p.kind {
                    PendingKind::Conv { out } | PendingKind::Fc { out } => out,
                };
                let mut v = Vec::new();
                for i in 1..5 {
                    let c = ctx.input_const(node, i)?;
                    if c.data.len() != n {
                        return Err(
                            ctx.unsupported(node, format!("input {i} has {} values for {n} channels", c.data.len()))
                        );
                    }
                    v.push(c.data.iter().map(|&x| x as f32).collect::<Vec<f32>>());
                }
                let eps = attr(node, "epsilon").map_or(1e-5, |a| a.f);
                let var = v.pop().unwrap_or_default();
                let mean = v.pop().unwrap_or_default();
                let beta = v.pop().unwrap_or_default();
                let gamma = v.pop().unwrap_or_default();
                p.bn = Some(BatchNorm { gamma, beta, mean, var, eps });
            }
            ("BipolarQuant", Stage::Layers) => {
                let s = ctx.scalar_input(node, 1)?;
                if s != 1.0 {
                    return Err(
                        ctx.unsupported(node, format!("activation scale {s} is not supported (±1 activations)"))
                    );
                }
                let p = pending.as_mut().filter(|p| p.bn.is_some() && !p.activated).ok_or_else(|| {
                    ctx.unsupported(node, "a binary activation must follow a conv or fc with its BatchNorm")
                })?;
                p.activated = true;
            }
            ("MaxPool", Stage::Layers) => {
                if !pending.as_ref().is_some_and(|p| p.activated && matches!(p.kind, PendingKind::Conv { .. }))
                    || flattened
                {
                    return Err(ctx.unsupported(node, "a max-pool must follow a conv's binary activation"));
                }
                let k = attr_ints(node, "kernel_shape").unwrap_or_default();
                let s = attr_ints(node, "strides").unwrap_or_else(|| vec![1, 1]);
                let pads_ok = attr_ints(node, "pads").is_none_or(|v| v.iter().all(|&x| x == 0));
                let [kh, kw] = k.as_slice() else {
                    return Err(ctx.unsupported(node, "a 2-D kernel_shape is required"));
                };
                if kh != kw || s != [*kh, *kw] || !pads_ok || attr_i(node, "ceil_mode", 0) != 0 || *kh < 2 {
                    return Err(ctx.unsupported(node, "only k×k pools with stride k and no padding are supported"));
                }
                let k = *kh as usize;
                if shape.height % k != 0 || shape.width % k != 0 {
                    return Err(ctx.unsupported(node, format!("pool {k} does not divide its input {shape}")));
                }
                flush(&mut pending, &mut layers);
                pools += 1;
                specs.push(LayerSpec::MaxPool { name: format!("Pool{pools}"), size: k });
                shape = Shape::new(shape.height / k, shape.width / k, shape.channels);
                group += 1;
                in_group = 0;
            }
            ("Reshape" | "Flatten", Stage::Layers) => {
                if op == "Reshape" {
                    let target = ctx.input_const(node, 1)?;
                    let ok =
                        target.data.len() == 2 && (target.data[1] == -1.0 || target.data[1] as usize == shape.len());
                    if !ok {
                        return Err(
                            ctx.unsupported(node, format!("only a flatten to [N, {}] is supported", shape.len()))
                        );
                    }
                } else if attr_i(node, "axis", 1) != 1 {
                    return Err(ctx.unsupported(node, "only Flatten with axis 1 is supported"));
                }
                flattened = true;
            }
            ("Gemm" | "MatMul", Stage::Layers) => {
                if pending.as_ref().is_some_and(|p| !p.activated) {
                    return Err(ctx.unsupported(node, "two compute layers without an activation between them"));
                }
                flush(&mut pending, &mut layers);
                if !flattened && shape.pixels() != 1 {
                    return Err(ctx.unsupported(
                        node,
                        format!("a fully connected layer needs a flattened input; it gets {shape}"),
                    ));
                }
                let (data_idx, w_idx) = if node.input.first() == Some(&cur) { (0, 1) } else { (1, 0) };
                if data_idx != 0 {
                    return Err(ctx.unsupported(node, "the data must be the first operand"));
                }
                let (w, _) = weight_of(&ctx, node, w_idx, &producers)?;
                let [r, k] = w.dims.as_slice() else {
                    return Err(ctx.unsupported(node, format!("weight shape {:?} is not 2-D", w.dims)));
                };
                // Gemm with transB = 1 holds [out, in]; MatMul and Gemm without it hold [in, out].
                let trans_b = op == "Gemm" && attr_i(node, "transB", 0) == 1;
                if op == "Gemm" {
                    if attr_i(node, "transA", 0) != 0 || attr(node, "alpha").is_some_and(|a| a.f != 1.0) {
                        return Err(ctx.unsupported(node, "only Gemm with alpha 1 and no transA is supported"));
                    }
                    if node.input.len() > 2 && !node.input[2].is_empty() {
                        let b = ctx.input_const(node, 2)?;
                        if b.data.iter().any(|&v| v != 0.0) {
                            return Err(ctx.unsupported(node, "an fc bias is not supported"));
                        }
                    }
                }
                let (out, fan_in) = if trans_b { (*r, *k) } else { (*k, *r) };
                if fan_in != shape.len() {
                    return Err(ctx.unsupported(node, format!("it takes {fan_in} inputs but gets {}", shape.len())));
                }
                let weight = Array2::from_shape_fn((out, fan_in), |(o, j)| {
                    (if trans_b { w.data[o * fan_in + j] } else { w.data[j * out + o] }) as f32
                });
                let fc_layer = super::topology::Layer {
                    name: String::new(),
                    kind: LayerKind::Fc,
                    input: shape,
                    output: Shape::new(1, 1, out),
                    compute_index: None,
                };
                let weight = TrainedModel::chw_to_hwc_columns(&weight, &fc_layer);
                fcs += 1;
                specs.push(LayerSpec::Fc { name: format!("FC{fcs}"), out_features: out });
                shape = Shape::new(1, 1, out);
                flattened = true;
                pending = Some(Pending { kind: PendingKind::Fc { out }, weight, bn: None, activated: false });
            }
            ("Mul" | "Sub" | "Add" | "Div", Stage::Layers | Stage::Suffix)
                if pending.as_ref().is_some_and(|p| matches!(p.kind, PendingKind::Fc { .. }) && p.bn.is_none()) =>
            {
                stage = Stage::Suffix;
                tail = tail.then(&ctx, node, &cur)?;
            }
            _ => {
                let why = match stage {
                    Stage::Prefix => "expected the input's 2x−1 and Quant first",
                    Stage::Layers => "not part of the supported CNV family at this point",
                    Stage::Suffix => "only a scalar affine may follow the last layer",
                };
                return Err(ctx.unsupported(node, why));
            }
        }
        cur = node.output.first().cloned().ok_or_else(|| ctx.unsupported(node, "it has no output"))?;
    }
    let input_quant = quant.ok_or_else(|| ctx.file_err("no input Quant node was found"))?;
    match &pending {
        Some(p) if matches!(p.kind, PendingKind::Fc { .. }) && p.bn.is_none() && !p.activated => {}
        _ => return Err(ctx.file_err("the graph must end in a fully connected layer without activation")),
    }
    flush(&mut pending, &mut layers);
    let classes = match specs.last() {
        Some(LayerSpec::Fc { out_features, .. }) => *out_features,
        _ => 0,
    };
    let mut topology = Topology { name: "imported".into(), input: in_shape, layers: specs };
    // Named after the paper preset whose layers it has, names included.
    if let Some(p) = topology.paper_preset() {
        if Topology::preset(p, classes).is_ok_and(|t| t.layers == topology.layers) {
            topology.name = p.to_string();
        }
    }
    let m =
        TrainedModel { topology, input_quant, layers, output: Affine { scale: tail.a as f32, bias: tail.b as f32 } };
    m.validate().map_err(|e| e.in_file(path))?;
    Ok(m)
}

/// Moves a finished layer into the model.
fn flush(pending: &mut Option<Pending>, layers: &mut Vec<TrainedLayer>) {
    if let Some(p) = pending.take() {
        layers.push(TrainedLayer { weight: p.weight, bn: p.bn });
    }
}
