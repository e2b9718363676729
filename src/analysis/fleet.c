/*
 * fleet.c - a trace as rows for a fleet's store (fleet.h): one pass of the
 * thread analysis with a visitor that matches regions and tasks as
 * annotations.c does, pairs blocks as stats.c does, and hands each row to
 * the sink as soon as it is known.
 */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../recorder/sched.h"
#include "latency.h"
#include "symbols.h"

/* ---- names: region and task types, interned for the whole trace ---- */

/* A type's name, with its length: rows carry both, measured once. */
struct type_name {
    uint32_t len;
    char text[]; /* NUL-terminated */
};

struct names {
    struct name {
        uint64_t hash;
        struct type_name *name; /* NULL: an empty slot */
    } *slots;
    size_t cap, count;
};

/* MurmurHash3's 64-bit finalizer: every input bit reaches every output bit. */
static inline uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

uint64_t ct_fleet_hash(uint64_t seed, const void *data, size_t len)
{
    /* FNV-1a over the bytes, then the finalizer. */
    uint64_t h = seed ^ 0xcbf29ce484222325u;
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return fmix64(h);
}

uint64_t ct_fleet_hash_u64(uint64_t seed, uint64_t v)
{
    return fmix64(seed ^ fmix64(v ^ 0x9e3779b97f4a7c15u));
}

/* The interned copy of len bytes (at most CT_MAX_STRING); NULL without memory. */
static const struct type_name *intern(struct names *n, const void *s, size_t len)
{
    if (len > CT_MAX_STRING)
        len = CT_MAX_STRING;
    uint64_t h = ct_fleet_hash(0, s, len);
    if ((n->count + 1) * 2 > n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 64;
        struct name *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return NULL;
        for (size_t i = 0; i < n->cap; i++) {
            if (!n->slots[i].name)
                continue;
            size_t j = n->slots[i].hash & (cap - 1);
            while (slots[j].name)
                j = (j + 1) & (cap - 1);
            slots[j] = n->slots[i];
        }
        free(n->slots);
        n->slots = slots;
        n->cap = cap;
    }
    size_t i = h & (n->cap - 1);
    for (; n->slots[i].name; i = (i + 1) & (n->cap - 1))
        if (n->slots[i].hash == h && n->slots[i].name->len == len &&
            memcmp(n->slots[i].name->text, s, len) == 0)
            return n->slots[i].name;
    struct type_name *name = malloc(sizeof *name + len + 1);
    if (!name)
        return NULL;
    name->len = (uint32_t)len;
    memcpy(name->text, s, len);
    name->text[len] = 0;
    n->slots[i] = (struct name){h, name};
    n->count++;
    return name;
}

static void names_free(struct names *n)
{
    for (size_t i = 0; i < n->cap; i++)
        free(n->slots[i].name);
    free(n->slots);
}

/* ---- stacks, symbolized once each ---- */

#define STACK_FRAMES 32

struct stack_entry {
    uint64_t key; /* 0: an empty slot */
    char **frames;
    unsigned nframes;
};

struct stacks {
    struct stack_entry *slots;
    size_t cap, count;
    struct ct_symbols *sym;
    bool sym_tried;
};

/* The frames of pcs as `ctrace stats` names them: each address's frames,
 * inlined ones included, "function file:line" or the function alone. */
static unsigned symbolize(struct ct_symbols *sym, const uint64_t *pcs, int n, char **out)
{
    unsigned k = 0;
    static struct ct_symbol s[8]; /* 6 KiB: kept off the stack */
    for (int i = 0; i < n && k < STACK_FRAMES; i++) {
        int nf = ct_symbols_frames(sym, pcs[i], true, s, 8);
        for (int f = 0; f < nf && k < STACK_FRAMES; f++) {
            char line[160];
            if (s[f].file[0])
                snprintf(line, sizeof line, "%.80s %.60s:%d", s[f].function, s[f].file, s[f].line);
            else
                snprintf(line, sizeof line, "%.150s", s[f].function);
            if (!(out[k] = strdup(line)))
                return k;
            k++;
        }
    }
    return k;
}

/* The symbolized frames of stack id `stack` of gen; NULL for none (or
 * without memory: a block is still a row, without its stack). */
static const struct stack_entry *stack_of(struct stacks *st, const struct ct_reader *rd,
                                          const struct ct_gen *gen, uint64_t stack)
{
    const struct ct_idmap_entry *e = stack ? ct_idmap_get(&gen->stacks, stack) : NULL;
    if (!e)
        return NULL;
    /* Keyed by the stack's encoded frames, not its id: ids are the
     * recorder's, and a damaged file may give one id two stacks. */
    uint64_t key = ct_fleet_hash(e->len, e->data, (size_t)(e->end - e->data)) | 1;
    if ((st->count + 1) * 2 > st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        struct stack_entry *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return NULL;
        for (size_t i = 0; i < st->cap; i++) {
            if (!st->slots[i].key)
                continue;
            size_t j = st->slots[i].key & (cap - 1);
            while (slots[j].key)
                j = (j + 1) & (cap - 1);
            slots[j] = st->slots[i];
        }
        free(st->slots);
        st->slots = slots;
        st->cap = cap;
    }
    size_t i = key & (st->cap - 1);
    for (; st->slots[i].key; i = (i + 1) & (st->cap - 1))
        if (st->slots[i].key == key)
            return &st->slots[i];
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* reading local ELF files: slow, not input */
    if (!st->sym_tried) {
        /* The trace's embedded symbols (found by walking its records'
         * headers), then the modules' files. */
        st->sym_tried = true;
        st->sym = ct_symbols_open_rd(rd, gen);
    }
#else
    (void)rd;
#endif
    uint64_t pcs[CT_MAX_FRAMES];
    int n = ct_rd_frames(e->data, e->end, e->len, pcs, CT_MAX_FRAMES);
    struct stack_entry *s = &st->slots[i];
    s->frames = calloc(STACK_FRAMES, sizeof *s->frames);
    if (!s->frames)
        return NULL;
    s->key = key;
    s->nframes = n > 0 ? symbolize(st->sym, pcs, n, s->frames) : 0;
    st->count++;
    return s;
}

static void stacks_free(struct stacks *st)
{
    for (size_t i = 0; i < st->cap; i++) {
        for (unsigned k = 0; st->slots[i].key && k < st->slots[i].nframes; k++)
            free(st->slots[i].frames[k]);
        free(st->slots[i].frames);
    }
    free(st->slots);
    ct_symbols_close(st->sym);
}

/* ---- each thread: its open regions and its pending block ---- */

struct frame {
    const struct type_name *type;
    uint32_t depth, seq, trace_root;
    uint64_t task, trace_task;
    int64_t begin;
    uint64_t begin_real;
};

struct thread_state {
    uint64_t tid;
    char name[16];
    struct frame *frames;
    size_t count, cap;
    uint32_t next_seq;
    bool blocked;
    unsigned reason;
    uint64_t object;
    int64_t since;
    uint64_t since_real;
    /* The pending block's stack: the entry's own arrays, which stay where
     * they are when the table of stacks grows. */
    char **block_frames;
    unsigned block_nframes;
};

/* ---- tasks seen begun or ended, not both yet (as annotations.c) ---- */

struct open_task {
    uint64_t id; /* 0 empty, UINT64_MAX removed */
    const struct type_name *type;
    uint64_t parent, begin_tid, end_tid;
    bool has_begin, has_end;
    int64_t begin, end;
    uint64_t begin_real;
};

struct task_table {
    struct open_task *slots;
    size_t cap, used, live;
};

struct pass {
    const struct ct_fleet_sink *sink;
    struct ct_fleet_summary *sum;
    struct names names;
    struct stacks stacks;
    struct thread_state *threads;
    size_t nthreads, threads_cap;
    struct task_table tasks;
    /* The current generation's string ids of types (direct-mapped). */
    struct {
        uint64_t id;
        const struct type_name *name;
    } type_cache[256];
    int syscall_object; /* the syscall event's object argument, or -1 */
    uint64_t zero_real; /* the wall clock at time zero (the first generation's line) */
    bool first_gen;
    bool oom;
};

static bool stopped(const struct pass *p)
{
    return p->sum->stopped || p->oom;
}

static void stop_if(struct pass *p, int rc)
{
    if (rc != 0)
        p->sum->stopped = true;
}

/* The wall clock at ts_ns (since time zero): the wall clock at time zero
 * plus the monotonic time since, one line for the whole trace, so that
 * wall times keep the order and the durations of the trace's own (each
 * generation's calibration would move them by a few ns at its
 * boundaries; the wall clock's own steps and slewing are left out). */
static uint64_t real_of(const struct pass *p, int64_t ts_ns)
{
    return p->zero_real + (uint64_t)ts_ns;
}

static const struct type_name *type_name(struct pass *p, const struct ct_gen *gen, uint64_t id)
{
    unsigned slot = (unsigned)(id & 255);
    if (id && p->type_cache[slot].id == id)
        return p->type_cache[slot].name;
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, id);
    const struct type_name *name = e ? intern(&p->names, e->data, e->len) : intern(&p->names, "(unknown)", 9);
    if (!name)
        p->oom = true;
    else if (id)
        p->type_cache[slot].id = id, p->type_cache[slot].name = name;
    return name;
}

static struct thread_state *state_of(struct pass *p, struct ct_thread_row *r)
{
    /* The row's `user` field holds the state's index + 1. */
    if (r->user) {
        struct thread_state *t = &p->threads[r->user - 1];
        memcpy(t->name, r->name, sizeof t->name); /* it may be named late */
        return t;
    }
    if (p->nthreads == p->threads_cap) {
        size_t cap = p->threads_cap ? p->threads_cap * 2 : 64;
        struct thread_state *t = realloc(p->threads, cap * sizeof *t);
        if (!t) {
            p->oom = true;
            return NULL;
        }
        p->threads = t;
        p->threads_cap = cap;
    }
    struct thread_state *t = &p->threads[p->nthreads++];
    memset(t, 0, sizeof *t);
    t->tid = r->tid;
    memcpy(t->name, r->name, sizeof t->name);
    r->user = (uint32_t)p->nthreads;
    return t;
}

/* ---- regions ---- */

/* The row of f, nested in parent (NULL: none). */
static void region_row(struct pass *p, const struct thread_state *t, const struct frame *f,
                       const struct frame *parent, int status, int64_t end)
{
    struct ct_fleet_region row = {
        .tid = t->tid, .thread_name = t->name, .task = f->task, .type = f->type->text,
        .type_len = f->type->len, .status = status,
        .begin_ns = f->begin, .end_ns = end, .begin_real_ns = f->begin_real,
        .duration_ns = status == CT_FLEET_ENDED ? ct_span_ns(f->begin, end) : 0,
        .depth = f->depth, .seq = f->seq, .parent_seq = parent ? parent->seq : 0,
        .parent_task = parent ? parent->task : 0,
        .trace_task = f->trace_task, .trace_root = f->trace_root,
    };
    if (p->sink->region)
        stop_if(p, p->sink->region(p->sink->ctx, &row));
}

static void region_begin(struct pass *p, struct thread_state *t, const struct ct_gen *gen,
                         const struct ct_event *ev)
{
    const struct type_name *type = type_name(p, gen, ev->args[1]);
    if (!type)
        return;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct frame *f = realloc(t->frames, cap * sizeof *f);
        if (!f) {
            p->oom = true;
            return;
        }
        t->frames = f;
        t->cap = cap;
    }
    const struct frame *parent = t->count ? &t->frames[t->count - 1] : NULL;
    struct frame *f = &t->frames[t->count];
    *f = (struct frame){.type = type, .depth = (uint32_t)t->count + 1, .seq = ++t->next_seq,
                        .task = ev->args[0], .begin = ev->ts_ns,
                        .begin_real = real_of(p, ev->ts_ns)};
    /* Its span tree: its task's; with no task, its parent's; else its own. */
    if (f->task)
        f->trace_task = f->task;
    else if (parent)
        f->trace_task = parent->trace_task, f->trace_root = parent->trace_root;
    else
        f->trace_root = f->seq;
    t->count++;
}

static void region_end(struct pass *p, struct thread_state *t, const struct ct_gen *gen,
                       const struct ct_event *ev)
{
    const struct type_name *type = type_name(p, gen, ev->args[0]);
    if (!type)
        return;
    long found = -1;
    if (ev->kind == CT_EV_REGION_END) {
        if (t->count > 0 && t->frames[t->count - 1].type == type)
            found = (long)t->count - 1;
    } else {
        for (size_t i = 0; i < t->count; i++)
            if (t->frames[i].depth == ev->args[1] && t->frames[i].type == type)
                found = (long)i;
    }
    if (found < 0) {
        /* Begun before the trace: a row of its own, with no begin. */
        struct frame f = {.type = type, .begin = p->sum->begin_ns,
                          .begin_real = real_of(p, p->sum->begin_ns)};
        struct thread_state alone = {.tid = t->tid};
        memcpy(alone.name, t->name, sizeof alone.name);
        region_row(p, &alone, &f, NULL, CT_FLEET_UNMATCHED, ev->ts_ns);
        return;
    }
    region_row(p, t, &t->frames[found], found > 0 ? &t->frames[found - 1] : NULL,
               CT_FLEET_ENDED, ev->ts_ns);
    if ((size_t)found + 1 < t->count) /* ended out of order, by depth */
        memmove(&t->frames[found], &t->frames[found + 1],
                (t->count - (size_t)found - 1) * sizeof *t->frames);
    t->count--;
}

/* ---- tasks ---- */

static size_t task_slot(uint64_t id, size_t cap)
{
    id *= 0x9E3779B97F4A7C15u;
    return (size_t)(id >> 17) & (cap - 1);
}

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
        size_t j = task_slot(t->slots[i].id, cap);
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

/* Whether task id is in the table: begun or ended, not both yet. */
static bool task_pending(const struct task_table *t, uint64_t id)
{
    if (!t->cap || !id || id == UINT64_MAX)
        return false;
    for (size_t i = task_slot(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].id == id)
            return true;
        if (t->slots[i].id == 0)
            return false;
    }
}

/* The entry of task id, added when absent; NULL without memory. */
static struct open_task *task_entry(struct task_table *t, uint64_t id)
{
    if (t->cap)
        for (size_t i = task_slot(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
            if (t->slots[i].id == id)
                return &t->slots[i];
            if (t->slots[i].id == 0)
                break;
        }
    if ((t->used + 1) * 2 > t->cap && task_grow(t) != 0)
        return NULL;
    size_t i = task_slot(id, t->cap);
    while (t->slots[i].id && t->slots[i].id != UINT64_MAX)
        i = (i + 1) & (t->cap - 1);
    if (t->slots[i].id == 0)
        t->used++;
    t->slots[i] = (struct open_task){.id = id};
    t->live++;
    return &t->slots[i];
}

static struct ct_fleet_task task_row(const struct open_task *o, int status)
{
    return (struct ct_fleet_task){
        .id = o->id, .parent = o->parent, .type = o->type ? o->type->text : "",
        .type_len = o->type ? o->type->len : 0, .status = status,
        .begin_ns = o->begin, .end_ns = o->end, .begin_real_ns = o->begin_real,
        .duration_ns = status == CT_FLEET_ENDED ? ct_span_ns(o->begin, o->end) : 0,
        .begin_tid = o->begin_tid, .end_tid = o->end_tid,
    };
}

static void task_done(struct pass *p, struct open_task *o)
{
    struct ct_fleet_task row = task_row(o, CT_FLEET_ENDED);
    o->id = UINT64_MAX;
    p->tasks.live--;
    if (p->sink->task)
        stop_if(p, p->sink->task(p->sink->ctx, &row));
}

static void task_event(struct pass *p, const struct ct_thread_row *r, const struct ct_gen *gen,
                       const struct ct_event *ev)
{
    struct open_task *o = task_entry(&p->tasks, ev->args[0]);
    if (!o) {
        p->oom = true;
        return;
    }
    if (ev->kind == CT_EV_TASK_BEGIN) {
        if (!(o->type = type_name(p, gen, ev->args[2])))
            return;
        o->has_begin = true;
        o->begin = ev->ts_ns;
        o->begin_real = real_of(p, ev->ts_ns);
        o->parent = ev->args[1];
        o->begin_tid = r->tid;
    } else {
        o->has_end = true;
        o->end = ev->ts_ns;
        o->end_tid = r->tid;
    }
    if (o->has_begin && o->has_end)
        task_done(p, o);
}

/* ---- blocks and system calls ---- */

static void block_row(struct pass *p, const struct thread_state *t, int status, int64_t end)
{
    struct ct_fleet_block b = {
        .tid = t->tid, .kind = CT_FLEET_BLOCK, .status = status,
        .reason = ct_reason_name(t->reason), .fd_class = "", .object = t->object, .fd = -1,
        .begin_ns = t->since, .end_ns = end, .begin_real_ns = t->since_real,
        .duration_ns = status == CT_FLEET_ENDED ? ct_span_ns(t->since, end) : 0,
        .frames = (const char *const *)t->block_frames, .nframes = t->block_nframes,
    };
    if (!b.reason)
        b.reason = "";
    if (p->sink->block)
        stop_if(p, p->sink->block(p->sink->ctx, &b));
}

static void syscall_row(struct pass *p, const struct ct_thread_row *r, const struct ct_reader *rd,
                        const struct ct_gen *gen, const struct ct_event *ev)
{
    if (ev->args[3] >= UINT64_MAX - ev->ts)
        return;
    int64_t end = ct_gen_ns(rd, gen, ev->ts + ev->args[3]);
    const struct stack_entry *s = stack_of(&p->stacks, rd, gen, ev->stack);
    const char *reason = ct_reason_name((unsigned)ev->args[0]);
    const char *fd_class = ct_fd_class_name((unsigned)ev->args[2]);
    int at = p->syscall_object;
    struct ct_fleet_block b = {
        .tid = r->tid, .kind = CT_FLEET_SYSCALL, .status = CT_FLEET_ENDED,
        .reason = reason ? reason : "", .fd_class = fd_class ? fd_class : "",
        .object = at >= 0 && (unsigned)at < ev->nargs ? ev->args[at] : 0,
        .fd = (int64_t)(int32_t)ev->args[1],
        .begin_ns = ev->ts_ns, .end_ns = end, .begin_real_ns = real_of(p, ev->ts_ns),
        .duration_ns = ct_span_ns(ev->ts_ns, end),
        .frames = s ? (const char *const *)s->frames : NULL, .nframes = s ? s->nframes : 0,
    };
    p->sum->syscalls++;
    if (p->sink->block)
        stop_if(p, p->sink->block(p->sink->ctx, &b));
}

/* ---- the visitor ---- */

static void on_event(void *ctx, const struct ct_thread_row *row, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    struct pass *p = ctx;
    if (ev->ts_ns > p->sum->end_ns)
        p->sum->end_ns = ev->ts_ns;
    if (stopped(p))
        return;
    struct ct_thread_row *r = (struct ct_thread_row *)row; /* its `user` field is ours */
    switch (ev->kind) {
    case CT_EV_REGION_BEGIN:
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT: {
        struct thread_state *t = state_of(p, r);
        if (!t)
            return;
        if (ev->kind == CT_EV_REGION_BEGIN) {
            p->sum->regions++;
            region_begin(p, t, gen, ev);
        } else {
            region_end(p, t, gen, ev);
        }
        break;
    }
    case CT_EV_TASK_BEGIN:
    case CT_EV_TASK_END:
        p->sum->tasks += ev->kind == CT_EV_TASK_BEGIN;
        task_event(p, r, gen, ev);
        break;
    case CT_EV_LOG: {
        struct thread_state *t = state_of(p, r);
        if (!t)
            return;
        p->sum->logs++;
        const struct ct_idmap_entry *c = ct_idmap_get(&gen->strings, ev->args[1]);
        const struct frame *f = t->count ? &t->frames[t->count - 1] : NULL;
        struct ct_fleet_log l = {
            .tid = r->tid, .thread_name = r->name, .task = ev->args[0], .ts_ns = ev->ts_ns,
            .real_ns = real_of(p, ev->ts_ns),
            .category = c ? (const char *)c->data : "", .category_len = c ? c->len : 0,
            .message = ev->bytes, .message_len = ev->bytes_len,
            .region_seq = f ? f->seq : 0, .region_trace_root = f ? f->trace_root : 0,
            .region_task = f ? f->task : 0, .region_trace_task = f ? f->trace_task : 0,
            .task_pending = task_pending(&p->tasks, ev->args[0]),
        };
        if (p->sink->log)
            stop_if(p, p->sink->log(p->sink->ctx, &l));
        break;
    }
    case CT_EV_BLOCK: {
        struct thread_state *t = state_of(p, r);
        if (!t)
            return;
        t->blocked = true;
        t->reason = (unsigned)ev->args[0];
        t->object = ev->args[1];
        t->since = ev->ts_ns;
        t->since_real = real_of(p, ev->ts_ns);
        const struct stack_entry *st = stack_of(&p->stacks, rd, gen, ev->stack);
        t->block_frames = st ? st->frames : NULL;
        t->block_nframes = st ? st->nframes : 0;
        break;
    }
    case CT_EV_UNBLOCK: {
        struct thread_state *t = state_of(p, r);
        if (!t || !t->blocked)
            return;
        t->blocked = false;
        p->sum->blocks++;
        block_row(p, t, CT_FLEET_ENDED, ev->ts_ns);
        break;
    }
    case CT_EV_SYSCALL:
        syscall_row(p, r, rd, gen, ev);
        break;
    case CT_EV_LOST:
        p->sum->lost_events += ev->args[0];
        break;
    }
}

static void on_generation(void *ctx, const struct ct_reader *rd, const struct ct_gen *gen)
{
    struct pass *p = ctx;
    struct ct_fleet_summary *s = p->sum;
    if (p->sink->generation)
        p->sink->generation(p->sink->ctx);
    memset(p->type_cache, 0, sizeof p->type_cache);
    p->syscall_object = ct_kind_arg(gen, CT_EV_SYSCALL, "object");
    s->generations++;
    /* perf, then schedstat: perf (the switches gave way, --sched=auto). */
    if (gen->has_process && gen->process.sched > s->sched && s->sched != CT_SCHED_PERF)
        s->sched = gen->process.sched;
    for (size_t i = 0; i < gen->nlost; i++)
        s->lost_events += gen->lost[i].count;
    /* The span the generations cover, as `ctrace stats` takes it. */
    int64_t begin = ct_gen_ns(rd, gen, gen->base_units);
    if (p->first_gen)
        p->zero_real = gen->base_real_ns - (gen->base_mono_ns - rd->start_mono_ns);
    if (p->first_gen || begin < s->begin_ns)
        s->begin_ns = begin;
    if (p->first_gen || begin > s->end_ns)
        s->end_ns = begin;
    p->first_gen = false;
    if (gen->complete && ct_gen_ns(rd, gen, gen->end_units) > s->end_ns)
        s->end_ns = ct_gen_ns(rd, gen, gen->end_units);
    if (p->sink->progress)
        p->sink->progress(p->sink->ctx, gen->end_offset, rd->size);
}

static bool wants(void *ctx, uint64_t tid)
{
    (void)tid;
    return !stopped(ctx);
}

/* What was still open at the end: regions and blocks of each thread, and
 * tasks begun or ended without the other. */
static void finish_open(struct pass *p, int64_t end)
{
    for (size_t i = 0; i < p->nthreads && !stopped(p); i++) {
        struct thread_state *t = &p->threads[i];
        /* Innermost first, each with the ones it is nested in still open. */
        while (t->count > 0 && !stopped(p)) {
            region_row(p, t, &t->frames[t->count - 1],
                       t->count > 1 ? &t->frames[t->count - 2] : NULL, CT_FLEET_UNFINISHED, end);
            t->count--;
        }
        if (t->blocked && !stopped(p))
            block_row(p, t, CT_FLEET_UNFINISHED, end);
    }
    for (size_t i = 0; i < p->tasks.cap && !stopped(p); i++) {
        struct open_task *o = &p->tasks.slots[i];
        if (o->id == 0 || o->id == UINT64_MAX)
            continue;
        if (!o->has_begin) {
            o->begin = p->sum->begin_ns;
            o->begin_real = p->zero_real + (uint64_t)o->begin;
        } else {
            o->end = end;
        }
        struct ct_fleet_task row = task_row(o, o->has_begin ? CT_FLEET_UNFINISHED
                                                            : CT_FLEET_UNMATCHED);
        if (p->sink->task)
            stop_if(p, p->sink->task(p->sink->ctx, &row));
    }
}

int ct_fleet_read(struct ct_reader *rd, const struct ct_fleet_sink *sink,
                  struct ct_fleet_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    struct pass p = {.sink = sink, .sum = summary, .first_gen = true, .syscall_object = -1};
    struct ct_visitor v = {.ctx = &p, .event = on_event, .wants = wants,
                           .generation = on_generation};
    struct ct_threads t;
    int rc = ct_threads_visit(rd, &t, &v);
    /* A damaged trace is read up to the damage with its error kept: for a
     * fleet, whose rows count only whole, that is a failure. */
    if (rc == 0 && rd->failed)
        rc = -1;
    if (rc == 0) {
        if (t.end_ns > summary->end_ns)
            summary->end_ns = t.end_ns;
        finish_open(&p, summary->end_ns);
        summary->events = t.events;
        for (size_t i = 0; i < t.count && !stopped(&p); i++) {
            const struct ct_thread_row *r = &t.rows[i];
            if (r->tracer)
                continue;
            summary->threads++;
            summary->voluntary_switches += r->voluntary;
            summary->involuntary_switches += r->involuntary;
            if (sink->thread)
                stop_if(&p, sink->thread(sink->ctx, r));
        }
        summary->duration_ns = ct_span_ns(summary->begin_ns, summary->end_ns);
    }
    ct_threads_free(&t);
    for (size_t i = 0; i < p.nthreads; i++)
        free(p.threads[i].frames);
    free(p.threads);
    free(p.tasks.slots);
    names_free(&p.names);
    stacks_free(&p.stacks);
    if (rc != 0)
        return -1;
    if (p.oom) {
        snprintf(rd->error, sizeof rd->error, "%s: out of memory", rd->path);
        rd->failed = true;
        return -1;
    }
    return summary->stopped ? 1 : 0;
}

/* ---- who recorded it ---- */

static void copy_text(char *out, size_t cap, const uint8_t *s, uint64_t len, bool nul_as_space)
{
    size_t n = len < cap - 1 ? (size_t)len : cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] ? (char)s[i] : nul_as_space ? ' ' : '?';
    while (nul_as_space && n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = 0;
}

/* Identifying needs no events: the reader skips every batch. */
static bool skip_all(void *ctx, uint64_t tid)
{
    (void)ctx;
    (void)tid;
    return true;
}

int ct_fleet_identify(const char *path, struct ct_fleet_trace *out, struct ct_reader *rd)
{
    memset(out, 0, sizeof *out);
    if (ct_rd_open(rd, path) != 0)
        return -1;
    /* The first generation's records but its batches (most of its bytes,
     * read and checked by the export's own pass). */
    rd->skip_thread = skip_all;
    struct ct_gen gen = {0};
    int r = ct_rd_next_gen(rd, &gen);
    if (r == 1) {
        out->first_generation = gen.number;
        out->start_real_ns = gen.base_real_ns - (gen.base_mono_ns - rd->start_mono_ns);
        if (gen.has_process) {
            const struct ct_rd_process *pr = &gen.process;
            out->has_process = true;
            out->pid = pr->pid;
            out->ppid = pr->ppid;
            out->sched = pr->sched;
            copy_text(out->host, sizeof out->host, pr->host, pr->host_len, false);
            copy_text(out->exe, sizeof out->exe, pr->exe, pr->exe_len, false);
            copy_text(out->command, sizeof out->command, pr->cmdline, pr->cmdline_len, true);
        }
    } else if (r == 0 && !rd->failed) {
        snprintf(rd->error, sizeof rd->error, "%s: offset %llu: expected a generation, found none",
                 rd->path, (unsigned long long)rd->off);
        rd->failed = true;
    }
    ct_gen_free(&gen);
    ct_rd_close(rd); /* its error stays */
    return rd->failed ? -1 : 0;
}
