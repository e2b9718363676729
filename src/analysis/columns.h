/*
 * columns.h - narrow columns for the instance index (instances.h), where
 * tens of millions of items make every byte an item count:
 *
 *   times: a base per block of 64 items and a 32-bit offset from it per
 *   item: 4 bytes an item instead of 8 (the items of a block are close in
 *   time: they are in time order within a type); the few further than
 *   4.29 s from their block's base are kept whole, apart.
 *   lanes: 16 bits an item while a trace has fewer than 65536 threads,
 *   32 otherwise.
 *
 * Items are set in increasing order of their index (the first item set in
 * a block gives its base).
 */
#ifndef CT_COLUMNS_H
#define CT_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_TIMES_BLOCK 64
#define CT_TIMES_FAR UINT32_MAX

struct ct_times {
    int64_t *base;
    uint32_t *off;
    struct ct_time_far {
        uint32_t i;
        int64_t t;
    } *far; /* by i */
    size_t nfar, far_cap;
};

int ct_times_init(struct ct_times *c, size_t n);
/* False without memory. */
bool ct_times_set(struct ct_times *c, size_t i, int64_t t);
int64_t ct_times_far(const struct ct_times *c, size_t i);
static inline int64_t ct_times_get(const struct ct_times *c, size_t i)
{
    uint32_t o = c->off[i];
    return o != CT_TIMES_FAR ? c->base[i / CT_TIMES_BLOCK] + (int64_t)o : ct_times_far(c, i);
}
void ct_times_free(struct ct_times *c);

struct ct_lanes {
    uint16_t *narrow;
    uint32_t *wide;
};

int ct_lanes_init(struct ct_lanes *c, size_t n, size_t nlanes);
static inline void ct_lanes_set(struct ct_lanes *c, size_t i, uint32_t lane)
{
    if (c->narrow)
        c->narrow[i] = (uint16_t)lane;
    else
        c->wide[i] = lane;
}
static inline uint32_t ct_lanes_get(const struct ct_lanes *c, size_t i)
{
    return c->narrow ? c->narrow[i] : c->wide[i];
}
void ct_lanes_free(struct ct_lanes *c);

#endif
