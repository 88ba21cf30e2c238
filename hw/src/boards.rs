//! FPGA boards FINN targets: part, resource budget and default clock, from `hw/data/boards.json`.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct Board {
    pub name: String,
    pub aliases: Vec<String>,
    pub part: String,
    pub family: String,
    pub shell_flow_type: String,
    pub lut: u64,
    pub ff: u64,
    pub bram18: u64,
    pub dsp: u64,
    pub uram: u64,
    pub clock_mhz: f64,
}

const BOARDS_JSON: &str = include_str!("../data/boards.json");

fn parse(text: &str) -> Result<Vec<Board>, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("boards.json: {e}"))?;
    let list = root["boards"].as_array().ok_or("boards.json: no 'boards' list")?;
    list.iter()
        .map(|b| {
            let s = |k: &str| b[k].as_str().map(str::to_string).ok_or(format!("boards.json: board without '{k}'"));
            let n = |k: &str| b[k].as_u64().ok_or(format!("boards.json: board without integer '{k}'"));
            Ok(Board {
                name: s("name")?,
                aliases: b["aliases"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                part: s("part")?,
                family: s("family")?,
                shell_flow_type: s("shell_flow_type")?,
                lut: n("lut")?,
                ff: n("ff")?,
                bram18: n("bram18")?,
                dsp: n("dsp")?,
                uram: n("uram")?,
                clock_mhz: b["clock_mhz"].as_f64().ok_or("boards.json: board without 'clock_mhz'")?,
            })
        })
        .collect()
}

/// Every known board.
pub fn all() -> Vec<Board> {
    parse(BOARDS_JSON).expect("the shipped boards.json parses")
}

/// A board by name or alias, case-insensitive.
pub fn find(name: &str) -> Option<Board> {
    let key = name.trim().to_ascii_lowercase();
    all().into_iter().find(|b| b.name.to_ascii_lowercase() == key || b.aliases.contains(&key))
}

/// The known names, for error messages.
pub fn names() -> Vec<String> {
    all().into_iter().map(|b| b.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_have_their_datasheet_budgets() {
        let z1 = find("pynq-z1").unwrap();
        assert_eq!((z1.part.as_str(), z1.lut, z1.ff, z1.bram18, z1.dsp), ("xc7z020clg400-1", 53200, 106400, 280, 220));
        assert_eq!(z1.clock_mhz, 100.0);
        assert_eq!(find("PYNQ-Z2").unwrap().part, z1.part);
        let u96 = find("Ultra96").unwrap();
        assert!(u96.part.starts_with("xczu3eg"));
        assert_eq!((u96.lut, u96.bram18, u96.dsp), (70560, 432, 360));
        let zcu = find("zcu104").unwrap();
        assert!(zcu.part.starts_with("xczu7ev"));
        assert_eq!((zcu.lut, zcu.bram18, zcu.dsp, zcu.uram), (230400, 624, 1728, 96));
        assert!(find("vc707").is_none());
        assert_eq!(names().len(), 4);
    }

    #[test]
    fn bad_board_files_are_errors() {
        assert!(parse("{").is_err());
        assert!(parse(r#"{"boards": [{"name": "x"}]}"#).unwrap_err().contains("part"));
    }
}
