/* The C firmware example: what a C team writes against frameless.h.
 *
 * Loads the blob from flash (blob.S, .incbin), classifies the test nodes of
 * ../models (converted to C by rs2c.sh into data.h) into a static scratch
 * buffer, checks every class and logit bit for bit against the host
 * engine's, counts instructions per inference as the Rust firmware does
 * ((16 passes - 1 pass) / (15 x nodes), SysTick under -icount shift=0), and
 * prints one FWREPORT line over semihosting. Exit status as the Rust firmware. */
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "data.h"
#include "frameless.h"

extern const uint8_t frameless_blob[], frameless_blob_end[];

#define PASSES 16u
#define N_TEST (sizeof NODES / sizeof NODES[0])

/* Sized from the host's scratch_len for this model (data.h); checked below. */
static float scratch[HOST_SCRATCH_WORDS];
static frameless_model model;

/* A tiny line builder: no printf without a C library. */
static char line[512];
static size_t len;
static void put(const char *s)
{
    while (*s && len + 1 < sizeof line) line[len++] = *s++;
    line[len] = 0;
}
static void put_u64(uint64_t v)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && len + 1 < sizeof line) line[len++] = d[--n];
    line[len] = 0;
}
static void put_x100(uint64_t v) /* hundredths as "N.NN" */
{
    put_u64(v / 100);
    put(".");
    if (v % 100 < 10) put("0");
    put_u64(v % 100);
}
static void flush(void)
{
    put("\n");
    semihost_puts(line);
    len = 0;
}

__attribute__((noreturn)) static void fail(int code, const char *what, int32_t rc)
{
    put("FWERROR target=c-cortex-m4 precision=" PRECISION " ");
    put(what);
    if (rc) {
        put(": ");
        put(frameless_error_name(rc));
    }
    flush();
    semihost_exit(code);
}

static uint32_t bits(float f)
{
    union { float f; uint32_t u; } v = {.f = f};
    return v.u;
}

static int32_t predict(size_t i, frameless_prediction *p)
{
    uint32_t a = OFFSETS[i], b = OFFSETS[i + 1];
    return frameless_predict_sparse(&model, NODES[i], &INDICES[a], &VALUES[a], b - a,
                                    scratch, sizeof scratch, p);
}

/* SysTick must tick once per 40 instructions (QEMU -icount shift=0):
 * times a loop of exactly 2 * 500000 instructions. */
static void check_tick_rate(void)
{
    uint32_t n = 500000;
    uint64_t t0 = ticks();
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n));
    uint64_t got = ticks() - t0, want = 2u * 500000u / INSTRUCTIONS_PER_TICK;
    uint64_t diff = got > want ? got - want : want - got;
    if (diff > want / 100) fail(EXIT_SETUP, "SysTick rate is not 40 instructions/tick: run QEMU with -icount shift=0", 0);
}

int main(void)
{
    ticks_start();
    check_tick_rate();

    uint64_t t0 = ticks();
    int32_t rc = frameless_load(&model, frameless_blob, (size_t)(frameless_blob_end - frameless_blob));
    uint64_t load_instr = (ticks() - t0) * INSTRUCTIONS_PER_TICK;
    if (rc != FRAMELESS_OK) fail(EXIT_SETUP, "blob rejected", rc);

    frameless_dims dims;
    size_t need;
    if ((rc = frameless_model_dims(&model, &dims)) != FRAMELESS_OK) fail(EXIT_SETUP, "dims", rc);
    if (dims.n_nodes != DIMS.n_nodes || dims.n_features != DIMS.n_features || dims.hidden != DIMS.hidden ||
        dims.n_classes != DIMS.n_classes || dims.n_bands != DIMS.n_bands || dims.n_stages != DIMS.n_stages)
        fail(EXIT_SETUP, "blob dims differ from data.h", 0);
    if ((rc = frameless_scratch_bytes(&model, &need)) != FRAMELESS_OK) fail(EXIT_SETUP, "scratch size", rc);
    if (need > sizeof scratch) fail(EXIT_SETUP, "scratch too small for the model", 0);

    /* Parity: every class and every logit bit-identical to the host engine's. */
    size_t mismatches = 0, exact = 0;
    for (size_t i = 0; i < N_TEST; i++) {
        frameless_prediction p;
        if ((rc = predict(i, &p)) != FRAMELESS_OK) fail(EXIT_MISMATCH, "predict failed", rc);
        int ok = p.class_id == CLASSES[i] && p.n_logits == DIMS.n_classes && p.n_gates == DIMS.n_bands;
        for (uint32_t c = 0; c < p.n_logits && c < DIMS.n_classes; c++) {
            int same = bits(p.logits[c]) == bits(LOGITS[i][c]);
            exact += (size_t)same;
            ok &= same;
        }
        mismatches += (size_t)!ok;
    }

    /* Time: one pass, then PASSES passes; the difference is per-call cost. */
    uint64_t one = 0, many = 0;
    for (int run = 0; run < 2; run++) {
        uint32_t passes = run ? PASSES : 1;
        uint64_t start = ticks();
        for (uint32_t k = 0; k < passes; k++)
            for (size_t i = 0; i < N_TEST; i++) {
                frameless_prediction p;
                (void)predict(i, &p);
                __asm__ volatile("" : : "r"(p.class_id) : "memory");
            }
        *(run ? &many : &one) = ticks() - start;
    }
    uint64_t calls = (uint64_t)(PASSES - 1) * N_TEST;
    uint64_t instr_x100 = (many - one) * INSTRUCTIONS_PER_TICK * 100 / calls;

    put("FWREPORT target=c-cortex-m4 precision=" PRECISION " nodes=");
    put_u64(N_TEST);
    put(" mismatches=");
    put_u64(mismatches);
    put(" exact_logits=");
    put_u64(exact);
    put("/");
    put_u64(N_TEST * DIMS.n_classes);
    put(" instr_per_inf=");
    put_x100(instr_x100);
    put(" blob_bytes=");
    put_u64((uint64_t)(frameless_blob_end - frameless_blob));
    put(" scratch_bytes=");
    put_u64(need);
    put(" load_instr=");
    put_u64(load_instr);
    put(" counter=systick passes=16");
    flush();
    return mismatches ? EXIT_MISMATCH : EXIT_OK;
}
