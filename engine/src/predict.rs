//! [`Model::predict`]: the forward pass for every kind and precision, in a
//! scratch cut once per call as the layout [`Model::from_bytes`] computed.

use crate::kernels::int8::{BLOCK_I8, I8};
use crate::kernels::{axpy_rows, f16::F16, f32::F32, Encoding};
use crate::layout::{Lin, Mat};
use crate::model::{Parts, Plan};
use crate::nodes::{mix, Rows};
use crate::quant::{quantize_to_i16, scale_i8, QuantI8};
use crate::{Error, Model, Precision};

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
fn chunks<'w, T: Copy>(
    w: &Mat<'w>,
    x: &Features,
    zero: T,
    coef: impl Fn(f32) -> Option<T>,
    mut apply: impl FnMut(&[(&'w [u8], T)]),
) {
    let mut rows = [(&[][..], zero); CHUNK];
    let mut len = 0usize;
    let mut push = |j: usize, v: f32| {
        // Zeros are skipped before `coef` (for int8 a quantisation) runs.
        let c = if v != 0.0 { coef(v) } else { None };
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
fn first_layer(lin: &Lin, x: &Features, out: &mut [f32], acc: &mut [i32]) {
    let w = &lin.w;
    widen::<F32>(out, lin.bias);
    match w.prec {
        Precision::F32 => chunks(w, x, 0.0, Some, |ch| axpy_rows::<F32, 16>(out, ch)),
        Precision::F16 => chunks(w, x, 0.0, Some, |ch| axpy_rows::<F16, 16>(out, ch)),
        Precision::Int8 => {
            let (Features::Dense(values) | Features::Sparse { values, .. }) = *x;
            let xs = scale_i8(values);
            let qz = QuantI8::new(xs);
            let acc = acc.get_mut(..out.len()).unwrap_or(&mut []);
            acc.fill(0);
            let coef = |v| Some(i16::from(qz.quantize(v))).filter(|&q| q != 0);
            chunks(w, x, 0, coef, |ch| axpy_rows::<I8, BLOCK_I8>(acc, ch));
            for ((v, &a), s) in out.iter_mut().zip(acc.iter()).zip(w.scales.chunks_exact(4)) {
                *v += a as f32 * F32::widen(s) * xs;
            }
        }
    }
}

/// An activation vector entering a product: its f32 values and, for int8,
/// its quantised lanes and their scale.
#[derive(Clone, Copy)]
struct Act<'v> {
    x: &'v [f32],
    q: &'v [i16],
    scale: f32,
}

/// `x` as it enters a product: int8 quantises it into `q` (else no work). Every activation
/// passes here, so an overflow upstream (a quantisation would hide it) is [`Error::Overflow`].
fn act<'v>(prec: Precision, x: &'v [f32], q: &'v mut [i16]) -> Result<Act<'v>, Error> {
    let x = finite(x)?;
    let scale = match prec {
        Precision::Int8 => quantize_to_i16(x, q),
        Precision::F32 | Precision::F16 => 1.0,
    };
    Ok(Act { x, q, scale })
}

/// `a . w` for weights stored in `prec`; int8 is dequantised as
/// `(acc * w_scale) * a.scale` (float weights ignore `w_scale`).
fn dot(prec: Precision, w: &[u8], w_scale: f32, a: Act) -> f32 {
    match prec {
        Precision::F32 => F32::dot(a.x, w),
        Precision::F16 => F16::dot(a.x, w),
        Precision::Int8 => I8::dot(a.q, w) as f32 * w_scale * a.scale,
    }
}

/// `out[o] = W[row0 + o] . a + b[row0 + o]`.
fn matvec(lin: &Lin, row0: usize, a: Act, out: &mut [f32]) {
    let w = &lin.w;
    for (o, v) in out.iter_mut().enumerate() {
        let r = row0.saturating_add(o);
        *v = dot(w.prec, w.row(r), w.scale(r), a) + lin.bias(r);
    }
}

/// Loads row `r` of `t` into `e` (int8: into the lanes `q`, and
/// dequantised into `e` unless `only_q`) as an [`Act`].
fn table_row<'v>(t: &Mat, r: usize, only_q: bool, e: &'v mut [f32], q: &'v mut [i16]) -> Act<'v> {
    let (bytes, scale) = (t.row(r), t.scale(r));
    match t.prec {
        Precision::F32 => widen::<F32>(e, bytes),
        Precision::F16 => widen::<F16>(e, bytes),
        Precision::Int8 => {
            for (l, &c) in q.iter_mut().zip(bytes) {
                *l = i16::from(c as i8);
            }
            if !only_q {
                for (v, &l) in e.iter_mut().zip(q.iter()) {
                    *v = f32::from(l) * scale;
                }
            }
        }
    }
    Act { x: e, q, scale }
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
    /// [`Model::scratch_len`] words) for every intermediate value.
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
        features.check(self.shape.f)?;
        let (needed, found) = (self.scratch_len(), scratch.len());
        if found < needed {
            return Err(Error::ScratchTooSmall { needed, found });
        }
        let mut p = self.scratch.split(scratch);
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
                first_layer(&lin, x, out, p.acc);
            } else {
                let input = cur.get(..sh.d).unwrap_or(&[]);
                matvec(&lin, 0, act(rest.prec, input, p.lanes)?, out);
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
        let (uq, eq) = p.lanes.split_at_mut(d.min(p.lanes.len()));
        for s in 0..sh.s {
            let st = if s == 0 { *first } else { rest.stage(&sh, s)? };
            let last = s.saturating_add(1) == sh.s;
            // u = W_enc h + b (stage 1: h = x); ReLU except in the output stage.
            if s == 0 {
                first_layer(&st.encoder, x, u, p.acc);
            } else {
                matvec(&st.encoder, 0, act(prec, h, uq)?, u);
            }
            if !last {
                relu(u);
            }
            let ua = act(prec, u, uq)?;
            if last {
                matvec(&head.features, 0, ua, fx);
                p.logits.fill(0.0);
            } else {
                h.fill(0.0);
            }
            for b in 0..sh.b {
                // e = E_b[node] (or mixed); the output stage of int8 needs only its lanes.
                let base = b.saturating_mul(sh.n);
                let ea = match rows {
                    Rows::Own(r) => table_row(&st.tables, base.saturating_add(r), last, e, eq),
                    _ => {
                        mix(&st.tables, base, &self.ids, sh.n, rows, e);
                        act(prec, e, eq)?
                    }
                };
                // alpha_b = sigmoid(g[0..d] . e + g[d..2d] . u + beta_b)
                let g = st.gates.w.row(b);
                let split = d.saturating_mul(prec.weight_bytes());
                let (ge, gu) = g.split_at_checked(split).unwrap_or((g, &[]));
                let z = st.gates.w.scale(b) * (dot(prec, ge, 1.0, ea) + dot(prec, gu, 1.0, ua));
                let alpha = match rows {
                    Rows::Features => 1.0,
                    _ => 1.0 / (1.0 + libm::expf(-(z + st.gates.bias(b)))),
                };
                if last {
                    if let Some(g) = p.gates.get_mut(b) {
                        *g = alpha;
                    }
                    // logits += (1 - alpha) (C_b e + c_b) + alpha (C_x u + c_x)
                    matvec(&head.bands, b.saturating_mul(sh.c), ea, tb);
                    for ((l, &t), &f) in p.logits.iter_mut().zip(tb.iter()).zip(fx.iter()) {
                        *l += (1.0 - alpha) * t + alpha * f;
                    }
                } else {
                    // h += (1 - alpha) e + alpha u
                    for ((hv, &ev), &uv) in h.iter_mut().zip(ea.x).zip(u.iter()) {
                        *hv += (1.0 - alpha) * ev + alpha * uv;
                    }
                }
            }
        }
        Ok(())
    }
}
