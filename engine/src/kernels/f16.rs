//! f16 kernels: weights are 2-byte little-endian IEEE halves, widened to f32.

use super::f32::common;
use half::f16;

#[inline(always)]
pub(crate) fn w16(c: &[u8]) -> f32 {
    match *c {
        [a, b] => f16::from_le_bytes([a, b]).to_f32(),
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
