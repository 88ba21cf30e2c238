//! `pack`, `unpack` and `deploy-info`: FINN's packed byte layout and a deployment folder (its
//! hardware files, driver.py's I/O contract and runtime weights).
//!
//! Arrays for `pack` may be .npy of uint8, int8, uint16, int16, uint32, int32, int64, or of
//! float32/float64 holding whole numbers (FINN keeps its tensors in float32). `unpack` writes the
//! smallest integer dtype that holds the FINN type (BINARY and UINT≤8 → uint8, BIPOLAR, TERNARY
//! and INT≤8 → int8, then 16- and 32-bit), or float32 like FINN with `--float32`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use binarycop_hw::deployment::FinnDeployment;
use binarycop_hw::finn_driver::IoTensor;
use binarycop_hw::packing::{self, DataType, Layout};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::WriteNpyExt;

use crate::error::{write_atomic, Error, Result};

#[derive(clap::Args)]
pub struct PackArgs {
    /// FINN DataType: BINARY, BIPOLAR, TERNARY, UINTn, INTn (n in 1..=32).
    #[arg(long)]
    dtype: String,
    /// The array; its last dimension is packed, each row into whole bytes.
    #[arg(long)]
    input: PathBuf,
    /// The packed bytes, rows one after another.
    #[arg(long)]
    out: PathBuf,
    /// FINN's plain layout (no flags) instead of the driver's (reverse_inner and reverse_endian).
    #[arg(long)]
    plain: bool,
}

#[derive(clap::Args)]
pub struct UnpackArgs {
    /// FINN DataType of the packed elements.
    #[arg(long)]
    dtype: String,
    /// The unpacked shape, e.g. 1,32,32,3; its last dimension is the packed one.
    #[arg(long)]
    shape: String,
    /// The packed bytes.
    #[arg(long)]
    input: PathBuf,
    /// The .npy to write.
    #[arg(long)]
    out: PathBuf,
    /// FINN's plain layout (no flags) instead of the driver's.
    #[arg(long)]
    plain: bool,
    /// Write float32, as FINN's packed_bytearray_to_finnpy returns, instead of an integer dtype.
    #[arg(long)]
    float32: bool,
}

#[derive(clap::Args)]
pub struct DeployInfoArgs {
    /// A FINN deployment folder: driver.py (directly or in driver/), the .hwh and .bit (directly
    /// or in bitfile/), optional runtime_weights/ beside driver.py.
    #[arg(long)]
    deploy: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn dtype_of(name: &str) -> Result<DataType> {
    name.parse().map_err(|e: packing::PackError| Error::invalid(format!("--dtype: {e}")))
}

fn layout_of(plain: bool) -> (Layout, &'static str) {
    if plain {
        (Layout::PLAIN, "plain layout")
    } else {
        (Layout::DRIVER, "driver layout")
    }
}

pub fn pack(args: PackArgs, out: &mut String) -> Result<()> {
    let PackArgs { dtype, input, out: dest, plain } = args;
    let dt = dtype_of(&dtype)?;
    let (layout, lname) = layout_of(plain);
    let (values, shape) = crate::npy::read_integers(&crate::data::read_input(&input)?).map_err(|e| match e {
        Error::Invalid(m) => Error::file(&input, m),
        other => other,
    })?;
    let inner = *shape.last().ok_or_else(|| Error::file(&input, "a 0-dimensional array has no dimension to pack"))?;
    if inner == 0 || values.is_empty() {
        return Err(Error::file(&input, format!("empty array (shape {shape:?}): nothing to pack")));
    }
    let packed = packing::pack_to_vec(&values, inner, dt, layout).map_err(|e| Error::file(&input, e))?;
    write_atomic(&dest, &packed)?;
    let _ = writeln!(
        out,
        "packed {} elements ({}×{inner}) of {} as {dt} ({lname}) into {} ({} bytes, {} per row)",
        values.len(),
        values.len() / inner,
        input.display(),
        dest.display(),
        packed.len(),
        dt.row_bytes(inner)
    );
    Ok(())
}

fn parse_shape(s: &str) -> Result<Vec<usize>> {
    let dims: Option<Vec<usize>> =
        s.split([',', 'x', 'X']).map(|d| d.trim().parse::<usize>().ok().filter(|&n| n > 0)).collect();
    match dims {
        Some(d) if !d.is_empty() => Ok(d),
        _ => Err(Error::invalid(format!("--shape '{s}': expected positive dimensions like 1,32,32,3"))),
    }
}

fn npy_bytes<T: ndarray_npy::WritableElement>(shape: &[usize], v: Vec<T>, path: &Path) -> Result<Vec<u8>> {
    let a = ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| Error::file(path, format!("shape: {e}")))?;
    let mut buf = Vec::new();
    a.write_npy(&mut buf).map_err(|e| Error::file(path, format!("cannot encode: {e}")))?;
    Ok(buf)
}

fn unpack_as<T: packing::Element + ndarray_npy::WritableElement>(
    bytes: &[u8],
    inner: usize,
    dt: DataType,
    layout: Layout,
    shape: &[usize],
    path: &Path,
) -> Result<Vec<u8>> {
    let v: Vec<T> = packing::unpack_to_vec(bytes, inner, dt, layout).map_err(|e| Error::file(path, e))?;
    npy_bytes(shape, v, path)
}

pub fn unpack(args: UnpackArgs, out: &mut String) -> Result<()> {
    let UnpackArgs { dtype, shape, input, out: dest, plain, float32 } = args;
    let dt = dtype_of(&dtype)?;
    let (layout, lname) = layout_of(plain);
    let shape_arg = shape;
    let shape = parse_shape(&shape_arg)?;
    let size = crate::packed::unpack_size(dt, &shape, &format!("--shape {shape_arg}"))?;
    let inner = size.inner;
    let bytes = crate::data::read_input(&input)?;
    crate::packed::check_len(&size, bytes.len(), &shape, dt).map_err(|e| e.in_file(&input))?;
    let (lo, hi) = (dt.min(), dt.max());
    let (npy, kind) = if float32 {
        let v: Vec<i64> = packing::unpack_to_vec(&bytes, inner, dt, layout).map_err(|e| Error::file(&input, e))?;
        // |v| < 2^32 > 2^24: INT/UINT above 24 bits may round in float32, as in FINN.
        (npy_bytes(&shape, v.into_iter().map(|x| x as f32).collect(), &dest)?, "float32")
    } else if lo >= 0 && hi <= u8::MAX as i64 {
        (unpack_as::<u8>(&bytes, inner, dt, layout, &shape, &dest)?, "uint8")
    } else if lo >= -128 && hi <= 127 {
        (unpack_as::<i8>(&bytes, inner, dt, layout, &shape, &dest)?, "int8")
    } else if lo >= 0 && hi <= u16::MAX as i64 {
        (unpack_as::<u16>(&bytes, inner, dt, layout, &shape, &dest)?, "uint16")
    } else if hi <= i16::MAX as i64 {
        (unpack_as::<i16>(&bytes, inner, dt, layout, &shape, &dest)?, "int16")
    } else if lo >= 0 {
        (unpack_as::<u32>(&bytes, inner, dt, layout, &shape, &dest)?, "uint32")
    } else {
        (unpack_as::<i32>(&bytes, inner, dt, layout, &shape, &dest)?, "int32")
    };
    write_atomic(&dest, &npy)?;
    let _ = writeln!(
        out,
        "unpacked {} bytes of {dt} ({lname}) from {} into {} ({kind}, shape {shape:?})",
        bytes.len(),
        input.display(),
        dest.display()
    );
    Ok(())
}

pub fn deploy_info(args: DeployInfoArgs, out: &mut String) -> Result<()> {
    let DeployInfoArgs { deploy: dir, json } = args;
    let d = FinnDeployment::open(&dir)?;
    if !json {
        out.push_str(&d.describe());
        return Ok(());
    }
    let dmas: Vec<serde_json::Value> = d
        .files
        .hwh
        .dmas
        .iter()
        .map(|w| serde_json::json!({ "name": w.name, "base": w.base, "range": w.range }))
        .collect();
    let tensor = |t: &IoTensor| {
        serde_json::json!({
            "dma": t.dma,
            "dtype": t.dtype.to_string(),
            "normal": t.normal,
            "folded": t.folded,
            "packed": t.packed,
            "frame_bytes": t.frame_bytes(),
        })
    };
    let weights: Vec<serde_json::Value> = d
        .weights
        .iter()
        .map(|w| {
            serde_json::json!({
                "file": w.file.path.display().to_string(),
                "words": w.file.words.len(),
                "window": w.name,
                "base": w.window.base,
            })
        })
        .collect();
    let (hwh, bit) = (&d.files.hwh, &d.files.bit);
    let report = serde_json::json!({
        "hwh": d.files.hwh_path.display().to_string(),
        "bit": d.files.bit_path.display().to_string(),
        "dmas": dmas,
        "fclk_mhz": hwh.fclk_mhz,
        "fclk_actual_mhz": hwh.fclk_actual_mhz,
        "processor": hwh.processor,
        "board": hwh.board,
        "part": hwh.part,
        "vivado": hwh.vivado,
        "bitstream": {
            "design": bit.design,
            "version": bit.version,
            "part": bit.part,
            "date": bit.date,
            "time": bit.time,
            "payload_bytes": bit.payload_len,
        },
        "driver": {
            "path": d.driver.path.display().to_string(),
            "form": format!("{:?}", d.driver.form).to_lowercase(),
            "inputs": d.driver.inputs.iter().map(tensor).collect::<Vec<_>>(),
            "outputs": d.driver.outputs.iter().map(tensor).collect::<Vec<_>>(),
            "external_weights": d.driver.external_weights,
        },
        "runtime_weights": weights,
    });
    let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("JSON"));
    Ok(())
}
