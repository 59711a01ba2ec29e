//! The host-side simulated forward pass: the engine's reference forward
//! ([`frameless_engine::writer::reference::forward`], in f32) on weights rounded exactly as
//! the blob stores them.
//!
//! - f32: the weights as they are.
//! - f16: every weight matrix, gate vector and table rounded to IEEE half; activations f32.
//! - int8: the engine's integer contract, run by the writer's integer reference
//!   ([`QuantizedModel::forward`]) on the features quantised with the blob's input
//!   scale; logits and gates converted as the engine's f32 entry converts them, so
//!   the engine must match it bit for bit.
//!
//! It is not the engine itself on purpose: export checks the engine against it, an
//! independent computation of the same contract.

use frameless_engine::quant::{fake_quantize_f16, fake_quantize_i8, quantize_value_i8};
use frameless_engine::writer::int8::{calibrate, QuantizedModel};
use frameless_engine::writer::{reference::forward, Architecture, Linear, ModelWeights};
use frameless_engine::{Features, Precision};

use crate::sparse::Csr;
use crate::threads::map_in_order;

/// Rounds `values` in place as `precision` stores them, one group of `row` values at a time.
fn round_rows(values: &mut [f32], row: usize, precision: Precision) {
    match precision {
        Precision::F32 => {}
        Precision::F16 => fake_quantize_f16(values),
        Precision::Int8 => values.chunks_mut(row.max(1)).for_each(fake_quantize_i8),
    }
}

/// `weights` with every matrix, gate vector and table rounded as a blob in
/// `precision` stores them (biases stay f32; int8 is [`simulate_int8`]'s).
fn rounded(weights: &ModelWeights, precision: Precision) -> ModelWeights {
    let mut w = weights.clone();
    let round = |l: &mut Linear| round_rows(&mut l.weight, l.in_dim, precision);
    match &mut w.architecture {
        Architecture::Mlp { layers } => layers.iter_mut().for_each(round),
        Architecture::Frameless {
            stages,
            band_classifiers,
            feature_classifier,
        } => {
            for stage in stages {
                let d = stage.encoder.out_dim;
                round(&mut stage.encoder);
                for t in &mut stage.tables {
                    round_rows(t, d, precision);
                }
                for g in &mut stage.gates {
                    round_rows(&mut g.weight, 2 * d, precision);
                }
            }
            band_classifiers.iter_mut().for_each(round);
            round(feature_classifier);
        }
    }
    w
}

/// Logits (`N × C`, row-major) and output-stage gates (`N × B`) of `weights` stored in
/// `precision`, for every node of `features` (`N × F`).
pub fn simulate(
    weights: &ModelWeights,
    precision: Precision,
    features: &Csr,
) -> (Vec<f32>, Vec<f32>) {
    if precision == Precision::Int8 {
        return simulate_int8(weights, features);
    }
    let w = rounded(weights, precision);
    let activation = |v: &mut [f32]| {
        if precision == Precision::Int8 {
            fake_quantize_i8(v);
        }
    };
    let n = features.n_rows.min(weights.n_nodes);
    concat(map_in_order(n, NODE_WORK, |i| {
        forward::<f32>(&w, i, features.row_features(i), activation)
    }))
}

/// About the multiply-adds of one node's forward pass (simulated or through the engine),
/// for [`map_in_order`]'s split.
pub(crate) const NODE_WORK: usize = 10_000;

/// Each node's logits and gates, one after the other.
fn concat(per_node: Vec<(Vec<f32>, Vec<f32>)>) -> (Vec<f32>, Vec<f32>) {
    let (mut logits, mut gates) = (Vec::new(), Vec::new());
    for (l, g) in per_node {
        logits.extend(l);
        gates.extend(g);
    }
    (logits, gates)
}

/// [`simulate`] for int8 (weights without a calibration are calibrated on `features`).
fn simulate_int8(weights: &ModelWeights, features: &Csr) -> (Vec<f32>, Vec<f32>) {
    let n = features.n_rows.min(weights.n_nodes);
    let mut w = weights.clone();
    if w.calibration.is_none() {
        w.calibration = Some(calibrate(&w, super::all_nodes(features).take(n)));
    }
    let Ok(q) = QuantizedModel::new(&w) else {
        return (Vec::new(), Vec::new());
    };
    let section = q.section();
    let (s_x, s_l) = (section[0], section[1]);
    concat(map_in_order(n, NODE_WORK, |i| {
        let Features::Sparse { indices, values } = features.row_features(i) else {
            return (Vec::new(), Vec::new());
        };
        let values: Vec<i8> = values.iter().map(|&x| quantize_value_i8(x, s_x)).collect();
        let x = Features::Sparse {
            indices,
            values: &values[..],
        };
        let (l, g) = q.forward(i, x);
        let logits = l.iter().map(|&v| v as f32 * s_l).collect();
        (logits, g.iter().map(|&v| v as f32 / 32768.0).collect())
    }))
}
