//! The host-side simulated forward pass: the engine contract's maths in plain Rust, on
//! weights rounded exactly as the blob stores them.
//!
//! - f32: the weights as they are.
//! - f16: every weight matrix, gate vector and table rounded to IEEE half; activations f32.
//! - int8: weights fake-quantised per output channel (row of `W`), gate vectors per gate,
//!   tables per row; the activation entering every linear layer or gate dot product
//!   (`x`, `h`, `u`) fake-quantised per vector; tables used as stored. Because
//!   `Σ q_x q_w · s_x s_w = Σ (q_x s_x)(q_w s_w)`, this equals the engine's i32
//!   accumulation up to f32 rounding.

use frameless_engine::quant::{fake_quantize_f16, fake_quantize_i8};
use frameless_engine::writer::{Architecture, Linear, ModelWeights};
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

/// A linear layer with its weights rounded to a precision.
struct Rounded {
    in_dim: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Rounded {
    fn new(l: &Linear, precision: Precision) -> Self {
        let mut weight = l.weight.clone();
        round_rows(&mut weight, l.in_dim, precision);
        Self {
            in_dim: l.in_dim,
            weight,
            bias: l.bias.clone(),
        }
    }

    /// `W x + b` for an activation `x` already rounded.
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        self.weight
            .chunks(self.in_dim.max(1))
            .zip(&self.bias)
            .map(|(w, b)| w.iter().zip(x).map(|(a, c)| a * c).sum::<f32>() + b)
            .collect()
    }

    /// `W x + b` for the sparse row `(indices, values)` already rounded.
    fn apply_sparse(&self, indices: &[u32], values: &[f32]) -> Vec<f32> {
        self.weight
            .chunks(self.in_dim.max(1))
            .zip(&self.bias)
            .map(|(w, b)| {
                indices
                    .iter()
                    .zip(values)
                    .map(|(&j, v)| w[j as usize] * v)
                    .sum::<f32>()
                    + b
            })
            .collect()
    }
}

/// An activation as the engine sees it entering a product (int8: fake-quantised).
fn activation(x: &[f32], precision: Precision) -> Vec<f32> {
    let mut v = x.to_vec();
    if precision == Precision::Int8 {
        fake_quantize_i8(&mut v);
    }
    v
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Logits (`N × C`, row-major) and output-stage gates (`N × B`) of `weights` stored in
/// `precision`, for every node of `features` (`N × F`).
pub fn simulate(
    weights: &ModelWeights,
    precision: Precision,
    features: &Csr,
) -> (Vec<f32>, Vec<f32>) {
    let n = features.n_rows.min(weights.n_nodes);
    let c = weights.n_classes;
    let mut logits = vec![0f32; n * c];
    let mut gates_out = Vec::new();
    let row_of = |i: usize| {
        let span = features.indptr[i]..features.indptr[i + 1];
        (
            &features.indices[span.clone()],
            activation(&features.values[span], precision),
        )
    };
    match &weights.architecture {
        Architecture::Mlp { layers } => {
            let layers: Vec<Rounded> = layers.iter().map(|l| Rounded::new(l, precision)).collect();
            for i in 0..n {
                let (idx, val) = row_of(i);
                let mut h = layers[0].apply_sparse(idx, &val);
                for layer in &layers[1..] {
                    h.iter_mut().for_each(|v| *v = v.max(0.0));
                    h = layer.apply(&activation(&h, precision));
                }
                logits[i * c..(i + 1) * c].copy_from_slice(&h);
            }
        }
        Architecture::Frameless {
            stages,
            band_classifiers,
            feature_classifier,
        } => {
            let d = stages[0].encoder.out_dim;
            let n_bands = band_classifiers.len();
            gates_out = vec![0f32; n * n_bands];
            let encoders: Vec<Rounded> = stages
                .iter()
                .map(|s| Rounded::new(&s.encoder, precision))
                .collect();
            let tables: Vec<Vec<Vec<f32>>> = stages
                .iter()
                .map(|s| {
                    s.tables
                        .iter()
                        .map(|t| {
                            let mut t = t.clone();
                            round_rows(&mut t, d, precision);
                            t
                        })
                        .collect()
                })
                .collect();
            let gate_w: Vec<Vec<Vec<f32>>> = stages
                .iter()
                .map(|s| {
                    s.gates
                        .iter()
                        .map(|g| {
                            let mut w = g.weight.clone();
                            round_rows(&mut w, 2 * d, precision);
                            w
                        })
                        .collect()
                })
                .collect();
            let classifiers: Vec<Rounded> = band_classifiers
                .iter()
                .map(|l| Rounded::new(l, precision))
                .collect();
            let cls_x = Rounded::new(feature_classifier, precision);
            let last = stages.len() - 1;
            for i in 0..n {
                let mut h = Vec::new();
                for (s, stage) in stages.iter().enumerate() {
                    let mut u = if s == 0 {
                        let (idx, val) = row_of(i);
                        encoders[0].apply_sparse(idx, &val)
                    } else {
                        encoders[s].apply(&activation(&h, precision))
                    };
                    if s < last {
                        u.iter_mut().for_each(|v| *v = v.max(0.0));
                    }
                    let uq = activation(&u, precision);
                    let zx = if s == last {
                        cls_x.apply(&uq)
                    } else {
                        Vec::new()
                    };
                    let mut next = vec![0f32; d];
                    let out = &mut logits[i * c..(i + 1) * c];
                    for b in 0..n_bands {
                        let e = &tables[s][b][i * d..(i + 1) * d];
                        let g = &gate_w[s][b];
                        let z = g[..d].iter().zip(e).map(|(a, x)| a * x).sum::<f32>()
                            + g[d..].iter().zip(&uq).map(|(a, x)| a * x).sum::<f32>();
                        let alpha = sigmoid(z + stage.gates[b].bias);
                        if s == last {
                            gates_out[i * n_bands + b] = alpha;
                            let t = classifiers[b].apply(e);
                            for ((o, tv), fv) in out.iter_mut().zip(&t).zip(&zx) {
                                *o += (1.0 - alpha) * tv + alpha * fv;
                            }
                        } else {
                            for ((hv, ev), uv) in next.iter_mut().zip(e).zip(&u) {
                                *hv += (1.0 - alpha) * ev + alpha * uv;
                            }
                        }
                    }
                    h = next;
                }
            }
        }
    }
    (logits, gates_out)
}
