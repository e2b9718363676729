/* latency.c - see latency.h. */
#include "latency.h"

static unsigned bucket_of(uint64_t v)
{
    if (v < CT_LAT_SUB)
        return (unsigned)v;
    unsigned e = 63 - (unsigned)__builtin_clzll(v); /* 6..63 */
    unsigned m = (unsigned)(v >> (e - 6));          /* 64..127 */
    unsigned b = CT_LAT_SUB + (e - 6) * CT_LAT_SUB + (m - CT_LAT_SUB);
    return b < CT_LAT_BUCKETS ? b : CT_LAT_BUCKETS - 1;
}

/* The smallest value of bucket b, and the first of the next. */
static void bucket_range(unsigned b, uint64_t *lo, uint64_t *hi)
{
    if (b < CT_LAT_SUB) {
        *lo = b;
        *hi = b + 1;
        return;
    }
    unsigned e = (b - CT_LAT_SUB) / CT_LAT_SUB + 6, m = (b - CT_LAT_SUB) % CT_LAT_SUB + CT_LAT_SUB;
    *lo = (uint64_t)m << (e - 6);
    *hi = (uint64_t)(m + 1) << (e - 6);
}

void ct_latency_add(struct ct_latency *l, uint64_t ns)
{
    if (l->count == 0 || ns < l->min)
        l->min = ns;
    if (ns > l->max)
        l->max = ns;
    l->count++;
    l->total += ns;
    l->buckets[bucket_of(ns)]++;
}

uint64_t ct_latency_bucket_value(const struct ct_latency *l, unsigned b)
{
    uint64_t lo, hi;
    bucket_range(b, &lo, &hi);
    uint64_t mid = lo + (hi - lo) / 2;
    return mid < l->min ? l->min : mid > l->max ? l->max : mid;
}

uint64_t ct_latency_quantile(const struct ct_latency *l, double q)
{
    if (l->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)l->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < CT_LAT_BUCKETS; b++) {
        seen += l->buckets[b];
        if (seen >= rank)
            return ct_latency_bucket_value(l, b);
    }
    return l->max;
}
