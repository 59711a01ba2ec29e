//! The host side of [`crate::quant`] (feature `std`): quantising a whole
//! tensor for the writer, and the round trips the distiller simulates.
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

use super::{quantize_value_i8, scale_i8};

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
