/*
 * annotations.c - tasks and regions by type (annotations.h), one pass.
 * Memory: the open tasks, each thread's stack of open regions, and one
 * histogram per type; nothing per finished task or region (a sink that
 * keeps them pays for them).
 */
#include "annotations.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Tasks seen begun or ended but not both yet: id -> what was seen, open
 * addressing with tombstones. Batches of different threads come in no
 * particular order inside a generation, so a task's end (on one thread)
 * may be read before its begin (on another). */
struct open_task {
    uint64_t id; /* 0 empty, UINT64_MAX removed */
    uint64_t parent, begin_tid, end_tid;
    uint32_t type;
    bool has_begin, has_end;
    int64_t begin, end;
};

struct task_table {
    struct open_task *slots;
    size_t cap, used; /* used counts tombstones too */
    size_t live;      /* tasks in the table */
};

/* One thread's open regions, innermost last. */
struct region_frame {
    uint32_t type;
    uint32_t depth;
    uint64_t task;
    int64_t begin;
};

struct region_stack {
    uint64_t tid;
    int64_t last; /* the time of its last event read */
    struct region_frame *frames;
    size_t count, cap;
};

/* The type of a string id in the current generation (ids are numbered
 * per generation): most events name one of a few types. */
struct type_cache {
    uint64_t id;
    long type;
};

struct state {
    struct ct_annotations *out;
    const struct ct_ann_sink *sink;
    struct task_table tasks;
    struct region_stack *stacks;
    size_t nstacks;
    struct type_cache task_types[64], region_types[64];
};

static size_t slot_of(uint64_t id, size_t cap)
{
    id *= 0x9E3779B97F4A7C15u;
    return (size_t)(id >> 17) & (cap - 1);
}

/* Rehashes into a table twice as big, or as big when most of the used
 * slots are tombstones of finished tasks: memory follows the tasks open at
 * once, not all the tasks of the trace. */
static int task_grow(struct task_table *t)
{
    size_t cap = !t->cap ? 256 : t->live * 4 < t->cap ? t->cap : t->cap * 2;
    struct open_task *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    size_t used = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].id == 0 || t->slots[i].id == UINT64_MAX)
            continue;
        size_t j = slot_of(t->slots[i].id, cap);
        while (slots[j].id)
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
        used++;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    t->used = used;
    return 0;
}

static struct open_task *task_find(struct task_table *t, uint64_t id)
{
    if (!t->cap)
        return NULL;
    for (size_t i = slot_of(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].id == id)
            return &t->slots[i];
        if (t->slots[i].id == 0)
            return NULL;
    }
}

static struct open_task *task_add(struct task_table *t, uint64_t id)
{
    if ((t->used + 1) * 2 > t->cap && task_grow(t) != 0)
        return NULL;
    size_t i = slot_of(id, t->cap);
    while (t->slots[i].id && t->slots[i].id != UINT64_MAX)
        i = (i + 1) & (t->cap - 1);
    if (t->slots[i].id == 0)
        t->used++;
    t->slots[i] = (struct open_task){.id = id};
    t->live++;
    return &t->slots[i];
}

static void emit_task(const struct state *s, const struct open_task *t)
{
    if (!s->sink || !s->sink->task)
        return;
    struct ct_ann_task out = {t->id,        t->parent, t->has_begin ? t->type : UINT32_MAX,
                              t->has_begin, t->has_end, t->begin,
                              t->end,       t->begin_tid, t->end_tid};
    s->sink->task(s->sink->ctx, &out);
}

/* Records a task whose begin and end are both known, and forgets it. */
static void task_done(struct state *s, struct open_task *t)
{
    ct_latency_add(&s->out->tasks[t->type].latency, ct_span_ns(t->begin, t->end));
    emit_task(s, t);
    t->id = UINT64_MAX;
    s->tasks.live--;
}

/* The index of a type by name, added when new; -1 without memory. */
static long type_index(struct ct_type_stats **types, size_t *n, const uint8_t *name, size_t len)
{
    if (len > CT_MAX_STRING)
        len = CT_MAX_STRING;
    for (size_t i = 0; i < *n; i++)
        if (strlen((*types)[i].name) == len && memcmp((*types)[i].name, name, len) == 0)
            return (long)i;
    struct ct_type_stats *grown = realloc(*types, (*n + 1) * sizeof **types);
    if (!grown)
        return -1;
    *types = grown;
    memset(&grown[*n], 0, sizeof grown[*n]);
    memcpy(grown[*n].name, name, len);
    return (long)(*n)++;
}

static long type_named(struct ct_type_stats **types, size_t *n, const struct ct_gen *gen,
                       uint64_t string)
{
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, string);
    if (!e)
        return type_index(types, n, (const uint8_t *)"(unknown)", 9);
    return type_index(types, n, e->data, e->len);
}

static long type_of(struct ct_type_stats **types, size_t *n, const struct ct_gen *gen,
                    uint64_t string, struct type_cache *cache)
{
    struct type_cache *c = &cache[string & 63];
    if (c->id == string && string)
        return c->type;
    long type = type_named(types, n, gen, string);
    if (type >= 0)
        *c = (struct type_cache){string, type};
    return type;
}

/* A thread's stack by its index in s->stacks, added when new; -1 without
 * memory. Looked up once a batch: a batch holds one thread's events. */
static long stack_of(struct state *s, uint64_t tid)
{
    for (size_t i = 0; i < s->nstacks; i++)
        if (s->stacks[i].tid == tid)
            return (long)i;
    struct region_stack *grown = realloc(s->stacks, (s->nstacks + 1) * sizeof *grown);
    if (!grown)
        return -1;
    s->stacks = grown;
    memset(&grown[s->nstacks], 0, sizeof grown[s->nstacks]);
    grown[s->nstacks].tid = tid;
    grown[s->nstacks].last = INT64_MIN;
    return (long)s->nstacks++;
}

static int push_region(struct region_stack *st, uint32_t type, uint64_t task, int64_t begin)
{
    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        struct region_frame *f = realloc(st->frames, cap * sizeof *f);
        if (!f)
            return -1;
        st->frames = f;
        st->cap = cap;
    }
    st->frames[st->count] = (struct region_frame){type, (uint32_t)st->count + 1, task, begin};
    st->count++;
    return 0;
}

static void emit_region(const struct state *s, const struct region_stack *st,
                        const struct region_frame *f, int64_t end, bool ended)
{
    if (!s->sink || !s->sink->region)
        return;
    struct ct_ann_region r = {f->type, f->depth, st->tid, f->task, f->begin, end, ended};
    s->sink->region(s->sink->ctx, &r);
}

/* Ends the open region at index i, or counts an end without a begin. */
static void end_region(struct state *s, struct region_stack *st, long i, long type, int64_t now)
{
    struct ct_annotations *a = s->out;
    if (i < 0) {
        if (type >= 0)
            a->regions[type].unmatched++;
        return;
    }
    ct_latency_add(&a->regions[st->frames[i].type].latency, ct_span_ns(st->frames[i].begin, now));
    emit_region(s, st, &st->frames[i], now, true);
    memmove(&st->frames[i], &st->frames[i + 1], (st->count - (size_t)i - 1) * sizeof *st->frames);
    st->count--;
}

static int on_task(struct state *s, const struct ct_gen *gen, const struct ct_event *ev)
{
    struct ct_annotations *a = s->out;
    struct open_task *t = task_find(&s->tasks, ev->args[0]);
    if (ev->kind == CT_EV_TASK_BEGIN) {
        long type = type_of(&a->tasks, &a->ntasks, gen, ev->args[2], s->task_types);
        if (type < 0 || (!t && !(t = task_add(&s->tasks, ev->args[0]))))
            return -1;
        t->type = (uint32_t)type;
        t->has_begin = true;
        t->begin = ev->ts_ns;
        t->parent = ev->args[1];
        t->begin_tid = ev->tid;
    } else {
        if (!t && !(t = task_add(&s->tasks, ev->args[0])))
            return -1;
        t->has_end = true;
        t->end = ev->ts_ns;
        t->end_tid = ev->tid;
    }
    if (t->has_begin && t->has_end)
        task_done(s, t);
    return 0;
}

static int on_event(struct state *s, struct region_stack *st, const struct ct_gen *gen,
                    const struct ct_event *ev)
{
    struct ct_annotations *a = s->out;
    switch (ev->kind) {
    case CT_EV_TASK_BEGIN:
    case CT_EV_TASK_END:
        return on_task(s, gen, ev);
    case CT_EV_REGION_BEGIN: {
        long type = type_of(&a->regions, &a->nregions, gen, ev->args[1], s->region_types);
        if (type < 0 || push_region(st, (uint32_t)type, ev->args[0], ev->ts_ns) != 0)
            return -1;
        break;
    }
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT: {
        long type = type_of(&a->regions, &a->nregions, gen, ev->args[0], s->region_types);
        if (type < 0)
            return -1;
        long found = -1;
        if (ev->kind == CT_EV_REGION_END) {
            if (st->count > 0 && st->frames[st->count - 1].type == (uint32_t)type)
                found = (long)st->count - 1;
        } else {
            a->regions_out_of_order++;
            for (size_t i = 0; i < st->count; i++)
                if (st->frames[i].depth == ev->args[1] && st->frames[i].type == (uint32_t)type)
                    found = (long)i;
        }
        end_region(s, st, found, type, ev->ts_ns);
        break;
    }
    case CT_EV_LOG:
        a->logs++;
        if (s->sink && s->sink->log)
            s->sink->log(s->sink->ctx, gen, ev);
        break;
    }
    return 0;
}

#define ANNOTATION_KINDS                                                                   \
    (1ull << CT_EV_TASK_BEGIN | 1ull << CT_EV_TASK_END | 1ull << CT_EV_REGION_BEGIN |      \
     1ull << CT_EV_REGION_END | 1ull << CT_EV_REGION_END_AT | 1ull << CT_EV_LOG)

/* One generation's batches, in file order (a thread's are in its time
 * order); 0, or -1. */
static int read_generation(struct state *s, struct ct_reader *rd, struct ct_gen *gen)
{
    int rc = 0;
    memset(s->task_types, 0, sizeof s->task_types);
    memset(s->region_types, 0, sizeof s->region_types);
    for (size_t b = 0; b < gen->nbatches && rc == 0; b++) {
        long k = stack_of(s, gen->batches[b].tid);
        if (k < 0)
            return -1;
        struct ct_event_iter it;
        struct ct_event ev;
        uint64_t counts[CT_MAX_KINDS];
        int r = 0;
        ct_rd_events(gen, b, &it);
        while (rc == 0 && (r = ct_rd_skim_events(rd, &it, ANNOTATION_KINDS, counts, &ev)) == 1)
            rc = on_event(s, &s->stacks[k], gen, &ev);
        if (r < 0)
            rc = -1;
        int64_t last = ct_gen_ns(rd, gen, it.ts);
        if (gen->batches[b].events < gen->batches[b].end && last > s->stacks[k].last)
            s->stacks[k].last = last;
    }
    return rc;
}

int ct_annotations_read(struct ct_reader *rd, struct ct_annotations *out,
                        const struct ct_ann_sink *sink)
{
    memset(out, 0, sizeof *out);
    struct state s = {.out = out, .sink = sink};
    struct ct_gen gen = {0};
    int r, rc = 0;
    bool stopped = false;
    while (rc == 0 && (r = ct_rd_next_gen(rd, &gen)) == 1) {
        rc = read_generation(&s, rd, &gen);
        if (rc == 0 && sink && sink->progress && !sink->progress(sink->ctx, rd->off, rd->size))
            stopped = true, rc = -1;
    }
    ct_gen_free(&gen);
    for (size_t i = 0; i < s.tasks.cap; i++) {
        const struct open_task *t = &s.tasks.slots[i];
        if (t->id == 0 || t->id == UINT64_MAX)
            continue;
        if (t->has_begin)
            out->tasks[t->type].unfinished++;
        else
            out->task_ends_unmatched++;
        if (!stopped)
            emit_task(&s, t);
    }
    for (size_t i = 0; i < s.nstacks; i++) {
        const struct region_stack *st = &s.stacks[i];
        for (size_t k = 0; k < st->count; k++) {
            out->regions[st->frames[k].type].unfinished++;
            if (!stopped) {
                int64_t end = st->last > st->frames[k].begin ? st->last : st->frames[k].begin;
                emit_region(&s, st, &st->frames[k], end, false);
            }
        }
        free(st->frames);
    }
    free(s.stacks);
    free(s.tasks.slots);
    return rc != 0 && !rd->failed ? -1 : 0; /* damage: what came before it */
}

int ct_annotations_compute(struct ct_reader *rd, struct ct_annotations *out)
{
    return ct_annotations_read(rd, out, NULL);
}

void ct_annotations_free(struct ct_annotations *a)
{
    free(a->tasks);
    free(a->regions);
    memset(a, 0, sizeof *a);
}
