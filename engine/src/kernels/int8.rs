//! int8 weights: one `i8` per byte; activations arrive already quantised
//! and widened to `i16` (once per vector, by the caller), products
//! accumulate in wrapping `i32`.
//!
//! On Cortex-M4 the dot kernel reads activation lanes in word pairs (the
//! `SMLAD` pattern), safe Rust checked bit for bit against the oracle.
//! Overflow cannot happen for blobs with |q| <= 127 (a product is at most
//! 16129, so 133 000 products fit i32); wrapping arithmetic keeps even a
//! hostile `-128` weight panic-free.

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
    /// Cortex-M4: feature `dsp`'s `SMLAD` kernel, else activation pairs as
    /// one word feeding SMLABB/SMLATB (3 instructions per MAC). RISC-V has no
    /// halfword-select multiply: the generic [`super::dot`] is cheaper there.
    #[inline(always)]
    fn dot(x: &[i16], w: &[u8]) -> i32 {
        #[cfg(all(feature = "dsp", target_arch = "arm"))]
        return super::dsp::dot_i8(x, w);
        #[cfg(not(all(feature = "dsp", target_arch = "arm")))]
        if cfg!(target_arch = "arm") {
            dot_i8_pairs(x, w)
        } else {
            super::dot::<I8>(x, w)
        }
    }
    /// Cortex-M4 with feature `dsp`: two rows per `SMLAD`; else generic.
    #[inline(always)]
    fn axpy_rows<const BLOCK: usize>(out: &mut [i32], rows: &[(&[u8], i16)]) {
        #[cfg(all(feature = "dsp", target_arch = "arm"))]
        return super::dsp::axpy_rows_i8(out, rows);
        #[cfg(not(all(feature = "dsp", target_arch = "arm")))]
        super::axpy_rows_generic::<I8, BLOCK>(out, rows);
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
/// Cortex-M has 13 usable core registers, RISC-V 31.
pub const BLOCK_I8: usize = if cfg!(target_arch = "arm") { 4 } else { 16 };

/// The int8 dot product reading activation lanes in word-aligned pairs
/// (lane by lane when `x` is not word-aligned).
pub fn dot_i8_pairs(x: &[i16], w: &[u8]) -> i32 {
    let (x, w) = common(x, w, 1);
    let n4 = x.len() & !3;
    let (xh, xr) = x.split_at(n4);
    let (wh, wr) = w.split_at(n4.min(w.len()));
    let mut a0 = 0i32;
    // Activation lanes two at a time as one word (the scratch lanes are
    // word-aligned); weights four at a time as one word.
    match bytemuck::try_cast_slice::<i16, u32>(xh) {
        Ok(xp) => {
            for (xs, ws) in xp.chunks_exact(2).zip(wh.chunks_exact(4)) {
                if let &[x01, x23] = xs {
                    let wv = u32::from_le_bytes(le(ws)) as i32;
                    let (x01, x23) = (x01 as i32, x23 as i32);
                    // Bottom/top halves of each pair times a sign-extended
                    // byte: the SMLABB / SMLABT shapes on Cortex-M4.
                    a0 = a0
                        .wrapping_add(((x01 << 16) >> 16) * ((wv << 24) >> 24))
                        .wrapping_add((x01 >> 16) * ((wv << 16) >> 24))
                        .wrapping_add(((x23 << 16) >> 16) * ((wv << 8) >> 24))
                        .wrapping_add((x23 >> 16) * (wv >> 24));
                }
            }
        }
        Err(_) => a0 = super::dot::<I8>(xh, wh),
    }
    a0.wrapping_add(super::dot::<I8>(xr, wr))
}
