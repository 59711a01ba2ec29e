//! int8 weights: one `i8` per byte; activations arrive already quantised
//! and widened to `i16` lanes (activation `i` in lane `i`); products
//! accumulate in wrapping `i32`, the same bits in any summation order.
//! Overflow cannot happen for blobs with |q| <= 127 (a product is at most
//! 16129, so 133 000 products fit i32); wrapping keeps even a hostile
//! `-128` weight panic-free.

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
    /// Cortex-M4: [`dot_i8_pairs`]. RISC-V has no halfword-select
    /// multiply: plain loads are cheaper there, eight per pass ([`dot_i8_by8`]).
    #[inline(always)]
    fn dot(x: &[i16], w: &[u8]) -> i32 {
        if cfg!(target_arch = "arm") {
            dot_i8_pairs(x, w)
        } else {
            dot_i8_by8(x, w)
        }
    }
    /// Feature `dsp` on Arm: two rows per pass, by `SMLAxy`.
    #[cfg(all(feature = "dsp", target_arch = "arm"))]
    fn axpy_rows<const B: usize>(out: &mut [i32], rows: &[(&[u8], i16)]) {
        super::dsp::axpy_rows_i8::<B>(out, rows);
    }
}

/// The int8 dot product eight lanes per pass into one wrapping sum (the same
/// bits as any other order): one loop test per eight multiply-adds.
pub fn dot_i8_by8(x: &[i16], w: &[u8]) -> i32 {
    let (x, w) = common(x, w, 1);
    let (xc, wc) = (x.chunks_exact(8), w.chunks_exact(8));
    let (xr, wr) = (xc.remainder(), wc.remainder());
    let mac = |a: i32, (&x, &w): (&i16, &u8)| a.wrapping_add(i32::from(x) * i32::from(w as i8));
    let body = xc
        .zip(wc)
        .fold(0, |a, (xs, ws)| xs.iter().zip(ws).fold(a, mac));
    xr.iter().zip(wr).fold(body, mac)
}

/// `out[o] = x . W[o]` ([`I8::dot`]) for the rows of `cols` weights in `w`, an
/// `out` past them left alone; feature `dsp` on Arm: two rows per pass.
pub fn dots(x: &[i16], w: &[u8], cols: usize, out: &mut [i32]) {
    #[cfg(all(feature = "dsp", target_arch = "arm"))]
    return super::dsp::dots_i8(x, w, cols, out);
    #[cfg(not(all(feature = "dsp", target_arch = "arm")))]
    for (v, r) in out.iter_mut().zip(w.chunks_exact(cols.max(1))) {
        *v = I8::dot(x, r);
    }
}

/// Outputs held in registers per block by [`super::axpy_rows`] for int8
/// (16 spill on RV32; on Cortex-M4 8 beats 4).
pub const BLOCK_I8: usize = 8;

/// The int8 dot product reading the lanes four at a time as two words by
/// `words_i8` (feature `dsp` on Arm: `dsp`'s `SMLAD` loop) when `x` is
/// word-aligned (the scratch is), lane by lane otherwise and for the tail.
pub fn dot_i8_pairs(x: &[i16], w: &[u8]) -> i32 {
    let (x, w) = common(x, w, 1);
    let n4 = x.len() & !3;
    let ((xh, xr), (wh, wr)) = (x.split_at(n4), w.split_at(n4.min(w.len())));
    let head = match bytemuck::try_cast_slice(xh) {
        Ok(xp) => words_i8(xp, wh),
        Err(_) => super::dot::<I8>(xh, wh),
    };
    head.wrapping_add(super::dot::<I8>(xr, wr))
}

#[cfg(all(feature = "dsp", target_arch = "arm"))]
use super::dsp::dot_i8_words as words_i8;

/// Lane pairs as words: bottom and top halves times a sign-extended byte,
/// the SMLABB / SMLATB shapes on Cortex-M4.
#[cfg(not(all(feature = "dsp", target_arch = "arm")))]
fn words_i8(xp: &[u32], w: &[u8]) -> i32 {
    let (mut a, lo) = (0i32, |p: i32| (p << 16) >> 16);
    for (xs, ws) in xp.chunks_exact(2).zip(w.chunks_exact(4)) {
        if let &[x01, x23] = xs {
            let (wv, x01, x23) = (u32::from_le_bytes(le(ws)) as i32, x01 as i32, x23 as i32);
            a = a
                .wrapping_add(lo(x01) * ((wv << 24) >> 24))
                .wrapping_add((x01 >> 16) * ((wv << 16) >> 24))
                .wrapping_add(lo(x23) * ((wv << 8) >> 24))
                .wrapping_add((x23 >> 16) * (wv >> 24));
        }
    }
    a
}
