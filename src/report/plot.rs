//! Plots as SVG documents, drawn with plotters: grouped bars, curves and histograms, each as a
//! row of panels (small multiples) sharing their series colours, with reference lines (a
//! threshold, a baseline) and a legend. Text is laid out with the bundled font's metrics.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::text;
use crate::error::{Error, Result};

/// tab10, the colours matplotlib users know.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of series `i` (the same in every plot).
pub fn series_color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// A horizontal (bars, curves) or vertical (histograms) reference line.
#[derive(Clone, Debug)]
pub struct RefLine {
    pub label: String,
    pub at: f64,
    pub color: (u8, u8, u8),
}

/// One panel of grouped bars: per category, one bar per series that has a value there.
#[derive(Clone, Debug)]
pub struct Bars {
    pub title: String,
    pub categories: Vec<String>,
    /// (name, one value per category).
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// Where a panel's own legend sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corner {
    UpperRight,
    LowerRight,
}

/// One panel of curves.
#[derive(Clone, Debug)]
pub struct Curves {
    pub title: String,
    /// (name, points).
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Where the legend goes (where the curves leave room).
    pub legend: Corner,
}

/// One panel of histograms (series overlaid).
#[derive(Clone, Debug)]
pub struct Histogram {
    pub title: String,
    pub series: Vec<(String, Vec<f64>)>,
}

/// Axis ranges and names shared by the panels of a plot.
#[derive(Clone, Debug)]
pub struct Axes {
    pub x_desc: String,
    pub y_desc: String,
    pub y: (f64, f64),
    /// Panel size in pixels.
    pub panel: (u32, u32),
    /// Print each bar's value above it.
    pub values: bool,
    /// Decimals of the y tick labels.
    pub y_decimals: usize,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, RangedCoordf64>>;

/// A linear f64 axis whose labels sit at given points (category centres, round numbers).
#[derive(Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = if self.hi > self.lo { (v - self.lo) / (self.hi - self.lo) } else { 0.0 };
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("cannot draw the plot: {e}"))
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size as f64).into_font().color(&BLACK)
}

/// A legend entry: a filled square (a series) or a dashed line (a reference line).
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    color: RGBColor,
    dashed: bool,
}

fn legend_for(series: &[String], lines: &[RefLine]) -> Vec<Entry> {
    let mut out: Vec<Entry> = if series.len() > 1 {
        series
            .iter()
            .enumerate()
            .map(|(i, n)| Entry { name: n.clone(), color: series_color(i), dashed: false })
            .collect()
    } else {
        Vec::new()
    };
    for l in lines {
        out.push(Entry { name: l.label.clone(), color: RGBColor(l.color.0, l.color.1, l.color.2), dashed: true });
    }
    out
}

/// Runs `draw` on a canvas of `n` panels side by side and a legend strip under them; returns
/// the SVG document.
fn canvas(n: usize, axes: &Axes, legend: &[Entry], draw: impl FnOnce(&[Area]) -> Result<()>) -> Result<String> {
    text::register_with_plotters();
    let n = n.max(1);
    let rows = legend_rows(legend, axes.panel.0 * n as u32);
    let legend_h = rows.len() as u32 * 20 + if rows.is_empty() { 0 } else { 8 };
    let size = (axes.panel.0 * n as u32, axes.panel.1 + legend_h);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let (top, bottom) = root.split_vertically(axes.panel.1);
        let panels = top.split_evenly((1, n));
        draw(&panels)?;
        for (r, row) in rows.iter().enumerate() {
            let mut x = 16i32;
            let y = 6 + r as i32 * 20;
            for e in row {
                if e.dashed {
                    for k in 0..2 {
                        let dash =
                            PathElement::new([(x + 8 * k, y + 8), (x + 8 * k + 5, y + 8)], e.color.stroke_width(2));
                        bottom.draw(&dash).map_err(fail)?;
                    }
                } else {
                    bottom.draw(&Rectangle::new([(x, y + 2), (x + 12, y + 14)], e.color.filled())).map_err(fail)?;
                }
                bottom.draw(&Text::new(e.name.clone(), (x + 17, y + 1), font(12))).map_err(fail)?;
                x += 30 + text::width(&e.name, 12.0, text::Weight::Regular).ceil() as i32;
            }
        }
        root.present().map_err(fail)?;
    }
    // plotters states the default opacity on every element.
    Ok(svg.replace(" opacity=\"1\"", ""))
}

/// Splits legend entries into rows that fit `width`.
fn legend_rows(legend: &[Entry], width: u32) -> Vec<Vec<Entry>> {
    let mut rows: Vec<Vec<Entry>> = Vec::new();
    let mut used = 16.0;
    for e in legend {
        let w = 30.0 + text::width(&e.name, 12.0, text::Weight::Regular);
        if rows.is_empty() || used + w > width as f32 {
            rows.push(Vec::new());
            used = 16.0;
        }
        used += w;
        rows.last_mut().expect("a row").push(e.clone());
    }
    rows
}

/// One panel's axes: x over `x` with labels at `ticks` (formatted by `fmt`), y over `axes.y`.
fn frame<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    x: (f64, f64),
    ticks: Vec<f64>,
    fmt: &dyn Fn(&f64) -> String,
    axes: &Axes,
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(14))
        .margin(8)
        .x_label_area_size(44)
        .y_label_area_size(48)
        .build_cartesian_2d(Ticked { lo: x.0, hi: x.1, ticks }, axes.y.0..axes.y.1)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_label_formatter(fmt)
        .y_label_formatter(&|y| format!("{y:.*}", axes.y_decimals))
        .x_desc(axes.x_desc.as_str())
        .y_desc(axes.y_desc.as_str())
        .label_style(font(11))
        .axis_desc_style(font(12))
        .draw()
        .map_err(fail)?;
    Ok(chart)
}

/// A dashed line from `a` to `b` (named in the legend).
fn dashed(chart: &mut Chart, a: (f64, f64), b: (f64, f64), line: &RefLine) -> Result<()> {
    let color = RGBColor(line.color.0, line.color.1, line.color.2);
    chart.draw_series(DashedLineSeries::new([a, b], 6, 4, color.stroke_width(2))).map_err(fail)?;
    Ok(())
}

/// Grouped bars, one panel per [`Bars`], with horizontal reference lines.
pub fn bars(panels: &[Bars], axes: &Axes, lines: &[RefLine]) -> Result<String> {
    let names = series_names(panels.iter().flat_map(|p| p.series.iter().map(|(n, _)| n)));
    canvas(panels.len(), axes, &legend_for(&names, lines), |areas| {
        for (p, area) in panels.iter().zip(areas) {
            let n = p.categories.len().max(1) as f64;
            let ticks: Vec<f64> = (0..p.categories.len()).map(|i| i as f64 + 0.5).collect();
            let cats = p.categories.clone();
            let fmt = move |x: &f64| cats.get(x.floor().max(0.0) as usize).cloned().unwrap_or_default();
            let mut chart = frame(area, &p.title, (0.0, n), ticks, &fmt, axes)?;
            for (c, _) in p.categories.iter().enumerate() {
                let present: Vec<(usize, f64)> = p
                    .series
                    .iter()
                    .filter_map(|(name, v)| Some((names.iter().position(|m| m == name)?, v.get(c).copied()??)))
                    .collect();
                let w = 0.8 / present.len().max(1) as f64;
                for (k, &(color, v)) in present.iter().enumerate() {
                    let x0 = c as f64 + 0.1 + k as f64 * w;
                    let bar = Rectangle::new(
                        [(x0, axes.y.0.max(0.0).min(v)), (x0 + w * 0.92, v)],
                        series_color(color).filled(),
                    );
                    chart.draw_series([bar]).map_err(fail)?;
                    if axes.values {
                        let label = Text::new(
                            format!("{v:.2}"),
                            (x0 + w * 0.46, v),
                            font(10).pos(Pos::new(HPos::Center, VPos::Bottom)),
                        );
                        chart.draw_series([label]).map_err(fail)?;
                    }
                }
            }
            for l in lines {
                dashed(&mut chart, (0.0, l.at), (n, l.at), l)?;
            }
        }
        Ok(())
    })
}

/// Curves, one panel per [`Curves`], x over `x` with ticks at `x_ticks`; each panel has its own
/// legend inside (series names differ between panels, e.g. with their AUC).
pub fn curves(panels: &[Curves], axes: &Axes, x: (f64, f64), x_ticks: Vec<f64>) -> Result<String> {
    canvas(panels.len(), axes, &[], |areas| {
        for (p, area) in panels.iter().zip(areas) {
            let fmt = |v: &f64| format!("{v:.2}");
            let mut chart = frame(area, &p.title, x, x_ticks.clone(), &fmt, axes)?;
            for (i, (name, pts)) in p.series.iter().enumerate() {
                let color = series_color(i);
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(fail)?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
            }
            let corner = match p.legend {
                Corner::UpperRight => SeriesLabelPosition::UpperRight,
                Corner::LowerRight => SeriesLabelPosition::LowerRight,
            };
            chart
                .configure_series_labels()
                .position(corner)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(font(11))
                .draw()
                .map_err(fail)?;
        }
        Ok(())
    })
}

/// Counts of `values` in `bins` equal bins over `range` (values outside are clamped into the
/// first or last bin; NaN is skipped).
pub fn bin_counts(values: &[f64], range: (f64, f64), bins: usize) -> Vec<usize> {
    let bins = bins.max(1);
    let mut counts = vec![0; bins];
    let span = range.1 - range.0;
    for &v in values.iter().filter(|v| !v.is_nan()) {
        let t = if span > 0.0 { (v - range.0) / span } else { 0.0 };
        counts[((t * bins as f64).floor().max(0.0) as usize).min(bins - 1)] += 1;
    }
    counts
}

/// Histograms, one panel per [`Histogram`] (the series' bars side by side within each bin),
/// `bins` bins over `range`, with vertical reference lines. The y range is the largest count.
pub fn histograms(
    panels: &[Histogram],
    axes: &Axes,
    range: (f64, f64),
    bins: usize,
    lines: &[RefLine],
) -> Result<String> {
    let names = series_names(panels.iter().flat_map(|p| p.series.iter().map(|(n, _)| n)));
    let legend = legend_for(&names, lines);
    let top =
        panels.iter().flat_map(|p| &p.series).flat_map(|(_, v)| bin_counts(v, range, bins)).max().unwrap_or(1).max(1)
            as f64;
    let axes = Axes { y: (0.0, top * 1.1), ..axes.clone() };
    let ticks: Vec<f64> = (0..=4).map(|k| range.0 + k as f64 * (range.1 - range.0) / 4.0).collect();
    canvas(panels.len(), &axes, &legend, |areas| {
        for (p, area) in panels.iter().zip(areas) {
            let fmt = |v: &f64| format!("{v:.2}");
            let mut chart = frame(area, &p.title, range, ticks.clone(), &fmt, &axes)?;
            let width = (range.1 - range.0) / bins.max(1) as f64;
            let sub = width * 0.9 / p.series.len().max(1) as f64;
            for (k, (name, values)) in p.series.iter().enumerate() {
                let color = series_color(names.iter().position(|m| m == name).unwrap_or(0));
                let counts = bin_counts(values, range, bins);
                let rects = counts.into_iter().enumerate().filter(|(_, c)| *c > 0).map(|(b, c)| {
                    let x0 = range.0 + b as f64 * width + k as f64 * sub;
                    Rectangle::new([(x0, 0.0), (x0 + sub, c as f64)], color.filled())
                });
                chart.draw_series(rects).map_err(fail)?;
            }
            for l in lines {
                dashed(&mut chart, (l.at, 0.0), (l.at, axes.y.1), l)?;
            }
        }
        Ok(())
    })
}

/// Distinct names in first-seen order.
fn series_names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes() -> Axes {
        Axes {
            x_desc: "layer".into(),
            y_desc: "rate".into(),
            y: (0.0, 1.0),
            panel: (320, 240),
            values: true,
            y_decimals: 1,
        }
    }

    #[test]
    fn bars_draw_every_present_value_and_the_legend() {
        let p = Bars {
            title: "windowed STE".into(),
            categories: vec!["Conv1_2".into(), "Pool2".into()],
            series: vec![("gradcam".into(), vec![Some(0.25), None]), ("layercam".into(), vec![Some(0.8), Some(0.5)])],
        };
        let line = RefLine { label: "chance 13%".into(), at: 0.13, color: (200, 0, 0) };
        let svg = bars(&[p.clone(), p], &axes(), &[line]).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
        for t in ["windowed STE", "Conv1_2", "Pool2", "gradcam", "layercam", "chance 13%", "0.80", "0.25"] {
            assert!(svg.contains(t), "{t} missing");
        }
        // Three bars per panel, two panels, plus two legend squares.
        assert_eq!(svg.matches("fill=\"#1F77B4\"").count() + svg.matches("fill=\"#FF7F0E\"").count(), 8, "{svg}");
    }

    #[test]
    fn histogram_bins_clamp_and_skip_nan() {
        assert_eq!(bin_counts(&[0.0, 0.49, 0.5, 1.0, 7.0, -3.0, f64::NAN], (0.0, 1.0), 2), vec![3, 3]);
        let h = Histogram { title: "class 0".into(), series: vec![("cnv".into(), vec![0.9, 0.95, 0.99])] };
        let svg = histograms(&[h], &axes(), (0.5, 1.0), 10, &[]).unwrap();
        assert!(svg.contains("class 0") && svg.contains("<rect"));
    }

    #[test]
    fn curves_name_their_series() {
        let c = Curves {
            title: "deletion".into(),
            series: vec![("Grad-CAM (AUC 0.64)".into(), vec![(0.0, 1.0), (1.0, 0.2)])],
            legend: Corner::UpperRight,
        };
        let svg = curves(&[c], &axes(), (0.0, 1.0), vec![0.0, 0.5, 1.0]).unwrap();
        assert!(svg.contains("Grad-CAM (AUC 0.64)") && svg.contains("<polyline"));
    }
}
