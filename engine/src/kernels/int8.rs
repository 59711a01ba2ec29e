//! int8 kernels: weights are one `i8` per byte; activations arrive already
//! quantised and widened to `i16` (once per vector, by the caller), products
//! accumulate in `i32`.
//!
//! The dot kernel is shaped for Cortex-M4 DSP instructions: each step forms
//! two 16x16 products of adjacent lanes and adds both to one i32 accumulator
//! (the `SMLAD` pattern), four lanes per iteration with two independent
//! accumulators. No `unsafe`, no `asm`; `tests` check it against
//! [`super::reference`](mod@super::reference) bit for bit. Overflow cannot happen for the sizes a
//! blob can describe with |q| <= 127 (each product is at most 16129, so
//! 133 000 products fit i32); wrapping arithmetic keeps even a hostile
//! `-128` weight panic-free.

use super::f32::common;

/// `sum_i x[i] * w[i]` with `w` as i8 (two's-complement bytes), i32 accumulation.
pub fn dot_i8(x: &[i16], w: &[u8]) -> i32 {
    // Cortex-M4: activation pairs as one word feed SMLABB/SMLATB (3 instr/MAC).
    // RISC-V has no halfword-select multiply: plain LH/LB loads are cheaper.
    if cfg!(target_arch = "arm") {
        dot_i8_pairs(x, w)
    } else {
        dot_i8_lanes(x, w)
    }
}

/// [`dot_i8`] reading one activation lane at a time, unrolled by 8.
pub(crate) fn dot_i8_lanes(x: &[i16], w: &[u8]) -> i32 {
    let (x, w) = common(x, w, 1);
    let mut a0 = 0i32;
    let mut a1 = 0i32;
    let xc = x.chunks_exact(8);
    let wc = w.chunks_exact(8);
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (xs, ws) in xc.zip(wc) {
        if let (Ok(xs), Ok(ws)) = (<&[i16; 8]>::try_from(xs), <&[u8; 8]>::try_from(ws)) {
            let p = |k: usize| i32::from(xs[k]) * i32::from(ws[k] as i8);
            a0 = a0.wrapping_add(p(0) + p(1)).wrapping_add(p(4) + p(5));
            a1 = a1.wrapping_add(p(2) + p(3)).wrapping_add(p(6) + p(7));
        }
    }
    for (&xv, &wv) in xr.iter().zip(wr) {
        a0 = a0.wrapping_add(i32::from(xv) * i32::from(wv as i8));
    }
    a0.wrapping_add(a1)
}

/// [`dot_i8`] reading activation lanes in word-aligned pairs (falls back to
/// lane by lane when `x` is not word-aligned).
pub(crate) fn dot_i8_pairs(x: &[i16], w: &[u8]) -> i32 {
    let (x, w) = common(x, w, 1);
    let n4 = x.len() & !3;
    let (xh, xr) = x.split_at(n4);
    let (wh, wr) = w.split_at(n4.min(w.len()));
    let mut a0 = 0i32;
    // Activation lanes two at a time as one word (the scratch lanes are
    // word-aligned); weights four at a time as one word.
    if let Ok(xp) = bytemuck::try_cast_slice::<i16, u32>(xh) {
        for (xs, ws) in xp.chunks_exact(2).zip(wh.chunks_exact(4)) {
            if let (&[x01, x23], &[w0, w1, w2, w3]) = (xs, ws) {
                let wv = u32::from_le_bytes([w0, w1, w2, w3]) as i32;
                let (x01, x23) = (x01 as i32, x23 as i32);
                // Bottom/top halves of each pair times a sign-extended byte:
                // the SMLABB / SMLABT shapes on Cortex-M4.
                a0 = a0
                    .wrapping_add(((x01 << 16) >> 16) * ((wv << 24) >> 24))
                    .wrapping_add((x01 >> 16) * ((wv << 16) >> 24))
                    .wrapping_add(((x23 << 16) >> 16) * ((wv << 8) >> 24))
                    .wrapping_add((x23 >> 16) * (wv >> 24));
            }
        }
    } else {
        for (xs, ws) in xh.chunks_exact(4).zip(wh.chunks_exact(4)) {
            for (&xv, &wv) in xs.iter().zip(ws) {
                a0 = a0.wrapping_add(i32::from(xv) * i32::from(wv as i8));
            }
        }
    }
    for (&xv, &wv) in xr.iter().zip(wr) {
        a0 = a0.wrapping_add(i32::from(xv) * i32::from(wv as i8));
    }
    a0
}

/// `acc[o] += a * w[o]` with `w` as i8, i32 accumulation (input-major first layer).
pub fn axpy_i8(acc: &mut [i32], a: i32, w: &[u8]) {
    let a = a.clamp(-32768, 32767);
    for (o, &wv) in acc.iter_mut().zip(w) {
        *o = o.wrapping_add(a * i32::from(wv as i8));
    }
}

/// Outputs held in registers per block by [`axpy_rows_i8`]: Cortex-M has 13
/// usable core registers, RISC-V 31.
#[cfg(target_arch = "arm")]
const BLOCK_I8: usize = 4;
#[cfg(not(target_arch = "arm"))]
const BLOCK_I8: usize = 16;

/// `acc[o] += sum_k q_k * row_k[o]` for `rows` = `(row_k, q_k)` (int8 rows, i32 accumulation): the
/// input-major first layer over a chunk of non-zero features, a block of
/// outputs at a time kept in registers. Equal to one [`axpy_i8`] per row.
/// `q[k]` must lie in `-32768..=32767` (the first layer passes int8 values).
pub(crate) fn axpy_rows_i8(acc: &mut [i32], rows: &[(&[u8], i32)]) {
    let mut blocks = acc.chunks_exact_mut(BLOCK_I8);
    let mut o0 = 0usize;
    for blk in &mut blocks {
        if let Ok(blk) = <&mut [i32; BLOCK_I8]>::try_from(blk) {
            let mut a = *blk;
            for &(row, qk) in rows {
                let w = row.get(o0..o0.wrapping_add(BLOCK_I8));
                if let Some(Ok(w)) = w.map(<&[u8; BLOCK_I8]>::try_from) {
                    for (av, &wv) in a.iter_mut().zip(w) {
                        *av = av.wrapping_add(qk.wrapping_mul(i32::from(wv as i8)));
                    }
                }
            }
            *blk = a;
        }
        o0 = o0.wrapping_add(BLOCK_I8);
    }
    let tail = blocks.into_remainder();
    if !tail.is_empty() {
        for &(row, qk) in rows {
            axpy_i8(tail, qk, row.get(o0..).unwrap_or(&[]));
        }
    }
}
