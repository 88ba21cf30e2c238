//! Labelled image grids in the layout of the BinaryCoP paper's CAM figures: one block per
//! group (a class, a generalization set), each with a header row naming the columns (Label |
//! Raw | model or method …), one row per image whose first cell gives the true class and the
//! predicted class with its score (marked when they differ), the tiles, and a caption under the
//! block. Tiles may carry the outline of a ground-truth region. A jet colour bar closes the
//! figure. Any number of columns and blocks; blocks sit `blocks_per_row` side by side.

use std::path::Path;

use image::RgbImage;
use ndarray::Array2;

use super::figure::{thumbnail_jpeg, Anchor, Color, Figure, Shape, BLACK};
use super::text::{self, Weight};
use crate::error::{Error, Result};

/// Figures built from many images show at most this many rows per block, so they stay
/// readable and their memory bounded on large runs (the metrics keep every image).
pub const MAX_ROWS: usize = 32;

/// One image cell, shown `Layout::scale` times its size.
#[derive(Clone, Debug)]
pub struct Tile {
    pub image: RgbImage,
    /// A region (same size as the image) whose boundary is drawn on the tile.
    pub outline: Option<Array2<bool>>,
}

impl Tile {
    pub fn new(image: RgbImage) -> Tile {
        Tile { image, outline: None }
    }
    pub fn with_outline(mut self, region: Option<Array2<bool>>) -> Tile {
        self.outline = region;
        self
    }
}

/// What a classifier answered for a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub class: String,
    /// Shown with two decimals (a probability, for instance).
    pub score: f64,
}

/// The first cell of a row: a title line (the true class, or the image's name when no truth
/// is known), then the prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct RowLabel {
    pub title: String,
    /// The true class: a prediction that differs is marked ✗, one that agrees ✓.
    pub truth: Option<String>,
    pub predicted: Option<Prediction>,
}

impl RowLabel {
    /// A row of a known class and what the model answered.
    pub fn classified(truth: &str, predicted: Option<Prediction>) -> RowLabel {
        RowLabel { title: truth.to_string(), truth: Some(truth.to_string()), predicted }
    }

    /// Whether the prediction differs from the truth.
    pub fn wrong(&self) -> bool {
        matches!((&self.truth, &self.predicted), (Some(t), Some(p)) if &p.class != t)
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub label: RowLabel,
    pub tiles: Vec<Tile>,
}

#[derive(Clone, Debug)]
pub struct Block {
    /// Under the block, as the paper's "(a) Correctly masked Grad-CAM".
    pub caption: String,
    pub rows: Vec<Row>,
}

/// The colour bar's labels (jet, low to high).
#[derive(Clone, Debug)]
pub struct ColorBar {
    pub title: String,
    pub low: String,
    pub high: String,
}

impl Default for ColorBar {
    fn default() -> Self {
        ColorBar { title: "CAM (min-max per map)".into(), low: "low".into(), high: "high".into() }
    }
}

#[derive(Clone, Debug)]
pub struct Layout {
    /// Tiles are drawn at this multiple of their size (nearest neighbour).
    pub scale: u32,
    pub blocks_per_row: usize,
    /// The text size of headers and labels in pixels.
    pub font: f32,
    pub colorbar: Option<ColorBar>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { scale: 3, blocks_per_row: 2, font: 12.0, colorbar: Some(ColorBar::default()) }
    }
}

/// A figure of blocks that share their columns.
#[derive(Clone, Debug)]
pub struct Grid {
    /// The label column's header.
    pub label_header: String,
    /// One header per tile column.
    pub columns: Vec<String>,
    pub blocks: Vec<Block>,
    pub layout: Layout,
}

/// A rectangle of the laid-out figure (pixels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// Where things go.
#[derive(Clone, Debug)]
struct Metrics {
    tile: (f32, f32),
    gap: f32,
    label_w: f32,
    col_w: f32,
    header_lines: Vec<Vec<String>>,
    header_h: f32,
    block_w: f32,
    caption_h: f32,
    margin: f32,
    bar_h: f32,
}

const OUTLINE: Color = [255, 255, 255];
const RULE: Color = [40, 40, 40];
const GREY: Color = [90, 90, 90];
const WRONG: Color = [190, 0, 0];

impl Grid {
    fn metrics(&self) -> Metrics {
        let s = self.layout.scale.max(1) as f32;
        let f = self.layout.font;
        let tiles = self.blocks.iter().flat_map(|b| &b.rows).flat_map(|r| &r.tiles);
        let tw = tiles.clone().map(|t| t.image.width()).max().unwrap_or(0) as f32 * s;
        let th = tiles.map(|t| t.image.height()).max().unwrap_or(0) as f32 * s;
        let gap = (f / 2.0).round().max(2.0);
        let col_w = tw.max(5.0 * f);
        let label_w = 9.0 * f;
        let header_lines: Vec<Vec<String>> =
            std::iter::once(text::wrap(&self.label_header, f, Weight::Bold, label_w - gap))
                .chain(self.columns.iter().map(|h| text::wrap(h, f, Weight::Bold, col_w)))
                .collect();
        let lines = header_lines.iter().map(Vec::len).max().unwrap_or(1) as f32;
        let header_h = lines * text::line_height(f) + 2.0 * gap;
        let block_w = label_w + self.columns.len() as f32 * (col_w + gap) + gap;
        let bar_h = if self.layout.colorbar.is_some() { 10.0 + 3.0 * text::line_height(f) } else { 0.0 };
        Metrics {
            tile: (tw, th),
            gap,
            label_w,
            col_w,
            header_lines,
            header_h,
            block_w,
            caption_h: 2.0 * text::line_height(f) + gap,
            margin: 2.0 * gap,
            bar_h,
        }
    }

    fn block_h(&self, m: &Metrics, b: &Block) -> f32 {
        m.header_h + 4.0 + b.rows.len() as f32 * (m.tile.1 + m.gap) + m.gap + m.caption_h
    }

    /// The header band of each block (the rectangle between the top rule and the double rule).
    pub fn header_bands(&self) -> Vec<Band> {
        let m = self.metrics();
        self.block_origins(&m)
            .into_iter()
            .map(|(x, y)| Band { x, y: y + 1.0, w: m.block_w, h: m.header_h - 1.0 })
            .collect()
    }

    fn block_origins(&self, m: &Metrics) -> Vec<(f32, f32)> {
        let per_row = self.layout.blocks_per_row.max(1);
        let mut out = Vec::with_capacity(self.blocks.len());
        let mut y = m.margin;
        for chunk in self.blocks.chunks(per_row) {
            for (k, _) in chunk.iter().enumerate() {
                out.push((m.margin + k as f32 * (m.block_w + 2.0 * m.margin), y));
            }
            y += chunk.iter().map(|b| self.block_h(m, b)).fold(0.0, f32::max) + m.margin;
        }
        out
    }

    /// Lays the grid out. Fails when a tile's outline does not have its image's size.
    pub fn figure(&self) -> Result<Figure> {
        let m = self.metrics();
        let origins = self.block_origins(&m);
        let per_row = self.layout.blocks_per_row.max(1).min(self.blocks.len().max(1));
        let width = m.margin + per_row as f32 * (m.block_w + 2.0 * m.margin) - m.margin;
        let bottom =
            self.blocks.iter().zip(&origins).map(|(b, (_, y))| y + self.block_h(&m, b)).fold(m.margin, f32::max);
        let height = bottom + m.margin + m.bar_h;
        let mut fig = Figure::new(width.ceil() as u32, height.ceil() as u32);
        for (b, &(x, y)) in self.blocks.iter().zip(&origins) {
            self.draw_block(&mut fig, &m, b, x, y)?;
        }
        if let Some(bar) = &self.layout.colorbar {
            draw_colorbar(&mut fig, bar, self.layout.font, width, bottom + m.margin);
        }
        Ok(fig)
    }

    /// Writes `{stem}.png` and `{stem}.svg` into `dir`.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<()> {
        let fig = self.figure()?;
        fig.save_png(&dir.join(format!("{stem}.png")))?;
        fig.save_svg(&dir.join(format!("{stem}.svg")))
    }

    /// A JPEG preview for a report: at most `rows` rows per block, tiles at twice their size,
    /// smaller text, at most 900 px wide.
    pub fn thumbnail(&self, rows: usize) -> Result<Vec<u8>> {
        let blocks = self
            .blocks
            .iter()
            .map(|b| Block { caption: b.caption.clone(), rows: b.rows.iter().take(rows).cloned().collect() });
        let small = Grid {
            blocks: blocks.collect(),
            layout: Layout { scale: 2, font: 10.0, ..self.layout.clone() },
            ..self.clone()
        };
        thumbnail_jpeg(&small.figure()?.to_rgb(), 900, 70)
    }

    /// Whether [`Grid::thumbnail`] with `rows` leaves rows out.
    pub fn truncated(&self, rows: usize) -> bool {
        self.blocks.iter().any(|b| b.rows.len() > rows)
    }

    fn draw_block(&self, fig: &mut Figure, m: &Metrics, b: &Block, x0: f32, y0: f32) -> Result<()> {
        let f = self.layout.font;
        let lh = text::line_height(f);
        let w = m.block_w;
        // Header: a rule above, the column names, a double rule below (as the paper's tables).
        let mut rules = vec![[(x0, y0), (x0 + w, y0)]];
        let hy = y0 + m.header_h;
        rules.push([(x0, hy), (x0 + w, hy)]);
        rules.push([(x0, hy + 3.0), (x0 + w, hy + 3.0)]);
        for (c, lines) in m.header_lines.iter().enumerate() {
            let cx = if c == 0 { x0 + m.label_w / 2.0 } else { self.col_x(m, x0, c - 1) + m.col_w / 2.0 };
            let top = y0 + (m.header_h - lines.len() as f32 * lh) / 2.0 + text::ascent(f);
            for (k, line) in lines.iter().enumerate() {
                fig.push(text_shape(line, cx, top + k as f32 * lh, f, Weight::Bold, BLACK, Anchor::Middle));
            }
        }
        let body = hy + 3.0 + m.gap;
        for (r, row) in b.rows.iter().enumerate() {
            let ry = body + r as f32 * (m.tile.1 + m.gap);
            self.draw_label(fig, m, &row.label, x0, ry);
            for (c, tile) in row.tiles.iter().enumerate() {
                draw_tile(fig, tile, self.col_x(m, x0, c) + (m.col_w - m.tile.0) / 2.0, ry, self.layout.scale)?;
            }
        }
        let end = body + b.rows.len() as f32 * (m.tile.1 + m.gap);
        rules.push([(x0, end), (x0 + w, end)]);
        fig.push(Shape::Lines { segments: rules, color: RULE, width: 1.0 });
        // The paper's vertical rule after the label column.
        let vx = x0 + m.label_w - m.gap / 2.0;
        fig.push(Shape::Lines { segments: vec![[(vx, body), (vx, end - m.gap)]], color: RULE, width: 1.0 });
        for (k, line) in text::wrap(&b.caption, f, Weight::Regular, w).iter().enumerate() {
            let y = end + m.gap + text::ascent(f) + k as f32 * lh;
            fig.push(text_shape(line, x0 + w / 2.0, y, f, Weight::Regular, BLACK, Anchor::Middle));
        }
        Ok(())
    }

    fn col_x(&self, m: &Metrics, x0: f32, c: usize) -> f32 {
        x0 + m.label_w + c as f32 * (m.col_w + m.gap)
    }

    fn draw_label(&self, fig: &mut Figure, m: &Metrics, label: &RowLabel, x0: f32, y: f32) {
        let f = self.layout.font;
        let small = (f * 0.85).round();
        let max = m.label_w - 2.0 * m.gap;
        let mut lines: Vec<(String, f32, Color)> =
            text::wrap(&label.title, f, Weight::Regular, max).into_iter().map(|l| (l, f, BLACK)).collect();
        if let Some(p) = &label.predicted {
            let (txt, color) = match &label.truth {
                _ if label.wrong() => (format!("✗ pred. {} {:.2}", p.class, p.score), WRONG),
                Some(_) => (format!("✓ pred. {:.2}", p.score), GREY),
                None => (format!("pred. {} {:.2}", p.class, p.score), GREY),
            };
            lines.extend(text::wrap(&txt, small, Weight::Regular, max).into_iter().map(|l| (l, small, color)));
        }
        let total: f32 = lines.iter().map(|(_, s, _)| text::line_height(*s)).sum();
        let mut yy = y + (m.tile.1 - total) / 2.0;
        let cx = x0 + (m.label_w - m.gap) / 2.0;
        for (line, size, color) in lines {
            let weight = Weight::Regular;
            fig.push(text_shape(&line, cx, yy + text::ascent(size), size, weight, color, Anchor::Middle));
            yy += text::line_height(size);
        }
    }
}

fn text_shape(t: &str, x: f32, y: f32, size: f32, weight: Weight, color: Color, anchor: Anchor) -> Shape {
    Shape::Text { text: t.to_string(), x, y, size, weight, color, anchor }
}

fn draw_tile(fig: &mut Figure, tile: &Tile, x: f32, y: f32, scale: u32) -> Result<()> {
    let s = scale.max(1) as f32;
    let (iw, ih) = (tile.image.width() as usize, tile.image.height() as usize);
    fig.push(Shape::Image { img: tile.image.clone(), x, y, w: iw as f32 * s, h: ih as f32 * s });
    let Some(region) = &tile.outline else { return Ok(()) };
    if region.dim() != (ih, iw) {
        return Err(Error::invalid(format!(
            "an outline region is {}x{} but its image is {ih}x{iw}",
            region.dim().0,
            region.dim().1
        )));
    }
    fig.push(Shape::Lines { segments: outline_segments(region, x, y, s), color: OUTLINE, width: (s / 2.0).max(1.0) });
    Ok(())
}

/// The region's boundary: every pixel edge between an inside and an outside pixel (edges on the
/// image border are not drawn), as segments of length `s`.
pub fn outline_segments(region: &Array2<bool>, x: f32, y: f32, s: f32) -> Vec<[(f32, f32); 2]> {
    let (h, w) = region.dim();
    let mut segs = Vec::new();
    for r in 0..h {
        for c in 0..w {
            if !region[[r, c]] {
                continue;
            }
            let (px, py) = (x + c as f32 * s, y + r as f32 * s);
            if r > 0 && !region[[r - 1, c]] {
                segs.push([(px, py), (px + s, py)]);
            }
            if r + 1 < h && !region[[r + 1, c]] {
                segs.push([(px, py + s), (px + s, py + s)]);
            }
            if c > 0 && !region[[r, c - 1]] {
                segs.push([(px, py), (px, py + s)]);
            }
            if c + 1 < w && !region[[r, c + 1]] {
                segs.push([(px + s, py), (px + s, py + s)]);
            }
        }
    }
    segs
}

fn draw_colorbar(fig: &mut Figure, bar: &ColorBar, font: f32, width: f32, y: f32) {
    let lut = crate::cam::render::jet_lut(255);
    let strip = RgbImage::from_fn(255, 1, |x, _| image::Rgb(lut[x as usize]));
    let bw = (width * 0.5).clamp(120.0, 320.0);
    let x = (width - bw) / 2.0;
    let lh = text::line_height(font);
    let top = y + lh;
    fig.push(text_shape(&bar.title, width / 2.0, y + text::ascent(font), font, Weight::Regular, BLACK, Anchor::Middle));
    fig.push(Shape::Image { img: strip, x, y: top, w: bw, h: 10.0 });
    let ty = top + 10.0 + text::ascent(font) + 2.0;
    fig.push(text_shape(&bar.low, x, ty, font, Weight::Regular, GREY, Anchor::Start));
    fig.push(text_shape(&bar.high, x + bw, ty, font, Weight::Regular, GREY, Anchor::End));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(columns: &[&str], header: &str) -> Grid {
        let tile = |v: u8| Tile::new(RgbImage::from_pixel(8, 8, image::Rgb([v, 100, 200])));
        let row = |truth: &str, pred: &str| Row {
            label: RowLabel::classified(truth, Some(Prediction { class: pred.into(), score: 0.9 })),
            tiles: columns.iter().enumerate().map(|(i, _)| tile(40 * i as u8)).collect(),
        };
        Grid {
            label_header: header.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            blocks: vec![
                Block { caption: "(a) first".into(), rows: vec![row("A", "A"), row("A", "B")] },
                Block { caption: "(b) second".into(), rows: vec![row("B", "B")] },
                Block { caption: "(c) third".into(), rows: vec![row("C", "C")] },
            ],
            layout: Layout::default(),
        }
    }

    #[test]
    fn any_number_of_columns_and_blocks_fits_the_canvas() {
        for cols in [vec!["Raw"], vec!["Raw", "CNV", "n-CNV", "µ-CNV", "FP32", "LayerCAM at Conv1_2"]] {
            let g = grid(&cols, "Label");
            let fig = g.figure().unwrap();
            let bands = g.header_bands();
            assert_eq!(bands.len(), 3);
            // Two blocks side by side, the third below them.
            assert_eq!(bands[0].y, bands[1].y);
            assert!(bands[2].y > bands[0].y && bands[1].x > bands[0].x);
            for b in bands {
                assert!(b.x + b.w <= fig.width as f32 && b.y + b.h <= fig.height as f32);
            }
        }
    }

    #[test]
    fn outlines_trace_region_boundaries_and_are_checked() {
        let mut region = Array2::from_elem((3, 3), false);
        region[[1, 1]] = true;
        assert_eq!(outline_segments(&region, 0.0, 0.0, 2.0).len(), 4);
        let full = Array2::from_elem((3, 3), true);
        assert!(outline_segments(&full, 0.0, 0.0, 2.0).is_empty(), "the image border is not drawn");
        let mut g = grid(&["Raw"], "Label");
        g.blocks[0].rows[0].tiles[0].outline = Some(Array2::from_elem((4, 4), true));
        let err = g.figure().err().unwrap().to_string();
        assert!(err.contains("4x4") && err.contains("8x8"), "{err}");
    }

    #[test]
    fn wrong_predictions_are_marked() {
        let g = grid(&["Raw"], "Label");
        assert!(!g.blocks[0].rows[0].label.wrong() && g.blocks[0].rows[1].label.wrong());
        let svg = g.figure().unwrap().to_svg().unwrap();
        assert!(svg.contains("✗ pred. B 0.90") && svg.contains("✓ pred. 0.90"));
        let unknown = RowLabel {
            title: "x.png".into(),
            truth: None,
            predicted: Some(Prediction { class: "B".into(), score: 0.5 }),
        };
        assert!(!unknown.wrong());
    }
}
