//! [`Model::predict`]: the forward pass for every kind and precision, in a
//! scratch cut once per call as the layout [`Model::from_bytes`] computed.

use crate::kernels::{axpy_rows, f16::F16, f32::F32, Encoding};
use crate::layout::{Lin, Mat};
use crate::model::{Parts, Plan};
use crate::nodes::{mix, Rows};
use crate::{Error, Model, Precision};

/// A node's live feature vector: f32 values, or (for [`Model::predict_int8`])
/// int8 values already quantised with the blob's input scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Features<'f, V = f32> {
    /// All `n_features` values.
    Dense(&'f [V]),
    /// Non-zero features only: strictly increasing `indices` (< F) and their `values`.
    Sparse {
        /// Feature indices, strictly increasing.
        indices: &'f [u32],
        /// Values, one per index.
        values: &'f [V],
    },
}

/// A feature value type: `f32` must be finite, `i8` always is.
pub trait Value: Copy + PartialEq + Default {
    /// Whether the value may enter a model.
    fn is_finite(self) -> bool;
}

impl Value for f32 {
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Value for i8 {
    fn is_finite(self) -> bool {
        true
    }
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

impl<V: Value> Features<'_, V> {
    /// Checks lengths, ranges, ordering and finiteness against `n_features`.
    pub(crate) fn check(&self, f: usize) -> Result<(), Error> {
        let finite = |values: &[V]| match values.iter().position(|v| !v.is_finite()) {
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
                    let (indices, values) = (indices.len(), values.len());
                    return Err(Error::SparseLengthMismatch { indices, values });
                }
                for (position, &index) in indices.iter().enumerate() {
                    if usize::try_from(index).map_or(true, |i| i >= f) {
                        return Err(Error::FeatureIndexOutOfRange { index });
                    }
                    let prev = position.checked_sub(1).and_then(|p| indices.get(p));
                    if prev.is_some_and(|&p| index <= p) {
                        return Err(Error::UnsortedIndices { position });
                    }
                }
                finite(values)
            }
        }
    }
}

/// Non-zero features gathered per pass of the first layer.
const CHUNK: usize = 32;

/// Feeds `(row j of w, coef(x_j))` for every non-zero `x_j` whose
/// coefficient is `Some` to `apply`, up to [`CHUNK`] rows at a time.
pub(crate) fn chunks<'w, T: Copy, V: Value>(
    w: &Mat<'w>,
    x: &Features<V>,
    zero: T,
    coef: impl Fn(V) -> Option<T>,
    mut apply: impl FnMut(&[(&'w [u8], T)]),
) {
    let mut rows = [(&[][..], zero); CHUNK];
    let mut len = 0usize;
    let mut push = |j: usize, v: V| {
        // Zeros are skipped before `coef` (for int8 a quantisation) runs.
        let c = if v != V::default() { coef(v) } else { None };
        let Some(c) = c else { return };
        if let Some(r) = rows.get_mut(len) {
            *r = (w.row(j), c);
            len = len.saturating_add(1);
        }
        if len >= CHUNK {
            apply(&rows);
            len = 0;
        }
    };
    match *x {
        Features::Dense(x) => x.iter().enumerate().for_each(|(j, &v)| push(j, v)),
        Features::Sparse { indices, values } => {
            let pairs = indices.iter().zip(values);
            pairs.for_each(|(&j, &v)| push(j as usize, v));
        }
    }
    apply(rows.get(..len).unwrap_or(&[]));
}

/// First layer (input-major): `out = W x + b`, touching only non-zero features.
///
/// Features are gathered in chunks; each chunk is applied with a block of
/// outputs held in registers (bit-identical to a per-feature axpy: every
/// output still sums its features in index order).
fn first_layer(lin: &Lin, x: &Features, out: &mut [f32]) {
    let w = &lin.w;
    widen::<F32>(out, lin.bias);
    match w.prec {
        Precision::F16 => chunks(w, x, 0.0, Some, |ch| axpy_rows::<F16, 16>(out, ch)),
        _ => chunks(w, x, 0.0, Some, |ch| axpy_rows::<F32, 16>(out, ch)),
    }
}

/// `a . w` for float weights stored in `prec`.
fn dot(prec: Precision, w: &[u8], a: &[f32]) -> f32 {
    match prec {
        Precision::F16 => F16::dot(a, w),
        _ => F32::dot(a, w),
    }
}

/// `out[o] = W[row0 + o] . a + b[row0 + o]`.
fn matvec(lin: &Lin, row0: usize, a: &[f32], out: &mut [f32]) {
    let w = &lin.w;
    for (o, v) in out.iter_mut().enumerate() {
        let r = row0.saturating_add(o);
        *v = dot(w.prec, w.row(r), a) + lin.bias(r);
    }
}

/// Loads row `r` of the float table `t` into `e`.
fn table_row(t: &Mat, r: usize, e: &mut [f32]) {
    match t.prec {
        Precision::F16 => widen::<F16>(e, t.row(r)),
        _ => widen::<F32>(e, t.row(r)),
    }
}

/// `out[i]` = stored weight `i` of `bytes`, widened to f32.
fn widen<E: Encoding>(out: &mut [f32], bytes: &[u8]) {
    for (v, c) in out.iter_mut().zip(bytes.chunks_exact(E::BYTES)) {
        *v = E::widen(c);
    }
}

/// `v` if every value is finite, else [`Error::Overflow`].
fn finite(v: &[f32]) -> Result<&[f32], Error> {
    let ok = v.iter().all(|x| x.is_finite());
    ok.then_some(v).ok_or(Error::Overflow)
}

fn relu(v: &mut [f32]) {
    // A comparison, not `f32::max` (libm on soft-float targets); NaN passes, for `act` to refuse.
    for x in v.iter_mut().filter(|x| **x < 0.0) {
        *x = 0.0;
    }
}

impl Model<'_> {
    /// Classifies `node` from its live `features`, using `scratch` (at least
    /// [`Model::scratch_len`] words) for every intermediate value. An int8
    /// blob quantises the features with its input scale (values beyond its
    /// calibrated range saturate), runs [`Model::predict_int8`]'s integer
    /// pass and converts its logits and gates to f32.
    ///
    /// A sliced blob finds `node`'s row by binary search of its id map (`O(log k)`, k kept
    /// nodes); a full blob uses the id itself.
    ///
    /// # Errors
    /// [`Error::NodeOutOfRange`], [`Error::NodeNotKept`] (a sliced blob), [`Error::FeatureLength`], [`Error::SparseLengthMismatch`],
    /// [`Error::FeatureIndexOutOfRange`], [`Error::UnsortedIndices`], [`Error::NonFiniteFeature`]
    /// or [`Error::ScratchTooSmall`] (nothing is computed); [`Error::Overflow`] if a computed
    /// value is not finite, so the logits and gates returned always are.
    pub fn predict<'s>(
        &self,
        node: u32,
        features: Features<'_>,
        scratch: &'s mut [f32],
    ) -> Result<Prediction<'s>, Error> {
        let row = self.ids.row(node, self.shape.n)?;
        self.run(Rows::Own(row), features, scratch)
    }

    /// Checks `features` and `scratch`, then runs the model on band rows from `rows`.
    pub(crate) fn run<'s>(
        &self,
        rows: Rows,
        features: Features<'_>,
        scratch: &'s mut [f32],
    ) -> Result<Prediction<'s>, Error> {
        self.check_call(&features, scratch.len())?;
        let mut p = self.scratch.split(scratch);
        if self.precision() == Precision::Int8 {
            return match rows {
                Rows::Own(r) => self.run_int8_as_f32(&crate::integer::OwnRow(r), &features, p),
                _ => self.run_int8_as_f32(&crate::nodes::Mixed(self, rows), &features, p),
            };
        }
        match self.plan {
            Plan::Mlp { .. } => self.run_mlp(&features, &mut p)?,
            Plan::Frameless { .. } => self.run_frameless(rows, &features, &mut p)?,
        }
        finite(p.logits).and(finite(p.gates))?;
        // The first maximum: a later logit must be strictly greater (no NaN is left).
        let first_max = |(c, m), (i, &v)| if v > m { (i, v) } else { (c, m) };
        let logits = p.logits.iter().enumerate();
        let (class, _) = logits.fold((0, f32::NEG_INFINITY), first_max);
        Ok(Prediction {
            class: u32::try_from(class).unwrap_or(0),
            logits: p.logits,
            gates: p.gates,
        })
    }

    /// The feature and scratch checks every entry point makes before computing anything.
    pub(crate) fn check_call<V: Value>(
        &self,
        features: &Features<V>,
        found: usize,
    ) -> Result<(), Error> {
        features.check(self.shape.f)?;
        let needed = self.scratch_len();
        if found < needed {
            return Err(Error::ScratchTooSmall { needed, found });
        }
        Ok(())
    }

    /// Runs every mlp layer: `cur` in, `nxt` (the logits for the last) out, then swap.
    fn run_mlp(&self, x: &Features, p: &mut Parts) -> Result<(), Error> {
        let Plan::Mlp { first, mut rest } = self.plan else {
            return Ok(());
        };
        let sh = self.shape;
        let [cur, nxt, ..] = &mut p.vecs;
        for k in 0..sh.s {
            let lin = if k == 0 { first } else { rest.layer(&sh, k)? };
            let last = k.saturating_add(1) == sh.s;
            let out: &mut [f32] = if last {
                &mut *p.logits
            } else {
                nxt.get_mut(..sh.d).unwrap_or(&mut [])
            };
            if k == 0 {
                first_layer(&lin, x, out);
            } else {
                matvec(&lin, 0, finite(cur.get(..sh.d).unwrap_or(&[]))?, out);
            }
            if !last {
                relu(out);
            }
            core::mem::swap(cur, nxt);
        }
        Ok(())
    }

    /// Runs every frameless stage; the scratch vectors are `u` (the stage's
    /// encoded features), `h` (the next stage's input, `sum_b (1 - alpha_b)
    /// e_b + alpha_b u`), `e` (`E_b[node]`), `fx` (`C_x u + c_x`) and `tb`
    /// (`C_b e + c_b`).
    fn run_frameless(&self, rows: Rows, x: &Features, p: &mut Parts) -> Result<(), Error> {
        let Plan::Frameless { first, rest, head } = &self.plan else {
            return Ok(());
        };
        let mut rest = *rest;
        let (sh, prec, d) = (self.shape, self.precision(), self.shape.d);
        let [u, h, e, fx, tb] = &mut p.vecs;
        for s in 0..sh.s {
            let st = if s == 0 { *first } else { rest.stage(&sh, s)? };
            let last = s.saturating_add(1) == sh.s;
            // u = W_enc h + b (stage 1: h = x); ReLU except in the output stage.
            if s == 0 {
                first_layer(&st.encoder, x, u);
            } else {
                matvec(&st.encoder, 0, finite(h)?, u);
            }
            if !last {
                relu(u);
            }
            let u = finite(u)?;
            if last {
                matvec(&head.features, 0, u, fx);
                p.logits.fill(0.0);
            } else {
                h.fill(0.0);
            }
            for b in 0..sh.b {
                // e = E_b[node], or the neighbours' mixed rows for a new node.
                let base = b.saturating_mul(sh.n);
                match rows {
                    Rows::Own(r) => table_row(&st.tables, base.saturating_add(r), e),
                    _ => mix(&st.tables, base, &self.ids, sh.n, rows, e),
                }
                let e = finite(e)?;
                // alpha_b = sigmoid(g[0..d] . e + g[d..2d] . u + beta_b)
                let g = st.gates.w.row(b);
                let split = d.saturating_mul(prec.weight_bytes());
                let (ge, gu) = g.split_at_checked(split).unwrap_or((g, &[]));
                let z = dot(prec, ge, e) + dot(prec, gu, u);
                let alpha = match rows {
                    Rows::Features => 1.0,
                    _ => 1.0 / (1.0 + libm::expf(-(z + st.gates.bias(b)))),
                };
                if last {
                    if let Some(g) = p.gates.get_mut(b) {
                        *g = alpha;
                    }
                    // logits += (1 - alpha) (C_b e + c_b) + alpha (C_x u + c_x)
                    matvec(&head.bands, b.saturating_mul(sh.c), e, tb);
                    for ((l, &t), &f) in p.logits.iter_mut().zip(tb.iter()).zip(fx.iter()) {
                        *l += (1.0 - alpha) * t + alpha * f;
                    }
                } else {
                    // h += (1 - alpha) e + alpha u
                    for ((hv, &ev), &uv) in h.iter_mut().zip(e.iter()).zip(u.iter()) {
                        *hv += (1.0 - alpha) * ev + alpha * uv;
                    }
                }
            }
        }
        Ok(())
    }
}
