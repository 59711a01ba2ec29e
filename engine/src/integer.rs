//! The integer-only int8 forward pass (blob v3): i8 weights and
//! activations, i32 sums, [`Fix`] requantisation, [`sigmoid_q15`] gates and
//! i32 logits. No float operation runs here; [`Model::predict`] converts at
//! the edges only (features in, logits and gates out).
//!
//! Units: a layer whose output is an activation of scale `s` produces `y`
//! in `s / 256` (`y = M acc + bias`, `M` and `bias` stored per row), then
//! `q = clamp((y + 128) >> 8)`; logits are i32 in units of the logit scale;
//! gate inputs `z` are Q12, gates `alpha` Q15; the next stage's input is
//! summed in `s_h / 2^12`. Every shift rounds halves toward +inf.

use crate::kernels::int8::{self, BLOCK_I8, I8};
use crate::kernels::{axpy_rows, Encoding};
use crate::layout::{le, Lin, Mat};
use crate::model::{Parts, Plan};
use crate::predict::{chunks, Features, Prediction, Value};
use crate::quant::{sat_i32, sigmoid_q15, Fix, QuantI8};
use crate::{Error, Model, Precision};

/// Fractional bits of the next stage's input while it is summed over bands.
const MIX_BITS: u32 = 12;

/// The result of [`Model::predict_int8`], borrowed from the caller's scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntPrediction<'s> {
    /// `argmax(logits)`, the first maximum on ties.
    pub class: u32,
    /// The C logits, in units of [`Model::calibration`]`(1)`.
    pub logits: &'s [i32],
    /// The B gates of the output stage in Q15 (`32768` is 1.0; empty for mlp).
    pub gates: &'s [i32],
}

/// The integer views of a scratch cut for int8.
struct IntParts<'s> {
    logits: &'s mut [i32],
    gates: &'s mut [i32],
    feat: &'s mut [i32],
    band: &'s mut [i32],
    acc: &'s mut [i32],
    lanes: &'s mut [i16],
}

fn ints(v: &mut [f32]) -> &mut [i32] {
    bytemuck::try_cast_slice_mut(v).unwrap_or(&mut [])
}

impl<'s> IntParts<'s> {
    fn of(p: Parts<'s>) -> Self {
        let [_, _, _, feat, band] = p.vecs;
        IntParts {
            logits: ints(p.logits),
            gates: ints(p.gates),
            feat: ints(feat),
            band: ints(band),
            acc: p.acc,
            lanes: p.lanes,
        }
    }
}

/// `(y + 128) >> 8` clamped to `lo..=127`: an activation from its 1/256 units
/// (`y >> 8` plus bit 7, the same value with no overflow).
#[inline(always)]
fn lane(y: i32, lo: i32) -> i16 {
    ((y >> 8) + ((y >> 7) & 1)).clamp(lo, 127) as i16
}

/// A loop over `(M[r], bias[r])` of a layer's rows, in order.
trait RowLoop {
    fn run(self, params: impl Iterator<Item = (Fix, i32)>);
}

/// Runs `body` over `(M[r], bias[r])` of `lin`'s rows from `row0` on: word
/// loads when both tensors are word-aligned (the writer aligns them), byte
/// loads otherwise, each a loop of its own (one test, not one per row).
fn with_row_params(lin: &Lin, row0: usize, body: impl RowLoop) {
    let fix = |v: u32| Fix::of(f32::from_bits(v)).unwrap_or(Fix::UNIT);
    let (scales, bias) = (lin.w.scales, lin.bias);
    match (
        bytemuck::try_cast_slice::<u8, u32>(scales),
        bytemuck::try_cast_slice::<u8, u32>(bias),
    ) {
        (Ok(m), Ok(b)) => {
            let m = m.iter().map(|&v| fix(u32::from_le(v)));
            body.run(m.zip(b.iter().map(|&v| u32::from_le(v) as i32)).skip(row0));
        }
        _ => {
            let word = |c: &[u8]| u32::from_le_bytes(le(c));
            let m = scales.chunks_exact(4).map(|c| fix(word(c)));
            body.run(
                m.zip(bias.chunks_exact(4).map(|c| word(c) as i32))
                    .skip(row0),
            );
        }
    }
}

/// `out[o] = M[row0 + o] * extra * (W[row0 + o] . lanes) + bias[row0 + o]`:
/// the sums by [`int8::dots`], then one requantisation pass.
fn matvec(lin: &Lin, row0: usize, lanes: &[i16], extra: Fix, out: &mut [i32]) {
    let w = lin
        .w
        .data
        .get(row0.saturating_mul(lin.w.cols)..)
        .unwrap_or(&[]);
    int8::dots(lanes, w, lin.w.cols, out);
    with_row_params(lin, row0, Requant(out, extra));
}

/// `out[o] = M[o] * extra * out[o] + bias[o]`, in place; `extra` = UNIT (the
/// first layer) skips `times`, the identity then, and its 64-bit product.
struct Requant<'o>(&'o mut [i32], Fix);

impl RowLoop for Requant<'_> {
    fn run(self, params: impl Iterator<Item = (Fix, i32)>) {
        let Requant(out, e) = self;
        for (v, (m, b)) in out.iter_mut().zip(params) {
            let m = if e == Fix::UNIT { m } else { m.times(e) };
            *v = m.apply_add(*v, b);
        }
    }
}

/// The first layer: `acc = M (W x) + bias` over the non-zero features, whose
/// int8 values `coef` gives.
fn first_layer<V: Value>(
    lin: &Lin,
    x: &Features<V>,
    coef: impl Fn(V) -> Option<i16>,
    acc: &mut [i32],
) {
    acc.fill(0);
    chunks(&lin.w, x, 0, coef, |ch| axpy_rows::<I8, BLOCK_I8>(acc, ch));
    with_row_params(lin, 0, Requant(acc, Fix::UNIT));
}

/// Writes `f(src[i])` into `lanes[i]` for `i < len` (0 past the end of `src`).
fn fill_from<T: Copy>(lanes: &mut [i16], len: usize, src: &[T], f: impl Fn(T) -> i16) {
    let (lanes, _) = lanes.split_at_mut(len.min(lanes.len()));
    let (set, past_src) = lanes.split_at_mut(src.len().min(lanes.len()));
    for (l, &v) in set.iter_mut().zip(src) {
        *l = f(v);
    }
    past_src.fill(0);
}

/// Loads band row `base + node`'s int8 values into `e` (at their lane slots)
/// and returns its scale: [`OwnRow`] for a node with a row, or
/// [`Model::predict_new`]'s mixed rows (quantised in f32, never reached from
/// [`Model::predict_int8`]).
pub(crate) trait BandRows {
    /// Fills `e` (`d` values) with band `base`'s row; returns its scale.
    fn load(&self, tables: &Mat, base: usize, e: &mut [i16], d: usize) -> Fix;
    /// Whether there is a graph term (else every gate is 1).
    fn graph(&self) -> bool {
        true
    }
}

/// Row `r` of every band's table.
pub(crate) struct OwnRow(pub usize);

impl BandRows for OwnRow {
    fn load(&self, tables: &Mat, base: usize, e: &mut [i16], d: usize) -> Fix {
        let row = base.saturating_add(self.0);
        let e_row = tables.row(row);
        fill_from(e, d, e_row, |c| i16::from(c as i8));
        tables.fix(row)
    }
}

/// The first maximum of `v` (a later value must be strictly greater).
fn argmax(v: &[i32]) -> u32 {
    let first_max = |(c, m), (i, &x)| if x > m { (i, x) } else { (c, m) };
    let (class, _) = v.iter().enumerate().fold((0, i32::MIN), first_max);
    u32::try_from(class).unwrap_or(0)
}

impl Model<'_> {
    /// Classifies `node` from features already quantised with the blob's
    /// input scale ([`Model::calibration`]`(0)`: `q = round(x / scale)`), in
    /// integer arithmetic only; `scratch` as for [`Model::predict`].
    ///
    /// # Errors
    /// [`Error::NotInt8`] for a float blob; otherwise those of [`Model::predict`]
    /// before any computing (the integer pass itself saturates, never fails).
    // Never inlined: one symbol whose call graph `scripts/check-no-float.py` walks.
    #[inline(never)]
    pub fn predict_int8<'s>(
        &self,
        node: u32,
        features: Features<'_, i8>,
        scratch: &'s mut [f32],
    ) -> Result<IntPrediction<'s>, Error> {
        if self.precision() != Precision::Int8 {
            return Err(Error::NotInt8);
        }
        let row = self.ids.row(node, self.shape.n)?;
        self.check_call(&features, scratch.len())?;
        let p = IntParts::of(self.scratch.split(scratch));
        let r = self.run_int8(&OwnRow(row), &features, |v| Some(i16::from(v)), p)?;
        Ok(IntPrediction {
            class: r.class,
            logits: r.logits,
            gates: r.gates,
        })
    }

    /// [`Model::predict`] for an int8 blob (checks made): quantise, run, convert.
    pub(crate) fn run_int8_as_f32<'s>(
        &self,
        rows: &impl BandRows,
        x: &Features,
        p: Parts<'s>,
    ) -> Result<Prediction<'s>, Error> {
        let q = QuantI8::new(self.calibration(0).unwrap_or(1.0));
        let coef = |v| Some(i16::from(q.quantize(v))).filter(|&q| q != 0);
        let r = self.run_int8(rows, x, coef, IntParts::of(p))?;
        let (scale, class) = (self.calibration(1).unwrap_or(1.0), r.class);
        let logits = bytemuck::try_cast_slice_mut::<i32, f32>(r.logits).unwrap_or(&mut []);
        logits
            .iter_mut()
            .for_each(|v| *v = v.to_bits() as i32 as f32 * scale);
        let gates = bytemuck::try_cast_slice_mut::<i32, f32>(r.gates).unwrap_or(&mut []);
        gates
            .iter_mut()
            .for_each(|v| *v = v.to_bits() as i32 as f32 / 32768.0);
        Ok(Prediction {
            class,
            logits,
            gates,
        })
    }

    /// Runs the integer pass, `coef` giving each non-zero feature's int8 value.
    fn run_int8<'s, V: Value>(
        &self,
        rows: &impl BandRows,
        x: &Features<V>,
        coef: impl Fn(V) -> Option<i16>,
        mut p: IntParts<'s>,
    ) -> Result<IntOut<'s>, Error> {
        match self.plan {
            Plan::Mlp { .. } => self.mlp_int8(x, coef, &mut p)?,
            Plan::Frameless { .. } => self.frameless_int8(rows, x, coef, &mut p)?,
        }
        let class = argmax(p.logits);
        Ok(IntOut {
            class,
            logits: p.logits,
            gates: p.gates,
        })
    }

    /// Every mlp layer: lanes in, `acc` out, then the next layer's lanes.
    fn mlp_int8<V: Value>(
        &self,
        x: &Features<V>,
        coef: impl Fn(V) -> Option<i16>,
        p: &mut IntParts,
    ) -> Result<(), Error> {
        let Plan::Mlp { first, mut rest } = self.plan else {
            return Ok(());
        };
        let (sh, d) = (self.shape, self.shape.d);
        for k in 0..sh.s {
            let lin = if k == 0 { first } else { rest.layer(&sh, k)? };
            let last = k.saturating_add(1) == sh.s;
            let out: &mut [i32] = if last {
                &mut *p.logits
            } else {
                p.acc.get_mut(..d).unwrap_or(&mut [])
            };
            if k == 0 {
                first_layer(&lin, x, &coef, out);
            } else {
                matvec(&lin, 0, p.lanes.get(..d).unwrap_or(&[]), Fix::UNIT, out);
            }
            if !last {
                fill_from(p.lanes, d, out, |y| lane(y, 0));
            }
        }
        Ok(())
    }

    /// Every frameless stage. Lanes: `u` then `e`; `e`'s lanes also carry the
    /// next stage's input `h`, summed in `acc` (free once `u` is in lanes).
    fn frameless_int8<V: Value>(
        &self,
        rows: &impl BandRows,
        x: &Features<V>,
        coef: impl Fn(V) -> Option<i16>,
        p: &mut IntParts,
    ) -> Result<(), Error> {
        let Plan::Frameless { first, rest, head } = &self.plan else {
            return Ok(());
        };
        let mut rest = *rest;
        let (sh, d) = (self.shape, self.shape.d);
        let scale = |i: usize| self.calibration(i).and_then(Fix::of).unwrap_or(Fix::UNIT);
        let (u, e) = p.lanes.split_at_mut(d.min(p.lanes.len()));
        for s in 0..sh.s {
            let st = if s == 0 { *first } else { rest.stage(&sh, s)? };
            let last = s.saturating_add(1) == sh.s;
            let (s_u, r_h) = (scale(2 + 2 * s), scale(3 + 2 * s));
            // u = W_enc h + b (stage 1: h = x); ReLU except in the output stage.
            if s == 0 {
                first_layer(&st.encoder, x, &coef, p.acc);
            } else {
                matvec(&st.encoder, 0, e, Fix::UNIT, p.acc);
            }
            let lo = if last { -127 } else { 0 };
            fill_from(u, d, p.acc, |y| lane(y, lo));
            if last {
                matvec(&head.features, 0, u, Fix::UNIT, p.feat);
                p.logits.fill(0);
            } else {
                p.acc.fill(0);
            }
            let mut alpha_sum = 0i64;
            for b in 0..sh.b {
                let s_e = rows.load(&st.tables, b.saturating_mul(sh.n), e, d);
                // z = s_g (s_e g_e . e + s_u g_u . u) + beta, in Q12.
                let g = st.gates.w.row(b);
                let (ge, gu) = g.split_at_checked(d).unwrap_or((g, &[]));
                let m = st.gates.w.fix(b);
                let ze = m.times(s_e).apply(i64::from(I8::dot(e, ge)));
                let zu = m.times(s_u).apply(i64::from(I8::dot(u, gu)));
                let alpha = match rows.graph() {
                    true => sigmoid_q15(sat_i32(ze + zu + st.gates.bias_i32(b))),
                    false => 32_768,
                };
                let keep = i64::from(32_768 - alpha);
                if last {
                    if let Some(g) = p.gates.get_mut(b) {
                        *g = alpha;
                    }
                    // logits += (1 - alpha) (C_b e + c_b) + alpha (C_x u + c_x)
                    matvec(&head.bands, b.saturating_mul(sh.c), e, s_e, p.band);
                    let (band, feat) = (p.band.iter(), p.feat.iter());
                    for ((l, &t), &f) in p.logits.iter_mut().zip(band).zip(feat) {
                        let mixed =
                            (keep * i64::from(t) + i64::from(alpha) * i64::from(f) + (1 << 14))
                                >> 15;
                        *l = sat_i32(i64::from(*l) + mixed);
                    }
                } else {
                    // h += (1 - alpha) e, in s_h / 2^12; the u terms once, after the bands.
                    let k = sat_i32(s_e.times(r_h).apply(keep));
                    for (h, &c) in p.acc.iter_mut().zip(e.iter()) {
                        *h = sat_i32(i64::from(*h) + i64::from(k) * i64::from(c));
                    }
                    alpha_sum += i64::from(alpha);
                }
            }
            if !last {
                let k = sat_i32(s_u.times(r_h).apply(alpha_sum));
                let acc = &mut *p.acc;
                for (h, &uo) in acc.iter_mut().zip(u.iter()) {
                    *h = sat_i32(i64::from(*h) + i64::from(k) * i64::from(uo));
                }
                let half = 1i64 << (MIX_BITS - 1);
                fill_from(e, d, acc, |h| {
                    ((i64::from(h) + half) >> MIX_BITS).clamp(-127, 127) as i16
                });
            }
        }
        Ok(())
    }
}

/// [`IntPrediction`] with mutable slices, for [`Model::predict`] to convert in place.
struct IntOut<'s> {
    class: u32,
    logits: &'s mut [i32],
    gates: &'s mut [i32],
}
