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
