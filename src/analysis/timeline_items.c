/*
 * timeline_items.c - where the items of `ctrace view`'s timeline go
 * (timeline.h): in the index, short ones into the buckets of their lane
 * (adaptive grids) and long ones kept; in a window, all kept. Also the
 * index's table of tasks seen begun or ended but not both yet.
 */
#include "timeline.h"

#include <stdlib.h>
#include <string.h>

/* ---- buckets ---- */

void ct_tl_grid_init(struct tl_grid *g, int64_t origin, unsigned slots, bool tag)
{
    memset(g, 0, sizeof *g);
    g->origin = origin;
    g->shift = 10;
    g->bucket_ns = (int64_t)1 << g->shift;
    g->max = 4096;
    g->slots = slots;
    g->tagged = tag;
}

/* Allows more buckets as a run of items grows: about one per four items. */
static void grid_allow(struct tl_grid *g, uint64_t items)
{
    while (g->max < CT_TL_BUCKETS && (uint64_t)g->max * 4 < items)
        g->max *= 2;
}

static bool grid_grow(struct tl_grid *g, long want)
{
    long cap = g->cap ? g->cap : 512;
    while (cap < want)
        cap *= 2;
    if (cap > g->max)
        cap = g->max;
    uint32_t *count = realloc(g->count, (size_t)cap * sizeof *count);
    if (count)
        g->count = count;
    float *weight = g->slots ? realloc(g->weight, (size_t)cap * g->slots * sizeof *weight) : NULL;
    if (weight)
        g->weight = weight;
    bool want_tag = g->tagged;
    uint64_t *tag = want_tag ? realloc(g->tag, (size_t)cap * sizeof *tag) : NULL;
    if (tag)
        g->tag = tag;
    if (!count || (g->slots && !weight) || (want_tag && !tag))
        return false;
    memset(g->count + g->cap, 0, (size_t)(cap - g->cap) * sizeof *count);
    if (g->slots)
        memset(g->weight + (size_t)g->cap * g->slots, 0,
               (size_t)(cap - g->cap) * g->slots * sizeof *weight);
    if (want_tag)
        memset(g->tag + g->cap, 0, (size_t)(cap - g->cap) * sizeof *tag);
    g->cap = cap;
    return true;
}

/* Twice as wide buckets: pairs merged. */
static void grid_coarsen(struct tl_grid *g)
{
    g->shift++;
    g->bucket_ns = (int64_t)1 << g->shift;
    if (!g->n)
        return;
    long n = (g->n + 1) / 2;
    for (long j = 0; j < n; j++) {
        long a = 2 * j, b = 2 * j + 1;
        bool has_b = b < g->n;
        uint32_t ca = g->count[a], cb = has_b ? g->count[b] : 0;
        if (g->tagged)
            g->tag[j] = ca ? g->tag[a] : has_b ? g->tag[b] : 0;
        g->count[j] = ca + cb;
        float *w = g->weight;
        size_t slots = g->slots;
        for (size_t s = 0; s < slots; s++)
            w[(size_t)j * slots + s] =
                w[(size_t)a * slots + s] + (has_b ? w[(size_t)b * slots + s] : 0);
    }
    memset(g->count + n, 0, (size_t)(g->n - n) * sizeof *g->count);
    if (g->slots)
        memset(g->weight + (size_t)n * g->slots, 0,
               (size_t)(g->n - n) * g->slots * sizeof *g->weight);
    if (g->tagged)
        memset(g->tag + n, 0, (size_t)(g->n - n) * sizeof *g->tag);
    g->n = n;
}

/* The bucket of time t, coarsening (*coarsened) or growing as needed;
 * -1 without memory. */
static long grid_bucket(struct tl_grid *g, int64_t t, bool *coarsened)
{
    for (;;) {
        uint64_t k = ct_span_ns(g->origin, t) >> g->shift;
        if (k < (uint64_t)g->max) {
            if ((long)k >= g->cap && !grid_grow(g, (long)k + 1))
                return -1;
            if ((long)k >= g->n)
                g->n = (long)k + 1;
            return (long)k;
        }
        grid_coarsen(g);
        *coarsened = true;
    }
}

/* The bucket an item [b, e) goes into when a grid that has seen `items`
 * files it: its bucket when it is shorter than one, else -1 (the item is
 * kept whole). *coarsened: the grid widened, and the caller must refile
 * the items it keeps (before counting this one). */
static long grid_file(struct tl_grid *g, uint64_t items, int64_t b, int64_t e, bool *coarsened)
{
    grid_allow(g, items);
    long k = grid_bucket(g, b, coarsened);
    return k >= 0 && e - b < g->bucket_ns ? k : -1;
}

/* The same for a kept item after a coarsening (the grid's width stays). */
static long grid_refile(struct tl_grid *g, int64_t b, int64_t e)
{
    bool more = false;
    return e - b < g->bucket_ns ? grid_bucket(g, b, &more) : -1;
}

/* Counts an item in bucket k; the bucket's first item tags it. */
static void grid_tally(struct tl_grid *g, long k, uint64_t tag)
{
    if (!g->count[k]++)
        g->tag[k] = tag;
}

/* After building: the heaviest slot of each bucket; weights freed. */
void ct_tl_grid_finish(struct tl_grid *g)
{
    if (g->slots && g->n) {
        g->key = calloc((size_t)g->n, 1);
        for (long k = 0; g->key && k < g->n; k++) {
            const float *w = g->weight + (size_t)k * g->slots;
            unsigned best = 0;
            for (unsigned s = 1; s < g->slots; s++)
                if (w[s] > w[best])
                    best = s;
            g->key[k] = (uint8_t)best;
        }
    }
    free(g->weight);
    g->weight = NULL;
}

void ct_tl_grid_free(struct tl_grid *g)
{
    free(g->count);
    free(g->weight);
    free(g->key);
    free(g->tag);
    memset(g, 0, sizeof *g);
}

/* Adds src's buckets into dst (both of the same origin), at the wider of
 * their widths; src is left coarsened. The long items of their owners must
 * then be refiled (ct_tl_refile). */
bool ct_tl_grid_merge(struct tl_grid *dst, struct tl_grid *src)
{
    while (dst->bucket_ns < src->bucket_ns)
        grid_coarsen(dst);
    while (src->bucket_ns < dst->bucket_ns)
        grid_coarsen(src);
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->n > dst->cap && !grid_grow(dst, src->n))
        return false;
    if (src->n > dst->n)
        dst->n = src->n;
    for (long k = 0; k < src->n; k++) {
        if (dst->tagged && !dst->count[k] && src->count[k])
            dst->tag[k] = src->tag[k];
        dst->count[k] += src->count[k];
        for (unsigned s = 0; s < dst->slots; s++)
            dst->weight[(size_t)k * dst->slots + s] += src->weight[(size_t)k * src->slots + s];
    }
    return true;
}

/* ---- items: summed in the index, kept in a window ---- */

static void bucket_span(struct tl_lane *l, const struct tl_span *sp, long k)
{
    struct tl_grid *g = &l->span_grid;
    g->count[k]++;
    g->weight[(size_t)k * g->slots + sp->col] += (float)(sp->e - sp->b) + 1;
}

/* Moves the long items that a coarsening made short into the buckets. */
static void refile_spans(struct tl_lane *l)
{
    size_t kept = 0;
    for (size_t i = 0; i < l->nspan_items; i++) {
        struct tl_span *sp = &l->spans[i];
        long k = grid_refile(&l->span_grid, sp->b, sp->e);
        if (k >= 0)
            bucket_span(l, sp, k);
        else
            l->spans[kept++] = *sp;
    }
    l->nspan_items = kept;
}

static void refile_regions(struct tl_lane *l)
{
    size_t kept = 0;
    for (size_t i = 0; i < l->nregion_items; i++) {
        struct tl_region *g = &l->regions[i];
        long k = grid_refile(&l->region_grid, g->b, g->e);
        if (k >= 0)
            l->region_grid.count[k]++;
        else
            l->regions[kept++] = *g;
    }
    l->nregion_items = kept;
}

void ct_tl_emit_span(struct ct_timeline *tl, struct tl_lane *l, const struct tl_span *sp)
{
    l->nspans++;
    if (!tl->index) {
        bool coarsened = false;
        long k = grid_file(&l->span_grid, l->nspans, sp->b, sp->e, &coarsened);
        if (coarsened)
            refile_spans(l);
        if (k >= 0) {
            bucket_span(l, sp, k);
            return;
        }
    }
    if (CT_TL_GROW(l->spans, l->nspan_items, l->spans_cap, 64))
        l->spans[l->nspan_items++] = *sp;
}

void ct_tl_emit_region(struct ct_timeline *tl, struct tl_lane *l, const struct tl_region *g)
{
    l->nregions++;
    if (g->e - g->b > l->longest_region)
        l->longest_region = g->e - g->b;
    if (g->depth > l->max_depth)
        l->max_depth = g->depth;
    if (!tl->index) {
        bool coarsened = false;
        long k = grid_file(&l->region_grid, l->nregions, g->b, g->e, &coarsened);
        if (coarsened)
            refile_regions(l);
        if (k >= 0) {
            l->region_grid.count[k]++;
            return;
        }
    }
    if (CT_TL_GROW(l->regions, l->nregion_items, l->regions_cap, 64))
        l->regions[l->nregion_items++] = *g;
}

/* The long tasks a coarsening made short, into the buckets (an open task,
 * e < 0, stays long). */
static void refile_tasks(struct ct_timeline *tl)
{
    size_t kept = 0;
    for (size_t i = 0; i < tl->ntask_items; i++) {
        const struct tl_task *x = &tl->tasks[i];
        long j = x->e >= 0 ? grid_refile(&tl->task_grid, x->b, x->e) : -1;
        if (j >= 0)
            grid_tally(&tl->task_grid, j, x->type);
        else
            tl->tasks[kept++] = *x;
    }
    tl->ntask_items = kept;
}

static void refile_runs(struct tl_cpu *c);

void ct_tl_refile(struct ct_timeline *tl)
{
    for (size_t i = 0; i < tl->nlanes; i++) {
        refile_spans(&tl->lanes[i]);
        refile_regions(&tl->lanes[i]);
    }
    for (size_t i = 0; i < tl->ncpus; i++)
        refile_runs(&tl->cpus[i]);
    refile_tasks(tl);
}

static void emit_task(struct ct_timeline *tl, const struct tl_task *t)
{
    if (!tl->index) {
        bool coarsened = false;
        long k = grid_file(&tl->task_grid, tl->ntasks, t->b, t->e, &coarsened);
        if (coarsened)
            refile_tasks(tl);
        if (k >= 0) {
            grid_tally(&tl->task_grid, k, t->type);
            return;
        }
    }
    if (CT_TL_GROW(tl->tasks, tl->ntask_items, tl->tasks_cap, 64))
        tl->tasks[tl->ntask_items++] = *t;
}

/* The index's tasks begun or ended but not both yet (a task may end on
 * another thread, read before the one it began on): open addressing with
 * tombstones, rebuilt when they crowd it. */

struct tl_open_task *ct_tl_open_task(struct ct_timeline *tl, uint64_t id)
{
    if (id == TL_EMPTY || id == TL_GONE)
        return NULL;
    if ((tl->open_used + 1) * 2 > tl->open_cap) {
        size_t cap = tl->open_cap ? tl->open_cap : 256;
        while ((tl->open_live + 1) * 4 > cap)
            cap *= 2;
        struct tl_open_task *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return NULL;
        for (size_t i = 0; i < tl->open_cap; i++) {
            uint64_t k = tl->open_tasks[i].t.id;
            if (k == TL_EMPTY || k == TL_GONE)
                continue;
            size_t j = (k * 0x9E3779B97F4A7C15u >> 20) & (cap - 1);
            while (slots[j].t.id != TL_EMPTY)
                j = (j + 1) & (cap - 1);
            slots[j] = tl->open_tasks[i];
        }
        free(tl->open_tasks);
        tl->open_tasks = slots;
        tl->open_cap = cap;
        tl->open_used = tl->open_live;
    }
    size_t j = (id * 0x9E3779B97F4A7C15u >> 20) & (tl->open_cap - 1), gone = SIZE_MAX;
    for (; tl->open_tasks[j].t.id != TL_EMPTY; j = (j + 1) & (tl->open_cap - 1)) {
        if (tl->open_tasks[j].t.id == id)
            return &tl->open_tasks[j];
        if (tl->open_tasks[j].t.id == TL_GONE && gone == SIZE_MAX)
            gone = j;
    }
    if (gone != SIZE_MAX)
        j = gone;
    else
        tl->open_used++;
    tl->open_live++;
    memset(&tl->open_tasks[j], 0, sizeof tl->open_tasks[j]);
    tl->open_tasks[j].t.id = id;
    return &tl->open_tasks[j];
}

void ct_tl_task_seen(struct ct_timeline *tl, struct tl_open_task *o)
{
    if (!o->has_begin || !o->has_end)
        return;
    if (o->t.e < o->t.b)
        o->t.e = o->t.b;
    emit_task(tl, &o->t);
    o->t.id = TL_GONE;
    tl->open_live--;
}

/* What another reading of the index saw of a task (ctrace view's parallel
 * build): joined with what this one saw. */
void ct_tl_task_merge(struct ct_timeline *tl, const struct tl_open_task *seen)
{
    struct tl_open_task *o = ct_tl_open_task(tl, seen->t.id);
    if (!o)
        return;
    if (seen->has_begin) {
        int64_t e = o->t.e;
        o->t = seen->t;
        if (o->has_end)
            o->t.e = e;
        o->has_begin = true;
    }
    if (seen->has_end) {
        o->t.e = seen->t.e;
        o->has_end = true;
    }
    ct_tl_task_seen(tl, o);
}


/* A log at t of thread tid, counted in the index's log buckets. */
void ct_tl_count_log(struct ct_timeline *tl, int64_t t, uint64_t tid)
{
    bool coarsened = false;
    tl->nlog_events++;
    grid_allow(&tl->log_grid, tl->nlog_events);
    long k = grid_bucket(&tl->log_grid, t, &coarsened);
    if (k >= 0)
        grid_tally(&tl->log_grid, k, tid);
}

/* A wake at t, counted in the index's wake buckets (a window links them). */
void ct_tl_count_wake(struct ct_timeline *tl, int64_t t)
{
    bool coarsened = false;
    tl->nwake_events++;
    grid_allow(&tl->wake_grid, tl->nwake_events);
    long k = grid_bucket(&tl->wake_grid, t, &coarsened);
    if (k >= 0)
        tl->wake_grid.count[k]++;
}

static void refile_runs(struct tl_cpu *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct tl_run *r = &c->runs[i];
        long k = grid_refile(&c->grid, r->b, r->e);
        if (k >= 0)
            grid_tally(&c->grid, k, r->tid);
        else
            c->runs[kept++] = *r;
    }
    c->n = kept;
}

/* A CPU's run: summed in its buckets (the index) or kept. */
void ct_tl_emit_run(struct ct_timeline *tl, struct tl_cpu *c, const struct tl_run *run)
{
    if (!tl->index) {
        bool coarsened = false;
        long k = grid_file(&c->grid, c->grid.n ? (uint64_t)c->grid.n * 4 + c->n : c->n, run->b,
                           run->e, &coarsened);
        if (coarsened)
            refile_runs(c);
        if (k >= 0) {
            grid_tally(&c->grid, k, run->tid);
            return;
        }
    }
    if (CT_TL_GROW(c->runs, c->n, c->cap, 256))
        c->runs[c->n++] = *run;
}
