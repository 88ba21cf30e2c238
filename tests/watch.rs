//! `binarycop watch`: labels through the simulated accelerator equal the CPU engine's over a
//! frame folder (the published-classes 72×72 model), the Y4M source decodes as documented,
//! bad sources give errors that name them, and the --serve page works: over HTTP, after Ctrl-C,
//! and in a real browser (headless Chromium, when installed; .ci/run installs it).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use binarycop::data::synth::{self, ClassSet, Config};
use binarycop::watch::source;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_model() -> String {
    root().join("tests/fixtures/ucnv_random/model.onnx").to_string_lossy().into_owned()
}

fn binarycop(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_binarycop")).args(args).output().unwrap()
}

/// A folder of PNG frames: synthetic faces of `classes` at `size`.
fn frames(dir: &Path, count: usize, size: u32, classes: ClassSet) -> PathBuf {
    let ds = synth::generate(&Config::sized(count, 7, size, classes)).unwrap();
    let out = dir.join("frames");
    std::fs::create_dir_all(&out).unwrap();
    for (i, img) in ds.images.outer_iter().enumerate() {
        let rgb = image::RgbImage::from_raw(size, size, img.iter().copied().collect()).unwrap();
        rgb.save(out.join(format!("{i:04}.png"))).unwrap();
    }
    out
}

fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn labels_of(lines: &[serde_json::Value]) -> Vec<u64> {
    lines.iter().filter(|v| v.get("frame").is_some()).map(|v| v["label"].as_u64().unwrap()).collect()
}

#[test]
fn sim_labels_equal_the_cpu_engines_over_a_frame_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // 96×96 frames: the cv2 policy brings them to the model's 72×72.
    let dir = frames(tmp.path(), 9, 96, ClassSet::Published);
    let model = root().join("models/ncnv72_published.params.npz");
    let model = model.to_str().unwrap();
    let run = |backend: &str| {
        let mut a = vec!["watch", "--model", model, "--source", dir.to_str().unwrap(), "--json", "--backend", backend];
        if backend == "sim" {
            a.extend(["--folding", "ncnv"]);
        }
        let o = binarycop(&a);
        assert!(o.status.success(), "{backend}: {}", String::from_utf8_lossy(&o.stderr));
        json_lines(&o.stdout)
    };
    let (cpu, sim) = (run("cpu"), run("sim"));
    assert_eq!(labels_of(&cpu).len(), 9);
    assert_eq!(labels_of(&sim), labels_of(&cpu));
    // And both equal `infer` on the same files with the same resize.
    let mut a = vec!["infer", "--model", model, "--json", "--images"];
    let files: Vec<String> = (0..9).map(|i| dir.join(format!("{i:04}.png")).to_string_lossy().into_owned()).collect();
    a.extend(files.iter().map(String::as_str));
    let o = binarycop(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let infer: Vec<u64> = v["results"].as_array().unwrap().iter().map(|r| r["label"].as_u64().unwrap()).collect();
    assert_eq!(labels_of(&cpu), infer);
    let summary = &cpu.last().unwrap()["summary"];
    assert_eq!(summary["frames"], 9);
    assert_eq!(summary["labels"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum::<u64>(), 9);
}

#[test]
fn loop_every_and_max_frames_and_class_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = frames(tmp.path(), 3, 40, ClassSet::Paper);
    let d = dir.to_str().unwrap();
    let m = fixture_model();
    let o = binarycop(&["watch", "--model", &m, "--source", d, "--loop", "--max-frames", "7", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = json_lines(&o.stdout);
    let labels = labels_of(&lines);
    assert_eq!(labels.len(), 7);
    // The folder starts over: frame 3 is frame 0 again.
    assert_eq!(labels[3], labels[0]);
    assert_eq!(lines[3]["name"], "0000.png");
    let o = binarycop(&["watch", "--model", &m, "--source", d, "--every", "2", "--class-names", "a,b,c,d"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("frame ")).count(), 2, "{text}");
    assert!(text.lines().last().unwrap().starts_with("watched 3 frames"), "{text}");
    let o = binarycop(&["watch", "--model", &m, "--source", d, "--class-names", "a,b"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 class names for the model's 4 classes"));
}

#[test]
fn bad_sources_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let m = fixture_model();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let video = tmp.path().join("clip.mp4");
    std::fs::write(&video, b"not really").unwrap();
    let bad_y4m = tmp.path().join("bad.y4m");
    std::fs::write(&bad_y4m, b"YUV4MPEG2 W100000 H100000 F25:1 C420\n").unwrap();
    let cut = tmp.path().join("cut.y4m");
    std::fs::write(&cut, b"YUV4MPEG2 W4 H2 F25:1 C444\nFRAME\n\x10\x10").unwrap();
    let broken_frame = tmp.path().join("broken");
    std::fs::create_dir(&broken_frame).unwrap();
    std::fs::write(broken_frame.join("0.png"), b"no png").unwrap();
    let missing = tmp.path().join("missing");
    let good = frames(tmp.path(), 1, 32, ClassSet::Paper);
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--source", missing.to_str().unwrap()], format!("{}: cannot open the source", missing.display())),
        (vec!["--source", empty.to_str().unwrap()], "holds no PNG or JPEG frames".into()),
        (vec!["--source", bad_y4m.to_str().unwrap()], "a 100000x100000 video is outside".into()),
        (vec!["--source", cut.to_str().unwrap()], "frame 0 is truncated".into()),
        (vec!["--source", broken_frame.to_str().unwrap()], "0.png: not a readable image".into()),
        (vec!["--source", "/dev/video9"], "/dev/video9".into()),
        (vec!["--source", good.to_str().unwrap(), "--serve", "256.1.1.1:80"], "--serve 256.1.1.1:80".into()),
        (vec!["--source", empty.to_str().unwrap(), "--backend", "cpu", "--folding", "ncnv"], "--folding".into()),
    ];
    for (extra, want) in cases {
        let mut a = vec!["watch", "--model", &m];
        a.extend(&extra);
        let o = Command::new(env!("CARGO_BIN_EXE_binarycop")).args(&a).env("PATH", "/nonexistent").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains(&want) && !err.contains("panicked"), "{extra:?}: '{err}' lacks '{want}'");
    }
    // Without ffmpeg on PATH, another video file is refused with the way out.
    let o = Command::new(env!("CARGO_BIN_EXE_binarycop"))
        .args(["watch", "--model", &m, "--source", video.to_str().unwrap()])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("clip.mp4") && err.contains("ffmpeg is not on PATH"), "{err}");
}

/// A Y4M frame of three planes.
fn y4m_file(path: &Path, w: usize, h: usize, colorspace: y4m::Colorspace, planes: [&[u8]; 3], frames: usize) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut enc = y4m::encode(w, h, y4m::Ratio::new(25, 1)).with_colorspace(colorspace).write_header(&mut f).unwrap();
    for _ in 0..frames {
        enc.write_frame(&y4m::Frame::new(planes, None)).unwrap();
    }
}

#[test]
fn y4m_frames_decode_as_bt601() {
    let tmp = tempfile::tempdir().unwrap();
    // Limited-range grey: Y 126 → (126 − 16)·255/219 = 128.08; neutral chroma.
    let p = tmp.path().join("grey.y4m");
    let (w, h) = (5, 3);
    let y = vec![126u8; w * h];
    let c = vec![128u8; 3 * 2];
    y4m_file(&p, w, h, y4m::Colorspace::C420jpeg, [&y, &c, &c], 2);
    let mut s = source::open(p.to_str().unwrap(), false).unwrap();
    assert!(s.describe().contains("5x3"), "{}", s.describe());
    let f = s.next_frame().unwrap().unwrap();
    assert_eq!(f.rgb.dim(), (3, 5, 3));
    assert!(f.rgb.iter().all(|&v| v.abs_diff(128) <= 1), "{:?}", f.rgb);
    assert_eq!(f.name, "grey.y4m#0");
    assert!(s.next_frame().unwrap().is_some());
    assert!(s.next_frame().unwrap().is_none());
    // Red in 4:4:4: Y 81, U 90, V 240 (BT.601 limited) → about (255, 0, 0).
    let p = tmp.path().join("red.y4m");
    let n = 2 * 2;
    y4m_file(&p, 2, 2, y4m::Colorspace::C444, [&vec![81; n], &vec![90; n], &vec![240; n]], 1);
    let f = source::open(p.to_str().unwrap(), true).unwrap().next_frame().unwrap().unwrap();
    let px: Vec<u8> = f.rgb.iter().take(3).copied().collect();
    assert!(px[0] >= 250 && px[1] <= 5 && px[2] <= 5, "{px:?}");
    // Looping starts over.
    let mut s = source::open(p.to_str().unwrap(), true).unwrap();
    for _ in 0..3 {
        assert!(s.next_frame().unwrap().is_some());
    }
}

/// A `watch --serve` child on a free loopback port, and its address.
struct Served {
    child: Child,
    addr: String,
    _frames: tempfile::TempDir,
}

impl Served {
    fn start(extra: &[&str]) -> Served {
        let tmp = tempfile::tempdir().unwrap();
        let dir = frames(tmp.path(), 4, 48, ClassSet::Paper);
        let mut child = Command::new(env!("CARGO_BIN_EXE_binarycop"))
            .args(["watch", "--model", &fixture_model(), "--source", dir.to_str().unwrap(), "--serve", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let addr = loop {
            line.clear();
            assert!(err.read_line(&mut line).unwrap() > 0, "watch ended before serving");
            if let Some(rest) = line.trim().strip_prefix("serving the annotated frames at http://") {
                break rest.trim_end_matches('/').to_string();
            }
        };
        // Keep draining stderr so the child never blocks on it.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut err, &mut std::io::sink());
        });
        let s = Served { child, addr, _frames: tmp };
        let t = Instant::now();
        while s.get("/status.json").1.contains("\"frame\":null") {
            assert!(t.elapsed() < Duration::from_secs(60), "no frame served");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// (status line, body) of a GET.
    fn get(&self, path: &str) -> (String, String) {
        let (head, body) = self.get_bytes(path);
        (head, String::from_utf8_lossy(&body).into_owned())
    }

    fn get_bytes(&self, path: &str) -> (String, Vec<u8>) {
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&buf[..split]).lines().next().unwrap().to_string();
        (head, buf[split + 4..].to_vec())
    }

    /// Ctrl-C, then the exit status and stdout.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        // Our own child, by its id.
        Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap();
        let mut out = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        (self.child.wait().unwrap(), out)
    }
}

#[test]
fn serve_answers_and_ctrl_c_ends_cleanly() {
    let s = Served::start(&["--loop", "--max-fps", "20", "--class-names", "a,b,c,d"]);
    let (head, body) = s.get("/status.json");
    assert!(head.contains("200"), "{head}");
    let st: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(st["label"].as_u64().unwrap() < 4 && st["class"].is_string() && st["fps"].is_number(), "{st}");
    assert_eq!(st["ended"], false);
    let (head, png) = s.get_bytes("/frame.png");
    assert!(head.contains("200"), "{head}");
    // The 32×32 input and its LayerCAM overlay, each enlarged 4×.
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!((img.width(), img.height()), (256, 128));
    let (head, page) = s.get("/");
    assert!(head.contains("200") && page.contains("<img id=\"frame\"") && !page.contains("http"), "{head}");
    assert!(s.get("/nothing").0.contains("404"));
    let (status, out) = s.interrupt();
    assert!(status.success(), "{status}: {out}");
    assert!(out.lines().last().unwrap().contains("stopped by Ctrl-C"), "{out}");
}

/// The page in a real browser: the frame loads (its onload fired, no error), the label is
/// shown, and the screenshot holds a picture, not a blank page or a broken-image icon.
#[test]
fn the_page_shows_the_frame_in_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        eprintln!("skipped: no chromium on PATH (.ci/run installs it)");
        return;
    };
    let s = Served::start(&["--loop", "--max-fps", "10"]);
    let url = format!("http://{}/", s.addr);
    let profile = tempfile::tempdir().unwrap();
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("watch.png");
    let browse = |extra: &[&str]| {
        let o = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=4000",
                "--window-size=640,480",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(o.status.success(), "chromium: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let dom = browse(&["--dump-dom"]);
    assert!(dom.contains("data-loaded=\""), "the frame never loaded: {dom}");
    assert!(!dom.contains("data-error=\""), "the frame failed to load: {dom}");
    assert!(!dom.contains("waiting for the first frame"), "{dom}");
    browse(&[&format!("--screenshot={}", shot.display())]);
    let img = image::open(&shot).unwrap().to_rgb8();
    let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    // The page alone (background and text) has a few dozen colours; a face and its jet overlay
    // add hundreds.
    assert!(colours.len() > 300, "only {} colours in {}", colours.len(), shot.display());
    let _ = s.interrupt();
    eprintln!("screenshot: {}", shot.display());
}

/// The ffmpeg route's protocol (ffprobe's size, raw RGB frames on a pipe, the end, a cut
/// frame), against stand-in `ffprobe`/`ffmpeg` scripts: the real ffmpeg is not installed here.
#[test]
fn ffmpeg_pipe_protocol_with_stand_ins() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let raw = tmp.path().join("frames.rgb");
    let script = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\nif [ \"$1\" = -version ]; then exit 0; fi\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script("ffprobe", "echo 40,30");
    script("ffmpeg", &format!("/bin/cat {}", raw.display()));
    let video = tmp.path().join("clip.mp4");
    std::fs::write(&video, b"stand-in").unwrap();
    let frame = |v: u8| vec![v; 40 * 30 * 3];
    std::fs::write(&raw, [frame(10), frame(200)].concat()).unwrap();
    let watch = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_binarycop"))
            .args(["watch", "--model", &fixture_model(), "--source", video.to_str().unwrap(), "--json"])
            .args(extra)
            .env("PATH", &bin)
            .output()
            .unwrap()
    };
    let o = watch(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = json_lines(&o.stdout);
    assert_eq!(labels_of(&lines).len(), 2);
    assert_eq!(lines[1]["name"], "clip.mp4#1");
    // A frame cut short, and a file ffprobe cannot read, are named.
    std::fs::write(&raw, [frame(10), vec![0; 100]].concat()).unwrap();
    let err = String::from_utf8_lossy(&watch(&[]).stderr).into_owned();
    assert!(err.contains("clip.mp4") && err.contains("frame 1 is truncated"), "{err}");
    script("ffprobe", "echo 'Invalid data found' >&2; exit 1");
    let err = String::from_utf8_lossy(&watch(&[]).stderr).into_owned();
    assert!(err.contains("ffprobe finds no video stream: Invalid data found"), "{err}");
}
