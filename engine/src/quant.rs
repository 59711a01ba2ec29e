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
//! The writer's and the distiller's whole-tensor helpers need feature `std`.
//!
//! ```
//! use frameless_engine::quant::{quantize_value_i8, scale_i8};
//! assert_eq!(scale_i8(&[127.0, -63.5, 2.2]), 1.0);
//! assert_eq!(quantize_value_i8(-63.5, 1.0), -64); // half rounds away from zero
//! ```

#[cfg(feature = "std")]
#[path = "writer_quant.rs"]
mod host;
#[cfg(feature = "std")]
pub use host::{fake_quantize_f16, fake_quantize_i8, quantize_symmetric_i8};

/// Largest magnitude of a quantised int8 value.
pub const I8_MAX: f32 = 127.0;

/// The symmetric int8 scale of `values`: `max|v| / 127`, or 1.0 if that is
/// zero or not finite.
pub fn scale_i8(values: &[f32]) -> f32 {
    // A comparison rather than `f32::max` (a libm call on soft-float
    // targets); NaN is skipped either way.
    let max = |m: f32, v: &f32| if v.abs() > m { v.abs() } else { m };
    let m = values.iter().fold(0.0f32, max);
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
    let t = v / scale;
    // Round half away from zero without a libm call: `as` truncates toward
    // zero (saturating, NaN -> 0) and `t - trunc(t)` is exact in f32.
    let i = t as i32;
    let frac = t - i as f32;
    let step = i32::from(frac >= 0.5) - i32::from(frac <= -0.5);
    i.saturating_add(step).clamp(-127, 127) as i8
}

/// [`quantize_value_i8`] for many values with one scale, bit-identical but
/// with one reciprocal and a multiply per value instead of a divide:
/// `v * (1/scale)` is within a few ulps of `v / scale`, so only a value whose
/// scaled fraction lies within `2^-10` of `±0.5` (where rounding could
/// differ), or a reciprocal or product out of the safe range, divides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuantI8 {
    scale: f32,
    inv: f32,
}

impl QuantI8 {
    /// Prepares quantisation with `scale`.
    #[inline]
    pub(crate) fn new(scale: f32) -> Self {
        let inv = 1.0 / scale;
        QuantI8 { scale, inv }
    }

    /// Exactly `quantize_value_i8(v, self.scale)`.
    #[inline(always)]
    pub(crate) fn quantize(&self, v: f32) -> i8 {
        let t = v * self.inv;
        // |t| < 1024 also rejects NaN and Inf (from v or from the reciprocal).
        if t.abs() < 1024.0 {
            let i = t as i32; // exact truncation, |t| < 2^10
            let frac = t - i as f32; // exact
            let d = frac.abs() - 0.5;
            if d.abs() > 1.0 / 1024.0 {
                let r = if d > 0.0 {
                    if frac > 0.0 {
                        i + 1
                    } else {
                        i - 1
                    }
                } else {
                    i
                };
                return r.clamp(-127, 127) as i8;
            }
        }
        quantize_value_i8(v, self.scale)
    }
}

/// Quantises `values` into i16 lanes (for the int8 kernels) and returns the scale.
pub(crate) fn quantize_to_i16(values: &[f32], out: &mut [i16]) -> f32 {
    let scale = scale_i8(values);
    let q = QuantI8::new(scale);
    for (o, &v) in out.iter_mut().zip(values) {
        *o = i16::from(q.quantize(v));
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

    proptest::proptest! {
        #[test]
        fn rounding_matches_libm_roundf(v in -1.0e4f32..1.0e4, scale in 1.0e-3f32..10.0) {
            let want = libm::roundf(v / scale).clamp(-I8_MAX, I8_MAX) as i8;
            proptest::prop_assert_eq!(quantize_value_i8(v, scale), want);
        }
    }

    proptest::proptest! {
        #[test]
        fn reciprocal_quantisation_is_exact(v in proptest::num::f32::ANY, scale in proptest::num::f32::ANY) {
            proptest::prop_assert_eq!(QuantI8::new(scale).quantize(v), quantize_value_i8(v, scale));
        }

        #[test]
        fn reciprocal_quantisation_is_exact_near_ties(k in -130i32..130, ulps in -64i32..64, m in 1.0e-6f32..1.0e6) {
            // v/scale close to k + 0.5, where a reciprocal could round differently.
            let scale = m / I8_MAX;
            let t = k as f32 + 0.5;
            let v = f32::from_bits(((t * scale).to_bits() as i32).wrapping_add(ulps) as u32);
            proptest::prop_assert_eq!(QuantI8::new(scale).quantize(v), quantize_value_i8(v, scale));
        }

        #[test]
        fn reciprocal_quantisation_is_exact_in_range(vals in proptest::collection::vec(-1.0e3f32..1.0e3, 1..80)) {
            let scale = scale_i8(&vals);
            let q = QuantI8::new(scale);
            for &v in &vals {
                proptest::prop_assert_eq!(q.quantize(v), quantize_value_i8(v, scale));
            }
        }
    }

    #[test]
    fn rounding_edge_cases() {
        // Largest f32 below 0.5 must round to 0 (the naive `t + 0.5` trick gives 1).
        let below_half = f32::from_bits(0.5f32.to_bits() - 1);
        assert_eq!(quantize_value_i8(below_half, 1.0), 0);
        assert_eq!(quantize_value_i8(-below_half, 1.0), 0);
        assert_eq!(quantize_value_i8(0.5, 1.0), 1);
        assert_eq!(quantize_value_i8(-0.5, 1.0), -1);
        assert_eq!(quantize_value_i8(f32::NAN, 1.0), 0);
        assert_eq!(quantize_value_i8(f32::INFINITY, 1.0), 127);
        assert_eq!(quantize_value_i8(-1e30, 1.0), -127);
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
