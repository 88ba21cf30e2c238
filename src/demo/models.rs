//! The default models, embedded in the binary so `binarycop` works with no files: parameter
//! npz files (±1 weights, BatchNorm, topology) trained by python/train_models.py on binarycop's
//! synthetic faces; see models/README.md. They are folded on load.

use super::DemoModel;
use crate::data::synth::Artifact;
use crate::error::{Error, Result};
use crate::model::import_npz;

/// (name, parameter npz, the spurious cue it was trained with).
const EMBEDDED: [(&str, &[u8], Option<Artifact>); 4] = [
    ("cnv", include_bytes!("../../models/cnv.params.npz"), None),
    ("ncnv", include_bytes!("../../models/ncnv.params.npz"), None),
    ("ucnv", include_bytes!("../../models/ucnv.params.npz"), None),
    ("ucnv_artifact", include_bytes!("../../models/ucnv_artifact.params.npz"), Some(Artifact::Tag)),
];

pub fn names() -> Vec<&'static str> {
    EMBEDDED.iter().map(|(n, _, _)| *n).collect()
}

/// One embedded model by name.
pub fn load(name: &str) -> Result<DemoModel> {
    let (n, bytes, cue) = EMBEDDED
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::invalid(format!("unknown model '{name}' (embedded: {})", names().join(", "))))?;
    let trained =
        import_npz::import_bytes(bytes, None).map_err(|e| Error::invalid(format!("embedded model '{n}': {e}")))?;
    Ok(DemoModel { name: n.to_string(), trained, trained_with: *cue })
}
