//! The BinaryCoP CNV family as FINN layer specs, shared by tests/estimates.rs and
//! examples/paper_gap.rs (BinaryCoP knowledge stays out of the sim library).

use binarycop_sim::graph::LayerSpec;
use binarycop_sim::maxpool::MaxPoolSpec;
use binarycop_sim::mvau::{Activation, BitRows, MvauSpec};
use binarycop_sim::swu::SwuSpec;
use binarycop_sim::thresholding::ThresholdingSpec;
use binarycop_sim::DType;

/// The CNV-family layers (weights all −1, thresholds mid-range: timing and cost do not depend
/// on them). `c` = conv channels per group, `f` = fc width, `conv3_2` whether it is there.
pub fn net(c: [usize; 3], f: usize, conv3_2: bool, classes: usize) -> Vec<LayerSpec> {
    let mut v = vec![LayerSpec::Thresholding(ThresholdingSpec {
        channels: 3,
        vectors: 1024,
        thresholds: vec![(1..256).collect()],
        act_val: -128,
        input: DType::UINT8,
        out: DType::INT8,
    })];
    let (mut h, mut ch) = (32, 3);
    let mvau = |v: &mut Vec<LayerSpec>, mw: usize, mh: usize, vectors: usize, input: DType, last: bool| {
        let activation = if last {
            Activation::Acc { out: DType::covering(0, mw as i64).byte_aligned() }
        } else {
            Activation::Thresholds { thresholds: vec![vec![mw as i64 / 2]; mh], act_val: 0, out: DType::BINARY }
        };
        v.push(LayerSpec::Mvau(MvauSpec { mw, mh, vectors, input, weights: BitRows::zeros(mh, mw), activation }));
    };
    let mut convs = vec![c[0], c[0], 0, c[1], c[1], 0, c[2]];
    if conv3_2 {
        convs.push(c[2]);
    }
    for (i, &oc) in convs.iter().enumerate() {
        if oc == 0 {
            v.push(LayerSpec::MaxPool(MaxPoolSpec { height: h, width: h, channels: ch, kernel: 2 }));
            h /= 2;
            continue;
        }
        let input = if i == 0 { DType::INT8 } else { DType::BINARY };
        v.push(LayerSpec::Swu(SwuSpec { height: h, width: h, channels: ch, kernel: 3, dtype: input }));
        mvau(&mut v, 9 * ch, oc, (h - 2) * (h - 2), input, false);
        h -= 2;
        ch = oc;
    }
    let mut mw = h * h * ch;
    let fcs: Vec<usize> = if conv3_2 { vec![f, f, classes] } else { vec![f, classes] };
    for (i, &o) in fcs.iter().enumerate() {
        mvau(&mut v, mw, o, 1, DType::BINARY, i + 1 == fcs.len());
        mw = o;
    }
    v.push(LayerSpec::LabelSelect { labels: classes, k: 1 });
    v
}

/// The paper's networks by preset name (4 classes).
pub fn preset(name: &str) -> Vec<LayerSpec> {
    match name {
        "cnv" => net([64, 128, 256], 512, true, 4),
        "ncnv" => net([16, 32, 64], 128, true, 4),
        _ => net([16, 32, 64], 128, false, 4),
    }
}
