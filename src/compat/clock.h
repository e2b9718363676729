/*
 * clock.h - the event clock. On x86-64 it is the TSC (invariant on every CPU
 * this targets: constant_tsc, nonstop_tsc), read with rdtsc; elsewhere it is
 * CLOCK_MONOTONIC in nanoseconds. Either way the recorder keeps clock >> 4 as
 * its timestamp unit (about 5 ns on a 3 GHz TSC) so that the usual delta
 * between two events fits one LEB128 byte; the writer calibrates units against
 * CLOCK_MONOTONIC at every generation boundary.
 */
#ifndef CT_CLOCK_H
#define CT_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CT_TS_SHIFT 4

#if defined(__x86_64__) || defined(__i386__)
#define CT_CLOCK_IS_TSC 1
static inline uint64_t ct_clock_raw(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
#else
#define CT_CLOCK_IS_TSC 0
static inline uint64_t ct_clock_raw(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

/* The timestamp of an event, in units. */
static inline uint64_t ct_now(void)
{
    return ct_clock_raw() >> CT_TS_SHIFT;
}

static inline uint64_t ct_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ct_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A simultaneous reading of the event clock and CLOCK_MONOTONIC: the best of
 * a few tries, the one whose two clock reads were closest together. */
struct ct_clock_pair {
    uint64_t units, mono_ns, real_ns;
};

static inline struct ct_clock_pair ct_clock_pair_now(void)
{
    struct ct_clock_pair best = {0, 0, 0};
    uint64_t best_gap = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t a = ct_clock_raw();
        uint64_t m = ct_mono_ns();
        uint64_t b = ct_clock_raw();
        if (b - a < best_gap) {
            best_gap = b - a;
            best.units = (a + (b - a) / 2) >> CT_TS_SHIFT;
            best.mono_ns = m;
        }
    }
    best.real_ns = ct_real_ns();
    return best;
}

#endif
