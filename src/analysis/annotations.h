/*
 * annotations.h - tasks and regions by type: how many, how long (count,
 * total, min, percentiles, max, histogram), and what did not match: ends
 * without a begin (begun before the trace), begins never ended, regions
 * ended out of order.
 *
 * The matching (a task's begin and end by id, on any threads; a region's
 * begin and end on its thread's stack of open regions) is done once, here:
 * ct_annotations_read hands each task, region and log it finds to a sink,
 * so that what lists them one by one (instances.c, ctrace view) agrees with
 * the counts by type.
 */
#ifndef CT_ANNOTATIONS_H
#define CT_ANNOTATIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../format/reader.h"
#include "latency.h"

struct ct_type_stats {
    char name[CT_MAX_STRING + 1];
    struct ct_latency latency;
    uint64_t unfinished; /* begun, never ended in the trace */
    uint64_t unmatched;  /* an end whose begin is not in the trace */
};

struct ct_annotations {
    struct ct_type_stats *tasks, *regions;
    size_t ntasks, nregions;
    uint64_t task_ends_unmatched;  /* a task end has no type: counted apart */
    uint64_t regions_out_of_order; /* ended while not the innermost */
    uint64_t logs;
};

/* A task as the matching found it. A task begun and ended in the trace
 * comes once both are read; one begun and never ended, or ended without a
 * begin (begun before the trace), comes at the end of the reading. */
struct ct_ann_task {
    uint64_t id, parent;
    uint32_t type;       /* index in tasks; UINT32_MAX when not begun in the trace */
    bool begun, ended;
    int64_t begin, end;  /* valid when begun, ended */
    uint64_t begin_tid, end_tid;
};

/* A region begun in the trace, once ended (or at the end of the reading,
 * still open: end is then its thread's last event). */
struct ct_ann_region {
    uint32_t type, depth; /* depth 1: outermost */
    uint64_t tid, task;
    int64_t begin, end;
    bool ended;
};

struct ct_ann_sink {
    void *ctx;
    void (*task)(void *ctx, const struct ct_ann_task *t);       /* may be NULL */
    void (*region)(void *ctx, const struct ct_ann_region *r);   /* may be NULL */
    /* Each log event (args: task, category string; bytes: the message). */
    void (*log)(void *ctx, const struct ct_gen *gen, const struct ct_event *ev); /* may be NULL */
    /* After each generation, with the bytes read so far: false stops the
     * reading (may be NULL). */
    bool (*progress)(void *ctx, uint64_t done, uint64_t total);
};

/* One pass over rd: the counts by type into out, and each task, region and
 * log to sink (may be NULL). 0, or -1 on a failure of its own (memory) or
 * when the sink's progress stopped it; out is to be freed either way. A
 * damaged trace is read up to the damage: 0, with rd->failed and rd->error
 * set (the caller reports it). */
int ct_annotations_read(struct ct_reader *rd, struct ct_annotations *out,
                        const struct ct_ann_sink *sink);
/* The same without a sink. */
int ct_annotations_compute(struct ct_reader *rd, struct ct_annotations *out);
void ct_annotations_free(struct ct_annotations *a);

#endif
