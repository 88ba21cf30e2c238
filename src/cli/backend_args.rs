//! Where a model runs: the backend options `infer` and `eval` share, and opening the backend.

use std::path::PathBuf;

use crate::accel::{self, Accelerator, CpuAccel, SimAccel, SimAccelConfig, ZynqAccel, ZynqOptions, ZynqSource};
use crate::error::{Error, Result};
use crate::model;

/// Where `infer` and `eval` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The bit-packed engine: labels and scores.
    Cpu,
    /// hw's IODMA driver against the simulated FINN accelerator: labels only.
    Sim,
    /// hw's IODMA driver on a Zynq board: labels only.
    Zynq,
}

/// What `infer` and `eval` share: the model's topology when its file has none, how pictures
/// reach its input, and where it runs.
#[derive(clap::Args)]
pub struct ModelRunArgs {
    #[command(flatten)]
    pub topo: super::TopologyArgs,
    #[command(flatten)]
    pub prep: super::PreprocessArgs,
    #[command(flatten)]
    pub on: BackendArgs,
}

#[derive(clap::Args)]
pub struct BackendArgs {
    /// Where to run. `sim` and `zynq` end in FINN's LabelSelect and return the top-1 label
    /// only (infer: their table and JSON give input and label, without top-k, scores or logits;
    /// --top-k above 1 and --save-scores need the cpu backend).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// sim: a FINN folding_config.json or a paper preset (cnv, ncnv, ucnv); default: the
    /// paper's folding when the model has a paper preset's layer shapes.
    #[arg(long)]
    pub folding: Option<String>,
    /// zynq, sim: a FINN deployment folder: driver.py (its io_shape_dict sizes every frame),
    /// the .hwh and .bit (directly or in bitfile/), optional runtime_weights/. zynq: the
    /// bitstream must already be loaded. sim: the simulated device takes driver.py's frames.
    /// A model, when given, must match it (input H×W×C, classes within odt).
    #[arg(long, conflicts_with = "accel_config")]
    pub deploy: Option<PathBuf>,
    /// zynq: a JSON accelerator description (the deployment's driver.py, IODMA windows as UIO
    /// names or physical ranges, u-dma-buf buffer names) instead of --deploy.
    #[arg(long)]
    pub accel_config: Option<PathBuf>,
    /// zynq: map IODMA windows through /dev/mem where no UIO device has their name, and check
    /// PL clock 0 in the PS clock registers (root).
    #[arg(long)]
    pub allow_devmem: bool,
    #[command(flatten)]
    pub pl: super::board_cmds::PlArgs,
}

impl BackendArgs {
    /// Refuses options that do not apply to the chosen backend.
    fn check(&self) -> Result<()> {
        let zynq_flags = self.accel_config.is_some() || self.allow_devmem || self.pl.any();
        if self.backend != Backend::Zynq && zynq_flags {
            return Err(Error::invalid(
                "--accel-config, --allow-devmem, --set-clock and --pl-loaded apply to --backend zynq",
            ));
        }
        if self.backend == Backend::Cpu && self.deploy.is_some() {
            return Err(Error::invalid("--deploy applies to --backend zynq and sim"));
        }
        if self.backend != Backend::Sim && self.folding.is_some() {
            return Err(Error::invalid("--folding applies to --backend sim"));
        }
        Ok(())
    }

    /// The backend asked for, and the engine's kernel name for the cpu one.
    pub fn open(&self, folded: Option<model::FoldedModel>) -> Result<(Box<dyn Accelerator>, Option<&'static str>)> {
        self.check()?;
        let need_model = || Error::invalid(format!("--backend {:?} needs --model", self.backend).to_lowercase());
        Ok(match self.backend {
            Backend::Cpu => {
                let a = CpuAccel::new(folded.ok_or_else(need_model)?)?;
                let kernel = a.engine().kernel().name();
                (Box::new(a), Some(kernel))
            }
            Backend::Sim => {
                let folded = folded.ok_or_else(need_model)?;
                let folding = accel::sim::folding_for(&folded, self.folding.as_deref())?;
                let cfg = SimAccelConfig { deploy: self.deploy.clone(), ..Default::default() };
                (Box::new(SimAccel::with_config(folded, &folding, cfg)?), None)
            }
            Backend::Zynq => (Box::new(self.open_zynq(folded)?), None),
        })
    }

    fn open_zynq(&self, folded: Option<model::FoldedModel>) -> Result<ZynqAccel> {
        let source = match (&self.deploy, &self.accel_config) {
            (Some(d), _) => ZynqSource::Deploy(d.clone()),
            (None, Some(j)) => ZynqSource::Json(j.clone()),
            (None, None) => {
                return Err(Error::invalid(
                    "--backend zynq needs --deploy DIR (a FINN deployment folder) or --accel-config FILE.json",
                ))
            }
        };
        let opts = ZynqOptions { allow_devmem: self.allow_devmem, checks: self.pl.checks(), ..Default::default() };
        ZynqAccel::open(&source, &opts, folded)
    }
}
