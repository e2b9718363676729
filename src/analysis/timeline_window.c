/*
 * timeline_window.c - windows of `ctrace view`'s timeline (timeline.h):
 * the batches around a range read again from the file, each lane from its
 * last mark before the range with the state the mark saved, through the
 * same thread analysis and visitor as the index, into a timeline that keeps
 * every item. The generations read again are kept for the next windows
 * (CT_TL_GEN_CACHE of them); their pages are given back when they go.
 */
#include "timeline.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Generation g indexed again, with its string and stack definitions read
 * (those in the batches before where the index saw them end). */
static struct ct_gen *cached_gen(struct ct_timeline *ix, uint32_t g)
{
    struct tl_gen_slot *slot = NULL, *lru = &ix->cache[0];
    for (int i = 0; i < CT_TL_GEN_CACHE && !slot; i++) {
        if (ix->cache[i].index == g)
            slot = &ix->cache[i];
        else if (ix->cache[i].used < lru->used)
            lru = &ix->cache[i];
    }
    if (!slot) {
        slot = lru;
        if (slot->index != UINT32_MAX && ix->src_mapped) {
            /* The kernel keeps the pages cached; they leave our memory. */
            uint64_t page = 4096, from = ix->gens[slot->index].offset & ~(page - 1);
            uint64_t to = ix->gens[slot->index].end_offset;
            if (to > ix->src.size)
                to = ix->src.size;
            if (to > from)
                madvise((void *)(ix->src.data + from), to - from, MADV_DONTNEED);
        }
        ct_gen_free(&slot->gen);
        slot->index = UINT32_MAX;
        if (ct_rd_gen_at(&ix->src, ix->gens[g].offset, &slot->gen) != 1)
            return NULL;
        for (size_t b = 0; b < slot->gen.nbatches &&
                           slot->gen.batches[b].offset < ix->gens[g].defs_end; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            uint64_t counts[CT_MAX_KINDS];
            int r;
            ct_rd_events(&slot->gen, b, &it);
            while ((r = ct_rd_skim_events(&ix->src, &it, 0, counts, &ev)) == 1)
                ;
            if (r < 0) {
                ct_gen_free(&slot->gen);
                return NULL;
            }
        }
        slot->index = g;
    }
    slot->used = ++ix->clock;
    return &slot->gen;
}

size_t ct_tl_mark_range(const struct tl_lane *l, int64_t t0, int64_t t1, size_t *a, size_t *z)
{
    size_t n = l->nmarks, lo = 0, hi = n;
    if (!n)
        return 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l->marks[mid].tb <= t0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *a = lo ? lo - 1 : 0;
    /* A mark's state may be later than its batch's base time (switches
     * from the kernel's rings accounted before the batch was): reading
     * begins at a mark whose state is no later than t0. */
    while (*a > 0 && l->marks[*a].t > t0)
        --*a;
    for (hi = n; lo < hi;) {
        size_t mid = (lo + hi) / 2;
        if (l->marks[mid].tb < t1)
            lo = mid + 1;
        else
            hi = mid;
    }
    *z = lo < n ? lo : n - 1;
    if (*z < *a)
        *z = *a;
    return *z - *a + 1;
}

size_t ct_tl_window_batches(const struct ct_timeline *ix, int64_t t0, int64_t t1)
{
    size_t total = 0, a, z;
    for (size_t i = 0; i < ix->nlanes; i++)
        total += ct_tl_mark_range(&ix->lanes[i], t0, t1, &a, &z);
    return total;
}

/* Restores what mark m saved into a lane and its thread analysis row. */
int64_t ct_tl_restore(const struct ct_timeline *ix, const struct tl_mark *m, struct tl_state *st,
                      struct ct_thread_row *r)
{
    memset(st, 0, sizeof *st);
    memcpy(st, ix->states + m->state, offsetof(struct tl_state, open));
    if (st->nopen > CT_TL_MAX_OPEN)
        st->nopen = CT_TL_MAX_OPEN;
    memcpy(st->open, ix->states + m->state + offsetof(struct tl_state, open),
           st->nopen * sizeof st->open[0]);
    r->at = r->begin_ns = r->end_ns = st->at;
    r->activity_end = st->activity_end;
    r->cpu = st->cpu_state;
    r->activity = st->activity;
    r->switches = st->switches;
    r->runnable = st->runnable;
    r->reason = st->reason;
    r->sampled = st->sampled;
    r->resumed = !st->fresh;
    r->off_before_set = st->off_before_set;
    r->off_before = st->off_before;
    r->given_run = r->given_wait = 0; /* what the samples owe, as the mark had it */
    r->kernel_run = (uint64_t)st->run_owed;
    r->kernel_wait = (uint64_t)st->wait_owed;
    return st->at;
}

const struct tl_task *ct_tl_long_task(const struct ct_timeline *ix, uint64_t id)
{
    for (size_t i = 0; i < ix->ntask_items; i++)
        if (ix->tasks[i].id == id)
            return &ix->tasks[i];
    return NULL;
}

static bool add_task(struct ct_timeline *w, const struct tl_task *t)
{
    if (w->ntask_items == w->tasks_cap) {
        size_t cap = w->tasks_cap ? w->tasks_cap * 2 : 64;
        struct tl_task *grown = realloc(w->tasks, cap * sizeof *grown);
        if (!grown)
            return false;
        w->tasks = grown;
        w->tasks_cap = cap;
    }
    w->tasks[w->ntask_items++] = *t;
    return true;
}

/* Reads window w's range; 0, or -1 when the file cannot be read again. */
static int window_read(struct ct_timeline *ix, struct ct_timeline *w)
{
    w->index = ix;
    w->begin = ix->begin;
    w->end = ix->end;
    w->sched = ix->sched;
    if (!w->lanes)
        w->lanes = calloc(ix->nlanes ? ix->nlanes : 1, sizeof *w->lanes);
    /* Per lane: the state time its reading began from, and its first
     * batch's base time (the thread's events before it were not read). */
    int64_t *from = calloc(ix->nlanes ? ix->nlanes : 1, 2 * sizeof *from);
    int64_t *batch_from = from ? from + ix->nlanes : NULL;
    struct ct_threads th = {0};
    th.rows = calloc(ix->nlanes ? ix->nlanes : 1, sizeof *th.rows);
    int rc = w->lanes && from && th.rows ? 0 : -1;
    struct tl_builder b = {.tl = w};
    struct ct_visitor v = ct_tl_visitor(&b);
    th.visitor = &v;
    th.sched = ix->sched;
    th.count = th.cap = ix->nlanes;
    w->nlanes = w->lanes ? ix->nlanes : 0;
    for (size_t i = 0; i < w->nlanes; i++) {
        const struct tl_lane *L = &ix->lanes[i];
        struct tl_lane *W = &w->lanes[i];
        W->tid = th.rows[i].tid = L->tid;
        memcpy(W->name, L->name, sizeof W->name);
        memcpy(W->function, L->function, sizeof W->function);
        W->exited = L->exited;
        from[i] = batch_from[i] = INT64_MAX;
    }
    for (size_t i = 0; i < w->nlanes && rc == 0; i++) {
        const struct tl_lane *L = &ix->lanes[i];
        struct ct_thread_row *r = &th.rows[i];
        const struct ct_thread_row *whole = NULL; /* the index's row */
        for (size_t k = 0; k < ix->threads.count && !whole; k++)
            if (ix->threads.rows[k].tid == L->tid)
                whole = &ix->threads.rows[k];
        size_t a, z;
        if (!ct_tl_mark_range(L, w->w0, w->w1, &a, &z)) {
            /* Never a batch of its own: as it began, to its end. */
            if (whole) {
                ct_threads_row_init(r, L->tid, whole->begin_ns);
                w->lanes[i].st.cpu = -1;
                ct_threads_account(&th, r, whole->end_ns);
                w->lanes[i].read_to = r->at;
                ct_tl_lane_end(w, &w->lanes[i], r->at);
            }
            continue;
        }
        const struct tl_mark *m = L->marks;
        from[i] = w->lanes[i].read_from = ct_tl_restore(ix, &m[a], &w->lanes[i].st, r);
        batch_from[i] = m[a].batch == UINT32_MAX ? from[i] : m[a].tb;
        for (size_t k = a; k <= z && rc == 0;) {
            size_t k2 = k;
            while (k2 < z && m[k2 + 1].gen == m[k].gen)
                k2++;
            bool mid = k == a && !m[a].first; /* inside a generation */
            struct ct_gen *gen = cached_gen(ix, m[k].gen);
            b.last = NULL;
            if (!gen || ct_threads_resume(&ix->src, gen, &th, L->tid, mid ? m[a].batch : SIZE_MAX,
                                          m[k2].batch == UINT32_MAX ? SIZE_MAX : m[k2].batch,
                                          mid ? from[i] : INT64_MIN) != 0)
                rc = -1;
            k = k2 + 1;
        }
        /* Read to the lane's end: its last interval, as the index had. */
        if (z == L->nmarks - 1 && whole)
            ct_threads_account(&th, r, whole->end_ns);
        w->lanes[i].read_to = r->at;
        ct_tl_lane_end(w, &w->lanes[i], r->at);
    }
    /* Tasks: those still open where reading stopped end where the index
     * saw them end, when it kept them (long or never ended); a short one
     * ended after its thread's reading did: drawn up to there. Those begun
     * before a lane's reading began and still under way come from the
     * index (its long ones). */
    for (size_t i = 0; rc == 0 && i < w->ntask_items; i++)
        if (w->tasks[i].e < 0) {
            const struct tl_task *t = ct_tl_long_task(ix, w->tasks[i].id);
            int64_t until = w->tasks[i].b;
            for (size_t k = 0; k < w->nlanes; k++)
                if (w->lanes[k].tid == w->tasks[i].tid && w->lanes[k].read_to > until)
                    until = w->lanes[k].read_to;
            w->tasks[i].e = t ? t->e : until;
        }
    for (size_t i = 0; rc == 0 && i < ix->ntask_items; i++) {
        const struct tl_task *t = &ix->tasks[i];
        int64_t began = INT64_MAX;
        for (size_t k = 0; k < w->nlanes; k++)
            if (w->lanes[k].tid == t->tid)
                began = batch_from[k];
        bool under_way = t->b < w->w1 && (t->e < 0 || t->e > w->w0);
        if (under_way && t->b < began && !add_task(w, t))
            rc = -1;
    }
    ct_tl_finish_items(w);
    free(from);
    ct_threads_free(&th);
    return rc;
}

/* Empties a window, keeping its arrays (its lanes' too). */
static void recycle(struct ct_timeline *w)
{
    for (size_t i = 0; i < w->nlanes; i++) {
        struct tl_lane *l = &w->lanes[i];
        struct tl_span *spans = l->spans;
        struct tl_region *regions = l->regions;
        size_t spans_cap = l->spans_cap, regions_cap = l->regions_cap;
        memset(l, 0, sizeof *l);
        l->spans = spans;
        l->spans_cap = spans_cap;
        l->regions = regions;
        l->regions_cap = regions_cap;
    }
    for (size_t i = 0; i < w->ncpus; i++)
        free(w->cpus[i].runs);
    free(w->cpus);
    free(w->wakes);
    ct_wakes_free(&w->raw_wakes);
    struct ct_timeline keep = *w;
    memset(w, 0, sizeof *w);
    w->lanes = keep.lanes;
    w->nlanes = keep.nlanes;
    w->tasks = keep.tasks;
    w->tasks_cap = keep.tasks_cap;
    w->task_bars = keep.task_bars;
    w->task_bars_cap = keep.task_bars_cap;
    w->logs = keep.logs;
    w->logs_cap = keep.logs_cap;
    w->text = keep.text;
    w->text_cap = keep.text_cap;
}

void ct_tl_window_drop(struct ct_timeline *ix)
{
    if (ix->window) {
        ct_tl_window_free(ix->window);
        free(ix->window);
        ix->window = NULL;
    }
}

struct ct_timeline *ct_tl_window(struct ct_timeline *ix, int64_t t0, int64_t t1, size_t budget)
{
    struct ct_timeline *w = ix->window;
    if (w && w->w0 <= t0 && t1 <= w->w1)
        return w;
    if (!ix->src_open || ix->index)
        return NULL;
    /* Half the range more on each side when that stays within half the
     * budget: a pan then needs no reading, and the first answer does not
     * wait much longer for it. */
    int64_t half = (t1 - t0) / 2, a = t0 - half, z = t1 + half;
    if (budget && ct_tl_window_batches(ix, a, z) > budget / 2) {
        a = t0;
        z = t1;
        if (ct_tl_window_batches(ix, a, z) > budget)
            return NULL;
    }
    /* The last window's arrays are used again: their pages are ours
     * already (fresh ones would be faulted in, which costs more here than
     * reading the batches). */
    if (w)
        recycle(w);
    else if (!(w = ix->window = calloc(1, sizeof *w)))
        return NULL;
    w->w0 = a;
    w->w1 = z;
    if (window_read(ix, w) != 0) {
        ct_tl_window_drop(ix);
        return NULL;
    }
    return w;
}

void ct_timeline_warm(struct ct_timeline *ix)
{
    size_t budget = CT_TL_WINDOW_BUDGET;
    if (ix->end <= ix->begin)
        return;
    int64_t mid = ix->begin + (ix->end - ix->begin) / 2, w = ix->end - ix->begin;
    while (w > 1000 && ct_tl_window_batches(ix, mid, mid + w) > budget / 2)
        w /= 2;
    ct_tl_window(ix, mid, mid + w, budget);
}
