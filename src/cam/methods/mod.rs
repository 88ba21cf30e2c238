//! The CAM methods, one file each (as in pytorch-grad-cam), on the shared base.

mod ablation_cam;
mod eigen_cam;
mod grad_cam;
mod grad_cam_plusplus;
mod hires_cam;
mod layer_cam;
mod score_cam;
mod xgrad_cam;

use super::base::CamMethod;
use crate::error::{Error, Result};

/// Every method, by its command-line name.
pub const ALL: [&dyn CamMethod; 8] = [
    &grad_cam::GradCam,
    &hires_cam::HiResCam,
    &grad_cam_plusplus::GradCamPlusPlus,
    &xgrad_cam::XGradCam,
    &layer_cam::LayerCam,
    &score_cam::ScoreCam,
    &ablation_cam::AblationCam,
    &eigen_cam::EigenCam,
];

pub fn by_name(name: &str) -> Result<&'static dyn CamMethod> {
    let key = name.to_ascii_lowercase().replace(['-', '_'], "");
    ALL.iter().copied().find(|m| m.name().replace('-', "") == key).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|m| m.name()).collect();
        Error::invalid(format!("unknown CAM method '{name}' (known: {})", names.join(", ")))
    })
}
