//! f16 kernels: weights are 2-byte little-endian IEEE halves, widened to f32.

use crate::layout::le;

/// Widens IEEE half bits to f32, exactly (zero, subnormals, Inf and NaN
/// included; tested against `half` for all 65 536 inputs). Branch-light and
/// table-free, so it is quick without F16C and on FPU-only MCUs, where
/// `half`'s per-value runtime dispatch is the bottleneck. Feature `dsp` on
/// Arm with an FPU: the FPU's `VCVTB` instead (`dsp::f16_to_f32`).
#[inline(always)]
#[cfg_attr(all(feature = "dsp", target_abi = "eabihf"), allow(unreachable_code))]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    #[cfg(all(feature = "dsp", target_arch = "arm", target_abi = "eabihf"))]
    return super::dsp::f16_to_f32(h);
    const SHIFTED_EXP: u32 = 0x7c00 << 13;
    let magic = f32::from_bits(113 << 23);
    let mut o = u32::from(h & 0x7fff) << 13;
    let exp = SHIFTED_EXP & o;
    o += (127 - 15) << 23;
    if exp == SHIFTED_EXP {
        o += (128 - 16) << 23; // Inf / NaN
    } else if exp == 0 {
        o += 1 << 23; // zero / subnormal: renormalise through an f32 subtraction
        o = (f32::from_bits(o) - magic).to_bits();
    }
    f32::from_bits(o | (u32::from(h & 0x8000) << 16))
}

#[cfg(not(all(feature = "dsp", target_arch = "arm", target_abi = "eabihf")))]
float_encoding! {
    /// f16 weights widened to f32; f32 activations and sums.
    F16, 2, |w: &[u8]| f16_bits_to_f32(u16::from_le_bytes(le(w)))
}

#[cfg(all(feature = "dsp", target_arch = "arm", target_abi = "eabihf"))]
float_encoding! {
    /// f16 weights widened to f32; f32 activations and sums (feature `dsp`
    /// on Cortex-M4F: the dot and the first-layer axpy by `asm!`).
    F16, 2, |w: &[u8]| f16_bits_to_f32(u16::from_le_bytes(le(w))),
    super::dsp::dot_f16, super::dsp::axpy_rows_f16::<B>
}

#[cfg(test)]
mod tests {
    #[test]
    fn widening_matches_half_for_every_value() {
        for h in 0..=u16::MAX {
            let want = half::f16::from_bits(h).to_f32();
            let got = super::f16_bits_to_f32(h);
            if want.is_nan() {
                assert!(got.is_nan(), "{h:#x}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{h:#x}");
            }
        }
    }
}
