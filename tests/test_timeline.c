/*
 * test_timeline.c - ctrace view's index (src/analysis/timeline*.c): a window
 * read again from marks inside the trace must hold exactly what reading the
 * whole trace from its start gives, over the same range; the buckets must
 * count every item; the answers must be well-formed.
 */
#include "helpers.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/analysis/timeline.h"
#include "../src/analysis/timeline_tree.h"

#include <sys/wait.h>

static atomic_bool done;
static _Thread_local volatile unsigned long sink; /* work the compiler keeps */

/* Thread k serves requests whose regions it names in an order of its own
 * (so that readers of different threads number the names differently). */
static void *serve(void *arg)
{
    static const char *names[] = {"handle", "parse", "query"};
    unsigned k = (unsigned)(uintptr_t)arg;
    for (unsigned long i = 0; !atomic_load(&done); i++) {
        ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, k % 2 ? "job" : "request");
        ctrace_region outer = ctrace_region_begin(task, names[k % 3]);
        ctrace_region inner = ctrace_region_begin(task, names[(k + 1 + i % 2) % 3]);
        for (int n = 0; n < 50; n++)
            sink += (unsigned long)n * i;
        ctrace_region_end(inner);
        ctrace_region_end(outer);
        ctrace_log(task, "request", "served");
        ctrace_task_end(task);
        if (i % 256 == 0)
            usleep(200); /* off the CPU: a context switch */
        if (k == 3 && i > 20000)
            break; /* a thread that comes late and leaves early */
    }
    return NULL;
}

/* A trace of 3 threads serving requests for 200 ms, and a 4th from 100 ms
 * for a while, in generations of 20 ms: many batches per thread per
 * generation. */
static uint8_t *record(size_t *size)
{
    ctrace_config config = {.generation_ns = 20000000};
    struct recording r;
    rec_start(&r, &config);
    atomic_store(&done, false);
    pthread_t th[4];
    for (uintptr_t i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, serve, (void *)i);
    usleep(100000);
    pthread_create(&th[3], NULL, serve, (void *)(uintptr_t)3);
    usleep(100000);
    atomic_store(&done, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    return rec_stop(&r, size);
}

struct lane_copy {
    struct tl_span *spans;
    size_t nspans;
    struct tl_region *regions;
    size_t nregions;
};

static bool same_span(const struct tl_span *a, const struct tl_span *b)
{
    return a->b == b->b && a->e == b->e && a->col == b->col && a->reason == b->reason &&
           a->object == b->object && a->stack == b->stack && a->since == b->since &&
           a->fd_class == b->fd_class && a->flags == b->flags;
}

static bool same_region(const struct tl_region *a, const struct tl_region *b)
{
    return a->b == b->b && a->e == b->e && a->type == b->type && a->depth == b->depth &&
           a->task == b->task;
}

/* A span's fields, for a failure's message (two at once: two buffers). */
static const char *span_text(const struct tl_span *s)
{
    static char buf[2][160];
    static int next;
    char *out = buf[next++ % 2];
    snprintf(out, sizeof buf[0], "[%lld, %lld] col %u reason %u object %#llx stack %u since %lld "
             "fd_class %u flags %u", (long long)s->b, (long long)s->e, s->col, s->reason,
             (unsigned long long)s->object, s->stack, (long long)s->since, s->fd_class, s->flags);
    return out;
}

/* On a failure, the trace into $CT_DUMP, to read it again. */
static void dump_trace(const uint8_t *data, size_t size)
{
    FILE *dump = getenv("CT_DUMP") ? fopen(getenv("CT_DUMP"), "w") : NULL;
    if (dump) {
        fwrite(data, 1, size, dump);
        fclose(dump);
    }
}

/* The items of a lane that end in (t0, t1]: those a window must hold whole. */
static size_t spans_in(const struct tl_span *s, size_t n, int64_t t0, int64_t t1,
                       const struct tl_span **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].e > t0 && s[i].e <= t1)
            out[k++] = &s[i];
    return k;
}

static size_t regions_in(const struct tl_region *s, size_t n, int64_t t0, int64_t t1,
                         const struct tl_region **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].e > t0 && s[i].e <= t1)
            out[k++] = &s[i];
    return k;
}

static int region_by_begin(const void *a, const void *b)
{
    const struct tl_region *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Search: from a time in the middle, the first 20 "parse" regions of every
 * thread in time order, each with its end, as reading the whole trace gives
 * them; logs by their text. */
static void check_search(struct ct_timeline *tl, const struct lane_copy *ref)
{
    int64_t after = tl->begin + (tl->end - tl->begin) / 2;
    size_t total = 0, n = 0;
    for (size_t i = 0; i < tl->nlanes; i++)
        total += ref[i].nregions;
    struct tl_region *all = malloc((total + 1) * sizeof *all);
    assert_non_null(all);
    for (size_t i = 0; i < tl->nlanes; i++)
        for (size_t k = 0; k < ref[i].nregions; k++) {
            const struct tl_region *r = &ref[i].regions[k];
            if (r->b >= after && strcmp(tl->text + tl->strings[r->type], "parse") == 0)
                all[n++] = *r;
        }
    assert_true(n > 20);
    qsort(all, n, sizeof *all, region_by_begin);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(ct_timeline_search_json(tl, "pars", after, 20, out), 0);
    fclose(out);
    assert_int_equal(count_of(buf, "\"kind\":\"region\""), 20);
    assert_int_equal(count_of(buf, "\"kind\""), 20);
    for (size_t i = 0; i < 20; i++) {
        char expect[96];
        snprintf(expect, sizeof expect, "\"t\":%lld,\"end\":%lld,", (long long)all[i].b,
                 (long long)all[i].e);
        if (!strstr(buf, expect))
            fail_msg("search: region %zu %s missing from %.400s", i, expect, buf);
    }
    free(buf);
    free(all);
    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_int_equal(ct_timeline_search_json(tl, "SERVED", tl->begin, 7, out), 0);
    fclose(out);
    assert_int_equal(count_of(buf, "\"kind\":\"log\""), 7);
    assert_non_null(strstr(buf, "\"done\":false"));
    free(buf);
}

static void test_windows_match_whole_reading(void **state)
{
    (void)state;
    size_t size;
    uint8_t *data = record(&size);
    struct ct_reader rd;
    assert_int_equal(ct_rd_open_mem(&rd, data, size, "t.out"), 0);
    struct ct_reader src = rd;
    struct ct_timeline tl;
    int rc = ct_timeline_build(&rd, &src, &tl, 1, NULL);
    if (rc != 0)
        fail_msg("%s", rd.error);
    assert_true(tl.ngens >= 3); /* 200 ms in generations of 20 ms, on a busy machine */
    /* The whole trace, read from each lane's first mark: the reference. */
    struct ct_timeline *all = ct_tl_window(&tl, tl.begin - 1, tl.end + 1, 0);
    assert_non_null(all);
    assert_int_equal(all->nlanes, tl.nlanes);
    struct lane_copy *ref = calloc(tl.nlanes, sizeof *ref);
    size_t marks = 0, lanes_with_many = 0;
    for (size_t i = 0; i < tl.nlanes; i++) {
        const struct tl_lane *l = &all->lanes[i], *x = &tl.lanes[i];
        ref[i].nspans = l->nspan_items;
        ref[i].spans = malloc((l->nspan_items + 1) * sizeof *ref[i].spans);
        if (l->nspan_items)
            memcpy(ref[i].spans, l->spans, l->nspan_items * sizeof *l->spans);
        ref[i].nregions = l->nregion_items;
        ref[i].regions = malloc((l->nregion_items + 1) * sizeof *ref[i].regions);
        if (l->nregion_items)
            memcpy(ref[i].regions, l->regions, l->nregion_items * sizeof *l->regions);
        /* The index counted the same items, and its buckets hold them all. */
        assert_int_equal(x->nspans, l->nspan_items);
        assert_int_equal(x->nregions, l->nregion_items);
        uint64_t in_buckets = x->nspan_items, regions_in_buckets = x->nregion_items;
        for (long k = 0; k < x->span_grid.n; k++)
            in_buckets += x->span_grid.count[k];
        for (long k = 0; k < x->region_grid.n; k++)
            regions_in_buckets += x->region_grid.count[k];
        assert_int_equal(in_buckets, x->nspans);
        assert_int_equal(regions_in_buckets, x->nregions);
        marks += x->nmarks;
        lanes_with_many += x->nregions > 1000;
    }
    assert_true(lanes_with_many >= 4);
    assert_true(!tl.sched || tl.ncpus > 0);
    /* The CPUs' runs: every one in a bucket or kept, as the whole reading
     * gives them. */
    struct tl_run **cpu_ref = calloc(tl.ncpus + 1, sizeof *cpu_ref);
    size_t *cpu_n = calloc(tl.ncpus + 1, sizeof *cpu_n);
    for (size_t c = 0; c < tl.ncpus; c++) {
        const struct tl_cpu *x = &tl.cpus[c], *y = NULL;
        for (size_t k = 0; k < all->ncpus; k++)
            if (all->cpus[k].cpu == x->cpu)
                y = &all->cpus[k];
        assert_non_null(y);
        uint64_t n = x->n;
        for (long k = 0; k < x->grid.n; k++)
            n += x->grid.count[k];
        assert_int_equal(n, y->n);
        cpu_ref[c] = malloc((y->n + 1) * sizeof *cpu_ref[c]);
        if (y->n)
            memcpy(cpu_ref[c], y->runs, y->n * sizeof *y->runs);
        cpu_n[c] = y->n;
    }
    assert_true(marks > tl.ngens * 3); /* batches inside generations too */
    /* A window read from where it begins: a mark's state may be later than
     * its batch's base time (switches from the kernel's rings accounted
     * before the batch was), and a window that begins between the two
     * reads from an earlier mark. At every mark's batch base time, and
     * where its state begins. */
    size_t late = 0;
    for (size_t i = 0; i < tl.nlanes; i++)
        for (size_t k = 0; k < tl.lanes[i].nmarks; k++) {
            const struct tl_mark *m = &tl.lanes[i].marks[k];
            if (m->tb == INT64_MIN || m->tb < tl.lanes[i].marks[0].t)
                continue;
            late += m->t > m->tb;
            int64_t at[2] = {m->tb, m->t};
            for (int j = 0; j < 2; j++) {
                ct_tl_window_drop(&tl);
                struct ct_timeline *w = ct_tl_window(&tl, at[j], at[j] + 1, 0);
                assert_non_null(w);
                if (w->lanes[i].read_from > at[j])
                    fail_msg("lane %zu, mark %zu (state at %lld, batch from %lld): a window at "
                             "%lld reads the lane from %lld",
                             i, k, (long long)m->t, (long long)m->tb, (long long)at[j],
                             (long long)w->lanes[i].read_from);
            }
        }
    print_message("%zu marks whose state is later than their batch\n", late);
    /* Windows of every width at many places: the same items. */
    const struct tl_span **a = NULL, **b = NULL;
    const struct tl_region **ra = NULL, **rb = NULL;
    size_t checked = 0;
    unsigned seed = 7;
    for (int round = 0; round < 40; round++) {
        int64_t span = tl.end - tl.begin;
        int64_t width = span >> (2 + round % 10);
        int64_t t0 = tl.begin + (int64_t)((uint64_t)rand_r(&seed) % (uint64_t)(span - width));
        int64_t t1 = t0 + width;
        ct_tl_window_drop(&tl); /* read again, not the whole one */
        struct ct_timeline *w = ct_tl_window(&tl, t0, t1, 0);
        assert_non_null(w);
        assert_true(w->w0 <= t0 && t1 <= w->w1);
        /* Over all the window read: what ends just after where a lane's
         * reading began depends on the state its mark saved. */
        t1 = w->w1;
        for (size_t i = 0; i < tl.nlanes; i++) {
            const struct tl_lane *l = &w->lanes[i];
            t0 = l->read_from;
            a = realloc(a, (ref[i].nspans + 1) * sizeof *a);
            b = realloc(b, (l->nspan_items + 1) * sizeof *b);
            size_t na = spans_in(ref[i].spans, ref[i].nspans, t0, t1, a);
            size_t nb = spans_in(l->spans, l->nspan_items, t0, t1, b);
            if (na != nb)
                fail_msg("lane %zu, [%lld, %lld]: %zu spans read whole, %zu in the window", i,
                         (long long)t0, (long long)t1, na, nb);
            for (size_t k = 0; k < na; k++)
                if (!same_span(a[k], b[k])) {
                    dump_trace(data, size);
                    fail_msg("lane %zu, [%lld, %lld], span %zu of %zu: read whole %s, in the "
                             "window %s",
                             i, (long long)t0, (long long)t1, k, na, span_text(a[k]),
                             span_text(b[k]));
                }
            ra = realloc(ra, (ref[i].nregions + 1) * sizeof *ra);
            rb = realloc(rb, (l->nregion_items + 1) * sizeof *rb);
            na = regions_in(ref[i].regions, ref[i].nregions, t0, t1, ra);
            nb = regions_in(l->regions, l->nregion_items, t0, t1, rb);
            if (na != nb) {
                dump_trace(data, size);
                size_t k = 0;
                while (k < na && k < nb && same_region(ra[k], rb[k]))
                    k++;
                fail_msg("lane %zu, [%lld, %lld]: %zu regions read whole, %zu in the window; "
                         "the %zuth differs: [%lld, %lld] depth %u against [%lld, %lld] depth %u; "
                         "marks %zu",
                         i, (long long)t0, (long long)t1, na, nb, k,
                         k < na ? (long long)ra[k]->b : -1, k < na ? (long long)ra[k]->e : -1,
                         k < na ? ra[k]->depth : 0, k < nb ? (long long)rb[k]->b : -1,
                         k < nb ? (long long)rb[k]->e : -1, k < nb ? rb[k]->depth : 0,
                         tl.lanes[i].nmarks);
            }
            for (size_t k = 0; k < na; k++)
                assert_true(same_region(ra[k], rb[k]));
            checked += na;
        }
        /* Runs that end after every lane's reading began, to the window's
         * end: the same. */
        int64_t from = INT64_MIN;
        for (size_t i = 0; i < w->nlanes; i++)
            from = w->lanes[i].read_from > from ? w->lanes[i].read_from : from;
        for (size_t c = 0; c < tl.ncpus; c++) {
            const struct tl_cpu *y = NULL;
            for (size_t k = 0; k < w->ncpus; k++)
                if (w->cpus[k].cpu == tl.cpus[c].cpu)
                    y = &w->cpus[k];
            size_t na = 0, nb = 0;
            for (size_t k = 0; k < cpu_n[c]; k++)
                na += cpu_ref[c][k].e > from && cpu_ref[c][k].e <= w->w1;
            for (size_t k = 0; y && k < y->n; k++)
                nb += y->runs[k].e > from && y->runs[k].e <= w->w1;
            if (na != nb)
                fail_msg("cpu %d, (%lld, %lld]: %zu runs read whole, %zu in the window",
                         tl.cpus[c].cpu, (long long)from, (long long)w->w1, na, nb);
        }
    }
    assert_true(checked > 1000);
    for (size_t c = 0; c < tl.ncpus; c++)
        free(cpu_ref[c]);
    free(cpu_ref);
    free(cpu_n);
    /* The answers: a whole-range query from the buckets (a budget of one
     * batch cannot cover it), a narrow one exactly, a span's details. */
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    size_t batches = ct_tl_window_batches(&tl, tl.begin, tl.end + 1);
    assert_true(batches > tl.ngens * 3);
    assert_null(ct_tl_window(&tl, tl.begin + 1, tl.end, 1));
    char *q = NULL;
    size_t qlen = 0;
    FILE *qout = open_memstream(&q, &qlen);
    assert_int_equal(ct_timeline_query_json(&tl, tl.begin, tl.end + 1, 1500, qout), 0);
    fclose(qout);
    const char *exact = batches > CT_TL_WINDOW_BUDGET ? "\"exact\":false" : "\"exact\":true";
    assert_non_null(strstr(q, exact));
    free(q);
    /* Every span's details, asked at its middle: a span is found even when it
     * ends in a batch after the one its middle is in. */
    size_t asked = 0;
    for (size_t i = 0; i < tl.nlanes; i++)
        for (size_t k = 0; k < ref[i].nspans; k++) {
            const struct tl_span *s = &ref[i].spans[k];
            char *buf = NULL;
            size_t len = 0;
            FILE *out = open_memstream(&buf, &len);
            int got = ct_timeline_span_json(&tl, tl.lanes[i].tid, s->b + (s->e - s->b) / 2, out);
            fclose(out);
            char expect[64];
            snprintf(expect, sizeof expect, "\"begin\":%lld,\"end\":%lld", (long long)s->b,
                     (long long)s->e);
            if (got != 0 || !strstr(buf, expect)) {
                dump_trace(data, size);
                fail_msg("lane %zu span %zu of %zu [%lld, %lld]: details %s lack %s", i, k,
                         ref[i].nspans, (long long)s->b, (long long)s->e, buf, expect);
            }
            free(buf);
            asked++;
        }
    assert_true(asked > 100);
    check_search(&tl, ref);
    fclose(null);
    for (size_t i = 0; i < tl.nlanes; i++) {
        free(ref[i].spans);
        free(ref[i].regions);
    }
    free(ref);
    free(a);
    free(b);
    free(ra);
    free(rb);
    ct_timeline_free(&tl);
    free(data);
}

static uint64_t grid_total(const struct tl_grid *g)
{
    uint64_t n = 0;
    for (long k = 0; k < g->n; k++)
        n += g->count[k];
    return n;
}

static const char *name_of(const struct ct_timeline *tl, uint32_t i)
{
    return i < tl->nstrings ? tl->text + tl->strings[i] : "?";
}

static bool same_stack(const struct ct_timeline *a, uint32_t x, const struct ct_timeline *b,
                       uint32_t y)
{
    if (!x || !y)
        return x == y;
    return a->stacks[x - 1].n == b->stacks[y - 1].n &&
           memcmp(a->frames + a->stacks[x - 1].at, b->frames + b->stacks[y - 1].at,
                  a->stacks[x - 1].n * sizeof *a->frames) == 0;
}

/* path: read streamed from that file (each reader then leaves the other
 * readers' batches unread); NULL: from memory. */
static void join_matches(const uint8_t *data, size_t size, unsigned parts, const char *path)
{
    struct ct_reader rd1, rd2, src;
    assert_int_equal(ct_rd_open_mem(&src, data, size, "t.out"), 0);
    if (path) {
        assert_int_equal(ct_rd_open(&rd1, path), 0);
        assert_int_equal(ct_rd_open(&rd2, path), 0);
    } else {
        rd1 = rd2 = src;
    }
    struct ct_timeline one, two;
    assert_int_equal(ct_timeline_build(&rd1, &src, &one, 1, NULL), 0);
    assert_int_equal(ct_timeline_build(&rd2, &src, &two, parts, NULL), 0);
    assert_int_equal(one.nlanes, two.nlanes);
    assert_int_equal(one.events, two.events);
    assert_int_equal(one.ntasks, two.ntasks);
    assert_int_equal(one.nlog_events, two.nlog_events);
    assert_int_equal(one.ngens, two.ngens);
    assert_true(one.begin == two.begin && one.end == two.end);
    assert_int_equal(grid_total(&one.task_grid) + one.ntask_items,
                     grid_total(&two.task_grid) + two.ntask_items);
    assert_int_equal(grid_total(&one.log_grid), grid_total(&two.log_grid));
    assert_int_equal(one.nwakes, two.nwakes);
    assert_int_equal(one.threads.count, two.threads.count);
    for (size_t i = 0; i < one.threads.count; i++) {
        const struct ct_thread_row *x = &one.threads.rows[i], *y = NULL;
        for (size_t k = 0; k < two.threads.count; k++)
            if (two.threads.rows[k].tid == x->tid)
                y = &two.threads.rows[k];
        assert_non_null(y);
        assert_memory_equal(x->ns, y->ns, sizeof x->ns);
    }
    for (size_t i = 0; i < one.nlanes; i++) {
        const struct tl_lane *x = &one.lanes[i], *y = &two.lanes[i];
        assert_int_equal(x->tid, y->tid);
        assert_int_equal(x->nspans, y->nspans);
        assert_int_equal(x->nregions, y->nregions);
        assert_int_equal(x->nmarks, y->nmarks);
        assert_int_equal(grid_total(&x->span_grid) + x->nspan_items,
                         grid_total(&y->span_grid) + y->nspan_items);
        assert_int_equal(x->nregion_items, y->nregion_items); /* the long ones */
        for (size_t k = 0; k < x->nregion_items; k++)
            assert_string_equal(name_of(&one, x->regions[k].type),
                                name_of(&two, y->regions[k].type));
        for (size_t k = 0; k < x->nmarks; k++) {
            assert_true(x->marks[k].t == y->marks[k].t);
            assert_int_equal(one.gens[x->marks[k].gen].offset, two.gens[y->marks[k].gen].offset);
        }
    }
    unsigned seed = 11;
    for (int round = 0; round < 12; round++) {
        int64_t span = one.end - one.begin, width = span >> (2 + round % 8);
        int64_t t0 = one.begin + (int64_t)((uint64_t)rand_r(&seed) % (uint64_t)(span - width));
        ct_tl_window_drop(&one);
        ct_tl_window_drop(&two);
        struct ct_timeline *a = ct_tl_window(&one, t0, t0 + width, 0);
        struct ct_timeline *b = ct_tl_window(&two, t0, t0 + width, 0);
        if (!a || !b)
            fail_msg("window [%lld, %lld]: %s", (long long)t0, (long long)(t0 + width),
                     !a ? one.src.error : two.src.error);
        for (size_t i = 0; i < a->nlanes; i++) {
            const struct tl_lane *x = &a->lanes[i], *y = &b->lanes[i];
            assert_int_equal(x->nspan_items, y->nspan_items);
            for (size_t k = 0; k < x->nspan_items; k++) {
                assert_true(x->spans[k].b == y->spans[k].b && x->spans[k].e == y->spans[k].e);
                assert_int_equal(x->spans[k].col, y->spans[k].col);
                assert_true(same_stack(&one, x->spans[k].stack, &two, y->spans[k].stack));
            }
            assert_int_equal(x->nregion_items, y->nregion_items);
            for (size_t k = 0; k < x->nregion_items; k++) {
                assert_true(x->regions[k].b == y->regions[k].b);
                assert_string_equal(name_of(&one, x->regions[k].type),
                                    name_of(&two, y->regions[k].type));
            }
        }
        /* Tasks begun in the window (those under way when it begins come
         * from the index's long ones, which depend on its buckets). */
        size_t ta = 0, tb = 0;
        for (size_t k = 0; k < a->ntask_items; k++)
            ta += a->tasks[k].b >= a->w0;
        for (size_t k = 0; k < b->ntask_items; k++)
            tb += b->tasks[k].b >= b->w0;
        assert_int_equal(ta, tb);
        assert_int_equal(a->nlogs, b->nlogs);
    }
    ct_timeline_free(&one);
    ct_timeline_free(&two);
    if (path) {
        ct_rd_close(&rd1);
        ct_rd_close(&rd2);
    }
}

/* The index built by readers each with some threads, then joined, is the
 * index one reader builds: the same lanes, counts, marks and threads, and
 * every window the same items. With more readers than threads, some read
 * only a few generations, or none. */
static void test_readers_join_into_one_index(void **state)
{
    (void)state;
    size_t size;
    uint8_t *data = record(&size);
    join_matches(data, size, 2, NULL);
    join_matches(data, size, 3, NULL);
    join_matches(data, size, 8, NULL);
    char path[] = "/tmp/ctrace-timeline-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    close(fd);
    join_matches(data, size, 2, path);
    join_matches(data, size, 3, path);
    unlink(path);
    free(data);
}

/* Writes size bytes of data to path. */
static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

static size_t count_in(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A process tree's view (timeline_tree.c): a parent's trace and a forked
 * child's, recorded at the same time, read as one: the lanes of both, each
 * with its process; the CPUs once each, every file's runs on them; the
 * strings of both, the child's moved after the parent's; a lane's key
 * found back. */
static void test_tree_joins_processes(void **state)
{
    (void)state;
    char dir[] = "/tmp/ctrace-tltree-XXXXXX", parent[64], child[96];
    assert_non_null(mkdtemp(dir));
    snprintf(parent, sizeof parent, "%s/t", dir);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) { /* the child records once the parent records */
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        size_t size;
        uint8_t *data = record(&size);
        char path[96];
        snprintf(path, sizeof path, "%s.%d", parent, (int)getpid());
        FILE *f = fopen(path, "wb");
        _exit(f && fwrite(data, 1, size, f) == size && fclose(f) == 0 ? 0 : 1);
    }
    assert_true(pid > 0);
    close(go[0]);
    ctrace_config config = {.generation_ns = 20000000};
    struct recording r;
    rec_start(&r, &config);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    atomic_store(&done, false);
    pthread_t th;
    pthread_create(&th, NULL, serve, (void *)(uintptr_t)1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    atomic_store(&done, true);
    pthread_join(th, NULL);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    write_file(parent, data, size);
    free(data);
    snprintf(child, sizeof child, "%s.%d", parent, (int)pid);

    struct ct_tl_tree t = {0};
    char err[256] = "";
    char *paths[] = {child, parent};
    assert_int_equal(ct_tree_load(&t.tree, paths, 2, false, err, sizeof err), 0);
    assert_int_equal(ct_tl_tree_open(&t, err, sizeof err), 0);
    bool damaged;
    assert_int_equal(ct_tl_tree_build(&t, 1, &damaged, err, sizeof err), 0);
    assert_false(damaged);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.tree.images[0].pid, (uint64_t)getpid()); /* parents first */
    assert_int_equal(t.tree.images[1].pid, (uint64_t)pid);
    assert_int_equal(t.tree.images[1].parent, 0);
    /* Lanes: the parent's main thread and server, the child's 4 servers
     * and main thread; different processes' tids never clash here. */
    assert_true(t.tl[0].nlanes >= 2);
    assert_true(t.tl[1].nlanes >= 5);
    assert_int_equal(t.tl[1].json_tid_base, 0);
    assert_int_equal(t.tl[1].json_string_base, t.tl[0].nstrings);
    assert_true(t.begin <= t.tl[1].begin && t.end >= t.tl[1].end && t.end >= t.tl[0].end);
    uint64_t tid;
    assert_int_equal(ct_tl_tree_find(&t, t.tl[1].lanes[2].tid, &tid), 1);
    assert_int_equal(tid, t.tl[1].lanes[2].tid);
    assert_int_equal(ct_tl_tree_find(&t, t.tl[0].lanes[0].tid, &tid), 0);
    assert_int_equal(ct_tl_tree_find(&t, (uint64_t)5 << 32 | 1, &tid), -1);
    /* CPUs: each image's, once each, sorted. */
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < t.tl[i].ncpus; k++) {
            size_t seen = 0;
            for (size_t c = 0; c < t.ncpus; c++)
                seen += t.cpus[c] == t.tl[i].cpus[k].cpu;
            assert_int_equal(seen, 1);
        }
    for (size_t c = 1; c < t.ncpus; c++)
        assert_true(t.cpus[c - 1] < t.cpus[c]);

    char *json = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&json, &len);
    ct_tl_tree_summary_json(&t, out);
    fclose(out);
    assert_non_null(strstr(json, "\"tree\":true"));
    char pidf[64];
    for (size_t i = 0; i < 2; i++) { /* each lane with its process */
        snprintf(pidf, sizeof pidf, "\"pid\":%" PRIu64 ",\"image\":%zu,", t.tree.images[i].pid, i);
        assert_int_equal(count_in(json, pidf), t.tl[i].nlanes);
    }
    free(json);
    /* The whole tree at 1000 pixels: every lane, every CPU once, each
     * image's runs on it. */
    json = NULL;
    out = open_memstream(&json, &len);
    assert_int_equal(ct_tl_tree_query_json(&t, t.begin, t.end + 1, 1000, out), 0);
    fclose(out);
    assert_int_equal(count_in(json, "{\"tid\":"), t.tl[0].nlanes + t.tl[1].nlanes);
    assert_int_equal(count_in(json, "{\"cpu\":"), t.ncpus);
    snprintf(pidf, sizeof pidf, " (pid %d ", (int)pid);
    assert_int_equal(count_in(json, pidf), t.tl[1].ncounters);
    free(json);
    ct_tl_tree_free(&t);
    unlink(child);
    unlink(parent);
    rmdir(dir);
}

/* A reading of [t0, t1] starts at a mark whose state is no later than t0,
 * though a later mark's batch time is: a mark without a batch (a thread's
 * last, in the generation after its last batch) has its last one's. */
static void test_mark_range_starts_before_t0(void **state)
{
    (void)state;
    struct tl_mark marks[] = {
        {.t = 100, .tb = 90, .gen = 0, .batch = 2},
        {.t = 200, .tb = 150, .gen = 0, .batch = 13},
        {.t = 900, .tb = 150, .gen = 1, .batch = UINT32_MAX, .first = true},
    };
    struct tl_lane l = {.marks = marks, .nmarks = 3};
    size_t a, z;
    assert_int_equal(ct_tl_mark_range(&l, 300, 400, &a, &z), 2);
    assert_int_equal(a, 1); /* not the last: its state is at 900 */
    assert_int_equal(z, 2);
    assert_int_equal(ct_tl_mark_range(&l, 95, 120, &a, &z), 2);
    assert_true(a == 0 && z == 1);
    assert_int_equal(ct_tl_mark_range(&l, 950, 990, &a, &z), 1);
    assert_true(a == 2 && z == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mark_range_starts_before_t0),
        cmocka_unit_test(test_windows_match_whole_reading),
        cmocka_unit_test(test_readers_join_into_one_index),
        cmocka_unit_test(test_tree_joins_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
