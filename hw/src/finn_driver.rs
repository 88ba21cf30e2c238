//! FINN's generated `driver.py`, read as the deployment's contract.
//!
//! FINN's `MakePYNQDriver` writes a `driver.py` next to the bitstream. Its module-level
//! `io_shape_dict` says what the accelerator reads and writes, and FINN's `driver_base.py` sizes
//! every buffer and packs every frame from it alone (finn.md §7). Two forms exist:
//! - **single** (FINN of 2020, e.g. BinaryCoP's published `notebook/driver.py`): one input and
//!   one output, `"idt": DataType.UINT8`, `"ishape_normal": (1, 72, 72, 3)`, …;
//! - **list** (FINN today, `template_driver.py`): each per-tensor entry is a list with one item
//!   per input or output, `"idt": [DataType['UINT8']]`, `"ishape_normal": [(1, 32, 32, 3)]`, …,
//!   plus `input_dma_name`, `output_dma_name`, `num_inputs`, `num_outputs` and
//!   `number_of_external_weights`.
//!
//! The file is parsed with Ruff's Python parser, so comments, line breaks, either quote style
//! and trailing commas are all fine; only literals are read and nothing is evaluated. Keys other
//! than the ones above are ignored. The form is the one `idt` has.
//!
//! Per tensor there are three shapes, all with the batch first: `normal` (NHWC), `folded` (its
//! last dimension is the one packed into bytes) and `packed` (bytes). They must agree as FINN's
//! `finnpy_to_packed_bytearray` makes them: the same batch dimension, the same number of
//! elements per frame in normal and folded, and packed equal to folded except for the last
//! dimension, which is ⌈inner·bits/8⌉ bytes. Arithmetic is checked, a frame may hold at most
//! [`MAX_FRAME_BYTES`], and the file at most [`MAX_FILE_BYTES`] (FINN's are about 5 KB).
//!
//! DataTypes: `DataType.NAME` or `DataType["NAME"]` (any prefix before `DataType`, e.g.
//! `qonnx.core.datatype.DataType`), NAME one of FINN's integer types BINARY, BIPOLAR, TERNARY,
//! UINTn, INTn (n in 1..=32). Floating-point, fixed-point and scaled types are refused.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use ruff_python_ast::{Expr, ModModule, Number, Stmt};
use ruff_text_size::Ranged;

use crate::driver::IoShape;
use crate::packing::DataType;

/// The largest driver.py read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// The largest frame (packed bytes of one input or output) a driver.py may describe.
pub const MAX_FRAME_BYTES: u64 = 256 << 20;
/// Dimensions per shape.
const MAX_RANK: usize = 8;
/// Inputs or outputs per accelerator.
const MAX_TENSORS: usize = 64;
/// The parser recurses once per nested operator; 64 KiB of `-` needs a few MB of stack in a
/// release build and several times that in a debug one. Reserved, not committed.
const PARSER_STACK: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverPyError {
    #[error(
        "{dir}: no driver.py here or in {dir}/driver (a FINN deployment folder holds the driver.py that \
         FINN's MakePYNQDriver generated next to the .bit and .hwh)"
    )]
    Missing { dir: PathBuf },
    #[error("{path}: cannot read: {msg}")]
    Read { path: PathBuf, msg: String },
    #[error("{path}: more than {max} bytes; FINN's generated driver.py has about 5 KB (is this the right file?)")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{path}: not valid Python (line {line}, column {column}): {msg}")]
    Syntax { path: PathBuf, line: usize, column: usize, msg: String },
    #[error("{path}: no module-level `io_shape_dict = {{...}}` (FINN's generated driver.py defines one)")]
    NoDict { path: PathBuf },
    #[error("{path}: io_shape_dict (line {line}): {msg}")]
    Dict { path: PathBuf, line: usize, msg: String },
    #[error("{path}: io_shape_dict[\"{key}\"] (line {line}): {msg}")]
    Entry { path: PathBuf, key: String, line: usize, msg: String },
    #[error("{path}: io_shape_dict[\"{key}\"] (line {line}): FINN DataType '{name}' is not supported: {why}")]
    DataType { path: PathBuf, key: String, line: usize, name: String, why: UnsupportedType },
    #[error("{path}: {tensor}: inconsistent shapes: {msg}")]
    Shapes { path: PathBuf, tensor: String, msg: String },
    #[error("{path}: {msg}")]
    Unsupported { path: PathBuf, msg: String },
}

/// Why a FINN DataType name has no binarycop packing type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedType {
    #[error("FINN's DataType names are upper case")]
    LowerCase,
    #[error("a floating-point type; the IODMA driver packs integer types only")]
    Float,
    #[error("a fixed-point or scaled type; the IODMA driver packs plain integer types only")]
    FixedPoint,
    #[error("not a FINN integer type (BINARY, BIPOLAR, TERNARY, UINTn or INTn with n in 1..=32)")]
    Unknown,
}

/// Which form `io_shape_dict` has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// One input and one output, entries unwrapped (FINN of 2020).
    Single,
    /// Entries are lists, one item per input or output (FINN today).
    List,
}

/// An accelerator input (read by an idma) or output (written by an odma).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

impl Side {
    fn prefix(self) -> char {
        match self {
            Side::Input => 'i',
            Side::Output => 'o',
        }
    }
    fn word(self) -> &'static str {
        match self {
            Side::Input => "input",
            Side::Output => "output",
        }
    }
}

/// One input or output tensor as driver.py describes it; shapes are batch first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoTensor {
    pub side: Side,
    pub index: usize,
    /// The IODMA instance: from `input_dma_name`/`output_dma_name`, else idma<i>/odma<i>.
    pub dma: String,
    pub dtype: DataType,
    pub normal: Vec<usize>,
    pub folded: Vec<usize>,
    pub packed: Vec<usize>,
}

impl IoTensor {
    /// "input 0 (idma0)".
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.side.word(), self.index, self.dma)
    }

    /// One frame's normal shape (without the batch dimension), e.g. [72, 72, 3].
    pub fn frame(&self) -> &[usize] {
        &self.normal[1..]
    }

    /// What the IODMA driver moves per frame: the folded shape as rows of its last dimension.
    pub fn io_shape(&self) -> IoShape {
        let (inner, outer) = self.folded.split_last().expect("folded has at least two dimensions");
        IoShape::new(self.dtype, outer[1..].iter().product(), *inner)
    }

    /// Packed bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.packed[1..].iter().product()
    }

    /// The type's key in io_shape_dict, e.g. "idt".
    fn key(&self, what: &str) -> String {
        format!("{}{what}", self.side.prefix())
    }
}

/// A parsed driver.py.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverPy {
    pub path: PathBuf,
    pub form: Form,
    pub inputs: Vec<IoTensor>,
    pub outputs: Vec<IoTensor>,
    /// `number_of_external_weights`: weight streams read by extra IODMAs (0 when absent).
    pub external_weights: usize,
}

impl DriverPy {
    /// The one input and one output binarycop drives. Builds with several inputs or outputs or
    /// with external (DRAM) weights are refused here, before any register is touched.
    pub fn single_io(&self) -> Result<(&IoTensor, &IoTensor), DriverPyError> {
        let unsupported = |msg: String| DriverPyError::Unsupported { path: self.path.clone(), msg };
        if self.external_weights > 0 {
            return Err(unsupported(format!(
                "number_of_external_weights is {}: weights streamed from DRAM through extra IODMAs are not \
                 supported (binarycop drives one input and one output IODMA)",
                self.external_weights
            )));
        }
        match (self.inputs.as_slice(), self.outputs.as_slice()) {
            ([i], [o]) => Ok((i, o)),
            (ins, outs) => {
                let names = |t: &[IoTensor]| t.iter().map(|t| t.dma.as_str()).collect::<Vec<_>>().join(", ");
                Err(unsupported(format!(
                    "{} input(s) ({}) and {} output(s) ({}): binarycop drives accelerators with one input and \
                     one output",
                    ins.len(),
                    names(ins),
                    outs.len(),
                    names(outs)
                )))
            }
        }
    }
}

/// `dir/driver.py`, else `dir/driver/driver.py` (FINN's deploy layout).
pub fn find(dir: &Path) -> Result<PathBuf, DriverPyError> {
    [dir.join("driver.py"), dir.join("driver").join("driver.py")]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| DriverPyError::Missing { dir: dir.to_path_buf() })
}

/// Reads and parses a driver.py; errors name it.
pub fn read(path: &Path) -> Result<DriverPy, DriverPyError> {
    let read_err = |msg: String| DriverPyError::Read { path: path.to_path_buf(), msg };
    let file = std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| read_err(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DriverPyError::TooLarge { path: path.to_path_buf(), max: MAX_FILE_BYTES });
    }
    let text = String::from_utf8(bytes).map_err(|_| read_err("not UTF-8 text (is this a driver.py?)".into()))?;
    parse(&text, path)
}

/// Parses the text of a driver.py; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<DriverPy, DriverPyError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(DriverPyError::TooLarge { path: path.to_path_buf(), max: MAX_FILE_BYTES });
    }
    let failed = |msg: &str| DriverPyError::Read { path: path.to_path_buf(), msg: msg.to_string() };
    // The parser recurses; give it a stack sized for the largest file accepted.
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("driver.py".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, || Reader { path, text }.driver())
            .map_err(|_| failed("cannot start the parser thread"))?;
        worker.join().unwrap_or_else(|_| Err(failed("the Python parser failed on this file")))
    })
}

/// Describes a driver.py in a few lines.
pub fn describe(d: &DriverPy) -> String {
    let mut s = String::new();
    let form = match d.form {
        Form::Single => "single-tensor form, FINN of 2020",
        Form::List => "list form, FINN today",
    };
    let _ = writeln!(s, "driver.py  {} (io_shape_dict in the {form})", d.path.display());
    for t in d.inputs.iter().chain(&d.outputs) {
        let _ = writeln!(
            s,
            "{:<10} {:<6} {:<7} normal {}  folded {}  packed {}: {} byte(s) per frame",
            format!("{} {}", t.side.word(), t.index),
            t.dma,
            t.dtype.to_string(),
            py_tuple(&t.normal),
            py_tuple(&t.folded),
            py_tuple(&t.packed),
            t.frame_bytes()
        );
    }
    if d.external_weights > 0 {
        let _ = writeln!(s, "external weights: {}", d.external_weights);
    }
    s
}

/// A shape as Python prints a tuple: "(1, 72, 72, 3)", "(1,)".
pub fn py_tuple(dims: &[usize]) -> String {
    match dims {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// A FINN DataType name as binarycop's packing type, or why it cannot be one.
pub fn finn_datatype(name: &str) -> Result<DataType, UnsupportedType> {
    if name != name.to_ascii_uppercase() {
        return Err(UnsupportedType::LowerCase);
    }
    if name.starts_with("FLOAT") || name.starts_with("BFLOAT") {
        return Err(UnsupportedType::Float);
    }
    if name.starts_with("FIXED") || name.starts_with("SCALEDINT") {
        return Err(UnsupportedType::FixedPoint);
    }
    name.parse::<DataType>().map_err(|_| UnsupportedType::Unknown)
}

/// The text being read, for messages.
struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

/// io_shape_dict's entries: key, value.
type Entries<'e> = Vec<(String, &'e Expr)>;

impl<'a> Reader<'a> {
    fn driver(&self) -> Result<DriverPy, DriverPyError> {
        let module = ruff_python_parser::parse_module(self.text).map_err(|e| {
            let (line, column) = self.line_col(e.location.start().into());
            DriverPyError::Syntax { path: self.path.to_path_buf(), line, column, msg: e.error.to_string() }
        })?;
        let module: ModModule = module.into_syntax();
        let dict = io_shape_dict(&module).ok_or_else(|| DriverPyError::NoDict { path: self.path.to_path_buf() })?;
        let entries = self.entries(dict)?;
        let form = match lookup(&entries, "idt") {
            Some(Expr::List(_)) => Form::List,
            Some(_) => Form::Single,
            None => return Err(self.dict_err(dict, "missing \"idt\" (the input DataType)".into())),
        };
        let inputs = self.tensors(dict, &entries, form, Side::Input)?;
        let outputs = self.tensors(dict, &entries, form, Side::Output)?;
        let external_weights = match lookup(&entries, "number_of_external_weights") {
            Some(e) => self.count("number_of_external_weights", e)?,
            None => 0,
        };
        Ok(DriverPy { path: self.path.to_path_buf(), form, inputs, outputs, external_weights })
    }

    /// 1-based line and column of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset.min(self.text.len())).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn line(&self, node: &impl Ranged) -> usize {
        self.line_col(node.start().into()).0
    }

    /// The source of a node, shortened for a message.
    fn source(&self, node: &impl Ranged) -> String {
        let r = node.range();
        let s = self.text.get(usize::from(r.start())..usize::from(r.end())).unwrap_or("?");
        let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        match s.char_indices().nth(60) {
            Some((cut, _)) => format!("{}…", &s[..cut]),
            None => s,
        }
    }

    fn dict_err(&self, dict: &Expr, msg: String) -> DriverPyError {
        DriverPyError::Dict { path: self.path.to_path_buf(), line: self.line(dict), msg }
    }

    fn entry_err(&self, key: &str, at: &Expr, msg: String) -> DriverPyError {
        DriverPyError::Entry { path: self.path.to_path_buf(), key: key.to_string(), line: self.line(at), msg }
    }

    /// The dict's entries; keys must be string literals and appear once.
    fn entries<'e>(&self, dict: &'e Expr) -> Result<Entries<'e>, DriverPyError> {
        let Expr::Dict(d) = dict else {
            return Err(self.dict_err(dict, format!("expected a dict literal {{...}}, found `{}`", self.source(dict))));
        };
        let mut out: Entries<'e> = Vec::new();
        for item in &d.items {
            let Some(Expr::StringLiteral(k)) = &item.key else {
                let at = item.key.as_ref().unwrap_or(&item.value);
                return Err(self.dict_err(at, format!("keys must be string literals, found `{}`", self.source(at))));
            };
            let key = k.value.to_str().to_string();
            if lookup(&out, &key).is_some() {
                return Err(self.dict_err(&item.value, format!("\"{key}\" appears twice")));
            }
            out.push((key, &item.value));
        }
        Ok(out)
    }

    /// The inputs or outputs: every per-tensor entry, checked against each other.
    fn tensors(&self, dict: &Expr, entries: &Entries, form: Form, side: Side) -> Result<Vec<IoTensor>, DriverPyError> {
        let p = side.prefix();
        let required = |what: &str| {
            let key = format!("{p}{what}");
            lookup(entries, &key)
                .map(|e| (key.clone(), e))
                .ok_or_else(|| self.dict_err(dict, format!("missing \"{key}\"")))
        };
        let (dt_key, dt) = required("dt")?;
        let dtypes = self.per_tensor(&dt_key, dt, form, |k, e| self.dtype(k, e))?;
        let mut shapes = Vec::new();
        for what in ["shape_normal", "shape_folded", "shape_packed"] {
            let (key, e) = required(what)?;
            shapes.push((key.clone(), e, self.per_tensor(&key, e, form, |k, e| self.shape(k, e))?));
        }
        let n = dtypes.len();
        for (key, e, s) in &shapes {
            if s.len() != n {
                return Err(self.entry_err(key, e, format!("{} items, but \"{dt_key}\" has {n}", s.len())));
            }
        }
        self.check_count(entries, side, n)?;
        let dmas = self.dma_names(entries, side, n)?;
        let [(_, _, normal), (_, _, folded), (_, _, packed)] = <[_; 3]>::try_from(shapes).expect("three shapes");
        let mut out = Vec::with_capacity(n);
        let parts = dtypes.into_iter().zip(normal).zip(folded).zip(packed).zip(dmas);
        for (index, ((((dtype, normal), folded), packed), dma)) in parts.enumerate() {
            let t = IoTensor { side, index, dma, dtype, normal, folded, packed };
            check_shapes(&t).map_err(|msg| DriverPyError::Shapes {
                path: self.path.to_path_buf(),
                tensor: t.label(),
                msg,
            })?;
            out.push(t);
        }
        Ok(out)
    }

    /// One item (single form) or a list of them (list form).
    fn per_tensor<T>(
        &self,
        key: &str,
        e: &Expr,
        form: Form,
        item: impl Fn(&str, &Expr) -> Result<T, DriverPyError>,
    ) -> Result<Vec<T>, DriverPyError> {
        if form == Form::Single {
            return Ok(vec![item(key, e)?]);
        }
        let Expr::List(list) = e else {
            return Err(self.entry_err(
                key,
                e,
                format!("expected a list (as \"idt\" is one), found `{}`", self.source(e)),
            ));
        };
        if list.elts.is_empty() || list.elts.len() > MAX_TENSORS {
            return Err(self.entry_err(key, e, format!("{} items; expected 1 to {MAX_TENSORS}", list.elts.len())));
        }
        list.elts.iter().map(|x| item(key, x)).collect()
    }

    /// `num_inputs` / `num_outputs`, when given, must match the lists.
    fn check_count(&self, entries: &Entries, side: Side, n: usize) -> Result<(), DriverPyError> {
        let key = format!("num_{}s", side.word());
        match lookup(entries, &key) {
            Some(e) if self.count(&key, e)? != n => {
                Err(self.entry_err(&key, e, format!("says {}, but the shape lists have {n} items", self.source(e))))
            }
            _ => Ok(()),
        }
    }

    /// `input_dma_name` / `output_dma_name`, else FINN's default names.
    fn dma_names(&self, entries: &Entries, side: Side, n: usize) -> Result<Vec<String>, DriverPyError> {
        let key = format!("{}_dma_name", side.word());
        let Some(e) = lookup(entries, &key) else {
            return Ok((0..n).map(|i| format!("{}dma{i}", side.prefix())).collect());
        };
        let names = self.per_tensor(&key, e, Form::List, |k, x| self.name(k, x))?;
        if names.len() != n {
            return Err(self.entry_err(&key, e, format!("{} names for {n} {}s", names.len(), side.word())));
        }
        Ok(names)
    }

    fn dtype(&self, key: &str, e: &Expr) -> Result<DataType, DriverPyError> {
        let name = datatype_name(e).ok_or_else(|| {
            self.entry_err(key, e, format!("expected DataType.NAME or DataType[\"NAME\"], found `{}`", self.source(e)))
        })?;
        finn_datatype(&name).map_err(|why| DriverPyError::DataType {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            line: self.line(e),
            name,
            why,
        })
    }

    fn shape(&self, key: &str, e: &Expr) -> Result<Vec<usize>, DriverPyError> {
        let elts = match e {
            Expr::Tuple(t) => &t.elts,
            Expr::List(l) => &l.elts,
            _ => {
                return Err(self.entry_err(key, e, format!("expected a tuple of integers, found `{}`", self.source(e))))
            }
        };
        if elts.is_empty() || elts.len() > MAX_RANK {
            return Err(self.entry_err(key, e, format!("{} dimensions; expected 1 to {MAX_RANK}", elts.len())));
        }
        elts.iter()
            .map(|d| {
                int(d).filter(|v| (1..=MAX_FRAME_BYTES).contains(v)).and_then(|v| usize::try_from(v).ok()).ok_or_else(
                    || {
                        let msg =
                            format!("dimension `{}` is not an integer from 1 to {MAX_FRAME_BYTES}", self.source(d));
                        self.entry_err(key, e, msg)
                    },
                )
            })
            .collect()
    }

    fn count(&self, key: &str, e: &Expr) -> Result<usize, DriverPyError> {
        int(e).filter(|&v| v <= MAX_TENSORS as u64).map(|v| v as usize).ok_or_else(|| {
            self.entry_err(key, e, format!("expected an integer from 0 to {MAX_TENSORS}, found `{}`", self.source(e)))
        })
    }

    fn name(&self, key: &str, e: &Expr) -> Result<String, DriverPyError> {
        match e {
            Expr::StringLiteral(s)
                if !s.value.to_str().is_empty()
                    && s.value.to_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Ok(s.value.to_str().to_string())
            }
            _ => Err(self.entry_err(
                key,
                e,
                format!("expected an instance name like 'idma0', found `{}`", self.source(e)),
            )),
        }
    }
}

/// The value of the last module-level `io_shape_dict = …` (plain or annotated).
fn io_shape_dict(module: &ModModule) -> Option<&Expr> {
    let is_name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "io_shape_dict");
    module
        .body
        .iter()
        .filter_map(|s| match s {
            Stmt::Assign(a) if a.targets.iter().any(is_name) => Some(&*a.value),
            Stmt::AnnAssign(a) if is_name(&a.target) => a.value.as_deref(),
            _ => None,
        })
        .next_back()
}

fn lookup<'e>(entries: &Entries<'e>, key: &str) -> Option<&'e Expr> {
    entries.iter().find(|(k, _)| k == key).map(|(_, e)| *e)
}

/// A non-negative integer literal.
fn int(e: &Expr) -> Option<u64> {
    match e {
        Expr::NumberLiteral(n) => match &n.value {
            Number::Int(i) => i.as_u64(),
            _ => None,
        },
        _ => None,
    }
}

/// NAME of `DataType.NAME` or `DataType["NAME"]`, whatever is before `DataType`.
fn datatype_name(e: &Expr) -> Option<String> {
    let is_datatype = |v: &Expr| match v {
        Expr::Name(n) => n.id.as_str() == "DataType",
        Expr::Attribute(a) => a.attr.as_str() == "DataType",
        _ => false,
    };
    match e {
        Expr::Attribute(a) if is_datatype(&a.value) => Some(a.attr.as_str().to_string()),
        Expr::Subscript(s) if is_datatype(&s.value) => match &*s.slice {
            Expr::StringLiteral(k) => Some(k.value.to_str().to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Product of dimensions, None past `MAX_FRAME_BYTES`.
fn elements(dims: &[usize]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64).filter(|&p| p <= MAX_FRAME_BYTES))
}

/// Normal, folded and packed must describe the same frames (see the module notes).
fn check_shapes(t: &IoTensor) -> Result<(), String> {
    let (n, f, p) = (&t.normal, &t.folded, &t.packed);
    let (kn, kf, kp) = (t.key("shape_normal"), t.key("shape_folded"), t.key("shape_packed"));
    let show = |k: &str, s: &[usize]| format!("{k} {}", py_tuple(s));
    if n.len() < 2 || f.len() < 2 {
        let short = if n.len() < 2 { show(&kn, n) } else { show(&kf, f) };
        return Err(format!("{short} has no dimension besides the batch"));
    }
    if p.len() != f.len() {
        return Err(format!("{} and {} differ in rank", show(&kf, f), show(&kp, p)));
    }
    if n[0] != f[0] || f[0] != p[0] {
        return Err(format!("the batch dimension differs: {}, {}, {}", show(&kn, n), show(&kf, f), show(&kp, p)));
    }
    let too_big = |k: &str, s: &[usize]| format!("{} exceeds {MAX_FRAME_BYTES} elements per frame", show(k, s));
    let en = elements(&n[1..]).ok_or_else(|| too_big(&kn, n))?;
    let ef = elements(&f[1..]).ok_or_else(|| too_big(&kf, f))?;
    if en != ef {
        return Err(format!("{} holds {en} elements per frame, {} holds {ef}", show(&kn, n), show(&kf, f)));
    }
    let last = f.len() - 1;
    let row = (f[last] as u64).checked_mul(u64::from(t.dtype.bits())).map(|b| b.div_ceil(8));
    if p[..last] != f[..last] || row != Some(p[last] as u64) {
        return Err(format!(
            "{} is not {} packed: {} elements of {} take {} bytes per row",
            show(&kp, p),
            show(&kf, f),
            f[last],
            t.dtype,
            row.map_or("too many".to_string(), |r| r.to_string())
        ));
    }
    elements(&p[1..]).ok_or_else(|| format!("{} exceeds {MAX_FRAME_BYTES} bytes per frame", show(&kp, p)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An io_shape_dict written as BinaryCoP's published driver.py writes it (hand-typed: the
    /// dict only, with the values issue #10 quotes).
    const SINGLE: &str = r#"
import numpy as np
from finn.core.datatype import DataType

# dictionary describing the I/O of the FINN-generated accelerator
io_shape_dict = {
    # FINN DataType for input and output tensors
    "idt" : DataType.UINT8,
    "odt" : DataType.UINT8,
    "ishape_normal" : (1, 72, 72, 3),
    "oshape_normal" : (1, 1),
    "ishape_folded" : (1, 72, 72, 1, 3),
    "oshape_folded" : (1, 1, 1),
    "ishape_packed" : (1, 72, 72, 1, 3),
    "oshape_packed" : (1, 1, 1)
}
"#;

    /// FINN's list form as MakePYNQDriver fills it in for CNV (the fixture deployment's).
    const LIST: &str = include_str!("../tests/data/deploy/driver/driver.py");

    fn p(text: &str) -> Result<DriverPy, DriverPyError> {
        parse(text, Path::new("deploy/driver.py"))
    }

    fn err(text: &str) -> String {
        p(text).unwrap_err().to_string()
    }

    #[test]
    fn binarycop_single_form() {
        let d = p(SINGLE).unwrap();
        assert_eq!(d.form, Form::Single);
        let (i, o) = d.single_io().unwrap();
        assert_eq!((i.dma.as_str(), i.dtype, i.frame()), ("idma0", DataType::UINT8, &[72, 72, 3][..]));
        assert_eq!(i.io_shape(), IoShape::new(DataType::UINT8, 72 * 72, 3));
        assert_eq!(i.frame_bytes(), 15552);
        assert_eq!((o.dma.as_str(), o.dtype, o.frame()), ("odma0", DataType::UINT8, &[1][..]));
        assert_eq!(o.io_shape(), IoShape::new(DataType::UINT8, 1, 1));
        let text = describe(&d);
        assert!(
            text.contains("(1, 72, 72, 1, 3)") && text.contains("15552 byte(s)") && text.contains("2020"),
            "{text}"
        );
    }

    #[test]
    fn finn_list_form() {
        let d = p(LIST).unwrap();
        assert_eq!(d.form, Form::List);
        let (i, o) = d.single_io().unwrap();
        assert_eq!(i.io_shape(), IoShape::new(DataType::UINT8, 1024, 3));
        assert_eq!((i.frame_bytes(), o.frame_bytes()), (3072, 1));
        // DataType spellings and a qualified prefix (on the output: one element, one byte for each).
        for (spelling, want) in [
            ("DataType.BIPOLAR", DataType::BIPOLAR),
            ("DataType[\"INT4\"]", DataType::int(4).unwrap()),
            ("qonnx.core.datatype.DataType['BINARY']", DataType::BINARY),
        ] {
            let t = LIST.replace("\"odt\" : [DataType['UINT8']]", &format!("\"odt\" : [{spelling}]"));
            let d = p(&t).unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(d.outputs[0].dtype, want);
        }
    }

    #[test]
    fn several_inputs_parse_and_are_refused_for_driving() {
        let t = include_str!("../tests/data/driver_two_inputs.py");
        let d = p(t).unwrap();
        assert_eq!(d.inputs.len(), 2);
        assert_eq!(d.inputs[1].dma, "idma1");
        let e = d.single_io().unwrap_err().to_string();
        assert!(e.contains("2 input(s) (idma0, idma1)") && e.contains("one input"), "{e}");
        let ext = p(&LIST.replace("\"number_of_external_weights\": 0", "\"number_of_external_weights\": 2")).unwrap();
        let e = ext.single_io().unwrap_err().to_string();
        assert!(e.contains("number_of_external_weights is 2"), "{e}");
    }

    #[test]
    fn bad_driver_py_is_a_clear_error() {
        let cases: Vec<(String, &[&str])> = vec![
            ("io_shape_dict = {\n  \"idt\": DataType.UINT8,\n  (".into(), &["driver.py", "not valid Python", "line 3"]),
            ("import numpy\nx = 1\n".into(), &["no module-level `io_shape_dict"]),
            ("io_shape_dict = dict(idt=1)".into(), &["expected a dict literal", "dict(idt=1)"]),
            (SINGLE.replace("\"idt\" : DataType.UINT8,", ""), &["missing \"idt\""]),
            (SINGLE.replace("\"oshape_packed\" : (1, 1, 1)", ""), &["missing \"oshape_packed\""]),
            (
                SINGLE.replace("DataType.UINT8,\n    \"odt\"", "DataType.FLOAT32,\n    \"odt\""),
                &["[\"idt\"]", "'FLOAT32'", "floating-point"],
            ),
            (
                SINGLE.replace("\"odt\" : DataType.UINT8", "\"odt\" : DataType[\"FIXED<8,4>\"]"),
                &["[\"odt\"]", "fixed-point"],
            ),
            (SINGLE.replace("\"odt\" : DataType.UINT8", "\"odt\" : DataType.UINT99"), &["'UINT99'", "n in 1..=32"]),
            (
                SINGLE.replace("\"odt\" : DataType.UINT8", "\"odt\" : \"UINT8\""),
                &["[\"odt\"]", "expected DataType.NAME"],
            ),
            (SINGLE.replace("(1, 72, 72, 3)", "(1, 72, \"72\", 3)"), &["ishape_normal", "`\"72\"`"]),
            (SINGLE.replace("(1, 72, 72, 3)", "(1, 72, 0, 3)"), &["ishape_normal", "`0`"]),
            (SINGLE.replace("(1, 72, 72, 3)", "(1, 72, -72, 3)"), &["ishape_normal", "`-72`"]),
            (SINGLE.replace("(1, 72, 72, 3)", "(1, 72, 72.0, 3)"), &["ishape_normal", "72.0"]),
            (SINGLE.replace("(1, 72, 72, 3)", "[1, 72, 72, 3, 1, 1, 1, 1, 1]"), &["ishape_normal", "9 dimensions"]),
            (SINGLE.replace("(1, 72, 72, 3)", "(1, 70, 72, 3)"), &["input 0 (idma0)", "15120 elements", "15552"]),
            (
                SINGLE.replace("\"ishape_packed\" : (1, 72, 72, 1, 3)", "\"ishape_packed\" : (1, 72, 72, 1, 4)"),
                &["ishape_packed (1, 72, 72, 1, 4)", "take 3 bytes"],
            ),
            (
                SINGLE.replace("\"oshape_folded\" : (1, 1, 1)", "\"oshape_folded\" : (1, 1)"),
                &["output 0 (odma0)", "differ in rank"],
            ),
            (
                SINGLE.replace("\"ishape_folded\" : (1, 72, 72, 1, 3)", "\"ishape_folded\" : (2, 72, 72, 1, 3)"),
                &["batch dimension"],
            ),
            (SINGLE.replace("(1, 72, 72, 3)", "(1, 65536, 65536, 3)"), &["exceeds"]),
            (
                SINGLE.replace("(1, 72, 72, 3)", "(1, 72, 99999999999999999999999, 3)"),
                &["ishape_normal", "99999999999999999999999"],
            ),
            (SINGLE.replace("\"odt\"", "\"idt\""), &["\"idt\" appears twice"]),
            (SINGLE.replace("\"odt\" :", "3 :"), &["keys must be string literals"]),
            (LIST.replace("[(1, 1)]", "(1, 1)"), &["[\"oshape_normal\"]", "expected a list"]),
            (LIST.replace("\"num_inputs\" : 1", "\"num_inputs\" : 2"), &["num_inputs", "says 2"]),
            (LIST.replace("['odma0']", "['odma0', 'odma1']"), &["output_dma_name", "2 names for 1 output"]),
            (LIST.replace("['idma0']", "['../x']"), &["input_dma_name", "instance name"]),
            (LIST.replace("[(1, 1)]", "[]"), &["oshape_normal", "0 items"]),
            (
                LIST.replace("[(1, 1, 1)],\n    \"ishape_packed\"", "[(1, 1, 1), (1, 1, 1)],\n    \"ishape_packed\""),
                &["oshape_folded", "2 items", "\"odt\" has 1"],
            ),
        ];
        for (text, needles) in cases {
            let e = err(&text);
            for n in needles {
                assert!(e.contains(n), "'{n}' not in: {e}");
            }
        }
    }

    #[test]
    fn deep_or_huge_files_are_errors_not_crashes() {
        // Each '-' is one level of the parser's recursion.
        let deep = format!("io_shape_dict = {}1", "-".repeat(MAX_FILE_BYTES as usize - 20));
        let e = err(&deep);
        assert!(e.contains("expected a dict literal"), "{e}");
        let huge = format!("{SINGLE}#{}", "x".repeat(MAX_FILE_BYTES as usize));
        assert!(err(&huge).contains("more than 65536 bytes"));
    }

    #[test]
    fn datatype_names() {
        assert_eq!(finn_datatype("UINT8"), Ok(DataType::UINT8));
        assert_eq!(finn_datatype("TERNARY"), Ok(DataType::TERNARY));
        assert_eq!(finn_datatype("uint8"), Err(UnsupportedType::LowerCase));
        assert_eq!(finn_datatype("BFLOAT16"), Err(UnsupportedType::Float));
        assert_eq!(finn_datatype("SCALEDINT<8>"), Err(UnsupportedType::FixedPoint));
        assert_eq!(finn_datatype("INT33"), Err(UnsupportedType::Unknown));
        assert!(UnsupportedType::Unknown.to_string().contains("1..=32"));
        assert_eq!(py_tuple(&[1]), "(1,)");
    }
}
