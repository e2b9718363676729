/*
 * bench_block.c - what a wrapper of `ctrace run` records when a lock
 * blocks: a block event with the program's stack (8 frames) and an unblock,
 * through the recorder's internal entry points (linked statically, as they
 * are inside libctrace-preload.so). The stack is walked with the call
 * frame information of .eh_frame (unwind.h): with the rule cache warm, as
 * in a program's steady state, and empty before every event, as the first
 * time a thread blocks somewhere (each frame's FDE found and its program
 * run); and, for the difference, the same events without a stack. Median
 * and minimum of 11 runs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ctrace.h"
#include "bench_util.h"
#include "../src/recorder/system.h"
#include "../src/recorder/unwind.h"

#define RUNS 11
#define LOOP 1000000
#define COLD_LOOP 20000

/* Seven distinct functions above the event, and main: 8 frames, each
 * with a return address of its own (so that an empty cache finds each
 * one's rule anew). */
#define LINK(name, next)                                                      \
    __attribute__((noinline)) static void name(void)                          \
    {                                                                         \
        next();                                                               \
        __asm__ volatile("" ::: "memory"); /* no tail call */                 \
    }

__attribute__((noinline)) static void block_here(void)
{
    ct_ev_block(CT_REASON_MUTEX, (uintptr_t)&block_here);
    ct_ev_unblock();
}
LINK(f6, block_here)
LINK(f5, f6)
LINK(f4, f5)
LINK(f3, f4)
LINK(f2, f3)
LINK(f1, f2)

static void start(int stacks)
{
    int fd = open("/dev/null", O_WRONLY);
    ctrace_config config = {.stacks = stacks, .max_stack_depth = 8};
    if (fd < 0 || ctrace_start_config(fd, &config) != 0)
        exit(1);
}

/* ns per block+unblock; `cold`: the rule cache emptied before each. */
static double run(int stacks, bool cold)
{
    start(stacks);
    int loop = cold ? COLD_LOOP : LOOP;
    double t0 = now_s();
    for (int i = 0; i < loop; i++) {
        if (cold)
            ct_unwind_forget();
        f1();
    }
    double ns = (now_s() - t0) * 1e9 / loop;
    ctrace_stop();
    return ns;
}

/* What emptying the cache costs alone, to take from the cold figure. */
static double forget_only(void)
{
    double t0 = now_s();
    for (int i = 0; i < COLD_LOOP; i++) {
        ct_unwind_forget();
        __asm__ volatile("" ::: "memory");
    }
    return (now_s() - t0) * 1e9 / COLD_LOOP;
}

static void row(const char *what, double *v, const char *note)
{
    qsort(v, RUNS, sizeof *v, cmp_double);
    printf("| %-58s | %8.2f | %8.2f | %s\n", what, v[RUNS / 2], v[0], note);
}

int main(void)
{
    double warm[RUNS], cold[RUNS], none[RUNS];
    for (int r = 0; r < RUNS; r++) {
        warm[r] = run(1, false);
        cold[r] = run(1, true) - forget_only();
        none[r] = run(-1, false);
    }
    row("blocking event (8-frame stack) + unblock, ns", warm,
        "what a wrapper records; target <= 150");
    row("  the same, each event's rules not cached (first block), ns", cold,
        "8 frames' FDEs found and run");
    row("  the same without a stack, ns", none, "the stack's cost: the difference");
    return 0;
}
