//! Checks a report in a real browser. Headless Chromium renders the page to a screenshot,
//! which must not be blank (most pixels one colour, or few colours). A probe page then loads
//! the report in a frame and lists every image that did not decode. Every relative link (the
//! full-size figures) must name a file that exists. Exit code 1 on any failure, with the reason.
//!
//! `cargo run --release --example report_screenshot -- REPORT.html [SCREENSHOT.png]`
//!
//! Chromium comes from Debian's `chromium` package (`CHROMIUM=/path` picks another binary). Every
//! browser run has a timeout (60 s) and a fresh profile directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);
const WINDOW: (u32, u32) = (1280, 2400);

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn chromium() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err("no Chromium found (apt-get install chromium, or set CHROMIUM)".into())
}

/// Runs headless Chromium on `url` with `extra` flags; returns its stdout.
fn browse(bin: &Path, url: &str, extra: &[String]) -> Result<String, String> {
    let profile = tempfile::tempdir().map_err(|e| format!("cannot make a profile folder: {e}"))?;
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| format!("waiting for Chromium: {e}"))? {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("Chromium did not finish within {} s", TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("Chromium failed ({status}): {}", err.lines().last().unwrap_or("")));
    }
    Ok(out)
}

/// A blank render has one colour almost everywhere, or almost no colours.
fn check_not_blank(png: &Path) -> Result<String, String> {
    let img = image::open(png).map_err(|e| format!("{}: not a readable screenshot: {e}", png.display()))?.to_rgb8();
    let mut counts = std::collections::HashMap::new();
    for p in img.pixels() {
        *counts.entry(p.0).or_insert(0usize) += 1;
    }
    let total = (img.width() * img.height()) as usize;
    let background = counts.values().copied().max().unwrap_or(0);
    let ink = 1.0 - background as f64 / total.max(1) as f64;
    let summary =
        format!("{}x{}, {} colours, {:.1}% off the background", img.width(), img.height(), counts.len(), 100.0 * ink);
    if ink < 0.02 || counts.len() < 64 {
        return Err(format!("the screenshot is blank: {summary}"));
    }
    Ok(summary)
}

const PROBE: &str = r#"<!doctype html><html><body><iframe id="f" style="width:1280px;height:2400px"></iframe>
<script>
var f = document.getElementById('f');
f.onload = function () {
  var out = { loaded: false };
  try {
    var d = f.contentDocument;
    var broken = [];
    for (var i = 0; i < d.images.length; i++) {
      var img = d.images[i];
      if (!img.complete || img.naturalWidth === 0) broken.push(img.alt || img.src.slice(0, 80));
    }
    out = { loaded: true, images: d.images.length, broken: broken, svgs: d.querySelectorAll('svg').length,
            text: d.body ? d.body.innerText.length : 0 };
  } catch (e) { out.error = String(e); }
  var p = document.createElement('pre');
  p.id = 'result';
  p.textContent = JSON.stringify(out);
  document.body.appendChild(p);
};
f.src = "REPORT_URL";
</script></body></html>"#;

/// Loads the report in a frame of a probe page and lists the images that failed to decode.
fn check_images(bin: &Path, url: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let probe = dir.path().join("probe.html");
    std::fs::write(&probe, PROBE.replace("REPORT_URL", url))
        .map_err(|e| format!("cannot write the probe page: {e}"))?;
    let flags =
        ["--dump-dom".to_string(), "--allow-file-access-from-files".into(), "--virtual-time-budget=20000".into()];
    let dom = browse(bin, &format!("file://{}", probe.display()), &flags)?;
    let json = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .ok_or("the probe page did not report (the report never finished loading)")?
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let v: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| format!("unreadable probe result {json}: {e}"))?;
    if v["loaded"] != true {
        return Err(format!("the probe could not read the report: {}", v["error"]));
    }
    let broken = v["broken"].as_array().cloned().unwrap_or_default();
    if !broken.is_empty() {
        return Err(format!("{} of {} images did not decode: {:?}", broken.len(), v["images"], broken));
    }
    if v["images"].as_u64().unwrap_or(0) + v["svgs"].as_u64().unwrap_or(0) == 0 || v["text"].as_u64().unwrap_or(0) < 200
    {
        return Err(format!("the report shows no figures or almost no text: {v}"));
    }
    Ok(format!("{} images decoded, {} inline SVG plots, {} characters of text", v["images"], v["svgs"], v["text"]))
}

/// Every relative `href` of the report names a file beside it.
fn check_links(report: &Path, html: &str) -> Result<usize, String> {
    let dir = report.parent().unwrap_or(Path::new("."));
    let mut n = 0;
    for part in html.split("href=\"").skip(1) {
        let href = part.split('"').next().unwrap_or("");
        if href.is_empty() || href.starts_with('#') || href.starts_with("data:") || href.contains("://") {
            continue;
        }
        if !dir.join(href).is_file() {
            return Err(format!("{}: the link '{href}' names no file", report.display()));
        }
        n += 1;
    }
    Ok(n)
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let report = PathBuf::from(args.next().ok_or("usage: report_screenshot REPORT.html [SCREENSHOT.png]")?);
    let report = report.canonicalize().map_err(|e| format!("{}: {e}", report.display()))?;
    let html = std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
    let bin = chromium()?;
    let url = format!("file://{}", report.display());
    let keep = args.next().map(PathBuf::from);
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let shot = keep.clone().unwrap_or_else(|| tmp.path().join("screenshot.png"));
    let shot_abs = std::path::absolute(&shot).map_err(|e| format!("{}: {e}", shot.display()))?;
    browse(&bin, &url, &[format!("--screenshot={}", shot_abs.display())])?;
    let look = check_not_blank(&shot_abs)?;
    let images = check_images(&bin, &url)?;
    let links = check_links(&report, &html)?;
    println!("{}: screenshot {look}; {images}; {links} links to files, all present", report.display());
    if let Some(k) = keep {
        println!("screenshot: {}", k.display());
    }
    Ok(())
}
