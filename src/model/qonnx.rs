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
//!
//! Sizes in the file are checked arithmetic: a tensor has at most
//! [`MAX_TENSOR_ELEMENTS`](crate::limits::MAX_TENSOR_ELEMENTS) values, a weight's producer chain is
//! followed at most once through each node (a cycle is an error, not a hang), and external data
//! (`data_location = EXTERNAL`) is read only from a regular file inside the model's folder
//! (a relative path without `..`, which also after resolving symlinks stays inside), exactly the
//! bytes the tensor needs — the rules of ONNX's own checker.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use ndarray::Array2;
use onnx_protobuf::{Message, ModelProto, NodeProto, TensorProto};

use super::topology::{LayerKind, LayerSpec, Shape, Topology};
use super::trained::{Affine, BatchNorm, InputQuant, TrainedLayer, TrainedModel};
use crate::error::{Error, Result};
use crate::limits::{self, MAX_TENSOR_ELEMENTS};

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
    /// For each tensor name, the node that writes it.
    producers: HashMap<&'a str, usize>,
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

/// The element count of `dims`, checked: at most [`MAX_TENSOR_ELEMENTS`].
fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|&n| n <= MAX_TENSOR_ELEMENTS)
}

fn too_many_elements(dims: &[usize]) -> String {
    format!(
        "shape {dims:?} has more values than binarycop reads in one tensor ({})",
        limits::named("MAX_TENSOR_ELEMENTS", MAX_TENSOR_ELEMENTS)
    )
}

/// Decodes a TensorProto (raw or typed fields; external data inside the model's folder).
fn tensor(t: &TensorProto, dir: Option<&Path>) -> std::result::Result<Const, String> {
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dim {d} is out of range")))
        .collect::<std::result::Result<_, _>>()?;
    let n = element_count(&dims).ok_or_else(|| too_many_elements(&dims))?;
    let width = match t.data_type {
        1 | 6 => 4,
        7 | 11 => 8,
        other => return Err(format!("tensor data type {other} is not supported")),
    };
    let external_flag = t.data_location.value() == onnx_protobuf::tensor_proto::DataLocation::EXTERNAL as i32;
    let external;
    let raw: &[u8] = if external_flag || !t.external_data.is_empty() {
        external = external_data(t, dir.ok_or("external data needs the model's folder")?, n * width)?;
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
        _ => {
            if raw.is_empty() {
                t.int32_data.iter().map(|&v| v as f64).collect()
            } else {
                raw.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64).collect()
            }
        }
    };
    if data.len() != n {
        return Err(format!("tensor '{}' has {} values for shape {:?}", t.name, data.len(), dims));
    }
    Ok(Const { dims, data })
}

/// The `need` bytes of an external tensor: `location` must name a regular file inside `dir`
/// (relative, no `..`, not escaping through a symlink); `offset` and `length` must lie inside it,
/// and `length` (when given) must be `need`.
fn external_data(t: &TensorProto, dir: &Path, need: usize) -> std::result::Result<Vec<u8>, String> {
    let get = |k: &str| t.external_data.iter().find(|e| e.key == k).map(|e| e.value.as_str());
    let loc = get("location").ok_or("external data without a location")?;
    let bad = |why: &str| format!("external data '{loc}': {why}");
    let rel = Path::new(loc);
    if loc.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(bad(
            "the location must be a relative path inside the model's folder (no absolute path, no '..'), as ONNX requires",
        ));
    }
    let number = |k: &str| -> std::result::Result<Option<u64>, String> {
        get(k).map(|v| v.trim().parse::<u64>().map_err(|_| bad(&format!("{k} '{v}' is not a byte count")))).transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let length = number("length")?.unwrap_or(need as u64);
    if length != need as u64 {
        return Err(bad(&format!("length {length}, but the tensor's shape and type need {need} bytes")));
    }
    let file_path = dir.join(rel);
    let inside = match (dir.canonicalize(), file_path.canonicalize()) {
        (Ok(d), Ok(f)) => f.starts_with(d),
        (_, Err(e)) => return Err(bad(&format!("cannot open: {e}"))),
        (Err(e), _) => return Err(bad(&format!("cannot resolve the model's folder: {e}"))),
    };
    if !inside {
        return Err(bad("it resolves (through a symlink) outside the model's folder"));
    }
    let mut file = limits::open_regular(&file_path).map_err(|e| bad(&e))?;
    let size = file.metadata().map_err(|e| bad(&format!("cannot read: {e}")))?.len();
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(bad(&format!("bytes {offset}..{offset}+{length} run past the end of the file ({size} bytes)")));
    }
    file.seek(SeekFrom::Start(offset)).map_err(|e| bad(&format!("cannot read: {e}")))?;
    let mut bytes = Vec::with_capacity(need);
    file.take(length).read_to_end(&mut bytes).map_err(|e| bad(&format!("cannot read: {e}")))?;
    if bytes.len() != need {
        return Err(bad(&format!("the file ended after {} of {need} bytes", bytes.len())));
    }
    Ok(bytes)
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
            let dims = reshaped(&c.dims, c.data.len(), &shape.data)?;
            Some(Const { dims, data: c.data.clone() })
        }
        // A binarizer on a constant is kept latent: the weight path reads through it.
        _ => None,
    }
}

/// ONNX Reshape's target dims for `n` values of shape `dims` (0 keeps a dim, one −1 is
/// inferred), in checked arithmetic; None if the target is malformed or does not hold `n`.
fn reshaped(dims: &[usize], n: usize, target: &[f64]) -> Option<Vec<usize>> {
    let mut out: Vec<Option<usize>> = Vec::with_capacity(target.len());
    for (i, &v) in target.iter().enumerate() {
        out.push(if v == -1.0 {
            None
        } else if v == 0.0 {
            Some(dims.get(i).copied().unwrap_or(1))
        } else if v >= 1.0 && v.fract() == 0.0 && v <= MAX_TENSOR_ELEMENTS as f64 {
            Some(v as usize)
        } else {
            return None;
        });
    }
    if out.iter().filter(|d| d.is_none()).count() > 1 {
        return None;
    }
    let known = out.iter().flatten().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    let inferred = n.checked_div(known).unwrap_or(0);
    let dims: Vec<usize> = out.into_iter().map(|d| d.unwrap_or(inferred)).collect();
    (element_count(&dims)? == n).then_some(dims)
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
/// Identity and exactly one BipolarQuant (scale 1) to a constant. Each step moves to another
/// node; a chain longer than the graph has nodes loops, and is an error.
fn weight_of(ctx: &Ctx, node: &NodeProto, input: usize) -> Result<(Const, bool)> {
    let producers = &ctx.producers;
    let mut name =
        node.input.get(input).cloned().ok_or_else(|| ctx.unsupported(node, "the weight input is missing"))?;
    let mut transposed = false;
    let mut binarized = false;
    for _ in 0..=ctx.nodes.len() {
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
    Err(ctx.unsupported(node, format!("its weight path loops (a cycle through '{name}')")))
}

fn transpose_node() -> NodeProto {
    NodeProto { op_type: "Transpose".into(), ..Default::default() }
}

/// Reads a QONNX model file.
pub fn import(path: &Path) -> Result<TrainedModel> {
    let bytes = crate::data::read_input(path)?;
    import_bytes(&bytes, path)
}

/// Imports the bytes of a QONNX model; `path` names it in errors and its folder holds any
/// external data.
pub fn import_bytes(bytes: &[u8], path: &Path) -> Result<TrainedModel> {
    if bytes.is_empty() {
        return Err(Error::file(path, "the file is empty (0 bytes), not an ONNX model"));
    }
    super::onnx_wire::check(bytes, super::onnx_wire::Msg::Model)
        .map_err(|e| Error::file(path, format!("not a valid ONNX model: {e}")))?;
    let model =
        ModelProto::parse_from_bytes(bytes).map_err(|e| Error::file(path, format!("not a valid ONNX model: {e}")))?;
    let graph = model.graph.as_ref().ok_or_else(|| Error::file(path, "not a valid ONNX model: it has no graph"))?;
    if graph.node.is_empty() {
        return Err(Error::file(path, "not a valid ONNX model: the graph has no nodes"));
    }
    let ctx = Ctx::new(path, graph)?;
    let (input, in_shape) = data_input(&ctx, graph)?;
    let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let mut walk = Walk::new(&ctx, in_shape);
    let mut cur = input;
    // Every step consumes a node: more steps than nodes means the path never ends.
    for _ in 0..graph.node.len() {
        if outputs.contains(&cur.as_str()) {
            return walk.finish();
        }
        let node = ctx.single_reader(&cur)?;
        walk.step(node, &cur)?;
        cur = node.output.first().cloned().ok_or_else(|| ctx.unsupported(node, "it has no output"))?;
    }
    if outputs.contains(&cur.as_str()) {
        return walk.finish();
    }
    Err(ctx.file_err("the data path does not reach the graph output"))
}

impl<'a> Ctx<'a> {
    /// The graph's constants (initializers, Constant nodes and the constant subgraphs folded),
    /// and who reads and writes each tensor.
    fn new(path: &'a Path, graph: &'a onnx_protobuf::GraphProto) -> Result<Ctx<'a>> {
        let mut ctx = Ctx {
            path,
            consts: HashMap::new(),
            consumers: HashMap::new(),
            producers: HashMap::new(),
            nodes: &graph.node,
        };
        let dir = path.parent();
        for t in &graph.initializer {
            let c = tensor(t, dir).map_err(|e| ctx.file_err(format!("initializer '{}': {e}", t.name)))?;
            ctx.consts.insert(t.name.clone(), c);
        }
        for (i, n) in graph.node.iter().enumerate() {
            for o in &n.output {
                ctx.producers.insert(o.as_str(), i);
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
            let ins: Option<Vec<&Const>> =
                n.input.iter().filter(|s| !s.is_empty()).map(|s| ctx.consts.get(s)).collect();
            if let Some(ins) = ins.filter(|i| !i.is_empty()) {
                if let (Some(c), Some(o)) = (fold_const(n, &ins), n.output.first()) {
                    ctx.consts.insert(o.clone(), c);
                }
            }
        }
        Ok(ctx)
    }

    /// The one node reading `tensor` (the importer follows a single chain).
    fn single_reader(&self, tensor: &str) -> Result<&'a NodeProto> {
        let readers = self.consumers.get(tensor).map_or(&[][..], Vec::as_slice);
        let [ni] = readers else {
            return Err(self.file_err(format!(
                "tensor '{tensor}' is read by {} nodes; only a single chain is supported",
                readers.len()
            )));
        };
        Ok(&self.nodes[*ni])
    }
}

/// The data input (the graph input that is not a constant) and its NCHW shape.
fn data_input(ctx: &Ctx, graph: &onnx_protobuf::GraphProto) -> Result<(String, Shape)> {
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
        [_, c, h, w] if (1..=64).contains(c) && (1..=4096).contains(h) && (1..=4096).contains(w) => {
            Shape::new(*h as usize, *w as usize, *c as usize)
        }
        [_, c, h, w] if *c > 0 && *h > 0 && *w > 0 => {
            return Err(ctx.file_err(format!("input shape {h}x{w}x{c} is out of range (C ≤ 64, H and W ≤ 4096)")))
        }
        _ => {
            return Err(ctx.file_err(format!("input '{}' must be NCHW with known C, H, W; it is {dims:?}", input.name)))
        }
    };
    Ok((input.name.clone(), in_shape))
}

/// A compute layer read up to its BatchNorm and activation.
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

/// Where the walk along the data path is.
enum Stage {
    /// Before the input quantizer: the scalar affine 2x − 1.
    Prefix,
    Layers,
    /// After the last fc: the scalar affine (TensorNorm).
    Suffix,
}

/// The walk along the data path: what has been read so far.
struct Walk<'c, 'a> {
    ctx: &'c Ctx<'a>,
    in_shape: Shape,
    stage: Stage,
    lin: Lin,
    quant: Option<InputQuant>,
    specs: Vec<LayerSpec>,
    layers: Vec<TrainedLayer>,
    pending: Option<Pending>,
    shape: Shape,
    flattened: bool,
    /// Conv block (group) and conv within it, pools and fcs so far: for the paper's layer names.
    group: usize,
    in_group: usize,
    pools: usize,
    fcs: usize,
    tail: Lin,
}

impl<'c, 'a> Walk<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, in_shape: Shape) -> Self {
        Walk {
            ctx,
            in_shape,
            stage: Stage::Prefix,
            lin: Lin::ID,
            quant: None,
            specs: Vec::new(),
            layers: Vec::new(),
            pending: None,
            shape: in_shape,
            flattened: false,
            group: 1,
            in_group: 0,
            pools: 0,
            fcs: 0,
            tail: Lin::ID,
        }
    }

    /// Takes one node of the data path; `cur` is the tensor it reads.
    fn step(&mut self, node: &NodeProto, cur: &str) -> Result<()> {
        let ctx = self.ctx;
        let op = node.op_type.as_str();
        let domain_ok =
            node.domain.is_empty() || node.domain == "ai.onnx" || QONNX_DOMAINS.contains(&node.domain.as_str());
        if !domain_ok {
            return Err(ctx.unsupported(node, format!("domain '{}' is not supported", node.domain)));
        }
        let fc_without_bn =
            self.pending.as_ref().is_some_and(|p| matches!(p.kind, PendingKind::Fc { .. }) && p.bn.is_none());
        match (op, &self.stage) {
            ("Mul" | "Sub" | "Add" | "Div", Stage::Prefix) => self.lin = self.lin.then(ctx, node, cur)?,
            ("Quant", Stage::Prefix) => self.input_quant(node)?,
            ("Conv", Stage::Layers) => self.conv(node)?,
            ("BatchNormalization", Stage::Layers) => self.batch_norm(node)?,
            ("BipolarQuant", Stage::Layers) => self.activation(node)?,
            ("MaxPool", Stage::Layers) => self.max_pool(node)?,
            ("Reshape" | "Flatten", Stage::Layers) => self.flatten(node)?,
            ("Gemm" | "MatMul", Stage::Layers) => self.fc(node, cur)?,
            ("Mul" | "Sub" | "Add" | "Div", Stage::Layers | Stage::Suffix) if fc_without_bn => {
                self.stage = Stage::Suffix;
                self.tail = self.tail.then(ctx, node, cur)?;
            }
            _ => {
                let why = match self.stage {
                    Stage::Prefix => "expected the input's 2x−1 and Quant first",
                    Stage::Layers => "not part of the supported CNV family at this point",
                    Stage::Suffix => "only a scalar affine may follow the last layer",
                };
                return Err(ctx.unsupported(node, why));
            }
        }
        Ok(())
    }

    /// `Quant`: the input quantizer, on 2x − 1 of the image.
    fn input_quant(&mut self, node: &NodeProto) -> Result<()> {
        let ctx = self.ctx;
        let scale = ctx.scalar_input(node, 1)?;
        let zp = ctx.scalar_input(node, 2)?;
        let bits = ctx.scalar_input(node, 3)?;
        if attr_i(node, "signed", 1) != 1 || attr_i(node, "narrow", 0) != 0 || zp != 0.0 {
            return Err(ctx.unsupported(node, "the input quantizer must be signed, not narrow, with zero point 0"));
        }
        let rounding = attr_s(node, "rounding_mode").unwrap_or_else(|| "ROUND".into());
        if !rounding.eq_ignore_ascii_case("ROUND") {
            return Err(ctx.unsupported(node, format!("rounding mode {rounding} is not supported (ROUND)")));
        }
        if bits.fract() != 0.0 || !(2.0..=8.0).contains(&bits) {
            return Err(ctx.unsupported(node, format!("{bits} bits is not supported (2..=8)")));
        }
        let Lin { a, b } = self.lin;
        if (a - 2.0).abs() > 1e-9 || (b + 1.0).abs() > 1e-9 {
            return Err(ctx.unsupported(node, format!("its input must be 2x−1 of the image in [0,1]; found {a}x{b:+}")));
        }
        let q = InputQuant { scale: scale as f32, bits: bits as u32 };
        q.validate().map_err(|e| ctx.unsupported(node, e.to_string()))?;
        self.quant = Some(q);
        self.stage = Stage::Layers;
        Ok(())
    }

    /// A compute layer may start here: the previous one (if any) is activated; it is stored.
    fn start_compute(&mut self, node: &NodeProto) -> Result<()> {
        if self.pending.as_ref().is_some_and(|p| !p.activated) {
            return Err(self.ctx.unsupported(node, "two compute layers without an activation between them"));
        }
        flush(&mut self.pending, &mut self.layers);
        Ok(())
    }

    /// A bias input (index 2) must be absent or all zeros.
    fn no_bias(&self, node: &NodeProto, msg: &str) -> Result<()> {
        if node.input.len() > 2 && !node.input[2].is_empty() {
            let b = self.ctx.input_const(node, 2)?;
            if b.data.iter().any(|&v| v != 0.0) {
                return Err(self.ctx.unsupported(node, msg));
            }
        }
        Ok(())
    }

    fn conv(&mut self, node: &NodeProto) -> Result<()> {
        let ctx = self.ctx;
        self.start_compute(node)?;
        if self.flattened {
            return Err(ctx.unsupported(node, "a conv after the flatten"));
        }
        self.no_bias(node, "a conv bias is not supported (BatchNorm carries the offset)")?;
        let (w, _) = weight_of(ctx, node, 1)?;
        let [o, c, kh, kw] = w.dims[..] else {
            return Err(ctx.unsupported(node, format!("weight shape {:?} is not [out, in, kh, kw]", w.dims)));
        };
        let ones = |name: &str| attr_ints(node, name).is_none_or(|v| v.iter().all(|&x| x == 1));
        let zeros = attr_ints(node, "pads").is_none_or(|v| v.iter().all(|&x| x == 0));
        if kh != kw || kh % 2 == 0 || !ones("strides") || !ones("dilations") || !zeros || attr_i(node, "group", 1) != 1
        {
            return Err(
                ctx.unsupported(node, "only valid, stride-1, ungrouped convs with a square odd kernel are supported")
            );
        }
        let auto_pad = attr_s(node, "auto_pad").unwrap_or_default();
        if !(auto_pad.is_empty() || auto_pad == "NOTSET" || auto_pad == "VALID") {
            return Err(ctx.unsupported(node, format!("auto_pad {auto_pad} is not supported")));
        }
        let shape = self.shape;
        if c != shape.channels {
            return Err(ctx.unsupported(node, format!("it takes {c} channels but its input has {}", shape.channels)));
        }
        if kh > shape.height || kw > shape.width {
            return Err(ctx.unsupported(node, format!("kernel {kh} is larger than its input {shape}")));
        }
        let flat: Vec<f32> = w.data.iter().map(|&v| v as f32).collect();
        let weight = TrainedModel::oihw_to_ohwi(&flat, o, c, kh);
        self.in_group += 1;
        self.specs.push(LayerSpec::Conv {
            name: format!("Conv{}_{}", self.group, self.in_group),
            out_channels: o,
            kernel: kh,
        });
        self.shape = Shape::new(shape.height - kh + 1, shape.width - kw + 1, o);
        self.pending = Some(Pending { kind: PendingKind::Conv { out: o }, weight, bn: None, activated: false });
        Ok(())
    }

    fn batch_norm(&mut self, node: &NodeProto) -> Result<()> {
        let ctx = self.ctx;
        let p = self
            .pending
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
                return Err(ctx.unsupported(node, format!("input {i} has {} values for {n} channels", c.data.len())));
            }
            v.push(c.data.iter().map(|&x| x as f32).collect::<Vec<f32>>());
        }
        let eps = attr(node, "epsilon").map_or(1e-5, |a| a.f);
        let var = v.pop().unwrap_or_default();
        let mean = v.pop().unwrap_or_default();
        let beta = v.pop().unwrap_or_default();
        let gamma = v.pop().unwrap_or_default();
        p.bn = Some(BatchNorm { gamma, beta, mean, var, eps });
        Ok(())
    }

    /// `BipolarQuant` on the data path: the binary activation.
    fn activation(&mut self, node: &NodeProto) -> Result<()> {
        let ctx = self.ctx;
        let s = ctx.scalar_input(node, 1)?;
        if s != 1.0 {
            return Err(ctx.unsupported(node, format!("activation scale {s} is not supported (±1 activations)")));
        }
        let p =
            self.pending.as_mut().filter(|p| p.bn.is_some() && !p.activated).ok_or_else(|| {
                ctx.unsupported(node, "a binary activation must follow a conv or fc with its BatchNorm")
            })?;
        p.activated = true;
        Ok(())
    }

    fn max_pool(&mut self, node: &NodeProto) -> Result<()> {
        let ctx = self.ctx;
        if !self.pending.as_ref().is_some_and(|p| p.activated && matches!(p.kind, PendingKind::Conv { .. }))
            || self.flattened
        {
            return Err(ctx.unsupported(node, "a max-pool must follow a conv's binary activation"));
        }
        let k = attr_ints(node, "kernel_shape").unwrap_or_default();
        let s = attr_ints(node, "strides").unwrap_or_else(|| vec![1, 1]);
        let pads_ok = attr_ints(node, "pads").is_none_or(|v| v.iter().all(|&x| x == 0));
        let [kh, kw] = k[..] else {
            return Err(ctx.unsupported(node, "a 2-D kernel_shape is required"));
        };
        let k = usize::try_from(kh).ok().filter(|&k| k >= 2);
        let Some(k) = k.filter(|_| kh == kw && s == [kh, kw] && pads_ok && attr_i(node, "ceil_mode", 0) == 0) else {
            return Err(ctx.unsupported(node, "only k×k pools with stride k and no padding are supported"));
        };
        let shape = self.shape;
        if !shape.height.is_multiple_of(k) || !shape.width.is_multiple_of(k) {
            return Err(ctx.unsupported(node, format!("pool {k} does not divide its input {shape}")));
        }
        flush(&mut self.pending, &mut self.layers);
        self.pools += 1;
        self.specs.push(LayerSpec::MaxPool { name: format!("Pool{}", self.pools), size: k });
        self.shape = Shape::new(shape.height / k, shape.width / k, shape.channels);
        self.group += 1;
        self.in_group = 0;
        Ok(())
    }

    /// `Reshape` to [N, −1 or H·W·C] or `Flatten` (axis 1) between the convs and the fcs.
    fn flatten(&mut self, node: &NodeProto) -> Result<()> {
        let ctx = self.ctx;
        let len = self.shape.len();
        if node.op_type == "Reshape" {
            let target = ctx.input_const(node, 1)?;
            let ok = target.data.len() == 2 && (target.data[1] == -1.0 || target.data[1] == len as f64);
            if !ok {
                return Err(ctx.unsupported(node, format!("only a flatten to [N, {len}] is supported")));
            }
        } else if attr_i(node, "axis", 1) != 1 {
            return Err(ctx.unsupported(node, "only Flatten with axis 1 is supported"));
        }
        self.flattened = true;
        Ok(())
    }

    /// `Gemm` (alpha 1, no transA, no bias) or `MatMul`: a fully connected layer.
    fn fc(&mut self, node: &NodeProto, cur: &str) -> Result<()> {
        let ctx = self.ctx;
        let op = node.op_type.as_str();
        self.start_compute(node)?;
        let shape = self.shape;
        if !self.flattened && shape.pixels() != 1 {
            return Err(
                ctx.unsupported(node, format!("a fully connected layer needs a flattened input; it gets {shape}"))
            );
        }
        if node.input.first().map(String::as_str) != Some(cur) {
            return Err(ctx.unsupported(node, "the data must be the first operand"));
        }
        let (w, _) = weight_of(ctx, node, 1)?;
        let [r, k] = w.dims[..] else {
            return Err(ctx.unsupported(node, format!("weight shape {:?} is not 2-D", w.dims)));
        };
        // Gemm with transB = 1 holds [out, in]; MatMul and Gemm without it hold [in, out].
        let trans_b = op == "Gemm" && attr_i(node, "transB", 0) == 1;
        if op == "Gemm" {
            if attr_i(node, "transA", 0) != 0 || attr(node, "alpha").is_some_and(|a| a.f != 1.0) {
                return Err(ctx.unsupported(node, "only Gemm with alpha 1 and no transA is supported"));
            }
            self.no_bias(node, "an fc bias is not supported")?;
        }
        let (out, fan_in) = if trans_b { (r, k) } else { (k, r) };
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
        self.fcs += 1;
        self.specs.push(LayerSpec::Fc { name: format!("FC{}", self.fcs), out_features: out });
        self.shape = Shape::new(1, 1, out);
        self.flattened = true;
        self.pending = Some(Pending { kind: PendingKind::Fc { out }, weight, bn: None, activated: false });
        Ok(())
    }

    /// The model, once the data path reached the output.
    fn finish(mut self) -> Result<TrainedModel> {
        let ctx = self.ctx;
        let input_quant = self.quant.ok_or_else(|| ctx.file_err("no input Quant node was found"))?;
        match &self.pending {
            Some(p) if matches!(p.kind, PendingKind::Fc { .. }) && p.bn.is_none() && !p.activated => {}
            _ => return Err(ctx.file_err("the graph must end in a fully connected layer without activation")),
        }
        flush(&mut self.pending, &mut self.layers);
        let classes = match self.specs.last() {
            Some(LayerSpec::Fc { out_features, .. }) => *out_features,
            _ => 0,
        };
        let mut topology = Topology { name: "imported".into(), input: self.in_shape, layers: self.specs };
        // Named after the paper preset whose layers it has, names included.
        if let Some(p) = topology.paper_preset() {
            if Topology::preset(p, classes).is_ok_and(|t| t.layers == topology.layers) {
                topology.name = p.to_string();
            }
        }
        let output = Affine { scale: self.tail.a as f32, bias: self.tail.b as f32 };
        let m = TrainedModel { topology, input_quant, layers: self.layers, output };
        m.validate().map_err(|e| e.in_file(ctx.path))?;
        Ok(m)
    }
}

/// Moves a finished layer into the model.
fn flush(pending: &mut Option<Pending>, layers: &mut Vec<TrainedLayer>) {
    if let Some(p) = pending.take() {
        layers.push(TrainedLayer { weight: p.weight, bn: p.bn });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(dims: &[usize], data: Vec<f64>) -> Const {
        Const { dims: dims.to_vec(), data }
    }

    #[test]
    fn reshape_counts_are_checked() {
        let node = NodeProto { op_type: "Reshape".into(), ..Default::default() };
        let data = c(&[4, 3], (0..12).map(f64::from).collect());
        let shape = |v: &[f64]| c(&[v.len()], v.to_vec());
        assert_eq!(fold_const(&node, &[&data, &shape(&[2.0, -1.0])]).unwrap().dims, [2, 6]);
        assert_eq!(fold_const(&node, &[&data, &shape(&[0.0, -1.0])]).unwrap().dims, [4, 3]);
        assert!(fold_const(&node, &[&data, &shape(&[-1.0, -1.0])]).is_none());
        assert!(fold_const(&node, &[&data, &shape(&[5.0, -1.0])]).is_none());
        // 2^32 · 2^32 wraps to 0 in unchecked arithmetic: an empty tensor reshaped to it was
        // accepted as a [2^32, 2^32] constant.
        let empty = c(&[0], vec![]);
        assert!(fold_const(&node, &[&empty, &shape(&[4294967296.0, 4294967296.0])]).is_none());
        assert!(fold_const(&node, &[&empty, &shape(&[-7.0])]).is_none());
    }
}
