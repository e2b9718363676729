/*
 * stats.c - one pass over a trace, counting: the overview of `ctrace stats`.
 * Memory: the current generation's index and the sets of distinct threads
 * and stacks; nothing per event.
 */
#include "stats.h"

#include <string.h>

#include "../recorder/sched.h"
#include "demangle.h"
#include "idset.h"
#include "symbols.h"

#include <stdio.h>
#include <stdlib.h>

static void count_tables(struct ct_stats *st, const struct ct_gen *gen, struct ct_idset *threads,
                         struct ct_idset *tracers)
{
    for (size_t i = 0; i < gen->nthreads; i++) {
        if (gen->threads[i].flags & CT_THREAD_FLAG_TRACER)
            ct_idset_add(tracers, gen->threads[i].tid + 1);
        else
            ct_idset_add(threads, gen->threads[i].tid + 1);
    }
    for (size_t i = 0; i < gen->nlost; i++)
        st->lost_events += gen->lost[i].count;
    for (unsigned k = 0; k < CT_MAX_KINDS; k++) {
        if (gen->kinds[k].defined && !st->kind_names[k][0]) {
            memcpy(st->kind_names[k], gen->kinds[k].name, sizeof st->kind_names[k]);
            st->kind_known[k] = gen->kinds[k].known;
        }
    }
    /* A process whose switches gave way to samples (--sched=auto) keeps
     * perf, from where its generations turned to schedstat. */
    if (gen->has_process && st->sched == CT_SCHED_PERF &&
        gen->process.sched == CT_SCHED_SCHEDSTAT && !st->sampled_from_gen)
        st->sampled_from_gen = st->generations;
    else if (gen->has_process && gen->process.sched > st->sched && st->sched != CT_SCHED_PERF)
        st->sched = gen->process.sched;
    if (gen->has_process && !st->pid) {
        st->pid = gen->process.pid;
        size_t n = gen->process.cmdline_len < sizeof st->command - 1 ? gen->process.cmdline_len
                                                                     : sizeof st->command - 1;
        for (size_t i = 0; i < n; i++)
            st->command[i] = gen->process.cmdline[i] ? (char)gen->process.cmdline[i] : ' ';
        while (n > 0 && st->command[n - 1] == ' ')
            n--;
        st->command[n] = 0;
    }
}

/* ---- diagnosis: blocks by thread, call site and object ---- */

struct pending {
    uint64_t tid;
    bool blocked;
    unsigned reason;
    uint64_t object, stack;
    int64_t since;
    uint64_t pcs[CT_DIAG_FRAMES];
    unsigned npcs;
};

struct site_acc {
    uint64_t key, count, total;
    unsigned reason;
    uint64_t pcs[CT_DIAG_FRAMES];
    unsigned npcs;
};

struct diag_state {
    struct pending *threads;
    size_t nthreads;
    struct site_acc *sites, *objects;
    size_t nsites, nobjects, sites_cap, objects_cap;
    struct ct_symbols *symbols;
};

static struct pending *pending_of(struct diag_state *d, uint64_t tid)
{
    for (size_t i = 0; i < d->nthreads; i++)
        if (d->threads[i].tid == tid)
            return &d->threads[i];
    struct pending *p = realloc(d->threads, (d->nthreads + 1) * sizeof *p);
    if (!p)
        return NULL;
    d->threads = p;
    memset(&p[d->nthreads], 0, sizeof *p);
    p[d->nthreads].tid = tid;
    return &p[d->nthreads++];
}

/* Adds a block to the accumulator of its key (linear: top lists are for
 * people, and a trace has few distinct blocking sites and objects). */
static void accumulate(struct site_acc **v, size_t *n, size_t *cap, uint64_t key,
                       const struct pending *p, uint64_t ns)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].key == key && (*v)[i].reason == p->reason) {
            (*v)[i].count++;
            (*v)[i].total += ns;
            return;
        }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct site_acc *grown = realloc(*v, c * sizeof *grown);
        if (!grown)
            return;
        *v = grown;
        *cap = c;
    }
    struct site_acc *a = &(*v)[(*n)++];
    a->key = key;
    a->count = 1;
    a->total = ns;
    a->reason = p->reason;
    memcpy(a->pcs, p->pcs, sizeof a->pcs);
    a->npcs = p->npcs;
}

static void diag_event(struct diag_state *d, const struct ct_gen *gen, const struct ct_event *ev)
{
    if (ev->kind != CT_EV_BLOCK && ev->kind != CT_EV_UNBLOCK)
        return;
    struct pending *p = pending_of(d, ev->tid);
    if (!p)
        return;
    if (ev->kind == CT_EV_BLOCK) {
        p->blocked = true;
        p->reason = (unsigned)ev->args[0];
        p->object = ev->args[1];
        p->stack = ev->stack;
        p->since = ev->ts_ns;
        p->npcs = 0;
        const struct ct_idmap_entry *e = ev->stack ? ct_idmap_get(&gen->stacks, ev->stack) : NULL;
        int n = e ? ct_rd_frames(e->data, e->end, e->len, p->pcs, CT_DIAG_FRAMES) : 0;
        p->npcs = n > 0 ? (unsigned)n : 0;
        return;
    }
    if (!p->blocked)
        return;
    p->blocked = false;
    uint64_t ns = ct_span_ns(p->since, ev->ts_ns);
    if (p->stack)
        accumulate(&d->sites, &d->nsites, &d->sites_cap, p->stack, p, ns);
    if (p->object)
        accumulate(&d->objects, &d->nobjects, &d->objects_cap, p->object, p, ns);
}

static int by_total_desc(const void *a, const void *b)
{
    const struct site_acc *x = a, *y = b;
    return x->total > y->total ? -1 : x->total < y->total;
}

/* The frames of pcs, inlined ones included, at most CT_DIAG_FRAMES. */
static unsigned symbolize(struct ct_symbols *sym, const uint64_t *pcs, unsigned n,
                          char out[][160])
{
    unsigned k = 0;
    for (unsigned i = 0; i < n && k < CT_DIAG_FRAMES; i++) {
        struct ct_symbol s[8];
        int nf = ct_symbols_frames(sym, pcs[i], true, s, 8);
        for (int f = 0; f < nf && k < CT_DIAG_FRAMES; f++, k++) {
            char plain[160];
            const char *name = ct_demangle(s[f].function, plain, sizeof plain);
            if (s[f].file[0])
                snprintf(out[k], 160, "%.80s %.60s:%d", name, s[f].file, s[f].line);
            else
                snprintf(out[k], 160, "%.150s", name);
        }
    }
    return k;
}

static void diag_finish(struct diag_state *d, struct ct_stats *st, const struct ct_reader *rd)
{
    struct ct_diagnosis *g = &st->diag;
    if (d->nthreads)
        ct_symbols_load_embedded(d->symbols, rd); /* now that rd is at the end */
    for (size_t i = 0; i < d->nthreads && g->nstuck < 64; i++) {
        const struct pending *p = &d->threads[i];
        if (!p->blocked)
            continue;
        struct ct_stuck *s = &g->stuck[g->nstuck++];
        s->tid = p->tid;
        s->reason = p->reason;
        s->object = p->object;
        s->since_ns = p->since;
        s->nframes = symbolize(d->symbols, p->pcs, p->npcs, s->frames);
    }
    if (d->nsites)
        qsort(d->sites, d->nsites, sizeof *d->sites, by_total_desc);
    for (size_t i = 0; i < d->nsites && g->nsites < CT_DIAG_TOP; i++) {
        struct ct_block_site *s = &g->sites[g->nsites++];
        s->stack = d->sites[i].key;
        s->count = d->sites[i].count;
        s->total_ns = d->sites[i].total;
        s->reason = d->sites[i].reason;
        s->nframes = symbolize(d->symbols, d->sites[i].pcs, d->sites[i].npcs, s->frames);
    }
    if (d->nobjects)
        qsort(d->objects, d->nobjects, sizeof *d->objects, by_total_desc);
    for (size_t i = 0; i < d->nobjects && g->nobjects < CT_DIAG_TOP; i++)
        g->objects[g->nobjects++] = (struct ct_contended){d->objects[i].key, d->objects[i].reason,
                                                          d->objects[i].count, d->objects[i].total};
    free(d->threads);
    free(d->sites);
    free(d->objects);
    ct_symbols_close(d->symbols);
}

/* The events stats looks into; the others are only counted (by kind, per
 * batch: ct_rd_skim_events). */
#define DECODED                                                                     \
    (1ull << CT_EV_LOST | 1ull << CT_EV_STACK | 1ull << CT_EV_FORK | 1ull << CT_EV_EXEC | \
     1ull << CT_EV_BLOCK | 1ull << CT_EV_UNBLOCK | 1ull << CT_EV_CPU)

static void decoded_event(struct ct_stats *st, const struct ct_event *ev, struct ct_idset *stacks)
{
    switch (ev->kind) {
    case CT_EV_LOST:
        st->lost_events += ev->args[0];
        break;
    case CT_EV_STACK:
        ct_idset_add(stacks, ev->args[0]);
        break;
    case CT_EV_CPU:
        st->voluntary_switches += ev->args[0] == CT_CPU_OFF;
        st->involuntary_switches += ev->args[0] == CT_CPU_PREEMPTED;
        break;
    case CT_EV_FORK:
        if (st->nchildren < sizeof st->children / sizeof *st->children)
            st->children[st->nchildren++] = ev->args[0];
        break;
    case CT_EV_EXEC: {
        size_t n = ev->bytes_len < sizeof st->exec_path - 1 ? ev->bytes_len
                                                            : sizeof st->exec_path - 1;
        memcpy(st->exec_path, ev->bytes, n);
        st->exec_path[n] = 0;
        break;
    }
    }
}

static void count_kinds(struct ct_stats *st, const uint64_t counts[CT_MAX_KINDS])
{
    for (unsigned k = 0; k < CT_MAX_KINDS; k++) {
        st->events += counts[k];
        st->by_kind[k] += counts[k];
    }
    st->tasks += counts[CT_EV_TASK_BEGIN];
    st->regions += counts[CT_EV_REGION_BEGIN];
    st->regions_out_of_order += counts[CT_EV_REGION_END_AT];
    st->logs += counts[CT_EV_LOG];
}

int ct_stats_compute(struct ct_reader *rd, struct ct_stats *st)
{
    memset(st, 0, sizeof *st);
    st->bytes = rd->size;
    struct ct_idset threads = {0}, tracers = {0}, stacks = {0}, strings = {0};
    struct ct_idset recording = {0}, scheduled = {0}; /* threads with events, with switches */
    struct diag_state diag = {0};
    struct ct_gen gen = {0};
    int r;
    bool first = true;
    int64_t sampled_begin = 0;
    while ((r = ct_rd_next_gen(rd, &gen)) == 1) {
        st->generations++;
        st->incomplete_generations += !gen.complete;
        st->conflicts += 0;
        int64_t begin = ct_gen_ns(rd, &gen, gen.base_units);
        if (first || begin < st->first_ns)
            st->first_ns = begin;
        if (first || begin > st->last_ns)
            st->last_ns = begin;
        first = false;
        uint64_t sampled = st->sampled_from_gen;
        count_tables(st, &gen, &threads, &tracers);
        if (!sampled && st->sampled_from_gen)
            sampled_begin = begin;
        if (gen.complete && ct_gen_ns(rd, &gen, gen.end_units) > st->last_ns)
            st->last_ns = ct_gen_ns(rd, &gen, gen.end_units);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* reading local ELF files: slow, not input */
        if (!diag.symbols && gen.nmodules)
            diag.symbols = ct_symbols_open(&gen); /* the embedded ones at the end */
#endif
        for (size_t b = 0; b < gen.nbatches && r >= 0; b++) {
            if (!ct_idset_has(&tracers, gen.batches[b].tid + 1))
                ct_idset_add(&threads, gen.batches[b].tid + 1);
            struct ct_event_iter it;
            struct ct_event ev;
            uint64_t counts[CT_MAX_KINDS] = {0};
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_skim_events(rd, &it, DECODED, counts, &ev)) == 1) {
                decoded_event(st, &ev, &stacks);
                diag_event(&diag, &gen, &ev);
            }
            count_kinds(st, counts);
            uint64_t tid1 = gen.batches[b].tid + 1;
            if (counts[CT_EV_CPU] || counts[CT_EV_SCHED_SAMPLE])
                ct_idset_add(&scheduled, tid1);
            else if (!ct_idset_has(&tracers, tid1))
                ct_idset_add(&recording, tid1);
            /* Times only grow within a batch: its last is where it ended. */
            int64_t last = ct_gen_ns(rd, &gen, it.ts);
            if (last > st->last_ns)
                st->last_ns = last;
        }
        for (size_t i = 0; i < gen.strings.cap; i++)
            ct_idset_add(&strings, gen.strings.entries[i].id);
        st->conflicts += gen.conflicts;
        st->refs_dropped += gen.refs_dropped;
        if (r < 0)
            break;
    }
    diag_finish(&diag, st, rd);
    st->start_mono_ns = rd->start_mono_ns;
    st->threads = threads.count;
    if (st->sched)
        for (size_t i = 0; i < recording.cap; i++)
            st->threads_unscheduled += recording.ids[i] && !ct_idset_has(&tracers, recording.ids[i]) &&
                                       !ct_idset_has(&scheduled, recording.ids[i]);
    st->stacks = stacks.count;
    st->strings = strings.count;
    st->duration_ns = ct_span_ns(st->first_ns, st->last_ns);
    if (st->sampled_from_gen)
        st->sampled_from_ns = ct_span_ns(st->first_ns, sampled_begin);
    ct_gen_free(&gen);
    ct_idset_free(&threads);
    ct_idset_free(&recording);
    ct_idset_free(&scheduled);
    ct_idset_free(&tracers);
    ct_idset_free(&stacks);
    ct_idset_free(&strings);
    return 0; /* a damaged trace: what came before the damage */
}
