//! The CPU backend: the bit-packed engine, images in parallel. Scores, labels and taps.

use ndarray::{Array4, ArrayView4, Axis};
use rayon::prelude::*;

use super::{check_batch, check_taps, Accelerator, Outputs, Tap};
use crate::engine::{top_k, Engine, Trace};
use crate::error::Result;
use crate::model::FoldedModel;

pub struct CpuAccel {
    engine: Engine,
}

impl CpuAccel {
    pub fn new(model: FoldedModel) -> Result<CpuAccel> {
        Ok(CpuAccel { engine: Engine::new(model)? })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Layer `i`'s output in a trace: the ±1 map, or the accumulators where there is no map.
fn tap_values(trace: &Trace, i: usize) -> Vec<i32> {
    let l = &trace.layers[i];
    match (&l.bits, &l.acc) {
        (Some(b), _) => b.to_pm1().iter().map(|&v| i32::from(v)).collect(),
        (None, Some(a)) => a.iter().copied().collect(),
        (None, None) => unreachable!("a traced layer keeps its map or, when last, its accumulators"),
    }
}

impl Accelerator for CpuAccel {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn model(&self) -> &FoldedModel {
        self.engine.model()
    }
    fn has_scores(&self) -> bool {
        true
    }
    fn has_taps(&self) -> bool {
        true
    }

    fn run(&self, images: ArrayView4<u8>, taps: &[usize]) -> Result<Outputs> {
        let n = check_batch(self.model(), &images)?;
        check_taps(self.model(), self.name(), true, taps)?;
        let scores = self.engine.run_batch(images)?;
        let labels = scores.axis_iter(Axis(0)).map(|s| top_k(s.as_slice().expect("rows"), 1)[0]).collect();
        let mut out = Vec::with_capacity(taps.len());
        if let Some(&upto) = taps.iter().max() {
            let traces: Vec<Trace> = (0..n)
                .into_par_iter()
                .map(|i| self.engine.trace(images.index_axis(Axis(0), i), upto))
                .collect::<Result<_>>()?;
            for &t in taps {
                let s = self.engine.layers()[t].output;
                let values: Vec<i32> = traces.iter().flat_map(|tr| tap_values(tr, t)).collect();
                let values = Array4::from_shape_vec((n, s.height, s.width, s.channels), values)
                    .expect("a layer's map has its output shape");
                out.push(Tap { layer: t, values });
            }
        }
        Ok(Outputs { labels, scores: Some(scores), taps: out })
    }
}
