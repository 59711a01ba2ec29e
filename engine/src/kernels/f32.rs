//! f32 kernels: weights are 4-byte little-endian IEEE singles.

#[inline(always)]
pub(crate) fn w32(c: &[u8]) -> f32 {
    match *c {
        [a, b, c, d] => f32::from_le_bytes([a, b, c, d]),
        _ => 0.0,
    }
}

/// Truncates `x` and `w` to a common length of `n` elements of `bytes` each.
#[inline(always)]
pub(crate) fn common<'x, 'w, T>(x: &'x [T], w: &'w [u8], bytes: usize) -> (&'x [T], &'w [u8]) {
    let n = x.len().min(w.len() / bytes);
    (x.get(..n).unwrap_or(&[]), w.get(..n * bytes).unwrap_or(&[]))
}

/// `sum_i x[i] * w[i]` with `w` as f32 little endian (4 accumulators).
pub fn dot_f32(x: &[f32], w: &[u8]) -> f32 {
    let (x, w) = common(x, w, 4);
    let mut acc = [0.0f32; 4];
    let xc = x.chunks_exact(4);
    let wc = w.chunks_exact(16);
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (xs, ws) in xc.zip(wc) {
        for ((a, &xv), wv) in acc.iter_mut().zip(xs).zip(ws.chunks_exact(4)) {
            *a += xv * w32(wv);
        }
    }
    let mut tail = 0.0f32;
    for (&xv, wv) in xr.iter().zip(wr.chunks_exact(4)) {
        tail += xv * w32(wv);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `acc[o] += a * w[o]` with `w` as f32 little endian.
pub fn axpy_f32(acc: &mut [f32], a: f32, w: &[u8]) {
    for (o, wv) in acc.iter_mut().zip(w.chunks_exact(4)) {
        *o += a * w32(wv);
    }
}
