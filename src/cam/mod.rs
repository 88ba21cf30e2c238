//! Class-activation maps from the deployed quantized network, from the training-time graph, or
//! from activations and gradients exported by the training toolbox; their comparison, metrics
//! and rendering.
//!
//! Layout follows pytorch-grad-cam: a shared base (`base`), one small file per method
//! (`methods/`), and the network access (`backprop`: gradients by two routes, and forward-only
//! probes for the gradient-free methods).

pub mod backprop;
pub mod base;
pub mod compare;
pub mod methods;
pub mod pointing;
pub mod render;
pub mod resize;
pub mod roi;

use std::path::Path;

use ndarray::{Array2, Array3, ArrayView3, Axis, Ix3, Ix4};

pub use backprop::{Deployed, Signals, Ste, Training};
pub use base::{finish, CamInputs, CamMethod, Heatmap, Post, Probe};
pub use resize::Interp;

use crate::error::{Error, Result};

/// A network route a CAM can be computed on.
pub trait Route {
    fn signals(&self, img: ArrayView3<u8>, layer: usize, class: Option<usize>, ste: Ste) -> Result<Signals>;
    fn probe<'b>(&'b self, img: ArrayView3<'b, u8>, layer: usize, class: usize) -> Result<Box<dyn Probe + 'b>>;
}

impl Route for Deployed<'_> {
    fn signals(&self, img: ArrayView3<u8>, layer: usize, class: Option<usize>, ste: Ste) -> Result<Signals> {
        Deployed::signals(self, img, layer, class, ste)
    }
    fn probe<'b>(&'b self, img: ArrayView3<'b, u8>, layer: usize, class: usize) -> Result<Box<dyn Probe + 'b>> {
        Ok(Box::new(Deployed::probe(self, img, layer, class)?))
    }
}

impl Route for Training<'_> {
    fn signals(&self, img: ArrayView3<u8>, layer: usize, class: Option<usize>, ste: Ste) -> Result<Signals> {
        Training::signals(self, img, layer, class, ste)
    }
    fn probe<'b>(&'b self, img: ArrayView3<'b, u8>, layer: usize, class: usize) -> Result<Box<dyn Probe + 'b>> {
        Ok(Box::new(Training::probe(self, img, layer, class)?))
    }
}

/// What to compute.
#[derive(Clone, Copy)]
pub struct Request {
    pub layer: usize,
    pub method: &'static dyn CamMethod,
    /// None: the predicted class.
    pub class: Option<usize>,
    pub ste: Ste,
    pub post: Post,
}

/// One image's CAM.
#[derive(Clone, Debug)]
pub struct Cam {
    /// At the layer's resolution, before ReLU and normalization.
    pub raw: Array2<f32>,
    pub heatmap: Heatmap,
    pub class: usize,
    pub logits: Vec<f32>,
}

/// Computes one CAM on a route.
pub fn compute(route: &dyn Route, img: ArrayView3<u8>, req: &Request) -> Result<Cam> {
    let s = route.signals(img, req.layer, req.class, req.ste)?;
    let raw = if req.method.uses_gradients() {
        req.method.raw_map(&CamInputs {
            activations: s.activations.view(),
            gradients: Some(s.gradients.view()),
            probe: None,
        })?
    } else {
        let probe = route.probe(img, req.layer, s.class)?;
        req.method.raw_map(&CamInputs {
            activations: s.activations.view(),
            gradients: None,
            probe: Some(probe.as_ref()),
        })?
    };
    check_finite(&format!("the raw {} map", req.method.name()), raw.iter())?;
    let heatmap = finish(&raw, (img.dim().0, img.dim().1), req.post);
    Ok(Cam { raw, heatmap, class: s.class, logits: s.logits })
}

/// The seed workflow: Grad-CAM from exported activations and gradients (H×W×C each).
pub fn from_exported(
    activations: &Array3<f32>,
    gradients: &Array3<f32>,
    size: (usize, usize),
    post: Post,
) -> Result<Cam> {
    if activations.dim() != gradients.dim() {
        return Err(crate::Error::invalid(format!(
            "activations are {:?} but gradients are {:?} (H, W, C): they must match",
            activations.dim(),
            gradients.dim()
        )));
    }
    check_finite("the activations", activations.iter())?;
    check_finite("the gradients", gradients.iter())?;
    let raw = methods::by_name("gradcam")?.raw_map(&CamInputs {
        activations: activations.view(),
        gradients: Some(gradients.view()),
        probe: None,
    })?;
    check_finite("the raw Grad-CAM map", raw.iter())?;
    let heatmap = finish(&raw, size, post);
    Ok(Cam { raw, heatmap, class: 0, logits: Vec::new() })
}

/// Reads one array from an `np.savez` file as H×W×C f32 (a leading batch of 1 is dropped).
pub fn read_exported(path: &Path, key: &str, chw: bool) -> Result<Array3<f32>> {
    exported_from_bytes(&crate::data::read_input(path)?, key, chw).map_err(|e| e.in_file(path))
}

/// [`read_exported`] on the bytes of the `.npz`. Every value must be finite: NaN or Inf in an
/// export means the export is broken, and would silently become a zero map.
pub fn exported_from_bytes(bytes: &[u8], key: &str, chw: bool) -> Result<Array3<f32>> {
    let a = crate::npy::Npz::new(std::io::Cursor::new(bytes))?.read::<f32>(key)?;
    let a = match a.ndim() {
        3 => a.into_dimensionality::<Ix3>().expect("3-D"),
        4 if a.shape()[0] == 1 => a.into_dimensionality::<Ix4>().expect("4-D").index_axis_move(Axis(0), 0),
        _ => {
            return Err(Error::invalid(format!(
                "array '{key}' has shape {:?}; expected H×W×C (or C×H×W with --layout chw)",
                a.shape()
            )))
        }
    };
    let a = if chw { a.permuted_axes([1, 2, 0]) } else { a };
    let a = a.as_standard_layout().to_owned();
    check_finite(&format!("array '{key}'"), a.iter())?;
    Ok(a)
}

/// An error naming the first NaN or infinite value, if any.
pub fn check_finite<'a>(what: &str, values: impl IntoIterator<Item = &'a f32>) -> Result<()> {
    match values.into_iter().enumerate().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((i, v)) => Err(Error::invalid(format!(
            "{what} holds {v} at flat index {i}: a CAM needs finite activations and gradients"
        ))),
    }
}
