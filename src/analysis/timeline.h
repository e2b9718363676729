/*
 * timeline.h - the index behind `ctrace view`'s timeline (timeline.c).
 *
 * Built in one pass over the trace (the thread analysis's visitor): each
 * thread's states as spans (adjacent spans of one state merged), its
 * regions, the CPUs' runs, tasks, logs, counters and wake-ups, in arrays
 * sorted by time. A query for [t0, t1] at px pixels answers with at most a
 * few items per pixel per lane: spans of a pixel or more as they are, and
 * shorter ones summed into per-pixel summaries (the state that took most of
 * the pixel, and how many spans it stands for), so the browser never holds
 * more than the screen shows, whatever the trace's size.
 */
#ifndef CT_TIMELINE_H
#define CT_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../format/reader.h"
#include "symbols.h"
#include "threads.h"

struct tl_span {
    int64_t b, e;
    uint64_t object;
    uint32_t stack; /* index + 1 in the stack table; 0: none */
    uint8_t col;    /* enum ct_column */
    uint8_t reason;
    uint16_t pad;
};

struct tl_region {
    int64_t b, e;
    uint64_t task;
    uint32_t type; /* string index */
    uint32_t depth;
};

struct tl_lane {
    uint64_t tid;
    char name[16];
    char function[96];
    bool exited;
    struct tl_span *spans;
    size_t nspans, spans_cap;
    struct tl_region *regions;
    size_t nregions, regions_cap;
    int64_t longest_region;
    uint32_t max_depth;
    /* Coarse buckets of the whole trace (a power of two, up to
     * CT_TL_BUCKETS, about one per 8 items), for zoomed-out queries: the spans and regions shorter than a bucket,
     * summed per bucket (the state that took most of it; how many), and
     * the longer ones listed by index. */
    long nbuckets;     /* 0: none (few items; queries read them all) */
    int64_t bucket_ns;
    uint8_t *span_bucket_col;
    uint32_t *span_bucket_n, *region_bucket_n;
    uint32_t *long_spans, *long_regions;
    size_t nlong_spans, nlong_regions;
    /* While building. */
    struct { int64_t b; uint32_t type; uint64_t task; uint32_t depth; } open[32];
    unsigned nopen;
    uint64_t pending_object;
    uint32_t pending_stack;
    bool on_cpu;
    int cpu;
    int64_t cpu_since;
};

struct tl_run { int64_t b, e; uint64_t tid; };
struct tl_cpu { int cpu; struct tl_run *runs; size_t n, cap; };
struct tl_sample { int64_t t; uint64_t v; };
struct tl_counter { unsigned kind; struct tl_sample *s; size_t n, cap; };
struct tl_log { int64_t t; uint64_t tid, task; uint32_t category, text, len; };
struct tl_task { uint64_t id, parent, tid; uint32_t type; int64_t b, e; uint32_t row; };
/* e < 0 while open; the timeline's task rows: CT_TL_TASK_ROWS, packed. */
#define CT_TL_TASK_ROWS 8

#define CT_TL_BUCKETS 262144

struct ct_timeline {
    int64_t begin, end;
    bool sched;
    struct tl_lane *lanes;
    size_t nlanes;
    struct tl_cpu *cpus;
    size_t ncpus;
    struct tl_counter counters[8];
    size_t ncounters;
    struct tl_log *logs;
    size_t nlogs, logs_cap;
    struct tl_task *tasks;
    size_t ntasks, tasks_cap;
    struct tl_task *task_bars; /* by begin, each in a row */
    int64_t longest_task;
    unsigned task_rows;
    struct ct_wake_link *wakes; /* who woke whom (threads.h), by unblock time */
    size_t nwakes;
    /* Strings (types, categories, names) and log texts, deduplicated. */
    char *text;
    size_t text_len, text_cap;
    uint32_t *strings; /* offsets into text, NUL-terminated */
    size_t nstrings, strings_cap;
    uint64_t *string_hash;
    size_t string_slots;
    /* Stacks: frames, deduplicated. */
    uint64_t *frames;
    size_t nframes, frames_cap;
    struct { uint32_t at, n; uint64_t hash; } *stacks;
    size_t nstacks, stacks_cap;
    struct ct_symbols *symbols;
    uint64_t events;
    /* Building. */
    struct ct_wakes raw_wakes;
};

/* The coarse bucket of a lane that time t falls in (clamped). */
static inline long ct_tl_bucket_of(const struct ct_timeline *tl, const struct tl_lane *l,
                                   int64_t t)
{
    long b = (long)((t - tl->begin) / l->bucket_ns);
    return b < 0 ? 0 : b >= l->nbuckets ? l->nbuckets - 1 : b;
}

/* Reads the whole trace into the index. progress(done, total) is called as
 * the reader goes (may be NULL). 0, or -1 with the error in rd. */
int ct_timeline_build(struct ct_reader *rd, struct ct_timeline *tl,
                      void (*progress)(uint64_t done, uint64_t total));
void ct_timeline_free(struct ct_timeline *tl);

/* The answers of `ctrace view`'s server, as JSON. */
void ct_timeline_summary_json(const struct ct_timeline *tl, FILE *out);
/* -1 when the range or px is out of bounds. */
int ct_timeline_query_json(const struct ct_timeline *tl, int64_t t0, int64_t t1, unsigned px,
                           FILE *out);
/* One span of a thread: its state, reason, object, symbolized stack, the
 * region and task it is in, and who woke it. -1 when there is no such span. */
int ct_timeline_span_json(struct ct_timeline *tl, uint64_t tid, size_t index, FILE *out);
/* Logs whose category or message holds q (all when empty), at most limit. */
void ct_timeline_logs_json(const struct ct_timeline *tl, const char *q, size_t limit, FILE *out);
/* One task bar (an index of a query's tasks); -1 when there is none. */
int ct_timeline_task_json(const struct ct_timeline *tl, size_t index, FILE *out);
/* The tasks of a type, with their spans (for drill-down). */
void ct_timeline_tasks_json(const struct ct_timeline *tl, const char *type, size_t limit,
                            FILE *out);

#endif
