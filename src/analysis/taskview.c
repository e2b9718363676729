/*
 * taskview.c - the tasks of one type, each with where its time went
 * (`ctrace tasks --type=T`).
 *
 * A thread works for a task while its innermost open region belongs to
 * that task; the thread analysis (threads.c) says, for every stretch of
 * time, whether the thread ran, waited for a CPU, or blocked and why, and
 * that stretch goes to the task's columns. Two passes: the first finds the
 * tasks of the type (by id), the second attributes time, threads and logs.
 * Memory: the tasks of that type and each thread's open regions.
 */
#include "taskview.h"

#include <stdlib.h>
#include <string.h>

#include "idset.h"

struct thread_regions {
    uint64_t tid;
    uint64_t tasks[64]; /* the task of each open region, innermost last */
    unsigned depth;
};

struct view {
    struct ct_task_view *out;
    struct thread_regions *threads;
    size_t nthreads;
};

static struct ct_task_row *row_of(struct ct_task_view *v, uint64_t id)
{
    for (size_t i = 0; i < v->count; i++)
        if (v->rows[i].id == id)
            return &v->rows[i];
    return NULL;
}

static struct thread_regions *regions_of(struct view *w, uint64_t tid)
{
    for (size_t i = 0; i < w->nthreads; i++)
        if (w->threads[i].tid == tid)
            return &w->threads[i];
    struct thread_regions *t = realloc(w->threads, (w->nthreads + 1) * sizeof *t);
    if (!t)
        return NULL;
    w->threads = t;
    memset(&t[w->nthreads], 0, sizeof *t);
    t[w->nthreads].tid = tid;
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
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_next_event(rd, &it, &ev)) == 1) {
                if (ev.kind != CT_EV_TASK_BEGIN || !type_is(&gen, ev.args[2], type))
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
    struct thread_regions *t = regions_of(w, r->tid);
    if (!t || t->depth == 0)
        return;
    struct ct_task_row *row = row_of(w->out, t->tasks[t->depth - 1]);
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
    struct thread_regions *t = regions_of(w, r->tid);
    if (!t)
        return;
    struct ct_task_row *row = NULL;
    switch (ev->kind) {
    case CT_EV_REGION_BEGIN:
        if (t->depth < 64)
            t->tasks[t->depth] = ev->args[0];
        t->depth++;
        row = row_of(w->out, ev->args[0]);
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
        row = row_of(w->out, ev->args[0]);
        if (row && ev->kind == CT_EV_TASK_END)
            row->end_ns = ev->ts_ns;
        break;
    case CT_EV_LOG:
        row = row_of(w->out, ev->args[0]);
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
    struct ct_visitor v = {&w, on_interval, on_event};
    struct ct_threads t;
    int rc = ct_threads_visit(rd, &t, &v);
    ct_threads_free(&t);
    free(w.threads);
    return rc;
}

void ct_task_view_free(struct ct_task_view *v)
{
    free(v->rows);
    memset(v, 0, sizeof *v);
}
