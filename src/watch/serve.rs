//! The `watch --serve` page: a small HTTP server (tiny_http) on its own thread that shows the
//! latest annotated frame with its label and frame rate. No external assets: one HTML page with
//! inline CSS and script that polls `/status.json` and reloads `/frame.png` when a new frame is
//! there. Only the latest frame is kept. Loopback by default; the CLI says when it is not.
//!
//! Routes: `/` the page, `/frame.png` the latest annotated frame (503 before the first),
//! `/status.json` `{frame, name, label, class, fps, infer_ms, source, ended}`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};

/// What the page shows.
#[derive(Default)]
struct Latest {
    status: serde_json::Value,
    png: Option<Vec<u8>>,
}

/// A running server; dropping it stops the thread.
pub struct Server {
    addr: SocketAddr,
    latest: Arc<Mutex<Latest>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `addr` (e.g. 127.0.0.1:8080; port 0 picks a free one).
    pub fn start(addr: &str, source: &str) -> Result<Server> {
        let http = tiny_http::Server::http(addr)
            .map_err(|e| Error::invalid(format!("--serve {addr}: cannot listen there: {e}")))?;
        let bound =
            http.server_addr().to_ip().ok_or_else(|| Error::invalid(format!("--serve {addr}: not an IP address")))?;
        let latest = Arc::new(Mutex::new(Latest {
            status: serde_json::json!({ "frame": null, "source": source, "ended": false }),
            png: None,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (latest.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match http.recv_timeout(Duration::from_millis(100)) {
                    Ok(Some(req)) => respond(req, &l),
                    Ok(None) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        Ok(Server { addr: bound, latest, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shows a new frame: its status (a JSON object) and its PNG.
    pub fn publish(&self, status: serde_json::Value, png: Vec<u8>) {
        let mut l = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let source = l.status["source"].clone();
        l.status = status;
        l.status["source"] = source;
        l.status["ended"] = false.into();
        l.png = Some(png);
    }

    /// Marks the input as ended (the page says so; the last frame stays).
    pub fn end(&self) {
        let mut l = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        l.status["ended"] = true.into();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(req: tiny_http::Request, latest: &Mutex<Latest>) {
    let header = |v: &str| tiny_http::Header::from_bytes(&b"Content-Type"[..], v.as_bytes()).expect("ASCII header");
    let no_store = tiny_http::Header::from_bytes(&b"Cache-Control"[..], &b"no-store"[..]).expect("ASCII header");
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let reply = match path.as_str() {
        "/" | "/index.html" => {
            tiny_http::Response::from_string(PAGE).with_header(header("text/html; charset=utf-8")).boxed()
        }
        "/status.json" => {
            let body = latest.lock().unwrap_or_else(|p| p.into_inner()).status.to_string();
            tiny_http::Response::from_string(body).with_header(header("application/json")).boxed()
        }
        "/frame.png" => match latest.lock().unwrap_or_else(|p| p.into_inner()).png.clone() {
            Some(png) => tiny_http::Response::from_data(png).with_header(header("image/png")).boxed(),
            None => tiny_http::Response::from_string("no frame yet").with_status_code(503).boxed(),
        },
        _ => tiny_http::Response::from_string("not found").with_status_code(404).boxed(),
    };
    // A client that went away is not our error.
    let _ = req.respond(reply.with_header(no_store));
}

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>binarycop watch</title>
<style>
body { background: #202428; color: #e8e8e8; font: 16px sans-serif; margin: 24px; }
#frame { image-rendering: pixelated; border: 2px solid #555; min-width: 72px; min-height: 72px; }
#label { font-size: 28px; font-weight: bold; margin: 12px 0 4px; }
#meta, #src { color: #aaa; }
.err { color: #ff7070; }
</style></head>
<body>
<div id="src">binarycop watch</div>
<img id="frame" alt="the latest frame">
<div id="label">waiting for the first frame…</div>
<div id="meta"></div>
<script>
const img = document.getElementById("frame");
let shown = null;
img.onload = () => { img.dataset.loaded = String(shown); img.removeAttribute("data-error"); };
img.onerror = () => { img.dataset.error = "1"; document.getElementById("meta").className = "err";
                      document.getElementById("meta").textContent = "the frame did not load"; };
async function poll() {
  try {
    const s = await (await fetch("/status.json", { cache: "no-store" })).json();
    document.getElementById("src").textContent = "binarycop watch: " + s.source + (s.ended ? " (ended)" : "");
    if (s.frame !== null && s.frame !== shown) {
      shown = s.frame;
      img.src = "/frame.png?n=" + s.frame;
      document.getElementById("label").textContent = s.label + " " + (s["class"] || "");
      const meta = document.getElementById("meta");
      meta.className = "";
      meta.textContent = "frame " + s.frame + " (" + s.name + "), " + s.fps.toFixed(1) + " fps, inference " +
                         s.infer_ms.toFixed(2) + " ms";
    }
  } catch (e) { document.getElementById("meta").textContent = "no connection"; }
  setTimeout(poll, 250);
}
poll();
</script>
</body></html>
"#;
