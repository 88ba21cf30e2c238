//! The PyO3 layer: numpy arrays in and out, library errors as Python exceptions, the GIL
//! released around every long call (and panics caught there, so none reaches Python). What each
//! call does is in [`crate::api`].

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use binarycop::error::Error as LibError;
use binarycop::lower::simulate::SimulateOptions;
use binarycop_hw::packing::Layout;
use ndarray::{concatenate, Array1, Array2, Array4, ArrayD, Axis, IxDyn};
use numpy::{IntoPyArray, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::api;

pyo3::create_exception!(binarycop, Error, PyException, "What binarycop failed at that is not bad arguments.");
pyo3::create_exception!(binarycop, FileError, Error, "A file that could not be read, parsed or written.");
pyo3::create_exception!(binarycop, UnsupportedModel, Error, "A model graph outside the supported family.");
pyo3::create_exception!(binarycop, DeploymentError, Error, "A FINN deployment folder that binarycop refused.");
pyo3::create_exception!(binarycop, DriverError, Error, "A step of the accelerator driver that failed.");

/// Images per GIL-free run of `infer` and `cam`: between runs Ctrl-C is noticed.
const CHUNK: usize = 64;

/// A library error as the Python exception for it, with the CLI's message: bad input is a
/// ValueError, a file that is not there a FileNotFoundError, the rest binarycop.Error's kinds.
fn to_py(e: LibError) -> PyErr {
    let msg = e.to_string();
    match e {
        LibError::Invalid(_) => PyValueError::new_err(msg),
        LibError::File { path, .. } if !path.exists() => PyFileNotFoundError::new_err(msg),
        LibError::File { .. } => FileError::new_err(msg),
        LibError::Unsupported { .. } => UnsupportedModel::new_err(msg),
        LibError::Deployment(_) => DeploymentError::new_err(msg),
        LibError::Driver { .. } => DriverError::new_err(msg),
    }
}

/// Runs `f` without the GIL; a panic becomes binarycop.Error instead of crossing into Python.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> binarycop::Result<T> + Send) -> PyResult<T> {
    let r = py.detach(|| std::panic::catch_unwind(AssertUnwindSafe(f)));
    match r {
        Ok(r) => r.map_err(to_py),
        Err(p) => {
            let what = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            Err(Error::new_err(format!("internal error (a bug in binarycop; please report it): {what}")))
        }
    }
}

/// Any array-like of whole numbers as i64 with its shape (floats must hold whole numbers, as
/// FINN keeps its tensors in float32).
fn integers(x: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<i64>, Vec<usize>)> {
    let np = x.py().import("numpy")?;
    let a = np.call_method1("asarray", (x,))?;
    let dtype = a.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    let size: usize = dtype.getattr("itemsize")?.extract()?;
    let shape: Vec<usize> = a.getattr("shape")?.extract()?;
    let values = if "bi".contains(kind.as_str()) || (kind == "u" && size < 8) {
        let a = a.call_method1("astype", ("int64",))?;
        let a: PyReadonlyArrayDyn<i64> = a.extract()?;
        a.as_array().iter().copied().collect()
    } else if kind == "f" || kind == "u" {
        let a = a.call_method1("astype", ("float64",))?;
        let a: PyReadonlyArrayDyn<f64> = a.extract()?;
        binarycop::npy::whole_numbers(a.as_array().iter().copied())
            .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?
    } else {
        return Err(PyValueError::new_err(format!(
            "{what}: dtype {} is not a number type (give integers, or floats holding whole numbers)",
            dtype.str()?
        )));
    };
    Ok((values, shape))
}

/// A uint8 N×H×W×C batch; other number types are taken when every value is a whole number in
/// 0..=255.
fn images(x: &Bound<'_, PyAny>) -> PyResult<Array4<u8>> {
    if let Ok(a) = x.extract::<PyReadonlyArrayDyn<u8>>() {
        if a.ndim() == 4 {
            let v = a.as_array().into_dimensionality::<ndarray::Ix4>().expect("4 dimensions");
            return Ok(v.as_standard_layout().into_owned());
        }
    }
    let (values, shape) = integers(x, "images")?;
    let &[n, h, w, c] = shape.as_slice() else {
        return Err(PyValueError::new_err(format!(
            "images must be a uint8 N×H×W×C array; got {} dimensions {shape:?}",
            shape.len()
        )));
    };
    let bytes = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            u8::try_from(v).map_err(|_| PyValueError::new_err(format!("images: element {i} is {v}, outside 0..=255")))
        })
        .collect::<PyResult<Vec<u8>>>()?;
    Ok(Array4::from_shape_vec((n, h, w, c), bytes).expect("numpy's shape"))
}

/// Python's json.loads of a serialized value: a dict of plain numbers, strings and lists.
fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).expect("JSON");
    py.import("json")?.call_method1("loads", (text,))
}

fn layout(reverse_inner: bool, reverse_endian: bool) -> Layout {
    Layout { reverse_inner, reverse_endian }
}

/// `infer`'s (labels, scores).
type Labelled<'py> = (Bound<'py, numpy::PyArray1<i64>>, Bound<'py, numpy::PyArray2<i32>>);

/// A binarized CNN loaded by :func:`binarycop.load`: the bit-exact CPU engine over its folded
/// form, and its training-time graph when the file had one.
#[pyclass(frozen, module = "binarycop")]
pub struct Model {
    inner: api::Model,
}

impl Model {
    /// `images` in chunks, each without the GIL, checking for Ctrl-C between them.
    fn chunked<T: Send>(
        &self,
        py: Python<'_>,
        images: Array4<u8>,
        resize: &str,
        run: impl Fn(&api::Model, ndarray::ArrayView4<u8>) -> binarycop::Result<T> + Sync,
    ) -> PyResult<Vec<T>> {
        let inner = &self.inner;
        let images = detached(py, || inner.prepare(images, resize))?;
        let mut out = Vec::new();
        for chunk in images.axis_chunks_iter(Axis(0), CHUNK) {
            py.check_signals()?;
            out.push(detached(py, || run(inner, chunk))?);
        }
        Ok(out)
    }
}

#[pymethods]
impl Model {
    /// The topology as a dict (what a topology JSON file holds).
    #[getter]
    fn topology<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.inner.topology_json(),))
    }

    /// The layer names, in order (Conv1_1 … FC3): what `trace` and `cam` take.
    #[getter]
    fn layers(&self) -> Vec<String> {
        self.inner.layers()
    }

    /// The input one image must have, (H, W, C).
    #[getter]
    fn input_shape(&self) -> (usize, usize, usize) {
        let s = self.inner.folded().topology.input;
        (s.height, s.width, s.channels)
    }

    /// The number of classes.
    #[getter]
    fn classes(&self) -> usize {
        self.inner.folded().topology.classes()
    }

    /// The file the model was loaded from.
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }

    fn __repr__(&self) -> String {
        let m = self.inner.folded();
        format!(
            "binarycop.Model('{}', topology '{}', {} layers, {} classes)",
            self.inner.path,
            m.topology.name,
            m.topology.layers.len(),
            m.topology.classes()
        )
    }

    /// Classifies a batch with the bit-exact engine, as `binarycop infer --backend cpu`.
    ///
    /// x: uint8 N×H×W×C (other sizes are resized with `resize`, "cv2" or "triangle").
    /// Returns (labels int64 [N], scores int32 [N, classes]); ties go to the lower class.
    #[pyo3(signature = (x, resize = "cv2"))]
    fn infer<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, resize: &str) -> PyResult<Labelled<'py>> {
        let parts = self.chunked(py, images(x)?, resize, |m, c| m.infer(c))?;
        let labels: Vec<i64> = parts.iter().flat_map(|(l, _)| l.iter().copied()).collect();
        let views: Vec<_> = parts.iter().map(|(_, s)| s.view()).collect();
        let scores: Array2<i32> = concatenate(Axis(0), &views).expect("same classes");
        Ok((Array1::from(labels).into_pyarray(py), scores.into_pyarray(py)))
    }

    /// Every named layer's values over the batch: {name: {"maps": int8 ±1 N×H×W×C or None
    /// (the last layer), "acc": int32 N×H×W×C pre-threshold accumulators or None (a pool)}}.
    ///
    /// Accumulators are in the folded domain: the map is +1 exactly where acc ≥ threshold;
    /// for binary-input layers acc is the XNOR popcount. The last layer's acc are the scores.
    #[pyo3(signature = (x, layers, resize = "cv2"))]
    fn trace<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        layers: Vec<String>,
        resize: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.inner;
        let x = images(x)?;
        let traced = detached(py, || inner.prepare(x, resize).and_then(|x| inner.trace(x.view(), &layers)))?;
        let out = PyDict::new(py);
        for t in traced {
            let d = PyDict::new(py);
            d.set_item("maps", t.maps.map(|m| m.into_pyarray(py)))?;
            d.set_item("acc", t.acc.map(|a| a.into_pyarray(py)))?;
            out.set_item(t.name, d)?;
        }
        Ok(out)
    }

    /// Class-activation heatmaps, float32 N×H×W in [0, 1] at the input's size, as
    /// `binarycop cam --model` writes them (heatmap.npy).
    ///
    /// method: gradcam, hirescam, gradcam++, xgradcam, layercam, scorecam, ablationcam,
    /// eigencam. graph: "deployed" (the folded integer network) or "training" (the f32 graph;
    /// needs a .onnx or parameter .npz). ste: "windowed" or "identity". target: the class
    /// (default: the predicted one). interp, relu: how raw maps become heatmaps (default the
    /// BinaryCoP seed script's: bicubic, no ReLU; pytorch-grad-cam's: "bilinear", True).
    /// A constant map gives an all-zero heatmap.
    #[pyo3(signature = (x, layer = "Pool2", method = "gradcam", graph = "deployed", ste = "windowed",
                        target = None, resize = "cv2", interp = "bicubic", relu = false))]
    #[allow(clippy::too_many_arguments)]
    fn cam<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        layer: &str,
        method: &str,
        graph: &str,
        ste: &str,
        target: Option<usize>,
        resize: &str,
        interp: &str,
        relu: bool,
    ) -> PyResult<Bound<'py, numpy::PyArray3<f32>>> {
        let o = api::CamOptions { layer, method, graph, ste, target, resize, interp, relu };
        let parts = self.chunked(py, images(x)?, resize, |m, c| m.cam(c, &o))?;
        let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
        Ok(concatenate(Axis(0), &views).expect("same size").into_pyarray(py))
    }

    /// Deployed against training-time CAMs: the metrics dict `binarycop compare` writes to
    /// metrics.json (Pearson, Spearman, IoU, SSIM, deletion/insertion AUCs per image, per
    /// class and per method, and the drift flags).
    ///
    /// methods: CAM method names. against: "training" (the f32 graph; needs a .onnx or
    /// parameter .npz) or a folder of toolbox exports. steps: deletion/insertion steps.
    /// names: one per image for the per-image rows (default "x[i]"). No ground-truth outlines.
    #[pyo3(signature = (x, layer = "Pool2", methods = vec!["gradcam".to_string()], against = "training",
                        ste = "windowed", interp = "bicubic", relu = false, steps = 16, names = None,
                        resize = "cv2"))]
    #[allow(clippy::too_many_arguments)]
    fn compare<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        layer: &str,
        methods: Vec<String>,
        against: &str,
        ste: &str,
        interp: &str,
        relu: bool,
        steps: usize,
        names: Option<Vec<String>>,
        resize: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let o = api::CompareOptions { layer, methods: &methods, against, ste, interp, relu, steps, names };
        let inner = &self.inner;
        let x = images(x)?;
        let v = detached(py, || inner.prepare(x, resize).and_then(|x| inner.compare(x.view(), &o)))?;
        json_to_py(py, &v)
    }

    /// The model's FINN dataflow accelerator simulated cycle by cycle: the dict
    /// `binarycop simulate --json` prints (per-node cycles, FIFOs, FPS, latency, resources).
    ///
    /// folding: a FINN folding_config.json or a preset (cnv, ncnv, ucnv). fifo_depth: one
    /// depth for all FIFOs or "auto"; flow: "finn" or "bnn-pynq" (default: bnn-pynq for a
    /// preset, finn for a file).
    #[pyo3(signature = (folding = "cnv", clock_mhz = 100.0, frames = 8, fifo_depth = None, flow = None))]
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        folding: &str,
        clock_mhz: f64,
        frames: usize,
        fifo_depth: Option<String>,
        flow: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = SimulateOptions { folding: folding.to_string(), clock_mhz, frames, fifo_depth, flow };
        let inner = &self.inner;
        let v = detached(py, || inner.simulate(&opts))?;
        json_to_py(py, &v)
    }
}

/// Loads a model: a Brevitas QONNX .onnx, a folded artifact .npz or a parameter .npz (with its
/// topology), as every binarycop command's --model.
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
    Ok(Model { inner: detached(py, || api::Model::load(&path))? })
}

/// FINN's finnpy_to_packed_bytearray: packs the last dimension of `arr` (integers, or floats
/// holding whole numbers) into bytes of FINN DataType `dtype` (BINARY, BIPOLAR, TERNARY, UINTn,
/// INTn). Returns uint8 shape arr.shape[:-1] + (row bytes,). The defaults are the driver's
/// layout (FINN's own defaults are False, False).
#[pyfunction]
#[pyo3(signature = (arr, dtype, reverse_inner = true, reverse_endian = true))]
fn pack<'py>(
    py: Python<'py>,
    arr: &Bound<'py, PyAny>,
    dtype: &str,
    reverse_inner: bool,
    reverse_endian: bool,
) -> PyResult<Bound<'py, numpy::PyArrayDyn<u8>>> {
    let (values, shape) = integers(arr, "arr")?;
    let (bytes, shape) = detached(py, || api::pack(&values, &shape, dtype, layout(reverse_inner, reverse_endian)))?;
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), bytes).expect("packed shape").into_pyarray(py))
}

/// FINN's packed_bytearray_to_finnpy: unpacks uint8 `packed` (rows of its last dimension;
/// bytes or bytearray are one row) into float32 values of FINN DataType `dtype`, shaped
/// `output_shape` (default, as FINN's: packed.shape[:-1] + (row bytes × 8 // bits,)).
#[pyfunction]
#[pyo3(signature = (packed, dtype, output_shape = None, reverse_inner = true, reverse_endian = true))]
fn unpack<'py>(
    py: Python<'py>,
    packed: &Bound<'py, PyAny>,
    dtype: &str,
    output_shape: Option<Vec<usize>>,
    reverse_inner: bool,
    reverse_endian: bool,
) -> PyResult<Bound<'py, numpy::PyArrayDyn<f32>>> {
    let (bytes, shape): (Vec<u8>, Vec<usize>) = if let Ok(a) = packed.extract::<PyReadonlyArrayDyn<u8>>() {
        (a.as_array().iter().copied().collect(), a.shape().to_vec())
    } else if let Some(b) = packed
        .cast::<pyo3::types::PyBytes>()
        .ok()
        .map(|b| b.as_bytes().to_vec())
        .or_else(|| packed.cast::<pyo3::types::PyByteArray>().ok().map(|b| b.to_vec()))
    {
        let n = b.len();
        (b, vec![n])
    } else {
        return Err(PyValueError::new_err(format!(
            "packed must be a uint8 array of FINN's packed bytes (or bytes, bytearray), got {}",
            packed.get_type().name()?
        )));
    };
    let (values, shape) =
        detached(py, || api::unpack(&bytes, &shape, dtype, output_shape, layout(reverse_inner, reverse_endian)))?;
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), values).expect("unpacked shape").into_pyarray(py))
}

/// A FINN deployment folder run by binarycop's Rust driver, shaped like FINN's
/// FINNExampleOverlay as BinaryCoP's notebook uses it: `ishape_normal`, `oshape_normal`,
/// `idt`, `odt`, `batch_size`, `execute(ibuf_normal)`, `throughput_test()`.
///
/// backend: "zynq" (a board: the bitstream must be loaded), "sim" (hw's IODMA driver against
/// the simulated FINN accelerator; needs a model) or "cpu" (the engine; needs a model).
/// model: a Model or a model path, checked against driver.py. folding: the sim backend's
/// (default: the paper's folding for the model's layer shapes).
#[pyclass(module = "binarycop")]
pub struct Accelerator {
    inner: api::Accel,
}

fn tuple<'py>(py: Python<'py>, v: Vec<usize>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, v)
}

#[pymethods]
impl Accelerator {
    #[new]
    #[pyo3(signature = (deploy, backend = "zynq", model = None, folding = None, batch_size = 1))]
    fn new(
        py: Python<'_>,
        deploy: PathBuf,
        backend: &str,
        model: Option<&Bound<'_, PyAny>>,
        folding: Option<String>,
        batch_size: usize,
    ) -> PyResult<Accelerator> {
        let backend: api::Backend = backend.parse().map_err(to_py)?;
        let folded = match model {
            None => None,
            Some(m) => match m.cast::<Model>() {
                Ok(m) => Some(m.get().inner.folded().clone()),
                Err(_) => {
                    let path: PathBuf = m.extract()?;
                    Some(detached(py, || api::Model::load(&path))?.folded().clone())
                }
            },
        };
        if !deploy.exists() {
            return Err(PyFileNotFoundError::new_err(format!("{}: no such deployment folder", deploy.display())));
        }
        let mut inner = detached(py, || api::Accel::open(&deploy, backend, folded, folding.as_deref()))?;
        inner.set_batch_size(batch_size).map_err(to_py)?;
        Ok(Accelerator { inner })
    }

    /// Frames per `execute` (FINN: the first dimension of ishape_normal and oshape_normal).
    #[getter]
    fn get_batch_size(&self) -> usize {
        self.inner.batch_size
    }

    #[setter]
    fn set_batch_size(&mut self, n: usize) -> PyResult<()> {
        self.inner.set_batch_size(n).map_err(to_py)
    }

    /// driver.py's input shape with N = batch_size, e.g. (1, 72, 72, 3).
    #[getter]
    fn ishape_normal<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        tuple(py, self.inner.batched(&self.inner.input.normal))
    }

    /// driver.py's output shape with N = batch_size, e.g. (1, 1).
    #[getter]
    fn oshape_normal<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        tuple(py, self.inner.batched(&self.inner.output.normal))
    }

    /// driver.py's folded input shape with N = batch_size, e.g. (1, 72, 72, 1, 3).
    #[getter]
    fn ishape_folded<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        tuple(py, self.inner.batched(&self.inner.input.folded))
    }

    /// driver.py's folded output shape with N = batch_size, e.g. (1, 1, 1).
    #[getter]
    fn oshape_folded<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        tuple(py, self.inner.batched(&self.inner.output.folded))
    }

    /// driver.py's packed input shape (bytes) with N = batch_size.
    #[getter]
    fn ishape_packed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        tuple(py, self.inner.batched(&self.inner.input.packed))
    }

    /// driver.py's packed output shape (bytes) with N = batch_size.
    #[getter]
    fn oshape_packed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        tuple(py, self.inner.batched(&self.inner.output.packed))
    }

    /// The input's FINN DataType name, e.g. "UINT8".
    #[getter]
    fn idt(&self) -> String {
        self.inner.input.dtype.to_string()
    }

    /// The output's FINN DataType name, e.g. "UINT8".
    #[getter]
    fn odt(&self) -> String {
        self.inner.output.dtype.to_string()
    }

    /// "zynq", "sim" or "cpu".
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// Runs one batch: `ibuf_normal` must be ishape_normal (uint8); returns the labels as
    /// float32 in oshape_normal, as FINN's execute does.
    fn execute<'py>(
        &self,
        py: Python<'py>,
        ibuf_normal: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, numpy::PyArrayDyn<f32>>> {
        let x = images(ibuf_normal)?;
        let inner = &self.inner;
        let (labels, shape) = detached(py, || inner.execute(x.view()))?;
        Ok(ArrayD::from_shape_vec(IxDyn(&shape), labels).expect("oshape_normal").into_pyarray(py))
    }

    /// FINN's throughput_test: a run of batch_size zero frames timed end to end (runtime[ms],
    /// throughput[images/s], DRAM bandwidths), fclk[mhz] as the .hwh gives it, batch_size,
    /// and the host steps timed on their own (fold_input, pack_input, the copies to and from
    /// the device, unpack_output, unfold_output, in ms). On the sim backend the run is the
    /// simulation's wall time, not the device's.
    fn throughput_test<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = &self.inner;
        let m = detached(py, || inner.throughput_test())?;
        json_to_py(py, &serde_json::Value::Object(m))
    }

    fn __repr__(&self) -> String {
        format!(
            "binarycop.Accelerator(deploy='{}', backend='{}', batch_size={})",
            self.inner.deploy.display(),
            self.inner.backend.name(),
            self.inner.batch_size
        )
    }
}

/// binarycop's engine, simulated FINN accelerator, Zynq driver and CAMs (the Rust library).
#[pymodule]
fn _binarycop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Model>()?;
    m.add_class::<Accelerator>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(pack, m)?)?;
    m.add_function(wrap_pyfunction!(unpack, m)?)?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("UnsupportedModel", py.get_type::<UnsupportedModel>())?;
    m.add("DeploymentError", py.get_type::<DeploymentError>())?;
    m.add("DriverError", py.get_type::<DriverError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
