/* Semihosting output and exit, and the SysTick instruction counter, on QEMU mps2-an386. */
#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>

/* Exit statuses, as the Rust firmware's (../common/src/lib.rs). */
#define EXIT_OK 0
#define EXIT_MISMATCH 1
#define EXIT_SETUP 2
#define EXIT_FAULT 3

void semihost_puts(const char *s);
__attribute__((noreturn)) void semihost_exit(int code);

/* SysTick at 25 MHz under QEMU -icount shift=0: one tick per 40 instructions. */
#define INSTRUCTIONS_PER_TICK 40u
void ticks_start(void);
uint64_t ticks(void);
#endif
