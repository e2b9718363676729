/*
 * bench_block.c - what a wrapper of `ctrace run` records when a lock
 * blocks: a block event with the program's stack (8 frames) and an unblock,
 * through the recorder's internal entry points (linked statically, as they
 * are inside libctrace-preload.so). Median and minimum of 11 runs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ctrace.h"
#include "bench_util.h"
#include "../src/recorder/system.h"

#define RUNS 11
#define LOOP 1000000


__attribute__((noinline)) static void deep_block(int depth)
{
    if (depth > 0) {
        deep_block(depth - 1);
        __asm__ volatile("" ::: "memory"); /* no tail call */
        return;
    }
    ct_ev_block(CT_REASON_MUTEX, (uintptr_t)&deep_block);
    ct_ev_unblock();
}

int main(void)
{
    double v[RUNS];
    for (int r = 0; r < RUNS; r++) {
        int fd = open("/dev/null", O_WRONLY);
        ctrace_config config = {.stacks = 1, .max_stack_depth = 8};
        if (fd < 0 || ctrace_start_config(fd, &config) != 0)
            return 1;
        double t0 = now_s();
        for (int i = 0; i < LOOP; i++)
            deep_block(6);
        v[r] = (now_s() - t0) * 1e9 / LOOP;
        ctrace_stop();
        close(fd);
    }
    qsort(v, RUNS, sizeof *v, cmp_double);
    printf("| %-44s | %8.2f | %8.2f | %s\n", "blocking event (8-frame stack) + unblock, ns",
           v[RUNS / 2], v[0], "what a wrapper records; target <= 150");
    return 0;
}
