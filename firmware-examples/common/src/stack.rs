//! Stack high-water mark by painting: fill the unused stack below the
//! caller's frame with a pattern, run, then find the deepest word that
//! changed. Bounded to `PAINT_BYTES` and to the end of the static data
//! (`__sheap`, which cortex-m-rt and riscv-rt both define).

const PATTERN: u32 = 0xDEAD_BEEF;
/// How far below the caller's frame to paint (well above any use seen).
const PAINT_BYTES: usize = 32 * 1024;
/// Left unpainted directly below the caller, for `paint`'s own frame.
const GUARD_BYTES: usize = 256;

extern "C" {
    static __sheap: u32;
}

/// Lowest painted address and the top of the painted range.
#[derive(Clone, Copy)]
pub struct Painted {
    low: usize,
    high: usize,
}

/// Paints `[base - PAINT_BYTES, base - GUARD_BYTES)`, clipped at the end of statics.
#[inline(never)]
pub fn paint(base: usize) -> Painted {
    // Only the linker symbol's address is taken (safe since Rust 1.82).
    let statics_end = core::ptr::addr_of!(__sheap) as usize;
    let high = (base - GUARD_BYTES) & !3;
    let low = base.saturating_sub(PAINT_BYTES).max(statics_end + 4) & !3;
    let mut p = low;
    while p < high {
        // SAFETY: [low, high) is RAM between the statics and this frame,
        // which nothing else uses (single thread, no heap).
        unsafe { core::ptr::write_volatile(p as *mut u32, PATTERN) };
        p += 4;
    }
    Painted { low, high }
}

/// Bytes of stack used below `base` since `paint`; `PAINT_BYTES` or more if
/// the whole painted range was overwritten.
#[inline(never)]
pub fn high_water(base: usize, painted: Painted) -> usize {
    let mut p = painted.low;
    while p < painted.high {
        // SAFETY: same range `paint` wrote.
        if unsafe { core::ptr::read_volatile(p as *const u32) } != PATTERN {
            break;
        }
        p += 4;
    }
    if p >= painted.high {
        GUARD_BYTES // nothing below the guard was touched
    } else {
        base - p
    }
}
