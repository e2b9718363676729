/*
 * test_timeline.c - ctrace view's index (src/analysis/timeline*.c): a window
 * read again from marks inside the trace must hold exactly what reading the
 * whole trace from its start gives, over the same range; the buckets must
 * count every item; the answers must be well-formed.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/analysis/timeline.h"

static atomic_bool done;
static volatile unsigned long sink;

static void *serve(void *arg)
{
    (void)arg;
    for (unsigned long i = 0; !atomic_load(&done); i++) {
        ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "request");
        ctrace_region outer = ctrace_region_begin(task, "handle");
        ctrace_region inner = ctrace_region_begin(task, i % 3 ? "parse" : "query");
        for (int k = 0; k < 50; k++)
            sink += (unsigned long)k * i;
        ctrace_region_end(inner);
        ctrace_region_end(outer);
        ctrace_log(task, "request", "served");
        ctrace_task_end(task);
        if (i % 256 == 0)
            usleep(200); /* off the CPU: a context switch */
    }
    return NULL;
}

/* A trace of 3 threads serving requests for 300 ms, in generations of 20 ms:
 * many batches per thread per generation. */
static uint8_t *record(size_t *size)
{
    ctrace_config config = {.generation_ns = 20000000};
    struct recording r;
    rec_start(&r, &config);
    atomic_store(&done, false);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, serve, NULL);
    usleep(300000);
    atomic_store(&done, true);
    for (int i = 0; i < 3; i++)
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
           a->object == b->object && a->stack == b->stack;
}

static bool same_region(const struct tl_region *a, const struct tl_region *b)
{
    return a->b == b->b && a->e == b->e && a->type == b->type && a->depth == b->depth &&
           a->task == b->task;
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

static void test_windows_match_whole_reading(void **state)
{
    (void)state;
    size_t size;
    uint8_t *data = record(&size);
    struct ct_reader rd;
    assert_int_equal(ct_rd_open_mem(&rd, data, size, "t.out"), 0);
    struct ct_reader src = rd;
    struct ct_timeline tl;
    int rc = ct_timeline_build(&rd, &src, &tl, NULL);
    if (rc != 0)
        fail_msg("%s", rd.error);
    assert_true(tl.ngens >= 5);
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
        memcpy(ref[i].spans, l->spans, l->nspan_items * sizeof *l->spans);
        ref[i].nregions = l->nregion_items;
        ref[i].regions = malloc((l->nregion_items + 1) * sizeof *ref[i].regions);
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
    assert_true(lanes_with_many >= 3);
    assert_true(marks > tl.ngens * 3); /* batches inside generations too */
    /* Windows of every width at many places: the same items. */
    const struct tl_span **a = NULL, **b = NULL;
    const struct tl_region **ra = NULL, **rb = NULL;
    size_t checked = 0;
    unsigned seed = 7;
    for (int round = 0; round < 60; round++) {
        int64_t span = tl.end - tl.begin;
        int64_t width = span >> (1 + round % 12);
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
                assert_true(same_span(a[k], b[k]));
            ra = realloc(ra, (ref[i].nregions + 1) * sizeof *ra);
            rb = realloc(rb, (l->nregion_items + 1) * sizeof *rb);
            na = regions_in(ref[i].regions, ref[i].nregions, t0, t1, ra);
            nb = regions_in(l->regions, l->nregion_items, t0, t1, rb);
            if (na != nb)
                fail_msg("lane %zu, [%lld, %lld]: %zu regions read whole, %zu in the window", i,
                         (long long)t0, (long long)t1, na, nb);
            for (size_t k = 0; k < na; k++)
                assert_true(same_region(ra[k], rb[k]));
            checked += na;
        }
    }
    assert_true(checked > 1000);
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
    assert_non_null(strstr(q, batches > 64 ? "\"exact\":false" : "\"exact\":true"));
    free(q);
    const struct tl_span *s = &ref[1].spans[ref[1].nspans / 2];
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(ct_timeline_span_json(&tl, tl.lanes[1].tid, (s->b + s->e) / 2, out), 0);
    fclose(out);
    char expect[64];
    snprintf(expect, sizeof expect, "\"begin\":%lld,\"end\":%lld", (long long)s->b, (long long)s->e);
    if (!strstr(buf, expect))
        fail_msg("span details %s lack %s", buf, expect);
    free(buf);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_match_whole_reading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
