//! f16 kernels: weights are 2-byte little-endian IEEE halves, widened to f32.

use super::f32::common;

/// Widens IEEE half bits to f32, exactly (zero, subnormals, Inf and NaN
/// included; tested against `half` for all 65 536 inputs). Branch-light and
/// table-free, so it is quick without F16C and on FPU-only MCUs, where
/// `half`'s per-value runtime dispatch is the bottleneck.
#[inline(always)]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    const SHIFTED_EXP: u32 = 0x7c00 << 13;
    let magic = f32::from_bits(113 << 23);
    let mut o = u32::from(h & 0x7fff) << 13;
    let exp = SHIFTED_EXP & o;
    o += (127 - 15) << 23;
    if exp == SHIFTED_EXP {
        o += (128 - 16) << 23; // Inf / NaN
    } else if exp == 0 {
        o += 1 << 23; // zero / subnormal: renormalise through an f32 subtraction
        o = (f32::from_bits(o) - magic).to_bits();
    }
    f32::from_bits(o | (u32::from(h & 0x8000) << 16))
}

#[inline(always)]
pub(crate) fn w16(c: &[u8]) -> f32 {
    match *c {
        [a, b] => f16_bits_to_f32(u16::from_le_bytes([a, b])),
        _ => 0.0,
    }
}

/// `sum_i x[i] * w[i]` with `w` as f16 little endian (4 accumulators, f32 sums).
pub fn dot_f16(x: &[f32], w: &[u8]) -> f32 {
    let (x, w) = common(x, w, 2);
    let mut acc = [0.0f32; 4];
    let xc = x.chunks_exact(4);
    let wc = w.chunks_exact(8);
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (xs, ws) in xc.zip(wc) {
        for ((a, &xv), wv) in acc.iter_mut().zip(xs).zip(ws.chunks_exact(2)) {
            *a += xv * w16(wv);
        }
    }
    let mut tail = 0.0f32;
    for (&xv, wv) in xr.iter().zip(wr.chunks_exact(2)) {
        tail += xv * w16(wv);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `acc[o] += a * w[o]` with `w` as f16 little endian.
pub fn axpy_f16(acc: &mut [f32], a: f32, w: &[u8]) {
    for (o, wv) in acc.iter_mut().zip(w.chunks_exact(2)) {
        *o += a * w16(wv);
    }
}

/// Outputs held in (FPU or core) registers per block by [`axpy_rows_f16`].
const BLOCK: usize = 16;

/// `out[o] += sum_k c_k * row_k[o]` for `rows` = `(row_k, c_k)`, summing rows in order per output (so
/// bit-identical to one [`axpy_f16`] per row), a block of outputs at a time
/// kept in registers: the input-major first layer over a chunk of features.
pub(crate) fn axpy_rows_f16(out: &mut [f32], rows: &[(&[u8], f32)]) {
    let mut blocks = out.chunks_exact_mut(BLOCK);
    let mut o0 = 0usize;
    for blk in &mut blocks {
        if let Ok(blk) = <&mut [f32; BLOCK]>::try_from(blk) {
            let mut a = *blk;
            let start = o0.wrapping_mul(2);
            for &(row, ck) in rows {
                let w = row.get(start..start.wrapping_add(BLOCK * 2));
                if let Some(Ok(w)) = w.map(<&[u8; BLOCK * 2]>::try_from) {
                    for (av, wv) in a.iter_mut().zip(w.chunks_exact(2)) {
                        *av += ck * w16(wv);
                    }
                }
            }
            *blk = a;
        }
        o0 = o0.wrapping_add(BLOCK);
    }
    let tail = blocks.into_remainder();
    if !tail.is_empty() {
        let start = o0.wrapping_mul(2);
        for &(row, ck) in rows {
            axpy_f16(tail, ck, row.get(start..).unwrap_or(&[]));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn widening_matches_half_for_every_value() {
        for h in 0..=u16::MAX {
            let want = half::f16::from_bits(h).to_f32();
            let got = super::f16_bits_to_f32(h);
            if want.is_nan() {
                assert!(got.is_nan(), "{h:#x}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{h:#x}");
            }
        }
    }
}
