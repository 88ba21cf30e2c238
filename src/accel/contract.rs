//! The host side of a FINN deployment's contract: what its driver.py (hw's
//! [`finn_driver`](binarycop_hw::finn_driver)) says, read as the images binarycop feeds and the
//! labels it reads back, and the checks of a model and of class names against it.
//!
//! binarycop feeds uint8 NHWC images and reads one class index per image (FINN's LabelSelect
//! with K = 1), so a contract needs: one input and one output (hw refuses others), `idt`
//! UINT8 with `ishape_normal` (N, H, W, C), and an unsigned `odt` with one element per frame.
//! Frames are sized from driver.py alone; a model, when given, must take exactly that image,
//! and its class indices must fit `odt`. Class names (`--class-names`) must name every class.

use std::path::{Path, PathBuf};

use binarycop_hw::driver::IoShape;
use binarycop_hw::finn_driver::{py_tuple, DriverPy};
use binarycop_hw::packing::DataType;

use super::IoSpec;
use crate::error::{Error, Result};
use crate::model::{FoldedModel, Shape};

/// The most class names read from a file or a list.
const MAX_CLASS_NAMES: usize = 65536;

/// What a driver.py promises, in binarycop's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    pub driver_path: PathBuf,
    /// One input image, H×W×C.
    pub image: Shape,
    /// What the IODMA driver moves per frame.
    pub input: IoShape,
    pub output: IoShape,
    /// `odt`: the type of a class index.
    pub label_type: DataType,
    /// `ishape_normal` as driver.py writes it, for messages.
    pub ishape: String,
}

impl Contract {
    /// Reads the contract out of a parsed driver.py (see the module notes for what it needs).
    pub fn from_driver(d: &DriverPy) -> Result<Contract> {
        let (i, o) = d.single_io()?;
        let bad = |msg: String| Error::file(&d.path, msg);
        if i.dtype != DataType::UINT8 {
            return Err(bad(format!("idt is {}: binarycop feeds UINT8 images", i.dtype)));
        }
        let [h, w, c] = i.frame() else {
            return Err(bad(format!("ishape_normal {} is not an NHWC image (N, H, W, C)", py_tuple(&i.normal))));
        };
        if o.frame().iter().product::<usize>() != 1 {
            return Err(bad(format!(
                "oshape_normal {}: binarycop reads one class index per image (FINN's LabelSelect with K = 1)",
                py_tuple(&o.normal)
            )));
        }
        if o.dtype.signed() {
            return Err(bad(format!("odt is {}: a class index is unsigned", o.dtype)));
        }
        Ok(Contract {
            driver_path: d.path.clone(),
            image: Shape::new(*h, *w, *c),
            input: i.io_shape(),
            output: o.io_shape(),
            label_type: o.dtype,
            ishape: py_tuple(&i.normal),
        })
    }

    /// Checks the model against the deployment: the same input image, classes that fit odt.
    pub fn check_model(&self, model: &FoldedModel) -> Result<()> {
        let (m, path) = (model.topology.input, self.driver_path.display());
        if m != self.image {
            return Err(Error::invalid(format!(
                "the model takes {m} images, {path} says {} (ishape_normal {}): this deployment is not a build \
                 of this model",
                self.image, self.ishape
            )));
        }
        let classes = model.topology.classes();
        if classes as u64 > self.max_label() + 1 {
            return Err(Error::invalid(format!(
                "the model has {classes} classes, {path} says odt {}, which holds class indices up to {}",
                self.label_type,
                self.max_label()
            )));
        }
        Ok(())
    }

    fn max_label(&self) -> u64 {
        self.label_type.max() as u64
    }

    /// What a backend running this deployment takes and returns: the model's classes when there
    /// is one (checked first), else only what odt can hold.
    pub fn io_spec(&self, model: Option<&FoldedModel>) -> Result<IoSpec> {
        let classes = match model {
            Some(m) => {
                self.check_model(m)?;
                Some(m.topology.classes())
            }
            None => None,
        };
        Ok(IoSpec { image: self.image, classes, max_label: self.max_label() })
    }
}

/// Names for class indices, checked against what a backend returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassNames(Vec<String>);

impl ClassNames {
    /// `arg` is a file with one name per line (blank lines skipped), or a comma-separated list.
    pub fn parse(arg: &str) -> Result<Vec<String>> {
        let path = Path::new(arg);
        let (names, origin): (Vec<String>, String) = if path.is_file() {
            let meta = std::fs::metadata(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
            if meta.len() > 16 << 20 {
                return Err(Error::file(path, "more than 16 MiB: not a class-name list"));
            }
            let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
            let names = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
            (names, path.display().to_string())
        } else {
            (arg.split(',').map(|n| n.trim().to_string()).collect(), "--class-names".to_string())
        };
        if names.is_empty() || names.len() > MAX_CLASS_NAMES {
            return Err(Error::invalid(format!(
                "{origin}: {} class names; expected 1 to {MAX_CLASS_NAMES}",
                names.len()
            )));
        }
        if let Some(i) = names.iter().position(String::is_empty) {
            return Err(Error::invalid(format!("{origin}: class name {i} is empty")));
        }
        if let Some((i, n)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
            return Err(Error::invalid(format!("{origin}: class name {i} ('{n}') appears twice")));
        }
        Ok(names)
    }

    /// Checks the names against a backend: one per class when the classes are known, else no
    /// more than the output type holds.
    pub fn new(names: Vec<String>, io: &IoSpec) -> Result<ClassNames> {
        let n = names.len();
        match io.classes {
            Some(c) if c != n => {
                Err(Error::invalid(format!("{n} class names for the model's {c} classes: give one name per class")))
            }
            None if n as u64 > io.max_label.saturating_add(1) => Err(Error::invalid(format!(
                "{n} class names, but the accelerator's class index holds at most {} values",
                io.max_label.saturating_add(1)
            ))),
            _ => Ok(ClassNames(names)),
        }
    }

    /// The name of a label; a label without a name is an error.
    pub fn name(&self, label: usize) -> Result<&str> {
        self.0.get(label).map(String::as_str).ok_or_else(|| {
            Error::invalid(format!(
                "the accelerator returned label {label}, but only {} class names were given",
                self.0.len()
            ))
        })
    }
}
