//! The reference forward pass (feature `std`): the engine contract's maths
//! in plain Rust over [`ModelWeights`], in any [`Real`] number type.
//!
//! Per node: the first layer on the live features, ReLU between layers
//! (mlp) or in every stage but the output one (frameless); per band
//! `alpha_b = sigmoid(g_b[..d] . e_b + g_b[d..] . u + beta_b)`, the next
//! stage's input `sum_b (1 - alpha_b) e_b + alpha_b u`, and the logits
//! `sum_b (1 - alpha_b) (C_b e_b + c_b) + alpha_b (C_x u + c_x)`.
//!
//! The engine's tests run it in f64 as their oracle; the distiller's
//! quantisation simulation runs it in f32 on weights rounded as a blob stores
//! them, with `round` fake-quantising each activation vector entering a
//! product (the input, each layer's or stage's input, `u`; never a table row).
//!
//! ```
//! use frameless_engine::writer::{reference::forward, *};
//! use frameless_engine::{Features, ModelKind};
//! let layer = Linear { in_dim: 2, out_dim: 2, weight: vec![1.0, 0.0, 0.0, 1.0], bias: vec![0.0, 0.5] };
//! let w = ModelWeights {
//!     kind: ModelKind::Mlp, n_nodes: 1, n_features: 2, n_classes: 2,
//!     architecture: Architecture::Mlp { layers: vec![layer] },
//!     metadata: OwnedMetadata::default(),
//!     calibration: None,
//! };
//! let (logits, gates) = forward::<f64>(&w, 0, Features::Dense(&[1.0, 0.0]), |_| {});
//! assert_eq!((logits, gates), (vec![1.0, 0.5], vec![]));
//! ```

use super::{Architecture, Linear, ModelWeights};
use crate::Features;
use std::iter::Sum;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The number type of a reference forward pass: `f32` or `f64`.
pub trait Real:
    Copy
    + From<f32>
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Sum
{
    /// `e^self`.
    fn exp(self) -> Self;
    /// The larger of the two (NaN loses), as `f32::max`.
    fn max(self, other: Self) -> Self;
}

impl Real for f32 {
    fn exp(self) -> Self {
        f32::exp(self)
    }
    fn max(self, other: Self) -> Self {
        f32::max(self, other)
    }
}

impl Real for f64 {
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn max(self, other: Self) -> Self {
        f64::max(self, other)
    }
}

fn real<T: Real>(v: &[f32]) -> Vec<T> {
    v.iter().map(|&x| T::from(x)).collect()
}

/// `W x + b`, each output summed in input order.
fn linear<T: Real>(l: &Linear, x: &[T]) -> Vec<T> {
    let rows = l.weight.chunks(l.in_dim.max(1)).zip(&l.bias);
    rows.map(|(w, &b)| dot(w, x) + T::from(b)).collect()
}

/// The first layer on the live features, `round`ed as they enter it.
fn first<T: Real>(l: &Linear, x: &Features, round: &impl Fn(&mut [T])) -> Vec<T> {
    match *x {
        Features::Dense(x) => linear(l, &rounded(&real(x), round)),
        Features::Sparse { indices, values } => {
            let v = rounded(&real(values), round);
            let w_at = |w: &[f32], j: u32| T::from(w.get(j as usize).copied().unwrap_or(0.0));
            let rows = l.weight.chunks(l.in_dim.max(1)).zip(&l.bias);
            let dot = |w: &[f32]| -> T {
                let terms = indices.iter().zip(&v);
                terms.map(|(&j, &c)| w_at(w, j) * c).sum()
            };
            rows.map(|(w, &b)| dot(w) + T::from(b)).collect()
        }
    }
}

fn rounded<T: Real>(v: &[T], round: &impl Fn(&mut [T])) -> Vec<T> {
    let mut v = v.to_vec();
    round(&mut v);
    v
}

fn relu<T: Real>(v: &mut [T]) {
    v.iter_mut().for_each(|x| *x = x.max(T::from(0.0)));
}

fn dot<T: Real>(w: &[f32], x: &[T]) -> T {
    w.iter().zip(x).map(|(&a, &c)| T::from(a) * c).sum()
}

/// Logits (C) and output-stage gates (B; empty for mlp) of `node` with live
/// features `x`; `round` is applied to each activation vector entering a
/// product. Missing weights or table rows count as zero (the writer checks
/// shapes; this is a test oracle).
pub fn forward<T: Real>(
    w: &ModelWeights,
    node: usize,
    x: Features,
    round: impl Fn(&mut [T]),
) -> (Vec<T>, Vec<T>) {
    let one = T::from(1.0);
    match &w.architecture {
        Architecture::Mlp { layers } => {
            let mut h = layers.first().map_or(Vec::new(), |l| first(l, &x, &round));
            for l in layers.iter().skip(1) {
                relu(&mut h);
                h = linear(l, &rounded(&h, &round));
            }
            (h, Vec::new())
        }
        Architecture::Frameless {
            stages,
            band_classifiers,
            feature_classifier,
        } => {
            let (mut h, mut logits, mut gates) = (Vec::new(), Vec::new(), Vec::new());
            for (s, st) in stages.iter().enumerate() {
                let last = s + 1 == stages.len();
                let mut u = match s {
                    0 => first(&st.encoder, &x, &round),
                    _ => linear(&st.encoder, &rounded(&h, &round)),
                };
                if !last {
                    relu(&mut u);
                }
                let uq = rounded(&u, &round);
                let d = u.len();
                let fx = if last {
                    linear(feature_classifier, &uq)
                } else {
                    Vec::new()
                };
                let mut next = vec![T::from(0.0); d];
                logits = vec![T::from(0.0); w.n_classes];
                gates.clear();
                for (b, (table, gate)) in st.tables.iter().zip(&st.gates).enumerate() {
                    let row = table.get(node * d..(node + 1) * d).unwrap_or(&[]);
                    let e: Vec<T> = real(row);
                    let (ge, gu) = gate.weight.split_at(d.min(gate.weight.len()));
                    let z = dot(ge, &e) + dot(gu, &uq);
                    let alpha = one / (one + (-(z + T::from(gate.bias))).exp());
                    if last {
                        gates.push(alpha);
                        let cb = band_classifiers
                            .get(b)
                            .map_or(Vec::new(), |l| linear(l, &e));
                        for ((o, &t), &f) in logits.iter_mut().zip(&cb).zip(&fx) {
                            *o = *o + ((one - alpha) * t + alpha * f);
                        }
                    } else {
                        for ((n, &ev), &uv) in next.iter_mut().zip(&e).zip(&u) {
                            *n = *n + ((one - alpha) * ev + alpha * uv);
                        }
                    }
                }
                h = next;
            }
            (logits, gates)
        }
    }
}
