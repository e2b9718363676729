/*
 * taskview.c - the tasks of one type, each with where its time went
 * (`ctrace tasks --type=T`, and ctrace view's task lists).
 *
 * A thread works for a task while its innermost open region belongs to
 * that task; the thread analysis (threads.c) says, for every stretch of
 * time, whether the thread ran, waited for a CPU, or blocked and why, and
 * that stretch goes to the task's columns. For the command: two passes,
 * the first finds the tasks of the type, the second attributes time,
 * threads and logs, each event found its task and thread through a table
 * (memory: the tasks of that type and each thread's open regions). For the
 * view: one task at a time, its threads read again over its time from the
 * timeline index's marks (replay.h).
 */
#include "taskview.h"

#include <stdlib.h>
#include <string.h>

#include "replay.h"

struct thread_regions {
    uint64_t tid;
    uint64_t tasks[64]; /* the task of each open region, innermost last */
    unsigned depth;
};

struct view {
    struct ct_task_view *out;
    uint32_t *slots; /* task id -> row + 1, open addressing */
    size_t nslots;
    struct thread_regions *threads;
    size_t nthreads;
};

static size_t slot_of(uint64_t id, size_t n)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdu;
    return (size_t)(id ^ (id >> 33)) & (n - 1);
}

static int index_rows(struct view *w)
{
    size_t n = 64;
    while (n < w->out->count * 2 + 2)
        n *= 2;
    w->slots = calloc(n, sizeof *w->slots);
    if (!w->slots)
        return -1;
    w->nslots = n;
    for (size_t i = 0; i < w->out->count; i++) {
        size_t k = slot_of(w->out->rows[i].id, n);
        while (w->slots[k])
            k = (k + 1) & (n - 1);
        w->slots[k] = (uint32_t)i + 1;
    }
    return 0;
}

static struct ct_task_row *row_of(struct view *w, uint64_t id)
{
    if (!w->nslots)
        return NULL;
    for (size_t k = slot_of(id, w->nslots); w->slots[k]; k = (k + 1) & (w->nslots - 1))
        if (w->out->rows[w->slots[k] - 1].id == id)
            return &w->out->rows[w->slots[k] - 1];
    return NULL;
}

/* A thread's open regions, remembered in its row of the analysis. */
static struct thread_regions *regions_of(struct view *w, const struct ct_thread_row *r)
{
    if (r->user && r->user <= w->nthreads && w->threads[r->user - 1].tid == r->tid)
        return &w->threads[r->user - 1];
    for (size_t i = 0; i < w->nthreads; i++)
        if (w->threads[i].tid == r->tid) {
            ((struct ct_thread_row *)r)->user = (uint32_t)i + 1;
            return &w->threads[i];
        }
    struct thread_regions *t = realloc(w->threads, (w->nthreads + 1) * sizeof *t);
    if (!t)
        return NULL;
    w->threads = t;
    memset(&t[w->nthreads], 0, sizeof *t);
    t[w->nthreads].tid = r->tid;
    ((struct ct_thread_row *)r)->user = (uint32_t)w->nthreads + 1;
    return &t[w->nthreads++];
}

static bool type_is(const struct ct_gen *gen, uint64_t string, const char *type)
{
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, string);
    return e && e->len == strlen(type) && memcmp(e->data, type, e->len) == 0;
}

static void add_thread(struct ct_task_row *r, uint64_t tid)
{
    for (unsigned i = 0; i < r->nthreads; i++)
        if (r->threads[i] == tid)
            return;
    if (r->nthreads < CT_TASK_THREADS)
        r->threads[r->nthreads++] = tid;
}

/* Pass 1: the tasks of the type. */
static int find_tasks(struct ct_reader *rd, struct ct_task_view *v, const char *type)
{
    struct ct_gen gen = {0};
    int r;
    while ((r = ct_rd_next_gen(rd, &gen)) == 1) {
        for (size_t b = 0; b < gen.nbatches && r >= 0; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            uint64_t counts[CT_MAX_KINDS];
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_skim_events(rd, &it, 1ull << CT_EV_TASK_BEGIN, counts, &ev)) == 1) {
                if (!type_is(&gen, ev.args[2], type))
                    continue;
                if (v->count == v->cap) {
                    size_t cap = v->cap ? v->cap * 2 : 64;
                    struct ct_task_row *rows = realloc(v->rows, cap * sizeof *rows);
                    if (!rows) {
                        ct_gen_free(&gen);
                        return -1;
                    }
                    v->rows = rows;
                    v->cap = cap;
                }
                struct ct_task_row *row = &v->rows[v->count++];
                memset(row, 0, sizeof *row);
                row->id = ev.args[0];
                row->parent = ev.args[1];
                row->begin_ns = ev.ts_ns;
                row->end_ns = INT64_MIN;
            }
        }
        if (r < 0)
            break;
    }
    ct_gen_free(&gen);
    return 0; /* a damaged trace: the tasks before the damage */
}

static void on_interval(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                        int64_t begin, int64_t end)
{
    struct view *w = ctx;
    struct thread_regions *t = regions_of(w, r);
    if (!t || t->depth == 0)
        return;
    struct ct_task_row *row = row_of(w, t->tasks[t->depth - 1 < 64 ? t->depth - 1 : 63]);
    if (!row)
        return;
    uint64_t d = ct_span_ns(begin, end);
    row->ns[column] += d;
    if (column == CT_COL_SYNC && reason < CT_SYNC_REASONS)
        row->sync_ns[reason] += d;
}

static void on_event(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    (void)rd;
    (void)gen;
    struct view *w = ctx;
    struct thread_regions *t = regions_of(w, r);
    if (!t)
        return;
    struct ct_task_row *row = NULL;
    switch (ev->kind) {
    case CT_EV_REGION_BEGIN:
        if (t->depth < 64)
            t->tasks[t->depth] = ev->args[0];
        t->depth++;
        row = row_of(w, ev->args[0]);
        if (row)
            row->regions++;
        break;
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT:
        if (t->depth > 0)
            t->depth--;
        break;
    case CT_EV_TASK_BEGIN:
    case CT_EV_TASK_END:
        row = row_of(w, ev->args[0]);
        if (row && ev->kind == CT_EV_TASK_END)
            row->end_ns = ev->ts_ns;
        break;
    case CT_EV_LOG:
        row = row_of(w, ev->args[0]);
        if (row)
            row->logs++;
        break;
    }
    if (row)
        add_thread(row, r->tid);
}

int ct_task_view(const char *path, const char *type, struct ct_task_view *out,
                 struct ct_reader *rd)
{
    memset(out, 0, sizeof *out);
    if (ct_rd_open(rd, path) != 0)
        return -1;
    if (find_tasks(rd, out, type) != 0)
        return -1;
    ct_rd_close(rd);
    if (ct_rd_open(rd, path) != 0)
        return -1;
    struct view w = {.out = out};
    if (index_rows(&w) != 0)
        return -1;
    struct ct_visitor v = {&w, on_interval, on_event, NULL, NULL};
    struct ct_threads t;
    int rc = ct_threads_visit(rd, &t, &v);
    ct_threads_free(&t);
    free(w.threads);
    free(w.slots);
    return rc;
}

void ct_task_view_free(struct ct_task_view *v)
{
    free(v->rows);
    memset(v, 0, sizeof *v);
}

/* ---- one task, its threads read again ---- */

struct task_time {
    uint64_t id;
    struct ct_task_time *out;
    uint64_t tasks[CT_TL_MAX_OPEN]; /* the task of each open region */
    uint32_t depths[CT_TL_MAX_OPEN];
    unsigned depth;
};

static void time_start(void *ctx, const struct tl_open_region *open, unsigned n)
{
    struct task_time *t = ctx;
    t->depth = 0;
    for (unsigned i = 0; i < n && i < CT_TL_MAX_OPEN; i++) {
        t->tasks[t->depth] = open[i].task;
        t->depths[t->depth++] = open[i].depth;
    }
}

static void time_interval(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                          int64_t begin, int64_t end)
{
    (void)r;
    struct task_time *t = ctx;
    if (t->depth == 0 || t->tasks[t->depth - 1] != t->id)
        return;
    uint64_t d = ct_span_ns(begin, end);
    t->out->ns[column] += d;
    if (column == CT_COL_SYNC && reason < CT_SYNC_REASONS)
        t->out->sync_ns[reason] += d;
}

/* Regions open and close as the timeline's reading has them (timeline.c):
 * an end closes the innermost, an end out of order the one of its depth. */
static void time_event(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                       const struct ct_gen *gen, const struct ct_event *ev)
{
    (void)r, (void)rd, (void)gen;
    struct task_time *t = ctx;
    switch (ev->kind) {
    case CT_EV_REGION_BEGIN:
        if (t->depth < CT_TL_MAX_OPEN) {
            t->tasks[t->depth] = ev->args[0];
            t->depths[t->depth] = t->depth + 1;
            t->depth++;
        }
        break;
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT: {
        if (t->depth == 0)
            break;
        unsigned i = t->depth - 1;
        if (ev->kind == CT_EV_REGION_END_AT)
            for (unsigned k = 0; k < t->depth; k++)
                if (t->depths[k] == ev->args[1])
                    i = k;
        memmove(&t->tasks[i], &t->tasks[i + 1], (t->depth - i - 1) * sizeof t->tasks[0]);
        memmove(&t->depths[i], &t->depths[i + 1], (t->depth - i - 1) * sizeof t->depths[0]);
        t->depth--;
        break;
    }
    }
}

int ct_task_time(struct ct_replay *r, uint64_t id, int64_t begin, int64_t end,
                 const uint64_t *tids, size_t ntids, size_t *budget, struct ct_task_time *out)
{
    size_t cost = 0;
    for (size_t i = 0; i < ntids; i++)
        cost += ct_replay_cost(r->ix, tids[i], begin, end);
    if (cost > *budget)
        return 1;
    *budget -= cost;
    memset(out, 0, sizeof *out);
    struct task_time t = {.id = id, .out = out};
    struct ct_replay_visitor v = {&t, time_start, {&t, time_interval, time_event, NULL, NULL}};
    for (size_t i = 0; i < ntids; i++)
        if (ct_replay_thread(r, tids[i], begin, end, &v) != 0)
            return -1;
    return 0;
}
