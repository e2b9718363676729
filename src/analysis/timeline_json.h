/*
 * timeline_json.h - what the answers of timeline_json.c and
 * timeline_details.c share: names, thread ids as the answers give them,
 * and the search for the first item of a range. Internal to those two.
 */
#ifndef CT_TIMELINE_JSON_H
#define CT_TIMELINE_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "timeline.h"

static inline void json_str(FILE *out, const char *s)
{
    ct_json_string(out, s, strlen(s));
}

static inline const char *str(const struct ct_timeline *tl, uint32_t idx)
{
    return idx < tl->nstrings ? tl->text + tl->strings[idx] : "";
}

/* A thread's id in the answers: in a process tree, qualified when another
 * image has it too (timeline.h); 0 stays "none". */
static inline uint64_t tid_key(const struct ct_timeline *tl, uint64_t tid)
{
    const struct ct_timeline *ix = tl->index ? tl->index : tl;
    return tid ? tid | ix->json_tid_base : 0;
}

/* The first of n items sorted by an int64_t time at byte `field` of each
 * whose time is at least t (n when none): every query starts so. */
static inline size_t first_at(const void *items, size_t n, size_t size, size_t field, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t key;
        memcpy(&key, (const char *)items + mid * size + field, sizeof key);
        if (key < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
#define FIRST_AT(items, n, field, t)                                          \
    first_at((items), (n), sizeof *(items), offsetof(__typeof__(*(items)), field), (t))

static inline size_t first_span(const struct tl_lane *l, int64_t t0)
{
    return FIRST_AT(l->spans, l->nspan_items, e, t0 + 1); /* the first that ends after t0 */
}

/* A span's call as the kernel saw it: its system call's number + 1. */
static inline unsigned span_sysno(const struct tl_span *sp)
{
    return sp->flags & TL_SPAN_SYSNO ? sp->reason | (unsigned)sp->fd_class << 8 : 0;
}

#endif
