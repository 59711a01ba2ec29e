//! Quantisation rules shared by the engine, the writer and the distiller's
//! simulated forward pass.
//!
//! **int8, symmetric.** For a vector `v`: `scale = max|v| / 127` (1.0 when
//! every value is zero, or when the maximum is not finite), and
//! `q = clamp(round_half_away_from_zero(v / scale), -127, 127)`; the value
//! represented is `q * scale`. Weights use one scale per output channel
//! (row of `W`), `E` tables one per row. Activations entering a linear layer
//! or a gate dot product are quantised per vector at run time with the same
//! rule; products accumulate in i32 and `y = acc * w_scale[o] * x_scale + bias`.
//!
//! **f16.** Weights and tables are rounded to IEEE half (round to nearest
//! even, the `half` crate) and widened to f32 for compute.
//!
//! ```
//! use frameless_engine::quant::{quantize_symmetric_i8, fake_quantize_i8};
//! let mut q = [0i8; 3];
//! let scale = quantize_symmetric_i8(&[127.0, -63.5, 2.2], &mut q);
//! assert_eq!(scale, 1.0);
//! assert_eq!(q, [127, -64, 2]); // -63.5 rounds away from zero
//! let mut v = [2.0f32, 0.0, -1.0];
//! fake_quantize_i8(&mut v);
//! assert_eq!(v[0], 2.0);
//! ```

/// Largest magnitude of a quantised int8 value.
pub const I8_MAX: f32 = 127.0;

/// The symmetric int8 scale of `values`: `max|v| / 127`, or 1.0 if that is
/// zero or not finite.
pub fn scale_i8(values: &[f32]) -> f32 {
    let m = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if m > 0.0 && m.is_finite() {
        m / I8_MAX
    } else {
        1.0
    }
}

/// Quantises one value with `scale`: `clamp(round_half_away(v / scale), -127, 127)`.
/// NaN maps to 0.
#[inline]
pub fn quantize_value_i8(v: f32, scale: f32) -> i8 {
    // `as` saturates and maps NaN to 0; the clamp keeps -128 out.
    libm::roundf(v / scale).clamp(-I8_MAX, I8_MAX) as i8
}

/// Quantises `values` into `out` (pairwise; extra entries of either are
/// left alone) and returns the scale.
pub fn quantize_symmetric_i8(values: &[f32], out: &mut [i8]) -> f32 {
    let scale = scale_i8(values);
    for (o, &v) in out.iter_mut().zip(values) {
        *o = quantize_value_i8(v, scale);
    }
    scale
}

/// Quantises `values` to int8 and back in place (`q * scale`), simulating
/// what the engine computes with.
pub fn fake_quantize_i8(values: &mut [f32]) {
    let scale = scale_i8(values);
    for v in values.iter_mut() {
        *v = f32::from(quantize_value_i8(*v, scale)) * scale;
    }
}

/// Rounds `values` to IEEE half and back in place, as the f16 blob stores them.
pub fn fake_quantize_f16(values: &mut [f32]) {
    for v in values.iter_mut() {
        *v = half::f16::from_f32(*v).to_f32();
    }
}

/// Quantises `values` into i16 lanes (for the int8 kernels) and returns the scale.
pub(crate) fn quantize_to_i16(values: &[f32], out: &mut [i16]) -> f32 {
    let scale = scale_i8(values);
    for (o, &v) in out.iter_mut().zip(values) {
        *o = i16::from(quantize_value_i8(v, scale));
    }
    scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        // scale = 127/127 = 1: values round half away from zero.
        let mut q = [0i8; 5];
        let s = quantize_symmetric_i8(&[127.0, 2.5, -2.5, 0.49, -126.5], &mut q);
        assert_eq!(s, 1.0);
        assert_eq!(q, [127, 3, -3, 0, -127]);
    }

    #[test]
    fn all_zero_has_unit_scale() {
        let mut q = [5i8; 2];
        assert_eq!(quantize_symmetric_i8(&[0.0, -0.0], &mut q), 1.0);
        assert_eq!(q, [0, 0]);
        assert_eq!(scale_i8(&[]), 1.0);
    }

    #[test]
    fn fake_quant_error_is_within_half_step() {
        let orig = [0.3f32, -1.7, 0.01, 1.2];
        let mut v = orig;
        fake_quantize_i8(&mut v);
        let step = 1.7 / 127.0;
        for (a, b) in orig.iter().zip(&v) {
            assert!((a - b).abs() <= step / 2.0 + 1e-7, "{a} vs {b}");
        }
        let mut h = [1.0f32 / 3.0];
        fake_quantize_f16(&mut h);
        assert!((h[0] - 1.0 / 3.0).abs() < 1e-3 && h[0] != 1.0 / 3.0);
    }
}
