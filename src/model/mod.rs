//! The model: topology, the training-time graph, importers, folding and the deployable artifact.

pub mod artifact;
pub mod folded;
pub mod import_npz;
pub mod onnx_wire;
pub mod qonnx;
pub mod random;
pub mod streamline;
pub mod topology;
pub mod trained;

use std::path::Path;

pub use folded::FoldedModel;
pub use topology::{Layer, LayerKind, LayerSpec, Shape, Topology};
pub use trained::TrainedModel;

use crate::error::{Error, Result};

/// A model as loaded from a file: the training graph is there when the file had it.
pub struct Loaded {
    pub trained: Option<TrainedModel>,
    pub folded: FoldedModel,
}

/// Loads a model file by content: a Brevitas QONNX `.onnx` or a parameter `.npz` (both folded
/// on load), or a folded artifact `.npz`. `topology` is for a parameter npz that embeds none.
pub fn load_with(path: &Path, topology: Option<Topology>) -> Result<Loaded> {
    let bytes = crate::data::read_input(path)?;
    let npz_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if bytes.is_empty() {
        return Err(Error::file(path, "the file is empty (0 bytes): not a model"));
    }
    if npz_name && !bytes.starts_with(b"PK") {
        return Err(Error::file(path, "named .npz but not a zip archive (an .npz starts with 'PK')"));
    }
    let trained = if bytes.starts_with(b"PK") {
        if artifact::is_artifact(&bytes) {
            let folded = artifact::from_bytes(&bytes).map_err(|e| e.in_file(path))?;
            return Ok(Loaded { trained: None, folded });
        }
        import_npz::import_bytes(&bytes, topology).map_err(|e| e.in_file(path))?
    } else {
        qonnx::import_bytes(&bytes, path)?
    };
    let folded = FoldedModel::fold(&trained).map_err(|e| e.in_file(path))?;
    Ok(Loaded { trained: Some(trained), folded })
}

/// Loads a model file that carries its own topology.
pub fn load(path: &Path) -> Result<Loaded> {
    load_with(path, None)
}

/// One row of `binarycop info`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerInfo {
    pub index: usize,
    pub name: String,
    pub kind: String,
    pub input: String,
    pub output: String,
    pub fan_in: usize,
    pub parameters: usize,
    pub bytes: usize,
    pub ops: usize,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub classes: usize,
    pub input: String,
    pub layers: Vec<LayerInfo>,
    pub parameters: usize,
    pub bytes: usize,
    /// Multiply-accumulates per image (binary MACs plus the first layer's int8 MACs).
    pub macs: usize,
    /// Operations per image, counting a MAC as 2 (FINN's convention).
    pub ops: usize,
}

/// Layers, shapes, parameters, bytes (weights and thresholds as deployed), ops per image.
pub fn describe(m: &FoldedModel) -> ModelInfo {
    let mut layers = Vec::new();
    for (i, (l, f)) in m.describe().into_iter().enumerate() {
        let kind = match l.kind {
            LayerKind::Conv { kernel } => format!("conv {kernel}x{kernel}"),
            LayerKind::MaxPool { size } => format!("maxpool {size}x{size}"),
            LayerKind::Fc => "fc".into(),
        };
        let (parameters, bytes) = f.map_or((0, 0), |f| {
            let t = f.thresholds.as_ref().map_or(0, Vec::len);
            (f.weights.rows() * f.weights.cols() + t, f.weights.as_bytes().len() + 4 * t)
        });
        layers.push(LayerInfo {
            index: i,
            name: l.name.clone(),
            kind,
            input: l.input.to_string(),
            output: l.output.to_string(),
            fan_in: l.fan_in(),
            parameters,
            bytes,
            ops: 2 * l.macs(),
        });
    }
    let macs = layers.iter().map(|l| l.ops / 2).sum();
    ModelInfo {
        name: m.topology.name.clone(),
        classes: m.topology.classes(),
        input: m.topology.input.to_string(),
        parameters: layers.iter().map(|l| l.parameters).sum(),
        bytes: layers.iter().map(|l| l.bytes).sum(),
        macs,
        ops: 2 * macs,
        layers,
    }
}

pub fn describe_text(info: &ModelInfo) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "model {} : input {} -> {} classes", info.name, info.input, info.classes);
    let _ = writeln!(
        s,
        "{:>3}  {:<8}  {:<11}  {:>10}  {:>10}  {:>7}  {:>10}  {:>9}  {:>12}",
        "#", "layer", "kind", "input", "output", "fan-in", "params", "bytes", "ops/image"
    );
    for l in &info.layers {
        let _ = writeln!(
            s,
            "{:>3}  {:<8}  {:<11}  {:>10}  {:>10}  {:>7}  {:>10}  {:>9}  {:>12}",
            l.index, l.name, l.kind, l.input, l.output, l.fan_in, l.parameters, l.bytes, l.ops
        );
    }
    let _ = writeln!(
        s,
        "total: {} parameters, {} bytes deployed, {} MAC ({:.2} MOp) per image",
        info.parameters,
        info.bytes,
        info.macs,
        info.ops as f64 / 1e6
    );
    s
}
