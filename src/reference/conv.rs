//! The training graph's convolutions and fully connected layers: `dot[p, o] = Σ_k col_p[k] ·
//! w[o, k]` over each output pixel's input column (FINN's (ky, kx, c) order), two ways.
//!
//! - [`Conv::Plain`]: one dot product per output value, summed in column order. The test
//!   oracle: nothing in it can be wrong in a way the engine's tests would share.
//! - [`Conv::Gemm`]: all columns of a layer gathered into a P×K matrix (each kernel row of a
//!   window is one contiguous run of the H×W×C input) and multiplied by the K×O weights with
//!   matrixmultiply's blocked, vectorised SGEMM (through ndarray). What users run.
//!
//! Binary layers sum ±1 products, exact in f32 either way; the first layer's sums of
//! `code · step` may differ in the last bits with the order of summation, which the sign
//! decision absorbs (it rounds `dot / step` to the integer accumulator).

use ndarray::{linalg::general_mat_mul, Array2, Array3, ArrayView2};

use crate::model::topology::{Layer, LayerKind};

/// How the training graph computes a layer's dot products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv {
    /// One dot product per output value (the oracle).
    Plain,
    /// A layer's columns as one SGEMM.
    Gemm,
}

impl Conv {
    /// `w` holds the layer's ±1 weights, [out × K] row-major. Returns H×W×O.
    pub fn dot(self, l: &Layer, x: &Array3<f32>, w: &[f32]) -> Array3<f32> {
        let x = x.as_standard_layout();
        let x = x.as_slice().expect("a standard layout is contiguous");
        match self {
            Conv::Plain => plain(l, x, w),
            Conv::Gemm => gemm(l, x, w),
        }
    }
}

fn plain(l: &Layer, x: &[f32], w: &[f32]) -> Array3<f32> {
    let o = l.output;
    let k = l.fan_in();
    let mut dot = Array3::zeros((o.height, o.width, o.channels));
    let mut col = vec![0f32; k];
    for oy in 0..o.height {
        for ox in 0..o.width {
            im2col(l, x, oy, ox, &mut col);
            for c in 0..o.channels {
                dot[[oy, ox, c]] = w[c * k..(c + 1) * k].iter().zip(&col).map(|(a, b)| a * b).sum();
            }
        }
    }
    dot
}

fn gemm(l: &Layer, x: &[f32], w: &[f32]) -> Array3<f32> {
    let o = l.output;
    let (k, pixels) = (l.fan_in(), o.height * o.width);
    let weights = ArrayView2::from_shape((o.channels, k), w).expect("a layer's weights are out × K");
    let mut dot = Array2::<f32>::zeros((pixels, o.channels));
    match l.kind {
        LayerKind::Conv { .. } => {
            let mut cols = Array2::<f32>::zeros((pixels, k));
            for (p, mut col) in cols.rows_mut().into_iter().enumerate() {
                im2col(l, x, p / o.width, p % o.width, col.as_slice_mut().expect("rows of a standard array"));
            }
            general_mat_mul(1.0, &cols, &weights.t(), 0.0, &mut dot);
        }
        _ => {
            let input = ArrayView2::from_shape((1, k), x).expect("an fc layer's input has K values");
            general_mat_mul(1.0, &input, &weights.t(), 0.0, &mut dot);
        }
    }
    dot.into_shape_with_order((o.height, o.width, o.channels)).expect("P × O is H × W × O")
}

/// The input column of one output pixel, in FINN's (ky, kx, c) / (h, w, c) order: a kernel row
/// of the window is one contiguous run of the H×W×C input.
fn im2col(l: &Layer, input: &[f32], oy: usize, ox: usize, col: &mut [f32]) {
    match l.kind {
        LayerKind::Conv { kernel } => {
            let (w, c) = (l.input.width, l.input.channels);
            let span = kernel * c;
            for ky in 0..kernel {
                let start = ((oy + ky) * w + ox) * c;
                col[ky * span..(ky + 1) * span].copy_from_slice(&input[start..start + span]);
            }
        }
        _ => col.copy_from_slice(input),
    }
}
