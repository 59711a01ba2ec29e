//! [`Model::predict`]: the forward pass for every kind and precision.
//!
//! Scratch layout (f32 words): `[logits C | gates B | f32 work | int8 lanes]`,
//! see [`Model::scratch_len`]. The int8 region is viewed as `i32`
//! accumulators and `i16` activation lanes through `bytemuck` (checked casts).

use crate::kernels::{f16::*, f32::*, int8::*};
use crate::layout::{Lin, Reader, Shape};
use crate::quant::{quantize_to_i16, quantize_value_i8, scale_i8};
use crate::{Error, Model, ModelKind, Precision};

/// A node's live feature vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Features<'f> {
    /// All `n_features` values.
    Dense(&'f [f32]),
    /// Non-zero features only: strictly increasing `indices` (< F) and their `values`.
    Sparse {
        /// Feature indices, strictly increasing.
        indices: &'f [u32],
        /// Values, one per index.
        values: &'f [f32],
    },
}

/// The result of [`Model::predict`], borrowed from the caller's scratch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction<'s> {
    /// `argmax(logits)`, the first maximum on ties.
    pub class: u32,
    /// The C logits.
    pub logits: &'s [f32],
    /// The B gates `alpha_b` of the output stage (empty for mlp).
    pub gates: &'s [f32],
}

const fn too_small(needed: usize, found: usize) -> Error {
    Error::ScratchTooSmall { needed, found }
}

impl Features<'_> {
    /// Checks lengths, ranges, ordering and finiteness against `n_features`.
    fn check(&self, f: usize) -> Result<(), Error> {
        let finite = |values: &[f32]| match values.iter().position(|v| !v.is_finite()) {
            Some(position) => Err(Error::NonFiniteFeature { position }),
            None => Ok(()),
        };
        match *self {
            Features::Dense(x) if x.len() != f => Err(Error::FeatureLength {
                expected: f,
                found: x.len(),
            }),
            Features::Dense(x) => finite(x),
            Features::Sparse { indices, values } => {
                if indices.len() != values.len() {
                    return Err(Error::SparseLengthMismatch {
                        indices: indices.len(),
                        values: values.len(),
                    });
                }
                let mut prev: Option<u32> = None;
                for (position, &index) in indices.iter().enumerate() {
                    if usize::try_from(index).map_or(true, |i| i >= f) {
                        return Err(Error::FeatureIndexOutOfRange { index });
                    }
                    if prev.is_some_and(|p| index <= p) {
                        return Err(Error::UnsortedIndices { position });
                    }
                    prev = Some(index);
                }
                finite(values)
            }
        }
    }

    /// The values (dense: all; sparse: the given ones).
    fn values(&self) -> &[f32] {
        match *self {
            Features::Dense(x) => x,
            Features::Sparse { values, .. } => values,
        }
    }

    /// Calls `f(j, x_j)` for every non-zero feature.
    fn for_each_nonzero(&self, mut f: impl FnMut(usize, f32)) {
        match *self {
            Features::Dense(x) => {
                for (j, &v) in x.iter().enumerate() {
                    if v != 0.0 {
                        f(j, v);
                    }
                }
            }
            Features::Sparse { indices, values } => {
                for (&j, &v) in indices.iter().zip(values) {
                    if v != 0.0 {
                        f(j as usize, v);
                    }
                }
            }
        }
    }
}

/// First layer (input-major): `out = W x + b`, touching only non-zero features.
fn first_layer(lin: &Lin, x: &Features, out: &mut [f32], acc: &mut [i32]) {
    let w = &lin.w;
    match w.prec {
        Precision::F32 | Precision::F16 => {
            for (o, v) in out.iter_mut().enumerate() {
                *v = lin.bias(o);
            }
            let f16 = w.prec == Precision::F16;
            x.for_each_nonzero(|j, v| {
                if f16 {
                    axpy_f16(out, v, w.row(j));
                } else {
                    axpy_f32(out, v, w.row(j));
                }
            });
        }
        Precision::Int8 => {
            let xs = scale_i8(x.values());
            let acc = acc.get_mut(..out.len()).unwrap_or(&mut []);
            acc.fill(0);
            x.for_each_nonzero(|j, v| {
                let q = quantize_value_i8(v, xs);
                if q != 0 {
                    axpy_i8(acc, i32::from(q), w.row(j));
                }
            });
            for (o, (v, &a)) in out.iter_mut().zip(acc.iter()).enumerate() {
                *v = a as f32 * w.scale(o) * xs + lin.bias(o);
            }
        }
    }
}

/// `out[o] = W[row0 + o] . x + b[row0 + o]` for float precisions, or for int8
/// with `x` already quantised into `q` with scale `xs`.
fn matvec(lin: &Lin, row0: usize, x: &[f32], q: &[i16], xs: f32, out: &mut [f32]) {
    let w = &lin.w;
    for (o, v) in out.iter_mut().enumerate() {
        let r = row0.saturating_add(o);
        let dot = match w.prec {
            Precision::F32 => dot_f32(x, w.row(r)),
            Precision::F16 => dot_f16(x, w.row(r)),
            Precision::Int8 => dot_i8(q, w.row(r)) as f32 * w.scale(r) * xs,
        };
        *v = dot + lin.bias(r);
    }
}

/// Quantises `x` into `q` for int8 (returns the scale; 1.0 and no work otherwise).
fn prepare(prec: Precision, x: &[f32], q: &mut [i16]) -> f32 {
    if prec == Precision::Int8 {
        quantize_to_i16(x, q)
    } else {
        1.0
    }
}

fn relu(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = x.max(0.0);
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-z))
}

/// Splits `s` at `mid`, reporting a short scratch as an error.
fn cut<T>(s: &mut [T], mid: usize, needed: usize) -> Result<(&mut [T], &mut [T]), Error> {
    let found = s.len();
    s.split_at_mut_checked(mid).ok_or(too_small(needed, found))
}

/// Views `words` f32 scratch words as `T` lanes.
fn lanes<T: bytemuck::Pod>(words: &mut [f32]) -> &mut [T] {
    bytemuck::try_cast_slice_mut(words).unwrap_or(&mut [])
}

impl Model<'_> {
    /// Classifies `node` from its live `features`, using `scratch` (at least
    /// [`Model::scratch_len`] words) for every intermediate value.
    ///
    /// # Errors
    /// [`Error::NodeOutOfRange`], [`Error::FeatureLength`],
    /// [`Error::SparseLengthMismatch`], [`Error::FeatureIndexOutOfRange`],
    /// [`Error::UnsortedIndices`], [`Error::NonFiniteFeature`] or
    /// [`Error::ScratchTooSmall`]; nothing is computed then.
    pub fn predict<'s>(
        &self,
        node: u32,
        features: Features<'_>,
        scratch: &'s mut [f32],
    ) -> Result<Prediction<'s>, Error> {
        let sh = self.shape;
        let n_nodes = self.dims().n_nodes;
        if node >= n_nodes {
            return Err(Error::NodeOutOfRange { node, n_nodes });
        }
        features.check(sh.f)?;
        let needed = self.scratch_len();
        if scratch.len() < needed {
            return Err(too_small(needed, scratch.len()));
        }
        let scratch = scratch.get_mut(..needed).unwrap_or(&mut []);
        let (head, work) = cut(scratch, sh.c.saturating_add(sh.b), needed)?;
        let (logits, gates) = cut(head, sh.c, needed)?;
        let r = Reader {
            rest: self.tensors,
            prec: self.precision(),
            validate: false,
        };
        match self.kind() {
            ModelKind::Mlp => run_mlp(r, &sh, &features, logits, work, needed)?,
            ModelKind::FmlpS | ModelKind::FmlpO => {
                let node = node as usize;
                run_frameless(r, &sh, node, &features, logits, gates, work, needed)?;
            }
        }
        let mut class = 0usize;
        let mut best = f32::NEG_INFINITY;
        for (i, &v) in logits.iter().enumerate() {
            if v > best {
                best = v;
                class = i;
            }
        }
        let class = u32::try_from(class).unwrap_or(0);
        Ok(Prediction {
            class,
            logits,
            gates,
        })
    }
}

fn run_mlp(
    mut r: Reader,
    sh: &Shape,
    x: &Features,
    logits: &mut [f32],
    work: &mut [f32],
    needed: usize,
) -> Result<(), Error> {
    let w = sh.d.max(sh.c);
    let (mut cur, rest) = cut(work, w, needed)?;
    let (mut nxt, ints) = cut(rest, w, needed)?;
    let (acc, q) = cut(ints, if r.prec == Precision::Int8 { w } else { 0 }, needed)?;
    let acc: &mut [i32] = lanes(acc);
    let q: &mut [i16] = lanes(q);
    for k in 0..sh.s {
        let lin = r.layer(sh, k)?;
        let last = k.saturating_add(1) == sh.s;
        let out: &mut [f32] = if last {
            &mut *logits
        } else {
            nxt.get_mut(..sh.d).unwrap_or(&mut [])
        };
        if k == 0 {
            first_layer(&lin, x, out, acc);
        } else {
            let input = cur.get(..sh.d).unwrap_or(&[]);
            let xs = prepare(r.prec, input, q);
            matvec(&lin, 0, input, q, xs, out);
        }
        if !last {
            relu(out);
        }
        core::mem::swap(&mut cur, &mut nxt);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_frameless(
    mut r: Reader,
    sh: &Shape,
    node: usize,
    x: &Features,
    logits: &mut [f32],
    gates: &mut [f32],
    work: &mut [f32],
    needed: usize,
) -> Result<(), Error> {
    let int8 = r.prec == Precision::Int8;
    let d = sh.d;
    let (u, rest) = cut(work, d, needed)?;
    let (h, rest) = cut(rest, d, needed)?;
    let (e, rest) = cut(rest, d, needed)?;
    let (fx, rest) = cut(rest, sh.c, needed)?;
    let (tb, ints) = cut(rest, sh.c, needed)?;
    let (acc, q) = cut(ints, if int8 { d } else { 0 }, needed)?;
    let acc: &mut [i32] = lanes(acc);
    let q: &mut [i16] = lanes(q);
    let (uq, eq) = cut(q, if int8 { d } else { 0 }, needed)?;
    let wb = r.prec.weight_bytes();
    for s in 0..sh.s {
        let st = r.stage(sh, s)?;
        let last = s.saturating_add(1) == sh.s;
        // u = W_enc h + b (stage 1: h = x); ReLU except in the output stage.
        if s == 0 {
            first_layer(&st.encoder, x, u, acc);
        } else {
            let hs = prepare(r.prec, h, uq);
            matvec(&st.encoder, 0, h, uq, hs, u);
        }
        if !last {
            relu(u);
        }
        let us = prepare(r.prec, u, uq);
        let head = if last {
            let head = r.head(sh)?;
            matvec(&head.features, 0, u, uq, us, fx);
            logits.fill(0.0);
            Some(head)
        } else {
            h.fill(0.0);
            None
        };
        for b in 0..sh.b {
            // e = E_b[node], dequantised; int8 keeps the stored lanes in eq.
            let row = b.saturating_mul(sh.n).saturating_add(node);
            let bytes = st.tables.row(row);
            let es = st.tables.scale(row);
            match r.prec {
                Precision::F32 => e
                    .iter_mut()
                    .zip(bytes.chunks_exact(4))
                    .for_each(|(v, c)| *v = w32(c)),
                Precision::F16 => e
                    .iter_mut()
                    .zip(bytes.chunks_exact(2))
                    .for_each(|(v, c)| *v = w16(c)),
                Precision::Int8 => {
                    for ((v, l), &c) in e.iter_mut().zip(eq.iter_mut()).zip(bytes) {
                        *l = i16::from(c as i8);
                        *v = f32::from(c as i8) * es;
                    }
                }
            }
            // alpha_b = sigmoid(g[0..d] . e + g[d..2d] . u + beta_b)
            let g = st.gates.w.row(b);
            let (ge, gu) = g.split_at_checked(d.saturating_mul(wb)).unwrap_or((g, &[]));
            let z = match r.prec {
                Precision::F32 => dot_f32(e, ge) + dot_f32(u, gu),
                Precision::F16 => dot_f16(e, ge) + dot_f16(u, gu),
                Precision::Int8 => {
                    let de = dot_i8(eq, ge) as f32 * es;
                    let du = dot_i8(uq, gu) as f32 * us;
                    st.gates.w.scale(b) * (de + du)
                }
            };
            let alpha = sigmoid(z + st.gates.bias(b));
            match &head {
                Some(head) => {
                    if let Some(g) = gates.get_mut(b) {
                        *g = alpha;
                    }
                    // logits += (1 - alpha) (C_b e + c_b) + alpha (C_x u + c_x)
                    matvec(&head.bands, b.saturating_mul(sh.c), e, eq, es, tb);
                    for ((l, &t), &f) in logits.iter_mut().zip(tb.iter()).zip(fx.iter()) {
                        *l += (1.0 - alpha) * t + alpha * f;
                    }
                }
                None => {
                    // h += (1 - alpha) e + alpha u
                    for ((hv, &ev), &uv) in h.iter_mut().zip(e.iter()).zip(u.iter()) {
                        *hv += (1.0 - alpha) * ev + alpha * uv;
                    }
                }
            }
        }
    }
    Ok(())
}
