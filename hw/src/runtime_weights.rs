//! Runtime-writable weights, as FINN's `driver_base.py::load_runtime_weights` loads them.
//!
//! FINN's `MakePYNQDriver` writes one `<partition>_<layer>_<node>.dat` per MVAU or Thresholding
//! layer built with `runtime_writeable_weights`, into `runtime_weights/` beside driver.py: the
//! layer's weight memory as whitespace-separated hexadecimal 32-bit words. `partition` is the
//! index of the StreamingDataflowPartition holding the layer, `layer` counts the
//! runtime-writable layers inside it. FINN's driver writes the words from offset 0 of the
//! partition's AXI-lite window, reads them back and compares, and finally runs the accelerator
//! once on whatever the input buffer holds, to flush stale weights out of the weight
//! streamers' FIFOs (that run is the caller's: it owns the IODMA driver).
//!
//! **Windows.** In the .hwh each AXI-lite interface of `StreamingDataflowPartition_<p>` is a
//! REGISTER range of the processor's memory map. FINN's stitched IP names a partition's
//! interfaces `s_axilite_<k>` in node order. PYNQ names the window of an instance with one range
//! by the instance, and `<instance>/<interface>` when it has several; FINN's driver looks up the
//! plain instance name only, so it loads partitions with exactly one window. Here:
//! - a partition with one window takes layer 0 there (as FINN);
//! - a partition with several takes layer k in `s_axilite_<k>`. That equals FINN's numbering
//!   when every AXI-lite node of the partition is a runtime-writable layer, the usual build;
//!   FINN's own driver would skip such a partition.
//!
//! Every file is matched to its window and checked to fit before any word is written.
//! `.npy` files in the folder are FINN's external (DRAM) weights for extra IODMAs; they are
//! refused, as binarycop drives one input and one output IODMA.

use std::path::{Path, PathBuf};

use crate::deploy::{HwhInfo, RegWindow};
use crate::mmio::{Mmio, MmioError};

/// The largest .dat file read (FINN's weight memories are far smaller).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most .dat files in one folder.
const MAX_FILES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: cannot read: {msg}")]
    Read { path: PathBuf, msg: String },
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    #[error(
        "{path}: external (DRAM) weights for an extra IODMA are not supported (binarycop drives one input and \
         one output IODMA)"
    )]
    External { path: PathBuf },
    #[error("{path}: no AXI-lite window for it in {hwh}: {msg}")]
    NoWindow { path: PathBuf, hwh: PathBuf, msg: String },
    #[error("{path}: {words} words ({bytes} bytes) do not fit the {range:#x}-byte window {window}")]
    TooLarge { path: PathBuf, words: usize, bytes: u64, range: u64, window: String },
    #[error("{path}: {window} is also the window of {other}")]
    SharedWindow { path: PathBuf, window: String, other: PathBuf },
    #[error(
        "{window}: weight word {index} (offset {offset:#x}) reads back {read:#010x} after {wrote:#010x} was \
         written"
    )]
    Verify { window: String, index: usize, offset: usize, wrote: u32, read: u32 },
    #[error("{window}: {source}")]
    Mmio {
        window: String,
        #[source]
        source: MmioError,
    },
}

/// One `.dat` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightFile {
    pub path: PathBuf,
    /// The StreamingDataflowPartition index.
    pub partition: u32,
    /// The runtime-writable layer's index inside the partition.
    pub layer: u32,
    /// The layer's node name (the rest of the file name), e.g. "MVAU_hls_1".
    pub node: String,
    pub words: Vec<u32>,
}

/// A file and the window it goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightLoad {
    pub file: WeightFile,
    pub window: RegWindow,
    /// PYNQ's name for the window: the instance, or instance/interface.
    pub name: String,
}

/// The `.dat` files of `dir` in name order; none when `dir` does not exist.
pub fn read_dir(dir: &Path) -> Result<Vec<WeightFile>, WeightsError> {
    let read_err = |path: &Path, e: std::io::Error| WeightsError::Read { path: path.to_path_buf(), msg: e.to_string() };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(dir, e)),
    };
    let mut paths = Vec::new();
    for e in entries {
        let path = e.map_err(|e| read_err(dir, e))?.path();
        match path.extension().and_then(|x| x.to_str()) {
            Some("dat") => paths.push(path),
            Some("npy") => return Err(WeightsError::External { path }),
            _ => {}
        }
    }
    if paths.len() > MAX_FILES {
        let msg = format!("{} .dat files; at most {MAX_FILES} are read", paths.len());
        return Err(WeightsError::Format { path: dir.to_path_buf(), msg });
    }
    paths.sort();
    paths.iter().map(|p| read_file(p)).collect()
}

/// Reads one `<partition>_<layer>_<node>.dat`.
pub fn read_file(path: &Path) -> Result<WeightFile, WeightsError> {
    let format = |msg: String| WeightsError::Format { path: path.to_path_buf(), msg };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let mut parts = stem.splitn(3, '_');
    let index = |p: Option<&str>| p.filter(|d| !d.is_empty() && d.len() <= 6).and_then(|d| d.parse::<u32>().ok());
    let (Some(partition), Some(layer), Some(node)) = (index(parts.next()), index(parts.next()), parts.next()) else {
        return Err(format(
            "the name is not FINN's <partition>_<layer>_<node>.dat (e.g. 1_0_MVAU_hls_0.dat)".to_string(),
        ));
    };
    let meta =
        std::fs::metadata(path).map_err(|e| WeightsError::Read { path: path.to_path_buf(), msg: e.to_string() })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format(format!("{} bytes; at most {MAX_FILE_BYTES} are read", meta.len())));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| WeightsError::Read { path: path.to_path_buf(), msg: e.to_string() })?;
    let words = parse_words(&text).map_err(format)?;
    Ok(WeightFile { path: path.to_path_buf(), partition, layer, node: node.to_string(), words })
}

/// Whitespace-separated hexadecimal 32-bit words (FINN: `int(x, 16)` per token); the message
/// of a bad token names its line ([`read_file`] puts the file on it).
fn parse_words(text: &str) -> Result<Vec<u32>, String> {
    let mut words = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for tok in line.split_whitespace() {
            let digits = tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")).unwrap_or(tok);
            let word = (!digits.is_empty() && digits.len() <= 8)
                .then(|| u32::from_str_radix(digits, 16).ok())
                .flatten()
                .ok_or_else(|| format!("line {}: '{tok}' is not a hexadecimal 32-bit word", n + 1))?;
            words.push(word);
        }
    }
    if words.is_empty() {
        return Err("no weight words".into());
    }
    Ok(words)
}

/// The window of each file (see the module notes); checks they fit and do not share one.
pub fn match_windows(files: Vec<WeightFile>, hwh: &HwhInfo, hwh_path: &Path) -> Result<Vec<WeightLoad>, WeightsError> {
    let mut out: Vec<WeightLoad> = Vec::with_capacity(files.len());
    for file in files {
        let (window, name) = window_for(&file, hwh).map_err(|msg| WeightsError::NoWindow {
            path: file.path.clone(),
            hwh: hwh_path.to_path_buf(),
            msg,
        })?;
        let bytes = file.words.len() as u64 * 4;
        if bytes > window.range {
            let (words, range) = (file.words.len(), window.range);
            return Err(WeightsError::TooLarge { path: file.path, words, bytes, range, window: name });
        }
        if let Some(other) = out.iter().find(|l| l.name == name) {
            return Err(WeightsError::SharedWindow { path: file.path, window: name, other: other.file.path.clone() });
        }
        out.push(WeightLoad { file, window, name });
    }
    Ok(out)
}

fn window_for(file: &WeightFile, hwh: &HwhInfo) -> Result<(RegWindow, String), String> {
    let instance = format!("StreamingDataflowPartition_{}", file.partition);
    let mine: Vec<&RegWindow> = hwh.windows.iter().filter(|w| w.instance == instance).collect();
    match mine.as_slice() {
        [] => {
            let all: Vec<String> = hwh.windows.iter().map(pynq_name_of).collect();
            Err(format!("{instance} has no AXI-lite window (windows: {})", all.join(", ")))
        }
        [one] if file.layer == 0 => Ok(((*one).clone(), instance)),
        [one] => Err(format!(
            "{instance} has one AXI-lite window ({}), so one runtime-writable layer (0), not layer {}",
            one.interface, file.layer
        )),
        several => {
            let want = format!("s_axilite_{}", file.layer);
            several
                .iter()
                .find(|w| w.interface == want)
                .map(|w| ((*w).clone(), format!("{instance}/{want}")))
                .ok_or_else(|| {
                    let have: Vec<&str> = several.iter().map(|w| w.interface.as_str()).collect();
                    format!("{instance} has no {want} (its interfaces: {})", have.join(", "))
                })
        }
    }
}

fn pynq_name_of(w: &RegWindow) -> String {
    if w.interface.is_empty() {
        w.instance.clone()
    } else {
        format!("{}/{}", w.instance, w.interface)
    }
}

/// Writes the words from offset 0 of `window`, then reads every one back and compares, as
/// FINN's driver does. Checks the window holds them all before the first write.
pub fn load<M: Mmio + ?Sized>(window: &mut M, weights: &WeightLoad) -> Result<(), WeightsError> {
    let name = &weights.name;
    let mmio = |source| WeightsError::Mmio { window: name.clone(), source };
    let words = &weights.file.words;
    let last = (words.len() - 1) * 4;
    crate::mmio::check_access(name, last, window.window_len()).map_err(mmio)?;
    for (i, &w) in words.iter().enumerate() {
        window.write32(i * 4, w).map_err(mmio)?;
    }
    for (i, &w) in words.iter().enumerate() {
        let read = window.read32(i * 4).map_err(mmio)?;
        if read != w {
            return Err(WeightsError::Verify { window: name.clone(), index: i, offset: i * 4, wrote: w, read });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register window in memory that counts writes; `stuck` bits read back as 0.
    struct Ram {
        regs: Vec<u32>,
        writes: usize,
        stuck: u32,
    }

    impl Mmio for Ram {
        fn window_len(&self) -> usize {
            self.regs.len() * 4
        }
        fn read32(&mut self, offset: usize) -> Result<u32, MmioError> {
            crate::mmio::check_access("ram", offset, self.window_len())?;
            Ok(self.regs[offset / 4] & !self.stuck)
        }
        fn write32(&mut self, offset: usize, value: u32) -> Result<(), MmioError> {
            crate::mmio::check_access("ram", offset, self.window_len())?;
            self.writes += 1;
            self.regs[offset / 4] = value;
            Ok(())
        }
    }

    fn hwh(windows: &[(&str, &str, u64)]) -> HwhInfo {
        HwhInfo {
            dmas: Vec::new(),
            windows: windows
                .iter()
                .enumerate()
                .map(|(i, (inst, intf, range))| RegWindow {
                    instance: inst.to_string(),
                    interface: intf.to_string(),
                    base: 0x4000_0000 + 0x1_0000 * i as u64,
                    range: *range,
                })
                .collect(),
            fclk_mhz: None,
            fclk_actual_mhz: None,
            fclk0: Default::default(),
            processor: "processing_system7".into(),
            board: None,
            part: None,
            vivado: None,
        }
    }

    fn file(partition: u32, layer: u32, words: usize) -> WeightFile {
        WeightFile {
            path: PathBuf::from(format!("runtime_weights/{partition}_{layer}_MVAU_hls_{layer}.dat")),
            partition,
            layer,
            node: format!("MVAU_hls_{layer}"),
            words: (0..words as u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect(),
        }
    }

    #[test]
    fn words_parse_as_finn_reads_them() {
        assert_eq!(parse_words("0000000f\n  deadBEEF 0x10\r\n\n").unwrap(), [0xf, 0xdead_beef, 0x10]);
        assert!(parse_words("  \n").unwrap_err().contains("no weight words"));
        assert!(parse_words("01\n1ffffffff\n").unwrap_err().contains("line 2: '1ffffffff'"));
        assert!(parse_words("0x\n").unwrap_err().contains("'0x'"));
        assert!(parse_words("zz").unwrap_err().contains("'zz'"));
    }

    #[test]
    fn file_names_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_dir(&dir.path().join("absent")).unwrap().is_empty());
        std::fs::write(dir.path().join("1_0_MVAU_hls_0.dat"), "1\n2\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let got = read_dir(dir.path()).unwrap();
        assert_eq!((got[0].partition, got[0].layer, got[0].node.as_str()), (1, 0, "MVAU_hls_0"));
        assert_eq!(got[0].words, [1, 2]);
        std::fs::write(dir.path().join("weights.dat"), "1").unwrap();
        let e = read_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("weights.dat") && e.contains("<partition>_<layer>_<node>.dat"), "{e}");
        std::fs::remove_file(dir.path().join("weights.dat")).unwrap();
        std::fs::write(dir.path().join("idma1.npy"), "x").unwrap();
        let e = read_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("idma1.npy") && e.contains("external"), "{e}");
    }

    #[test]
    fn windows_by_partition_and_interface() {
        let h = hwh(&[
            ("idma0", "s_axi_control_0", 0x1_0000),
            ("StreamingDataflowPartition_1", "s_axilite_0", 0x1000),
            ("StreamingDataflowPartition_1", "s_axilite_1", 0x100),
            ("StreamingDataflowPartition_3", "s_axilite_0", 0x400),
        ]);
        let p = Path::new("x.hwh");
        let got = match_windows(vec![file(1, 1, 64), file(3, 0, 256), file(1, 0, 1024)], &h, p).unwrap();
        let names: Vec<&str> = got.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "StreamingDataflowPartition_1/s_axilite_1",
                "StreamingDataflowPartition_3",
                "StreamingDataflowPartition_1/s_axilite_0"
            ]
        );
        assert_eq!(got[0].window.range, 0x100);

        let err = |files| match_windows(files, &h, p).unwrap_err().to_string();
        let e = err(vec![file(1, 1, 65)]);
        assert!(
            e.contains("65 words (260 bytes)")
                && e.contains("0x100-byte window StreamingDataflowPartition_1/s_axilite_1"),
            "{e}"
        );
        let e = err(vec![file(1, 2, 1)]);
        assert!(e.contains("x.hwh") && e.contains("no s_axilite_2") && e.contains("s_axilite_0, s_axilite_1"), "{e}");
        let e = err(vec![file(3, 1, 1)]);
        assert!(e.contains("one runtime-writable layer (0), not layer 1"), "{e}");
        let e = err(vec![file(2, 0, 1)]);
        assert!(
            e.contains("StreamingDataflowPartition_2 has no AXI-lite window") && e.contains("idma0/s_axi_control_0"),
            "{e}"
        );
        let mut twice = file(1, 0, 1);
        twice.path = PathBuf::from("runtime_weights/1_0_other.dat");
        let e = err(vec![file(1, 0, 1), twice]);
        assert!(e.contains("1_0_other.dat") && e.contains("also the window of"), "{e}");
    }

    #[test]
    fn load_writes_verifies_and_refuses_before_writing() {
        let h = hwh(&[("StreamingDataflowPartition_1", "s_axilite_0", 0x100)]);
        let l = match_windows(vec![file(1, 0, 64)], &h, Path::new("x.hwh")).unwrap().remove(0);
        let mut ram = Ram { regs: vec![0; 64], writes: 0, stuck: 0 };
        load(&mut ram, &l).unwrap();
        assert_eq!(ram.regs, l.file.words);
        assert_eq!(ram.writes, 64);
        // A window smaller than the .hwh said: refused before the first write.
        let mut small = Ram { regs: vec![0; 63], writes: 0, stuck: 0 };
        let e = load(&mut small, &l).unwrap_err().to_string();
        assert!(e.contains("StreamingDataflowPartition_1") && e.contains("outside"), "{e}");
        assert_eq!(small.writes, 0);
        // A bit that does not stick: the read-back catches it.
        let mut bad = Ram { regs: vec![0; 64], writes: 0, stuck: 1 << 31 };
        let e = load(&mut bad, &l).unwrap_err();
        assert!(matches!(e, WeightsError::Verify { .. }), "{e}");
        assert!(e.to_string().contains("reads back"), "{e}");
    }
}
