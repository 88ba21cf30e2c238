//! Where `watch` takes its frames from, one at a time (memory stays bounded by one frame):
//!
//! - a folder of PNG/JPEG frames, in file-name order;
//! - a Y4M (YUV4MPEG2) video, decoded in Rust: 8-bit 4:2:0, 4:2:2, 4:4:4 or mono, BT.601
//!   (limited range unless the header says `XCOLORRANGE=FULL`), converted by the `yuv` crate;
//! - any other video file through the `ffmpeg` executable when it is on PATH (`ffprobe` for the
//!   size, then raw RGB frames on a pipe);
//! - a V4L2 camera (`/dev/videoN`), with the `camera` cargo feature (see [`super::camera`]).
//!
//! Every source yields RGB frames at their own size; cropping and resizing are the
//! [`Preprocess`](crate::data::Preprocess) policy's job.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ndarray::Array3;

use crate::error::{Error, Result};

/// One frame, RGB, H×W×3.
pub struct Frame {
    /// A name for reports: the file name, or `source#index`.
    pub name: String,
    pub rgb: Array3<u8>,
}

/// A stream of frames.
pub trait FrameSource: Send {
    /// What it reads, for the first report line.
    fn describe(&self) -> String;
    /// The next frame; None at the end of the input.
    fn next_frame(&mut self) -> Result<Option<Frame>>;
}

/// The largest frame accepted from a video header or a camera (pixels): 8K UHD.
pub const MAX_PIXELS: usize = 7680 * 4320;

/// Opens `spec`: a `/dev/video*` camera, a folder, a `.y4m` file, or another video file for
/// ffmpeg. `repeat` starts files and folders over at their end.
pub fn open(spec: &str, repeat: bool) -> Result<Box<dyn FrameSource>> {
    let path = Path::new(spec);
    if spec.starts_with("/dev/video") {
        return super::camera::open(path);
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::file(path, format!("cannot open the source: {e}")))?;
    if meta.is_dir() {
        return Ok(Box::new(Folder::open(path, repeat)?));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "y4m" {
        return Ok(Box::new(Y4mSource::open(path, repeat)?));
    }
    if ffmpeg_on_path() {
        return Ok(Box::new(FfmpegSource::open(path, repeat)?));
    }
    Err(Error::file(
        path,
        "not a folder or a .y4m video, and ffmpeg is not on PATH to decode other videos; convert it with \
         `ffmpeg -i VIDEO -pix_fmt yuv420p frames.y4m` or pass a folder of PNG/JPEG frames",
    ))
}

/// PNG and JPEG files of a folder, by name.
pub struct Folder {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
    repeat: bool,
}

impl Folder {
    pub fn open(dir: &Path, repeat: bool) -> Result<Folder> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot read the folder: {e}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        if files.is_empty() {
            return Err(Error::file(dir, "the folder holds no PNG or JPEG frames"));
        }
        files.sort();
        Ok(Folder { dir: dir.to_path_buf(), files, next: 0, repeat })
    }
}

impl FrameSource for Folder {
    fn describe(&self) -> String {
        format!("{} ({} frames)", self.dir.display(), self.files.len())
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.next == self.files.len() {
            if !self.repeat {
                return Ok(None);
            }
            self.next = 0;
        }
        let path = &self.files[self.next];
        self.next += 1;
        let rgb = crate::data::decode_picture(path, 3, &crate::data::DecodeBound::RESIZED_TO_MODEL)?;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Some(Frame { name, rgb }))
    }
}

/// A reader that counts what its user consumed (the y4m crate reports a frame cut short as
/// the end of the file; the count tells them apart).
struct Counted<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A YUV4MPEG2 file.
pub struct Y4mSource {
    path: PathBuf,
    decoder: y4m::Decoder<Counted<BufReader<std::fs::File>>>,
    consumed: Arc<AtomicU64>,
    /// Bytes consumed when the last whole frame had been read.
    frame_end: u64,
    full_range: bool,
    index: u64,
    repeat: bool,
}

/// W and H of a Y4M header line, checked before the decoder sizes its buffer.
fn y4m_size(path: &Path) -> Result<(usize, usize, bool)> {
    let f = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut line = Vec::new();
    BufReader::new(f.take(4096))
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let bad = |what: &str| Error::file(path, format!("not a YUV4MPEG2 video: {what}"));
    let text = std::str::from_utf8(&line).map_err(|_| bad("the header is not text"))?;
    let mut fields = text.trim_end().split(' ');
    if fields.next() != Some("YUV4MPEG2") {
        return Err(bad("no YUV4MPEG2 signature"));
    }
    let (mut w, mut h, mut full) = (None, None, false);
    for f in fields {
        let num = |v: &str| v.parse::<usize>().map_err(|_| bad(&format!("'{f}' is not a size")));
        match f.as_bytes().first() {
            Some(b'W') => w = Some(num(&f[1..])?),
            Some(b'H') => h = Some(num(&f[1..])?),
            _ if f == "XCOLORRANGE=FULL" => full = true,
            _ => {}
        }
    }
    let (w, h) = w.zip(h).ok_or_else(|| bad("the header has no W and H"))?;
    if w == 0 || h == 0 || w.checked_mul(h).is_none_or(|p| p > MAX_PIXELS) {
        return Err(Error::file(path, format!("a {w}x{h} video is outside 1..={MAX_PIXELS} pixels")));
    }
    Ok((w, h, full))
}

impl Y4mSource {
    pub fn open(path: &Path, repeat: bool) -> Result<Y4mSource> {
        let (_, _, full_range) = y4m_size(path)?;
        let f = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
        let consumed = Arc::new(AtomicU64::new(0));
        let decoder = y4m::Decoder::new(Counted { inner: BufReader::new(f), consumed: consumed.clone() })
            .map_err(|e| Error::file(path, format!("not a readable YUV4MPEG2 video: {e}")))?;
        let frame_end = consumed.load(Ordering::Relaxed);
        if decoder.get_bit_depth() != 8 {
            return Err(Error::file(
                path,
                format!("{}-bit video; only 8-bit Y4M is supported", decoder.get_bit_depth()),
            ));
        }
        Ok(Y4mSource { path: path.to_path_buf(), decoder, consumed, frame_end, full_range, index: 0, repeat })
    }

    fn convert(&self, planes: [&[u8]; 3]) -> Result<Array3<u8>> {
        use y4m::Colorspace as C;
        let (w, h) = (self.decoder.get_width(), self.decoder.get_height());
        let range = if self.full_range { yuv::YuvRange::Full } else { yuv::YuvRange::Limited };
        let matrix = yuv::YuvStandardMatrix::Bt601;
        let mut rgb = vec![0u8; w * h * 3];
        let (w32, h32, stride) = (w as u32, h as u32, (w * 3) as u32);
        let chroma_w = |sub: bool| if sub { w.div_ceil(2) } else { w } as u32;
        let planar = |sub_x: bool| yuv::YuvPlanarImage {
            y_plane: planes[0],
            y_stride: w32,
            u_plane: planes[1],
            u_stride: chroma_w(sub_x),
            v_plane: planes[2],
            v_stride: chroma_w(sub_x),
            width: w32,
            height: h32,
        };
        let result = match self.decoder.get_colorspace() {
            C::C420 | C::C420jpeg | C::C420paldv | C::C420mpeg2 => {
                yuv::yuv420_to_rgb(&planar(true), &mut rgb, stride, range, matrix)
            }
            C::C422 => yuv::yuv422_to_rgb(&planar(true), &mut rgb, stride, range, matrix),
            C::C444 => yuv::yuv444_to_rgb(&planar(false), &mut rgb, stride, range, matrix),
            C::Cmono => {
                let grey = yuv::YuvGrayImage { y_plane: planes[0], y_stride: w32, width: w32, height: h32 };
                yuv::yuv400_to_rgb(&grey, &mut rgb, stride, range, matrix)
            }
            other => return Err(Error::file(&self.path, format!("unsupported Y4M colour space {other:?}"))),
        };
        result.map_err(|e| Error::file(&self.path, format!("frame {}: {e}", self.index)))?;
        Ok(Array3::from_shape_vec((h, w, 3), rgb).expect("h·w·3 bytes"))
    }
}

impl FrameSource for Y4mSource {
    fn describe(&self) -> String {
        format!(
            "{} (Y4M {}x{}, {:?})",
            self.path.display(),
            self.decoder.get_width(),
            self.decoder.get_height(),
            self.decoder.get_colorspace()
        )
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let planes = match self.decoder.read_frame() {
            Ok(frame) => [frame.get_y_plane().to_vec(), frame.get_u_plane().to_vec(), frame.get_v_plane().to_vec()],
            // The file ended inside a frame (or its header).
            Err(y4m::Error::EOF) if self.consumed.load(Ordering::Relaxed) != self.frame_end => {
                return Err(Error::file(&self.path, format!("frame {} is truncated", self.index)))
            }
            Err(y4m::Error::EOF) if self.repeat && self.index > 0 => {
                *self = Y4mSource::open(&self.path, true)?;
                return self.next_frame();
            }
            Err(y4m::Error::EOF) => return Ok(None),
            Err(e) => return Err(Error::file(&self.path, format!("frame {}: {e}", self.index))),
        };
        self.frame_end = self.consumed.load(Ordering::Relaxed);
        let rgb = self.convert([&planes[0], &planes[1], &planes[2]])?;
        let name = format!(
            "{}#{}",
            self.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into()),
            self.index
        );
        self.index += 1;
        Ok(Some(Frame { name, rgb }))
    }
}

fn ffmpeg_on_path() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|exe| {
        Command::new(exe)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Any video ffmpeg reads, as raw RGB frames on a pipe.
pub struct FfmpegSource {
    path: PathBuf,
    width: usize,
    height: usize,
    child: Child,
    out: ChildStdout,
    index: u64,
    repeat: bool,
}

impl FfmpegSource {
    pub fn open(path: &Path, repeat: bool) -> Result<FfmpegSource> {
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
            .arg(path)
            .output()
            .map_err(|e| Error::file(path, format!("cannot run ffprobe: {e}")))?;
        let text = String::from_utf8_lossy(&probe.stdout);
        let size =
            text.trim().split_once(',').and_then(|(w, h)| Some((w.parse::<usize>().ok()?, h.parse::<usize>().ok()?)));
        let Some((width, height)) = size.filter(|_| probe.status.success()) else {
            let why = String::from_utf8_lossy(&probe.stderr);
            return Err(Error::file(path, format!("ffprobe finds no video stream: {}", why.trim())));
        };
        if width == 0 || height == 0 || width.checked_mul(height).is_none_or(|p| p > MAX_PIXELS) {
            return Err(Error::file(path, format!("a {width}x{height} video is outside 1..={MAX_PIXELS} pixels")));
        }
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::file(path, format!("cannot run ffmpeg: {e}")))?;
        let out = child.stdout.take().expect("piped stdout");
        Ok(FfmpegSource { path: path.to_path_buf(), width, height, child, out, index: 0, repeat })
    }
}

impl FrameSource for FfmpegSource {
    fn describe(&self) -> String {
        format!("{} (ffmpeg, {}x{})", self.path.display(), self.width, self.height)
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let mut buf = vec![0u8; self.width * self.height * 3];
        let mut filled = 0;
        while filled < buf.len() {
            match self.out.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::file(&self.path, format!("reading ffmpeg's frames: {e}"))),
            }
        }
        if filled == 0 {
            let status = self.child.wait().map_err(|e| Error::file(&self.path, format!("ffmpeg: {e}")))?;
            if !status.success() {
                return Err(Error::file(&self.path, format!("ffmpeg could not decode the video ({status})")));
            }
            if self.repeat && self.index > 0 {
                *self = FfmpegSource::open(&self.path, true)?;
                return self.next_frame();
            }
            return Ok(None);
        }
        if filled < buf.len() {
            return Err(Error::file(&self.path, format!("ffmpeg's frame {} is truncated", self.index)));
        }
        let name = format!(
            "{}#{}",
            self.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into()),
            self.index
        );
        self.index += 1;
        Ok(Some(Frame { name, rgb: Array3::from_shape_vec((self.height, self.width, 3), buf).expect("h·w·3 bytes") }))
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        // Stop a decoder we no longer read from (ours: spawned above, killed by its own handle).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
