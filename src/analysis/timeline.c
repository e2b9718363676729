/*
 * timeline.c - the visitor that fills `ctrace view`'s index (timeline.h)
 * as the thread analysis reads the trace (timeline_build.c), and windows
 * (timeline_window.c) the same way: an index sums its short items into
 * buckets (timeline_items.c) and keeps marks; a window keeps every item.
 */
#include "timeline.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../recorder/sched.h"
#include "threads.h"


static uint64_t hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h | 1;
}

/* ---- strings and stacks (a window uses its index's) ---- */

static struct ct_timeline *names(struct ct_timeline *tl)
{
    return tl->index ? tl->index : tl;
}

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
    if (len)
        memcpy(tl->text + at, s, len);
    tl->text[at + len] = 0;
    tl->text_len += len + 1;
    return at;
}

uint32_t ct_tl_string(struct ct_timeline *tl, const void *s, size_t len)
{
    tl = names(tl);
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
    if (!CT_TL_GROW(tl->strings, tl->nstrings, tl->strings_cap, 64))
        return 0;
    uint32_t idx = (uint32_t)tl->nstrings;
    tl->strings[tl->nstrings++] = text_add(tl, s, len);
    tl->string_hash[k] = (hash & 0xffffffff00000000u) | idx;
    return idx;
}

/* A generation's string id as the timeline's index; most events name one
 * of a few strings, remembered per generation. */
static uint32_t gen_string(struct tl_builder *b, const struct ct_gen *gen, uint64_t id)
{
    if (b->strings_gen != gen->offset) {
        memset(b->strings, 0, sizeof b->strings);
        b->strings_gen = gen->offset;
    }
    struct tl_string_memo *m = &b->strings[id & 63];
    if (m->id == id && id)
        return m->index;
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, id);
    uint32_t index = e ? ct_tl_string(b->tl, e->data, e->len) : ct_tl_string(b->tl, "?", 1);
    *m = (struct tl_string_memo){id, index};
    return index;
}

static uint32_t gen_stack(struct ct_timeline *tl, const struct ct_gen *gen, uint64_t id)
{
    const struct ct_idmap_entry *e = id ? ct_idmap_get(&gen->stacks, id) : NULL;
    if (!e)
        return 0;
    uint64_t pcs[64];
    int n = ct_rd_frames(e->data, e->end, e->len, pcs, 64);
    return n > 0 ? ct_tl_stack(tl, pcs, n) : 0;
}

uint32_t ct_tl_stack(struct ct_timeline *tl, const uint64_t *pcs, int n)
{
    tl = names(tl);
    uint64_t hash = hash_bytes(pcs, (size_t)n * sizeof *pcs);
    /* The last few stacks are the likely ones; a linear look back. */
    for (size_t i = tl->nstacks, k = 0; i-- > 0 && k < 64; k++)
        if (tl->stacks[i].hash == hash && tl->stacks[i].n == (uint32_t)n &&
            memcmp(tl->frames + tl->stacks[i].at, pcs, (size_t)n * sizeof *pcs) == 0)
            return (uint32_t)i + 1;
    while (tl->nframes + (size_t)n > tl->frames_cap)
        if (!ct_tl_grow_array((void **)&tl->frames, &tl->frames_cap, sizeof *tl->frames, 4096))
            return 0;
    if (!CT_TL_GROW(tl->stacks, tl->nstacks, tl->stacks_cap, 256))
        return 0;
    memcpy(tl->frames + tl->nframes, pcs, (size_t)n * sizeof *pcs);
    tl->stacks[tl->nstacks].at = (uint32_t)tl->nframes;
    tl->stacks[tl->nstacks].n = (uint32_t)n;
    tl->stacks[tl->nstacks].hash = hash;
    tl->nframes += (size_t)n;
    return (uint32_t)++tl->nstacks;
}

/* ---- the visitor ---- */


static struct tl_lane *lane_of(struct tl_builder *b, uint64_t tid);

/* A row's lane, remembered in the row. */
static inline struct tl_lane *row_lane(struct tl_builder *b, const struct ct_thread_row *r)
{
    struct ct_timeline *tl = b->tl;
    if (r->user && r->user <= tl->nlanes && tl->lanes[r->user - 1].tid == r->tid)
        return &tl->lanes[r->user - 1];
    struct tl_lane *l = lane_of(b, r->tid);
    if (l)
        ((struct ct_thread_row *)r)->user = (uint32_t)(l - tl->lanes) + 1;
    return l;
}

static struct tl_lane *lane_of(struct tl_builder *b, uint64_t tid)
{
    struct ct_timeline *tl = b->tl;
    if (b->last && b->last->tid == tid)
        return b->last;
    for (size_t i = tl->nlanes; i-- > 0;)
        if (tl->lanes[i].tid == tid)
            return b->last = &tl->lanes[i];
    if (tl->index) /* a window has its lanes from the start */
        return NULL;
    struct tl_lane *grown = realloc(tl->lanes, (tl->nlanes + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    tl->lanes = grown;
    struct tl_lane *l = &tl->lanes[tl->nlanes++];
    memset(l, 0, sizeof *l);
    l->tid = tid;
    l->st.cpu = -1;
    ct_tl_grid_init(&l->span_grid, tl->begin, CT_COL_COUNT, false);
    ct_tl_grid_init(&l->region_grid, tl->begin, 0, false);
    return b->last = l;
}

/* n events of tid lost between from and to (the index only). */
static void note_loss(struct tl_builder *b, uint64_t tid, uint64_t n, int64_t from, int64_t to)
{
    struct tl_lane *l = n ? lane_of(b, tid) : NULL;
    if (!l)
        return;
    l->lost += n;
    if (to < from)
        to = from;
    struct tl_loss *last = l->nlosses ? &l->losses[l->nlosses - 1] : NULL;
    if (last && (l->nlosses >= CT_TL_LOSSES || from <= last->e)) {
        last->b = from < last->b ? from : last->b;
        last->e = to > last->e ? to : last->e;
        last->n += n;
    } else if (CT_TL_GROW(l->losses, l->nlosses, l->losses_cap, 8)) {
        l->losses[l->nlosses++] = (struct tl_loss){from, to, n};
    }
}

/* Whether a row's time is inside an activity of its thread: a block or a
 * call under way (its activity; a thread created in the trace waits for
 * its first run with the activity sched, which is none). */
static bool in_activity(const struct ct_thread_row *r)
{
    return r->activity != CT_COL_EXEC && r->activity != CT_COL_SCHED;
}

/* An interval of one column: extends the span in progress, or ends it and
 * starts the next. The analysis gives [begin, end) before it reads the
 * event at `end`, so the lane's last activity and the row's are those of
 * the interval: a span carries the activity it lies in, never the next. */
static void on_interval(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                        int64_t begin, int64_t end)
{
    (void)reason; /* the row's, kept from its last block: the lane has its own */
    struct tl_builder *b = ctx;
    if (r->tracer || end <= begin)
        return;
    struct tl_lane *l = row_lane(b, r);
    if (!l)
        return;
    struct tl_state *st = &l->st;
    bool inside = in_activity(r);
    int64_t since = inside ? st->pending_since : TL_NO_ACTIVITY;
    if (st->has_cur) {
        struct tl_span *cur = &st->cur;
        if (cur->col == column && cur->e == begin && cur->since == since) {
            cur->e = end;
            return;
        }
        ct_tl_emit_span(b->tl, l, cur);
    }
    st->cur = (struct tl_span){begin, end, since, 0, 0, (uint8_t)column, 0, 0, 0};
    if (inside) {
        st->cur.object = st->pending_object;
        st->cur.stack = st->pending_stack;
        st->cur.reason = st->pending_reason;
        st->cur.fd_class = st->pending_class;
        st->cur.flags = st->pending_flags;
    }
    st->has_cur = true;
}

static void cpu_run(struct ct_timeline *tl, struct tl_lane *l, int64_t now)
{
    const struct tl_state *st = &l->st;
    if (!st->on_cpu || st->cpu < 0 || now <= st->cpu_since || st->cpu > 4096)
        return;
    struct tl_cpu *c = ct_tl_cpu(tl, st->cpu);
    if (c)
        ct_tl_emit_run(tl, c, &(struct tl_run){st->cpu_since, now, l->tid});
}

static void region_end(struct ct_timeline *tl, struct tl_lane *l, unsigned i, int64_t t)
{
    struct tl_state *st = &l->st;
    const struct tl_open_region *o = &st->open[i];
    ct_tl_emit_region(tl, l, &(struct tl_region){o->b, t, o->task, o->type, o->depth});
    memmove(&st->open[i], &st->open[i + 1], (st->nopen - i - 1) * sizeof st->open[0]);
    st->nopen--;
}

struct tl_cpu *ct_tl_cpu(struct ct_timeline *tl, int cpu)
{
    for (size_t i = 0; i < tl->ncpus; i++)
        if (tl->cpus[i].cpu == cpu)
            return &tl->cpus[i];
    struct tl_cpu *grown = realloc(tl->cpus, (tl->ncpus + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    tl->cpus = grown;
    struct tl_cpu *c = &tl->cpus[tl->ncpus++];
    *c = (struct tl_cpu){.cpu = cpu};
    ct_tl_grid_init(&c->grid, tl->begin, 0, true);
    return c;
}

struct tl_counter *ct_tl_counter(struct ct_timeline *tl, unsigned kind)
{
    for (size_t i = 0; i < tl->ncounters; i++)
        if (tl->counters[i].kind == kind)
            return &tl->counters[i];
    if (tl->ncounters == sizeof tl->counters / sizeof tl->counters[0])
        return NULL;
    tl->counters[tl->ncounters] = (struct tl_counter){kind, NULL, 0, 0};
    return &tl->counters[tl->ncounters++];
}

static void counter(struct ct_timeline *tl, const struct ct_event *ev)
{
    struct tl_counter *c = ct_tl_counter(tl, (unsigned)ev->args[0]);
    if (c && CT_TL_GROW(c->s, c->n, c->cap, 256))
        c->s[c->n++] = (struct tl_sample){ev->ts_ns, ev->args[1]};
}

/* Where the generation's string and stack definitions end, so that a
 * window reads only the batches before it to have them all. */
static void note_definitions(struct tl_builder *b, const struct ct_reader *rd,
                             const struct ct_gen *gen)
{
    struct ct_timeline *tl = b->tl;
    uint64_t seen = gen->strings.count + gen->stacks.count;
    if (seen == b->defs_seen || !tl->ngens)
        return;
    b->defs_seen = seen;
    struct tl_gen *g = &tl->gens[tl->ngens - 1];
    const struct ct_idmap *maps[2] = {&gen->strings, &gen->stacks};
    for (int m = 0; m < 2; m++)
        for (size_t i = 0; i < maps[m]->cap; i++)
            if (maps[m]->entries[i].id) {
                uint64_t off = ct_rd_offset(rd, maps[m]->entries[i].end);
                if (off > g->defs_end)
                    g->defs_end = off;
            }
}

static void on_event(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    struct tl_builder *b = ctx;
    struct ct_timeline *tl = b->tl;
    bool index = !tl->index;
    if (index) {
        if ((++tl->events & 0xfffff) == 0 && b->progress)
            b->progress(rd->off, rd->size);
        note_definitions(b, rd, gen);
        if (ev->kind == CT_EV_COUNTER) { /* the tracer's own thread samples them */
            counter(tl, ev);
            return;
        }
        if (ev->kind == CT_EV_LOST && ev->nargs >= 3 && !r->tracer)
            note_loss(b, r->tid, ev->args[0], ct_gen_ns(rd, gen, ev->args[1]),
                      ct_gen_ns(rd, gen, ev->args[2]));
    }
    if (r->tracer)
        return;
    struct tl_lane *l = row_lane(b, r);
    if (!l)
        return;
    struct tl_state *st = &l->st;
    switch (ev->kind) {
    case CT_EV_CPU:
        cpu_run(tl, l, ev->ts_ns);
        st->on_cpu = ev->args[0] == CT_CPU_ON;
        st->cpu = (int)ev->args[1];
        st->cpu_since = ev->ts_ns;
        break;
    case CT_EV_BLOCK:
        st->pending_object = ev->args[1];
        st->pending_since = ev->ts_ns;
        st->pending_stack = gen_stack(tl, gen, ev->stack);
        st->pending_reason = ev->args[0] <= UINT8_MAX ? (uint8_t)ev->args[0] : 0;
        st->pending_class = 0;
        const char *group = ct_reason_group((unsigned)ev->args[0]);
        st->pending_flags = !group || strcmp(group, "sync") == 0 ? TL_SPAN_WAKEABLE : 0;
        break;
    case CT_EV_SYSCALL:
    {
        int at = ct_kind_arg(gen, CT_EV_SYSCALL, "object");
        uint64_t object = at >= 0 && (unsigned)at < ev->nargs ? ev->args[at] : 0;
        /* A call's spans name it and its descriptor ("read fd 5"); the
         * object (a pipe's identity) only links a writer's wake to it. */
        st->pending_object = ev->args[1];
        st->pending_since = ev->ts_ns;
        st->pending_stack = gen_stack(tl, gen, ev->stack);
        st->pending_reason = ev->args[0] <= UINT8_MAX ? (uint8_t)ev->args[0] : 0;
        st->pending_class = ev->args[2] <= UINT8_MAX ? (uint8_t)ev->args[2] : 0;
        st->pending_flags = TL_SPAN_CALL | (object ? TL_SPAN_WAKEABLE : 0);
        /* A read of a pipe ends like an unblock: a writer's wake links to it
         * (in a window; the index only counts wakes). */
        if (!index && object && ev->args[3] < UINT64_MAX - ev->ts)
            ct_wakes_add_unblock(&tl->raw_wakes, ev->ts_ns,
                                 ct_gen_ns(rd, gen, ev->ts + ev->args[3]), r->tid, object);
        break;
    }
    case CT_EV_CALL:
        /* A call the thread was in at a generation's end, or the system
         * call the kernel saw it waiting in: an activity until it runs
         * again, when nothing else is under way (as the analysis's row). */
        if (r->activity == CT_COL_EXEC) {
            uint64_t call = ev->args[0], sysno = ev->args[3];
            st->pending_object = ev->args[1];
            st->pending_since = ev->ts_ns;
            st->pending_stack = 0;
            st->pending_flags = TL_SPAN_CALL | (ev->args[4] ? TL_SPAN_WAKEABLE : 0);
            if (call || sysno > UINT16_MAX) {
                st->pending_reason = call <= UINT8_MAX ? (uint8_t)call : 0;
                st->pending_class = ev->args[2] <= UINT8_MAX ? (uint8_t)ev->args[2] : 0;
            } else {
                st->pending_flags |= TL_SPAN_SYSNO;
                st->pending_reason = (uint8_t)sysno;
                st->pending_class = (uint8_t)(sysno >> 8);
            }
        }
        break;
    case CT_EV_REGION_BEGIN:
        if (st->nopen < CT_TL_MAX_OPEN) {
            st->open[st->nopen] = (struct tl_open_region){ev->ts_ns, ev->args[0],
                                                          gen_string(b, gen, ev->args[1]),
                                                          st->nopen + 1u};
            st->nopen++;
        }
        break;
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT: {
        if (st->nopen == 0)
            break;
        unsigned i = st->nopen - 1;
        if (ev->kind == CT_EV_REGION_END_AT)
            for (unsigned k = 0; k < st->nopen; k++)
                if (st->open[k].depth == ev->args[1])
                    i = k;
        region_end(tl, l, i, ev->ts_ns);
        break;
    }
    case CT_EV_TASK_BEGIN: {
        struct tl_task t = {ev->args[0], ev->args[1], r->tid, gen_string(b, gen, ev->args[2]),
                            ev->ts_ns, -1, 0};
        if (!index) {
            if (CT_TL_GROW(tl->tasks, tl->ntask_items, tl->tasks_cap, 256))
                tl->tasks[tl->ntask_items++] = t;
            break;
        }
        tl->ntasks++;
        struct tl_open_task *o = ct_tl_open_task(tl, t.id);
        if (o) {
            int64_t e = o->t.e;
            o->t = t;
            o->t.e = e;
            o->has_begin = true;
            ct_tl_task_seen(tl, o);
        }
        break;
    }
    case CT_EV_TASK_END:
        if (!index) {
            for (size_t i = tl->ntask_items, k = 0; i-- > 0 && k < 100000; k++)
                if (tl->tasks[i].id == ev->args[0] && tl->tasks[i].e < 0) {
                    tl->tasks[i].e = ev->ts_ns;
                    break;
                }
            break;
        }
        struct tl_open_task *o = ct_tl_open_task(tl, ev->args[0]);
        if (o) {
            o->t.e = ev->ts_ns;
            o->has_end = true;
            ct_tl_task_seen(tl, o);
        }
        break;
    case CT_EV_LOG:
        if (index)
            ct_tl_count_log(tl, ev->ts_ns, r->tid);
        else if (CT_TL_GROW(tl->logs, tl->nlogs, tl->logs_cap, 256)) {
            tl->logs[tl->nlogs++] = (struct tl_log){ev->ts_ns, r->tid, ev->args[0],
                                                   gen_string(b, gen, ev->args[1]),
                                                   text_add(tl, ev->bytes, ev->bytes_len),
                                                   (uint32_t)ev->bytes_len};
        }
        break;
    case CT_EV_UNBLOCK:
        if (!index)
            ct_wakes_add_unblock(&tl->raw_wakes, st->pending_since, ev->ts_ns, r->tid,
                                 st->pending_object);
        break;
    case CT_EV_WAKE:
        if (index)
            ct_tl_count_wake(tl, ev->ts_ns);
        else
            ct_wakes_add_wake(&tl->raw_wakes, ev->ts_ns, r->tid, ev->args[1],
                              (unsigned)ev->args[0]);
        break;
    }
}

/* A mark: the lane's state saved where its batch begins (the index only). */
static void on_mark(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                    const struct ct_gen *gen, size_t batch, bool first)
{
    struct tl_builder *b = ctx;
    struct ct_timeline *tl = b->tl;
    if (tl->index)
        return;
    if (!tl->ngens || tl->gens[tl->ngens - 1].offset != gen->offset) {
        if (!CT_TL_GROW(tl->gens, tl->ngens, tl->gens_cap, 64))
            return;
        tl->gens[tl->ngens++] = (struct tl_gen){gen->offset, gen->end_offset,
                                                ct_gen_ns(rd, gen, gen->base_units), 0};
        if (!tl->pid && gen->has_process) {
            tl->pid = gen->process.pid;
            tl->ncpu = gen->process.ncpu;
        }
        b->defs_seen = UINT64_MAX;
        for (size_t i = 0; i < gen->nlost; i++)
            note_loss(b, gen->lost[i].tid, gen->lost[i].count,
                      ct_gen_ns(rd, gen, gen->lost[i].first),
                      ct_gen_ns(rd, gen, gen->lost[i].last));
    }
    note_definitions(b, rd, gen);
    if (r->tracer)
        return;
    struct tl_lane *l = lane_of(b, r->tid);
    if (!l || !CT_TL_GROW(l->marks, l->nmarks, l->marks_cap, 64))
        return;
    struct tl_state *st = &l->st;
    st->at = r->at;
    st->activity_end = r->activity_end;
    st->cpu_state = r->cpu;
    st->activity = r->activity;
    st->switches = r->switches;
    st->runnable = r->runnable;
    st->sampled = r->sampled;
    st->fresh = ct_row_untouched(r);
    st->off_before_set = r->off_before_set;
    st->off_before = r->off_before;
    st->run_owed = (int64_t)(r->kernel_run - r->given_run);
    st->wait_owed = (int64_t)(r->kernel_wait - r->given_wait);
    st->reason = r->reason;
    size_t size = offsetof(struct tl_state, open) + st->nopen * sizeof st->open[0];
    if (tl->states_len + size > UINT32_MAX)
        return;
    while (tl->states_len + size > tl->states_cap)
        if (!ct_tl_grow_array((void **)&tl->states, &tl->states_cap, 1, 1 << 16))
            return;
    memcpy(tl->states + tl->states_len, st, size);
    int64_t tb = batch < gen->nbatches ? ct_gen_ns(rd, gen, gen->batches[batch].base_ts)
                 : l->nmarks       ? l->marks[l->nmarks - 1].tb
                                   : INT64_MIN;
    l->marks[l->nmarks++] = (struct tl_mark){r->at, tb, (uint32_t)(tl->ngens - 1),
                                             batch == SIZE_MAX ? UINT32_MAX : (uint32_t)batch,
                                             (uint32_t)tl->states_len, first};
    tl->states_len += size;
}

struct ct_visitor ct_tl_visitor(struct tl_builder *b)
{
    return (struct ct_visitor){b, on_interval, on_event, on_mark};
}

/* ---- finishing ---- */

/* Ends a lane's reading at t: its span in progress, its open regions. */
void ct_tl_lane_end(struct ct_timeline *tl, struct tl_lane *l, int64_t t)
{
    struct tl_state *st = &l->st;
    cpu_run(tl, l, t);
    if (st->has_cur)
        ct_tl_emit_span(tl, l, &st->cur);
    st->has_cur = false;
    while (st->nopen) { /* never ended: up to the end of the thread */
        int64_t b = st->open[st->nopen - 1].b;
        region_end(tl, l, st->nopen - 1u, t > b ? t : b);
    }
}

static int span_by_begin(const void *a, const void *b)
{
    const struct tl_span *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

static int by_run(const void *a, const void *b)
{
    const struct tl_run *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

static int by_sample(const void *a, const void *b)
{
    const struct tl_sample *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int by_log_time(const void *a, const void *b)
{
    const struct tl_log *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int by_cpu(const void *a, const void *b)
{
    const struct tl_cpu *x = a, *y = b;
    return x->cpu < y->cpu ? -1 : x->cpu > y->cpu;
}

static int by_tid(const void *a, const void *b)
{
    const struct tl_lane *x = a, *y = b;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
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
    tl->task_rows = 0;
    if (!tl->ntask_items)
        return;
    if (tl->ntask_items > tl->task_bars_cap) {
        struct tl_task *bars = realloc(tl->task_bars, tl->ntask_items * sizeof *bars);
        if (!bars)
            return;
        tl->task_bars = bars;
        tl->task_bars_cap = tl->ntask_items;
    }
    memcpy(tl->task_bars, tl->tasks, tl->ntask_items * sizeof *tl->task_bars);
    qsort(tl->task_bars, tl->ntask_items, sizeof *tl->task_bars, task_by_begin);
    int64_t row_end[CT_TL_TASK_ROWS];
    for (unsigned r = 0; r < CT_TL_TASK_ROWS; r++)
        row_end[r] = INT64_MIN;
    for (size_t i = 0; i < tl->ntask_items; i++) {
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

/* Regions come out as they end: by begin, an inner one (ended first) is
 * out of place by at most the depth. Sorted by insertion, in place. */
static void sort_regions(struct tl_region *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (r[i].b >= r[i - 1].b)
            continue;
        struct tl_region x = r[i];
        size_t j = i;
        for (; j > 0 && r[j - 1].b > x.b; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
}

static bool spans_sorted(const struct tl_span *s, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (s[i].b < s[i - 1].b)
            return false;
    return true;
}

/* Sorts what was read by time and packs the task bars (index or window). */
void ct_tl_finish_items(struct ct_timeline *tl)
{
    for (size_t i = 0; i < tl->nlanes; i++) {
        struct tl_lane *l = &tl->lanes[i];
        if (!spans_sorted(l->spans, l->nspan_items))
            qsort(l->spans, l->nspan_items, sizeof *l->spans, span_by_begin);
        sort_regions(l->regions, l->nregion_items);
    }
    if (tl->nlogs)
        qsort(tl->logs, tl->nlogs, sizeof *tl->logs, by_log_time);
    for (size_t i = 0; i < tl->ncpus; i++)
        if (tl->cpus[i].n)
            qsort(tl->cpus[i].runs, tl->cpus[i].n, sizeof *tl->cpus[i].runs, by_run);
    free(tl->wakes);
    tl->wakes = ct_wakes_link(&tl->raw_wakes, &tl->nwakes);
    pack_tasks(tl);
}

/* After reading (and joining the readings): every lane ended where its
 * thread ends, the tasks never ended kept long, the buckets' states
 * chosen, everything sorted, the wake-ups linked. */
void ct_tl_finish_index(struct ct_timeline *tl, struct tl_builder *b)
{
    const struct ct_threads *t = &tl->threads;
    tl->end = t->end_ns;
    tl->sched = t->sched;
    b->last = NULL;
    for (size_t i = 0; i < t->count; i++) {
        const struct ct_thread_row *r = &t->rows[i];
        if (r->tracer)
            continue;
        struct tl_lane *l = lane_of(b, r->tid);
        if (!l)
            continue;
        memcpy(l->name, r->name, sizeof l->name);
        snprintf(l->function, sizeof l->function, "%s", r->start_function);
        l->exited = r->exited;
        ct_tl_lane_end(tl, l, r->end_ns);
    }
    b->last = NULL;
    /* Tasks never ended run to the end; ends without a begin are left. */
    for (size_t i = 0; i < tl->open_cap; i++) {
        struct tl_open_task *o = &tl->open_tasks[i];
        if (o->t.id != TL_EMPTY && o->t.id != TL_GONE && o->has_begin) {
            o->t.e = -1;
            if (CT_TL_GROW(tl->tasks, tl->ntask_items, tl->tasks_cap, 64))
                tl->tasks[tl->ntask_items++] = o->t;
        }
    }
    free(tl->open_tasks);
    tl->open_tasks = NULL;
    tl->open_cap = tl->open_used = tl->open_live = 0;
    for (size_t i = 0; i < tl->nlanes; i++) {
        ct_tl_grid_finish(&tl->lanes[i].span_grid);
        ct_tl_grid_finish(&tl->lanes[i].region_grid);
    }
    ct_tl_grid_finish(&tl->task_grid);
    ct_tl_grid_finish(&tl->log_grid);
    ct_tl_grid_finish(&tl->wake_grid);
    for (size_t i = 0; i < tl->ncpus; i++)
        ct_tl_grid_finish(&tl->cpus[i].grid);
    ct_tl_finish_items(tl);
    for (size_t i = 0; i < tl->ncounters; i++)
        if (tl->counters[i].n)
            qsort(tl->counters[i].s, tl->counters[i].n, sizeof *tl->counters[i].s, by_sample);
    if (tl->nlanes)
        qsort(tl->lanes, tl->nlanes, sizeof *tl->lanes, by_tid);
    if (tl->ncpus) /* in order, for the summary */
        qsort(tl->cpus, tl->ncpus, sizeof *tl->cpus, by_cpu);
}

static void free_items(struct ct_timeline *tl)
{
    for (size_t i = 0; i < tl->nlanes; i++) {
        struct tl_lane *l = &tl->lanes[i];
        free(l->spans);
        free(l->regions);
        free(l->marks);
        free(l->losses);
        ct_tl_grid_free(&l->span_grid);
        ct_tl_grid_free(&l->region_grid);
    }
    free(tl->lanes);
    free(tl->tasks);
    free(tl->task_bars);
    free(tl->logs);
    free(tl->text);
    for (size_t i = 0; i < tl->ncpus; i++) {
        free(tl->cpus[i].runs);
        ct_tl_grid_free(&tl->cpus[i].grid);
    }
    free(tl->cpus);
    free(tl->wakes);
    ct_wakes_free(&tl->raw_wakes);
}

void ct_timeline_free(struct ct_timeline *tl)
{
    if (tl->window) {
        free_items(tl->window);
        free(tl->window);
    }
    free_items(tl);
    for (size_t i = 0; i < tl->ncounters; i++)
        free(tl->counters[i].s);
    ct_tl_grid_free(&tl->task_grid);
    ct_tl_grid_free(&tl->log_grid);
    ct_tl_grid_free(&tl->wake_grid);
    free(tl->open_tasks);
    free(tl->strings);
    free(tl->string_hash);
    free(tl->frames);
    free(tl->stacks);
    ct_symbols_close(tl->symbols);
    ct_threads_free(&tl->threads);
    free(tl->gens);
    free(tl->states);
    for (int i = 0; i < CT_TL_GEN_CACHE; i++)
        ct_gen_free(&tl->cache[i].gen);
    if (tl->src_open)
        ct_rd_close(&tl->src);
    memset(tl, 0, sizeof *tl);
}

void ct_tl_window_free(struct ct_timeline *w)
{
    free_items(w);
    memset(w, 0, sizeof *w);
}
