/*
 * timeline_build.c - builds `ctrace view`'s index (timeline.h) in one pass
 * over the trace, split by thread between readers on as many cores: each
 * reads the whole file but analyses only its own threads (a thread's
 * events, and the definitions they use, are in its own batches), into an
 * index of its own; the indexes are then joined. Threads are given out by
 * their share of the first generation's bytes.
 */
#include "timeline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PARTS 8

struct owner {
    uint64_t tid;
    unsigned part;
};

struct part {
    struct ct_timeline tl;
    struct tl_builder b;
    struct ct_visitor v;
    struct ct_reader own, *rd; /* the caller's pass for the first */
    const struct owner *owners;
    size_t nowners;
    unsigned index, nparts;
    int rc;
};

static unsigned owner_of(const struct part *p, uint64_t tid)
{
    for (size_t i = 0; i < p->nowners; i++)
        if (p->owners[i].tid == tid)
            return p->owners[i].part;
    return (unsigned)(tid % p->nparts);
}

static bool wants(void *ctx, uint64_t tid)
{
    struct tl_builder *b = ctx;
    const struct part *p = (const struct part *)((const char *)b - offsetof(struct part, b));
    return p->nparts == 1 || owner_of(p, tid) == p->index;
}

/* A part's reader leaves the other parts' batches unread (and each part
 * checks the checksums of what it reads). */
static bool skips(void *ctx, uint64_t tid)
{
    const struct part *p = ctx;
    return p->nparts > 1 && owner_of(p, tid) != p->index;
}

static int by_bytes(const void *a, const void *b)
{
    const struct { uint64_t tid, bytes; } *x = a, *y = b;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

/* The first generation read once: where time starts, which part reads
 * which thread (the heaviest first, each to the lightest part), and the
 * symbols of its modules (every generation lists them; not in the fuzzer:
 * reading local ELF files is slow, and not input). */
static int plan(const struct ct_reader *pass, unsigned nparts, int64_t *begin,
                struct owner **owners, size_t *nowners, struct ct_symbols **sym)
{
    struct ct_reader rd;
    (void)sym; /* the fuzzer opens none */
    int rc = pass->streamed ? ct_rd_open(&rd, pass->path)
                            : ct_rd_open_mem(&rd, pass->data, pass->size, pass->path);
    *owners = NULL;
    *nowners = 0;
    *begin = 0;
    if (rc != 0)
        return 0; /* the pass will say why */
    struct ct_gen gen = {0};
    if (ct_rd_next_gen(&rd, &gen) == 1) {
        *begin = ct_gen_ns(&rd, &gen, gen.base_units);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        if (gen.nmodules)
            *sym = ct_symbols_open(&gen);
#endif
        struct { uint64_t tid, bytes; } *t = calloc(gen.nbatches + gen.nthreads + 1, sizeof *t);
        size_t n = 0;
        for (size_t i = 0; t && i < gen.nbatches + gen.nthreads; i++) {
            uint64_t tid = i < gen.nbatches ? gen.batches[i].tid
                                            : gen.threads[i - gen.nbatches].tid;
            uint64_t bytes = i < gen.nbatches
                                 ? (uint64_t)(gen.batches[i].end - gen.batches[i].events) : 0;
            size_t k = 0;
            while (k < n && t[k].tid != tid)
                k++;
            if (k == n)
                t[n++].tid = tid;
            t[k].bytes += bytes;
        }
        *owners = t ? malloc((n ? n : 1) * sizeof **owners) : NULL;
        if (*owners) {
            qsort(t, n, sizeof *t, by_bytes);
            uint64_t load[MAX_PARTS] = {0};
            for (size_t k = 0; k < n; k++) {
                unsigned best = 0;
                for (unsigned p = 1; p < nparts; p++)
                    if (load[p] < load[best])
                        best = p;
                load[best] += t[k].bytes + 1;
                (*owners)[k] = (struct owner){t[k].tid, best};
            }
            *nowners = n;
        }
        free(t);
    }
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    return 0;
}

static void part_init(struct part *p, int64_t begin)
{
    struct ct_timeline *tl = &p->tl;
    for (int i = 0; i < CT_TL_GEN_CACHE; i++)
        tl->cache[i].index = UINT32_MAX;
    ct_tl_string(tl, "", 0);
    tl->begin = begin;
    ct_tl_grid_init(&tl->task_grid, begin, 0, true);
    ct_tl_grid_init(&tl->log_grid, begin, 0, true);
    ct_tl_grid_init(&tl->wake_grid, begin, 0, false);
    p->b.tl = tl;
    p->v = ct_tl_visitor(&p->b);
    p->v.wants = wants;
}

static void *read_part(void *arg)
{
    struct part *p = arg;
    if (p->rc == 0)
        p->rc = ct_threads_read(p->rd, &p->tl.threads, &p->v, NULL);
    return NULL;
}

/* ---- joining part q into p ---- */

static uint32_t *map_strings(struct ct_timeline *into, const struct ct_timeline *from)
{
    uint32_t *map = malloc((from->nstrings ? from->nstrings : 1) * sizeof *map);
    for (size_t i = 0; map && i < from->nstrings; i++) {
        const char *s = from->text + from->strings[i];
        map[i] = ct_tl_string(into, s, strlen(s));
    }
    return map;
}

static uint32_t *map_stacks(struct ct_timeline *into, const struct ct_timeline *from)
{
    uint32_t *map = malloc((from->nstacks + 1) * sizeof *map);
    if (map)
        map[0] = 0;
    for (size_t i = 0; map && i < from->nstacks; i++)
        map[i + 1] = ct_tl_stack(into, from->frames + from->stacks[i].at, (int)from->stacks[i].n);
    return map;
}

struct maps {
    const uint32_t *strings, *stacks, *gens;
    size_t nstrings, nstacks;
};

static uint32_t string_of(const struct maps *m, uint32_t i)
{
    return i < m->nstrings ? m->strings[i] : 0;
}

static uint32_t stack_of(const struct maps *m, uint32_t i)
{
    return i <= m->nstacks ? m->stacks[i] : 0;
}

static void map_state(const struct maps *m, struct tl_state *st)
{
    st->pending_stack = stack_of(m, st->pending_stack);
    st->cur.stack = stack_of(m, st->cur.stack);
    for (unsigned i = 0; i < st->nopen && i < CT_TL_MAX_OPEN; i++)
        st->open[i].type = string_of(m, st->open[i].type);
}

/* The union of two lists of generations (by offset), and where each of
 * the first list's entries went; -1 without memory. */
static int join_gens(struct ct_timeline *p, const struct ct_timeline *q, uint32_t **pmap,
                     uint32_t **qmap)
{
    struct tl_gen *all = malloc((p->ngens + q->ngens + 1) * sizeof *all);
    *pmap = malloc((p->ngens + 1) * sizeof **pmap);
    *qmap = malloc((q->ngens + 1) * sizeof **qmap);
    if (!all || !*pmap || !*qmap) {
        free(all);
        return -1;
    }
    size_t i = 0, j = 0, n = 0;
    while (i < p->ngens || j < q->ngens) {
        bool from_p = j == q->ngens || (i < p->ngens && p->gens[i].offset <= q->gens[j].offset);
        const struct tl_gen *g = from_p ? &p->gens[i] : &q->gens[j];
        if (n && all[n - 1].offset == g->offset) {
            if (g->defs_end > all[n - 1].defs_end)
                all[n - 1].defs_end = g->defs_end;
        } else {
            all[n++] = *g;
        }
        if (from_p)
            (*pmap)[i++] = (uint32_t)(n - 1);
        else
            (*qmap)[j++] = (uint32_t)(n - 1);
    }
    free(p->gens);
    p->gens = all;
    p->ngens = p->gens_cap = n;
    return 0;
}

static bool append(void **arr, size_t *n, size_t *cap, const void *items, size_t count,
                   size_t size)
{
    if (*n + count > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *n + count)
            c *= 2;
        void *grown = realloc(*arr, c * size);
        if (!grown)
            return false;
        *arr = grown;
        *cap = c;
    }
    if (count)
        memcpy((char *)*arr + *n * size, items, count * size);
    *n += count;
    return true;
}

#define APPEND(arr, n, cap, items, count)                                     \
    append((void **)&(arr), &(n), &(cap), (items), (count), sizeof *(arr))

static int join(struct part *p, struct part *q)
{
    struct ct_timeline *a = &p->tl, *b = &q->tl;
    uint32_t *strings = map_strings(a, b), *stacks = map_stacks(a, b), *pg = NULL, *qg = NULL;
    int rc = strings && stacks && join_gens(a, b, &pg, &qg) == 0 ? 0 : -1;
    struct maps m = {strings, stacks, qg, b->nstrings, b->nstacks};
    if (!a->pid) {
        a->pid = b->pid;
        a->ncpu = b->ncpu;
    }
    /* The first part's marks name generations of the joined list. */
    for (size_t i = 0; rc == 0 && i < a->nlanes; i++)
        for (size_t k = 0; k < a->lanes[i].nmarks; k++)
            a->lanes[i].marks[k].gen = pg[a->lanes[i].marks[k].gen];
    /* The second's saved states, in its names, after the first's. */
    size_t base = a->states_len;
    if (rc == 0 && base + b->states_len > UINT32_MAX)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < b->nlanes; i++) {
        struct tl_lane *l = &b->lanes[i];
        for (size_t k = 0; k < l->nmarks; k++) {
            struct tl_state st;
            memcpy(&st, b->states + l->marks[k].state, offsetof(struct tl_state, open));
            size_t nopen = st.nopen < CT_TL_MAX_OPEN ? st.nopen : CT_TL_MAX_OPEN;
            memcpy(st.open, b->states + l->marks[k].state + offsetof(struct tl_state, open),
                   nopen * sizeof st.open[0]);
            map_state(&m, &st);
            memcpy(b->states + l->marks[k].state, &st,
                   offsetof(struct tl_state, open) + nopen * sizeof st.open[0]);
            l->marks[k].state += (uint32_t)base;
            l->marks[k].gen = qg[l->marks[k].gen];
        }
        map_state(&m, &l->st);
        for (size_t k = 0; k < l->nspan_items; k++)
            l->spans[k].stack = stack_of(&m, l->spans[k].stack);
        for (size_t k = 0; k < l->nregion_items; k++)
            l->regions[k].type = string_of(&m, l->regions[k].type);
    }
    size_t lanes_cap = a->nlanes;
    if (rc == 0 && (!APPEND(a->states, a->states_len, a->states_cap, b->states, b->states_len) ||
                    !APPEND(a->lanes, a->nlanes, lanes_cap, b->lanes, b->nlanes)))
        rc = -1;
    if (rc == 0) { /* the lanes moved: the second's no longer own their arrays */
        b->nlanes = 0;
        p->b.last = NULL;
    }
    /* Tasks: the long ones, the buckets, and the open ones joined. */
    for (size_t k = 0; rc == 0 && k < b->ntask_items; k++)
        b->tasks[k].type = string_of(&m, b->tasks[k].type);
    for (long k = 0; k < b->task_grid.n; k++)
        if (b->task_grid.count[k])
            b->task_grid.tag[k] = string_of(&m, (uint32_t)b->task_grid.tag[k]);
    if (rc == 0 && (!APPEND(a->tasks, a->ntask_items, a->tasks_cap, b->tasks, b->ntask_items) ||
                    !ct_tl_grid_merge(&a->task_grid, &b->task_grid) ||
                    !ct_tl_grid_merge(&a->log_grid, &b->log_grid) ||
                    !ct_tl_grid_merge(&a->wake_grid, &b->wake_grid)))
        rc = -1;
    /* CPUs: each part's long runs, and the buckets at one width. */
    for (size_t k = 0; rc == 0 && k < b->ncpus; k++) {
        struct tl_cpu *c = ct_tl_cpu(a, b->cpus[k].cpu);
        if (!c || !APPEND(c->runs, c->n, c->cap, b->cpus[k].runs, b->cpus[k].n) ||
            !ct_tl_grid_merge(&c->grid, &b->cpus[k].grid))
            rc = -1;
    }
    if (rc == 0)
        ct_tl_refile(a);
    for (size_t k = 0; rc == 0 && k < b->open_cap; k++) {
        struct tl_open_task o = b->open_tasks[k];
        if (o.t.id == 0 || o.t.id == UINT64_MAX)
            continue;
        o.t.type = string_of(&m, o.t.type);
        ct_tl_task_merge(a, &o);
    }
    a->ntasks += b->ntasks;
    a->nlog_events += b->nlog_events;
    a->nwake_events += b->nwake_events;
    a->events += b->events;
    /* Counters: each part's, together (sorted later). */
    for (size_t k = 0; rc == 0 && k < b->ncounters; k++) {
        struct tl_counter *c = ct_tl_counter(a, b->counters[k].kind);
        if (c && !APPEND(c->s, c->n, c->cap, b->counters[k].s, b->counters[k].n))
            rc = -1;
    }
    /* The thread analysis: disjoint threads. */
    struct ct_threads *ta = &a->threads, *tb = &b->threads;
    if (rc == 0 && !APPEND(ta->rows, ta->count, ta->cap, tb->rows, tb->count))
        rc = -1;
    if (tb->count && (!ta->count || tb->begin_ns < ta->begin_ns))
        ta->begin_ns = tb->begin_ns;
    if (tb->end_ns > ta->end_ns)
        ta->end_ns = tb->end_ns;
    ta->sched |= tb->sched;
    if (tb->sched_mode > ta->sched_mode)
        ta->sched_mode = tb->sched_mode;
    ta->events += tb->events;
    free(strings);
    free(stacks);
    free(pg);
    free(qg);
    return rc;
}

static unsigned parts_for(const struct ct_reader *pass)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)pass;
    return 1;
#else
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2 || pass->size < (64u << 20))
        return 1;
    return cpus > MAX_PARTS ? MAX_PARTS : (unsigned)cpus;
#endif
}

int ct_timeline_build(struct ct_reader *pass, const struct ct_reader *src, struct ct_timeline *tl,
                      unsigned parts,
                      void (*progress)(uint64_t done, uint64_t total))
{
    memset(tl, 0, sizeof *tl);
    unsigned n = parts ? parts : parts_for(pass);
    if (n > MAX_PARTS)
        n = MAX_PARTS;
    struct part *p = calloc(n, sizeof *p);
    struct owner *owners = NULL;
    size_t nowners = 0;
    int64_t begin = 0;
    struct ct_symbols *sym = NULL;
    if (!p || plan(pass, n, &begin, &owners, &nowners, &sym) != 0) {
        free(p);
        return -1;
    }
    pthread_t th[MAX_PARTS];
    bool started[MAX_PARTS] = {false};
    for (unsigned i = 0; i < n; i++) {
        p[i].index = i;
        p[i].nparts = n;
        p[i].owners = owners;
        p[i].nowners = nowners;
        part_init(&p[i], begin);
        p[i].rd = &p[i].own;
        if (i == 0) {
            p[i].rd = pass;
            p[i].b.progress = progress;
        } else if ((pass->streamed ? ct_rd_open(&p[i].own, pass->path)
                                   : ct_rd_open_mem(&p[i].own, pass->data, pass->size,
                                                    pass->path)) != 0) {
            p[i].rc = -1;
            p[i].rd = NULL;
            continue;
        }
        /* A tree's time zero, when the caller set one (else each finds
         * the file's own, the same). */
        p[i].own.have_start = pass->have_start;
        p[i].own.start_mono_ns = pass->start_mono_ns;
    }
    for (unsigned i = 0; i < n; i++)
        if (p[i].rd && p[i].rd->streamed && n > 1) {
            p[i].rd->skip_thread = skips;
            p[i].rd->skip_ctx = &p[i];
        }
    for (unsigned i = 1; i < n; i++)
        if (p[i].rd && p[i].rc == 0)
            started[i] = pthread_create(&th[i], NULL, read_part, &p[i]) == 0;
    read_part(&p[0]);
    pass->skip_thread = NULL;
    for (unsigned i = 1; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else if (p[i].rd && p[i].rc == 0)
            read_part(&p[i]);
    }
    /* A damaged trace is indexed up to the damage: a part stopped by its
     * reader keeps what it read, and the first such error is the pass's
     * (the caller reports it). */
    int rc = p[0].rc != 0 && !pass->failed ? -1 : 0;
    for (unsigned i = 1; i < n; i++) {
        if (rc == 0 && p[i].rc != 0) { /* its reader's error, as the pass's */
            if (!p[i].rd || !p[i].rd->failed)
                rc = -1;
            else if (!pass->failed) {
                memcpy(pass->error, p[i].rd->error, sizeof pass->error);
                pass->error_off = p[i].rd->error_off;
                pass->failed = true;
            }
        }
        if (rc == 0 && join(&p[0], &p[i]) != 0) {
            snprintf(pass->error, sizeof pass->error, "%s: out of memory joining the index",
                     pass->path);
            pass->failed = true;
            rc = -1;
        }
        ct_timeline_free(&p[i].tl);
        if (p[i].rd)
            ct_rd_close(p[i].rd);
    }
    *tl = p[0].tl;
    for (int i = 0; i < CT_TL_GEN_CACHE; i++)
        tl->cache[i].index = UINT32_MAX;
    struct tl_builder *b = &p[0].b;
    b->tl = tl;
    b->last = NULL;
    tl->threads.visitor = &p[0].v;
    p[0].v.ctx = b;
    /* What windows read again: the same bytes, at the same time zero. */
    if (rc == 0 && src->data && ct_rd_open_mem(&tl->src, src->data, src->size, src->path) == 0) {
        tl->src_open = true;
        tl->src_mapped = src->mapped;
        tl->src.have_start = pass->have_start;
        tl->src.start_mono_ns = pass->start_mono_ns;
        tl->src.checked = !pass->failed; /* every checksum verified */
    }
    /* The embedded symbols through the reader that read it all: it knows
     * where they are (no walk over the file's pages). */
    tl->symbols = sym;
    if (sym && rc == 0)
        ct_symbols_load_embedded(sym, pass);
    if (rc == 0) {
        ct_threads_finish(&tl->threads, tl->symbols);
        ct_tl_finish_index(tl, b);
    }
    tl->threads.visitor = NULL;
    free(owners);
    free(p);
    if (progress)
        progress(pass->size, pass->size);
    return rc;
}
