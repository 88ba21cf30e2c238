//! A FINN deployment's hardware files: the Vivado hardware handoff (.hwh, XML) and the
//! bitstream (.bit), and loading it through the Linux FPGA manager.
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

use crate::limits::{self, MAX_FILE_BYTES, MAX_TEXT_FILE_BYTES, MAX_XML_DEPTH};
use crate::sysfs::{self, SysfsError};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
    #[error(
        "loading a bitstream replaces the running FPGA design; opt in explicitly (allow_load = true; \
         the CLI asks for --allow-load)"
    )]
    LoadNotAllowed,
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

/// What the .hwh tells the driver.
#[derive(Clone, Debug, PartialEq)]
pub struct HwhInfo {
    /// idma0, idma1, …, then odma0, … .
    pub dmas: Vec<DmaWindow>,
    /// PL clock 0 as requested in the design, MHz.
    pub fclk_mhz: Option<f64>,
    /// PL clock 0 as the PS clock dividers actually make it, MHz.
    pub fclk_actual_mhz: Option<f64>,
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

fn window(name: &str, base: &str, high: &str) -> Result<DmaWindow, String> {
    let b = hex_u64(base).ok_or_else(|| format!("{name}: base address '{base}' is not hexadecimal"))?;
    let h = hex_u64(high).ok_or_else(|| format!("{name}: high address '{high}' is not hexadecimal"))?;
    if h < b {
        return Err(format!("{name}: high address {h:#x} is below the base {b:#x}"));
    }
    let range = (h - b)
        .checked_add(1)
        .ok_or_else(|| format!("{name}: the window {b:#x}..={h:#x} spans the whole 64-bit address space"))?;
    Ok(DmaWindow { name: name.to_string(), base: b, range })
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

fn mhz(module: roxmltree::Node, name: &str) -> Result<Option<f64>, String> {
    match module_param(module, name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .map(Some)
            .ok_or_else(|| format!("{name} = '{v}' is not a frequency in MHz")),
    }
}

/// Parses the text of a Vivado .hwh.
pub fn parse_hwh(text: &str) -> Result<HwhInfo, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if crate::xml_depth::max_depth(text, MAX_XML_DEPTH) > MAX_XML_DEPTH {
        return Err(format!(
            "elements nest deeper than {MAX_XML_DEPTH} levels ({}); a Vivado .hwh nests about 8",
            limits::named("MAX_XML_DEPTH", MAX_XML_DEPTH)
        ));
    }
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if !root.has_tag_name("EDKSYSTEM") {
        return Err(format!(
            "not a Vivado hardware handoff: root element <{}>, expected <EDKSYSTEM>",
            root.tag_name().name()
        ));
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
        .ok_or_else(|| format!("no Zynq processing system module ({})", PROCESSORS.join(" or ")))?;
    let processor = ps.attribute("MODTYPE").unwrap_or_default().to_string();

    let mut dmas: Vec<DmaWindow> = Vec::new();
    let ranges = ps.children().filter(|n| n.has_tag_name("MEMORYMAP")).flat_map(|m| m.children());
    for r in ranges.filter(|n| n.has_tag_name("MEMRANGE")) {
        let Some(inst) = r.attribute("INSTANCE").filter(|i| dma_key(i).is_some()) else { continue };
        if r.attribute("MEMTYPE").is_some_and(|t| t != "REGISTER") || dmas.iter().any(|d| d.name == inst) {
            continue;
        }
        let (Some(b), Some(h)) = (r.attribute("BASEVALUE"), r.attribute("HIGHVALUE")) else {
            return Err(format!("MEMRANGE of {inst} lacks BASEVALUE or HIGHVALUE"));
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
            return Err(format!(
                "no register window for {need} (FINN's zynq-iodma instance name); IODMA windows found: [{}]; \
                 module instances: [{}]",
                dmas.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
                found.join(", ")
            ));
        }
    }

    let (req, act) = if processor == "processing_system7" {
        ("PCW_FPGA0_PERIPHERAL_FREQMHZ", "PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ")
    } else {
        ("PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", "PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ")
    };
    let fclk_mhz = mhz(*ps, req)?;
    let fclk_actual_mhz = mhz(*ps, act)?;
    let attr = |k: &str| sysinfo.and_then(|s| s.attribute(k)).map(str::to_string);
    let part = match (attr("DEVICE"), attr("PACKAGE"), attr("SPEEDGRADE")) {
        (Some(d), Some(p), Some(s)) => Some(format!("{d}{p}{s}")),
        (Some(d), p, _) => Some(format!("{d}{}", p.unwrap_or_default())),
        _ => None,
    };
    Ok(HwhInfo {
        dmas,
        fclk_mhz,
        fclk_actual_mhz,
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
    parse_hwh(&text).map_err(|m| file_err(path, m))
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
pub fn parse_bit(bytes: &[u8]) -> Result<BitHeader, String> {
    if bytes.len() < BIT_MAGIC.len() {
        return Err(format!("truncated: {} bytes, shorter than the 13-byte header magic", bytes.len()));
    }
    if bytes[..13] != BIT_MAGIC {
        return Err("not a Xilinx .bit file: the 13-byte header magic does not match".into());
    }
    let mut pos = 13;
    let mut fields: [Option<String>; 4] = Default::default();
    loop {
        let Some(&key) = bytes.get(pos) else {
            return Err(format!("truncated header at byte {pos}: no payload field 'e'"));
        };
        pos += 1;
        if key == b'e' {
            let len = bytes
                .get(pos..pos + 4)
                .ok_or_else(|| format!("truncated header at byte {pos}: payload length cut off"))?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            pos += 4;
            let have = bytes.len() - pos;
            if have < len {
                return Err(format!("truncated: the header announces {len} payload bytes, the file has {have}"));
            }
            let get = |i: usize, k: char, what: &str| {
                fields[i].clone().ok_or_else(|| format!("header lacks field '{k}' ({what})"))
            };
            let a = get(0, 'a', "design")?;
            let mut parts = a.split(';');
            let design = parts.next().unwrap_or_default().to_string();
            let version = parts.find_map(|p| p.strip_prefix("Version=")).map(str::to_string);
            return Ok(BitHeader {
                design,
                version,
                part: get(1, 'b', "part")?,
                date: get(2, 'c', "date")?,
                time: get(3, 'd', "time")?,
                payload_offset: pos,
                payload_len: len,
            });
        }
        if !key.is_ascii_lowercase() {
            return Err(format!("corrupt header: unexpected field key {} at byte {}", field_key(key), pos - 1));
        }
        let len = bytes
            .get(pos..pos + 2)
            .ok_or_else(|| format!("truncated header at byte {pos}: field {} length", field_key(key)))?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        pos += 2;
        let raw = bytes
            .get(pos..pos + len)
            .ok_or_else(|| format!("truncated header: field {} needs {len} bytes at {pos}", field_key(key)))?;
        pos += len;
        // Fields are printed: control characters are shown escaped, never raw.
        let text: String = String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw))
            .chars()
            .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
            .collect();
        // Keys past 'd' are not in Vivado's output: skipped by their length.
        if let b'a'..=b'd' = key {
            fields[(key - b'a') as usize] = Some(text);
        }
    }
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
pub fn bit_to_bin(bit: &[u8]) -> Result<Vec<u8>, String> {
    let h = parse_bit(bit)?;
    let payload = &bit[h.payload_offset..h.payload_offset + h.payload_len];
    if !payload.len().is_multiple_of(4) {
        return Err(format!("payload of {} bytes is not whole 32-bit words", payload.len()));
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
    parse_bit(&bytes).map_err(|m| file_err(path, m))
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

/// The Linux FPGA manager (`/sys/class/fpga_manager/fpga0`) and the firmware folder it loads from.
#[derive(Clone, Debug)]
pub struct FpgaManager {
    /// `<sys>/class/fpga_manager/<device>`.
    pub dir: PathBuf,
    /// Where the kernel's firmware loader looks (`/lib/firmware`).
    pub firmware_dir: PathBuf,
}

impl Default for FpgaManager {
    fn default() -> Self {
        FpgaManager {
            dir: PathBuf::from("/sys/class/fpga_manager/fpga0"),
            firmware_dir: PathBuf::from("/lib/firmware"),
        }
    }
}

impl FpgaManager {
    /// The manager's state attribute ("operating" after a good load).
    pub fn state(&self) -> Result<String, DeployError> {
        Ok(sysfs::read_text(&self.dir.join("state"))?)
    }

    /// Writes `bin` (from [`bit_to_bin`]) to the firmware folder as `name` and asks the manager
    /// to load it as a full bitstream. Replaces the running design: needs `allow_load = true`.
    pub fn load(&self, bin: &[u8], name: &str, allow_load: bool) -> Result<(), DeployError> {
        if !allow_load {
            return Err(DeployError::LoadNotAllowed);
        }
        if !self.dir.is_dir() {
            return Err(file_err(
                &self.dir,
                "no FPGA manager here: this is not a Zynq running Linux with the FPGA manager (or /sys is not mounted)",
            ));
        }
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(file_err(&self.firmware_dir, format!("bad firmware name '{name}'")));
        }
        let fw = self.firmware_dir.join(name);
        std::fs::write(&fw, bin).map_err(|e| file_err(&fw, format!("cannot write the bitstream: {e}")))?;
        let flags = self.dir.join("flags");
        if flags.exists() {
            sysfs::write_text(&flags, "0")?; // full reconfiguration
        }
        sysfs::write_text(&self.dir.join("firmware"), name)?;
        let state = self.state()?;
        if state != "operating" {
            return Err(file_err(&self.dir, format!("load of {name} failed: manager state is '{state}'")));
        }
        Ok(())
    }
}
