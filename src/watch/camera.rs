//! A V4L2 camera (`/dev/videoN`) through the `v4l` crate, behind the `camera` cargo feature:
//! its bindings are generated with bindgen at build time, which needs libclang (Debian:
//! `libclang-dev`) and, for a cross build, the target's kernel headers; the default build and
//! CI leave it out. Frames are requested at 160×120 (the notebook's capture size; the driver
//! may pick another) as MJPEG, YUYV or RGB24, whichever the camera offers first, and decoded to
//! RGB (JPEG by the `image` crate, YUYV by the `yuv` crate, BT.601 limited range). Every wait
//! for a frame times out after [`FRAME_TIMEOUT`].
//!
//! Built and type-checked here; it has not run on a camera (this machine has none).

use std::path::Path;

use super::source::FrameSource;
use crate::error::Result;

/// The longest wait for one frame.
pub const FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[cfg(not(feature = "camera"))]
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>> {
    Err(crate::error::Error::file(
        path,
        "this binarycop was built without camera support: rebuild with `cargo build --release --features camera` \
         (needs libclang), or pass a folder of frames or a video file",
    ))
}

#[cfg(feature = "camera")]
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>> {
    Ok(Box::new(v4l_camera::Camera::open(path)?))
}

#[cfg(feature = "camera")]
mod v4l_camera {
    use std::path::{Path, PathBuf};

    use ndarray::Array3;
    use v4l::buffer::Type;
    use v4l::io::mmap::Stream;
    use v4l::io::traits::CaptureStream;
    use v4l::video::Capture;
    use v4l::{Device, FourCC};

    use super::FRAME_TIMEOUT;
    use crate::error::{Error, Result};
    use crate::watch::source::{Frame, FrameSource, MAX_PIXELS};

    const PREFERRED: [&[u8; 4]; 3] = [b"MJPG", b"YUYV", b"RGB3"];

    pub struct Camera {
        path: PathBuf,
        // Field order: the stream (its mmap'd buffers) goes before the device it came from.
        stream: Stream<'static>,
        _device: Device,
        width: usize,
        height: usize,
        fourcc: FourCC,
        index: u64,
    }

    impl Camera {
        pub fn open(path: &Path) -> Result<Camera> {
            let io = |what: &str, e: std::io::Error| Error::file(path, format!("{what}: {e}"));
            let device = Device::with_path(path).map_err(|e| io("cannot open the camera", e))?;
            let offered = device.enum_formats().map_err(|e| io("cannot list the camera's formats", e))?;
            let fourcc =
                PREFERRED.iter().map(|f| FourCC::new(f)).find(|f| offered.iter().any(|d| d.fourcc == *f)).ok_or_else(
                    || {
                        let list: Vec<String> = offered.iter().map(|d| d.fourcc.to_string()).collect();
                        Error::file(path, format!("the camera offers {} but not MJPG, YUYV or RGB3", list.join(", ")))
                    },
                )?;
            let mut fmt = device.format().map_err(|e| io("cannot read the camera's format", e))?;
            (fmt.width, fmt.height, fmt.fourcc) = (160, 120, fourcc);
            let fmt = device.set_format(&fmt).map_err(|e| io("cannot set the camera's format", e))?;
            let (width, height) = (fmt.width as usize, fmt.height as usize);
            if fmt.fourcc != fourcc || width == 0 || height == 0 || width * height > MAX_PIXELS {
                return Err(Error::file(path, format!("the camera chose an unusable format: {fmt}")));
            }
            let mut stream = Stream::with_buffers(&device, Type::VideoCapture, 4)
                .map_err(|e| io("cannot map capture buffers", e))?;
            stream.set_timeout(FRAME_TIMEOUT);
            Ok(Camera { path: path.to_path_buf(), stream, _device: device, width, height, fourcc, index: 0 })
        }

        fn decode(&self, data: &[u8]) -> Result<Array3<u8>> {
            let (w, h) = (self.width, self.height);
            let bad = |what: String| Error::file(&self.path, format!("frame {}: {what}", self.index));
            let rgb = match &self.fourcc.repr {
                b"MJPG" => {
                    let img = image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
                        .map_err(|e| bad(format!("not a readable JPEG: {e}")))?
                        .to_rgb8();
                    if (img.width() as usize, img.height() as usize) != (w, h) {
                        return Err(bad(format!("a {}x{} JPEG in a {w}x{h} stream", img.width(), img.height())));
                    }
                    img.into_raw()
                }
                b"YUYV" => {
                    let mut rgb = vec![0u8; w * h * 3];
                    let packed = yuv::YuvPackedImage {
                        yuy: data,
                        yuy_stride: (w * 2) as u32,
                        width: w as u32,
                        height: h as u32,
                    };
                    yuv::yuyv422_to_rgb(
                        &packed,
                        &mut rgb,
                        (w * 3) as u32,
                        yuv::YuvRange::Limited,
                        yuv::YuvStandardMatrix::Bt601,
                    )
                    .map_err(|e| bad(e.to_string()))?;
                    rgb
                }
                _ => {
                    if data.len() < w * h * 3 {
                        return Err(bad(format!("{} bytes, a {w}x{h} RGB frame needs {}", data.len(), w * h * 3)));
                    }
                    data[..w * h * 3].to_vec()
                }
            };
            Ok(Array3::from_shape_vec((h, w, 3), rgb).expect("h·w·3 bytes"))
        }
    }

    impl FrameSource for Camera {
        fn describe(&self) -> String {
            format!("{} (V4L2 {}x{} {})", self.path.display(), self.width, self.height, self.fourcc)
        }

        fn next_frame(&mut self) -> Result<Option<Frame>> {
            let data = {
                let (buf, meta) = self
                    .stream
                    .next()
                    .map_err(|e| Error::file(&self.path, format!("no frame from the camera: {e}")))?;
                let used = (meta.bytesused as usize).min(buf.len());
                buf[..used].to_vec()
            };
            let rgb = self.decode(&data)?;
            let name = format!("{}#{}", self.path.display(), self.index);
            self.index += 1;
            Ok(Some(Frame { name, rgb }))
        }
    }
}
