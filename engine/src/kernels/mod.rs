//! Dot-product and axpy kernels over weights stored as little-endian bytes.
//!
//! One kernel shape per operation, generic over the weight [`Encoding`]:
//! [`f32::F32`](struct@f32::F32) and [`f16::F16`] weights meet f32
//! activations and accumulate in f32; [`int8::I8`] weights meet int8
//! activations widened to i16 lanes and accumulate in wrapping i32 (feature
//! `dsp` on Arm: int8 and f16 widening by `asm!`, `dsp.rs`, checked in QEMU).
//! The tests check every kernel against a plain oracle (`tests::reference`:
//! int8 bit exact; floats within a relative `1e-5`, as they reassociate sums).
//! Kernels never panic: mismatched lengths are truncated to the shorter one.

/// Defines a float [`Encoding`]: f32 activations and sums, each weight
/// widened to f32 by `$widen`.
macro_rules! float_encoding {
    ($(#[$doc:meta])* $name:ident, $bytes:literal, $widen:expr) => {
        float_encoding!($(#[$doc])* $name, $bytes, $widen, $crate::kernels::dot::<$name>, $crate::kernels::rows_safe::<$name, B>);
    };
    ($(#[$doc:meta])* $name:ident, $bytes:literal, $widen:expr, $dot:expr, $rows:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl super::Encoding for $name {
            type Lane = f32;
            type Acc = f32;
            const BYTES: usize = $bytes;
            #[inline(always)]
            fn mac(acc: f32, x: f32, w: &[u8]) -> f32 {
                acc + x * Self::widen(w)
            }
            fn add(a: f32, b: f32) -> f32 {
                a + b
            }
            #[inline(always)]
            fn widen(w: &[u8]) -> f32 {
                $widen(w)
            }
            #[inline(always)]
            fn dot(x: &[f32], w: &[u8]) -> f32 {
                $dot(x, w)
            }
            #[inline(always)]
            fn axpy_rows<const B: usize>(out: &mut [f32], rows: &[(&[u8], f32)]) {
                $rows(out, rows)
            }
        }
    };
}

#[cfg(all(feature = "dsp", target_arch = "arm"))]
pub mod dsp;
pub mod f16;
pub mod f32;
pub mod int8;

/// How one weight is stored and multiplied: its width in bytes, the
/// activation lane it meets and the accumulator the products go into.
pub trait Encoding: Sized {
    /// Activation lane: `f32`, or an int8 value widened to `i16`.
    type Lane: Copy;
    /// Accumulator: `f32`, or wrapping `i32` for int8.
    type Acc: Copy + Default;
    /// Bytes one stored weight takes.
    const BYTES: usize;
    /// `acc + x * w`, with `w` the bytes of one weight.
    fn mac(acc: Self::Acc, x: Self::Lane, w: &[u8]) -> Self::Acc;
    /// `a + b`.
    fn add(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// One stored weight as f32 (int8: the integer, unscaled).
    fn widen(w: &[u8]) -> f32;
    /// `sum_i x[i] * w[i]`: [`dot`] unless the target has a better kernel.
    #[inline(always)]
    fn dot(x: &[Self::Lane], w: &[u8]) -> Self::Acc {
        dot::<Self>(x, w)
    }
    /// [`axpy_rows`]: [`rows_safe`] unless the target has a better kernel.
    #[inline(always)]
    fn axpy_rows<const B: usize>(out: &mut [Self::Acc], rows: &[(&[u8], Self::Lane)]) {
        rows_safe::<Self, B>(out, rows);
    }
}

/// Truncates `x` and `w` to a common length of `n` weights of `bytes` each.
#[inline(always)]
fn common<'x, 'w, T>(x: &'x [T], w: &'w [u8], bytes: usize) -> (&'x [T], &'w [u8]) {
    let n = x.len().min(w.len() / bytes);
    let w = w.get(..n.wrapping_mul(bytes)).unwrap_or(&[]);
    (x.get(..n).unwrap_or(&[]), w)
}

/// `sum_i x[i] * w[i]` with four accumulators, summed `(a0 + a1) + (a2 + a3) + tail`.
pub fn dot<E: Encoding>(x: &[E::Lane], w: &[u8]) -> E::Acc {
    let (x, w) = common(x, w, E::BYTES);
    let mut acc = [E::Acc::default(); 4];
    let (xc, wc) = (x.chunks_exact(4), w.chunks_exact(4 * E::BYTES));
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (xs, ws) in xc.zip(wc) {
        for ((a, &xv), wv) in acc.iter_mut().zip(xs).zip(ws.chunks_exact(E::BYTES)) {
            *a = E::mac(*a, xv, wv);
        }
    }
    let mut tail = E::Acc::default();
    for (&xv, wv) in xr.iter().zip(wr.chunks_exact(E::BYTES)) {
        tail = E::mac(tail, xv, wv);
    }
    let [a0, a1, a2, a3] = acc;
    E::add(E::add(E::add(a0, a1), E::add(a2, a3)), tail)
}

/// `acc[o] += a * w[o]`.
pub fn axpy<E: Encoding>(acc: &mut [E::Acc], a: E::Lane, w: &[u8]) {
    for (o, wv) in acc.iter_mut().zip(w.chunks_exact(E::BYTES)) {
        *o = E::mac(*o, a, wv);
    }
}

/// `out[o] += sum_k c_k * row_k[o]` for `rows` = `(row_k, c_k)`, rows in
/// order per output (bit-identical to one [`axpy`] per row of at least
/// `out.len()` weights), `BLOCK` outputs at a time in registers: the
/// input-major first layer over a feature chunk.
#[inline(always)]
pub fn axpy_rows<E: Encoding, const BLOCK: usize>(out: &mut [E::Acc], rows: &[(&[u8], E::Lane)]) {
    E::axpy_rows::<BLOCK>(out, rows);
}

/// The safe [`axpy_rows`]. A row shorter than `out` adds nothing to the
/// block of `B` outputs it ends in (rows in the tail count element-wise).
pub fn rows_safe<E: Encoding, const B: usize>(out: &mut [E::Acc], rows: &[(&[u8], E::Lane)]) {
    let step = B.wrapping_mul(E::BYTES);
    let whole = (out.len() / B.max(1)).wrapping_mul(step);
    let mut blocks = out.chunks_exact_mut(B);
    for (b, blk) in (&mut blocks).enumerate() {
        let start = b.wrapping_mul(step);
        if let Ok(blk) = <&mut [E::Acc; B]>::try_from(blk) {
            let mut a = *blk;
            for &(row, ck) in rows {
                if let Some(w) = row.get(start..start.wrapping_add(step)) {
                    for (av, wv) in a.iter_mut().zip(w.chunks_exact(E::BYTES)) {
                        *av = E::mac(*av, ck, wv);
                    }
                }
            }
            *blk = a;
        }
    }
    let tail = blocks.into_remainder();
    // A whole number of blocks leaves no tail: skip the row loop.
    let rows = if tail.is_empty() { &[][..] } else { rows };
    for &(row, ck) in rows {
        axpy::<E>(tail, ck, row.get(whole..).unwrap_or(&[]));
    }
}

#[cfg(test)]
mod tests {
    use super::{f16::F16, f32::F32, int8::*, *};

    mod reference {
        //! Plain, obviously-correct kernels: the test oracle for every optimised one.
        //! Float kernels sum in f64 in index order; int8 sums in i64.

        use crate::Precision;

        /// Decodes stored weight `i` of `w` in `prec` to f64 (int8: the raw integer).
        pub fn weight(w: &[u8], i: usize, prec: Precision) -> Option<f64> {
            let k = prec.weight_bytes();
            let b = w.get(i.checked_mul(k)?..i.checked_mul(k)?.checked_add(k)?)?;
            Some(match (prec, b) {
                (Precision::F32, [a, b, c, d]) => f64::from(f32::from_le_bytes([*a, *b, *c, *d])),
                (Precision::F16, [a, b]) => f64::from(half::f16::from_le_bytes([*a, *b]).to_f32()),
                (Precision::Int8, [a]) => f64::from(*a as i8),
                _ => return None,
            })
        }

        /// `sum_i x[i] * w[i]` in f64, weights decoded per `prec`.
        pub fn dot(x: &[f32], w: &[u8], prec: Precision) -> f64 {
            let mut s = 0.0f64;
            for (i, &xv) in x.iter().enumerate() {
                match weight(w, i, prec) {
                    Some(wv) => s += f64::from(xv) * wv,
                    None => break,
                }
            }
            s
        }

        /// `sum_i x[i] * w[i]` over int8 weights, exact (i64).
        pub fn dot_i8(x: &[i16], w: &[u8]) -> i64 {
            x.iter()
                .zip(w)
                .map(|(&a, &b)| i64::from(a) * i64::from(b as i8))
                .sum()
        }
    }

    use crate::Precision;
    use proptest::prelude::*;

    /// Relative tolerance of the float kernels against the f64 reference
    /// (they reassociate sums with several accumulators).
    const F32_TOL: f64 = 1e-5;

    fn bytes_f32(w: &[f32]) -> Vec<u8> {
        w.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
    fn bytes_f16(w: &[f32]) -> Vec<u8> {
        w.iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect()
    }
    fn close(a: f32, b: f64, scale: f64) -> bool {
        (f64::from(a) - b).abs() <= F32_TOL * scale.max(1.0)
    }

    proptest! {
        #[test]
        fn int8_dot_is_exact(pairs in proptest::collection::vec((-127i16..=127, any::<i8>()), 0..300)) {
            let (x, w): (Vec<i16>, Vec<u8>) = pairs.into_iter().map(|(a, b)| (a, b as u8)).unzip();
            prop_assert_eq!(i64::from(I8::dot(&x, &w)), reference::dot_i8(&x, &w));
            prop_assert_eq!(i64::from(dot_i8_pairs(&x, &w)), reference::dot_i8(&x, &w));
            prop_assert_eq!(i64::from(dot::<I8>(&x, &w)), reference::dot_i8(&x, &w));
            prop_assert_eq!(i64::from(dot_i8_by8(&x, &w)), reference::dot_i8(&x, &w));
            // Unaligned activation lanes take the fallback path.
            if x.len() > 1 {
                prop_assert_eq!(i64::from(dot_i8_pairs(&x[1..], &w)), reference::dot_i8(&x[1..], &w));
            }
        }

        #[test]
        fn int8_dot_truncates_to_shorter(x in proptest::collection::vec(-127i16..=127, 0..40), w in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(i64::from(I8::dot(&x, &w)), reference::dot_i8(&x, &w));
        }

        #[test]
        fn int8_axpy_is_exact(a in -127i16..=127, w in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut acc = vec![3i32; w.len()];
            axpy::<I8>(&mut acc, a, &w);
            for (i, v) in acc.iter().enumerate() {
                prop_assert_eq!(i64::from(*v), 3 + i64::from(a) * reference::weight(&w, i, Precision::Int8).unwrap() as i64);
            }
        }

        #[test]
        fn row_blocked_axpy_equals_per_row_axpy(n in 0usize..70, rows in proptest::collection::vec((-127i16..=127, -4.0f32..4.0, proptest::collection::vec(-4.0f32..4.0, 70), 0usize..90), 0..40)) {
            let q: Vec<i16> = rows.iter().map(|r| r.0).collect();
            let c: Vec<f32> = rows.iter().map(|r| r.1).collect();
            // Rows of length n, except now and then a short one.
            let len = |r: &(i16, f32, Vec<f32>, usize)| if r.3 < 70 && r.3 % 3 == 0 { r.3.min(n) } else { n };
            let b8: Vec<Vec<u8>> = rows.iter().map(|r| r.2[..len(r)].iter().map(|v| (*v * 31.0) as i8 as u8).collect()).collect();
            let b32: Vec<Vec<u8>> = rows.iter().map(|r| bytes_f32(&r.2[..len(r)])).collect();
            let b16: Vec<Vec<u8>> = rows.iter().map(|r| bytes_f16(&r.2[..len(r)])).collect();
            fn refs<'v, T: Copy>(v: &'v [Vec<u8>], c: &[T]) -> Vec<(&'v [u8], T)> { v.iter().map(|r| r.as_slice()).zip(c.iter().copied()).collect() }
            // What one axpy per row adds for blocks of `b`: a row shorter than the
            // whole blocks stops at the end of its last whole block.
            fn per_row<E: Encoding>(init: E::Acc, n: usize, b: usize, rows: &[Vec<u8>], c: &[E::Lane]) -> Vec<E::Acc> {
                let mut want = vec![init; n];
                for (r, &ck) in rows.iter().zip(c) {
                    let len = r.len() / E::BYTES;
                    let keep = if len >= n / b * b { len } else { len / b * b };
                    axpy::<E>(&mut want, ck, &r[..keep * E::BYTES]);
                }
                want
            }
            let mut a = vec![5i32; n];
            axpy_rows::<I8, BLOCK_I8>(&mut a, &refs(&b8, &q));
            prop_assert_eq!(a, per_row::<I8>(5, n, BLOCK_I8, &b8, &q));
            // Other block widths on every host.
            let mut a4 = vec![5i32; n];
            axpy_rows::<I8, 4>(&mut a4, &refs(&b8, &q));
            prop_assert_eq!(a4, per_row::<I8>(5, n, 4, &b8, &q));
            let mut a = vec![0.25f32; n];
            axpy_rows::<F32, 16>(&mut a, &refs(&b32, &c));
            prop_assert_eq!(a, per_row::<F32>(0.25, n, 16, &b32, &c));
            let mut a = vec![0.25f32; n];
            axpy_rows::<F16, 16>(&mut a, &refs(&b16, &c));
            prop_assert_eq!(a, per_row::<F16>(0.25, n, 16, &b16, &c));
        }

        #[test]
        fn f32_dot_matches_reference(pairs in proptest::collection::vec((-4.0f32..4.0, -4.0f32..4.0), 0..300)) {
            let (x, w): (Vec<f32>, Vec<f32>) = pairs.into_iter().unzip();
            let l1: f64 = x.iter().zip(&w).map(|(a, b)| f64::from((a * b).abs())).sum();
            let wb = bytes_f32(&w);
            prop_assert!(close(dot::<F32>(&x, &wb), reference::dot(&x, &wb, Precision::F32), l1));
            let wh = bytes_f16(&w);
            prop_assert!(close(dot::<F16>(&x, &wh), reference::dot(&x, &wh, Precision::F16), l1));
        }

        #[test]
        fn float_axpy_matches_reference(a in -4.0f32..4.0, w in proptest::collection::vec(-4.0f32..4.0, 0..100)) {
            let mut acc = vec![0.5f32; w.len()];
            let mut acc16 = acc.clone();
            let (wb, wh) = (bytes_f32(&w), bytes_f16(&w));
            axpy::<F32>(&mut acc, a, &wb);
            axpy::<F16>(&mut acc16, a, &wh);
            for i in 0..w.len() {
                let r = 0.5 + f64::from(a) * reference::weight(&wb, i, Precision::F32).unwrap();
                prop_assert!(close(acc[i], r, r.abs()));
                let r = 0.5 + f64::from(a) * reference::weight(&wh, i, Precision::F16).unwrap();
                prop_assert!(close(acc16[i], r, r.abs()));
            }
        }
    }
}
