//! int8 kernels: weights are one `i8` per byte; activations arrive already
//! quantised and widened to `i16` (once per vector, by the caller), products
//! accumulate in `i32`.
//!
//! The dot kernel is shaped for Cortex-M4 DSP instructions: each step forms
//! two 16x16 products of adjacent lanes and adds both to one i32 accumulator
//! (the `SMLAD` pattern), four lanes per iteration with two independent
//! accumulators. No `unsafe`, no `asm`; `tests` check it against
//! [`super::reference`] bit for bit. Overflow cannot happen for the sizes a
//! blob can describe with |q| <= 127 (each product is at most 16129, so
//! 133 000 products fit i32); wrapping arithmetic keeps even a hostile
//! `-128` weight panic-free.

use super::f32::common;

/// `sum_i x[i] * w[i]` with `w` as i8 (two's-complement bytes), i32 accumulation.
pub fn dot_i8(x: &[i16], w: &[u8]) -> i32 {
    let (x, w) = common(x, w, 1);
    let mut a0 = 0i32;
    let mut a1 = 0i32;
    let xc = x.chunks_exact(4);
    let wc = w.chunks_exact(4);
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (xs, ws) in xc.zip(wc) {
        if let (&[x0, x1, x2, x3], &[w0, w1, w2, w3]) = (xs, ws) {
            // Lanes (0,1) and (2,3): each pair is one dual 16x16 multiply-accumulate.
            let p01 = i32::from(x0) * i32::from(w0 as i8) + i32::from(x1) * i32::from(w1 as i8);
            let p23 = i32::from(x2) * i32::from(w2 as i8) + i32::from(x3) * i32::from(w3 as i8);
            a0 = a0.wrapping_add(p01);
            a1 = a1.wrapping_add(p23);
        }
    }
    for (&xv, &wv) in xr.iter().zip(wr) {
        a0 = a0.wrapping_add(i32::from(xv) * i32::from(wv as i8));
    }
    a0.wrapping_add(a1)
}

/// `acc[o] += a * w[o]` with `w` as i8, i32 accumulation (input-major first layer).
pub fn axpy_i8(acc: &mut [i32], a: i32, w: &[u8]) {
    let a = a.clamp(-32768, 32767);
    for (o, &wv) in acc.iter_mut().zip(w) {
        *o = o.wrapping_add(a * i32::from(wv as i8));
    }
}
