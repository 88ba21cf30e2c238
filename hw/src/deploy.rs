//! A FINN deployment's hardware files: the Vivado hardware handoff (.hwh, XML) and the
//! bitstream (.bit). Loading it into the PL is [`crate::fpga`]'s.
//!
//! .hwh: FINN's zynq build (`make_zynq_proj.py`) names the IODMA instances `idma<N>` (graph
//! inputs) and `odma<N>` (outputs), and the PS instance `zynq_ps`. Their AXI-lite windows are
//! `MEMRANGE` entries (BASEVALUE, HIGHVALUE, MEMTYPE="REGISTER") in the processor module's
//! `MEMORYMAP`; the instance modules also carry C_BASEADDR/C_HIGHADDR parameters, used when
//! the memory map lacks them. The PL clock is the processor's PCW_FPGA0_PERIPHERAL_FREQMHZ
//! (processing_system7) or PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ (zynq_ultra_ps_e).
//!
//! .bit: a 13-byte magic (`00 09 0F F0 0F F0 0F F0 0F F0 00 00 01`), then fields of a key
//! byte, a 2-byte big-endian length and a NUL-terminated string: 'a' design (with
//! `;UserID=…;Version=…`), 'b' part, 'c' date, 'd' time; then 'e' with a 4-byte big-endian
//! length and the configuration payload. The FPGA manager wants the payload alone with each
//! 32-bit word byte-swapped (the `.bin` that PYNQ and `bootgen -process_bitstream bin` make).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::clocks::{Fclk0Design, PsFamily};
use crate::limits::{self, MAX_FILE_BYTES, MAX_TEXT_FILE_BYTES, MAX_XML_DEPTH};

/// What is wrong with the text of a .hwh.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HwhError {
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("elements nest deeper than {max} levels ({named}); a Vivado .hwh nests about 8")]
    TooDeep { max: usize, named: String },
    #[error("not a Vivado hardware handoff: root element <{0}>, expected <EDKSYSTEM>")]
    NotHandoff(String),
    #[error("no Zynq processing system module (processing_system7 or zynq_ultra_ps_e)")]
    NoProcessor,
    #[error("{name}: {what} address '{value}' is not hexadecimal")]
    BadAddress { name: String, what: &'static str, value: String },
    #[error("{name}: high address {high:#x} is below the base {base:#x}")]
    Inverted { name: String, base: u64, high: u64 },
    #[error("{name}: the window {base:#x}..={high:#x} spans the whole 64-bit address space")]
    WholeSpace { name: String, base: u64, high: u64 },
    #[error("MEMRANGE of {0} lacks BASEVALUE or HIGHVALUE")]
    IncompleteRange(String),
    #[error(
        "no register window for {need} (FINN's zynq-iodma instance name); IODMA windows found: [{found}]; \
         module instances: [{instances}]"
    )]
    MissingDma { need: &'static str, found: String, instances: String },
    #[error("{name} = '{value}' is not a frequency in MHz")]
    BadFrequency { name: &'static str, value: String },
    /// PL clock 0's parameters of the processing system (reference, divisors, source).
    #[error("{0}")]
    Clock(String),
}

/// What is wrong with the bytes of a .bit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitError {
    #[error("truncated: {0} bytes, shorter than the 13-byte header magic")]
    NoMagic(usize),
    #[error("not a Xilinx .bit file: the 13-byte header magic does not match")]
    BadMagic,
    #[error("truncated header at byte {pos}: {what}")]
    TruncatedHeader { pos: usize, what: String },
    #[error("truncated: the header announces {announced} payload bytes, the file has {have}")]
    TruncatedPayload { announced: usize, have: usize },
    #[error("header lacks field '{key}' ({what})")]
    MissingField { key: char, what: &'static str },
    #[error("corrupt header: unexpected field key {key:#04x} at byte {pos}")]
    BadKey { key: u8, pos: usize },
    #[error("payload of {0} bytes is not whole 32-bit words")]
    PartialWords(usize),
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("{path}: {source}")]
    Hwh {
        path: PathBuf,
        #[source]
        source: HwhError,
    },
    #[error("{path}: {source}")]
    Bit {
        path: PathBuf,
        #[source]
        source: BitError,
    },
}

impl DeployError {
    /// The file the error is about and what is wrong with it.
    pub fn into_parts(self) -> (PathBuf, String) {
        match self {
            DeployError::File { path, msg } => (path, msg),
            DeployError::Hwh { path, source } => (path, source.to_string()),
            DeployError::Bit { path, source } => (path, source.to_string()),
        }
    }
}

fn file_err(path: &Path, msg: impl Into<String>) -> DeployError {
    DeployError::File { path: path.to_path_buf(), msg: msg.into() }
}

/// One IODMA's AXI-lite register window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmaWindow {
    pub name: String,
    pub base: u64,
    /// Bytes: HIGHVALUE − BASEVALUE + 1.
    pub range: u64,
}

/// One AXI-lite register window of the processor's memory map (any instance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegWindow {
    /// The block-design instance, e.g. "StreamingDataflowPartition_1".
    pub instance: String,
    /// Its slave interface, e.g. "s_axilite_0" (empty when the .hwh does not say).
    pub interface: String,
    pub base: u64,
    /// Bytes: HIGHVALUE − BASEVALUE + 1.
    pub range: u64,
}

/// What the .hwh tells the driver.
#[derive(Clone, Debug, PartialEq)]
pub struct HwhInfo {
    /// idma0, idma1, …, then odma0, … .
    pub dmas: Vec<DmaWindow>,
    /// Every REGISTER range of the processor's memory map, in file order (the IODMAs' too):
    /// where runtime-writable weights are written.
    pub windows: Vec<RegWindow>,
    /// PL clock 0 as requested in the design, MHz.
    pub fclk_mhz: Option<f64>,
    /// PL clock 0 as the PS clock dividers actually make it, MHz.
    pub fclk_actual_mhz: Option<f64>,
    /// PL clock 0's reference clock, divisors and source, for setting it ([`crate::clocks`]).
    pub fclk0: Fclk0Design,
    /// processing_system7 or zynq_ultra_ps_e.
    pub processor: String,
    pub board: Option<String>,
    /// Device, package and speed grade, e.g. "7z020clg400-1".
    pub part: Option<String>,
    pub vivado: Option<String>,
}

impl HwhInfo {
    pub fn dma(&self, name: &str) -> Option<&DmaWindow> {
        self.dmas.iter().find(|d| d.name == name)
    }
}

const PROCESSORS: [&str; 2] = ["processing_system7", "zynq_ultra_ps_e"];

/// (idma=0/odma=1, index) for FINN's IODMA instance names.
fn dma_key(name: &str) -> Option<(u8, u32)> {
    let (kind, digits) = if let Some(d) = name.strip_prefix("idma") { (0, d) } else { (1, name.strip_prefix("odma")?) };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, digits.parse().ok()?))
}

fn hex_u64(s: &str) -> Option<u64> {
    let t = s.trim();
    let h = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    u64::from_str_radix(h, 16).ok()
}

/// (base, range) of a window given as hexadecimal base and high addresses.
fn span(name: &str, base: &str, high: &str) -> Result<(u64, u64), HwhError> {
    let bad = |what, value: &str| HwhError::BadAddress { name: name.to_string(), what, value: value.to_string() };
    let b = hex_u64(base).ok_or_else(|| bad("base", base))?;
    let h = hex_u64(high).ok_or_else(|| bad("high", high))?;
    if h < b {
        return Err(HwhError::Inverted { name: name.to_string(), base: b, high: h });
    }
    // h - b + 1 overflows only for a window spanning all 2^64 addresses.
    let range =
        (h - b).checked_add(1).ok_or_else(|| HwhError::WholeSpace { name: name.to_string(), base: b, high: h })?;
    Ok((b, range))
}

fn window(name: &str, base: &str, high: &str) -> Result<DmaWindow, HwhError> {
    let (base, range) = span(name, base, high)?;
    Ok(DmaWindow { name: name.to_string(), base, range })
}

/// The `PARAMETER NAME=… VALUE=…` children of a module's own PARAMETERS.
fn module_param<'a>(module: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    module
        .children()
        .filter(|n| n.has_tag_name("PARAMETERS"))
        .flat_map(|p| p.children())
        .find(|n| n.has_tag_name("PARAMETER") && n.attribute("NAME") == Some(name))
        .and_then(|n| n.attribute("VALUE"))
}

fn mhz(module: roxmltree::Node, name: &'static str) -> Result<Option<f64>, HwhError> {
    match module_param(module, name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .map(Some)
            .ok_or_else(|| HwhError::BadFrequency { name, value: v.to_string() }),
    }
}

/// The REGISTER ranges of the processor's memory map.
fn register_windows(ps: roxmltree::Node) -> Result<Vec<RegWindow>, HwhError> {
    let ranges = ps.children().filter(|n| n.has_tag_name("MEMORYMAP")).flat_map(|m| m.children());
    let mut out = Vec::new();
    for r in ranges.filter(|n| n.has_tag_name("MEMRANGE") && n.attribute("MEMTYPE") == Some("REGISTER")) {
        let Some(instance) = r.attribute("INSTANCE") else { continue };
        let (Some(b), Some(h)) = (r.attribute("BASEVALUE"), r.attribute("HIGHVALUE")) else {
            return Err(HwhError::IncompleteRange(instance.to_string()));
        };
        let (base, range) = span(instance, b, h)?;
        let interface = r.attribute("SLAVEBUSINTERFACE").unwrap_or_default().to_string();
        out.push(RegWindow { instance: instance.to_string(), interface, base, range });
    }
    Ok(out)
}

/// Parses the text of a Vivado .hwh.
pub fn parse_hwh(text: &str) -> Result<HwhInfo, HwhError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if crate::xml_depth::max_depth(text, MAX_XML_DEPTH) > MAX_XML_DEPTH {
        return Err(HwhError::TooDeep { max: MAX_XML_DEPTH, named: limits::named("MAX_XML_DEPTH", MAX_XML_DEPTH) });
    }
    let doc = roxmltree::Document::parse(text).map_err(|e| HwhError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if !root.has_tag_name("EDKSYSTEM") {
        return Err(HwhError::NotHandoff(root.tag_name().name().to_string()));
    }
    let sysinfo = root.children().find(|n| n.has_tag_name("SYSTEMINFO"));
    let modules: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("MODULES"))
        .flat_map(|m| m.children())
        .filter(|n| n.has_tag_name("MODULE"))
        .collect();
    let ps = modules
        .iter()
        .find(|m| m.attribute("MODTYPE").is_some_and(|t| PROCESSORS.contains(&t)))
        .ok_or(HwhError::NoProcessor)?;
    let processor = ps.attribute("MODTYPE").unwrap_or_default().to_string();

    let mut dmas: Vec<DmaWindow> = Vec::new();
    let windows = register_windows(*ps)?;
    let ranges = ps.children().filter(|n| n.has_tag_name("MEMORYMAP")).flat_map(|m| m.children());
    for r in ranges.filter(|n| n.has_tag_name("MEMRANGE")) {
        let Some(inst) = r.attribute("INSTANCE").filter(|i| dma_key(i).is_some()) else { continue };
        if r.attribute("MEMTYPE").is_some_and(|t| t != "REGISTER") || dmas.iter().any(|d| d.name == inst) {
            continue;
        }
        let (Some(b), Some(h)) = (r.attribute("BASEVALUE"), r.attribute("HIGHVALUE")) else {
            return Err(HwhError::IncompleteRange(inst.to_string()));
        };
        dmas.push(window(inst, b, h)?);
    }
    // Instances missing from the processor's map: their own C_BASEADDR / C_HIGHADDR.
    for m in &modules {
        let Some(inst) = m.attribute("INSTANCE").filter(|i| dma_key(i).is_some()) else { continue };
        if dmas.iter().any(|d| d.name == inst) {
            continue;
        }
        if let (Some(b), Some(h)) = (module_param(*m, "C_BASEADDR"), module_param(*m, "C_HIGHADDR")) {
            dmas.push(window(inst, b, h)?);
        }
    }
    dmas.sort_by_key(|d| dma_key(&d.name));
    for need in ["idma0", "odma0"] {
        if !dmas.iter().any(|d| d.name == need) {
            let found: Vec<&str> = modules.iter().filter_map(|m| m.attribute("INSTANCE")).collect();
            return Err(HwhError::MissingDma {
                need,
                found: dmas.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
                instances: found.join(", "),
            });
        }
    }

    let (req, act) = if processor == "processing_system7" {
        ("PCW_FPGA0_PERIPHERAL_FREQMHZ", "PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ")
    } else {
        ("PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", "PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ")
    };
    let fclk_mhz = mhz(*ps, req)?;
    let fclk_actual_mhz = mhz(*ps, act)?;
    let family = PsFamily::from_processor(&processor).expect("a processor of PROCESSORS");
    let fclk0 = Fclk0Design::from_params(family, |name| module_param(*ps, name)).map_err(HwhError::Clock)?;
    let attr = |k: &str| sysinfo.and_then(|s| s.attribute(k)).map(str::to_string);
    let part = match (attr("DEVICE"), attr("PACKAGE"), attr("SPEEDGRADE")) {
        (Some(d), Some(p), Some(s)) => Some(format!("{d}{p}{s}")),
        (Some(d), p, _) => Some(format!("{d}{}", p.unwrap_or_default())),
        _ => None,
    };
    Ok(HwhInfo {
        dmas,
        windows,
        fclk_mhz,
        fclk_actual_mhz,
        fclk0,
        processor,
        board: attr("BOARD"),
        part,
        vivado: root.attribute("VIVADOVERSION").map(str::to_string),
    })
}

/// Reads and parses a .hwh file; errors name it.
pub fn read_hwh(path: &Path) -> Result<HwhInfo, DeployError> {
    let bytes = limits::read_file(path, MAX_TEXT_FILE_BYTES, "MAX_TEXT_FILE_BYTES").map_err(|m| file_err(path, m))?;
    let text = String::from_utf8(bytes).map_err(|_| file_err(path, "not UTF-8 text (is this a .hwh?)"))?;
    parse_hwh(&text).map_err(|source| DeployError::Hwh { path: path.to_path_buf(), source })
}

/// The header fields of a .bit file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitHeader {
    /// Field 'a' up to the first ';' (e.g. "top_wrapper").
    pub design: String,
    /// The `Version=` of field 'a', when present (the Vivado version).
    pub version: Option<String>,
    /// Field 'b' (e.g. "7z020clg400").
    pub part: String,
    /// Field 'c' (e.g. "2021/06/30").
    pub date: String,
    /// Field 'd' (e.g. "09:40:39").
    pub time: String,
    /// Where the payload starts in the file.
    pub payload_offset: usize,
    /// Field 'e': payload bytes.
    pub payload_len: usize,
}

/// The fixed start of every .bit header.
pub const BIT_MAGIC: [u8; 13] = [0x00, 0x09, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x00, 0x00, 0x01];

/// Parses a .bit header and checks the payload is all there.
pub fn parse_bit(bytes: &[u8]) -> Result<BitHeader, BitError> {
    if bytes.len() < BIT_MAGIC.len() {
        return Err(BitError::NoMagic(bytes.len()));
    }
    if bytes[..13] != BIT_MAGIC {
        return Err(BitError::BadMagic);
    }
    let truncated = |pos: usize, what: String| BitError::TruncatedHeader { pos, what };
    let mut pos = 13;
    let mut fields: [Option<String>; 4] = Default::default();
    loop {
        let Some(&key) = bytes.get(pos) else {
            return Err(truncated(pos, "no payload field 'e'".into()));
        };
        pos += 1;
        if key == b'e' {
            let len = bytes.get(pos..pos + 4).ok_or_else(|| truncated(pos, "payload length cut off".into()))?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            pos += 4;
            let have = bytes.len() - pos;
            if have < len {
                return Err(BitError::TruncatedPayload { announced: len, have });
            }
            return header(fields, pos, len);
        }
        if !key.is_ascii_lowercase() {
            return Err(BitError::BadKey { key, pos: pos - 1 });
        }
        let len = bytes.get(pos..pos + 2).ok_or_else(|| truncated(pos, format!("field {} length", field_key(key))))?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        pos += 2;
        let raw = bytes
            .get(pos..pos + len)
            .ok_or_else(|| truncated(pos, format!("field {} needs {len} bytes", field_key(key))))?;
        pos += len;
        // Fields are printed: control characters are shown escaped, never raw.
        let text: String = String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw))
            .chars()
            .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
            .collect();
        match key {
            b'a'..=b'd' => fields[(key - b'a') as usize] = Some(text),
            // Not in Vivado's output; skip what we do not know, by its length.
            _ if key.is_ascii_lowercase() => {}
            _ => return Err(BitError::BadKey { key, pos: pos - len - 3 }),
        }
    }
}

/// The header from fields 'a' to 'd' and the payload's place.
fn header(fields: [Option<String>; 4], payload_offset: usize, payload_len: usize) -> Result<BitHeader, BitError> {
    let [a, b, c, d] = fields;
    let need = |f: Option<String>, key, what| f.ok_or(BitError::MissingField { key, what });
    let a = need(a, 'a', "design")?;
    let mut parts = a.split(';');
    let design = parts.next().unwrap_or_default().to_string();
    let version = parts.find_map(|p| p.strip_prefix("Version=")).map(str::to_string);
    Ok(BitHeader {
        design,
        version,
        part: need(b, 'b', "part")?,
        date: need(c, 'c', "date")?,
        time: need(d, 'd', "time")?,
        payload_offset,
        payload_len,
    })
}

/// A .bit field key for messages: 'a' for a printable one, else its hex code (never a raw
/// control byte).
fn field_key(key: u8) -> String {
    if key.is_ascii_graphic() {
        format!("'{}'", key as char)
    } else {
        format!("{key:#04x}")
    }
}

/// The payload with each 32-bit word byte-swapped: what the FPGA manager loads.
pub fn bit_to_bin(bit: &[u8]) -> Result<Vec<u8>, BitError> {
    let h = parse_bit(bit)?;
    let payload = &bit[h.payload_offset..h.payload_offset + h.payload_len];
    if !payload.len().is_multiple_of(4) {
        return Err(BitError::PartialWords(payload.len()));
    }
    let mut out = Vec::with_capacity(payload.len());
    for w in payload.chunks_exact(4) {
        out.extend_from_slice(&[w[3], w[2], w[1], w[0]]);
    }
    Ok(out)
}

/// Reads a .bit file's header; errors name the file.
pub fn read_bit_header(path: &Path) -> Result<BitHeader, DeployError> {
    let bytes = limits::read_file(path, MAX_FILE_BYTES, "MAX_FILE_BYTES").map_err(|m| file_err(path, m))?;
    parse_bit(&bytes).map_err(|source| DeployError::Bit { path: path.to_path_buf(), source })
}

/// A deployment folder's .hwh and .bit, parsed.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub hwh_path: PathBuf,
    pub bit_path: PathBuf,
    pub hwh: HwhInfo,
    pub bit: BitHeader,
}

/// Finds the one .hwh in `dir` (or in `dir/bitfile`, FINN's deploy layout) and the .bit of the
/// same name beside it.
pub fn find_deployment(dir: &Path) -> Result<Deployment, DeployError> {
    if !dir.is_dir() {
        return Err(file_err(dir, "not a directory (expected a FINN deployment folder with a .hwh and a .bit)"));
    }
    let mut tried = Vec::new();
    for d in [dir.to_path_buf(), dir.join("bitfile")] {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        tried.push(d.display().to_string());
        let mut hwh: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("hwh")))
            .collect();
        hwh.sort();
        match hwh.len() {
            0 => continue,
            1 => {}
            _ => {
                let names: Vec<String> = hwh.iter().map(|p| p.display().to_string()).collect();
                return Err(file_err(&d, format!("several .hwh files, expected one: {}", names.join(", "))));
            }
        }
        let hwh_path = hwh.remove(0);
        let bit_path = hwh_path.with_extension("bit");
        if !bit_path.is_file() {
            return Err(file_err(&bit_path, "missing: the bitstream must sit beside its .hwh with the same name"));
        }
        let hwh = read_hwh(&hwh_path)?;
        let bit = read_bit_header(&bit_path)?;
        return Ok(Deployment { hwh_path, bit_path, hwh, bit });
    }
    Err(file_err(dir, format!("no .hwh file in {}", tried.join(" or "))))
}

/// A one-screen description of a deployment.
pub fn describe(d: &Deployment) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "hwh        {}", d.hwh_path.display());
    let _ = writeln!(s, "bitstream  {}", d.bit_path.display());
    for w in &d.hwh.dmas {
        let _ = writeln!(s, "{:<10} base {:#010x}  range {:#x}", w.name, w.base, w.range);
    }
    let f = |v: Option<f64>| v.map_or("unknown".to_string(), |m| format!("{m} MHz"));
    let _ = writeln!(s, "fclk0      {} (actual {})", f(d.hwh.fclk_mhz), f(d.hwh.fclk_actual_mhz));
    let _ = writeln!(
        s,
        "processor  {}; board {}; part {}; Vivado {}",
        d.hwh.processor,
        d.hwh.board.as_deref().unwrap_or("?"),
        d.hwh.part.as_deref().unwrap_or("?"),
        d.hwh.vivado.as_deref().unwrap_or("?")
    );
    let b = &d.bit;
    let _ = writeln!(
        s,
        "bit header design {} (version {}), part {}, {} {}, payload {} bytes",
        b.design,
        b.version.as_deref().unwrap_or("?"),
        b.part,
        b.date,
        b.time,
        b.payload_len
    );
    s
}
