/*
 * columns.c - see columns.h.
 */
#include "columns.h"

#include <stdlib.h>
#include <string.h>

int ct_times_init(struct ct_times *c, size_t n)
{
    memset(c, 0, sizeof *c);
    size_t blocks = n / CT_TIMES_BLOCK + 1;
    c->base = malloc(blocks * sizeof *c->base);
    c->off = malloc((n ? n : 1) * sizeof *c->off);
    return c->base && c->off ? 0 : -1;
}

bool ct_times_set(struct ct_times *c, size_t i, int64_t t)
{
    size_t block = i / CT_TIMES_BLOCK;
    if (i % CT_TIMES_BLOCK == 0)
        c->base[block] = t;
    int64_t base = c->base[block];
    if (t >= base && (uint64_t)t - (uint64_t)base < CT_TIMES_FAR) {
        c->off[i] = (uint32_t)((uint64_t)t - (uint64_t)base);
        return true;
    }
    if (c->nfar == c->far_cap) {
        size_t cap = c->far_cap ? c->far_cap * 2 : 64;
        struct ct_time_far *grown = realloc(c->far, cap * sizeof *grown);
        if (!grown)
            return false;
        c->far = grown;
        c->far_cap = cap;
    }
    c->far[c->nfar++] = (struct ct_time_far){(uint32_t)i, t};
    c->off[i] = CT_TIMES_FAR;
    return true;
}

int64_t ct_times_far(const struct ct_times *c, size_t i)
{
    size_t lo = 0, hi = c->nfar;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->far[mid].i < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nfar && c->far[lo].i == i ? c->far[lo].t : 0;
}

void ct_times_free(struct ct_times *c)
{
    free(c->base);
    free(c->off);
    free(c->far);
    memset(c, 0, sizeof *c);
}

int ct_lanes_init(struct ct_lanes *c, size_t n, size_t nlanes)
{
    memset(c, 0, sizeof *c);
    if (nlanes <= UINT16_MAX + 1u)
        c->narrow = malloc((n ? n : 1) * sizeof *c->narrow);
    else
        c->wide = malloc((n ? n : 1) * sizeof *c->wide);
    return c->narrow || c->wide ? 0 : -1;
}

void ct_lanes_free(struct ct_lanes *c)
{
    free(c->narrow);
    free(c->wide);
    memset(c, 0, sizeof *c);
}
