//! f32 weights: 4-byte little-endian IEEE singles.

use super::Encoding;
use crate::layout::le;

/// f32 weights, f32 activations and sums.
#[derive(Debug, Clone, Copy)]
pub struct F32;

impl Encoding for F32 {
    type Lane = f32;
    type Acc = f32;
    const BYTES: usize = 4;
    #[inline(always)]
    fn mac(acc: f32, x: f32, w: &[u8]) -> f32 {
        acc + x * Self::widen(w)
    }
    #[inline(always)]
    fn add(a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    fn widen(w: &[u8]) -> f32 {
        f32::from_le_bytes(le(w))
    }
}
