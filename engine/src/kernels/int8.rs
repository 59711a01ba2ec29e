//! int8 weights: one `i8` per byte; activations arrive already quantised
//! and widened to `i16` lanes (once per vector, by the caller, at
//! [`lane_slot`]), products accumulate in wrapping `i32`, so every kernel
//! gives the same bits in any summation order. Overflow cannot happen for
//! blobs with |q| <= 127 (a product is at most 16129, so 133 000 products
//! fit i32); wrapping keeps even a hostile `-128` weight panic-free.

use super::{common, Encoding};
use crate::layout::le;

/// int8 weights, i16 activation lanes, wrapping i32 sums.
#[derive(Debug, Clone, Copy)]
pub struct I8;

impl Encoding for I8 {
    type Lane = i16;
    type Acc = i32;
    const BYTES: usize = 1;
    #[inline(always)]
    fn mac(acc: i32, x: i16, w: &[u8]) -> i32 {
        let [w] = le::<1>(w);
        acc.wrapping_add(i32::from(x) * i32::from(w as i8))
    }
    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn widen(w: &[u8]) -> f32 {
        let [w] = le::<1>(w);
        f32::from(w as i8)
    }
    /// Cortex-M4: `dsp`'s `SMLAD` loop with feature `dsp`, else
    /// [`dot_i8_pairs`]. RISC-V and x86 have no halfword-select multiply:
    /// the generic [`super::dot`] is cheaper there.
    #[inline(always)]
    fn dot(x: &[i16], w: &[u8]) -> i32 {
        #[cfg(all(feature = "dsp", target_arch = "arm"))]
        return super::dsp::dot_i8(x, w);
        #[allow(unreachable_code)]
        if cfg!(target_arch = "arm") {
            dot_i8_pairs(x, w)
        } else {
            super::dot::<I8>(x, w)
        }
    }
    /// Cortex-M4 with feature `dsp`: `dsp`'s two-row loop; else generic.
    #[inline(always)]
    fn axpy_rows<const BLOCK: usize>(out: &mut [i32], rows: &[(&[u8], i16)]) {
        #[cfg(all(feature = "dsp", target_arch = "arm"))]
        return super::dsp::axpy_rows_i8(out, rows);
        #[allow(unreachable_code)]
        super::rows_safe::<I8, BLOCK>(out, rows);
    }
}

/// Where activation `i` of a vector of `len` values sits in the i16 lanes
/// the int8 kernels read: producers write `lanes[lane_slot(i, len)]`.
/// The identity today; a target kernel that pairs lanes differently (the
/// `SMLAD` shapes) changes it here, and every producer follows.
#[inline(always)]
pub const fn lane_slot(i: usize, len: usize) -> usize {
    let _ = len;
    i
}

/// Outputs held in registers per block by [`super::axpy_rows`] for int8:
/// 8 (16 spills on RV32, 4 costs more row overhead on Cortex-M4).
pub const BLOCK_I8: usize = 8;

/// `sum_i x[i] * w[i]` with the lanes read four at a time as two words by
/// `words(lane words, weights)` when `x` is word-aligned (the scratch is),
/// lane by lane otherwise and for the tail.
pub(crate) fn by_words(x: &[i16], w: &[u8], words: impl Fn(&[u32], &[u8]) -> i32) -> i32 {
    let (x, w) = common(x, w, 1);
    let n4 = x.len() & !3;
    let ((xh, xr), (wh, wr)) = (x.split_at(n4), w.split_at(n4.min(w.len())));
    let head =
        bytemuck::try_cast_slice(xh).map_or_else(|_| super::dot::<I8>(xh, wh), |xp| words(xp, wh));
    head.wrapping_add(super::dot::<I8>(xr, wr))
}

/// The int8 dot product over lane pairs: bottom and top halves of each
/// word times a sign-extended byte, the SMLABB / SMLATB shapes on Cortex-M4.
pub fn dot_i8_pairs(x: &[i16], w: &[u8]) -> i32 {
    by_words(x, w, |xp, w| {
        let (mut a, lo) = (0i32, |p: i32| (p << 16) >> 16);
        for (xs, ws) in xp.chunks_exact(2).zip(w.chunks_exact(4)) {
            let (&[x01, x23], wv) = (xs, u32::from_le_bytes(le(ws)) as i32) else {
                continue;
            };
            let (x01, x23) = (x01 as i32, x23 as i32);
            a = a
                .wrapping_add(lo(x01) * ((wv << 24) >> 24))
                .wrapping_add((x01 >> 16) * ((wv << 16) >> 24))
                .wrapping_add(lo(x23) * ((wv << 8) >> 24))
                .wrapping_add((x23 >> 16) * (wv >> 24));
        }
        a
    })
}
