/*
 * latency.h - a distribution of durations in constant memory: a log-scale
 * histogram with 64 buckets per power of two (values below 64 ns exact),
 * so percentiles are within 1.6 % of the true value whatever the count;
 * count, total, min and max are exact.
 */
#ifndef CT_LATENCY_H
#define CT_LATENCY_H

#include <stdint.h>

#define CT_LAT_SUB 64
#define CT_LAT_BUCKETS (CT_LAT_SUB + 58 * CT_LAT_SUB)

struct ct_latency {
    uint64_t count, total, min, max;
    uint64_t buckets[CT_LAT_BUCKETS];
};

void ct_latency_add(struct ct_latency *l, uint64_t ns);
/* The value at quantile q (0 < q <= 1): the middle of its bucket, within
 * [min, max]. */
uint64_t ct_latency_quantile(const struct ct_latency *l, double q);
/* A value that stands for bucket b: its middle, within [min, max]. */
uint64_t ct_latency_bucket_value(const struct ct_latency *l, unsigned b);
/* The middle of the bucket that ns falls in, whatever the distribution:
 * what a fleet's store keeps beside each duration, so that percentiles it
 * computes (clamped to their group's min and max) equal these. Inline: the
 * ClickHouse export writes one per region and task. A value of 64 ns or
 * more has 7 significant bits kept (64 buckets per power of two): its
 * bucket is [lo, lo + 2^shift), with the bits below shift cleared. */
static inline uint64_t ct_latency_bucket_middle(uint64_t ns)
{
    if (ns < CT_LAT_SUB)
        return ns;
    unsigned shift = 63 - (unsigned)__builtin_clzll(ns) - 6;
    uint64_t lo = ns >> shift << shift;
    return lo + ((1ull << shift) >> 1);
}

#endif
