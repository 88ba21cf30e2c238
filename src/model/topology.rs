//! The network description: a sequential BNN of the CNV family.
//!
//! The first compute layer takes the 8-bit quantized image with binary weights; every later
//! compute layer takes ±1 activations. Convs are valid, stride 1, square odd kernels. Max-pools
//! act on binary maps. The last layer is fully connected and has no activation: its accumulator
//! is the class score.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::limits::{self, MAX_CLASSES, MAX_MACS_PER_IMAGE, MAX_MAP_ELEMENTS};

/// Height, width, channels of a feature map (NHWC without the batch). Counts saturate instead
/// of wrapping; [`Topology::resolve`] holds every map of a valid topology to
/// [`MAX_MAP_ELEMENTS`], so they are exact there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Shape {
    pub fn new(height: usize, width: usize, channels: usize) -> Self {
        Shape { height, width, channels }
    }
    pub fn pixels(&self) -> usize {
        self.height.saturating_mul(self.width)
    }
    pub fn len(&self) -> usize {
        self.pixels().saturating_mul(self.channels)
    }
    /// The value count, None if it overflows or exceeds [`MAX_MAP_ELEMENTS`].
    pub fn checked_len(&self) -> Option<usize> {
        self.height.checked_mul(self.width)?.checked_mul(self.channels).filter(|&n| n <= MAX_MAP_ELEMENTS)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.height, self.width, self.channels)
    }
}

/// One layer as users write it (JSON: `{"type": "conv", "name": "Conv1_1", ...}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    Conv {
        name: String,
        out_channels: usize,
        kernel: usize,
    },
    #[serde(rename = "maxpool")]
    MaxPool {
        name: String,
        size: usize,
    },
    Fc {
        name: String,
        out_features: usize,
    },
}

impl LayerSpec {
    pub fn name(&self) -> &str {
        match self {
            LayerSpec::Conv { name, .. } | LayerSpec::MaxPool { name, .. } | LayerSpec::Fc { name, .. } => name,
        }
    }
}

/// The whole network description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub name: String,
    pub input: Shape,
    pub layers: Vec<LayerSpec>,
}

/// What a layer does, once shapes are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// Valid conv, stride 1, `kernel`×`kernel`.
    Conv { kernel: usize },
    /// Non-overlapping `size`×`size` max-pool (a boolean OR on binary maps).
    MaxPool { size: usize },
    /// Fully connected over the whole input map, flattened as (h, w, c) like FINN streams it.
    Fc,
}

/// A layer with its shapes resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    pub kind: LayerKind,
    pub input: Shape,
    pub output: Shape,
    /// Position among the compute (conv/fc) layers, None for pools.
    pub compute_index: Option<usize>,
}

impl Layer {
    /// Fan-in of one output value (K, the ±1 dot product length); 0 for pools.
    pub fn fan_in(&self) -> usize {
        match self.kind {
            LayerKind::Conv { kernel } => kernel * kernel * self.input.channels,
            LayerKind::Fc => self.input.len(),
            LayerKind::MaxPool { .. } => 0,
        }
    }
    pub fn is_compute(&self) -> bool {
        self.compute_index.is_some()
    }
    /// Multiply-accumulates per image (a resolved topology keeps the sum over its layers within
    /// [`MAX_MACS_PER_IMAGE`]; saturates otherwise).
    pub fn macs(&self) -> usize {
        self.fan_in().saturating_mul(self.output.len())
    }
}

fn conv(name: &str, out_channels: usize) -> LayerSpec {
    LayerSpec::Conv { name: name.into(), out_channels, kernel: 3 }
}
fn pool(name: &str) -> LayerSpec {
    LayerSpec::MaxPool { name: name.into(), size: 2 }
}
fn fc(name: &str, out_features: usize) -> LayerSpec {
    LayerSpec::Fc { name: name.into(), out_features }
}

/// The preset names accepted by [`Topology::preset`].
pub const PRESETS: [&str; 3] = ["cnv", "ncnv", "ucnv"];

impl Topology {
    /// BinaryCoP's CNV, n-CNV and µ-CNV (binarycop.md §1), with `classes` outputs.
    pub fn preset(name: &str, classes: usize) -> Result<Topology> {
        let (c1, c2, c3, f, with_conv3_2) = match name.to_ascii_lowercase().as_str() {
            "cnv" => (64, 128, 256, 512, true),
            "ncnv" | "n-cnv" => (16, 32, 64, 128, true),
            "ucnv" | "u-cnv" | "µ-cnv" | "µcnv" => (16, 32, 64, 128, false),
            other => return Err(Error::invalid(format!("unknown preset '{other}' (known: {})", PRESETS.join(", ")))),
        };
        if !(1..=MAX_CLASSES).contains(&classes) {
            return Err(Error::invalid(format!(
                "--classes {classes} is out of range: a preset has 1 to {MAX_CLASSES} classes ({})",
                limits::named("MAX_CLASSES", MAX_CLASSES)
            )));
        }
        let mut layers = vec![
            conv("Conv1_1", c1),
            conv("Conv1_2", c1),
            pool("Pool1"),
            conv("Conv2_1", c2),
            conv("Conv2_2", c2),
            pool("Pool2"),
            conv("Conv3_1", c3),
        ];
        if with_conv3_2 {
            layers.push(conv("Conv3_2", c3));
            layers.extend([fc("FC1", f), fc("FC2", f), fc("FC3", classes)]);
        } else {
            layers.extend([fc("FC1", f), fc("FC2", classes)]);
        }
        let name = match name.to_ascii_lowercase().as_str() {
            "n-cnv" => "ncnv".to_string(),
            "u-cnv" | "µ-cnv" | "µcnv" => "ucnv".to_string(),
            n => n.to_string(),
        };
        let t = Topology { name, input: Shape::new(32, 32, 3), layers };
        t.resolve()?;
        Ok(t)
    }

    /// The paper preset (cnv, ncnv, ucnv) this network is, judged by its layers' kinds and
    /// shapes, whatever it and its layers are called (the class count may differ). None for any
    /// other network: a custom topology named "cnv" does not get CNV's folding.
    pub fn paper_preset(&self) -> Option<&'static str> {
        let mine = self.resolve().ok()?;
        let shapes = |ls: &[Layer]| -> Vec<(LayerKind, Shape, Shape)> {
            ls.iter().map(|l| (l.kind, l.input, l.output)).collect()
        };
        PRESETS.into_iter().find(|p| {
            Topology::preset(p, self.classes())
                .and_then(|t| t.resolve())
                .is_ok_and(|theirs| shapes(&theirs) == shapes(&mine))
        })
    }

    pub fn from_json(text: &str) -> Result<Topology> {
        let t: Topology = serde_json::from_str(text).map_err(|e| Error::invalid(format!("topology JSON: {e}")))?;
        t.resolve()?;
        Ok(t)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("topology serializes")
    }

    /// Number of classes (outputs of the last layer).
    pub fn classes(&self) -> usize {
        match self.layers.last() {
            Some(LayerSpec::Fc { out_features, .. }) => *out_features,
            _ => 0,
        }
    }

    /// Checks the description and computes every layer's shapes.
    pub fn resolve(&self) -> Result<Vec<Layer>> {
        let bad = |msg: String| Err(Error::invalid(format!("topology '{}': {msg}", self.name)));
        let too_large = |what: String, shape: Shape| {
            bad(format!(
                "{what} {shape} has more values than binarycop handles in one map ({})",
                limits::named("MAX_MAP_ELEMENTS", MAX_MAP_ELEMENTS)
            ))
        };
        if self.input.checked_len().is_none() {
            return too_large("the input".into(), self.input);
        }
        if self.input.is_empty() {
            return bad(format!("input shape {} is empty", self.input));
        }
        if self.layers.is_empty() {
            return bad("no layers".into());
        }
        let mut out = Vec::with_capacity(self.layers.len());
        let mut shape = self.input;
        let mut compute = 0;
        let mut seen_fc = false;
        let mut macs = 0usize;
        let mut names: Vec<String> = Vec::new();
        for (i, spec) in self.layers.iter().enumerate() {
            let name = spec.name();
            if name.is_empty() {
                return bad(format!("layer {i} has an empty name"));
            }
            let lower = name.to_ascii_lowercase();
            if lower == "input" || lower.parse::<usize>().is_ok() {
                return bad(format!("layer {i}: the name '{name}' is reserved (it names the input or an index)"));
            }
            if names.contains(&lower) {
                return bad(format!("layer {i}: duplicate name '{name}' (names are case-insensitive)"));
            }
            names.push(lower);
            let (kind, output, ci) = match *spec {
                LayerSpec::Conv { out_channels, kernel, .. } => {
                    if seen_fc {
                        return bad(format!("layer '{name}': a conv cannot follow a fully connected layer"));
                    }
                    if kernel == 0 || kernel % 2 == 0 {
                        return bad(format!("layer '{name}': kernel {kernel} must be odd and positive"));
                    }
                    if out_channels == 0 {
                        return bad(format!("layer '{name}': out_channels must be positive"));
                    }
                    if kernel > shape.height || kernel > shape.width {
                        return bad(format!("layer '{name}': kernel {kernel} is larger than its input {shape}"));
                    }
                    let o = Shape::new(shape.height - kernel + 1, shape.width - kernel + 1, out_channels);
                    compute += 1;
                    (LayerKind::Conv { kernel }, o, Some(compute - 1))
                }
                LayerSpec::MaxPool { size, .. } => {
                    if compute == 0 {
                        return bad(format!("layer '{name}': a max-pool needs a binary map, so it cannot come first"));
                    }
                    if seen_fc {
                        return bad(format!("layer '{name}': a max-pool cannot follow a fully connected layer"));
                    }
                    if size < 2 {
                        return bad(format!("layer '{name}': pool size {size} must be at least 2"));
                    }
                    if !shape.height.is_multiple_of(size) || !shape.width.is_multiple_of(size) {
                        return bad(format!("layer '{name}': pool size {size} does not divide its input {shape}"));
                    }
                    (
                        LayerKind::MaxPool { size },
                        Shape::new(shape.height / size, shape.width / size, shape.channels),
                        None,
                    )
                }
                LayerSpec::Fc { out_features, .. } => {
                    if out_features == 0 {
                        return bad(format!("layer '{name}': out_features must be positive"));
                    }
                    seen_fc = true;
                    compute += 1;
                    (LayerKind::Fc, Shape::new(1, 1, out_features), Some(compute - 1))
                }
            };
            if output.checked_len().is_none() {
                return too_large(format!("layer '{name}': its output"), output);
            }
            let layer = Layer { name: name.to_string(), kind, input: shape, output, compute_index: ci };
            let layer_macs = layer.fan_in().checked_mul(output.len());
            macs = match layer_macs.and_then(|m| m.checked_add(macs)).filter(|&m| m <= MAX_MACS_PER_IMAGE) {
                Some(m) => m,
                None => {
                    return bad(format!(
                        "layer '{name}': the network needs more multiply-accumulates per image than binarycop                          handles ({})",
                        limits::named("MAX_MACS_PER_IMAGE", MAX_MACS_PER_IMAGE)
                    ))
                }
            };
            out.push(layer);
            shape = output;
        }
        match self.layers.last() {
            Some(LayerSpec::Fc { .. }) => {}
            _ => return bad("the last layer must be fully connected (it yields the class scores)".into()),
        }
        Ok(out)
    }

    /// Finds a layer by name (case-insensitive) or by 0-based index.
    pub fn find_layer(&self, key: &str) -> Result<usize> {
        let lower = key.trim().to_ascii_lowercase();
        if let Ok(i) = lower.parse::<usize>() {
            if i < self.layers.len() {
                return Ok(i);
            }
            return Err(Error::invalid(format!(
                "layer index {i} is out of range (the model has {} layers)",
                self.layers.len()
            )));
        }
        self.layers.iter().position(|l| l.name().to_ascii_lowercase() == lower).ok_or_else(|| {
            let known: Vec<&str> = self.layers.iter().map(|l| l.name()).collect();
            Error::invalid(format!("unknown layer '{key}' (known: {})", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paper_preset_is_judged_by_layer_shapes_not_names() {
        for p in PRESETS {
            let mut t = Topology::preset(p, 4).unwrap();
            assert_eq!(t.paper_preset(), Some(p));
            // Renamed network and layers, another class count: still the preset.
            t.name = "mine".into();
            for l in &mut t.layers {
                match l {
                    LayerSpec::Conv { name, .. } | LayerSpec::MaxPool { name, .. } | LayerSpec::Fc { name, .. } => {
                        name.push('x')
                    }
                }
            }
            if let Some(LayerSpec::Fc { out_features, .. }) = t.layers.last_mut() {
                *out_features = 10;
            }
            assert_eq!(t.paper_preset(), Some(p), "{p} renamed");
        }
        // Named "cnv" but not CNV's shapes: no paper folding.
        let mut t = Topology::preset("ncnv", 4).unwrap();
        t.name = "cnv".into();
        assert_eq!(t.paper_preset(), Some("ncnv"));
        if let Some(LayerSpec::Conv { out_channels, .. }) = t.layers.first_mut() {
            *out_channels = 32;
        }
        assert_eq!(t.paper_preset(), None);
        let mlp = Topology {
            name: "cnv".into(),
            input: Shape::new(28, 28, 1),
            layers: vec![LayerSpec::Fc { name: "FC1".into(), out_features: 4 }],
        };
        assert_eq!(mlp.paper_preset(), None);
    }

    #[test]
    fn presets_have_the_paper_shapes() {
        let cnv = Topology::preset("cnv", 4).unwrap().resolve().unwrap();
        let shapes: Vec<String> = cnv.iter().map(|l| l.output.to_string()).collect();
        assert_eq!(
            shapes,
            [
                "30x30x64",
                "28x28x64",
                "14x14x64",
                "12x12x128",
                "10x10x128",
                "5x5x128",
                "3x3x256",
                "1x1x256",
                "1x1x512",
                "1x1x512",
                "1x1x4"
            ]
        );
        let ucnv = Topology::preset("ucnv", 4).unwrap().resolve().unwrap();
        assert_eq!(ucnv[6].output, Shape::new(3, 3, 64));
        assert_eq!(ucnv[7].fan_in(), 576);
        assert_eq!(ucnv.len(), 9);
        let ncnv = Topology::preset("n-cnv", 10).unwrap();
        assert_eq!(ncnv.classes(), 10);
        assert_eq!(ncnv.name, "ncnv");
    }

    #[test]
    fn cnv_macs_match_the_known_workload() {
        let layers = Topology::preset("cnv", 10).unwrap().resolve().unwrap();
        let total: usize = layers.iter().map(Layer::macs).sum();
        // anchors.md: CNV is 59.46 M MAC, 1.56 M of them in the first layer.
        assert_eq!(layers[0].macs(), 1_555_200);
        assert_eq!(total, 59_461_376);
    }

    #[test]
    fn json_round_trip_and_validation() {
        let t = Topology::preset("ucnv", 4).unwrap();
        assert_eq!(Topology::from_json(&t.to_json()).unwrap(), t);
        let mlp = r#"{"name":"tfc","input":{"height":28,"width":28,"channels":1},
            "layers":[{"type":"fc","name":"FC1","out_features":64},{"type":"fc","name":"FC2","out_features":10}]}"#;
        assert_eq!(Topology::from_json(mlp).unwrap().classes(), 10);

        let cases = [
            (r#"{"name":"x","input":{"height":4,"width":4,"channels":1},"layers":[]}"#, "no layers"),
            (
                r#"{"name":"x","input":{"height":4,"width":4,"channels":1},"layers":[{"type":"conv","name":"a","out_channels":2,"kernel":2},{"type":"fc","name":"b","out_features":2}]}"#,
                "must be odd",
            ),
            (
                r#"{"name":"x","input":{"height":5,"width":5,"channels":1},"layers":[{"type":"conv","name":"a","out_channels":2,"kernel":3},{"type":"maxpool","name":"p","size":2},{"type":"fc","name":"b","out_features":2}]}"#,
                "does not divide",
            ),
            (
                r#"{"name":"x","input":{"height":4,"width":4,"channels":1},"layers":[{"type":"conv","name":"a","out_channels":2,"kernel":3}]}"#,
                "last layer must be fully connected",
            ),
            (
                r#"{"name":"x","input":{"height":4,"width":4,"channels":1},"layers":[{"type":"fc","name":"a","out_features":2},{"type":"fc","name":"A","out_features":2}]}"#,
                "duplicate name",
            ),
            (
                r#"{"name":"x","input":{"height":4,"width":4,"channels":1},"layers":[{"type":"conv","name":"a","out_channels":2,"kernel":5},{"type":"fc","name":"b","out_features":2}]}"#,
                "larger than its input",
            ),
            (
                r#"{"name":"x","input":{"height":4,"width":4,"channels":1},"layers":[{"type":"relu","name":"a"}]}"#,
                "topology JSON",
            ),
            (r#"{"name":"x""#, "topology JSON"),
            (
                r#"{"name":"x","input":{"height":4096,"width":4096,"channels":1},"layers":[{"type":"fc","name":"b","out_features":4096}]}"#,
                "MAX_MACS_PER_IMAGE",
            ),
        ];
        // (usize::MAX / 4 + 1)·4·1 wraps to 0 in unchecked arithmetic (2^62 + 1 on 64-bit
        // machines): such an input validated. usize::MAX output features overflow the same way.
        let wrapping = [
            format!(
                r#"{{"name":"x","input":{{"height":{},"width":4,"channels":1}},"layers":[{{"type":"fc","name":"b","out_features":2}}]}}"#,
                usize::MAX / 4 + 1
            ),
            format!(
                r#"{{"name":"x","input":{{"height":4,"width":4,"channels":1}},"layers":[{{"type":"fc","name":"b","out_features":{}}}]}}"#,
                usize::MAX
            ),
        ];
        let cases = cases.into_iter().chain(wrapping.iter().map(|j| (j.as_str(), "MAX_MAP_ELEMENTS")));
        for (json, want) in cases {
            let err = Topology::from_json(json).unwrap_err().to_string();
            assert!(err.contains(want), "{json}: got '{err}', want '{want}'");
        }
    }

    #[test]
    fn layers_are_found_by_name_or_index() {
        let t = Topology::preset("cnv", 4).unwrap();
        assert_eq!(t.find_layer("pool2").unwrap(), 5);
        assert_eq!(t.find_layer("CONV3_2").unwrap(), 7);
        assert_eq!(t.find_layer("3").unwrap(), 3);
        assert!(t.find_layer("99").unwrap_err().to_string().contains("out of range"));
        assert!(t.find_layer("conv9").unwrap_err().to_string().contains("unknown layer"));
    }
}
