//! f32 weights: 4-byte little-endian IEEE singles.

use crate::layout::le;

float_encoding! {
    /// f32 weights, f32 activations and sums.
    F32, 4, |w: &[u8]| f32::from_le_bytes(le(w))
}
