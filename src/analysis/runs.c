/*
 * runs.c - see runs.h.
 */
#include "runs.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(uint32_t group, uint32_t lane, size_t n)
{
    uint64_t k = ((uint64_t)group << 32 | lane) * 0x9E3779B97F4A7C15u;
    return (size_t)(k >> 20) & (n - 1);
}

static bool grow_slots(struct ct_runs *r)
{
    size_t n = r->nslots ? r->nslots * 2 : 64;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < r->n; i++) {
        size_t k = slot_of(r->runs[i].group, r->runs[i].lane, n);
        while (s[k])
            k = (k + 1) & (n - 1);
        s[k] = (uint32_t)i + 1;
    }
    free(r->slots);
    r->slots = s;
    r->nslots = n;
    return true;
}

static struct ct_run *run_of(struct ct_runs *r, uint32_t group, uint32_t lane)
{
    if (r->last && r->runs[r->last - 1].group == group && r->runs[r->last - 1].lane == lane)
        return &r->runs[r->last - 1];
    if ((r->n + 1) * 2 > r->nslots && !grow_slots(r))
        return NULL;
    size_t k = slot_of(group, lane, r->nslots);
    for (; r->slots[k]; k = (k + 1) & (r->nslots - 1)) {
        struct ct_run *run = &r->runs[r->slots[k] - 1];
        if (run->group == group && run->lane == lane) {
            r->last = r->slots[k];
            return run;
        }
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct ct_run *grown = realloc(r->runs, cap * sizeof *grown);
        if (!grown)
            return NULL;
        r->runs = grown;
        r->cap = cap;
    }
    r->runs[r->n] = (struct ct_run){group, lane, NULL, 0, 0};
    r->slots[k] = (uint32_t)++r->n;
    r->last = r->n;
    return &r->runs[r->n - 1];
}

struct ct_run_item *ct_runs_add(struct ct_runs *r, uint32_t group, uint32_t lane)
{
    struct ct_run *run = run_of(r, group, lane);
    if (!run)
        return NULL;
    if (run->n == run->cap) {
        size_t cap = run->cap ? run->cap * 2 : 64;
        struct ct_run_item *grown = realloc(run->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        run->items = grown;
        run->cap = cap;
    }
    r->items++;
    return &run->items[run->n++];
}

/* A run in time order, stable: by insertion while that stays cheap (items
 * come nearly in order: an inner region ends, and is found, before its
 * outer one), else by merging. 0, or -1 without memory. */
static int sort_run(struct ct_run *run)
{
    struct ct_run_item *it = run->items;
    size_t n = run->n, moves = 0;
    for (size_t i = 1; i < n && moves <= 16 * n; i++) {
        struct ct_run_item x = it[i];
        size_t j = i;
        for (; j > 0 && it[j - 1].t > x.t; j--)
            it[j] = it[j - 1];
        moves += i - j;
        it[j] = x;
    }
    if (moves <= 16 * n)
        return 0;
    struct ct_run_item *tmp = malloc(n * sizeof *tmp), *src = it, *dst = tmp;
    if (!tmp)
        return -1;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = src[b].t < src[a].t ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        struct ct_run_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != it)
        memcpy(it, src, n * sizeof *it);
    free(tmp);
    return 0;
}

struct cursor {
    struct ct_run *run;
    size_t next;
};

/* Whether cursor x's next item comes before y's. */
static bool earlier(const struct cursor *x, const struct cursor *y)
{
    int64_t a = x->run->items[x->next].t, b = y->run->items[y->next].t;
    return a < b || (a == b && x->run->lane < y->run->lane);
}

static void sift(struct cursor *h, size_t n, size_t k)
{
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= n)
            return;
        if (c + 1 < n && earlier(&h[c + 1], &h[c]))
            c++;
        if (!earlier(&h[c], &h[k]))
            return;
        struct cursor t = h[k];
        h[k] = h[c];
        h[c] = t;
        k = c;
    }
}

int ct_runs_merge(struct ct_runs *r, uint32_t group,
                  void (*emit)(void *ctx, uint32_t lane, const struct ct_run_item *it), void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->runs[i].group == group && r->runs[i].n;
    struct cursor *h = malloc((n ? n : 1) * sizeof *h);
    if (!h)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->runs[i].group == group && r->runs[i].n) {
            if (sort_run(&r->runs[i]) != 0) {
                free(h);
                return -1;
            }
            h[k++] = (struct cursor){&r->runs[i], 0};
        }
    for (size_t i = n / 2; i-- > 0;)
        sift(h, n, i);
    while (n) {
        struct cursor *c = &h[0];
        emit(ctx, c->run->lane, &c->run->items[c->next]);
        if (++c->next == c->run->n) {
            free(c->run->items); /* merged: its memory goes now */
            c->run->items = NULL;
            r->items -= c->run->n;
            c->run->n = c->run->cap = 0;
            h[0] = h[--n];
        }
        sift(h, n, 0);
    }
    free(h);
    return 0;
}

void ct_runs_free(struct ct_runs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->runs[i].items);
    free(r->runs);
    free(r->slots);
    memset(r, 0, sizeof *r);
}
