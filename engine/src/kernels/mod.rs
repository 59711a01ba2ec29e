//! Dot-product and axpy kernels over weights stored as little-endian bytes.
//!
//! Every optimised kernel has a plain counterpart in [`reference`] that the
//! tests use as an oracle (int8: bit exact; floats: within [`F32_TOL`]).
//! Kernels never panic: mismatched lengths are truncated to the shorter one.

pub mod f16;
pub mod f32;
pub mod int8;
pub mod reference;

/// Relative tolerance of the float kernels against the f64 reference
/// (they reassociate sums with several accumulators).
pub const F32_TOL: f64 = 1e-5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;
    use proptest::prelude::*;

    fn bytes_f32(w: &[f32]) -> Vec<u8> {
        w.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
    fn bytes_f16(w: &[f32]) -> Vec<u8> {
        w.iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect()
    }
    fn close(a: f32, b: f64, scale: f64) -> bool {
        (f64::from(a) - b).abs() <= F32_TOL * scale.max(1.0)
    }

    proptest! {
        #[test]
        fn int8_dot_is_exact(pairs in proptest::collection::vec((-127i16..=127, any::<i8>()), 0..300)) {
            let (x, w): (Vec<i16>, Vec<u8>) = pairs.into_iter().map(|(a, b)| (a, b as u8)).unzip();
            prop_assert_eq!(i64::from(int8::dot_i8(&x, &w)), reference::dot_i8(&x, &w));
        }

        #[test]
        fn int8_dot_truncates_to_shorter(x in proptest::collection::vec(-127i16..=127, 0..40), w in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(i64::from(int8::dot_i8(&x, &w)), reference::dot_i8(&x, &w));
        }

        #[test]
        fn int8_axpy_is_exact(a in -127i32..=127, w in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut acc = vec![3i32; w.len()];
            int8::axpy_i8(&mut acc, a, &w);
            for (i, v) in acc.iter().enumerate() {
                prop_assert_eq!(i64::from(*v), 3 + i64::from(a) * reference::weight(&w, i, Precision::Int8).unwrap() as i64);
            }
        }

        #[test]
        fn f32_dot_matches_reference(pairs in proptest::collection::vec((-4.0f32..4.0, -4.0f32..4.0), 0..300)) {
            let (x, w): (Vec<f32>, Vec<f32>) = pairs.into_iter().unzip();
            let l1: f64 = x.iter().zip(&w).map(|(a, b)| f64::from((a * b).abs())).sum();
            let wb = bytes_f32(&w);
            prop_assert!(close(f32::dot_f32(&x, &wb), reference::dot(&x, &wb, Precision::F32), l1));
            let wh = bytes_f16(&w);
            prop_assert!(close(f16::dot_f16(&x, &wh), reference::dot(&x, &wh, Precision::F16), l1));
        }

        #[test]
        fn float_axpy_matches_reference(a in -4.0f32..4.0, w in proptest::collection::vec(-4.0f32..4.0, 0..100)) {
            let mut acc = vec![0.5f32; w.len()];
            let mut acc16 = acc.clone();
            let (wb, wh) = (bytes_f32(&w), bytes_f16(&w));
            f32::axpy_f32(&mut acc, a, &wb);
            f16::axpy_f16(&mut acc16, a, &wh);
            for i in 0..w.len() {
                let r = 0.5 + f64::from(a) * reference::weight(&wb, i, Precision::F32).unwrap();
                prop_assert!(close(acc[i], r, r.abs()));
                let r = 0.5 + f64::from(a) * reference::weight(&wh, i, Precision::F16).unwrap();
                prop_assert!(close(acc16[i], r, r.abs()));
            }
        }
    }
}
