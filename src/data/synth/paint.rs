//! A two-layer canvas on tiny-skia: an anti-aliased RGB picture and, drawn with the same paths
//! and transforms, an aliased label layer (the part of each pixel centre, painter's order, so
//! whatever is drawn last owns the pixel: a mask over the nose makes those pixels "mask").

use tiny_skia::{Color, FillRule, LineCap, LineJoin, Mask, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, Transform};

use super::Part;

/// A colour with channels in 0..=255 as f32, for mixing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    pub fn mix(self, o: Rgb, t: f32) -> Rgb {
        Rgb(self.0 + (o.0 - self.0) * t, self.1 + (o.1 - self.1) * t, self.2 + (o.2 - self.2) * t)
    }
    pub fn scale(self, k: f32) -> Rgb {
        Rgb(self.0 * k, self.1 * k, self.2 * k).clamped()
    }
    pub fn add(self, d: f32) -> Rgb {
        Rgb(self.0 + d, self.1 + d, self.2 + d).clamped()
    }
    pub fn clamped(self) -> Rgb {
        Rgb(self.0.clamp(0.0, 255.0), self.1.clamp(0.0, 255.0), self.2.clamp(0.0, 255.0))
    }
    pub fn luma(self) -> f32 {
        0.299 * self.0 + 0.587 * self.1 + 0.114 * self.2
    }
    fn color(self, alpha: f32) -> Color {
        Color::from_rgba8(q(self.0), q(self.1), q(self.2), q(alpha * 255.0))
    }
    pub fn bytes(self) -> [u8; 3] {
        [q(self.0), q(self.1), q(self.2)]
    }
}

fn q(v: f32) -> u8 {
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

pub(crate) struct Canvas {
    pub rgb: Pixmap,
    labels: Pixmap,
}

fn paint(color: Rgb, alpha: f32, anti_alias: bool) -> Paint<'static> {
    let mut p = Paint { anti_alias, ..Paint::default() };
    p.set_color(color.color(alpha));
    p
}

fn label_paint(part: Part) -> Paint<'static> {
    let mut p = Paint { anti_alias: false, ..Paint::default() };
    p.set_color_rgba8(part as u8, 0, 0, 255);
    p
}

fn stroke(width: f32) -> Stroke {
    Stroke { width, line_cap: LineCap::Round, line_join: LineJoin::Round, ..Stroke::default() }
}

impl Canvas {
    pub fn new(size: u32) -> Canvas {
        let rgb = Pixmap::new(size, size).expect("render size was validated (1..=2048)");
        let labels = Pixmap::new(size, size).expect("render size was validated (1..=2048)");
        Canvas { rgb, labels }
    }

    pub fn size(&self) -> u32 {
        self.rgb.width()
    }

    pub fn fill(&mut self, path: &Path, color: Rgb, alpha: f32, t: Transform) {
        self.rgb.fill_path(path, &paint(color, alpha, true), FillRule::Winding, t, None);
    }

    pub fn fill_rule(&mut self, path: &Path, color: Rgb, rule: FillRule, t: Transform) {
        self.rgb.fill_path(path, &paint(color, 1.0, true), rule, t, None);
    }

    pub fn fill_in(&mut self, path: &Path, color: Rgb, alpha: f32, t: Transform, clip: &Mask) {
        self.rgb.fill_path(path, &paint(color, alpha, true), FillRule::Winding, t, Some(clip));
    }

    pub fn stroke(&mut self, path: &Path, color: Rgb, alpha: f32, width: f32, t: Transform) {
        self.rgb.stroke_path(path, &paint(color, alpha, true), &stroke(width), t, None);
    }

    pub fn stroke_in(&mut self, path: &Path, color: Rgb, alpha: f32, width: f32, t: Transform, clip: &Mask) {
        self.rgb.stroke_path(path, &paint(color, alpha, true), &stroke(width), t, Some(clip));
    }

    /// Marks the pixel centres inside `path` as `part`, leaving the picture alone.
    pub fn label(&mut self, path: &Path, part: Part, rule: FillRule, t: Transform) {
        self.labels.fill_path(path, &label_paint(part), rule, t, None);
    }

    /// Fills the picture and labels the same region.
    pub fn part(&mut self, path: &Path, color: Rgb, part: Part, t: Transform) {
        self.fill(path, color, 1.0, t);
        self.label(path, part, FillRule::Winding, t);
    }

    /// Strokes the picture and labels the stroke. The label is at least 1.5 pixels wide so a
    /// hairline frame still owns the pixels it darkens (an aliased thin stroke can miss every
    /// pixel centre).
    pub fn part_stroke(&mut self, path: &Path, color: Rgb, width: f32, part: Part, t: Transform) {
        let res = tiny_skia::PathStroker::compute_resolution_scale(&t);
        let scale = (t.sx * t.sx + t.ky * t.ky).sqrt();
        let label_width = width.max(1.5 / scale);
        let Some(outline) = path.stroke(&stroke(width), res) else { return };
        self.fill(&outline, color, 1.0, t);
        if label_width > width {
            if let Some(wide) = path.stroke(&stroke(label_width), res) {
                self.label(&wide, part, FillRule::Winding, t);
            }
        } else {
            self.label(&outline, part, FillRule::Winding, t);
        }
    }

    /// An anti-aliased clip of `path`, for patterns and shading inside a shape.
    pub fn clip(&self, path: &Path, rule: FillRule, t: Transform) -> Mask {
        let mut m = Mask::new(self.size(), self.size()).expect("render size was validated");
        m.fill_path(path, rule, true, t);
        m
    }

    /// The label of every pixel, row-major.
    pub fn labels(&self) -> Vec<u8> {
        self.labels.data().chunks_exact(4).map(|p| p[0]).collect()
    }
}

pub(crate) fn oval(cx: f32, cy: f32, rx: f32, ry: f32) -> Option<Path> {
    PathBuilder::from_oval(Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry)?)
}

pub(crate) fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Option<Path> {
    Some(PathBuilder::from_rect(Rect::from_ltrb(x0, y0, x1, y1)?))
}

/// A closed smooth curve through the midpoints of the polygon `pts` (a quadratic B-spline),
/// the polygon's corners acting as control points.
pub(crate) fn smooth(pts: &[(f32, f32)]) -> Option<Path> {
    if pts.len() < 3 {
        return None;
    }
    let mut pb = PathBuilder::new();
    smooth_ring(&mut pb, pts);
    pb.finish()
}

/// Adds [`smooth`]'s closed curve through `pts` (at least one point) to `pb` as one subpath.
pub(crate) fn smooth_ring(pb: &mut PathBuilder, pts: &[(f32, f32)]) {
    let n = pts.len();
    let mid = |a: (f32, f32), b: (f32, f32)| ((a.0 + b.0) * 0.5, (a.1 + b.1) * 0.5);
    let start = mid(pts[n - 1], pts[0]);
    pb.move_to(start.0, start.1);
    for i in 0..n {
        let m = mid(pts[i], pts[(i + 1) % n]);
        pb.quad_to(pts[i].0, pts[i].1, m.0, m.1);
    }
    pb.close();
}

/// A polyline (closed or open).
pub(crate) fn poly(pts: &[(f32, f32)], close: bool) -> Option<Path> {
    let (first, rest) = pts.split_first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first.0, first.1);
    for p in rest {
        pb.line_to(p.0, p.1);
    }
    if close {
        pb.close();
    }
    pb.finish()
}

/// A quadratic curve from `a` to `b` with control `c`.
pub(crate) fn quad(a: (f32, f32), c: (f32, f32), b: (f32, f32)) -> Option<Path> {
    let mut pb = PathBuilder::new();
    pb.move_to(a.0, a.1);
    pb.quad_to(c.0, c.1, b.0, b.1);
    pb.finish()
}

/// cos and sin of 2πk/16, written out so no platform's libm is involved.
pub(crate) const CIRCLE16: [(f32, f32); 16] = [
    (1.0, 0.0),
    (0.923_879_5, 0.382_683_43),
    (0.707_106_77, 0.707_106_77),
    (0.382_683_43, 0.923_879_5),
    (0.0, 1.0),
    (-0.382_683_43, 0.923_879_5),
    (-0.707_106_77, 0.707_106_77),
    (-0.923_879_5, 0.382_683_43),
    (-1.0, 0.0),
    (-0.923_879_5, -0.382_683_43),
    (-0.707_106_77, -0.707_106_77),
    (-0.382_683_43, -0.923_879_5),
    (0.0, -1.0),
    (0.382_683_43, -0.923_879_5),
    (0.707_106_77, -0.707_106_77),
    (0.923_879_5, -0.382_683_43),
];
