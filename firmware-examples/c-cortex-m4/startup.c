/* Start-up for QEMU mps2-an386 (Cortex-M4F), no C library: vector table,
 * .data/.bss set-up, FPU enable, and fault handlers that exit QEMU with
 * status 3 over semihosting (a fault never hangs the run). */
#include <stdint.h>
#include "board.h"

extern uint32_t _stack_top, _data_load, _data_start, _data_end, _bss_start, _bss_end;
int main(void);

void reset_handler(void)
{
    /* Full access to CP10/CP11 (the FPU) before any float instruction. */
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
    const uint32_t *src = &_data_load;
    for (uint32_t *dst = &_data_start; dst < &_data_end;) *dst++ = *src++;
    for (uint32_t *dst = &_bss_start; dst < &_bss_end;) *dst++ = 0;
    semihost_exit(main());
}

static void fault_handler(void)
{
    semihost_puts("FWERROR hard fault or unexpected exception\n");
    semihost_exit(EXIT_FAULT);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16 + 32])(void) = {
    [0] = (void (*)(void))&_stack_top,
    [1] = reset_handler,
    [2 ... 16 + 31] = fault_handler,
};
