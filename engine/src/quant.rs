//! Quantisation rules shared by the engine, the writer and the distiller's
//! simulated forward pass.
//!
//! **int8, symmetric.** For a vector `v`: `scale = max|v| / 127` (1.0 when
//! every value is zero, or when the maximum is not finite), and
//! `q = clamp(round_half_away_from_zero(v / scale), -127, 127)`; the value
//! represented is `q * scale`. Weights use one scale per output channel
//! (row of `W`), `E` tables one per row.
//!
//! **int8 is integer-only** (blob v3). Activations have static scales
//! calibrated at export; a product's i32 sum goes to the next activation by
//! [`Fix::apply`], an integer multiplier and shift (the bits of a positive
//! f32, read as integers) rounding half toward +inf; gates are
//! [`sigmoid_q15`]; logits are i32 in units of a stored logit scale. Only the
//! f32 entry point converts (features in, logits and gates out).
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
            if (frac.abs() - 0.5).abs() > 1.0 / 1024.0 {
                // Away from a tie: round half away from zero, without a
                // branch on the (unpredictable) side of 0.5.
                let step = i32::from(frac > 0.5) - i32::from(frac < -0.5);
                return (i + step).clamp(-127, 127) as i8;
            }
        }
        quantize_value_i8(v, self.scale)
    }
}

/// A requantisation multiplier `m * 2^-shift`: the mantissa and exponent of
/// a positive f32, read as integers, so applying it needs no float unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fix {
    m: u32,
    shift: i32,
}

impl Fix {
    /// 1.0.
    pub const UNIT: Fix = Fix {
        m: 1 << 23,
        shift: 23,
    };

    /// The multiplier a positive normal f32 stands for, exactly; `None` for
    /// anything else and for values whose shift falls outside `1..=62`
    /// (below `2^-39` or from `2^23` up), which [`Fix::apply`] cannot take.
    pub const fn of(v: f32) -> Option<Fix> {
        let bits = v.to_bits();
        let exp = (bits >> 23) as i32; // sign bit set: > 255, refused below
        let shift = 150 - exp;
        if shift < 1 || shift > 62 {
            return None;
        }
        Some(Fix {
            m: (bits & 0x7F_FFFF) | 0x80_0000,
            shift,
        })
    }

    /// `self * other`, its mantissa truncated to 24 bits (relative error
    /// < 2^-23; exact when either is a power of two).
    #[inline]
    pub fn times(self, other: Fix) -> Fix {
        let p = u64::from(self.m) * u64::from(other.m); // in [2^46, 2^48)
        let k = if p >> 47 == 0 { 23 } else { 24 };
        let shift = self.shift.saturating_add(other.shift).saturating_sub(k);
        Fix {
            m: (p >> k) as u32,
            shift,
        }
    }

    /// `round(a * self)`, halves toward +inf: `(a * m + 2^(shift-1)) >> shift`
    /// with the shift clamped to `1..=62` and `a` to `±2^38`, so it never overflows.
    #[inline]
    pub fn apply(self, a: i64) -> i64 {
        let s = self.shift.clamp(1, 62);
        let a = a.clamp(-(1 << 38), 1 << 38);
        (a * i64::from(self.m) + (1i64 << (s - 1))) >> s
    }
}

impl Fix {
    /// `sat_i32(self.apply(a) + b)` for i32 `a` and `b`, bit for bit, in 32-bit
    /// arithmetic for the shifts requantisation multipliers have (`26..=55`,
    /// multipliers below 1/4): with `m' = m 2^7 < 2^31` and `q = shift - 25`,
    /// `(a m + 2^(shift-1)) >> shift` is `(hi + 2^(q-1)) >> q` where `hi` is the
    /// high word of `a m'` (`SMMUL` on Cortex-M4, `MULH` on RISC-V), as the low
    /// word cannot carry past a multiple of `2^q`. `|hi| <= 2^30`, so nothing
    /// overflows. Larger shifts give 0 (`|a m| < 2^55`). Shifts `1..=25` take
    /// one 64-bit product with no clamps (`|a m| < 2^55`); the rest `apply`.
    #[inline(always)]
    pub fn apply_add(self, a: i32, b: i32) -> i32 {
        match self.shift {
            26..=55 => {
                let q = self.shift.wrapping_sub(25) as u32;
                let m = (self.m << 7) as i32;
                let hi = ((i64::from(a) * i64::from(m)) >> 32) as i32;
                (hi.wrapping_add(1 << (q - 1)) >> q).saturating_add(b)
            }
            56.. => b,
            s @ 1..=25 => {
                let p = i64::from(a) * i64::from(self.m) + (1i64 << (s - 1));
                sat_i32((p >> s) + i64::from(b))
            }
            _ => sat_i32(self.apply(i64::from(a)) + i64::from(b)),
        }
    }
}

/// `i32::try_from(v)`, saturating.
#[inline]
pub fn sat_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Fractional bits of a gate's pre-activation `z` ([`sigmoid_q15`]'s input).
pub const Z_BITS: u32 = 12;

/// `round(2^16 * 2^(-i/32))`, `i = 0..=32`.
const EXP2_NEG: [u32; 33] = [
    65536, 64132, 62757, 61413, 60097, 58809, 57549, 56316, 55109, 53928, 52773, 51642, 50535,
    49452, 48393, 47356, 46341, 45348, 44376, 43425, 42495, 41584, 40693, 39821, 38968, 38133,
    37316, 36516, 35734, 34968, 34219, 33486, 32768,
];

/// The integer sigmoid: `sigmoid(z / 2^12)` in Q15 (`32768` is 1.0), within
/// `1e-4` of the exact value for every input (tested over all `|z| <= 2^18`;
/// beyond, the answer is that of `±2^18`). `e^-|z|` is `2^-(|z| log2 e)`: a
/// shift for the integer part and a 33-entry table, linearly interpolated,
/// for the fraction; then one integer division.
pub fn sigmoid_q15(z: i32) -> i32 {
    let a = u64::from(z.unsigned_abs().min(1 << 18));
    let y = (a * 94_548) >> Z_BITS; // |z| log2 e in Q16
    let (k, f) = (y >> 16, (y & 0xFFFF) as u32);
    let (i, r) = ((f >> 11) as usize, f & 0x7FF);
    let (lo, hi) = match (EXP2_NEG.get(i), EXP2_NEG.get(i + 1)) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => (0, 0),
    };
    let t = (lo - (((lo - hi) * r) >> 11))
        .checked_shr(k as u32)
        .unwrap_or(0);
    let den = 65_536 + t;
    let below = ((t << 15) + den / 2).checked_div(den).unwrap_or(0) as i32; // sigmoid(-|z|), <= 16384
    if z >= 0 {
        32_768 - below
    } else {
        below
    }
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
    fn integer_sigmoid_is_within_its_bound() {
        let mut worst = 0.0f64;
        for z in -(1i32 << 18)..=(1 << 18) {
            let exact = 1.0 / (1.0 + (-f64::from(z) / 4096.0).exp());
            worst = worst.max((f64::from(sigmoid_q15(z)) / 32768.0 - exact).abs());
        }
        assert!(worst <= 1e-4, "worst error {worst}");
        assert_eq!(sigmoid_q15(0), 16384);
        assert_eq!((sigmoid_q15(i32::MIN), sigmoid_q15(i32::MAX)), (0, 32768));
    }

    proptest::proptest! {
        #[test]
        fn fix_rounds_half_up(v in 1.0e-9f32..1.0e6, a in -(1i64 << 31)..(1i64 << 31)) {
            let f = Fix::of(v).unwrap();
            // Exact: v = m 2^-shift, so a v is a rational with a power-of-two denominator.
            let want = (i128::from(a) * i128::from(f.m) + (1i128 << (f.shift - 1))) >> f.shift;
            proptest::prop_assert_eq!(i128::from(f.apply(a)), want);
            let near = (a as f64 * f64::from(v) - f.apply(a) as f64).abs();
            proptest::prop_assert!(near <= 0.5 + 1e-6 * (a as f64 * f64::from(v)).abs());
        }

        #[test]
        fn fix_apply_add_is_apply_then_add(m in (1u32 << 23)..(1 << 24), shift in -3i32..70, a in proptest::num::i32::ANY, b in proptest::num::i32::ANY) {
            // Every shift a product of Fixes may reach, and the edges of a and b.
            let f = Fix { m, shift };
            for (a, b) in [(a, b), (i32::MIN, b), (i32::MAX, b), (a, i32::MAX), (a, i32::MIN), (0, b), (-1, 0), (1, 0)] {
                proptest::prop_assert_eq!(f.apply_add(a, b), sat_i32(f.apply(i64::from(a)) + i64::from(b)), "{:?} {} {}", f, a, b);
            }
        }

        #[test]
        fn fix_product_is_close(a in 1.0e-6f32..1.0e3, b in 1.0e-6f32..1.0e3) {
            if let (Some(fa), Some(fb)) = (Fix::of(a), Fix::of(b)) {
                let p = fa.times(fb);
                let got = p.apply(1 << 30) as f64 / f64::from(1u32 << 30);
                let want = f64::from(a) * f64::from(b);
                proptest::prop_assert!((got - want).abs() <= want * 1e-6 + 1e-9, "{} vs {}", got, want);
            }
        }
    }

    #[test]
    fn fix_refuses_what_it_cannot_apply() {
        for v in [
            0.0,
            -1.0,
            f32::NAN,
            f32::INFINITY,
            1.0e-30,
            1.0e8,
            f32::MIN_POSITIVE,
        ] {
            assert_eq!(Fix::of(v), None, "{v}");
        }
        assert_eq!(Fix::of(1.0).map(|f| f.apply(3)), Some(3));
        assert_eq!(
            Fix::of(0.5).map(|f| (f.apply(3), f.apply(-3))),
            Some((2, -1))
        );
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
