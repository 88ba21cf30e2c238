//! What the Python package does, in Rust terms: each function calls the library as the CLI's
//! subcommand does (src/cli) and returns plain arrays, so the PyO3 layer ([`crate::python`])
//! only converts numpy arrays and errors. Everything here builds and is tested without Python.

use std::path::{Path, PathBuf};
use std::time::Instant;

use binarycop::accel::{
    self, Accelerator, Contract, CpuAccel, SimAccel, SimAccelConfig, ZynqAccel, ZynqOptions, ZynqSource,
};
use binarycop::cam::{self, methods, Deployed, Post, Request, Route, Ste, Training};
use binarycop::data::{Preprocess, Resize};
use binarycop::engine::Trace;
use binarycop::error::{Error, Result};
use binarycop::lower::simulate::{self, SimulateOptions};
use binarycop::model::{self, FoldedModel, TrainedModel};
use binarycop::reference::Reference;
use binarycop_hw::deployment::FinnDeployment;
use binarycop_hw::finn_driver::IoTensor;
use binarycop_hw::packing::{self, DataType, Layout};
use ndarray::{Array2, Array3, Array4, ArrayView4, Axis};
use rayon::prelude::*;

/// A loaded model: the CPU engine over its folded form, and the training graph when the file
/// had one (a .onnx or parameter .npz; an artifact has none).
pub struct Model {
    /// The path as given to [`Model::load`] (the `model` of `simulate`'s report).
    pub path: String,
    pub cpu: CpuAccel,
    pub trained: Option<TrainedModel>,
}

/// One traced layer over a batch.
pub struct TracedLayer {
    pub name: String,
    /// The ±1 output map, N×H×W×C; None for the last layer (its output is the class scores).
    pub maps: Option<Array4<i8>>,
    /// The pre-threshold accumulators, N×H×W×C, in the folded domain (the map is +1 exactly
    /// where acc ≥ T); None for a pool layer.
    pub acc: Option<Array4<i32>>,
}

/// What `Model.compare` compares.
pub struct CompareOptions<'a> {
    pub layer: &'a str,
    pub methods: &'a [String],
    /// "training" or a folder of toolbox exports.
    pub against: &'a str,
    pub ste: &'a str,
    pub interp: &'a str,
    pub relu: bool,
    pub steps: usize,
    /// One name per image for metrics.json; default `x[i]`.
    pub names: Option<Vec<String>>,
}

/// Per-image H×W×C arrays as one N×H×W×C array.
fn stack<T: Clone>(v: Vec<Array3<T>>, dim: (usize, usize, usize, usize)) -> Array4<T> {
    let flat: Vec<T> = v.into_iter().flat_map(|a| a.into_iter()).collect();
    Array4::from_shape_vec(dim, flat).expect("a layer's values have its output shape")
}

/// What `Model.cam` computes.
pub struct CamOptions<'a> {
    pub layer: &'a str,
    pub method: &'a str,
    pub graph: &'a str,
    pub ste: &'a str,
    pub target: Option<usize>,
    pub resize: &'a str,
    pub interp: &'a str,
    pub relu: bool,
}

fn resize_of(name: &str) -> Result<Resize> {
    match name.to_ascii_lowercase().as_str() {
        "cv2" => Ok(Resize::Cv2),
        "triangle" => Ok(Resize::Triangle),
        other => Err(Error::invalid(format!("unknown resize '{other}' (cv2, triangle)"))),
    }
}

impl Model {
    /// A QONNX .onnx, a folded artifact .npz or a parameter .npz with its topology.
    pub fn load(path: &Path) -> Result<Model> {
        let loaded = model::load(path)?;
        Ok(Model { path: path.display().to_string(), cpu: CpuAccel::new(loaded.folded)?, trained: loaded.trained })
    }

    pub fn folded(&self) -> &FoldedModel {
        self.cpu.engine().model()
    }

    /// The topology as JSON (what a topology file holds).
    pub fn topology_json(&self) -> String {
        self.folded().topology.to_json()
    }

    /// The layer names, in order.
    pub fn layers(&self) -> Vec<String> {
        self.folded().resolved().into_iter().map(|l| l.name).collect()
    }

    /// Images brought to the model's input: as they are when they have its size, else each
    /// resized as the CLI resizes pictures (`--resize`). The channels must match.
    pub fn prepare(&self, images: Array4<u8>, resize: &str) -> Result<Array4<u8>> {
        let shape = self.folded().topology.input;
        let (n, h, w, c) = images.dim();
        let resize = resize_of(resize)?;
        if n == 0 {
            return Err(Error::invalid("the batch is empty"));
        }
        if (h, w, c) == (shape.height, shape.width, shape.channels) {
            return Ok(images);
        }
        if c != shape.channels {
            return Err(Error::invalid(format!("images have {c} channels, the model takes {shape}")));
        }
        if h == 0 || w == 0 {
            return Err(Error::invalid(format!("images are {h}x{w}: nothing to resize")));
        }
        let prep = Preprocess { crop: None, resize };
        let out: Vec<u8> = images
            .axis_iter(Axis(0))
            .map(|img| prep.apply(img, shape))
            .collect::<Result<Vec<Array3<u8>>>>()?
            .into_iter()
            .flat_map(|a| a.into_iter())
            .collect();
        Ok(Array4::from_shape_vec((n, shape.height, shape.width, shape.channels), out).expect("resized to the input"))
    }

    /// Labels (top-1, ties to the lower index) and class scores, as `infer --backend cpu`.
    pub fn infer(&self, images: ArrayView4<u8>) -> Result<(Vec<i64>, Array2<i32>)> {
        let out = self.cpu.run(images, &[])?;
        let labels = out.labels.iter().map(|&l| i64::try_from(l).expect("a label fits i64")).collect();
        Ok((labels, out.scores.expect("the cpu backend has scores")))
    }

    /// Every named layer's ±1 maps and accumulators (names as `infer --tap` takes them).
    pub fn trace(&self, images: ArrayView4<u8>, layers: &[String]) -> Result<Vec<TracedLayer>> {
        let engine = self.cpu.engine();
        accel::check_batch(self.cpu.io(), &images)?;
        let idx = layers.iter().map(|l| self.folded().topology.find_layer(l)).collect::<Result<Vec<_>>>()?;
        let Some(&upto) = idx.iter().max() else { return Ok(Vec::new()) };
        let traces: Vec<Trace> = (0..images.dim().0)
            .into_par_iter()
            .map(|i| engine.trace(images.index_axis(Axis(0), i), upto))
            .collect::<Result<_>>()?;
        let n = traces.len();
        let names = self.layers();
        Ok(idx
            .iter()
            .map(|&t| {
                let s = engine.layers()[t].output;
                let dim = (n, s.height, s.width, s.channels);
                let outs = traces.iter().map(|tr| &tr.layers[t]);
                let maps = outs.clone().map(|o| o.bits.as_ref().map(|b| b.to_pm1())).collect::<Option<Vec<_>>>();
                let acc = outs.map(|o| o.acc.clone()).collect::<Option<Vec<_>>>();
                TracedLayer {
                    name: names[t].clone(),
                    maps: maps.map(|v| stack(v, dim)),
                    acc: acc.map(|v| stack(v, dim)),
                }
            })
            .collect())
    }

    /// Heatmaps in [0, 1] at the input's size, N×H×W, as `cam --model` writes them
    /// (heatmap.npy per image).
    pub fn cam(&self, images: ArrayView4<u8>, o: &CamOptions) -> Result<Array3<f32>> {
        let method = methods::by_name(o.method)?;
        let layer = self.folded().topology.find_layer(o.layer)?;
        let ste: Ste = o.ste.parse().map_err(Error::invalid)?;
        let interp: cam::Interp = o.interp.parse().map_err(Error::invalid)?;
        let post = Post { relu: o.relu, interp };
        resize_of(o.resize)?;
        accel::check_batch(self.cpu.io(), &images)?;
        let reference;
        let (deployed, training);
        let route: &(dyn Route + Sync) = match o.graph {
            "deployed" => {
                deployed = Deployed::new(self.cpu.engine());
                &deployed
            }
            "training" => {
                let trained = self.trained.clone().ok_or_else(|| {
                    Error::file(&self.path, "a folded artifact has no training graph; pass the .onnx or parameter .npz")
                })?;
                reference = Reference::new(trained)?;
                training = Training::new(&reference);
                &training
            }
            other => return Err(Error::invalid(format!("unknown graph '{other}' (deployed, training)"))),
        };
        let req = Request { layer, method, class: o.target, ste, post };
        let maps: Vec<Array2<f32>> = (0..images.dim().0)
            .into_par_iter()
            .map(|i| cam::compute(route, images.index_axis(Axis(0), i), &req).map(|c| c.heatmap.map))
            .collect::<Result<_>>()?;
        let (h, w) = maps[0].dim();
        let flat: Vec<f32> = maps.into_iter().flat_map(|m| m.into_iter()).collect();
        Ok(Array3::from_shape_vec((flat.len() / (h * w), h, w), flat).expect("every heatmap has the image's size"))
    }

    /// The metrics `compare` writes to metrics.json: deployed against training-time (or
    /// exported) CAMs per image, per class and per method.
    pub fn compare(&self, images: ArrayView4<u8>, o: &CompareOptions) -> Result<serde_json::Value> {
        use binarycop::cam::study::{Against, Study};
        let max = binarycop::limits::MAX_FAITHFULNESS_STEPS;
        if !(1..=max).contains(&o.steps) {
            return Err(Error::invalid(format!("steps must be between 1 and {max}, got {}", o.steps)));
        }
        let trained = self.trained.clone().ok_or_else(|| {
            Error::file(&self.path, "a folded artifact has no training graph; pass the .onnx or parameter .npz")
        })?;
        if o.methods.is_empty() {
            return Err(Error::invalid("no CAM methods were given"));
        }
        let methods = o.methods.iter().map(|m| methods::by_name(m.trim())).collect::<Result<_>>()?;
        let layer = self.folded().topology.find_layer(o.layer)?;
        let ste: Ste = o.ste.parse().map_err(Error::invalid)?;
        let post = Post { relu: o.relu, interp: o.interp.parse().map_err(Error::invalid)? };
        let n = accel::check_batch(self.cpu.io(), &images)?;
        let names = match &o.names {
            Some(v) if v.len() != n => {
                return Err(Error::invalid(format!("{} names for {n} images: give one name per image", v.len())))
            }
            Some(v) => v.clone(),
            None => (0..n).map(|i| format!("x[{i}]")).collect(),
        };
        let reference = Reference::new(trained)?;
        let against = match o.against {
            "training" => Against::Training(Training::new(&reference)),
            dir => Against::Exports(PathBuf::from(dir)),
        };
        let study = Study { engine: self.cpu.engine(), against, layer, methods, ste, post, steps: o.steps };
        let batch = images.to_owned();
        let outcome = study.run(&self.path, &batch, &names, None, &binarycop::progress::Progress::hidden())?;
        Ok(outcome.summary)
    }

    /// `simulate --json`'s report for this model.
    pub fn simulate(&self, opts: &SimulateOptions) -> Result<serde_json::Value> {
        let r = simulate::simulate(self.folded(), opts)?;
        Ok(simulate::report_json(&r, &self.path, &opts.folding, &self.folded().topology.name))
    }
}

/// A FINN DataType by name (BINARY, BIPOLAR, TERNARY, UINTn, INTn).
pub fn dtype_of(name: &str) -> Result<DataType> {
    name.parse().map_err(|e: packing::PackError| Error::invalid(format!("dtype: {e}")))
}

/// FINN's finnpy_to_packed_bytearray: the last dimension of `shape` packed, each row into whole
/// bytes; returns the bytes and their shape (shape[:-1] + (row bytes,)).
pub fn pack(values: &[i64], shape: &[usize], dtype: &str, layout: Layout) -> Result<(Vec<u8>, Vec<usize>)> {
    let dt = dtype_of(dtype)?;
    let (&inner, outer) =
        shape.split_last().ok_or_else(|| Error::invalid("a 0-dimensional array has no dimension to pack"))?;
    if inner == 0 || values.is_empty() {
        return Err(Error::invalid(format!("empty array (shape {shape:?}): nothing to pack")));
    }
    let packed = packing::pack_to_vec(values, inner, dt, layout).map_err(|e| Error::invalid(e.to_string()))?;
    let mut out_shape = outer.to_vec();
    out_shape.push(dt.row_bytes(inner));
    Ok((packed, out_shape))
}

/// FINN's packed_bytearray_to_finnpy: `bytes` in rows of the last dimension of `packed_shape`;
/// `out_shape` defaults, as FINN's, to packed_shape[:-1] + (row bytes × 8 / bits,). Values as
/// float32, as FINN returns them.
pub fn unpack(
    bytes: &[u8],
    packed_shape: &[usize],
    dtype: &str,
    out_shape: Option<Vec<usize>>,
    layout: Layout,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let dt = dtype_of(dtype)?;
    let (&row_bytes, outer) =
        packed_shape.split_last().ok_or_else(|| Error::invalid("a 0-dimensional array has no packed dimension"))?;
    let shape = match out_shape {
        Some(s) => s,
        None => {
            let inner = row_bytes
                .checked_mul(8)
                .map(|b| b / dt.bits() as usize)
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::invalid(format!("rows of {row_bytes} bytes hold no whole {dt} element")))?;
            outer.iter().copied().chain([inner]).collect()
        }
    };
    let size = binarycop::packed::unpack_size(dt, &shape, "output_shape")?;
    binarycop::packed::check_len(&size, bytes.len(), &shape, dt)?;
    let v: Vec<i64> =
        packing::unpack_to_vec(bytes, size.inner, dt, layout).map_err(|e| Error::invalid(e.to_string()))?;
    // |v| < 2^32 > 2^24: INT/UINT above 24 bits may round in float32, as in FINN.
    Ok((v.into_iter().map(|x| x as f32).collect(), shape))
}

/// Where an [`Accel`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    Sim,
    Zynq,
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Backend> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Backend::Cpu),
            "sim" => Ok(Backend::Sim),
            "zynq" => Ok(Backend::Zynq),
            other => Err(Error::invalid(format!("unknown backend '{other}' (cpu, sim, zynq)"))),
        }
    }
}

/// A FINN deployment run through one of the backends, as FINN's FINNExampleOverlay presents it:
/// driver.py's shapes and types, a batch size, execute and a throughput test.
pub struct Accel {
    pub backend: Box<dyn Accelerator>,
    pub deploy: PathBuf,
    pub input: IoTensor,
    pub output: IoTensor,
    /// The PL clock the .hwh asks for (FINN's driver reads the PS clock register on a board).
    pub fclk_mhz: Option<f64>,
    pub batch_size: usize,
}

impl Accel {
    /// Opens `deploy` (driver.py, .hwh, .bit) on a backend, as `infer --backend B --deploy DIR`
    /// does; `folding` is the sim backend's (default: the paper's for the model's topology).
    pub fn open(deploy: &Path, backend: Backend, model: Option<FoldedModel>, folding: Option<&str>) -> Result<Accel> {
        let d = FinnDeployment::open(deploy)?;
        let (i, o) = d.driver.single_io()?;
        let contract = Contract::from_driver(&d.driver)?;
        let need_model = || Error::invalid(format!("--backend {backend:?} needs --model").to_lowercase());
        let backend: Box<dyn Accelerator> = match backend {
            Backend::Cpu => {
                let m = model.ok_or_else(need_model)?;
                contract.check_model(&m)?;
                Box::new(CpuAccel::new(m)?)
            }
            Backend::Sim => {
                let m = model.ok_or_else(need_model)?;
                let f = accel::sim::folding_for(&m, folding)?;
                let cfg = SimAccelConfig { deploy: Some(deploy.to_path_buf()), ..Default::default() };
                Box::new(SimAccel::with_config(m, &f, cfg)?)
            }
            Backend::Zynq => {
                Box::new(ZynqAccel::open(&ZynqSource::Deploy(deploy.to_path_buf()), &ZynqOptions::default(), model)?)
            }
        };
        Ok(Accel {
            backend,
            deploy: deploy.to_path_buf(),
            input: i.clone(),
            output: o.clone(),
            fclk_mhz: d.files.hwh.fclk_mhz,
            batch_size: 1,
        })
    }

    /// Sets the frames per `execute`: at least 1, and a batch's input within
    /// MAX_TENSOR_ELEMENTS.
    pub fn set_batch_size(&mut self, n: usize) -> Result<()> {
        let frame: usize = self.input.frame().iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX);
        let max = binarycop::limits::MAX_TENSOR_ELEMENTS / frame.max(1);
        if !(1..=max).contains(&n) {
            return Err(Error::invalid(format!("batch_size must be between 1 and {max}, got {n}")));
        }
        self.batch_size = n;
        Ok(())
    }

    /// A driver.py shape with the batch size in front, as FINN's `ishape_normal()` gives it.
    pub fn batched(&self, shape: &[usize]) -> Vec<usize> {
        std::iter::once(self.batch_size).chain(shape.iter().skip(1).copied()).collect()
    }

    /// Runs a batch of `ishape_normal` images; returns the labels in `oshape_normal`, float32 as
    /// FINN's unpack returns them.
    pub fn execute(&self, images: ArrayView4<u8>) -> Result<(Vec<f32>, Vec<usize>)> {
        let want = self.batched(&self.input.normal);
        let (n, h, w, c) = images.dim();
        if [n, h, w, c][..] != want[..] {
            return Err(Error::invalid(format!(
                "input shape {:?} does not match ishape_normal {want:?} (set batch_size to change N)",
                [n, h, w, c]
            )));
        }
        let out = self.backend.run(images, &[])?;
        Ok((out.labels.iter().map(|&l| l as f32).collect(), self.batched(&self.output.normal)))
    }

    /// FINN's throughput_test: one run of `batch_size` zero frames timed end to end, then the
    /// host steps timed on their own with hw's packing (fold and unfold are the NHWC copies,
    /// the copies to and from the device the packed bytes' copy into a buffer).
    pub fn throughput_test(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
        let shape = self.batched(&self.input.normal);
        let len = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::invalid(format!("ishape_normal {shape:?} is too large")))?;
        let dim = (shape[0], shape[1], shape[2], shape[3]);
        let zeros = Array4::<u8>::zeros(dim);
        let start = Instant::now();
        self.backend.run(zeros.view(), &[])?;
        let runtime = start.elapsed().as_secs_f64();
        let bytes = |t: &IoTensor| -> usize {
            let frame: usize = t.packed.iter().skip(1).product();
            frame.saturating_mul(self.batch_size)
        };
        let (total_in, total_out) = (bytes(&self.input), bytes(&self.output));
        let mut res = serde_json::Map::new();
        let mut put = |k: &str, v: serde_json::Value| {
            res.insert(k.to_string(), v);
        };
        put("runtime[ms]", (runtime * 1000.0).into());
        put("throughput[images/s]", (self.batch_size as f64 / runtime).into());
        put("DRAM_in_bandwidth[MB/s]", (total_in as f64 * 1e-6 / runtime).into());
        put("DRAM_out_bandwidth[MB/s]", (total_out as f64 * 1e-6 / runtime).into());
        put("fclk[mhz]", self.fclk_mhz.into());
        put("batch_size", self.batch_size.into());
        // The host side, step by step, on a pseudo-random input of idt's values.
        let input: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
        let t = Instant::now();
        let folded = Array4::from_shape_vec(dim, input).expect("ishape_normal").as_standard_layout().to_owned();
        put("fold_input[ms]", ms(t).into());
        let inner = *self.input.folded.last().expect("a folded shape");
        let t = Instant::now();
        let packed =
            packing::pack_to_vec(folded.as_slice().expect("standard layout"), inner, self.input.dtype, Layout::DRIVER)
                .map_err(|e| Error::invalid(e.to_string()))?;
        put("pack_input[ms]", ms(t).into());
        let t = Instant::now();
        let device_in = packed.clone();
        put("copy_input_data_to_device[ms]", ms(t).into());
        let out_bytes = vec![0u8; total_out];
        let t = Instant::now();
        let host_out = out_bytes.clone();
        put("copy_output_data_from_device[ms]", ms(t).into());
        let out_inner = *self.output.folded.last().expect("a folded shape");
        let t = Instant::now();
        let labels: Vec<i64> = packing::unpack_to_vec(&host_out, out_inner, self.output.dtype, Layout::DRIVER)
            .map_err(|e| Error::invalid(e.to_string()))?;
        put("unpack_output[ms]", ms(t).into());
        let t = Instant::now();
        let unfolded: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
        put("unfold_output[ms]", ms(t).into());
        debug_assert_eq!(device_in.len(), total_in);
        debug_assert_eq!(unfolded.len(), self.batched(&self.output.normal).iter().product::<usize>());
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

    fn fixture(name: &str) -> PathBuf {
        Path::new(ROOT).join("tests/fixtures").join(name)
    }

    fn inputs(name: &str, shape: binarycop::model::Shape) -> Array4<u8> {
        binarycop::data::load_npy(&fixture(name).join("inputs.npy"), shape).unwrap()
    }

    #[test]
    fn infer_gives_the_fixture_labels_and_trace_ends_in_the_scores() {
        let m = Model::load(&fixture("ncnv_trained/model.onnx")).unwrap();
        let x = inputs("ncnv_trained", m.folded().topology.input);
        let (labels, scores) = m.infer(x.view()).unwrap();
        let want: ndarray::Array1<i64> =
            ndarray_npy_read(&fixture("ncnv_trained/labels.npy")).into_iter().map(i64::from).collect();
        assert_eq!(labels, want.to_vec());
        let last = m.layers().last().unwrap().clone();
        let t = m.trace(x.view(), &[last, "Pool2".into()]).unwrap();
        assert!(t[0].maps.is_none() && t[1].acc.is_none());
        let acc = t[0].acc.as_ref().unwrap();
        assert_eq!(acc.as_slice().unwrap(), scores.as_slice().unwrap());
        assert!(t[1].maps.as_ref().unwrap().iter().all(|&v| v == 1 || v == -1));
    }

    fn ndarray_npy_read(p: &Path) -> Vec<i32> {
        let bytes = std::fs::read(p).unwrap();
        let (v, _) = binarycop::npy::read_integers(&bytes).unwrap();
        v.into_iter().map(|x| i32::try_from(x).unwrap()).collect()
    }

    #[test]
    fn unpack_infers_finns_output_shape_and_refuses_a_wrong_length() {
        let (bytes, shape) = pack(&[1, -2, 3, -4, 5, 6], &[2, 3], "INT4", Layout::DRIVER).unwrap();
        assert_eq!(shape, [2, 2]);
        // FINN: 2 bytes × 8 / 4 bits = 4 elements per row when no shape is given.
        let (v, s) = unpack(&bytes, &shape, "INT4", None, Layout::DRIVER).unwrap();
        assert_eq!(s, [2, 4]);
        assert_eq!(v.len(), 8);
        let (v, s) = unpack(&bytes, &shape, "INT4", Some(vec![2, 3]), Layout::DRIVER).unwrap();
        assert_eq!((v, s), (vec![1.0, -2.0, 3.0, -4.0, 5.0, 6.0], vec![2, 3]));
        let e = unpack(&bytes[1..], &shape, "INT4", Some(vec![2, 3]), Layout::DRIVER).unwrap_err();
        assert!(e.to_string().contains("3 bytes, but shape [2, 3] of INT4 needs 4"), "{e}");
        assert!(pack(&[9], &[1], "INT4", Layout::DRIVER).is_err());
        assert!(pack(&[1], &[1], "INT0", Layout::DRIVER).unwrap_err().to_string().starts_with("dtype:"));
    }

    #[test]
    fn the_sim_accelerator_on_the_stand_in_deployment_agrees_with_infer() {
        let dir = Path::new(ROOT).join("models/deploy/ncnv72_published");
        let m = Model::load(&Path::new(ROOT).join("models/ncnv72_published.params.npz")).unwrap();
        let mut a = Accel::open(&dir, Backend::Sim, Some(m.folded().clone()), Some("ncnv")).unwrap();
        assert_eq!(a.batched(&a.input.normal), [1, 72, 72, 3]);
        a.batch_size = 3;
        let x = Array4::from_shape_fn((3, 72, 72, 3), |(n, y, x, c)| ((n * 31 + y * 7 + x * 3 + c) % 256) as u8);
        let (labels, shape) = a.execute(x.view()).unwrap();
        assert_eq!(shape, [3, 1]);
        let (want, _) = m.infer(x.view()).unwrap();
        assert_eq!(labels, want.iter().map(|&l| l as f32).collect::<Vec<_>>());
        let e = a.execute(x.slice(ndarray::s![..2, .., .., ..])).unwrap_err();
        assert!(e.to_string().contains("ishape_normal [3, 72, 72, 3]"), "{e}");
        let t = a.throughput_test().unwrap();
        assert_eq!(t["batch_size"], 3);
        assert!(t["runtime[ms]"].as_f64().unwrap() > 0.0);
        let e = Accel::open(&dir, Backend::Sim, None, None).err().expect("the sim backend needs a model");
        assert!(e.to_string().contains("needs --model"), "{e}");
    }
}
