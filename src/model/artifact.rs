//! The folded model on disk: a versioned `.npz` (deflate-compressed) that numpy opens as is.
//!
//! | array | dtype | content |
//! |---|---|---|
//! | `header` | uint8 | UTF-8 JSON: `format` = "binarycop-folded", `version` = 1, `topology`, `input_quant` {scale, bits}, `output` {scale, bias} (logits = scale·score + bias), and per compute layer {name, rows, cols, weight_offset, threshold_offset} |
//! | `weights` | uint8 | every layer's ±1 weights, rows of ⌈cols/8⌉ bytes, LSB-first (`np.unpackbits(w, bitorder="little")`), 1 = +1, negative-γ channels already flipped; columns in FINN order |
//! | `thresholds` | int32 | per output channel of every layer but the last: the output is +1 iff acc ≥ T |
//! | `ste_scale` | uint16 | the same channels: the pre-activation slope as IEEE half floats (`.view(np.float16)`) |
//! | `input_codes` | int8 | the input quantizer's code for each u8 value 0..=255 (checked on load) |
//!
//! Layers are concatenated in order; offsets count elements of their array.

use std::io::Cursor;
use std::path::Path;

use ndarray::Array1;
use ndarray_npy::NpzWriter;
use serde::{Deserialize, Serialize};

use super::folded::{BitMatrix, FoldedLayer, FoldedModel};
use super::topology::Topology;
use super::trained::{Affine, InputQuant};
use crate::error::{write_atomic, Error, Result};
use crate::npy::{self, Npz};

pub const FORMAT: &str = "binarycop-folded";
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    topology: Topology,
    input_quant: QuantJson,
    output: AffineJson,
    layers: Vec<LayerJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantJson {
    scale: f32,
    bits: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AffineJson {
    scale: f32,
    bias: f32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerJson {
    name: String,
    rows: usize,
    cols: usize,
    weight_offset: usize,
    /// None for the last layer, which has no thresholds.
    threshold_offset: Option<usize>,
}

/// Serializes a folded model to the bytes of its `.npz` artifact.
pub fn to_bytes(model: &FoldedModel) -> Result<Vec<u8>> {
    let resolved = model.resolved();
    let mut weights = Vec::new();
    let mut thresholds = Vec::new();
    let mut ste = Vec::new();
    let mut layers = Vec::new();
    for (spec, l) in resolved.iter().filter(|l| l.is_compute()).zip(&model.layers) {
        let threshold_offset = l.thresholds.as_ref().map(|t| {
            let off = thresholds.len();
            thresholds.extend_from_slice(t);
            off
        });
        if let Some(s) = &l.ste_scale {
            ste.extend(s.iter().map(|&v| half::f16::from_f32(v).to_bits()));
        }
        layers.push(LayerJson {
            name: spec.name.clone(),
            rows: l.weights.rows(),
            cols: l.weights.cols(),
            weight_offset: weights.len(),
            threshold_offset,
        });
        weights.extend_from_slice(l.weights.as_bytes());
    }
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        topology: model.topology.clone(),
        input_quant: QuantJson { scale: model.input_quant.scale, bits: model.input_quant.bits },
        output: AffineJson { scale: model.output.scale, bias: model.output.bias },
        layers,
    };
    let json = serde_json::to_vec(&header).expect("header serializes");
    let codes: Vec<i8> = model.input_quant.table();
    let mut npz = NpzWriter::new_compressed(Cursor::new(Vec::new()));
    let err = |e: ndarray_npy::WriteNpzError| Error::invalid(format!("cannot encode the artifact: {e}"));
    npz.add_array("header", &Array1::from(json)).map_err(err)?;
    npz.add_array("weights", &Array1::from(weights)).map_err(err)?;
    npz.add_array("thresholds", &Array1::from(thresholds)).map_err(err)?;
    npz.add_array("ste_scale", &Array1::from(ste)).map_err(err)?;
    npz.add_array("input_codes", &Array1::from(codes)).map_err(err)?;
    Ok(npz.finish().map_err(err)?.into_inner())
}

/// Writes the artifact atomically.
pub fn save(model: &FoldedModel, path: &Path) -> Result<()> {
    write_atomic(path, &to_bytes(model)?)
}

/// Reads an artifact, checking every array against the header.
pub fn load(path: &Path) -> Result<FoldedModel> {
    let bytes = crate::data::read_input(path)?;
    from_bytes(&bytes).map_err(|e| e.in_file(path))
}

fn read<T: npy::Element>(npz: &mut Npz<Cursor<&[u8]>>, name: &str) -> Result<Vec<T>> {
    let a = npz.read::<T>(name).map_err(|e| Error::invalid(format!("not a valid binarycop artifact: {e}")))?;
    if a.ndim() != 1 {
        return Err(Error::invalid(format!("not a valid binarycop artifact: array '{name}' must be 1-D")));
    }
    Ok(a.into_raw_vec_and_offset().0)
}

/// True when a zip holds a `header` array, i.e. it is meant as an artifact.
pub fn is_artifact(bytes: &[u8]) -> bool {
    Npz::new(Cursor::new(bytes)).is_ok_and(|z| z.has("header"))
}

pub fn from_bytes(bytes: &[u8]) -> Result<FoldedModel> {
    let mut npz =
        Npz::new(Cursor::new(bytes)).map_err(|e| Error::invalid(format!("not a binarycop artifact ({e})")))?;
    let json: Vec<u8> = read(&mut npz, "header")?;
    let header: Header = serde_json::from_slice(&json).map_err(|e| Error::invalid(format!("artifact header: {e}")))?;
    if header.format != FORMAT {
        return Err(Error::invalid(format!("artifact format is '{}', expected '{FORMAT}'", header.format)));
    }
    if header.version != VERSION {
        return Err(Error::invalid(format!(
            "artifact version {} is not supported (this binarycop reads version {VERSION})",
            header.version
        )));
    }
    let weights: Vec<u8> = read(&mut npz, "weights")?;
    let thresholds: Vec<i32> = read(&mut npz, "thresholds")?;
    let ste: Vec<u16> = read(&mut npz, "ste_scale")?;
    let codes: Vec<i8> = read(&mut npz, "input_codes")?;
    let input_quant = InputQuant { scale: header.input_quant.scale, bits: header.input_quant.bits };
    input_quant.validate()?;
    if codes != input_quant.table() {
        return Err(Error::invalid("artifact input_codes disagree with its input quantizer"));
    }
    let mut layers = Vec::with_capacity(header.layers.len());
    for l in &header.layers {
        let n =
            l.rows.checked_mul(l.cols.div_ceil(8)).ok_or_else(|| Error::invalid("artifact layer size overflows"))?;
        let w = weights.get(l.weight_offset..l.weight_offset.saturating_add(n)).ok_or_else(|| {
            Error::invalid(format!("artifact layer '{}': weights run past the end of the array", l.name))
        })?;
        let weights = BitMatrix::from_bytes(l.rows, l.cols, w.to_vec())?;
        let (thresholds, ste_scale) = match l.threshold_offset {
            None => (None, None),
            Some(off) => {
                let range = off..off.saturating_add(l.rows);
                let t = thresholds.get(range.clone());
                let s = ste.get(range);
                match (t, s) {
                    (Some(t), Some(s)) => {
                        (Some(t.to_vec()), Some(s.iter().map(|&b| half::f16::from_bits(b).to_f32()).collect()))
                    }
                    _ => {
                        return Err(Error::invalid(format!(
                            "artifact layer '{}': thresholds run past the end of the array",
                            l.name
                        )))
                    }
                }
            }
        };
        layers.push(FoldedLayer { weights, thresholds, ste_scale });
    }
    let model = FoldedModel {
        topology: header.topology,
        input_quant,
        layers,
        output: Affine { scale: header.output.scale, bias: header.output.bias },
    };
    model.validate()?;
    Ok(model)
}
