/*
 * test_unwind.c - the unwinder (src/recorder/unwind.h) alone: a walk up a
 * chain of functions built without frame pointers finds each return
 * address; rows read from a hand-made .eh_frame are the ones its program
 * describes; a table cut or damaged anywhere, and a stack of garbage, are
 * never read past their bounds (each lies against a page that faults).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../src/recorder/unwind.h"
#include "unwind_chain.h"

static uintptr_t stack_top(void)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    assert_int_equal(pthread_getattr_np(pthread_self(), &attr), 0);
    assert_int_equal(pthread_attr_getstack(&attr, &addr, &size), 0);
    pthread_attr_destroy(&attr);
    return (uintptr_t)addr + size;
}

/* What walk_here found. Volatile: it also runs in a signal handler, which
 * the compiler may assume raise() does not call (glibc declares it leaf). */
static uintptr_t walked[32];
static volatile uintptr_t first_return;
static volatile unsigned nwalked;

/* Walks from its own frame record (this file keeps frame pointers), as
 * stack.c does from ct_stack_ref_unwound's. */
__attribute__((noinline)) static void walk_here(void)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    first_return = (uintptr_t)__builtin_return_address(0);
    struct ct_regs r = {((const uintptr_t *)fp)[1], fp + 2 * sizeof(uintptr_t),
                        ((const uintptr_t *)fp)[0], true};
    struct ct_frames f = {walked, 0, 32, 0, 0, 0};
    ct_unwind_walk(ct_code_map_now(), r, &f, fp, stack_top(), NULL);
    nwalked = f.n;
    __asm__ volatile("" ::: "memory");
}

static void check_chain(void)
{
    memset(walked, 0, sizeof walked);
    chain_0(walk_here);
    assert_true(nwalked >= 2 + CHAIN_DEPTH + 1);
    assert_int_equal(walked[0], first_return);
    assert_int_equal(walked[1], chain_end_return);
    for (int i = 0; i < CHAIN_DEPTH; i++)
        assert_int_equal(walked[2 + i], chain_returns[CHAIN_DEPTH - 1 - i]);
}

static void test_chain_without_frame_pointers(void **state)
{
    (void)state;
    if (!ct_unwind_arch.supported)
        skip();
    ct_code_map_init();
    assert_non_null(ct_code_map_now());
    check_chain(); /* rules looked up */
    check_chain(); /* rules cached */
    ct_unwind_forget();
    check_chain();
}

/* The test binary keeps frame pointers (the project's flags). */
static void test_main_judged(void **state)
{
    (void)state;
    if (!ct_unwind_arch.supported)
        skip();
    ct_code_map_init();
    assert_int_equal(ct_code_map_main_has_fp(), 1);
}

/* ---- a hand-made .eh_frame_hdr and .eh_frame ---- */

struct blob {
    uint8_t b[512];
    size_t len;
};

static void put(struct blob *x, const void *p, size_t n)
{
    memcpy(x->b + x->len, p, n);
    x->len += n;
}

static void put8(struct blob *x, uint8_t v)
{
    put(x, &v, 1);
}

static void put32(struct blob *x, int32_t v)
{
    put(x, &v, 4);
}

static void set32(struct blob *x, size_t at, int32_t v)
{
    memcpy(x->b + at, &v, 4);
}

/* The function it describes starts FUNC bytes after the blob's start and
 * is 64 bytes long (no code there: rows only). Its program:
 *   +0  CFA = rsp + 8, return address at CFA - 8 (the CIE's)
 *   +1  CFA = rsp + 16, rbp at CFA - 16           (push %rbp)
 *   +4  CFA = rbp + 16                            (mov %rsp,%rbp)
 *   +20 remember; CFA = rsp + 8                   (leave; ret)
 *   +21 restore                                   (the rest of the body)
 */
#define FUNC 1024

static void make_tables(struct blob *x)
{
    x->len = 0;
    /* .eh_frame_hdr: version, pcrel sdata4 pointer, udata4 count, datarel
     * sdata4 table; one entry. */
    put8(x, 1);
    put8(x, 0x1b);
    put8(x, 0x03);
    put8(x, 0x3b);
    size_t frame_ptr_at = x->len;
    put32(x, 0);
    put32(x, 1);
    size_t table_at = x->len;
    put32(x, FUNC);
    put32(x, 0);
    /* .eh_frame: the CIE. */
    size_t cie = x->len;
    set32(x, frame_ptr_at, (int32_t)(cie - frame_ptr_at));
    size_t len_at = x->len;
    put32(x, 0);
    put32(x, 0);                 /* CIE id */
    put8(x, 1);                  /* version */
    put(x, "zR", 3);
    put8(x, 1);                  /* code alignment */
    put8(x, 0x78);               /* data alignment -8 */
    put8(x, 16);                 /* return address column */
    put8(x, 1);                  /* augmentation bytes */
    put8(x, 0x1b);               /* FDE pointers: pcrel sdata4 */
    static const uint8_t cie_insns[] = {0x0c, 7, 8, 0x90, 1};
    put(x, cie_insns, sizeof cie_insns);
    while ((x->len - len_at) % 4)
        put8(x, 0);
    set32(x, len_at, (int32_t)(x->len - len_at - 4));
    /* The FDE. */
    size_t fde = x->len;
    set32(x, table_at + 4, (int32_t)fde);
    put32(x, 0);
    put32(x, (int32_t)(x->len - cie)); /* back to the CIE */
    put32(x, (int32_t)(FUNC - x->len)); /* pcrel begin */
    put32(x, 64);
    put8(x, 0);                         /* augmentation bytes */
    static const uint8_t insns[] = {
        0x41, 0x0e, 16, 0x86, 2,  /* +1: CFA offset 16; rbp at CFA-16 */
        0x43, 0x0d, 6,            /* +4: CFA register rbp */
        0x50, 0x0a, 0x0c, 7, 8,   /* +20: remember; CFA rsp+8 */
        0x41, 0x0b,               /* +21: restore */
    };
    put(x, insns, sizeof insns);
    while ((x->len - fde) % 4)
        put8(x, 0);
    set32(x, fde, (int32_t)(x->len - fde - 4));
    put32(x, 0); /* the terminator */
}

/* Two pages, the second one unreadable: data placed to end right at it
 * makes any read past its end fault. */
static uint8_t *guarded(void)
{
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *p = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + page, (size_t)page, PROT_NONE), 0);
    return p + page;
}

static struct ct_code_module module_at(const uint8_t *start, const uint8_t *end)
{
    return (struct ct_code_module){.eh_hdr = start, .hdr_lo = (uintptr_t)start,
                                   .hdr_hi = (uintptr_t)end,
                                   .segments = {{(uintptr_t)start, (uintptr_t)end}},
                                   .nsegments = 1};
}

static void test_rows(void **state)
{
    (void)state;
    if (!ct_unwind_arch.supported)
        skip();
    struct blob x;
    make_tables(&x);
    uint8_t *end = guarded();
    uint8_t *start = end - x.len;
    memcpy(start, x.b, x.len);
    struct ct_code_module m = module_at(start, end);
    uintptr_t func = (uintptr_t)start + FUNC;
    struct ct_cfi_row row;
    struct {
        unsigned at;
        uint8_t cfa_reg;
        int64_t cfa_off;
        uint8_t fp_how;
    } want[] = {{0, 7, 8, CT_CFI_SAME},   {1, 7, 16, CT_CFI_AT_CFA}, {3, 7, 16, CT_CFI_AT_CFA},
                {4, 6, 16, CT_CFI_AT_CFA}, {19, 6, 16, CT_CFI_AT_CFA}, {20, 7, 8, CT_CFI_AT_CFA},
                {21, 6, 16, CT_CFI_AT_CFA}, {63, 6, 16, CT_CFI_AT_CFA}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(ct_cfi_row_at(&m, func + want[i].at, &row), 0);
        assert_int_equal(row.cfa_how, CT_CFA_REG);
        assert_int_equal(row.cfa_reg, want[i].cfa_reg);
        assert_int_equal(row.cfa_off, want[i].cfa_off);
        assert_int_equal(row.ra.how, CT_CFI_AT_CFA);
        assert_int_equal(row.ra.off, -8);
        assert_int_equal(row.fp.how, want[i].fp_how);
        if (row.fp.how == CT_CFI_AT_CFA)
            assert_int_equal(row.fp.off, -16);
        assert_int_equal(ct_arch_rule_is_fp(ct_arch_pack(&row)), want[i].cfa_reg == 6);
    }
    /* Outside the function's range: no row. */
    assert_int_equal(ct_cfi_row_at(&m, func + 64, &row), -1);
    assert_int_equal(ct_cfi_row_at(&m, func - 1, &row), -1);
    /* Its three-word stack in a frame-pointer frame: one step. */
    uintptr_t stack[4] = {0, 0x1234 /* saved rbp */, 0x5678 /* return address */, 0};
    assert_int_equal(ct_cfi_row_at(&m, func + 30, &row), 0);
    struct ct_regs r = {func + 31, (uintptr_t)&stack[0], (uintptr_t)&stack[1], true};
    assert_true(ct_arch_step(ct_arch_pack(&row), &r, (uintptr_t)stack, (uintptr_t)(stack + 4),
                             NULL));
    assert_int_equal(r.pc, 0x5678);
    assert_int_equal(r.sp, (uintptr_t)&stack[3]);
    assert_int_equal(r.fp, 0x1234);
    /* .eh_frame in none of the module's segments (one that ends before
     * it, or none at all): no row, and nothing read there. */
    struct ct_code_module short_segment = m;
    short_segment.segments[0].hi = (uintptr_t)start + 16;
    assert_int_equal(ct_cfi_row_at(&short_segment, func + 4, &row), -1);
    struct ct_code_module no_segment = m;
    no_segment.nsegments = 0;
    assert_int_equal(ct_cfi_row_at(&no_segment, func + 4, &row), -1);
}

/* Every prefix of the tables, and every single byte changed, against the
 * unreadable page: an answer or -1, and no fault. */
static void test_cut_and_damaged(void **state)
{
    (void)state;
    if (!ct_unwind_arch.supported)
        skip();
    struct blob x;
    make_tables(&x);
    uint8_t *end = guarded();
    struct ct_cfi_row row;
    for (size_t len = 0; len <= x.len; len++) {
        uint8_t *start = end - len;
        memcpy(start, x.b, len);
        struct ct_code_module m = module_at(start, end);
        for (unsigned at = 0; at < 64; at += 7)
            (void)ct_cfi_row_at(&m, (uintptr_t)start + FUNC + at, &row);
        (void)ct_cfi_row_at(&m, (uintptr_t)start + FUNC - 1000, &row);
        unsigned seen;
        (void)ct_cfi_fp_functions(&m, 8, &seen);
    }
    uint8_t *start = end - x.len;
    struct ct_code_module m = module_at(start, end);
    srand(7);
    for (size_t i = 0; i < x.len; i++) {
        for (int trial = 0; trial < 24; trial++) {
            memcpy(start, x.b, x.len);
            start[i] = trial < 8 ? (uint8_t)(1u << trial) ^ x.b[i] : (uint8_t)rand();
            for (unsigned at = 0; at < 64; at += 5)
                (void)ct_cfi_row_at(&m, (uintptr_t)start + FUNC + at, &row);
            unsigned seen;
            (void)ct_cfi_fp_functions(&m, 8, &seen);
        }
    }
}

/* Steps with any rule over a stack of random words read nothing outside
 * the stack's bounds, and a step that fails leaves the registers alone. */
static void test_garbage_stack(void **state)
{
    (void)state;
    if (!ct_unwind_arch.supported)
        skip();
    uint8_t *end = guarded();
    const size_t words = 64;
    uintptr_t *stack = (uintptr_t *)(void *)(end - words * sizeof(uintptr_t));
    uintptr_t lo = (uintptr_t)stack, hi = (uintptr_t)end;
    srand(11);
    for (int i = 0; i < 200000; i++) {
        for (size_t w = 0; w < words; w++)
            stack[w] = rand() % 3 == 0 ? lo + (size_t)rand() % (words * 8 + 64) - 32
                                       : ((uintptr_t)rand() << 32) ^ (uintptr_t)rand();
        struct ct_cfi_row row = {
            .cfa_how = (uint8_t)(rand() % 3),
            .cfa_reg = (uint8_t)(rand() % 2 ? 6 : 7),
            .cfa_off = rand() % 2 ? (int64_t)(rand() % 600) - 100
                                  : (int64_t)rand() << (rand() % 32),
            .ra = {CT_CFI_AT_CFA, 0, -8},
            .fp = {(uint8_t)(rand() % 5), 6, (int64_t)(rand() % 600) - 300},
        };
        uint64_t rule = ct_arch_pack(&row);
        struct ct_regs r = {(uintptr_t)rand(), lo + (size_t)(rand() % (int)(words * 8 + 16)),
                            rand() % 2 ? lo + (size_t)(rand() % (int)(words * 8 + 16))
                                       : ((uintptr_t)rand() << 33),
                            rand() % 4 != 0};
        struct ct_regs before = r;
        if (!ct_arch_step(rule, &r, lo, hi, NULL))
            assert_memory_equal(&r, &before, sizeof r);
        else
            assert_true(r.sp > before.sp && r.sp <= hi);
    }
}

/* From a signal handler running on the thread's stack: the walk ends at
 * the handler's return into the C library's trampoline, and never faults. */
static void on_signal(int sig)
{
    (void)sig;
    walk_here();
}

static void test_signal_handler(void **state)
{
    (void)state;
    if (!ct_unwind_arch.supported)
        skip();
    ct_code_map_init();
    struct sigaction sa = {.sa_handler = on_signal}, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    nwalked = 0;
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, NULL);
    assert_true(nwalked >= 1);
    assert_int_equal(walked[0], first_return); /* into on_signal */
    for (unsigned i = 0; i < nwalked; i++)
        assert_non_null(ct_code_map_find(ct_code_map_now(), walked[i] - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_without_frame_pointers),
        cmocka_unit_test(test_main_judged),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_cut_and_damaged),
        cmocka_unit_test(test_garbage_stack),
        cmocka_unit_test(test_signal_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
