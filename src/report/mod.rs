//! Figures and reports a researcher can put in a paper: labelled CAM grids in the BinaryCoP
//! paper's layout (PNG and SVG), plots (SVG, drawn with plotters), and self-contained HTML
//! reports with captions, thumbnails and links to the full-size files.
//!
//! - [`text`]: the bundled font (DejaVu Sans), text metrics and rasterization;
//! - [`figure`]: a figure as shapes, rendered to pixels or SVG; PNG and JPEG encoding;
//! - [`grid`]: the CAM grid (header row, label column, blocks, outlines, colour bar);
//! - [`plot`]: bar charts, curves and histograms as SVG;
//! - [`html`]: the page builder (tables, captioned figures, inline SVG, thumbnails);
//! - [`compare`]: the `compare` command's page.

pub mod compare;
pub mod figure;
pub mod grid;
pub mod html;
pub mod plot;
pub mod text;

pub use figure::{Figure, Shape};
pub use grid::{Block, ColorBar, Grid, Layout, Prediction, Row, RowLabel, Tile};
