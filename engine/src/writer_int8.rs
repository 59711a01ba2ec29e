//! int8 for the integer-only engine (feature `std`): calibration, the
//! static units of every layer, the quantised tensors an int8 blob stores,
//! and the integer reference forward pass.
//!
//! A layer `y = W x + b` with input scale `s_in` and output unit `unit` is
//! stored as int8 rows (one scale `s_w[o]` each), the multiplier
//! `M[o] = s_in * s_w[o] / unit` and the bias `round(b[o] / unit)` (i32).
//! Units: an activation of scale `s` is produced in `s / 256`, logits in the
//! logit scale `max|logit| / 2^20`, gate inputs in `2^-12`. Band classifiers
//! and gates have `s_in = 1`: the engine multiplies in the table row's scale
//! (and `s_u`) at run time, as [`crate::quant::Fix::times`].
//!
//! [`QuantizedModel::forward`] is the integer contract in plain loops over
//! those tensors: the engine's tests and the distiller's simulation compare
//! the engine with it bit for bit.

use super::{Architecture, Linear, ModelWeights, WriteError};
use crate::quant::{quantize_symmetric_i8, sat_i32, scale_i8, sigmoid_q15, Fix, Z_BITS};
use crate::Features;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// The largest `|value|` each activation reached on the calibration inputs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Calibration {
    /// The input features.
    pub input: f32,
    /// In forward order. mlp: each hidden layer's output (after ReLU).
    /// Frameless: per stage its encoded features `u`, then (all stages but
    /// the last) the next stage's input `h`.
    pub hidden: Vec<f32>,
    /// The logits.
    pub logits: f32,
}

/// Runs the f64 reference forward on every `(node, features)` of `inputs`
/// and records each activation's range: the calibration an int8 blob needs.
pub fn calibrate<'x>(
    w: &ModelWeights,
    inputs: impl IntoIterator<Item = (usize, Features<'x>)>,
) -> Calibration {
    let ranges = RefCell::new(Vec::<f64>::new());
    let mut logits = 0.0f64;
    for (node, x) in inputs {
        let call = RefCell::new(0usize);
        let record = |v: &mut [f64]| {
            let (mut r, mut i) = (ranges.borrow_mut(), call.borrow_mut());
            if r.len() <= *i {
                r.resize(*i + 1, 0.0);
            }
            r[*i] = v.iter().fold(r[*i], |m, x| m.max(x.abs()));
            *i += 1;
        };
        let (l, _) = super::reference::forward::<f64>(w, node, x, record);
        logits = l.iter().fold(logits, |m, x| m.max(x.abs()));
    }
    let r: Vec<f32> = ranges.into_inner().into_iter().map(|v| v as f32).collect();
    Calibration {
        input: r.first().copied().unwrap_or(0.0),
        hidden: r.get(1..).unwrap_or(&[]).to_vec(),
        logits: logits as f32,
    }
}

/// Bits of headroom below the largest calibrated logit.
const LOGIT_BITS: i32 = 20;
/// Fractional bits the engine sums the next stage's input in (`integer.rs`'s `MIX_BITS`).
const MIX_BITS: i32 = 12;

/// The static scales of a calibrated model.
#[derive(Debug, Clone, PartialEq)]
pub struct Units {
    input: f64,
    hidden: Vec<f64>,
    logits: f64,
}

impl Units {
    /// The scales of `w`'s calibration.
    ///
    /// # Errors
    /// [`WriteError::Uncalibrated`] without one, or with the wrong number of ranges.
    pub fn of(w: &ModelWeights) -> Result<Units, WriteError> {
        let cal = w.calibration.as_ref().ok_or(WriteError::Uncalibrated)?;
        let expected = match &w.architecture {
            Architecture::Mlp { layers } => layers.len().saturating_sub(1),
            Architecture::Frameless { stages, .. } => (2 * stages.len()).saturating_sub(1),
        };
        if cal.hidden.len() != expected {
            return Err(WriteError::Uncalibrated);
        }
        let act = |r: f32| f64::from(scale_i8(&[r]));
        let l = f64::from(cal.logits);
        Ok(Units {
            input: act(cal.input),
            hidden: cal.hidden.iter().map(|&r| act(r)).collect(),
            logits: if l > 0.0 && l.is_finite() { l } else { 1.0 } * 2f64.powi(-LOGIT_BITS),
        })
    }

    fn hidden(&self, i: usize) -> f64 {
        self.hidden.get(i).copied().unwrap_or(1.0)
    }

    /// `(s_in, unit)` of mlp layer `k` of `layers`.
    pub fn layer(&self, k: usize, layers: usize) -> (f64, f64) {
        let s_in = if k == 0 {
            self.input
        } else {
            self.hidden(k - 1)
        };
        let unit = if k + 1 == layers {
            self.logits
        } else {
            self.hidden(k) / 256.0
        };
        (s_in, unit)
    }

    /// `(s_in, unit)` of stage `s`'s encoder.
    pub fn encoder(&self, s: usize) -> (f64, f64) {
        let s_in = if s == 0 {
            self.input
        } else {
            self.hidden(2 * s - 1)
        };
        (s_in, self.hidden(2 * s) / 256.0)
    }

    /// `(s_in, unit)` of the gates: `s_g` in Q12 per gate.
    pub fn gates(&self) -> (f64, f64) {
        (1.0, 2f64.powi(-(Z_BITS as i32)))
    }

    /// `(s_in, unit)` of the band classifiers (the row scale enters at run time).
    pub fn bands(&self) -> (f64, f64) {
        (1.0, self.logits)
    }

    /// `(s_in, unit)` of the feature classifier of a model with `stages`.
    pub fn features(&self, stages: usize) -> (f64, f64) {
        (self.hidden(2 * stages.saturating_sub(1)), self.logits)
    }

    /// The blob's calibration section: input and logit scales, then per
    /// stage `s_u` and the mixing ratio `2^12 / (2^15 s_h)` (1.0 in the last).
    ///
    /// # Errors
    /// [`WriteError::Int8Range`] if a value is not a multiplier the engine takes.
    pub fn section(&self, stages: Option<usize>) -> Result<Vec<f32>, WriteError> {
        let mut v = vec![self.input, self.logits];
        for s in 0..stages.unwrap_or(0) {
            let last = s + 1 == stages.unwrap_or(0);
            let ratio = if last {
                1.0
            } else {
                2f64.powi(MIX_BITS - 15) / self.hidden(2 * s + 1)
            };
            v.extend([self.hidden(2 * s), ratio]);
        }
        v.into_iter()
            .map(|x| multiplier(x, "calibration"))
            .collect()
    }
}

/// An f64 multiplier as the f32 a blob stores.
///
/// # Errors
/// [`WriteError::Int8Range`] if [`Fix::of`] cannot take it.
pub fn multiplier(v: f64, what: &'static str) -> Result<f32, WriteError> {
    let m = v as f32;
    Fix::of(m).map(|_| m).ok_or(WriteError::Int8Range { what })
}

/// One layer as an int8 blob stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantLinear {
    /// Rows of int8 weights, one per output.
    pub rows: Vec<Vec<i8>>,
    /// Per output, `s_in * s_w[o] / unit`.
    pub multiplier: Vec<f32>,
    /// Per output, `round(b[o] / unit)`.
    pub bias: Vec<i32>,
}

impl QuantLinear {
    /// Quantises `rows` and `bias` for input scale `s_in` and output unit `unit`.
    ///
    /// # Errors
    /// [`WriteError::Int8Range`] when a multiplier is out of range.
    pub fn new(
        rows: &[&[f32]],
        bias: &[f32],
        (s_in, unit): (f64, f64),
        what: &'static str,
    ) -> Result<Self, WriteError> {
        let mut q = QuantLinear {
            rows: Vec::new(),
            multiplier: Vec::new(),
            bias: Vec::new(),
        };
        for (r, &b) in rows.iter().zip(bias) {
            let mut row = vec![0i8; r.len()];
            let s_w = f64::from(quantize_symmetric_i8(r, &mut row));
            let m = s_in * s_w / unit;
            // A row too small for any multiplier contributes nothing: store zeros.
            let m = match multiplier(m, what) {
                Err(_) if m < 1.0 => {
                    row.fill(0);
                    1.0
                }
                m => m?,
            };
            q.rows.push(row);
            q.multiplier.push(m);
            q.bias.push(sat_i32((f64::from(b) / unit).round() as i64));
        }
        Ok(q)
    }

    fn of(l: &Linear, units: (f64, f64), what: &'static str) -> Result<Self, WriteError> {
        let rows: Vec<&[f32]> = l.weight.chunks(l.in_dim.max(1)).collect();
        QuantLinear::new(&rows, &l.bias, units, what)
    }

    /// `y[o] = M[o] * extra * (row_o . x) + bias[o]`, sums exact in i64.
    fn apply(&self, x: &[i64], extra: Fix) -> Vec<i64> {
        let rows = self.rows.iter().zip(&self.multiplier).zip(&self.bias);
        rows.map(|((r, &m), &b)| {
            let acc: i64 = r.iter().zip(x).map(|(&w, &v)| i64::from(w) * v).sum();
            let m = Fix::of(m).unwrap_or(Fix::UNIT).times(extra);
            i64::from(sat_i32(m.apply(acc) + i64::from(b)))
        })
        .collect()
    }
}

/// One band table as int8 rows with a scale each.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantTable {
    /// `n_nodes` rows of `d`.
    pub rows: Vec<Vec<i8>>,
    /// One scale per row.
    pub scales: Vec<f32>,
}

impl QuantTable {
    /// Quantises `table` (`n x d`, row-major) per row.
    pub fn new(table: &[f32], d: usize) -> Self {
        let (mut rows, mut scales) = (Vec::new(), Vec::new());
        for r in table.chunks(d.max(1)) {
            let mut q = vec![0i8; r.len()];
            let mut s = quantize_symmetric_i8(r, &mut q);
            if Fix::of(s).is_none() {
                // Below 2^-39: a row of (near) zeros.
                q.fill(0);
                s = 1.0;
            }
            scales.push(s);
            rows.push(q);
        }
        QuantTable { rows, scales }
    }
}

/// One frameless stage, quantised.
#[derive(Debug, Clone, PartialEq)]
struct QuantStage {
    encoder: QuantLinear,
    tables: Vec<QuantTable>,
    gates: QuantLinear,
}

/// A whole model as an int8 blob stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedModel {
    n_features: usize,
    section: Vec<f32>,
    layers: Vec<QuantLinear>,
    stages: Vec<QuantStage>,
    bands: Vec<QuantLinear>,
    features: Option<QuantLinear>,
}

fn fix(v: f32) -> Fix {
    Fix::of(v).unwrap_or(Fix::UNIT)
}

impl QuantizedModel {
    /// Quantises calibrated weights (shapes as [`super::write_blob`] checks them).
    ///
    /// # Errors
    /// [`WriteError::Uncalibrated`] or [`WriteError::Int8Range`].
    pub fn new(w: &ModelWeights) -> Result<Self, WriteError> {
        let u = Units::of(w)?;
        let mut q = QuantizedModel {
            n_features: w.n_features,
            section: Vec::new(),
            layers: Vec::new(),
            stages: Vec::new(),
            bands: Vec::new(),
            features: None,
        };
        match &w.architecture {
            Architecture::Mlp { layers } => {
                q.section = u.section(None)?;
                for (k, l) in layers.iter().enumerate() {
                    q.layers
                        .push(QuantLinear::of(l, u.layer(k, layers.len()), "mlp layer")?);
                }
            }
            Architecture::Frameless {
                stages,
                band_classifiers,
                feature_classifier,
            } => {
                q.section = u.section(Some(stages.len()))?;
                for (s, st) in stages.iter().enumerate() {
                    let d = st.encoder.out_dim;
                    let rows: Vec<&[f32]> = st.gates.iter().map(|g| g.weight.as_slice()).collect();
                    let bias: Vec<f32> = st.gates.iter().map(|g| g.bias).collect();
                    q.stages.push(QuantStage {
                        encoder: QuantLinear::of(&st.encoder, u.encoder(s), "encoder")?,
                        tables: st.tables.iter().map(|t| QuantTable::new(t, d)).collect(),
                        gates: QuantLinear::new(&rows, &bias, u.gates(), "gate")?,
                    });
                }
                for l in band_classifiers {
                    q.bands
                        .push(QuantLinear::of(l, u.bands(), "band classifier")?);
                }
                let fx = QuantLinear::of(
                    feature_classifier,
                    u.features(stages.len()),
                    "feature classifier",
                )?;
                q.features = Some(fx);
            }
        }
        Ok(q)
    }

    /// The integer logits and (frameless) Q15 gates of `node` with int8
    /// features `x`, following the engine's integer contract.
    pub fn forward(&self, node: usize, x: Features<i8>) -> (Vec<i32>, Vec<i32>) {
        let mut q = vec![0i64; self.n_features];
        match x {
            Features::Dense(v) => q.iter_mut().zip(v).for_each(|(a, &b)| *a = i64::from(b)),
            Features::Sparse { indices, values } => {
                for (&j, &v) in indices.iter().zip(values) {
                    if let Some(a) = q.get_mut(j as usize) {
                        *a = i64::from(v);
                    }
                }
            }
        }
        let lane = |y: i64, lo: i64| ((y + 128) >> 8).clamp(lo, 127);
        let out = |v: Vec<i64>| v.into_iter().map(sat_i32).collect::<Vec<i32>>();
        let Some(fx) = &self.features else {
            for (k, l) in self.layers.iter().enumerate() {
                let y = l.apply(&q, Fix::UNIT);
                if k + 1 == self.layers.len() {
                    return (out(y), Vec::new());
                }
                q = y.into_iter().map(|y| lane(y, 0)).collect();
            }
            return (Vec::new(), Vec::new());
        };
        let (mut logits, mut gates) = (Vec::new(), Vec::new());
        for (s, st) in self.stages.iter().enumerate() {
            let last = s + 1 == self.stages.len();
            let s_u = fix(self.section[2 + 2 * s]);
            let r_h = fix(self.section[3 + 2 * s]);
            let u: Vec<i64> = st
                .encoder
                .apply(&q, Fix::UNIT)
                .into_iter()
                .map(|y| lane(y, if last { -127 } else { 0 }))
                .collect();
            let f = if last {
                fx.apply(&u, Fix::UNIT)
            } else {
                Vec::new()
            };
            logits = vec![0i64; f.len()];
            let mut h = vec![0i64; u.len()];
            let mut alpha_sum = 0i64;
            for (b, t) in st.tables.iter().enumerate() {
                let e: Vec<i64> = t.rows[node].iter().map(|&c| i64::from(c)).collect();
                let s_e = Fix::of(t.scales[node]).unwrap_or(Fix::UNIT);
                let g = &st.gates.rows[b];
                let (ge, gu) = g.split_at(e.len());
                let dot = |w: &[i8], x: &[i64]| -> i64 {
                    w.iter().zip(x).map(|(&a, &b)| i64::from(a) * b).sum()
                };
                let m = Fix::of(st.gates.multiplier[b]).unwrap_or(Fix::UNIT);
                let z = m.times(s_e).apply(dot(ge, &e))
                    + m.times(s_u).apply(dot(gu, &u))
                    + i64::from(st.gates.bias[b]);
                let alpha = i64::from(sigmoid_q15(sat_i32(z)));
                if last {
                    gates.push(alpha as i32);
                    let tb = self.bands[b].apply(&e, s_e);
                    for ((l, &t), &fv) in logits.iter_mut().zip(&tb).zip(&f) {
                        let mixed = ((32_768 - alpha) * t + alpha * fv + (1 << 14)) >> 15;
                        *l = i64::from(sat_i32(*l + mixed));
                    }
                } else {
                    let k = i64::from(sat_i32(s_e.times(r_h).apply(32_768 - alpha)));
                    for (hv, &ev) in h.iter_mut().zip(&e) {
                        *hv = i64::from(sat_i32(*hv + k * ev));
                    }
                    alpha_sum += alpha;
                }
            }
            if !last {
                let k = i64::from(sat_i32(s_u.times(r_h).apply(alpha_sum)));
                let half = 1i64 << (MIX_BITS - 1);
                q = h
                    .iter()
                    .zip(&u)
                    .map(|(&hv, &uv)| {
                        ((i64::from(sat_i32(hv + k * uv)) + half) >> MIX_BITS).clamp(-127, 127)
                    })
                    .collect();
            }
        }
        (out(logits), gates)
    }

    /// The calibration section as the blob stores it.
    pub fn section(&self) -> &[f32] {
        &self.section
    }
}
