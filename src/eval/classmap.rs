//! Which class a folder of an image-folder dataset holds.
//!
//! Without a class map a folder is named after a class of the model (its name, case and `-`/` `
//! vs `_` ignored) or its index (`0`, `1`, ...). A class map (`--class-map FILE`) is a JSON
//! object:
//!
//! ```json
//! { "description": "free text",
//!   "class_names": ["correctly_masked", "nose_exposed", "nose_mouth_exposed", "chin_exposed"],
//!   "folders": { "CMFD": "correctly_masked", "IMFD_Nose": 1 } }
//! ```
//!
//! `folders` maps a folder name (compared as above) to a class name or index; `class_names`
//! (optional) names the model's classes when neither `--class-names` nor the model does. Other
//! keys are refused, so a typo is not silently ignored. At most
//! [`MAX_EVAL_CLASS_FOLDERS`] folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::limits::{self, MAX_EVAL_CLASS_FOLDERS};

/// A folder name as it is compared: lower case, `-` and spaces as `_`.
pub fn folder_key(name: &str) -> String {
    name.trim().to_lowercase().replace(['-', ' '], "_")
}

/// A parsed `--class-map` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassMap {
    pub path: PathBuf,
    pub class_names: Option<Vec<String>>,
    /// Folder key → a class name or index, as written.
    folders: BTreeMap<String, Value>,
}

impl ClassMap {
    /// Reads and checks a class map file (its targets are checked against the classes later,
    /// by [`ClassIndex::new`]).
    pub fn load(path: &Path) -> Result<ClassMap> {
        let text = crate::data::read_text_input(path, "a class map (JSON)")?;
        Self::parse(&text, path).map_err(|e| e.in_file(path))
    }

    /// Parses a class map's text; `path` is where it came from (named in later errors).
    pub fn parse(text: &str, path: &Path) -> Result<ClassMap> {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::invalid(format!("not JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| Error::invalid("a class map is a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !["description", "class_names", "folders"].contains(&k.as_str())) {
            return Err(Error::invalid(format!("unknown key '{k}' (known: description, class_names, folders)")));
        }
        let class_names = obj.get("class_names").map(string_list).transpose()?;
        let folders = obj
            .get("folders")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::invalid("no \"folders\" object (folder name → class name or index)".to_string()))?;
        if folders.is_empty() || folders.len() > MAX_EVAL_CLASS_FOLDERS {
            return Err(Error::invalid(format!(
                "\"folders\" has {} entries; expected 1 to {}",
                folders.len(),
                limits::named("MAX_EVAL_CLASS_FOLDERS", MAX_EVAL_CLASS_FOLDERS)
            )));
        }
        let mut map = BTreeMap::new();
        for (name, target) in folders {
            if map.insert(folder_key(name), target.clone()).is_some() {
                return Err(Error::invalid(format!("folder '{name}' appears twice (names compare case-blind)")));
            }
        }
        Ok(ClassMap { path: path.to_path_buf(), class_names, folders: map })
    }
}

fn string_list(v: &Value) -> Result<Vec<String>> {
    let bad = || Error::invalid("\"class_names\" must be a list of strings");
    let list = v.as_array().ok_or_else(bad)?;
    list.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(bad)).collect()
}

/// Folder name → class index, for one model's classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassIndex {
    pub names: Vec<String>,
    /// From a class map; None: folders are named after the classes.
    folders: Option<BTreeMap<String, usize>>,
    map_path: Option<PathBuf>,
}

impl ClassIndex {
    /// `names`: one per class of the model. A map's targets must be among them.
    pub fn new(names: Vec<String>, map: Option<&ClassMap>) -> Result<ClassIndex> {
        let Some(map) = map else { return Ok(ClassIndex { names, folders: None, map_path: None }) };
        let mut folders = BTreeMap::new();
        for (folder, target) in &map.folders {
            let class = class_of_target(&names, target).ok_or_else(|| {
                Error::file(
                    &map.path,
                    format!("folder '{folder}' maps to {target}, which is not a class of the model ({})", list(&names)),
                )
            })?;
            folders.insert(folder.clone(), class);
        }
        Ok(ClassIndex { names, folders: Some(folders), map_path: Some(map.path.clone()) })
    }

    /// The class of the folder `dir` (named `name`), or an error saying how to name it.
    pub fn class_of(&self, name: &str, dir: &Path) -> Result<usize> {
        let key = folder_key(name);
        let found = match &self.folders {
            Some(f) => f.get(&key).copied(),
            None => class_of_target(&self.names, &Value::String(name.to_string())),
        };
        found.ok_or_else(|| Error::file(dir, self.unknown(name)))
    }

    fn unknown(&self, name: &str) -> String {
        match &self.map_path {
            Some(p) => format!("folder '{name}' is not in the class map {}", p.display()),
            None => format!(
                "folder '{name}' is not a class of the model ({}); name each folder after a class or its index, \
                 or pass --class-map FILE",
                list(&self.names)
            ),
        }
    }
}

/// A class name (compared as a folder key) or an index, as a class index.
fn class_of_target(names: &[String], target: &Value) -> Option<usize> {
    match target {
        Value::Number(n) => n.as_u64().and_then(|i| usize::try_from(i).ok()).filter(|&i| i < names.len()),
        Value::String(s) => {
            let key = folder_key(s);
            names.iter().position(|n| folder_key(n) == key).or_else(|| {
                key.parse::<usize>().ok().filter(|&i| i < names.len() && key.bytes().all(|b| b.is_ascii_digit()))
            })
        }
        _ => None,
    }
}

fn list(names: &[String]) -> String {
    names.iter().enumerate().map(|(i, n)| format!("{i} {n}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["correctly_masked", "nose_exposed", "nose_mouth_exposed", "chin_exposed"].map(String::from).to_vec()
    }

    #[test]
    fn folders_resolve_by_name_index_or_map() {
        let plain = ClassIndex::new(names(), None).unwrap();
        let d = Path::new("d");
        assert_eq!(plain.class_of("Nose-Exposed", d).unwrap(), 1);
        assert_eq!(plain.class_of("3", d).unwrap(), 3);
        assert!(plain.class_of("4", d).unwrap_err().to_string().contains("--class-map"));
        let map = ClassMap::parse(r#"{"folders": {"CMFD": "correctly_masked", "x": 2}}"#, d).unwrap();
        let mapped = ClassIndex::new(names(), Some(&map)).unwrap();
        assert_eq!(mapped.class_of("cmfd", d).unwrap(), 0);
        assert_eq!(mapped.class_of("X", d).unwrap(), 2);
        assert!(mapped.class_of("nose_exposed", d).is_err());
    }

    #[test]
    fn bad_maps_are_refused() {
        let d = Path::new("m.json");
        for (text, want) in [
            (r#"{"folder": {}}"#, "unknown key"),
            (r#"{"folders": {}}"#, "0 entries"),
            (r#"{"folders": {"A": 0, "a": 1}}"#, "twice"),
            ("[1]", "JSON object"),
        ] {
            assert!(ClassMap::parse(text, d).unwrap_err().to_string().contains(want), "{text}");
        }
        let map = ClassMap::parse(r#"{"folders": {"A": 7}}"#, d).unwrap();
        assert!(ClassIndex::new(names(), Some(&map)).unwrap_err().to_string().contains("not a class"));
    }
}
