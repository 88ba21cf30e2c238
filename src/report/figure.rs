//! A figure as a list of shapes on a canvas, laid out once and rendered twice: to pixels (PNG,
//! JPEG thumbnails) and to SVG (vector text and lines, images embedded as PNG). Coordinates are
//! pixels of the raster rendering, origin top left.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use image::{ImageEncoder, RgbImage};

use super::text::{self, Weight};
use crate::error::{write_atomic, Error, Result};

pub type Color = [u8; 3];
pub const WHITE: Color = [255, 255, 255];
pub const BLACK: Color = [0, 0, 0];

/// Where a text's x coordinate sits on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

#[derive(Clone, Debug)]
pub enum Shape {
    /// An image scaled (nearest neighbour) into the rectangle.
    Image { img: RgbImage, x: f32, y: f32, w: f32, h: f32 },
    /// One line of text; `y` is the baseline.
    Text { text: String, x: f32, y: f32, size: f32, weight: Weight, color: Color, anchor: Anchor },
    /// A filled rectangle.
    Rect { x: f32, y: f32, w: f32, h: f32, color: Color },
    /// Horizontal or vertical line segments of one colour and width, centred on their
    /// coordinates (a diagonal segment is drawn as its bounding box).
    Lines { segments: Vec<[(f32, f32); 2]>, color: Color, width: f32 },
}

/// A canvas with a white background and shapes painted in order.
#[derive(Clone, Debug)]
pub struct Figure {
    pub width: u32,
    pub height: u32,
    pub shapes: Vec<Shape>,
}

impl Figure {
    pub fn new(width: u32, height: u32) -> Figure {
        Figure { width, height, shapes: Vec::new() }
    }

    pub fn push(&mut self, shape: Shape) {
        self.shapes.push(shape);
    }

    /// The figure in pixels.
    pub fn to_rgb(&self) -> RgbImage {
        let mut out = RgbImage::from_pixel(self.width, self.height, image::Rgb(WHITE));
        for s in &self.shapes {
            paint(&mut out, s);
        }
        out
    }

    /// The figure as a standalone SVG document.
    pub fn to_svg(&self) -> Result<String> {
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
             font-family=\"{}\"><rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>",
            text::FAMILY,
            w = self.width,
            h = self.height
        );
        for shape in &self.shapes {
            svg_shape(&mut s, shape)?;
        }
        s.push_str("</svg>\n");
        Ok(s)
    }

    pub fn save_png(&self, path: &Path) -> Result<()> {
        write_atomic(path, &png_bytes(&self.to_rgb()).map_err(|e| e.in_file(path))?)
    }

    pub fn save_svg(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_svg().map_err(|e| e.in_file(path))?.as_bytes())
    }
}

fn rect_px(x: f32, y: f32, w: f32, h: f32, img: &RgbImage) -> (u32, u32, u32, u32) {
    let clamp = |v: f32, hi: u32| v.round().clamp(0.0, hi as f32) as u32;
    let (x0, y0) = (clamp(x, img.width()), clamp(y, img.height()));
    let (x1, y1) = (clamp(x + w, img.width()), clamp(y + h, img.height()));
    (x0, y0, x1, y1)
}

fn fill(img: &mut RgbImage, x: f32, y: f32, w: f32, h: f32, color: Color) {
    let (x0, y0, x1, y1) = rect_px(x, y, w, h, img);
    for yy in y0..y1 {
        for xx in x0..x1 {
            img.put_pixel(xx, yy, image::Rgb(color));
        }
    }
}

fn paint(out: &mut RgbImage, shape: &Shape) {
    match shape {
        Shape::Image { img, x, y, w, h } => {
            let (x0, y0, x1, y1) = rect_px(*x, *y, *w, *h, out);
            if img.width() == 0 || img.height() == 0 {
                return;
            }
            for yy in y0..y1 {
                let sy = (((yy as f32 + 0.5 - y) / h * img.height() as f32) as u32).min(img.height() - 1);
                for xx in x0..x1 {
                    let sx = (((xx as f32 + 0.5 - x) / w * img.width() as f32) as u32).min(img.width() - 1);
                    out.put_pixel(xx, yy, *img.get_pixel(sx, sy));
                }
            }
        }
        Shape::Text { text: t, x, y, size, weight, color, anchor } => {
            let w = text::width(t, *size, *weight);
            let x0 = match anchor {
                Anchor::Start => *x,
                Anchor::Middle => x - w / 2.0,
                Anchor::End => x - w,
            };
            text::draw(out, t, x0, *y, *size, *weight, *color);
        }
        Shape::Rect { x, y, w, h, color } => fill(out, *x, *y, *w, *h, *color),
        Shape::Lines { segments, color, width } => {
            for [(ax, ay), (bx, by)] in segments {
                let (x0, x1, y0, y1) = (ax.min(*bx), ax.max(*bx), ay.min(*by), ay.max(*by));
                fill(out, x0 - width / 2.0, y0 - width / 2.0, x1 - x0 + width, y1 - y0 + width, *color);
            }
        }
    }
}

fn hex(c: Color) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Text for SVG and HTML (element content and attribute values).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn svg_shape(s: &mut String, shape: &Shape) -> Result<()> {
    match shape {
        Shape::Image { img, x, y, w, h } => {
            let _ = write!(
                s,
                "<image x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" preserveAspectRatio=\"none\" \
                 style=\"image-rendering:pixelated;image-rendering:crisp-edges\" href=\"data:image/png;base64,{}\"/>",
                base64::engine::general_purpose::STANDARD.encode(png_bytes(img)?)
            );
        }
        Shape::Text { text: t, x, y, size, weight, color, anchor } => {
            let anchor = match anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            let bold = if *weight == Weight::Bold { " font-weight=\"bold\"" } else { "" };
            let _ = write!(
                s,
                "<text x=\"{x}\" y=\"{y}\" font-size=\"{size}\" fill=\"{}\" text-anchor=\"{anchor}\"{bold}>{}</text>",
                hex(*color),
                esc(t)
            );
        }
        Shape::Rect { x, y, w, h, color } => {
            let _ = write!(s, "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{}\"/>", hex(*color));
        }
        Shape::Lines { segments, color, width } => {
            let _ = write!(
                s,
                "<path fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\" stroke-linecap=\"square\" d=\"",
                hex(*color)
            );
            for [(ax, ay), (bx, by)] in segments {
                let _ = write!(s, "M{ax} {ay}L{bx} {by}");
            }
            s.push_str("\"/>");
        }
    }
    Ok(())
}

pub use crate::cam::render::png_bytes;

/// A JPEG thumbnail no wider than `max_width` (area-averaged), for embedding in reports.
pub fn thumbnail_jpeg(img: &RgbImage, max_width: u32, quality: u8) -> Result<Vec<u8>> {
    let small = if img.width() > max_width && max_width > 0 {
        let h = ((img.height() as u64 * max_width as u64) / img.width() as u64).max(1) as u32;
        image::imageops::resize(img, max_width, h, image::imageops::FilterType::Triangle)
    } else {
        img.clone()
    };
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
        .write_image(small.as_raw(), small.width(), small.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::invalid(format!("cannot encode JPEG: {e}")))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Figure {
        let mut f = Figure::new(40, 30);
        f.push(Shape::Rect { x: 0.0, y: 0.0, w: 10.0, h: 10.0, color: [255, 0, 0] });
        f.push(Shape::Image {
            img: RgbImage::from_pixel(2, 2, image::Rgb([0, 0, 255])),
            x: 20.0,
            y: 0.0,
            w: 8.0,
            h: 8.0,
        });
        f.push(Shape::Lines { segments: vec![[(0.0, 20.0), (39.0, 20.0)]], color: BLACK, width: 2.0 });
        f.push(Shape::Text {
            text: "a<b".into(),
            x: 20.0,
            y: 29.0,
            size: 8.0,
            weight: Weight::Regular,
            color: BLACK,
            anchor: Anchor::Middle,
        });
        f
    }

    #[test]
    fn raster_paints_each_shape_where_it_belongs() {
        let img = sample().to_rgb();
        assert_eq!(img.get_pixel(5, 5).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(27, 7).0, [0, 0, 255]);
        assert_eq!(img.get_pixel(28, 7).0, WHITE);
        assert_eq!(img.get_pixel(30, 20).0, BLACK);
        assert_eq!(img.get_pixel(30, 18).0, WHITE);
    }

    #[test]
    fn svg_escapes_text_and_embeds_images() {
        let svg = sample().to_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(">a&lt;b</text>") && svg.contains("text-anchor=\"middle\""));
        assert!(svg.contains("href=\"data:image/png;base64,"));
        assert!(svg.contains("M0 20L39 20"));
    }

    #[test]
    fn thumbnails_are_jpeg_and_bounded() {
        let img = RgbImage::from_pixel(400, 100, image::Rgb([10, 200, 30]));
        let j = thumbnail_jpeg(&img, 100, 80).unwrap();
        assert_eq!(&j[..2], &[0xFF, 0xD8]);
        let back = image::load_from_memory(&j).unwrap();
        assert_eq!((back.width(), back.height()), (100, 25));
    }
}
