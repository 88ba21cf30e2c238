//! Lowering: a [`FoldedModel`] becomes the FINN node graph the accelerator runs (binarycop-sim),
//! in FINN's CNV pipeline order: input IODMA, Thresholding (the input quantizer: UINT8 → INTn
//! with 2ⁿ−1 thresholds and ActVal −2ⁿ⁻¹), per conv an SWU and an MVAU, a StreamingMaxPool per
//! pool, the fc MVAUs, LabelSelect (K = 1), output IODMA; width converters and FIFOs between.
//!
//! [`export`] writes the memory images and FINN configs for `export-hw`; [`simulate`] clocks
//! frames through the graph and reports them as `simulate --json` does.

pub mod export;
pub mod simulate;
pub mod stand_in;

use binarycop_hw::folding::FoldingConfig;
use binarycop_sim::clock::{simulate as run_sim, Run, SimOptions};
use binarycop_sim::flow::Flow;
use binarycop_sim::graph::{Graph, LayerSpec};
use binarycop_sim::mvau::{Activation, BitRows, MvauSpec};
use binarycop_sim::report::{self, Report};
use binarycop_sim::stream::lanes;
use binarycop_sim::swu::SwuSpec;
use binarycop_sim::thresholding::ThresholdingSpec;
use binarycop_sim::{maxpool::MaxPoolSpec, DType};

use crate::error::{Error, Result};
use crate::model::folded::acc_range;
use crate::model::{FoldedModel, LayerKind};

/// The graph and where the model's values appear in it.
pub struct Lowered {
    pub graph: Graph,
    /// The node producing the int8 input codes.
    pub input_node: String,
    /// Per topology layer, the node producing its output (MVAU or StreamingMaxPool).
    pub layer_nodes: Vec<String>,
    /// The LabelSelect node.
    pub label_node: String,
}

pub fn sim_error(e: binarycop_sim::Error) -> Error {
    Error::invalid(e.to_string())
}

/// The unfolded FINN layers of a model, in pipeline order.
pub fn layers(m: &FoldedModel) -> Result<Vec<LayerSpec>> {
    let resolved = m.validate()?;
    let q = m.input_quant;
    let (lo, hi) = q.range();
    let code_type = DType::new(q.bits, true);
    // Threshold k: the smallest pixel whose code reaches lo + k + 1 (256: never), so that
    // lo + #{T ≤ u} is the code of u.
    let table = q.table();
    let steps: Vec<i64> = (0..(hi - lo) as i64)
        .map(|k| {
            let target = lo as i64 + k + 1;
            table.iter().position(|&c| c as i64 >= target).map_or(256, |u| u as i64)
        })
        .collect();
    for (u, &c) in table.iter().enumerate() {
        let v = lo as i64 + steps.iter().filter(|&&t| t <= u as i64).count() as i64;
        if v != c as i64 {
            return Err(Error::invalid(format!("the input quantizer is not monotone at pixel {u}")));
        }
    }
    let input = m.topology.input;
    let mut out = vec![LayerSpec::Thresholding(ThresholdingSpec {
        channels: input.channels,
        vectors: input.pixels(),
        thresholds: vec![steps],
        act_val: lo as i64,
        input: DType::UINT8,
        out: code_type,
    })];
    for l in &resolved {
        let ci = match (l.kind, l.compute_index) {
            (LayerKind::MaxPool { size }, _) => {
                out.push(LayerSpec::MaxPool(MaxPoolSpec {
                    height: l.input.height,
                    width: l.input.width,
                    channels: l.input.channels,
                    kernel: size,
                }));
                continue;
            }
            (_, Some(ci)) => ci,
            (_, None) => unreachable!("compute layers have an index"),
        };
        let first = ci == 0;
        let in_type = if first { code_type } else { DType::BINARY };
        let vectors = match l.kind {
            LayerKind::Conv { kernel } => {
                out.push(LayerSpec::Swu(SwuSpec {
                    height: l.input.height,
                    width: l.input.width,
                    channels: l.input.channels,
                    kernel,
                    dtype: in_type,
                }));
                l.output.pixels()
            }
            _ => 1,
        };
        let f = &m.layers[ci];
        let (mw, mh) = (f.weights.cols(), f.weights.rows());
        let mut weights = BitRows::zeros(mh, mw);
        for r in 0..mh {
            for (c, b) in f.weights.row(r).iter().enumerate() {
                if *b {
                    weights.set(r, c, true);
                }
            }
        }
        let activation = match &f.thresholds {
            Some(t) => Activation::Thresholds {
                thresholds: t.iter().map(|&x| vec![x as i64]).collect(),
                act_val: 0,
                out: DType::BINARY,
            },
            None => {
                let (lo, hi) = acc_range(l, first, &q);
                // FINN rounds the graph's last output up to whole bytes.
                Activation::Acc { out: DType::covering(lo, hi).byte_aligned() }
            }
        };
        out.push(LayerSpec::Mvau(MvauSpec { mw, mh, vectors, input: in_type, weights, activation }));
    }
    out.push(LayerSpec::LabelSelect { labels: m.topology.classes(), k: 1 });
    Ok(out)
}

/// Lowers and folds a model as FINN builds it.
pub fn lower(m: &FoldedModel, cfg: &FoldingConfig) -> Result<Lowered> {
    lower_flow(m, cfg, Flow::Finn)
}

/// Lowers and folds a model as `flow` builds it.
pub fn lower_flow(m: &FoldedModel, cfg: &FoldingConfig, flow: Flow) -> Result<Lowered> {
    let specs = layers(m)?;
    let t = m.topology.input;
    let graph = Graph::build_flow(&specs, cfg, (t.height, t.width, t.channels), flow).map_err(sim_error)?;
    let resolved = m.resolved();
    let (mut mv, mut mp) = (0, 0);
    let layer_nodes = resolved
        .iter()
        .map(|l| match l.kind {
            LayerKind::MaxPool { .. } => {
                mp += 1;
                format!("StreamingMaxPool_hls_{}", mp - 1)
            }
            _ => {
                mv += 1;
                format!("MVAU_hls_{}", mv - 1)
            }
        })
        .collect();
    Ok(Lowered { graph, input_node: "Thresholding_rtl_0".into(), layer_nodes, label_node: "LabelSelect_hls_0".into() })
}

/// The paper's folding for a model whose layers have a paper preset's shapes (cnv, ncnv,
/// ucnv), whatever its topology is called.
pub fn paper_config(m: &FoldedModel) -> Option<FoldingConfig> {
    binarycop_hw::folding::paper_config(m.topology.paper_preset()?)
}

impl Lowered {
    /// The values a node wrote during a tapped run, in stream order (one per lane).
    pub fn node_output(&self, run: &Run, node: &str) -> Result<Vec<i64>> {
        let i = self
            .graph
            .nodes
            .iter()
            .position(|n| n.name == node)
            .ok_or_else(|| Error::invalid(format!("no node '{node}' in the graph")))?;
        let n = &self.graph.nodes[i];
        let words = run.taps.get(i).ok_or_else(|| Error::invalid("the run was not tapped"))?;
        if let binarycop_sim::Op::Mvau(m) = &n.op {
            // Rows BNN-PYNQ pads the last layer with are not the model's.
            let lanes = lanes(words, n.out_bits, m.out);
            let per = m.mh_pad.max(1);
            return Ok(lanes.chunks(per).flat_map(|v| v[..m.mh.min(v.len())].to_vec()).collect());
        }
        let dtype = match &n.op {
            binarycop_sim::Op::Thresholding(t) => t.out,
            binarycop_sim::Op::MaxPool(_) => DType::BINARY,
            binarycop_sim::Op::Swu(s) => s.dtype,
            binarycop_sim::Op::LabelSelect(l) => l.out,
            _ => return Err(Error::invalid(format!("node '{node}' has no decoded output"))),
        };
        Ok(lanes(words, n.out_bits, dtype))
    }
}

/// How the FIFOs between nodes are sized for a simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FifoDepth {
    /// As the flow does: the folding config's depths where it gives any; else FINN sizes them
    /// (largefifo_rtlsim, [`FifoDepth::Auto`]) and BNN-PYNQ uses its top level's stream depths.
    Flow,
    /// As FINN's default sizing (largefifo_rtlsim) sizes them.
    Auto,
    /// One depth for every FIFO.
    Fixed(usize),
}

impl std::str::FromStr for FifoDepth {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(FifoDepth::Auto),
            d => match d.parse::<usize>() {
                Ok(d) if (1..=1 << 24).contains(&d) => Ok(FifoDepth::Fixed(d)),
                _ => Err(Error::invalid(format!("--fifo-depth must be a positive integer or 'auto', got '{d}'"))),
            },
        }
    }
}

impl Lowered {
    pub fn set_fifo_depth(&mut self, depth: &FifoDepth) -> Result<()> {
        match depth {
            FifoDepth::Flow if self.graph.config_depths || self.graph.flow == Flow::BnnPynq => {}
            FifoDepth::Flow | FifoDepth::Auto => {
                let depths = report::auto_fifo_depths(&self.graph).map_err(sim_error)?;
                self.graph.set_fifo_depths(&depths);
            }
            FifoDepth::Fixed(d) => {
                let n = self.graph.fifos.len();
                self.graph.set_fifo_depths(&vec![*d; n]);
            }
        }
        Ok(())
    }

    /// Clocks `frames` frames through the lowered graph and reports per-node and pipeline
    /// timing at `clock_mhz` (timing does not depend on the pixel values).
    pub fn timing(&self, frames: usize, clock_mhz: f64) -> Result<Report> {
        let input = report::zero_frames(&self.graph, frames);
        let run =
            run_sim(&self.graph, &input, &SimOptions { timing: true, ..Default::default() }).map_err(sim_error)?;
        report::report(&self.graph, &run, clock_mhz).map_err(sim_error)
    }
}
