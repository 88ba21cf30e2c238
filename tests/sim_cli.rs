//! The `simulate`, `fold-search` and `export-hw` commands end to end: their JSON, the files
//! they write (memory images decoded back to the model's weights), and bad input (invalid
//! foldings, unknown boards, impossible budgets, unreachable targets) as clear errors naming
//! the file or node, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use binarycop::model;
use binarycop_hw::folding::FoldingConfig;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_binarycop"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run binarycop")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).join("model.onnx")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn simulate_json_has_the_documented_keys() {
    let m = fixture("ucnv_random");
    let v = json_of(&run(&["simulate", "--model", m.to_str().unwrap(), "--folding", "ucnv", "--json"]));
    for k in [
        "flow",
        "clock_mhz",
        "cycles_per_frame",
        "fps",
        "latency_cycles",
        "latency_us",
        "lut",
        "bram18",
        "dsp",
        "impl_lut",
        "impl_ff",
        "impl_bram_tiles",
        "impl_dsp",
        "nodes",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    let nodes = v["nodes"].as_array().unwrap();
    for n in nodes {
        for k in ["name", "op_type", "pe", "simd", "exp_cycles", "sim_cycles", "lut", "bram18", "dsp"] {
            assert!(n.get(k).is_some(), "node {} lacks {k}", n["name"]);
        }
    }
    let mvau0 = nodes.iter().find(|n| n["name"] == "MVAU_hls_0").unwrap();
    assert_eq!(
        (mvau0["pe"].as_u64(), mvau0["simd"].as_u64(), mvau0["exp_cycles"].as_u64()),
        (Some(4), Some(3), Some(32400))
    );
    // The paper preset names its flow, BNN-PYNQ; µ-CNV there takes 32469 cycles a frame
    // (README), 3079.9 FPS at 100 MHz — not the paper's 1646 (see the README).
    assert_eq!((v["flow"].as_str(), v["clock_mhz"].as_f64()), (Some("bnn-pynq"), Some(100.0)));
    assert_eq!(v["cycles_per_frame"], 32469.0);
    assert_eq!(v["latency_cycles"], 52457);
    assert_eq!(
        (v["impl_lut"].as_u64(), v["impl_bram_tiles"].as_f64(), v["impl_dsp"].as_u64()),
        (Some(12215), Some(13.0), Some(22))
    );
    // The table form, FINN's flow and a fixed depth.
    let o = run(&[
        "simulate",
        "--model",
        "ucnv",
        "--folding",
        "ucnv",
        "--flow",
        "finn",
        "--fifo-depth",
        "64",
        "--clock-mhz",
        "200",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("StreamingFIFO_rtl_0") && text.contains("6172.8 FPS"), "{text}");
    assert!(text.contains("post-implementation estimate"), "{text}");
}

#[test]
fn the_paper_cnv_with_no_other_flag_runs_at_the_papers_3049_fps() {
    let v = json_of(&run(&["simulate", "--model", "cnv", "--folding", "cnv", "--json"]));
    let fps = v["fps"].as_f64().unwrap();
    assert!((fps - 3049.0).abs() / 3049.0 < 0.01, "{fps} FPS");
    assert_eq!(v["flow"], "bnn-pynq");
}

#[test]
fn a_final_hw_config_from_finn_is_read_and_simulated() {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/tests/data/cnv_final_hw_config.json");
    let v = json_of(&run(&["simulate", "--model", "cnv", "--folding", cfg.to_str().unwrap(), "--json"]));
    assert_eq!(v["flow"], "finn");
    let fifos = v["fifos"].as_array().unwrap();
    assert_eq!(fifos.len(), 31);
    assert_eq!((fifos[3]["name"].as_str(), fifos[3]["depth"].as_u64()), (Some("StreamingFIFO_rtl_3"), Some(8100)));
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().filter(|n| n["op_type"] == "StreamingDataWidthConverter_rtl").count(), 11);
    let fps = v["fps"].as_f64().unwrap();
    assert!((fps - 3049.0).abs() / 3049.0 < 0.01, "{fps} FPS");
}

#[test]
fn export_hw_images_decode_to_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = fixture("ncnv_random");
    let o =
        run(&["export-hw", "--model", m.to_str().unwrap(), "--folding", "ncnv", "--out", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let folded = model::load(&m).unwrap().folded;
    let cfg = binarycop_hw::folding::paper_config("ncnv").unwrap();
    // Every MVAU's memblock.dat, read back with FINN's layout, is the model's weight matrix.
    for (i, layer) in folded.layers.iter().enumerate() {
        let a = cfg.attrs_for(&format!("MVAU_hls_{i}"), "MVAU_hls");
        let (pe, simd) = (a["PE"].as_u64().unwrap() as usize, a["SIMD"].as_u64().unwrap() as usize);
        let text = std::fs::read_to_string(dir.path().join(format!("MVAU_hls_{i}/memblock.dat"))).unwrap();
        let (mh, mw) = (layer.weights.rows(), layer.weights.cols());
        let (nf, sf) = (mh / pe, mw / simd);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), nf * sf, "MVAU {i}: one line per address");
        // The first layer's weights are INT2 fields (+1 = 01, −1 = 11), the others single bits.
        let wb = if i == 0 { 2 } else { 1 };
        for (a, line) in lines.iter().enumerate() {
            assert_eq!(line.len(), (pe * simd * wb).div_ceil(4));
            let bits: Vec<bool> = line
                .chars()
                .rev()
                .flat_map(|c| {
                    let d = c.to_digit(16).unwrap();
                    (0..4).map(move |b| d >> b & 1 == 1)
                })
                .collect();
            let (n, s) = (a / sf, a % sf);
            for p in 0..pe {
                for l in 0..simd {
                    let at = (p * simd + l) * wb;
                    let plus = if wb == 1 { bits[at] } else { bits[at] && !bits[at + 1] };
                    assert!(wb == 1 || bits[at], "MVAU {i} address {a}: ±1 has its low bit set");
                    assert_eq!(plus, layer.weights.row(n * pe + p)[s * simd + l], "MVAU {i} address {a}");
                }
            }
        }
        // BNN-PYNQ: PE 0's thresholds are row 0, PE·1's ... as T − 1.
        if let Some(t) = &layer.thresholds {
            if i > 0 {
                let b = std::fs::read(dir.path().join(format!("bnn-pynq/{i}-0-thres.bin"))).unwrap();
                let got: Vec<i64> = b.chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
                let want: Vec<i64> = (0..nf).map(|n| t[n * pe] as i64 - 1).collect();
                assert_eq!(got, want, "MVAU {i} thresholds");
            }
        }
    }
    // BNN-PYNQ pads the last layer (PE 1, SIMD 1, 128 columns) to 64 rows with all-ones rows.
    let last = folded.layers.len() - 1;
    let b = std::fs::read(dir.path().join(format!("bnn-pynq/{last}-0-weights.bin"))).unwrap();
    let words: Vec<u64> = b.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(words.len(), 64 * 128);
    assert!(words[4 * 128..].iter().all(|&w| w == 1), "padded rows are +1");
    // The folding config written reads back and simulates.
    let written = dir.path().join("folding_config.json");
    let again = FoldingConfig::from_json(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(again.attrs_for("MVAU_hls_1", "MVAU_hls")["PE"], 16);
    let o = run(&["simulate", "--model", m.to_str().unwrap(), "--folding", written.to_str().unwrap(), "--frames", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("build_config.json")).unwrap()).unwrap();
    assert_eq!(build["board"], "Pynq-Z1");
    assert_eq!(build["synth_clk_period_ns"], 10.0);
    assert_eq!(build["target_fps"], 12244);
    assert!(dir.path().join("README.md").exists() && dir.path().join("config.h").exists());
}

#[test]
fn fold_search_meets_reachable_targets_and_says_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.json");
    let o = run(&["fold-search", "--model", "ucnv", "--target-fps", "1000", "--out", out.to_str().unwrap(), "--json"]);
    let v = json_of(&o);
    assert_eq!(v["met"], true);
    assert!(v["fps"].as_f64().unwrap() >= 1000.0);
    assert!(v["impl_lut"].as_u64().unwrap() <= 53200 && v["impl_dsp"].as_u64().unwrap() <= 220);
    let o = run(&["simulate", "--model", "ucnv", "--folding", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The README's example, to the cycle.
    let v = json_of(&run(&[
        "fold-search",
        "--model",
        "ucnv",
        "--board",
        "pynq-z1",
        "--target-fps",
        "3000",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!((v["exp_cycles_per_frame"].as_u64(), v["cycles_per_frame"].as_f64()), (Some(29664), Some(30208.0)));
    assert_eq!(
        (v["impl_lut"].as_u64(), v["impl_bram_tiles"].as_f64(), v["impl_dsp"].as_u64()),
        (Some(11762), Some(11.0), Some(3))
    );
    assert_eq!(v["met"], true);
    // Far beyond the Pynq's budget: a clear message, the best folding still written.
    let o = run(&["fold-search", "--model", "cnv", "--target-fps", "50000", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("not reachable on Pynq-Z1"), "{text}");
    // A budget nothing fits: an error.
    let o = run(&[
        "fold-search",
        "--model",
        "cnv",
        "--target-fps",
        "100",
        "--max-util",
        "0.01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("over the budget"), "{}", stderr(&o));
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let cases = [
        (write("div.json", r#"{"MVAU_hls_2": {"PE": 5, "SIMD": 16}}"#), "MVAU_hls_2"),
        (write("simd.json", r#"{"MVAU_hls_0": {"PE": 1, "SIMD": 5}}"#), "MW % SIMD"),
        (write("swu.json", r#"{"ConvolutionInputGenerator_rtl_1": {"SIMD": 3}}"#), "ConvolutionInputGenerator_rtl_1"),
        (write("unknown.json", r#"{"MVAU_hls_12": {"PE": 1}}"#), "MVAU_hls_12"),
        (write("broken.json", r#"{"MVAU_hls_0": {"PE": 1"#), "not valid JSON"),
        (write("shape.json", r#"[1, 2]"#), "top level"),
    ];
    for (file, want) in &cases {
        let o = run(&["simulate", "--model", "ucnv", "--folding", file]);
        assert_eq!(o.status.code(), Some(1), "{file}");
        let e = stderr(&o);
        assert!(e.contains(want) && e.contains(Path::new(file).file_name().unwrap().to_str().unwrap()), "{file}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    let bad = [
        (vec!["simulate", "--model", "ucnv", "--folding", "nope"], "cannot read folding config"),
        (vec!["simulate", "--model", "ucnv", "--folding", "ucnv", "--fifo-depth", "x"], "--fifo-depth"),
        (vec!["simulate", "--model", "ucnv", "--folding", "ucnv", "--clock-mhz", "0"], "--clock-mhz"),
        (vec!["simulate", "--model", "ucnv", "--folding", "cnv"], "ConvolutionInputGenerator_hls_1"),
        (
            vec!["export-hw", "--model", "ucnv", "--folding", "ucnv", "--out", "/tmp/x", "--board", "vc707"],
            "unknown board",
        ),
        (vec!["fold-search", "--model", "ucnv", "--target-fps", "0", "--out", "/tmp/x"], "--target-fps"),
    ];
    for (args, want) in bad {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}
