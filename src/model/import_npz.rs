//! Trained parameters from an `.npz`, for toolboxes other than Brevitas' QONNX export (e.g.
//! BNN-PYNQ's Theano weights). `python/export_params.py` writes this layout from PyTorch.
//!
//! Keys (float32 unless noted; `<layer>` is the topology's layer name in lower case):
//! - `<layer>.weight`: latent weights in torch layout, [out, in, kh, kw] for a conv and
//!   [out, in] for an fc, whose inputs are ordered as torch flattens an NCHW map (c, h, w);
//!   binarized as w ≥ 0 → +1;
//! - `<layer>.bn.gamma`, `.bn.beta`, `.bn.mean`, `.bn.var`: shape [out], every layer but the last;
//!   `<layer>.bn.eps`: a scalar;
//! - `input.scale` (scalar, the input quantizer's step, 2⁻⁷ for Brevitas' CNV) and `input.bits`
//!   (int64 scalar, 8);
//! - `output.scale`, `output.bias`: scalars; logits = scale·dot + bias after the last layer.
//! - optional `topology`: uint8, the topology JSON; otherwise the caller names one.

use std::io::Cursor;
use std::path::Path;

use ndarray::ArrayD;

use super::topology::{LayerKind, Topology};
use super::trained::{Affine, BatchNorm, InputQuant, TrainedLayer, TrainedModel};
use crate::error::{Error, Result};

struct Npz<'a> {
    reader: crate::npy::Npz<Cursor<&'a [u8]>>,
}

impl Npz<'_> {
    fn has(&self, key: &str) -> bool {
        self.reader.has(key)
    }
    fn f32(&mut self, key: &str) -> Result<ArrayD<f32>> {
        if !self.has(key) {
            return Err(Error::invalid(format!("missing array '{key}'")));
        }
        self.reader.read(key)
    }
    fn scalar(&mut self, key: &str) -> Result<f32> {
        let a = self.f32(key)?;
        if a.len() != 1 {
            return Err(Error::invalid(format!("array '{key}' must be a scalar, it has shape {:?}", a.shape())));
        }
        Ok(a.iter().copied().next().unwrap_or_default())
    }
    fn vector(&mut self, key: &str, n: usize) -> Result<Vec<f32>> {
        let a = self.f32(key)?;
        if a.shape() != [n] {
            return Err(Error::invalid(format!("array '{key}' has shape {:?}, expected [{n}]", a.shape())));
        }
        Ok(a.iter().copied().collect())
    }
}

/// Reads a parameter `.npz`. `topology` is needed unless the file embeds one.
pub fn import(path: &Path, topology: Option<Topology>) -> Result<TrainedModel> {
    let bytes = crate::data::read_input(path)?;
    import_bytes(&bytes, topology).map_err(|e| e.in_file(path))
}

pub fn import_bytes(bytes: &[u8], topology: Option<Topology>) -> Result<TrainedModel> {
    let mut npz = Npz { reader: crate::npy::Npz::new(Cursor::new(bytes))? };
    if npz.reader.names().is_empty() {
        return Err(Error::invalid("the .npz holds no arrays (an empty archive is not a parameter file)"));
    }
    let topology = match topology {
        Some(t) => t,
        None if npz.has("topology") => {
            let a: ArrayD<u8> = npz.reader.read("topology")?;
            let text = String::from_utf8(a.iter().copied().collect())
                .map_err(|_| Error::invalid("array 'topology' is not UTF-8 JSON"))?;
            Topology::from_json(&text)?
        }
        None => return Err(Error::invalid("the file names no topology: pass one (a preset or a JSON file)")),
    };
    let resolved = topology.resolve()?;
    let bits_key = "input.bits";
    let bits = if npz.has(bits_key) {
        let a: ArrayD<i64> = npz.reader.read(bits_key)?;
        let v = a.iter().copied().next().ok_or_else(|| Error::invalid("array 'input.bits' is empty"))?;
        u32::try_from(v).map_err(|_| Error::invalid(format!("input.bits = {v} is out of range")))?
    } else {
        8
    };
    let input_quant = InputQuant { scale: npz.scalar("input.scale")?, bits };
    let compute: Vec<_> = resolved.iter().filter(|l| l.is_compute()).collect();
    let mut layers = Vec::new();
    for (i, l) in compute.iter().enumerate() {
        let key = l.name.to_ascii_lowercase();
        let w = npz.f32(&format!("{key}.weight"))?;
        let n = l.output.channels;
        let weight = match l.kind {
            LayerKind::Conv { kernel } => {
                let want = [n, l.input.channels, kernel, kernel];
                if w.shape() != want {
                    return Err(Error::invalid(format!(
                        "array '{key}.weight' has shape {:?}, expected {want:?}",
                        w.shape()
                    )));
                }
                let flat: Vec<f32> = w.iter().copied().collect();
                TrainedModel::oihw_to_ohwi(&flat, n, l.input.channels, kernel)
            }
            _ => {
                let want = [n, l.fan_in()];
                if w.shape() != want {
                    return Err(Error::invalid(format!(
                        "array '{key}.weight' has shape {:?}, expected {want:?}",
                        w.shape()
                    )));
                }
                let w2 = w.into_dimensionality().expect("2-D by the shape check");
                TrainedModel::chw_to_hwc_columns(&w2, l)
            }
        };
        let bn = if i + 1 == compute.len() {
            None
        } else {
            Some(BatchNorm {
                gamma: npz.vector(&format!("{key}.bn.gamma"), n)?,
                beta: npz.vector(&format!("{key}.bn.beta"), n)?,
                mean: npz.vector(&format!("{key}.bn.mean"), n)?,
                var: npz.vector(&format!("{key}.bn.var"), n)?,
                eps: npz.scalar(&format!("{key}.bn.eps"))?,
            })
        };
        layers.push(TrainedLayer { weight, bn });
    }
    let output = Affine { scale: npz.scalar("output.scale")?, bias: npz.scalar("output.bias")? };
    let m = TrainedModel { topology, input_quant, layers, output };
    m.validate()?;
    Ok(m)
}

/// Writes a training-time model in this layout (used by tests and by `binarycop` users who
/// build models in Rust).
pub fn export_bytes(m: &TrainedModel) -> Result<Vec<u8>> {
    use ndarray::{arr0, Array1, Array4};
    use ndarray_npy::NpzWriter;
    let resolved = m.validate()?;
    let mut npz = NpzWriter::new(Cursor::new(Vec::new()));
    let err = |e: ndarray_npy::WriteNpzError| Error::invalid(format!("cannot encode npz: {e}"));
    for (l, tl) in resolved.iter().filter(|l| l.is_compute()).zip(&m.layers) {
        let key = l.name.to_ascii_lowercase();
        let n = l.output.channels;
        match l.kind {
            LayerKind::Conv { kernel } => {
                let c = l.input.channels;
                let w = Array4::from_shape_fn((n, c, kernel, kernel), |(o, ch, ky, kx)| {
                    tl.weight[[o, (ky * kernel + kx) * c + ch]]
                });
                npz.add_array(format!("{key}.weight"), &w).map_err(err)?;
            }
            _ => {
                // Back to torch's (c, h, w) column order.
                let s = l.input;
                let w = ndarray::Array2::from_shape_fn((n, l.fan_in()), |(o, j)| {
                    let (c, rest) = (j / s.pixels(), j % s.pixels());
                    tl.weight[[o, rest * s.channels + c]]
                });
                npz.add_array(format!("{key}.weight"), &w).map_err(err)?;
            }
        }
        if let Some(bn) = &tl.bn {
            for (name, v) in [("gamma", &bn.gamma), ("beta", &bn.beta), ("mean", &bn.mean), ("var", &bn.var)] {
                npz.add_array(format!("{key}.bn.{name}"), &Array1::from(v.clone())).map_err(err)?;
            }
            npz.add_array(format!("{key}.bn.eps"), &arr0(bn.eps)).map_err(err)?;
        }
    }
    npz.add_array("input.scale", &arr0(m.input_quant.scale)).map_err(err)?;
    npz.add_array("input.bits", &arr0(m.input_quant.bits as i64)).map_err(err)?;
    npz.add_array("output.scale", &arr0(m.output.scale)).map_err(err)?;
    npz.add_array("output.bias", &arr0(m.output.bias)).map_err(err)?;
    let json = m.topology.to_json().into_bytes();
    npz.add_array("topology", &ndarray::Array1::from(json)).map_err(err)?;
    Ok(npz.finish().map_err(err)?.into_inner())
}
