/*
 * timeline.h - the index behind `ctrace view`'s timeline.
 *
 * A trace of gigabytes does not fit in memory as items (a span, region,
 * task or log is 24-48 bytes; an event in the file is about 5), so the
 * index keeps, from one pass over the trace (timeline.c):
 *
 *   - per lane (thread), coarse buckets: for the spans (states) and regions
 *     shorter than a bucket, how many began in it and the state that took
 *     most of it; the items of a bucket or more, as they are. Bucket widths
 *     adapt as the trace is read (pairs merge when a lane's buckets run out),
 *     so memory follows a lane's items, up to CT_TL_BUCKETS buckets;
 *   - per lane, a mark where each of its batches begins, with what the
 *     reading knew there (the thread analysis's state machine, the open
 *     regions, the span in progress): about 100 bytes per 32 KiB batch;
 *   - the same buckets for tasks and logs; the CPUs' runs, the counters,
 *     the wake-ups, the strings and stacks, whole.
 *
 * A query for [t0, t1] at px pixels that covers few enough batches is
 * answered exactly from a window (timeline_window.c): those batches read
 * again from the file, each lane from its mark before t0, into a timeline
 * of their own with every item. A wider one is answered from the buckets.
 * Either way at most a few items per pixel per lane go to the browser:
 * items of a pixel or more as they are, shorter ones summed into per-pixel
 * summaries (timeline_json.c).
 */
#ifndef CT_TIMELINE_H
#define CT_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../format/reader.h"
#include "symbols.h"
#include "threads.h"

/* A span of one state. A span inside an activity of its thread (a block,
 * or a system call: from its block or syscall event to its unblock or the
 * call's end) carries that activity: when it began, its reason or call,
 * object, descriptor and stack. Every piece of the activity (running before
 * the thread went off its CPU, off it, runnable once woken) names the same
 * one, and a span outside any carries none: details are the span's own. */
struct tl_span {
    int64_t b, e;
    int64_t since;  /* the activity's begin; TL_NO_ACTIVITY: none */
    uint64_t object; /* a block's object; a call's descriptor */
    uint32_t stack; /* index + 1 in the stack table; 0: none */
    uint8_t col;    /* enum ct_column */
    uint8_t reason; /* the activity's: a block's reason or a call (reasons.def) */
    uint8_t fd_class; /* a call's descriptor's class (CT_FD_*) */
    uint8_t flags;  /* TL_SPAN_CALL: the activity is a call; TL_SPAN_WAKEABLE:
                       another thread's wake may end it (a lock, a condvar, a
                       semaphore, a join; a read of a pipe or eventfd) */
};
#define TL_NO_ACTIVITY INT64_MIN
#define TL_SPAN_CALL 1
#define TL_SPAN_WAKEABLE 2
#define TL_SPAN_SYSNO 4 /* a call the kernel saw (a call event without a
                           wrapped call): reason | fd_class << 8 is its
                           system call's number + 1, 0 unknown */

struct tl_region {
    int64_t b, e;
    uint64_t task;
    uint32_t type; /* string index */
    uint32_t depth;
};

struct tl_open_region {
    int64_t b;
    uint64_t task;
    uint32_t type, depth;
};

#define CT_TL_MAX_OPEN 32

/* What a lane's reading knows at a point: the thread analysis's state
 * machine (threads.h), and the timeline's own. A mark saves it (without
 * the unused open slots); a window starts from it. */
struct tl_state {
    int64_t at, activity_end;
    int32_t cpu_state, activity;
    uint32_t reason;
    int32_t cpu; /* the CPU it runs on, -1 unknown */
    int64_t cpu_since;
    /* The last activity begun (a block, a call): what its spans carry. */
    uint64_t pending_object;
    int64_t pending_since; /* when it began */
    uint32_t pending_stack;
    uint8_t pending_reason, pending_class, pending_flags;
    bool on_cpu, has_cur;
    bool switches, runnable, sampled; /* the thread row's */
    /* The row's: nothing accounted yet (ct_row_untouched); off a CPU
     * from off_before until its first switch in, not yet given. */
    bool fresh, off_before_set;
    int64_t off_before;
    uint8_t nopen;
    /* A sampled thread's: what the samples say it ran and waited beyond
     * what the columns have (give_sampled), as the row had them. */
    int64_t run_owed, wait_owed;
    struct tl_span cur; /* the span being extended */
    struct tl_open_region open[CT_TL_MAX_OPEN];
};

/* Where a lane's reading can start again: before its batch `batch` of
 * generation `gen` (first: before anything of it in that generation). */
struct tl_mark {
    int64_t t;      /* the state's time: what came before is in it */
    int64_t tb;     /* the batch's base time: its events are no earlier, the
                       thread's earlier batches' no later (the last mark's
                       without a batch) */
    uint32_t gen;   /* index in the timeline's gens */
    uint32_t batch; /* in that generation, file order; UINT32_MAX: none */
    uint32_t state; /* offset of the saved tl_state in the timeline's states */
    bool first;
};

/* Coarse summaries of items over the trace's time: bucket k holds the
 * items that begin in [origin + k * bucket_ns, + bucket_ns) and are
 * shorter than bucket_ns: how many, their weight per slot (a state), the
 * heaviest slot once built, and a tag (the first item's). */
struct tl_grid {
    int64_t origin, bucket_ns; /* 1 << shift */
    unsigned shift;
    long n, cap, max; /* buckets used, allocated, allowed now */
    unsigned slots;
    bool tagged;
    uint32_t *count;
    float *weight;   /* [cap * slots] while building */
    uint8_t *key;    /* the heaviest slot, once built */
    uint64_t *tag;   /* NULL unless asked for */
};

#define CT_TL_BUCKETS (1L << 18)

struct tl_lane {
    uint64_t tid;
    char name[16];
    char function[96];
    bool exited;
    uint64_t nspans, nregions; /* in the trace */
    int64_t longest_region;
    uint32_t max_depth;
    /* The index: the spans and regions of a bucket or more (by begin);
     * a window: all it read (by begin). */
    struct tl_span *spans;
    size_t nspan_items, spans_cap;
    struct tl_region *regions;
    size_t nregion_items, regions_cap;
    struct tl_grid span_grid, region_grid; /* the index's */
    struct tl_mark *marks;
    size_t nmarks, marks_cap;
    int64_t read_from, read_to; /* a window: where its reading began, ended */
    struct tl_state st; /* while reading */
    /* Events it lost (LOST records, lost events), in all and where: up to
     * CT_TL_LOSSES spans, a later or overlapping one merged into the last. */
    uint64_t lost;
    struct tl_loss { int64_t b, e; uint64_t n; } *losses;
    size_t nlosses, losses_cap;
};
#define CT_TL_LOSSES 256

struct tl_run { int64_t b, e; uint64_t tid; };
/* A CPU's runs: in the index those of a bucket or more (short ones in its
 * grid, tagged with the first one's thread); in a window all it read. */
struct tl_cpu { int cpu; struct tl_run *runs; size_t n, cap; struct tl_grid grid; };
struct tl_sample { int64_t t; uint64_t v; };
struct tl_counter { unsigned kind; struct tl_sample *s; size_t n, cap; };
struct tl_log { int64_t t; uint64_t tid, task; uint32_t category, text, len; };
struct tl_task { uint64_t id, parent, tid; uint32_t type; int64_t b, e; uint32_t row; };
/* e < 0 while open; the timeline's task rows: CT_TL_TASK_ROWS, packed. */
#define CT_TL_TASK_ROWS 8

struct tl_gen {
    uint64_t offset, end_offset;
    int64_t begin; /* its base time */
    uint64_t defs_end; /* the string and stack definitions lie before */
};

/* A generation read again for windows, kept for the next ones. */
#define CT_TL_GEN_CACHE 4
struct tl_gen_slot {
    uint32_t index; /* in gens; UINT32_MAX: empty */
    uint64_t used;
    struct ct_gen gen;
};

struct ct_timeline {
    int64_t begin, end;
    bool sched;
    uint64_t pid, ncpu; /* the process's (its PROCESS record), 0 unknown */
    struct tl_lane *lanes;
    size_t nlanes;
    struct tl_cpu *cpus;
    size_t ncpus;
    struct tl_counter counters[8];
    size_t ncounters;
    /* The index: the tasks of a bucket or more; a window: all it read. */
    struct tl_task *tasks;
    size_t ntask_items, tasks_cap;
    struct tl_task *task_bars; /* by begin, each in a row */
    size_t task_bars_cap;
    int64_t longest_task;
    unsigned task_rows;
    struct tl_log *logs; /* a window's */
    size_t nlogs, logs_cap;
    uint64_t ntasks, nlog_events; /* in the trace */
    struct tl_grid task_grid, log_grid; /* the index's; tags: type, tid */
    struct ct_wake_link *wakes; /* a window's: who woke whom (threads.h), by
                                   unblock time */
    size_t nwakes;
    struct tl_grid wake_grid;   /* the index's: wakes counted by time */
    uint64_t nwake_events;
    /* Strings (types, categories, names) and a window's log texts. */
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
    struct ct_threads threads; /* the thread analysis, read on the way */
    /* Reading again (the index): the generations, the saved states, the
     * file's bytes, and the last window. */
    struct tl_gen *gens;
    size_t ngens, gens_cap;
    uint8_t *states;
    size_t states_len, states_cap;
    struct ct_reader src;
    bool src_mapped, src_open;
    struct tl_gen_slot cache[CT_TL_GEN_CACHE];
    uint64_t clock;
    struct ct_timeline *window;
    /* A window: the index it reads for (strings, stacks), what it read. */
    struct ct_timeline *index;
    int64_t w0, w1;
    /* In a process tree's view (timeline_tree.c): what this trace's answers
     * add to a thread id (0, or its image << 32 when one of its tids is
     * another image's too), to a string index (the strings of the images
     * before it) and to a task row; its image. 0 for one trace alone. */
    uint64_t json_tid_base;
    uint32_t json_string_base, json_row_base;
    uint32_t json_image;
    bool json_tree;
    char json_counter_suffix[48]; /* after a counter's name: " (pid N)" */
    /* Building. */
    struct ct_wakes raw_wakes;
    struct tl_open_task *open_tasks;
    size_t open_cap, open_used, open_live;
};

/* Reads the whole trace from `pass` (streamed or not, not read yet) into
 * the index; `src` (mapped or in memory, the same file) is what windows
 * read again later: it must stay open while the index is used. The
 * threads are split between `parts` readers, one a core
 * (timeline_build.c; 0: one per core for a trace of 64 MiB or more).
 * progress(done, total) is called as the reader goes (may be NULL). 0, or
 * -1 with the error in pass; a damaged trace is indexed up to the damage:
 * 0, with pass->failed and its error set. */
int ct_timeline_build(struct ct_reader *pass, const struct ct_reader *src, struct ct_timeline *tl,
                      unsigned parts,
                      void (*progress)(uint64_t done, uint64_t total));
void ct_timeline_free(struct ct_timeline *tl);

/* timeline.c, for timeline_window.c: a string's and a stack's index. */
uint32_t ct_tl_string(struct ct_timeline *tl, const void *s, size_t len);
/* timeline_window.c: the window that covers [t0, t1] exactly (the last one
 * when it does), or NULL when that is more than `budget` batches (0: no
 * limit) or cannot be read. */
struct ct_timeline *ct_tl_window(struct ct_timeline *ix, int64_t t0, int64_t t1, size_t budget);
/* The marks of a lane a reading of [t0, t1] starts and ends at (a window,
 * a task's time read again), by the times of their batches (a thread's
 * events are in time order from batch to batch, but a batch may be filed
 * in a generation after the switches that came later: a mark's state time
 * is no bound on its batch, and a mark without a batch has its last
 * one's): the last whose batch and state are at or before t0, the first
 * at or after t1, in *a and *z. How many batches; 0 without marks. */
size_t ct_tl_mark_range(const struct tl_lane *l, int64_t t0, int64_t t1, size_t *a, size_t *z);
/* What mark m saved, into st (its open regions included) and the thread
 * analysis row r that reads on from there. The state's time. */
int64_t ct_tl_restore(const struct ct_timeline *ix, const struct tl_mark *m, struct tl_state *st,
                      struct ct_thread_row *r);
/* One of the index's long tasks by id (never ended ones included), or NULL. */
const struct tl_task *ct_tl_long_task(const struct ct_timeline *ix, uint64_t id);
/* Forgets the last window. */
void ct_tl_window_drop(struct ct_timeline *ix);
/* The batches a window for [t0, t1] would read. */
size_t ct_tl_window_batches(const struct ct_timeline *ix, int64_t t0, int64_t t1);
/* A window's items, freed (timeline.c); kept for the next window's use. */
void ct_tl_window_free(struct ct_timeline *w);
/* ---- inside: timeline.c for timeline_build.c and timeline_window.c ---- */

struct tl_open_task {
    struct tl_task t;
    bool has_begin, has_end;
};
#define TL_EMPTY 0          /* an open-task slot never used */
#define TL_GONE UINT64_MAX   /* one whose task was done */

/* Grows an array (doubling, from init); false without memory. */
static inline bool ct_tl_grow_array(void **arr, size_t *cap, size_t size, size_t init)
{
    size_t c = *cap ? *cap * 2 : init;
    void *p = realloc(*arr, c * size);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}
#define CT_TL_GROW(arr, n, cap, init)                                         \
    ((n) < (cap) || ct_tl_grow_array((void **)&(arr), &(cap), sizeof *(arr), (init)))

/* timeline_items.c */
void ct_tl_grid_init(struct tl_grid *g, int64_t origin, unsigned slots, bool tag);
bool ct_tl_grid_merge(struct tl_grid *dst, struct tl_grid *src);
void ct_tl_grid_finish(struct tl_grid *g);
void ct_tl_grid_free(struct tl_grid *g);
void ct_tl_refile(struct ct_timeline *tl);
void ct_tl_emit_span(struct ct_timeline *tl, struct tl_lane *l, const struct tl_span *sp);
void ct_tl_emit_region(struct ct_timeline *tl, struct tl_lane *l, const struct tl_region *g);
struct tl_open_task *ct_tl_open_task(struct ct_timeline *tl, uint64_t id);
void ct_tl_task_seen(struct ct_timeline *tl, struct tl_open_task *o);
void ct_tl_task_merge(struct ct_timeline *tl, const struct tl_open_task *seen);
void ct_tl_count_log(struct ct_timeline *tl, int64_t t, uint64_t tid);
void ct_tl_count_wake(struct ct_timeline *tl, int64_t t);
void ct_tl_emit_run(struct ct_timeline *tl, struct tl_cpu *c, const struct tl_run *run);
/* timeline.c */
/* A CPU's, a counter's place, added when new; NULL without room. */
struct tl_cpu *ct_tl_cpu(struct ct_timeline *tl, int cpu);
struct tl_counter *ct_tl_counter(struct ct_timeline *tl, unsigned kind);

uint32_t ct_tl_stack(struct ct_timeline *tl, const uint64_t *pcs, int n);
/* The visitor that fills a timeline; windows use it too. */
struct tl_string_memo { uint64_t id; uint32_t index; };
struct tl_builder {
    struct ct_timeline *tl;
    void (*progress)(uint64_t, uint64_t);
    struct tl_lane *last;
    uint64_t defs_seen; /* strings and stacks of the generation looked at */
    struct tl_string_memo strings[64];
    uint64_t strings_gen; /* the offset of the generation they are of */
};
struct ct_visitor ct_tl_visitor(struct tl_builder *b);
void ct_tl_finish_index(struct ct_timeline *tl, struct tl_builder *b);
void ct_tl_lane_end(struct ct_timeline *tl, struct tl_lane *l, int64_t t);
void ct_tl_finish_items(struct ct_timeline *tl);

/* The batches a window may read to answer a timeline query: 1.5 MiB of
 * the trace, read with its generations in 50 ms at most here. */
#define CT_TL_WINDOW_BUDGET 48

/* The answers of `ctrace view`'s server, as JSON (timeline_json.c). */
void ct_timeline_summary_json(const struct ct_timeline *tl, FILE *out);
/* Gets the memory of windows ready before serving: reads a window of about
 * half the budget in the middle of the trace (timeline_window.c), so that
 * the first request's does not pay for fresh pages. */
void ct_timeline_warm(struct ct_timeline *tl);
/* -1 when the range or px is out of bounds. */
int ct_timeline_query_json(struct ct_timeline *tl, int64_t t0, int64_t t1, unsigned px,
                           FILE *out);
/* The span of a thread at time t: its state, reason, object, symbolized
 * stack, the region and task it is in, and who woke it. -1 when there is
 * none. */
int ct_timeline_span_json(struct ct_timeline *tl, uint64_t tid, int64_t t, FILE *out);
/* Logs whose category or message holds q (all when empty), at most limit,
 * read from the file. -1 when it cannot be read. */
int ct_timeline_logs_json(struct ct_timeline *tl, const char *q, size_t limit, FILE *out);
/* The logs of thread tid (0: every thread) in [t0, t1), at most limit,
 * with how many there are; -1 when the range cannot be read. */
int ct_timeline_logs_at_json(struct ct_timeline *tl, uint64_t tid, int64_t t0, int64_t t1,
                             size_t limit, FILE *out);
/* Regions and tasks whose type holds q (or the task whose id is q), and
 * logs whose category or message holds q, from time `after` on, in time
 * order: at most limit, read from the file (timeline_search.c). -1 when
 * it cannot be read. */
int ct_timeline_search_json(const struct ct_timeline *tl, const char *q, int64_t after,
                            size_t limit, FILE *out);
/* Task `id`, which was under way at time t; -1 when there is none. */
int ct_timeline_task_json(struct ct_timeline *tl, uint64_t id, int64_t t, FILE *out);

/* The pieces of the summary and of a query's answer, for a process tree's
 * (timeline_tree.c), which puts several timelines' pieces in one answer:
 * each writes its items, a comma before each unless *first (then false).
 * win: the timeline's window for the query (ct_tl_window), or NULL. */
void ct_tl_summary_threads(const struct ct_timeline *tl, bool *first, FILE *out);
void ct_tl_summary_counters(const struct ct_timeline *tl, bool *first, FILE *out);
void ct_tl_summary_strings(const struct ct_timeline *tl, bool *first, FILE *out);
const char *ct_tl_state_name(int col); /* CT_COL_* */
/* ,"reasons":[...],"syscalls":[...] */
void ct_tl_summary_names(FILE *out);
/* The task rows the summary announces. */
unsigned ct_tl_task_rows_shown(const struct ct_timeline *tl);
void ct_tl_query_threads(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                         int64_t t1, double w, bool *first, FILE *out);
/* The runs of the timeline's CPU i (its index in cpus). */
void ct_tl_query_cpu(const struct ct_timeline *tl, const struct ct_timeline *win, size_t i,
                     int64_t t0, int64_t t1, double w, bool *first, FILE *out);
void ct_tl_query_counters(const struct ct_timeline *tl, int64_t t0, int64_t t1, double w,
                          bool *first, FILE *out);
void ct_tl_query_tasks(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                       int64_t t1, double w, bool *first, FILE *out);
void ct_tl_query_logs(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                      int64_t t1, double w, bool *first, FILE *out);
/* The wake-ups written (a window's), and how many lie in the range. */
uint64_t ct_tl_query_wakes(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                           int64_t t1, bool *first, FILE *out);

#endif
