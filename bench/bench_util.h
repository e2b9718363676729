/* bench_util.h - what the benchmarks share: a monotonic clock in seconds,
 * and a comparison for sorting runs to take their median. */
#ifndef CT_BENCH_UTIL_H
#define CT_BENCH_UTIL_H

#include <time.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
