//! Firmware example for Cortex-M4F on QEMU `mps2-an386`: counts
//! instructions with SysTick (QEMU `-icount shift=0`: one tick per 40
//! instructions, checked at start) and runs the shared body.
#![no_std]
#![no_main]

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::{entry, exception, ExceptionFrame};
use fw_common::{Board, EXIT_FAULT, EXIT_SETUP};
use semihosting::{println, process::exit};

/// SysTick reload: the full 24 bits (2^24 ticks = 671 M instructions).
const RELOAD: u32 = 0x00FF_FFFF;
/// mps2-an386's 25 MHz SysTick under `-icount shift=0` (1 ns per instruction).
const INSTRUCTIONS_PER_TICK: u64 = 40;

/// SysTick extended to 64 bits by polling: a reading above the previous one
/// means the counter reloaded once in between, so two readings must be less
/// than 2^24 ticks apart (true of every interval measured here).
struct Mps2An386 {
    /// Ticks counted by the reloads seen so far.
    reloads: u64,
    /// Previous counter reading.
    last: u32,
}

impl Mps2An386 {
    /// Starts SysTick from the core clock and waits for its first reload.
    fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.disable_interrupt();
        syst.enable_counter();
        // Cleared to 0 above; the next tick loads RELOAD.
        while SYST::get_current() == 0 {}
        Mps2An386 {
            reloads: 0,
            last: SYST::get_current(),
        }
    }
}

impl Board for Mps2An386 {
    const TARGET: &'static str = "cortex-m4";
    const COUNTER: &'static str = "systick";
    const INSTRUCTIONS_PER_TICK: u64 = INSTRUCTIONS_PER_TICK;

    fn ticks(&mut self) -> u64 {
        let current = SYST::get_current();
        if current > self.last {
            self.reloads += u64::from(RELOAD) + 1;
        }
        self.last = current;
        self.reloads + u64::from(RELOAD - current)
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
    let mut board = Mps2An386::start(cp.SYST);
    check_tick_rate(&mut board);
    fw_common::run(&mut board)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    println!(
        "FWERROR hard fault at pc={:#010x} lr={:#010x}",
        frame.pc(),
        frame.lr()
    );
    exit(EXIT_FAULT)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    println!("FWERROR unexpected exception or interrupt {irqn}");
    exit(EXIT_FAULT)
}
