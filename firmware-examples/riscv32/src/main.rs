//! Firmware example for RV32IMAC on QEMU `virt`: counts instructions with
//! `minstret` (exact under `-icount shift=0`) and runs the shared body.
#![no_std]
#![no_main]

use fw_common::{Board, EXIT_FAULT};
use riscv::register::{mcause, mepc, minstret, mtval};
use riscv_rt::entry;
use semihosting::{println, process::exit};

struct Virt;

impl Board for Virt {
    const TARGET: &'static str = "riscv32";
    const COUNTER: &'static str = "minstret";
    const INSTRUCTIONS_PER_TICK: u64 = 1;

    fn ticks(&mut self) -> u64 {
        minstret::read64()
    }
}

#[entry]
fn main() -> ! {
    fw_common::run(&mut Virt)
}

/// Any exception (illegal instruction, access fault, ...) ends the run.
#[export_name = "ExceptionHandler"]
fn exception_handler(_frame: &riscv_rt::TrapFrame) -> ! {
    println!(
        "FWERROR exception mcause={:#x} mepc={:#010x} mtval={:#x}",
        mcause::read().bits(),
        mepc::read(),
        mtval::read()
    );
    exit(EXIT_FAULT)
}

/// Any interrupt (none is enabled) ends the run.
#[export_name = "DefaultHandler"]
fn default_handler() -> ! {
    println!(
        "FWERROR unexpected interrupt mcause={:#x}",
        mcause::read().bits()
    );
    exit(EXIT_FAULT)
}
