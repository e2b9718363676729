/*
 * utilization.h - the share of CPU time a program's threads got over time,
 * and its minimum over windows of each width: Go's minimum mutator
 * utilization (MMU) for threads, where what takes time from the program is
 * not a collector but the scheduler and the machine.
 *
 * Two measures, both from the thread analysis's intervals (threads.h):
 *
 *   machine  threads on a CPU / the machine's CPUs: the share of the
 *            machine the program used (1: every CPU ran one of its threads)
 *   demand   threads on a CPU / threads on a CPU or runnable: the share of
 *            the CPU time the threads asked for that they got (1 when none
 *            waited for a CPU, also when none wanted one)
 *
 * Over a window, a measure is the ratio of the integrals (CPU time got,
 * over the CPUs' time or the time asked for), so a window's utilization
 * is exact whatever happened inside it. The time is cut into at most
 * CT_UTIL_BINS bins of equal width (100 ns at least), each holding its
 * integrals, kept cumulated: any window aligned on bins costs two lookups,
 * and the minimum over all windows of one width a pass over the bins.
 * Memory: 16 bytes a bin (16 MiB at most), whatever the trace's size.
 */
#ifndef CT_UTILIZATION_H
#define CT_UTILIZATION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../format/reader.h"

#define CT_UTIL_BINS (1u << 20)

enum ct_util_mode { CT_UTIL_MACHINE, CT_UTIL_DEMAND };

struct ct_util {
    int64_t begin, end, bin_ns;
    size_t nbins;
    /* Cumulated up to bin i (nbins + 1 each, from 0): thread-ns on a CPU,
     * thread-ns on a CPU or runnable. */
    double *run, *want;
    unsigned ncpu;     /* the machine's (PROCESS), else the CPUs seen */
    bool sched;        /* the kernel's switches were recorded */
    size_t nthreads;
};

/* Reads the trace (not read yet) from begin to end through the thread
 * analysis. 0, or -1 with the error in rd (or without memory). */
int ct_util_compute(struct ct_reader *rd, int64_t begin, int64_t end, struct ct_util *u);
/* The same over several traces of one machine on one time line (a
 * process tree's, each not read yet): their threads' integrals added. */
int ct_util_compute_many(struct ct_reader *rds, size_t n, int64_t begin, int64_t end,
                         struct ct_util *u);
void ct_util_free(struct ct_util *u);
/* The utilization of [t0, t1) (bins it covers, cut at their edges). */
double ct_util_window(const struct ct_util *u, enum ct_util_mode mode, int64_t t0, int64_t t1);
/* The minimum utilization over windows of `width` bins, and where the
 * worst one starts (a bin). */
double ct_util_mmu(const struct ct_util *u, enum ct_util_mode mode, size_t width, size_t *worst);
/* As JSON: the measure over [t0, t1) at px points, the MMU curve over
 * widths from one bin to the whole trace, and, when worst_width > 0, the
 * five worst windows of that width (no two overlapping). */
void ct_util_json(const struct ct_util *u, enum ct_util_mode mode, int64_t t0, int64_t t1,
                  unsigned px, int64_t worst_width, FILE *out);

#endif
