/*
 * instances.h - every task, region and log of a trace, one by one, for
 * `ctrace view`'s lists: a page of them, sorted and filtered, is found
 * through these arrays without looking at each item (the tasks of a type
 * are a range; by duration, a range of an order built once per type; by
 * time, a range found by bisection), whatever the trace holds.
 *
 * Built from one streamed pass (ct_annotations_read: the same matching as
 * `ctrace tasks` and `ctrace regions`, so a histogram bar's count is the
 * number of instances it lists). Memory, as columns (columns.h): a task
 * about 30 bytes, a region 14, a log 14 and its distinct (category,
 * message) once; 4 more per task or region of a type once listed by
 * duration beyond its first pages.
 *
 * After ct_instances_build the index is read-only, except for the orders
 * by duration, which are built under a lock the first time they are asked
 * for: any number of threads may query it at once.
 */
#ifndef CT_INSTANCES_H
#define CT_INSTANCES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../format/reader.h"
#include "annotations.h"
#include "columns.h"

/* A duration column holds nanoseconds below CT_INST_LONG; longer ones are
 * in the set's table of long ones; CT_INST_OPEN: never ended in the trace
 * (a task: begun, not ended; a region: still open when its thread's events
 * end). */
#define CT_INST_LONG (UINT32_MAX - 1)
#define CT_INST_OPEN UINT32_MAX

struct ct_inst_long {
    uint32_t index;
    uint64_t ns;
};

/* Tasks or regions, as columns sorted by (type, begin): type t's items are
 * [at[t], at[t + 1]). Tasks also have, after the last type's, the tasks
 * referred to (by a region, a log, a child or an end) but not begun in the
 * trace: at[ntypes] to n; their begin is INT64_MIN. */
struct ct_inst_set {
    size_t n, ntypes;
    size_t *at;      /* ntypes + 1 */
    struct ct_times begin;
    uint32_t *dur;
    struct ct_lanes lane; /* index in the index's tids */
    uint32_t *task;  /* a region's task, a task's parent: 0 none, else index + 1 in tasks */
    struct ct_inst_long *longs; /* by index */
    size_t nlongs;
    uint32_t *_Atomic *by_dur;  /* per type, once asked for: its items by duration */
};

/* A (category, message) pair of logs, stored once. */
struct ct_inst_text {
    uint32_t category; /* index in categories */
    uint32_t at, len;  /* the message in text */
};

struct ct_instances {
    struct ct_annotations ann; /* types (their names and counts) */
    int64_t end;               /* the last event's time: where open items end */
    uint64_t *tids;            /* lane -> thread id */
    size_t nlanes;
    struct ct_inst_set tasks, regions;
    uint64_t *task_id;         /* of each task */
    uint32_t *task_more;       /* 0, or index + 1 in more: the other threads of a task */
    struct { uint32_t lane, next; } *more;
    size_t nmore;
    uint32_t *task_by_id;      /* task indexes, by id */
    /* Logs, by time. */
    size_t nlogs;
    struct ct_times log_t;
    struct ct_lanes log_lane;
    uint32_t *log_task, *log_text;
    struct ct_inst_text *texts;
    size_t ntexts;
    char *text;
    size_t text_len;
    char **categories;
    size_t ncategories;
    pthread_mutex_t lazy; /* the orders by duration while one is built */
};

/* Reads rd (once, streamed or not) into ix. progress(ctx, done, total)
 * after each generation: false stops the reading (may be NULL). 0, or -1
 * with the error in rd (or stopped, rd->failed unset); ix is to be freed
 * either way. */
int ct_instances_build(struct ct_reader *rd, struct ct_instances *ix,
                       bool (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx);
void ct_instances_free(struct ct_instances *ix);

/* ---- queries (instances_query.c) ---- */

static inline int64_t ct_inst_begin(const struct ct_inst_set *s, size_t i)
{
    return ct_times_get(&s->begin, i);
}
static inline uint64_t ct_inst_tid(const struct ct_instances *ix, const struct ct_inst_set *s,
                                   size_t i)
{
    return ix->tids[ct_lanes_get(&s->lane, i)];
}
static inline int64_t ct_inst_log_time(const struct ct_instances *ix, size_t i)
{
    return ct_times_get(&ix->log_t, i);
}
static inline uint64_t ct_inst_log_tid(const struct ct_instances *ix, size_t i)
{
    return ix->tids[ct_lanes_get(&ix->log_lane, i)];
}

/* The duration of item i of a set (ns); UINT64_MAX when open. */
uint64_t ct_inst_duration(const struct ct_inst_set *s, size_t i);
/* Where an item ends: its begin plus its duration, or for an open one the
 * end of the trace. */
int64_t ct_inst_end(const struct ct_instances *ix, const struct ct_inst_set *s, size_t i);

enum ct_inst_sort { CT_INST_BY_BEGIN, CT_INST_BY_DURATION };

/* Which items of a type: durations in [min_ns, max_ns) (max_ns 0: no
 * bound), the ended ones only; or with open, the open ones only. */
struct ct_inst_filter {
    uint64_t min_ns, max_ns;
    bool open;
};

/* The items of type `type` of set s (tasks or regions) that pass f, in
 * order (by begin, or by duration with ties by begin; desc: reversed):
 * those of ranks [offset, offset + limit) into rows (*nrows of them), and
 * in *total how many pass. 0, or -1 without memory (or no such type). */
int ct_inst_page(struct ct_instances *ix, struct ct_inst_set *s, size_t type,
                 const struct ct_inst_filter *f, enum ct_inst_sort sort, bool desc, size_t offset,
                 size_t limit, uint32_t *rows, size_t *nrows, size_t *total);

/* Builds the type's order by duration now (pages beyond the first and
 * last ranks need it; it takes a radix sort of the type's items), so that
 * a later page does not wait for it. 0, or -1 without memory. */
int ct_inst_order(struct ct_instances *ix, struct ct_inst_set *s, size_t type);

/* A task by id: its index, or -1. */
long ct_inst_task(const struct ct_instances *ix, uint64_t id);
/* The threads of task i (its first, then the others it ran on), at most
 * max into tids; how many there are. */
size_t ct_inst_task_threads(const struct ct_instances *ix, size_t i, uint64_t *tids, size_t max);

/* Logs: those whose category or message holds q (any case; "" all), of
 * thread tid (0 any), of task `task` (index + 1; 0 any), in [t0, t1). */
struct ct_log_filter {
    const char *q;
    uint64_t tid;
    uint32_t task;
    int64_t t0, t1;
};
/* As ct_inst_page, by time (desc: latest first). */
int ct_inst_logs_page(const struct ct_instances *ix, const struct ct_log_filter *f, bool desc,
                      size_t offset, size_t limit, uint32_t *rows, size_t *nrows, size_t *total);

/* The regions of task i (index), of any type, that overlap [t0, t1), by
 * begin: ranks [offset, offset + limit) into rows, the count in *total. */
int ct_inst_task_regions(const struct ct_instances *ix, size_t i, int64_t t0, int64_t t1,
                         size_t offset, size_t limit, uint32_t *rows, size_t *nrows,
                         size_t *total);

#endif
