/*
 * timeline.c - the index of `ctrace view` (timeline.h): built in one pass
 * over the trace through the thread analysis; the queries that answer the
 * browser from it are in timeline_json.c.
 */
#include "timeline.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../recorder/sched.h"
#include "threads.h"

#define GROW(arr, n, cap, init)                                               \
    ((n) < (cap) || grow_array((void **)&(arr), &(cap), sizeof *(arr), (init)))

static bool grow_array(void **arr, size_t *cap, size_t size, size_t init)
{
    size_t c = *cap ? *cap * 2 : init;
    void *p = realloc(*arr, c * size);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

static uint64_t hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h | 1;
}

/* ---- strings and stacks ---- */

static uint32_t text_add(struct ct_timeline *tl, const void *s, size_t len)
{
    while (tl->text_len + len + 1 > tl->text_cap) {
        size_t c = tl->text_cap ? tl->text_cap * 2 : 4096;
        char *p = realloc(tl->text, c);
        if (!p)
            return 0;
        tl->text = p;
        tl->text_cap = c;
    }
    uint32_t at = (uint32_t)tl->text_len;
    memcpy(tl->text + at, s, len);
    tl->text[at + len] = 0;
    tl->text_len += len + 1;
    return at;
}

/* The index of a string, added once. */
static uint32_t string_index(struct ct_timeline *tl, const void *s, size_t len)
{
    if (tl->nstrings * 2 >= tl->string_slots) {
        size_t slots = tl->string_slots ? tl->string_slots * 2 : 256;
        uint64_t *h = calloc(slots, sizeof *h);
        if (!h)
            return 0;
        for (size_t i = 0; i < tl->string_slots; i++)
            if (tl->string_hash[i]) {
                size_t k = (tl->string_hash[i] >> 32) % slots;
                while (h[k])
                    k = (k + 1) % slots;
                h[k] = tl->string_hash[i];
            }
        free(tl->string_hash);
        tl->string_hash = h;
        tl->string_slots = slots;
    }
    uint64_t hash = hash_bytes(s, len);
    size_t k = (hash >> 32) % tl->string_slots;
    for (; tl->string_hash[k]; k = (k + 1) % tl->string_slots) {
        /* slot: the high 32 bits of the hash, the low 32 the index. */
        uint32_t idx = (uint32_t)tl->string_hash[k];
        if ((tl->string_hash[k] >> 32) == (hash >> 32)) {
            const char *t = tl->text + tl->strings[idx];
            if (strlen(t) == len && memcmp(t, s, len) == 0)
                return idx;
        }
    }
    if (!GROW(tl->strings, tl->nstrings, tl->strings_cap, 64))
        return 0;
    uint32_t idx = (uint32_t)tl->nstrings;
    tl->strings[tl->nstrings++] = text_add(tl, s, len);
    tl->string_hash[k] = (hash & 0xffffffff00000000u) | idx;
    return idx;
}

static uint32_t gen_string(struct ct_timeline *tl, const struct ct_gen *gen, uint64_t id)
{
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, id);
    return e ? string_index(tl, e->data, e->len) : string_index(tl, "?", 1);
}

static uint32_t gen_stack(struct ct_timeline *tl, const struct ct_gen *gen, uint64_t id)
{
    const struct ct_idmap_entry *e = id ? ct_idmap_get(&gen->stacks, id) : NULL;
    if (!e)
        return 0;
    uint64_t pcs[64];
    int n = ct_rd_frames(e->data, e->end, e->len, pcs, 64);
    if (n <= 0)
        return 0;
    uint64_t hash = hash_bytes(pcs, (size_t)n * sizeof *pcs);
    /* The last few stacks are the likely ones; a linear look back. */
    for (size_t i = tl->nstacks, k = 0; i-- > 0 && k < 64; k++)
        if (tl->stacks[i].hash == hash && tl->stacks[i].n == (uint32_t)n &&
            memcmp(tl->frames + tl->stacks[i].at, pcs, (size_t)n * sizeof *pcs) == 0)
            return (uint32_t)i + 1;
    while (tl->nframes + (size_t)n > tl->frames_cap)
        if (!grow_array((void **)&tl->frames, &tl->frames_cap, sizeof *tl->frames, 4096))
            return 0;
    if (!GROW(tl->stacks, tl->nstacks, tl->stacks_cap, 256))
        return 0;
    memcpy(tl->frames + tl->nframes, pcs, (size_t)n * sizeof *pcs);
    tl->stacks[tl->nstacks].at = (uint32_t)tl->nframes;
    tl->stacks[tl->nstacks].n = (uint32_t)n;
    tl->stacks[tl->nstacks].hash = hash;
    tl->nframes += (size_t)n;
    return (uint32_t)++tl->nstacks;
}

/* ---- building ---- */

struct builder {
    struct ct_timeline *tl;
    void (*progress)(uint64_t, uint64_t);
};

static struct tl_lane *lane_of(struct ct_timeline *tl, const struct ct_thread_row *r)
{
    for (size_t i = tl->nlanes; i-- > 0;)
        if (tl->lanes[i].tid == r->tid)
            return &tl->lanes[i];
    struct tl_lane *grown = realloc(tl->lanes, (tl->nlanes + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    tl->lanes = grown;
    struct tl_lane *l = &tl->lanes[tl->nlanes++];
    memset(l, 0, sizeof *l);
    l->tid = r->tid;
    l->cpu = -1;
    return l;
}

static void on_interval(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                        int64_t begin, int64_t end)
{
    struct builder *b = ctx;
    if (r->tracer || end <= begin)
        return;
    struct tl_lane *l = lane_of(b->tl, r);
    if (!l)
        return;
    bool waiting = column == CT_COL_SYNC || column == CT_COL_NET || column == CT_COL_SYSCALL ||
                   column == CT_COL_SLEEP;
    if (l->nspans) {
        struct tl_span *last = &l->spans[l->nspans - 1];
        if (last->col == column && last->reason == (uint8_t)reason && last->e == begin &&
            (!waiting || (last->object == l->pending_object && last->stack == l->pending_stack))) {
            last->e = end;
            return;
        }
    }
    if (!GROW(l->spans, l->nspans, l->spans_cap, 256))
        return;
    l->spans[l->nspans++] = (struct tl_span){begin, end, waiting ? l->pending_object : 0,
                                             waiting ? l->pending_stack : 0, (uint8_t)column,
                                             (uint8_t)reason, 0};
}

static void cpu_run(struct ct_timeline *tl, struct tl_lane *l, int64_t now)
{
    if (!l->on_cpu || l->cpu < 0 || now <= l->cpu_since || l->cpu > 4096)
        return;
    size_t i = 0;
    while (i < tl->ncpus && tl->cpus[i].cpu != l->cpu)
        i++;
    if (i == tl->ncpus) {
        struct tl_cpu *grown = realloc(tl->cpus, (tl->ncpus + 1) * sizeof *grown);
        if (!grown)
            return;
        tl->cpus = grown;
        tl->cpus[tl->ncpus++] = (struct tl_cpu){l->cpu, NULL, 0, 0};
    }
    struct tl_cpu *c = &tl->cpus[i];
    if (GROW(c->runs, c->n, c->cap, 256))
        c->runs[c->n++] = (struct tl_run){l->cpu_since, now, l->tid};
}

static void region_end(struct tl_lane *l, unsigned i, int64_t t)
{
    if (GROW(l->regions, l->nregions, l->regions_cap, 128)) {
        l->regions[l->nregions++] =
            (struct tl_region){l->open[i].b, t, l->open[i].task, l->open[i].type, l->open[i].depth};
        if (t - l->open[i].b > l->longest_region)
            l->longest_region = t - l->open[i].b;
        if (l->open[i].depth > l->max_depth)
            l->max_depth = l->open[i].depth;
    }
    memmove(&l->open[i], &l->open[i + 1], (l->nopen - i - 1) * sizeof l->open[0]);
    l->nopen--;
}

static void counter(struct ct_timeline *tl, const struct ct_event *ev)
{
    size_t i = 0;
    while (i < tl->ncounters && tl->counters[i].kind != ev->args[0])
        i++;
    if (i == tl->ncounters) {
        if (i == sizeof tl->counters / sizeof tl->counters[0])
            return;
        tl->counters[tl->ncounters++] = (struct tl_counter){(unsigned)ev->args[0], NULL, 0, 0};
    }
    struct tl_counter *c = &tl->counters[i];
    if (GROW(c->s, c->n, c->cap, 256))
        c->s[c->n++] = (struct tl_sample){ev->ts_ns, ev->args[1]};
}

static void on_event(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    struct builder *b = ctx;
    struct ct_timeline *tl = b->tl;
    if ((++tl->events & 0xfffff) == 0 && b->progress)
        b->progress(rd->off, rd->size);
    if (ev->kind == CT_EV_COUNTER) { /* the tracer's own thread samples them */
        counter(tl, ev);
        return;
    }
    if (r->tracer)
        return;
    struct tl_lane *l = lane_of(tl, r);
    if (!l)
        return;
    switch (ev->kind) {
    case CT_EV_CPU:
        cpu_run(tl, l, ev->ts_ns);
        l->on_cpu = ev->args[0] == CT_CPU_ON;
        l->cpu = (int)ev->args[1];
        l->cpu_since = ev->ts_ns;
        break;
    case CT_EV_BLOCK:
        l->pending_object = ev->args[1];
        l->pending_stack = gen_stack(tl, gen, ev->stack);
        break;
    case CT_EV_SYSCALL:
    {
        int at = ct_kind_arg(gen, CT_EV_SYSCALL, "object");
        uint64_t object = at >= 0 && (unsigned)at < ev->nargs ? ev->args[at] : 0;
        l->pending_object = object ? object : ev->args[1];
        l->pending_stack = gen_stack(tl, gen, ev->stack);
        /* A read of a pipe ends like an unblock: a writer's wake links to it. */
        if (object && ev->args[3] < UINT64_MAX - ev->ts)
            ct_wakes_add_unblock(&tl->raw_wakes, ct_gen_ns(rd, gen, ev->ts + ev->args[3]),
                                 r->tid, object);
        break;
    }
    case CT_EV_REGION_BEGIN:
        if (l->nopen < 32) {
            l->open[l->nopen].b = ev->ts_ns;
            l->open[l->nopen].type = gen_string(tl, gen, ev->args[1]);
            l->open[l->nopen].task = ev->args[0];
            l->open[l->nopen].depth = l->nopen + 1;
            l->nopen++;
        }
        break;
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT: {
        if (l->nopen == 0)
            break;
        unsigned i = l->nopen - 1;
        if (ev->kind == CT_EV_REGION_END_AT)
            for (unsigned k = 0; k < l->nopen; k++)
                if (l->open[k].depth == ev->args[1])
                    i = k;
        region_end(l, i, ev->ts_ns);
        break;
    }
    case CT_EV_TASK_BEGIN:
        if (GROW(tl->tasks, tl->ntasks, tl->tasks_cap, 256))
            tl->tasks[tl->ntasks++] = (struct tl_task){ev->args[0], ev->args[1], r->tid,
                                                      gen_string(tl, gen, ev->args[2]),
                                                      ev->ts_ns, -1};
        break;
    case CT_EV_TASK_END:
        for (size_t i = tl->ntasks, k = 0; i-- > 0 && k < 100000; k++)
            if (tl->tasks[i].id == ev->args[0] && tl->tasks[i].e < 0) {
                tl->tasks[i].e = ev->ts_ns;
                break;
            }
        break;
    case CT_EV_LOG:
        if (GROW(tl->logs, tl->nlogs, tl->logs_cap, 256))
            tl->logs[tl->nlogs++] = (struct tl_log){ev->ts_ns, r->tid, ev->args[0],
                                                   gen_string(tl, gen, ev->args[1]),
                                                   text_add(tl, ev->bytes, ev->bytes_len),
                                                   (uint32_t)ev->bytes_len};
        break;
    case CT_EV_UNBLOCK:
        ct_wakes_add_unblock(&tl->raw_wakes, ev->ts_ns, r->tid, l->pending_object);
        break;
    case CT_EV_WAKE:
        ct_wakes_add_wake(&tl->raw_wakes, ev->ts_ns, r->tid, ev->args[1], (unsigned)ev->args[0]);
        break;
    }
}

static int by_begin(const void *a, const void *b)
{
    const struct tl_region *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

static int by_run(const void *a, const void *b)
{
    const struct tl_run *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

static int by_log_time(const void *a, const void *b)
{
    const struct tl_log *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int by_tid(const void *a, const void *b)
{
    const struct tl_lane *x = a, *y = b;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* The coarse buckets of a lane (timeline.h); a lane without them (out of
 * memory) is answered from its items alone. */
static void build_buckets(struct ct_timeline *tl, struct tl_lane *l)
{
    size_t items = l->nspans + l->nregions;
    if (items < 4096 || tl->end <= tl->begin)
        return;
    long n = 512;
    while (n < CT_TL_BUCKETS && (size_t)n * 8 < items)
        n *= 2;
    l->nbuckets = n;
    l->bucket_ns = (tl->end - tl->begin) / n + 1;
    l->span_bucket_col = calloc((size_t)n, 1);
    l->span_bucket_n = calloc((size_t)n, sizeof *l->span_bucket_n);
    l->region_bucket_n = calloc((size_t)n, sizeof *l->region_bucket_n);
    float *weight = calloc((size_t)n * CT_COL_COUNT, sizeof *weight);
    size_t cap_s = 0, cap_r = 0;
    if (!l->span_bucket_col || !l->span_bucket_n || !l->region_bucket_n || !weight)
        goto fail;
    for (size_t k = 0; k < l->nspans; k++) {
        const struct tl_span *sp = &l->spans[k];
        if (sp->e - sp->b >= l->bucket_ns) {
            if (!GROW(l->long_spans, l->nlong_spans, cap_s, 64))
                goto fail;
            l->long_spans[l->nlong_spans++] = (uint32_t)k;
            continue;
        }
        long bk = ct_tl_bucket_of(tl, l, sp->b);
        l->span_bucket_n[bk]++;
        weight[(size_t)bk * CT_COL_COUNT + sp->col] += (float)(sp->e - sp->b) + 1;
    }
    for (long bk = 0; bk < n; bk++) {
        int best = 0;
        for (int c = 1; c < CT_COL_COUNT; c++)
            if (weight[(size_t)bk * CT_COL_COUNT + c] > weight[(size_t)bk * CT_COL_COUNT + best])
                best = c;
        l->span_bucket_col[bk] = (uint8_t)best;
    }
    for (size_t k = 0; k < l->nregions; k++) {
        const struct tl_region *g = &l->regions[k];
        if (g->e - g->b >= l->bucket_ns) {
            if (!GROW(l->long_regions, l->nlong_regions, cap_r, 64))
                goto fail;
            l->long_regions[l->nlong_regions++] = (uint32_t)k;
            continue;
        }
        l->region_bucket_n[ct_tl_bucket_of(tl, l, g->b)]++;
    }
    free(weight);
    return;
fail:
    free(weight);
    free(l->span_bucket_col);
    free(l->span_bucket_n);
    free(l->region_bucket_n);
    free(l->long_spans);
    free(l->long_regions);
    l->span_bucket_col = NULL;
    l->span_bucket_n = l->region_bucket_n = l->long_spans = l->long_regions = NULL;
    l->nlong_spans = l->nlong_regions = 0;
    l->nbuckets = 0;
}

static int task_by_begin(const void *a, const void *b)
{
    const struct tl_task *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

/* The tasks as bars: by begin, each in the first row free at its begin
 * (the last row takes what overlaps everything); an open task runs to the
 * end of the trace. */
static void pack_tasks(struct ct_timeline *tl)
{
    if (!tl->ntasks)
        return;
    tl->task_bars = malloc(tl->ntasks * sizeof *tl->task_bars);
    if (!tl->task_bars)
        return;
    memcpy(tl->task_bars, tl->tasks, tl->ntasks * sizeof *tl->task_bars);
    qsort(tl->task_bars, tl->ntasks, sizeof *tl->task_bars, task_by_begin);
    int64_t row_end[CT_TL_TASK_ROWS];
    for (unsigned r = 0; r < CT_TL_TASK_ROWS; r++)
        row_end[r] = INT64_MIN;
    for (size_t i = 0; i < tl->ntasks; i++) {
        struct tl_task *t = &tl->task_bars[i];
        if (t->e < 0)
            t->e = tl->end > t->b ? tl->end : t->b;
        unsigned r = 0;
        while (r < CT_TL_TASK_ROWS - 1 && row_end[r] > t->b)
            r++;
        t->row = r;
        row_end[r] = t->e > row_end[r] ? t->e : row_end[r];
        if (r + 1 > tl->task_rows)
            tl->task_rows = r + 1;
        if (t->e - t->b > tl->longest_task)
            tl->longest_task = t->e - t->b;
    }
}

int ct_timeline_build(struct ct_reader *rd, struct ct_timeline *tl,
                      void (*progress)(uint64_t done, uint64_t total))
{
    memset(tl, 0, sizeof *tl);
    string_index(tl, "", 0);
    struct builder b = {tl, progress};
    struct ct_visitor v = {&b, on_interval, on_event};
    struct ct_threads t = {0};
    int rc = ct_threads_visit(rd, &t, &v);
    tl->begin = t.begin_ns;
    tl->end = t.end_ns;
    tl->sched = t.sched;
    for (size_t i = 0; i < t.count; i++) {
        const struct ct_thread_row *r = &t.rows[i];
        if (r->tracer)
            continue;
        struct tl_lane *l = lane_of(tl, r);
        if (!l)
            continue;
        memcpy(l->name, r->name, sizeof l->name);
        snprintf(l->function, sizeof l->function, "%s", r->start_function);
        l->exited = r->exited;
        cpu_run(tl, l, r->end_ns);
        while (l->nopen) /* never ended: up to the end of the thread */
            region_end(l, l->nopen - 1, r->end_ns > l->open[l->nopen - 1].b ? r->end_ns
                                                                         : l->open[l->nopen - 1].b);
        if (l->nregions)
            qsort(l->regions, l->nregions, sizeof *l->regions, by_begin);
    }
    for (size_t i = 0; i < tl->nlanes; i++)
        build_buckets(tl, &tl->lanes[i]);
    for (size_t i = 0; i < tl->ncpus; i++)
        if (tl->cpus[i].n)
            qsort(tl->cpus[i].runs, tl->cpus[i].n, sizeof *tl->cpus[i].runs, by_run);
    if (tl->nlogs)
        qsort(tl->logs, tl->nlogs, sizeof *tl->logs, by_log_time);
    if (tl->nlanes)
        qsort(tl->lanes, tl->nlanes, sizeof *tl->lanes, by_tid);
    tl->wakes = ct_wakes_link(&tl->raw_wakes, &tl->nwakes);
    pack_tasks(tl);
    ct_threads_free(&t);
    /* Symbols from the first generation's modules (not in the fuzzer:
     * reading local ELF files is slow, and not input). */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (rc == 0) {
        struct ct_reader again;
        if (ct_rd_open_mem(&again, rd->data, rd->size, rd->path) == 0) {
            struct ct_gen gen = {0};
            while (!tl->symbols && ct_rd_next_gen(&again, &gen) == 1)
                if (gen.nmodules)
                    tl->symbols = ct_symbols_open_rd(&again, &gen);
            ct_gen_free(&gen);
            ct_rd_close(&again);
        }
    }
#endif
    if (progress)
        progress(rd->size, rd->size);
    return rc;
}

void ct_timeline_free(struct ct_timeline *tl)
{
    for (size_t i = 0; i < tl->nlanes; i++) {
        free(tl->lanes[i].spans);
        free(tl->lanes[i].regions);
        free(tl->lanes[i].span_bucket_col);
        free(tl->lanes[i].span_bucket_n);
        free(tl->lanes[i].region_bucket_n);
        free(tl->lanes[i].long_spans);
        free(tl->lanes[i].long_regions);
    }
    free(tl->lanes);
    for (size_t i = 0; i < tl->ncpus; i++)
        free(tl->cpus[i].runs);
    free(tl->cpus);
    for (size_t i = 0; i < tl->ncounters; i++)
        free(tl->counters[i].s);
    free(tl->logs);
    free(tl->tasks);
    free(tl->task_bars);
    free(tl->wakes);
    ct_wakes_free(&tl->raw_wakes);
    free(tl->text);
    free(tl->strings);
    free(tl->string_hash);
    free(tl->frames);
    free(tl->stacks);
    ct_symbols_close(tl->symbols);
    memset(tl, 0, sizeof *tl);
}
