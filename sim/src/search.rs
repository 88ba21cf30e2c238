//! Folding search: FINN's SetFolding (finn.md §6) under a board's LUT, Block RAM and DSP budget
//! (judged by the post-implementation estimate, [`crate::implementation`]), with the
//! cycle-level simulation as the judge where it and the formulas disagree.
//!
//! SetFolding: every node starts fully folded (PE = SIMD = 1); an MVAU raises SIMD through the
//! divisors of MW until its cycles drop below the target (stopping before SIMD·wbits exceeds
//! `mvau_wwidth_max`), then PE through the divisors of MH; Thresholding and LabelSelect raise
//! PE, the SWU SIMD, through the divisors of their channels / labels. If some node cannot reach
//! the target, the search reruns once with the achieved maximum as the target (FINN's
//! two-pass relaxation). Here, a folding over the budget first moves XNORs onto DSP48s
//! (BinaryCoP's packing, [`crate::dsp_xnor`]: the widest binary MVAUs first, while the DSPs
//! last), then relaxes the target until it fits; a folding the simulator finds slower than the
//! target tightens it.

use binarycop_hw::folding::FoldingConfig;

use crate::clock::{simulate, SimOptions};
use crate::dsp_xnor;
use crate::graph::{Graph, LayerSpec, Op, OP_LABEL, OP_MVAU, OP_SWU, OP_THRES};
use crate::implementation::{self, Estimate};
use crate::report;
use crate::stream::DType;
use crate::Error;

/// What the accelerator may use, in Vivado's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    pub lut: u64,
    pub bram_tiles: f64,
    pub dsp: u64,
}

impl Budget {
    fn fits(&self, e: &Estimate) -> bool {
        e.lut <= self.lut && e.bram_tiles() <= self.bram_tiles && e.dsp <= self.dsp
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub config: FoldingConfig,
    pub graph: Graph,
    pub target_cycles: u64,
    /// FINN's estimate for the chosen folding.
    pub exp_cycles: u64,
    /// The simulator's steady state with FIFOs sized by [`report::auto_fifo_depths`].
    pub sim_cycles: f64,
    /// The post-implementation estimate the budget was judged by.
    pub estimate: Estimate,
    /// MVAUs whose XNORs were moved onto DSP48s.
    pub packed: Vec<String>,
    /// Whether the simulated throughput reaches the target.
    pub met: bool,
    /// What the search did, for the user.
    pub notes: Vec<String>,
}

fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
}

/// The first value of `candidates` whose cycles are below `target` (the last if none).
fn first_below(candidates: &[usize], target: u64, cycles: impl Fn(usize) -> u64) -> usize {
    for &c in candidates {
        if cycles(c) < target {
            return c;
        }
    }
    *candidates.last().expect("a positive count has divisors")
}

/// FINN's cycle formulas on unfolded specs, per node, for a given folding.
fn swu_cycles(s: &crate::swu::SwuSpec, simd: usize) -> u64 {
    let cf = s.channels / simd;
    let (oh, ow) = (s.height - s.kernel + 1, s.width - s.kernel + 1);
    let buf = ((s.kernel - 1) * s.width + s.kernel) * cf;
    (buf + oh * (ow * s.kernel * s.kernel * cf).max(s.width * cf)) as u64
}

/// FINN's SetFolding for one target, as a folding config.
pub fn set_folding(layers: &[LayerSpec], target: u64, mvau_wwidth_max: usize) -> FoldingConfig {
    let mut cfg = FoldingConfig::default();
    let (mut nt, mut ns, mut nm, mut nl) = (0, 0, 0, 0);
    for l in layers {
        match l {
            LayerSpec::Thresholding(t) => {
                let pe = first_below(&divisors(t.channels), target, |pe| (t.channels / pe * t.vectors) as u64);
                cfg.set(&format!("{OP_THRES}_{nt}"), "PE", pe);
                nt += 1;
            }
            LayerSpec::Swu(s) => {
                let simd = first_below(&divisors(s.channels), target, |d| swu_cycles(s, d));
                cfg.set(&format!("{OP_SWU}_{ns}"), "SIMD", simd);
                ns += 1;
            }
            LayerSpec::Mvau(m) => {
                let cyc = |pe: usize, simd: usize| ((m.mh / pe) * (m.mw / simd) * m.vectors) as u64;
                let mut simd = 1;
                for d in divisors(m.mw) {
                    if d > mvau_wwidth_max {
                        break;
                    }
                    simd = d;
                    if cyc(1, d) < target {
                        break;
                    }
                }
                let pe = first_below(&divisors(m.mh), target, |pe| cyc(pe, simd));
                let n = format!("{OP_MVAU}_{nm}");
                cfg.set(&n, "PE", pe);
                cfg.set(&n, "SIMD", simd);
                nm += 1;
            }
            LayerSpec::LabelSelect { labels, .. } => {
                let pe = first_below(&divisors(*labels), target, |pe| (labels / pe) as u64);
                cfg.set(&format!("{OP_LABEL}_{nl}"), "PE", pe);
                nl += 1;
            }
            LayerSpec::MaxPool(_) => {}
        }
    }
    cfg
}

/// FINN's two passes: the target, then the achieved maximum if the target was out of reach.
fn finn_folding(
    layers: &[LayerSpec],
    input: (usize, usize, usize),
    target: u64,
    wmax: usize,
) -> Result<(FoldingConfig, Graph), Error> {
    let cfg = set_folding(layers, target, wmax);
    let g = Graph::build(layers, &cfg, input)?;
    let achieved = g.max_exp_cycles();
    if achieved > target {
        let cfg = set_folding(layers, achieved + 1, wmax);
        let g = Graph::build(layers, &cfg, input)?;
        return Ok((cfg, g));
    }
    Ok((cfg, g))
}

/// Packs XNORs onto DSP48s, widest binary MVAU first, while the DSPs fit, until the estimate
/// fits; returns the packed MVAUs (none if packing cannot make it fit).
fn pack_dsps(g: &mut Graph, budget: &Budget, model: &implementation::Model) -> Vec<String> {
    let mut order: Vec<usize> = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(&n.op, Op::Mvau(m) if m.input == DType::BINARY && !m.cfg.dsp_xnor))
        .map(|(i, _)| i)
        .collect();
    let width = |g: &Graph, i: usize| match &g.nodes[i].op {
        Op::Mvau(m) => m.cfg.pe * m.cfg.simd,
        _ => 0,
    };
    order.sort_by_key(|&i| std::cmp::Reverse(width(g, i)));
    let mut trial = g.clone();
    let mut packed = Vec::new();
    for i in order {
        let Op::Mvau(m) = &mut trial.nodes[i].op else { continue };
        let before = m.cfg.dsp_xnor;
        m.cfg.dsp_xnor = true;
        let e = model.estimate(&trial, true);
        if e.dsp > budget.dsp {
            if let Op::Mvau(m) = &mut trial.nodes[i].op {
                m.cfg.dsp_xnor = before;
            }
            continue;
        }
        packed.push(trial.nodes[i].name.clone());
        if budget.fits(&e) {
            *g = trial;
            return packed;
        }
    }
    Vec::new()
}

/// Picks a folding for `target_cycles` per frame that fits `budget`.
pub fn search(
    layers: &[LayerSpec],
    input: (usize, usize, usize),
    target_cycles: u64,
    budget: Budget,
    mvau_wwidth_max: usize,
) -> Result<Outcome, Error> {
    search_observed(layers, input, target_cycles, budget, mvau_wwidth_max, &|_| {})
}

/// [`search`], telling `step` what it tries (for a progress display).
pub fn search_observed(
    layers: &[LayerSpec],
    input: (usize, usize, usize),
    target_cycles: u64,
    budget: Budget,
    mvau_wwidth_max: usize,
    step: &dyn Fn(&str),
) -> Result<Outcome, Error> {
    let mut notes = Vec::new();
    let model = implementation::model()?;
    let fits = |g: &Graph| budget.fits(&model.estimate(g, true));
    // The slowest possible folding: if even that is over budget, nothing fits.
    let slowest = finn_folding(layers, input, u64::MAX, mvau_wwidth_max)?.1;
    if !fits(&slowest) {
        let e = model.estimate(&slowest, true);
        return Err(Error::Invalid(format!(
            "even fully folded (PE = SIMD = 1) the design needs {} LUT, {} BRAM tiles and {} DSP, over the budget of {} LUT, {} BRAM tiles and {} DSP",
            e.lut,
            e.bram_tiles(),
            e.dsp,
            budget.lut,
            budget.bram_tiles,
            budget.dsp
        )));
    }
    let mut target = target_cycles.max(1);
    let mut best: Option<Outcome> = None;
    for _round in 0..6 {
        // Relax the target until the folding, with its FIFOs sized (and XNORs on DSPs if that
        // is what it takes), fits the budget.
        let mut t = target;
        let mut packed = Vec::new();
        let g = loop {
            step(&format!("folding for {t} cycles/frame"));
            let (_, mut g) = finn_folding(layers, input, t, mvau_wwidth_max)?;
            let depths = report::auto_fifo_depths(&g)?;
            g.set_fifo_depths(&depths);
            if fits(&g) {
                break g;
            }
            packed = pack_dsps(&mut g, &budget, model);
            if !packed.is_empty() {
                break g;
            }
            t = t + t / 8 + 1;
        };
        let est = model.estimate(&g, true);
        if !packed.is_empty() {
            let dsps: u64 = g.mvaus().map(|(_, m)| dsp_xnor::dsps(m)).sum();
            notes.push(format!(
                "the folding for {t} cycles/frame is over the LUT budget; {} moved onto {dsps} DSP48s (dsp_xnor), {} LUT",
                packed.join(", "),
                est.lut
            ));
        }
        if t != target {
            notes.push(format!(
                "the folding for {target} cycles/frame needs more than the budget; relaxed to {t} cycles/frame ({} LUT, {} BRAM tiles, {} DSP)",
                est.lut,
                est.bram_tiles(),
                est.dsp
            ));
        }
        // The simulator's verdict.
        step(&format!("simulating the folding for {t} cycles/frame"));
        let run = simulate(&g, &report::zero_frames(&g, 6), &SimOptions { timing: true, ..Default::default() })?;
        let sim = run.cycles_per_frame();
        let exp = g.max_exp_cycles();
        let cfg = g.to_folding_config();
        let outcome = Outcome {
            config: cfg,
            estimate: est,
            packed,
            graph: g,
            target_cycles,
            exp_cycles: exp,
            sim_cycles: sim,
            met: sim <= target_cycles as f64 * 1.001,
            notes: Vec::new(),
        };
        let better = best.as_ref().is_none_or(|b| outcome.sim_cycles < b.sim_cycles);
        let met = outcome.met;
        if better {
            best = Some(outcome);
        }
        if met || t != target {
            break;
        }
        if exp <= target && sim > target as f64 * 1.001 {
            // The formulas say yes, the clock says no: ask the formulas for more.
            let tighter = ((target as f64) * target as f64 / sim).floor() as u64;
            notes.push(format!(
                "formulas predict {exp} cycles/frame but the simulation needs {sim:.0}; retrying with a target of {tighter}"
            ));
            if tighter >= target || tighter == 0 {
                break;
            }
            target = tighter;
        } else {
            break;
        }
    }
    let mut out = best.expect("at least one round ran");
    out.notes = notes;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvau::{Activation, BitRows, MvauSpec};
    use crate::DType;

    fn fc(mw: usize, mh: usize, last: bool) -> LayerSpec {
        let activation = if last {
            Activation::Acc { out: DType::covering(0, mw as i64).byte_aligned() }
        } else {
            Activation::Thresholds { thresholds: vec![vec![1]; mh], act_val: 0, out: DType::BINARY }
        };
        LayerSpec::Mvau(MvauSpec {
            mw,
            mh,
            vectors: 1,
            input: DType::BINARY,
            weights: BitRows::zeros(mh, mw),
            activation,
        })
    }

    #[test]
    fn set_folding_follows_finn() {
        let layers = [fc(256, 64, false), fc(64, 10, true)];
        // 256×64 at target 1000: SIMD through 1,2,4,...,32 (256·64/32 = 512 < 1000) → 32, PE 1.
        let cfg = set_folding(&layers, 1000, 36);
        assert_eq!(cfg.attrs_for("MVAU_hls_0", OP_MVAU)["SIMD"], 32);
        assert_eq!(cfg.attrs_for("MVAU_hls_0", OP_MVAU)["PE"], 1);
        // At target 100 SIMD stops at 32 (the next divisor, 64, exceeds mvau_wwidth_max 36;
        // 64·256/32 = 512 cycles), then PE rises through 1, 2, 4, 8: (64/8)·(256/32) = 64 < 100.
        let cfg = set_folding(&layers, 100, 36);
        assert_eq!(cfg.attrs_for("MVAU_hls_0", OP_MVAU)["SIMD"], 32);
        assert_eq!(cfg.attrs_for("MVAU_hls_0", OP_MVAU)["PE"], 8);
        // 64×10 at target 100: SIMD 1 → 640, 2 → 320, 4 → 160, 8 → 80 < 100.
        assert_eq!(cfg.attrs_for("MVAU_hls_1", OP_MVAU)["SIMD"], 8);
        assert_eq!(cfg.attrs_for("MVAU_hls_1", OP_MVAU)["PE"], 1);
    }

    #[test]
    fn the_budget_relaxes_the_target_and_impossible_budgets_are_errors() {
        let layers = vec![
            LayerSpec::Thresholding(crate::thresholding::ThresholdingSpec {
                channels: 1,
                vectors: 16,
                thresholds: vec![(1..256).collect()],
                act_val: -128,
                input: DType::UINT8,
                out: DType::INT8,
            }),
            LayerSpec::Mvau(MvauSpec {
                mw: 16,
                mh: 64,
                vectors: 1,
                input: DType::INT8,
                weights: BitRows::zeros(64, 16),
                activation: Activation::Thresholds { thresholds: vec![vec![0]; 64], act_val: 0, out: DType::BINARY },
            }),
            fc(64, 4, true),
            LayerSpec::LabelSelect { labels: 4, k: 1 },
        ];
        let input = (4, 4, 1);
        let roomy = search(&layers, input, 20, Budget { lut: 1_000_000, bram_tiles: 1000.0, dsp: 1000 }, 36).unwrap();
        assert!(roomy.met && roomy.exp_cycles < 20 && roomy.packed.is_empty(), "{roomy:?}");
        let tight_lut = roomy.estimate.lut - 1;
        // No DSPs to spare beyond the shell's: the target relaxes.
        let shell_dsp = roomy.estimate.dsp;
        let tight =
            search(&layers, input, 20, Budget { lut: tight_lut, bram_tiles: 1000.0, dsp: shell_dsp }, 36).unwrap();
        assert!(tight.estimate.lut <= tight_lut && !tight.met && !tight.notes.is_empty(), "{:?}", tight.notes);
        assert!(tight.packed.is_empty());
        // With DSPs to spare, the binary MVAU's XNORs move onto them and the target holds.
        let packed = search(&layers, input, 20, Budget { lut: tight_lut, bram_tiles: 1000.0, dsp: 1000 }, 36).unwrap();
        assert!(packed.met && packed.packed == ["MVAU_hls_1"], "{packed:?}");
        assert!(packed.estimate.lut <= tight_lut && packed.estimate.dsp > shell_dsp);
        assert_eq!(packed.config.attrs_for("MVAU_hls_1", "MVAU_hls")["dsp_xnor"], 1);
        let e = search(&layers, input, 20, Budget { lut: 10, bram_tiles: 0.0, dsp: 0 }, 36).unwrap_err().to_string();
        assert!(e.contains("over the budget"), "{e}");
    }
}
