//! Firmware example for Cortex-M4F on QEMU `mps2-an386`: counts
//! instructions with SysTick (QEMU `-icount shift=0`: one tick per 40
//! instructions, checked at start) and runs the shared body.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::{entry, exception, ExceptionFrame};
use fw_common::{Board, EXIT_FAULT, EXIT_SETUP};
use semihosting::{println, process::exit};

/// SysTick reload: the full 24 bits.
const RELOAD: u32 = 0x00FF_FFFF;
/// mps2-an386's 25 MHz SysTick under `-icount shift=0` (1 ns per instruction).
const INSTRUCTIONS_PER_TICK: u64 = 40;
/// Times SysTick wrapped (counted by its exception), extending it to 64 bits.
static WRAPS: AtomicU32 = AtomicU32::new(0);

struct Mps2An386;

impl Board for Mps2An386 {
    const TARGET: &'static str = "cortex-m4";
    const COUNTER: &'static str = "systick";
    const INSTRUCTIONS_PER_TICK: u64 = INSTRUCTIONS_PER_TICK;

    fn ticks(&mut self) -> u64 {
        loop {
            let wraps = WRAPS.load(Ordering::Acquire);
            let current = SYST::get_current();
            if WRAPS.load(Ordering::Acquire) == wraps {
                return u64::from(wraps) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current);
            }
        }
    }
}

/// Checks that SysTick ticks once per 40 instructions, i.e. that QEMU runs
/// with `-icount shift=0`: a loop of `2 * ITER` instructions is timed.
fn check_tick_rate(board: &mut Mps2An386) {
    const ITER: u32 = 500_000;
    let start = board.ticks();
    // SAFETY: a register-only countdown loop, exactly 2 instructions per turn.
    unsafe {
        core::arch::asm!("1:", "subs {n}, {n}, #1", "bne 1b", n = inout(reg) ITER => _, options(nomem, nostack));
    }
    let ticks = board.ticks() - start;
    let expected = 2 * u64::from(ITER) / INSTRUCTIONS_PER_TICK;
    if ticks.abs_diff(expected) > expected / 100 {
        println!(
            "FWERROR SysTick counted {ticks} ticks for {} instructions (expected {expected}): run QEMU with -icount shift=0",
            2 * ITER
        );
        exit(EXIT_SETUP);
    }
}

#[entry]
fn main() -> ! {
    let Some(cp) = cortex_m::Peripherals::take() else {
        println!("FWERROR core peripherals already taken");
        exit(EXIT_SETUP)
    };
    let mut syst = cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    let mut board = Mps2An386;
    check_tick_rate(&mut board);
    fw_common::run(&mut board)
}

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::AcqRel);
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    println!("FWERROR hard fault at pc={:#010x} lr={:#010x}", frame.pc(), frame.lr());
    exit(EXIT_FAULT)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    println!("FWERROR unexpected exception or interrupt {irqn}");
    exit(EXIT_FAULT)
}
