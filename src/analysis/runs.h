/*
 * runs.h - items gathered per thread (lane) and group (a region type; the
 * logs), each lane's in the order its reading gives them (nearly in time
 * order: a region is found when it ends), then merged by time group by
 * group straight into the index's columns, each run freed once merged:
 * memory holds the items once, not a copy to sort and one sorted.
 */
#ifndef CT_RUNS_H
#define CT_RUNS_H

#include <stddef.h>
#include <stdint.h>

struct ct_run_item {
    int64_t t;
    uint32_t a, b; /* the owner's */
};

struct ct_run {
    uint32_t group, lane;
    struct ct_run_item *items;
    size_t n, cap;
};

struct ct_runs {
    struct ct_run *runs;
    size_t n, cap;
    uint32_t *slots; /* (group, lane) -> run + 1, open addressing */
    size_t nslots;
    size_t last;     /* the run added to last, + 1 */
    size_t items;    /* in every run */
};

/* A new item of (group, lane), to be filled; NULL without memory. */
struct ct_run_item *ct_runs_add(struct ct_runs *r, uint32_t group, uint32_t lane);
/* The runs of group merged by time (ties: by lane, then as gathered):
 * emit(ctx, lane, item) for each, in that order; those runs are freed. 0,
 * or -1 without memory (nothing emitted). */
int ct_runs_merge(struct ct_runs *r, uint32_t group,
                  void (*emit)(void *ctx, uint32_t lane, const struct ct_run_item *it), void *ctx);
void ct_runs_free(struct ct_runs *r);

#endif
