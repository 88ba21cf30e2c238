//! `export-deploy`: a stand-in deployment folder in FINN's layout for a model's simulated
//! accelerator: what the IODMAs of the model's FINN dataflow read and write per frame, written
//! as hw's [`StandIn`] files (`driver/driver.py`, `bitfile/<name>.hwh`, `bitfile/<name>.bit`)
//! plus a README. There is no bitstream; `infer`/`watch --backend sim --deploy DIR` drive the
//! simulated device through it as the zynq backend drives a board through FINN's folder.

use std::path::Path;

use binarycop_hw::stand_in::{StandIn, Tensor, STAND_IN_VERSION};
use binarycop_sim::device::{DeviceConfig, SimDevice};

use super::{sim_error, Lowered};
use crate::error::{Error, Result};
use crate::model::FoldedModel;
use crate::output::{write_dir, Owner};

const OWNER: Owner = Owner {
    tag: "export-deploy",
    what: "a `binarycop export-deploy` output (its README.md)",
    is_ours: |d| std::fs::read_to_string(d.join("README.md")).is_ok_and(|t| t.starts_with("# binarycop export-deploy")),
};

/// The stand-in of a lowered model: frames as its dataflow's IODMAs move them.
pub fn stand_in(model: &FoldedModel, low: &Lowered, name: &str, what: &str) -> Result<StandIn> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Error::invalid(format!("--name '{name}': use letters, digits, '_' and '-' only")));
    }
    let dev = SimDevice::new(low.graph.clone(), DeviceConfig::default()).map_err(sim_error)?;
    let s = model.topology.input;
    let input = Tensor { normal: vec![1, s.height, s.width, s.channels], io: dev.input_shape() };
    let out = dev.output_shape();
    let output = Tensor { normal: vec![1, out.elements()], io: out };
    Ok(StandIn::pynq_z1(name, what, input, output))
}

/// The README written into the folder.
fn readme(s: &StandIn, driver_py: &str, model: &str, folding: &str) -> String {
    format!(
        "# binarycop export-deploy: {name}, a stand-in deployment for the simulated device\n\n\
         {what}.\n\n\
         FINN's deploy layout, written by binarycop; **there is no bitstream and this has never run on a \
         board.**\n\n\
         - `driver/driver.py`: the `io_shape_dict` binarycop reads (FINN's 2020 single-tensor form, as in \
         BinaryCoP's published `notebook/driver.py`); no driver code.\n\
         - `bitfile/{name}.hwh`: a trimmed hardware handoff (not a Vivado output): processing_system7 on \
         PYNQ-Z1, fclk0 100 MHz, idma0 at {i:#010x} and odma0 at {o:#010x}, {len} bytes each. The sim \
         backend sizes its register windows from it.\n\
         - `bitfile/{name}.bit`: a header only: design `{name}_stand_in`, version `{STAND_IN_VERSION}`, \
         no date, an empty payload. `binarycop load` refuses it.\n\n\
         Use: `binarycop infer|watch --model {model} --backend sim{folding} --deploy <this folder>`. \
         Written by `binarycop export-deploy --model {model}{folding} --name {name} --out <this folder>`.\n\n\
         The io_shape_dict:\n\n```python\n{dict}```\n",
        name = s.name,
        what = s.what,
        folding = if folding.is_empty() { String::new() } else { format!(" --folding {folding}") },
        i = s.idma0.0,
        o = s.odma0.0,
        len = s.idma0.1,
        dict = driver_py.split_once("\nio_shape_dict").map_or(String::new(), |(_, d)| format!("io_shape_dict{d}")),
    )
}

/// Writes the folder, all or nothing; the files written, relative to it. `model` and `folding`
/// (empty: the default) are named in the README as given.
pub fn write(s: &StandIn, dir: &Path, model: &str, folding: &str) -> Result<Vec<String>> {
    let driver_py = s.driver_py().map_err(|e| Error::invalid(format!("the model's I/O: {e}")))?;
    let files = [
        ("README.md".to_string(), readme(s, &driver_py, model, folding).into_bytes()),
        ("driver/driver.py".to_string(), driver_py.into_bytes()),
        (format!("bitfile/{}.hwh", s.name), s.hwh().into_bytes()),
        (format!("bitfile/{}.bit", s.name), s.bit()),
    ];
    write_dir(dir, &OWNER, |tmp| {
        for (rel, bytes) in &files {
            let p = tmp.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::file(parent, format!("cannot create folder: {e}")))?;
            }
            std::fs::write(&p, bytes).map_err(|e| Error::file(&p, format!("cannot write: {e}")))?;
        }
        Ok(())
    })?;
    Ok(files.into_iter().map(|(rel, _)| rel).collect())
}
