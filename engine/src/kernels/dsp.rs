//! Cortex-M4 DSP-extension kernels (feature `dsp`, `target_arch = "arm"`):
//! the int8 dot through `SMLAD` (two 16 x 16 products and an add in one
//! instruction), the two-row first-layer axpy through `SMLABB`/`SMLABT`/
//! `SMLATB`/`SMLATT`, and the f16 widening through the FPU's `VCVTB.F32.F16`.
//!
//! The only `unsafe` in the engine: three `asm!` blocks, each behind a safe
//! function that checks every length first, with a `SAFETY` comment on what
//! it reads and writes. The two int8 loops return exactly what the safe
//! kernels return: i32 sums wrap modulo 2^32 in any order, and the DSP
//! multiply-adds wrap the same way (they only set the sticky Q flag, which
//! nothing reads). The firmware's self-test (`firmware-examples`, feature
//! `dsp`) checks every kernel this feature swaps in bit for bit against the
//! plain safe kernel on a few hundred random cases under QEMU, and the f16
//! widening against `half` on all 65 536 inputs.
//!
//! Lanes hold activation `i` in lane `i`: the
//! pairs `(x0, x1)` and `(x2, x3)` of one activation word meet the weight
//! bytes `(w0, w1)` and `(w2, w3)`, rebuilt from `SXTB16`'s `(w0, w2)` and
//! `(w1, w3)` by one `PKHBT` and one `PKHTB`. Pairing the lanes as
//! `(x0, x2)`, `(x1, x3)` instead would save those two (0.5 per MAC).
//!
//! Needs the DSP extension (ARMv7E-M: Cortex-M4, M7, M33 with DSP) and, for
//! [`f16_to_f32`], a single-precision FPU with half conversion (the `eabihf`
//! targets on those cores).

#![allow(unsafe_code)]

use core::arch::asm;

use super::int8::I8;

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
    // block ends (an interrupt stacks and restores it too). The conversion
    // may raise FPSCR's invalid flag on a signalling NaN (hence no
    // `preserves_flags`). With FPSCR as the runtime left it (IEEE halves,
    // no default-NaN), it is exact for every finite half.
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
            options(pure, nomem, nostack),
        )
    };
    f32::from_bits(r)
}

/// [`super::dot`] for f16 weights, bit for bit: the same four sums (element
/// `i` of each group of four into sum `i % 4`, a product then an add, both
/// rounded as Rust's `acc + x * w`), `(s0 + s1) + (s2 + s3)`, then the tail.
/// The groups run in [`dot_f16_groups`].
#[cfg(target_abi = "eabihf")]
pub fn dot_f16(x: &[f32], w: &[u8]) -> f32 {
    let n = x.len().min(w.len() / 2);
    let groups = n / 4;
    let (x, w) = (x.get(..n).unwrap_or(&[]), w.get(..n * 2).unwrap_or(&[]));
    let ((_, xr), (_, wr)) = (x.split_at(groups * 4), w.split_at(groups * 8));
    let mut tail = 0.0f32;
    for (&xv, wv) in xr.iter().zip(wr.chunks_exact(2)) {
        tail = <super::f16::F16 as super::Encoding>::mac(tail, xv, wv);
    }
    dot_f16_groups(x, w, groups) + tail
}

/// `(s0 + s1) + (s2 + s3)` of [`dot_f16`]'s four sums over `groups` groups
/// of four (`groups * 4 <= x.len()`, `groups * 8 <= w.len()`): per group one
/// `VLDMIA` of four activations, two `LDR` and two `VMOV` of four halves,
/// four `VCVTB`/`VCVTT`, four `VMUL` and four `VADD` (4.5 instructions per
/// MAC with the loop).
#[cfg(target_abi = "eabihf")]
fn dot_f16_groups(x: &[f32], w: &[u8], groups: usize) -> f32 {
    if groups == 0 || groups * 4 > x.len() || groups * 8 > w.len() {
        return 0.0;
    }
    let r: u32;
    // SAFETY: reads `groups` times 16 bytes of `x` and 8 bytes of `w`,
    // within both slices by the check above; `x` is word-aligned (a
    // `&[f32]`), as `VLDMIA` needs; `LDR` from `w` may be unaligned, which
    // ARMv7-M allows. Rust has no `sreg` operand on single-precision-only
    // FPUs, so `s0-s11` are pushed and popped around the block (stack use,
    // hence no `nostack`; 48 bytes). Writes only its register operands and
    // the flags (FPSCR's cumulative flags too). With FPSCR as the runtime
    // left it (round to nearest, no flush to zero, IEEE halves) each
    // `VMUL`/`VADD` rounds as Rust's f32 `*` and `+`.
    unsafe {
        asm!(
            "vpush {{s0-s11}}",
            "vmov s0, {z}",
            "vmov s1, {z}",
            "vmov s2, {z}",
            "vmov s3, {z}",
            "2:",
            "vldmia {xp}!, {{s4-s7}}",
            "ldr {h}, [{wp}], #4",
            "vmov s8, {h}",
            "ldr {h}, [{wp}], #4",
            "vmov s10, {h}",
            "vcvtb.f32.f16 s9, s8",
            "vcvtt.f32.f16 s8, s8",
            "vcvtb.f32.f16 s11, s10",
            "vcvtt.f32.f16 s10, s10",
            "vmul.f32 s4, s4, s9",
            "vmul.f32 s5, s5, s8",
            "vmul.f32 s6, s6, s11",
            "vmul.f32 s7, s7, s10",
            "vadd.f32 s0, s0, s4",
            "vadd.f32 s1, s1, s5",
            "vadd.f32 s2, s2, s6",
            "vadd.f32 s3, s3, s7",
            "subs {n}, {n}, #1",
            "bne 2b",
            "vadd.f32 s0, s0, s1",
            "vadd.f32 s2, s2, s3",
            "vadd.f32 s0, s0, s2",
            "vmov {r}, s0",
            "vpop {{s0-s11}}",
            xp = inout(reg) x.as_ptr() => _,
            wp = inout(reg) w.as_ptr() => _,
            n = inout(reg) groups => _,
            z = in(reg) 0u32,
            h = out(reg) _,
            r = lateout(reg) r,
        )
    };
    f32::from_bits(r)
}

/// Rows that cover one block of 16 outputs, for [`axpy16_f16`]: each a
/// pointer to the block's first weight and the coefficient's bits.
#[cfg(target_abi = "eabihf")]
#[repr(C)]
#[derive(Clone, Copy)]
struct RowAt(*const u8, u32);

/// [`super::rows_safe`] for f16 weights with blocks of 16 (else it runs
/// `rows_safe`), bit for bit: per block, the rows that cover it whole (as
/// `rows_safe` counts them) go to [`axpy16_f16`], which keeps the 16 sums in
/// registers over all of them; the tail past the last block as `rows_safe`.
#[cfg(target_abi = "eabihf")]
pub fn axpy_rows_f16<const B: usize>(out: &mut [f32], rows: &[(&[u8], f32)]) {
    use super::f16::F16;
    const MAX: usize = 32;
    if B != 16 || rows.len() > MAX {
        return super::rows_safe::<F16, B>(out, rows);
    }
    let whole = out.len() / 16 * 16;
    let (head, tail) = out.split_at_mut(whole);
    let mut at = [RowAt(core::ptr::null(), 0); MAX];
    for (b, blk) in head.chunks_exact_mut(16).enumerate() {
        let start = b * 32;
        let mut k = 0;
        for &(row, c) in rows {
            if let (Some(w), Some(slot)) = (row.get(start..start + 32), at.get_mut(k)) {
                *slot = RowAt(w.as_ptr(), c.to_bits());
                k += 1;
            }
        }
        if let (Ok(blk), Some(at)) = (<&mut [f32; 16]>::try_from(blk), at.get(..k)) {
            axpy16_f16(blk, at);
        }
    }
    if !tail.is_empty() {
        for &(row, c) in rows {
            super::axpy::<F16>(tail, c, row.get(whole * 2..).unwrap_or(&[]));
        }
    }
}

/// [`axpy16_f16`]'s four outputs `$a..$d` for one row: four halves (two `LDR`,
/// two `VMOV`) widened into s17-s20, times the coefficient in s16, added.
macro_rules! f16_group {
    ($a:literal, $b:literal, $c:literal, $d:literal) => {
        concat!(
            "ldr {h}, [{wp}], #4\n",
            "vmov s17, {h}\n",
            "ldr {h}, [{wp}], #4\n",
            "vmov s19, {h}\n",
            "vcvtb.f32.f16 s18, s17\n",
            "vcvtt.f32.f16 s17, s17\n",
            "vcvtb.f32.f16 s20, s19\n",
            "vcvtt.f32.f16 s19, s19\n",
            "vmul.f32 s18, s18, s16\n",
            "vmul.f32 s17, s17, s16\n",
            "vmul.f32 s20, s20, s16\n",
            "vmul.f32 s19, s19, s16\n",
            "vadd.f32 ",
            $a,
            ", ",
            $a,
            ", s18\n",
            "vadd.f32 ",
            $b,
            ", ",
            $b,
            ", s17\n",
            "vadd.f32 ",
            $c,
            ", ",
            $c,
            ", s20\n",
            "vadd.f32 ",
            $d,
            ", ",
            $d,
            ", s19",
        )
    };
}

/// `acc[o] += c_k * w_k[o]` for `o < 16`, rows in order, each product then
/// sum rounded as Rust's `acc + c * w`: per row its pointer and
/// coefficient (`LDR`, `VLDR`), eight `LDR`/`VMOV` pairs, sixteen
/// `VCVTB`/`VCVTT`, `VMUL` and `VADD` (4.1 instructions per MAC with the loop).
#[cfg(target_abi = "eabihf")]
fn axpy16_f16(acc: &mut [f32; 16], rows: &[RowAt]) {
    if rows.is_empty() {
        return;
    }
    // SAFETY: each `RowAt` points at 32 readable bytes (16 halves) inside
    // the row slice it was cut from (checked by `get(start..start + 32)`),
    // borrowed for this call; `LDR` from them may be unaligned, which ARMv7-M
    // allows. `rows` is read whole, two words per row (`VLDR` needs the
    // word alignment `RowAt` has); `acc` is a unique, word-aligned borrow of 16
    // f32, loaded and stored whole by `VLDMIA`/`VSTMIA`. `s0-s20` are pushed
    // and popped around the block (no `sreg` operand: see `dot_f16_groups`;
    // 84 bytes of stack). Writes only its register operands, `acc` and the
    // flags; rounding as in `dot_f16_groups`.
    unsafe {
        asm!(
            "vpush {{s0-s20}}",
            "vldmia {ap}, {{s0-s15}}",
            "2:",
            "vldr s16, [{rp}, #4]",
            "ldr {wp}, [{rp}], #8",
            f16_group!("s0", "s1", "s2", "s3"),
            f16_group!("s4", "s5", "s6", "s7"),
            f16_group!("s8", "s9", "s10", "s11"),
            f16_group!("s12", "s13", "s14", "s15"),
            "subs {n}, {n}, #1",
            "bne 2b",
            "vstmia {ap}, {{s0-s15}}",
            "vpop {{s0-s20}}",
            ap = in(reg) acc.as_mut_ptr(),
            rp = inout(reg) rows.as_ptr() => _,
            n = inout(reg) rows.len() => _,
            wp = out(reg) _,
            h = out(reg) _,
        )
    };
}

/// `sum_i x[i] * w[i]` over the lane pairs `x` (two i16 per word, low
/// first) and the weight bytes `w`, `min(x.len() / 2, w.len() / 4)` groups
/// of four: per group one `LDRD`, one `LDR`, two `SXTB16`, one `PKHBT`, one
/// `PKHTB` and two `SMLAD` (2.5 instructions per MAC with the loop).
pub fn dot_i8_words(x: &[u32], w: &[u8]) -> i32 {
    let groups = (x.len() / 2).min(w.len() / 4);
    if groups == 0 {
        return 0;
    }
    let acc: i32;
    // SAFETY: reads `groups` times 8 bytes from `x` and 4 bytes from `w`,
    // both within their slices by the `min` above; `x` is word-aligned (a
    // `&[u32]`), as `LDRD` needs; `LDR` from `w` may be unaligned, which
    // ARMv7-M allows (CCR.UNALIGN_TRP is clear, as Rust's own codegen
    // for these targets assumes). Writes only its register operands (the
    // pointers and count are copies) and the flags; no stack.
    unsafe {
        asm!(
            "2:",
            "ldrd {x01}, {x23}, [{xp}], #8",
            "ldr {wv}, [{wp}], #4",
            "sxtb16 {e}, {wv}",
            "sxtb16 {o}, {wv}, ror #8",
            "pkhbt {wv}, {e}, {o}, lsl #16",
            "pkhtb {o}, {o}, {e}, asr #16",
            "smlad {acc}, {x01}, {wv}, {acc}",
            "smlad {acc}, {x23}, {o}, {acc}",
            "subs {n}, {n}, #1",
            "bne 2b",
            xp = inout(reg) x.as_ptr() => _,
            wp = inout(reg) w.as_ptr() => _,
            n = inout(reg) groups => _,
            acc = inout(reg) 0i32 => acc,
            x01 = out(reg) _,
            x23 = out(reg) _,
            wv = out(reg) _,
            e = out(reg) _,
            o = out(reg) _,
            options(readonly, nostack),
        )
    };
    acc
}

/// `out[o] += sum_k c_k * row_k[o]`, bit-identical to
/// [`super::rows_safe`] with blocks of `B` (a multiple of 4, else it runs
/// that; i32 sums wrap, so the order is free): rows two at a time, each
/// pair swept over the outputs by [`axpy2_i8`], the rest (a row's blocks
/// past the other's end, a lone last row, the tail past the last whole
/// block) by [`super::axpy`].
pub fn axpy_rows_i8<const B: usize>(out: &mut [i32], rows: &[(&[u8], i16)]) {
    if B == 0 || B % 4 != 0 {
        return super::rows_safe::<I8, B>(out, rows);
    }
    let whole = out.len() / B * B;
    let (head, tail) = out.split_at_mut(whole);
    // The part of a row in `head`: its whole blocks of `B`, as `rows_safe` counts them.
    let part = |r: &[u8]| r.len().min(whole) / B * B;
    let mut two = rows.chunks_exact(2);
    for pair in &mut two {
        let &[(r0, c0), (r1, c1)] = pair else {
            continue;
        };
        let (r0, r1) = (
            r0.get(..part(r0)).unwrap_or(&[]),
            r1.get(..part(r1)).unwrap_or(&[]),
        );
        axpy2_i8(
            head,
            r0,
            r1,
            u32::from(c0 as u16) | (u32::from(c1 as u16) << 16),
        );
        let both = r0.len().min(r1.len());
        for (r, ck) in [(r0, c0), (r1, c1)] {
            let rest = r.get(both..).unwrap_or(&[]);
            super::axpy::<I8>(head.get_mut(both..).unwrap_or(&mut []), ck, rest);
        }
    }
    for &(r, ck) in two.remainder() {
        super::axpy::<I8>(head, ck, r.get(..part(r)).unwrap_or(&[]));
    }
    for &(r, ck) in rows
        .iter()
        .take(if tail.is_empty() { 0 } else { rows.len() })
    {
        super::axpy::<I8>(tail, ck, r.get(whole..).unwrap_or(&[]));
    }
}

/// `out[o] += c.lo * r0[o] + c.hi * r1[o]` over the first
/// `min(out.len(), r0.len(), r1.len()) / 4` blocks of four outputs: per block
/// two `LDR`, four `SXTB16`, eight `SMLAxy` (the halfword-select multiply-adds)
/// and the outputs loaded and stored as two `LDRD`/`STRD` pairs (2.5
/// instructions per MAC with the loop).
fn axpy2_i8(out: &mut [i32], r0: &[u8], r1: &[u8], c: u32) {
    let quads = out.len().min(r0.len()).min(r1.len()) / 4;
    if quads == 0 {
        return;
    }
    // SAFETY: reads `quads` times 4 bytes from each of `r0` and `r1` and
    // reads and writes `quads` times 16 bytes of `out`, all within their
    // slices by the `min` above; `out` is word-aligned (a `&mut [i32]`), as
    // `LDRD`/`STRD` need; `LDR` from the rows may be unaligned, which ARMv7-M
    // allows (as Rust's own codegen for these targets assumes). `out` is a
    // unique borrow, so nothing else sees the writes. Writes only its
    // register operands (the pointers and count are copies) and the flags
    // (and Q); no stack.
    unsafe {
        asm!(
            "2:",
            "ldr {w0}, [{p0}], #4",
            "ldr {t}, [{p1}], #4",
            "ldrd {a0}, {a1}, [{op}]",
            "sxtb16 {e}, {w0}",
            "sxtb16 {w0}, {w0}, ror #8",
            "sxtb16 {w1}, {t}, ror #8",
            "sxtb16 {t}, {t}",
            "smlabb {a0}, {e}, {c}, {a0}",
            "smlabb {a1}, {w0}, {c}, {a1}",
            "smlabt {a0}, {t}, {c}, {a0}",
            "smlabt {a1}, {w1}, {c}, {a1}",
            "strd {a0}, {a1}, [{op}], #8",
            "ldrd {a0}, {a1}, [{op}]",
            "smlatb {a0}, {e}, {c}, {a0}",
            "smlatb {a1}, {w0}, {c}, {a1}",
            "smlatt {a0}, {t}, {c}, {a0}",
            "smlatt {a1}, {w1}, {c}, {a1}",
            "strd {a0}, {a1}, [{op}], #8",
            "subs {n}, {n}, #1",
            "bne 2b",
            op = inout(reg) out.as_mut_ptr() => _,
            p0 = inout(reg) r0.as_ptr() => _,
            p1 = inout(reg) r1.as_ptr() => _,
            n = inout(reg) quads => _,
            c = in(reg) c,
            w0 = out(reg) _,
            w1 = out(reg) _,
            t = out(reg) _,
            e = out(reg) _,
            a0 = out(reg) _,
            a1 = out(reg) _,
            options(nostack),
        )
    };
}

/// [`super::int8::dots`] (`out[o] = x . W[o]` for the rows of `cols` weights
/// in `w`, an `out` past the rows left alone), bit for bit (i32 sums wrap,
/// so the order is free): rows two at a time by [`dot2_i8`] over the lanes'
/// whole groups of four, a lone last row by [`dot_i8_words`], the lanes past
/// the groups by [`super::dot`]. Lanes not word-aligned (never: the scratch
/// is) take [`super::dot`] row by row.
pub fn dots_i8(x: &[i16], w: &[u8], cols: usize, out: &mut [i32]) {
    let n = x.len().min(cols);
    let (x, groups) = (x.get(..n).unwrap_or(&[]), n / 4);
    let (head, tail) = x.split_at(groups * 4);
    let mut rows = w.chunks_exact(cols.max(1));
    let Ok(words) = bytemuck::try_cast_slice::<i16, u32>(head) else {
        for (v, r) in out.iter_mut().zip(rows) {
            *v = super::dot::<I8>(x, r);
        }
        return;
    };
    let rest = |r: &[u8]| super::dot::<I8>(tail, r.get(groups * 4..).unwrap_or(&[]));
    for pair in out.chunks_mut(2) {
        match (pair, rows.next(), rows.next()) {
            ([v0, v1], Some(r0), Some(r1)) => {
                let [s0, s1] = dot2_i8(words, r0, r1);
                *v0 = s0.wrapping_add(rest(r0));
                *v1 = s1.wrapping_add(rest(r1));
            }
            (pair, r0, r1) => {
                for (v, r) in pair.iter_mut().zip(r0.into_iter().chain(r1)) {
                    *v = dot_i8_words(words, r).wrapping_add(rest(r));
                }
            }
        }
    }
}

/// `[r0 . x, r1 . x]` over the lane pairs `x` (two i16 per word, low first)
/// in groups of four lanes, `min(x.len() / 2, r0.len() / 4, r1.len() / 4)`
/// groups: per group one `LDRD` of four lanes, one `PKHTB` and one `PKHBT`
/// regrouping them as `(x0, x2)` and `(x1, x3)` (the pairs `SXTB16` gives
/// the weights in), then per row one `LDR`, two `SXTB16` and two `SMLAD`
/// (15 instructions per 8 MACs with the loop).
fn dot2_i8(x: &[u32], r0: &[u8], r1: &[u8]) -> [i32; 2] {
    let groups = (x.len() / 2).min(r0.len() / 4).min(r1.len() / 4);
    if groups == 0 {
        return [0, 0];
    }
    let (s0, s1): (i32, i32);
    // SAFETY: reads `groups` times 8 bytes from `x` and 4 bytes from each of
    // `r0` and `r1`, all within their slices by the `min` above; `x` is
    // word-aligned (a `&[u32]`), as `LDRD` needs; `LDR` from the rows may be
    // unaligned, which ARMv7-M allows (as Rust's own codegen for these
    // targets assumes). Writes only its register operands (the pointers and
    // count are copies) and the flags (and Q); no stack.
    unsafe {
        asm!(
            "2:",
            "ldrd {x02}, {x13}, [{xp}], #8",
            "pkhtb {t}, {x13}, {x02}, asr #16",
            "pkhbt {x02}, {x02}, {x13}, lsl #16",
            "ldr {w}, [{p0}], #4",
            "sxtb16 {x13}, {w}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {s0}, {x02}, {x13}, {s0}",
            "smlad {s0}, {t}, {w}, {s0}",
            "ldr {w}, [{p1}], #4",
            "sxtb16 {x13}, {w}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {s1}, {x02}, {x13}, {s1}",
            "smlad {s1}, {t}, {w}, {s1}",
            "subs {n}, {n}, #1",
            "bne 2b",
            xp = inout(reg) x.as_ptr() => _,
            p0 = inout(reg) r0.as_ptr() => _,
            p1 = inout(reg) r1.as_ptr() => _,
            n = inout(reg) groups => _,
            s0 = inout(reg) 0i32 => s0,
            s1 = inout(reg) 0i32 => s1,
            x02 = out(reg) _,
            x13 = out(reg) _,
            t = out(reg) _,
            w = out(reg) _,
            options(readonly, nostack),
        )
    };
    [s0, s1]
}
