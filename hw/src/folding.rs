//! Foldings: the paper's PE / SIMD tables (binarycop.md §1) and FINN's `folding_config.json`,
//! read and written in FINN's format (finn.md §5):
//!
//! ```json
//! {"Defaults": {"attr": [value, ["op_type", ...] | "all"]}, "<NodeName>": {"attr": value}}
//! ```
//!
//! This module only parses and writes the format. Which node names and attributes exist, and
//! whether PE / SIMD divide the matrices, is checked where the nodes are known (binarycop-sim).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// PE and SIMD of each MVAU, in layer order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folding {
    pub name: &'static str,
    pub pe: &'static [usize],
    pub simd: &'static [usize],
}

pub const CNV: Folding =
    Folding { name: "cnv", pe: &[16, 32, 16, 16, 4, 1, 1, 1, 4], simd: &[3, 32, 32, 32, 32, 32, 4, 8, 1] };
pub const NCNV: Folding =
    Folding { name: "ncnv", pe: &[16, 16, 16, 16, 4, 1, 1, 1, 1], simd: &[3, 16, 16, 32, 32, 32, 4, 8, 1] };
pub const UCNV: Folding = Folding { name: "ucnv", pe: &[4, 4, 4, 4, 1, 1, 1], simd: &[3, 16, 16, 32, 32, 16, 1] };

/// The paper's folding for a preset name.
pub fn paper_folding(preset: &str) -> Option<Folding> {
    [CNV, NCNV, UCNV].into_iter().find(|f| f.name == preset)
}

/// A malformed folding config; the message says where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConfigError {}

/// Which op types a `Defaults` entry applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum OpTypes {
    All,
    Only(Vec<String>),
}

impl OpTypes {
    pub fn matches(&self, op_type: &str) -> bool {
        match self {
            OpTypes::All => true,
            OpTypes::Only(v) => v.iter().any(|o| o == op_type),
        }
    }
}

/// A FINN folding config. Attribute values stay JSON values so that anything FINN accepts
/// (strings, integers, lists such as `inFIFODepths`) survives a read-then-write unchanged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FoldingConfig {
    pub defaults: BTreeMap<String, (Value, OpTypes)>,
    pub nodes: BTreeMap<String, BTreeMap<String, Value>>,
}

impl FoldingConfig {
    pub fn from_json(text: &str) -> Result<FoldingConfig, ConfigError> {
        let root: Value = serde_json::from_str(text).map_err(|e| ConfigError(format!("not valid JSON: {e}")))?;
        let Value::Object(root) = root else {
            return Err(ConfigError("the top level must be an object of node names".into()));
        };
        let mut cfg = FoldingConfig::default();
        for (key, val) in root {
            let Value::Object(attrs) = val else {
                return Err(ConfigError(format!("'{key}' must map to an object of attributes")));
            };
            if key == "Defaults" {
                for (attr, v) in attrs {
                    let bad = || {
                        ConfigError(format!("Defaults.{attr} must be [value, [\"op_type\", ...]] or [value, \"all\"]"))
                    };
                    let Value::Array(pair) = v else { return Err(bad()) };
                    let [value, ops] = <[Value; 2]>::try_from(pair).map_err(|_| bad())?;
                    let ops = match ops {
                        Value::String(s) if s == "all" => OpTypes::All,
                        Value::Array(list) => OpTypes::Only(
                            list.into_iter()
                                .map(|o| match o {
                                    Value::String(s) => Ok(s),
                                    _ => Err(bad()),
                                })
                                .collect::<Result<_, _>>()?,
                        ),
                        _ => return Err(bad()),
                    };
                    cfg.defaults.insert(attr, (value, ops));
                }
            } else {
                cfg.nodes.insert(key, attrs.into_iter().collect());
            }
        }
        Ok(cfg)
    }

    /// FINN's format, pretty-printed, keys sorted (Defaults first, as FINN writes it).
    pub fn to_json(&self) -> String {
        let mut root = Map::new();
        if !self.defaults.is_empty() {
            let mut d = Map::new();
            for (attr, (value, ops)) in &self.defaults {
                let ops = match ops {
                    OpTypes::All => Value::String("all".into()),
                    OpTypes::Only(v) => Value::Array(v.iter().cloned().map(Value::String).collect()),
                };
                d.insert(attr.clone(), Value::Array(vec![value.clone(), ops]));
            }
            root.insert("Defaults".into(), Value::Object(d));
        }
        for (node, attrs) in &self.nodes {
            root.insert(node.clone(), Value::Object(attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
        }
        let mut s = serde_json::to_string_pretty(&Value::Object(root)).expect("JSON values serialize");
        s.push('\n');
        s
    }

    /// The attributes that apply to one node: matching defaults, then the node's own entry.
    pub fn attrs_for(&self, node: &str, op_type: &str) -> BTreeMap<String, Value> {
        let mut out: BTreeMap<String, Value> = self
            .defaults
            .iter()
            .filter(|(_, (_, ops))| ops.matches(op_type))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        if let Some(own) = self.nodes.get(node) {
            out.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// Sets one attribute of one node.
    pub fn set(&mut self, node: &str, attr: &str, value: impl Into<Value>) {
        self.nodes.entry(node.to_string()).or_default().insert(attr.to_string(), value.into());
    }
}

/// Reads a non-negative integer attribute, naming the node and attribute when it is not one.
pub fn int_attr(node: &str, attrs: &BTreeMap<String, Value>, attr: &str) -> Result<Option<usize>, ConfigError> {
    match attrs.get(attr) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .map(Some)
            .ok_or_else(|| ConfigError(format!("node '{node}': {attr} must be a non-negative integer, got {v}"))),
    }
}

/// Reads a string attribute.
pub fn str_attr<'a>(
    node: &str,
    attrs: &'a BTreeMap<String, Value>,
    attr: &str,
) -> Result<Option<&'a str>, ConfigError> {
    match attrs.get(attr) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(ConfigError(format!("node '{node}': {attr} must be a string, got {v}"))),
    }
}

const CNV_JSON: &str = include_str!("../data/foldings/cnv_folding_config.json");
const NCNV_JSON: &str = include_str!("../data/foldings/ncnv_folding_config.json");
const UCNV_JSON: &str = include_str!("../data/foldings/ucnv_folding_config.json");

/// The paper's folding of a preset (cnv, ncnv, ucnv) as a FINN folding config, from the data
/// files shipped in `hw/data/foldings/`.
pub fn paper_config(preset: &str) -> Option<FoldingConfig> {
    let text = match preset.to_ascii_lowercase().as_str() {
        "cnv" => CNV_JSON,
        "ncnv" | "n-cnv" => NCNV_JSON,
        "ucnv" | "u-cnv" | "µ-cnv" | "µcnv" => UCNV_JSON,
        _ => return None,
    };
    Some(FoldingConfig::from_json(text).expect("the shipped folding configs parse"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pe_and_simd_per_mvau() {
        assert_eq!(paper_folding("cnv").unwrap().pe.len(), 9);
        for f in [CNV, NCNV, UCNV] {
            assert_eq!(f.pe.len(), f.simd.len(), "{}", f.name);
        }
        assert!(paper_folding("vgg").is_none());
    }

    #[test]
    fn shipped_configs_match_the_paper_tables() {
        for f in [CNV, NCNV, UCNV] {
            let cfg = paper_config(f.name).unwrap();
            for (i, (&pe, &simd)) in f.pe.iter().zip(f.simd).enumerate() {
                let a = cfg.attrs_for(&format!("MVAU_hls_{i}"), "MVAU_hls");
                assert_eq!(a["PE"], pe, "{} MVAU {i}", f.name);
                assert_eq!(a["SIMD"], simd, "{} MVAU {i}", f.name);
                assert_eq!(a["ram_style"], "auto", "defaults apply to MVAUs");
            }
            let swu = cfg.attrs_for("ConvolutionInputGenerator_rtl_0", "ConvolutionInputGenerator_rtl");
            assert_eq!(swu["SIMD"], 3);
            assert!(!swu.contains_key("resType"), "MVAU defaults do not reach other ops");
        }
        assert!(paper_config("vgg").is_none());
    }

    #[test]
    fn read_then_write_keeps_the_content() {
        for name in ["cnv", "ncnv", "ucnv"] {
            let cfg = paper_config(name).unwrap();
            let text = cfg.to_json();
            let again = FoldingConfig::from_json(&text).unwrap();
            assert_eq!(again, cfg);
            assert_eq!(again.to_json(), text);
            let a: Value = serde_json::from_str(&text).unwrap();
            let b: Value = serde_json::from_str(match name {
                "cnv" => CNV_JSON,
                "ncnv" => NCNV_JSON,
                _ => UCNV_JSON,
            })
            .unwrap();
            assert_eq!(a, b, "{name}: written JSON equals the shipped file");
        }
        let finn = r#"{"Defaults": {"PE": [2, "all"]}, "MVAU_hls_0": {"SIMD": 4, "inFIFODepths": [64]}}"#;
        let cfg = FoldingConfig::from_json(finn).unwrap();
        assert_eq!(cfg.attrs_for("MVAU_hls_0", "MVAU_hls")["PE"], 2);
        assert_eq!(cfg.attrs_for("LabelSelect_hls_0", "LabelSelect_hls")["PE"], 2);
        assert_eq!(FoldingConfig::from_json(&cfg.to_json()).unwrap(), cfg);
    }

    #[test]
    fn malformed_configs_are_errors() {
        let cases = [
            ("{", "not valid JSON"),
            ("[]", "top level"),
            (r#"{"MVAU_hls_0": 3}"#, "MVAU_hls_0"),
            (r#"{"Defaults": {"PE": 2}}"#, "Defaults.PE"),
            (r#"{"Defaults": {"PE": [2, "some"]}}"#, "Defaults.PE"),
            (r#"{"Defaults": {"PE": [2, [3]]}}"#, "Defaults.PE"),
        ];
        for (text, want) in cases {
            let err = FoldingConfig::from_json(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: '{err}'");
        }
        let mut a = BTreeMap::new();
        a.insert("PE".to_string(), Value::from("x"));
        assert!(int_attr("MVAU_hls_3", &a, "PE").unwrap_err().0.contains("MVAU_hls_3"));
        a.insert("PE".to_string(), Value::from(-2));
        assert!(int_attr("n", &a, "PE").is_err());
    }
}
