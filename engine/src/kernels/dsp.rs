//! Cortex-M4 DSP-extension kernels (feature `dsp`, `target_arch = "arm"`):
//! the int8 dot and first-layer axpy through `SMLAD` (two 16 x 16 products
//! and an add in one instruction), and the f16 widening through the FPU's
//! `VCVTB.F32.F16`.
//!
//! The only `unsafe` in the engine: six `asm!` wrappers below, each one
//! instruction (or a move and a conversion) on registers only: no memory,
//! no stack, no control flow. Every load is safe Rust (`from_le_bytes` on a
//! checked slice), so the kernels keep the safe kernels' truncation rules
//! and never panic. They return exactly what the safe kernels return: i32
//! sums wrap modulo 2^32 in any order, and `SMLAD` wraps the same way (it
//! only sets the sticky Q flag, which nothing reads). The firmware's
//! self-test (`firmware-examples`, feature `dsp`) checks each one bit for
//! bit against the safe kernel on a few hundred random cases under QEMU.
//!
//! Lanes are read in [`super::int8::lane_slot`] order, the identity: the
//! pairs `(x0, x1)` and `(x2, x3)` of one activation word meet the weight
//! bytes `(w0, w1)` and `(w2, w3)`, rebuilt from `SXTB16`'s `(w0, w2)` and
//! `(w1, w3)` by one `PKHBT` and one `PKHTB`.
//!
//! Needs the DSP extension (ARMv7E-M: Cortex-M4, M7, M33 with DSP) and, for
//! [`f16_to_f32`], a single-precision FPU with half conversion (the `eabihf`
//! targets on those cores).

use core::arch::asm;

use super::common;
use crate::layout::le;

/// `SXTB16`: bytes 0 and 2 of `x`, sign-extended, as the two halfwords.
#[inline(always)]
fn sxtb16(x: u32) -> u32 {
    let r;
    // SAFETY: one register-to-register instruction of ARMv7E-M; touches no
    // memory, stack or flags.
    unsafe { asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags)) };
    r
}

/// `SXTB16 ..., ROR #8`: bytes 1 and 3 of `x`, sign-extended, as the two halfwords.
#[inline(always)]
fn sxtb16_ror8(x: u32) -> u32 {
    let r;
    // SAFETY: one register-to-register instruction of ARMv7E-M; touches no
    // memory, stack or flags.
    unsafe { asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags)) };
    r
}

/// `PKHBT`: the bottom halfword of `a` below the bottom halfword of `b`.
#[inline(always)]
fn pkhbt(a: u32, b: u32) -> u32 {
    let r;
    // SAFETY: one register-to-register instruction of ARMv7E-M; touches no
    // memory, stack or flags.
    unsafe { asm!("pkhbt {r}, {a}, {b}, lsl #16", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack, preserves_flags)) };
    r
}

/// `PKHTB`: the top halfword of `b` below the top halfword of `a`.
#[inline(always)]
fn pkhtb(a: u32, b: u32) -> u32 {
    let r;
    // SAFETY: one register-to-register instruction of ARMv7E-M; touches no
    // memory, stack or flags.
    unsafe { asm!("pkhtb {r}, {a}, {b}, asr #16", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack, preserves_flags)) };
    r
}

/// `SMLAD`: `acc + a.lo * b.lo + a.hi * b.hi` (signed halfwords), wrapping.
#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r;
    // SAFETY: one register-to-register instruction of ARMv7E-M; touches no
    // memory or stack. It may set the sticky Q flag (hence no
    // `preserves_flags`); the result register is the wrapped sum either way.
    unsafe { asm!("smlad {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack)) };
    r
}

/// IEEE half bits to f32 by `VCVTB.F32.F16`: the same value as
/// [`super::f16::f16_bits_to_f32`] for every non-NaN input (checked for all
/// 65 536 by the firmware self-test), a NaN for every NaN.
#[cfg(target_abi = "eabihf")]
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    let r: u32;
    // SAFETY: register moves and one conversion; touches no memory or
    // stack. Rust offers no `sreg` operand without double precision (M4F
    // has none), so `s0` is borrowed: saved in `t` and restored before the
    // block ends. With FPSCR as the runtime left it (IEEE halves, no
    // default-NaN), the conversion is exact for every finite half.
    unsafe {
        asm!(
            "vmov {t}, s0",
            "vmov s0, {h}",
            "vcvtb.f32.f16 s0, s0",
            "vmov {r}, s0",
            "vmov s0, {t}",
            h = in(reg) u32::from(h),
            t = out(reg) _,
            r = lateout(reg) r,
            options(pure, nomem, nostack, preserves_flags),
        )
    };
    f32::from_bits(r)
}

/// Four weight bytes `(w0, w1, w2, w3)` sign-extended as the halfword pairs
/// `((w0, w1), (w2, w3))`.
#[inline(always)]
fn pairs(w: u32) -> (u32, u32) {
    let (even, odd) = (sxtb16(w), sxtb16_ror8(w));
    (pkhbt(even, odd), pkhtb(odd, even))
}

/// `sum_i x[i] * w[i]` over int8 weights and i16 lanes, as
/// [`super::int8::dot_i8_pairs`] computes it: 8 MACs per loop turn in 4
/// `SMLAD`s, lanes read as words (lane by lane when `x` is not word-aligned).
pub fn dot_i8(x: &[i16], w: &[u8]) -> i32 {
    let (x, w) = common(x, w, 1);
    let n8 = x.len() & !7;
    let (xh, xr) = x.split_at(n8);
    let (wh, wr) = w.split_at(n8.min(w.len()));
    let (mut a, mut b) = (0i32, 0i32);
    match bytemuck::try_cast_slice::<i16, u32>(xh) {
        Ok(xp) => {
            for (xs, ws) in xp.chunks_exact(4).zip(wh.chunks_exact(8)) {
                if let &[x01, x23, x45, x67] = xs {
                    let w = u64::from_le_bytes(le(ws));
                    let ((w01, w23), (w45, w67)) = (pairs(w as u32), pairs((w >> 32) as u32));
                    a = smlad(x01, w01, a);
                    b = smlad(x23, w23, b);
                    a = smlad(x45, w45, a);
                    b = smlad(x67, w67, b);
                }
            }
        }
        Err(_) => a = super::dot::<super::int8::I8>(xh, wh),
    }
    a.wrapping_add(b).wrapping_add(super::dot::<super::int8::I8>(xr, wr))
}

/// `out[o] += sum_k c_k * row_k[o]`, as [`super::axpy_rows`] computes it:
/// four outputs in registers, rows two at a time, one `SMLAD` per output per
/// row pair (`(c_k, c_k+1) . (row_k[o], row_k+1[o])`).
pub fn axpy_rows_i8(out: &mut [i32], rows: &[(&[u8], i16)]) {
    // Four bytes of `row` from `start`, if the row holds them.
    let word = |row: &[u8], start: usize| row.get(start..start.checked_add(4)?).map(|b| u32::from_le_bytes(le(b)));
    let mut blocks = out.chunks_exact_mut(4);
    let mut start = 0usize;
    for blk in &mut blocks {
        if let Ok(blk) = <&mut [i32; 4]>::try_from(blk) {
            let [mut a0, mut a1, mut a2, mut a3] = *blk;
            let mut two = rows.chunks_exact(2);
            for pair in &mut two {
                let &[(r0, c0), (r1, c1)] = pair else { continue };
                let c = pkhbt(c0 as u16 as u32, c1 as u16 as u32);
                let (w0, w1) = match (word(r0, start), word(r1, start)) {
                    (Some(w0), Some(w1)) => (w0, w1),
                    // A short row adds nothing: the other row alone.
                    (Some(w0), None) => (w0, 0),
                    (None, Some(w1)) => (0, w1),
                    (None, None) => continue,
                };
                let (e0, o0, e1, o1) = (sxtb16(w0), sxtb16_ror8(w0), sxtb16(w1), sxtb16_ror8(w1));
                a0 = smlad(c, pkhbt(e0, e1), a0);
                a1 = smlad(c, pkhbt(o0, o1), a1);
                a2 = smlad(c, pkhtb(e1, e0), a2);
                a3 = smlad(c, pkhtb(o1, o0), a3);
            }
            let mut a = [a0, a1, a2, a3];
            for &(r, c) in two.remainder() {
                if let Some(w) = r.get(start..start.wrapping_add(4)) {
                    super::axpy::<super::int8::I8>(&mut a, c, w);
                }
            }
            *blk = a;
        }
        start = start.wrapping_add(4);
    }
    let tail = blocks.into_remainder();
    if !tail.is_empty() {
        for &(row, c) in rows {
            super::axpy::<super::int8::I8>(tail, c, row.get(start..).unwrap_or(&[]));
        }
    }
}
