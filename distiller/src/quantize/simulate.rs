//! The host-side simulated forward pass: the engine's reference forward
//! ([`frameless_engine::writer::reference::forward`], in f32) on weights rounded exactly as
//! the blob stores them.
//!
//! - f32: the weights as they are.
//! - f16: every weight matrix, gate vector and table rounded to IEEE half; activations f32.
//! - int8: weights fake-quantised per output channel (row of `W`), gate vectors per gate,
//!   tables per row; the activation entering every linear layer or gate dot product
//!   (`x`, `h`, `u`) fake-quantised per vector; tables used as stored. Because
//!   `Σ q_x q_w · s_x s_w = Σ (q_x s_x)(q_w s_w)`, this equals the engine's i32
//!   accumulation up to f32 rounding.
//!
//! It is not the engine itself on purpose: export checks the engine against it, an
//! independent computation of the same contract.

use frameless_engine::quant::{fake_quantize_f16, fake_quantize_i8};
use frameless_engine::writer::{reference::forward, Architecture, Linear, ModelWeights};
use frameless_engine::Precision;

use crate::sparse::Csr;

/// Rounds `values` in place as `precision` stores them, one group of `row` values at a time.
fn round_rows(values: &mut [f32], row: usize, precision: Precision) {
    match precision {
        Precision::F32 => {}
        Precision::F16 => fake_quantize_f16(values),
        Precision::Int8 => values.chunks_mut(row.max(1)).for_each(fake_quantize_i8),
    }
}

/// `weights` with every matrix, gate vector and table rounded as a blob in
/// `precision` stores them (biases stay f32).
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
    let w = rounded(weights, precision);
    let activation = |v: &mut [f32]| {
        if precision == Precision::Int8 {
            fake_quantize_i8(v);
        }
    };
    let n = features.n_rows.min(weights.n_nodes);
    let (mut logits, mut gates) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (l, g) = forward::<f32>(&w, i, features.row_features(i), activation);
        logits.extend(l);
        gates.extend(g);
    }
    (logits, gates)
}
