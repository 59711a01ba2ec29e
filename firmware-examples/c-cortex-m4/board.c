#include "board.h"

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_puts(const char *s) { semihost(0x04 /* SYS_WRITE0 */, s); }

void semihost_exit(int code)
{
    /* SYS_EXIT_EXTENDED: ADP_Stopped_ApplicationExit with the status. */
    const uint32_t block[2] = {0x20026, (uint32_t)code};
    semihost(0x20, block);
    for (;;) {
    }
}

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define RELOAD 0x00FFFFFFu

/* SysTick extended to 64 bits by polling (readings < 2^24 ticks apart). */
static uint64_t reloads;
static uint32_t last;

void ticks_start(void)
{
    SYST_RVR = RELOAD;
    SYST_CVR = 0;
    SYST_CSR = (1u << 2) | 1u; /* core clock, no interrupt, enabled */
    while (SYST_CVR == 0) {
    }
    last = SYST_CVR;
}

uint64_t ticks(void)
{
    uint32_t current = SYST_CVR;
    if (current > last) reloads += (uint64_t)RELOAD + 1;
    last = current;
    return reloads + (RELOAD - current);
}
