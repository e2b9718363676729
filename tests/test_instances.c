/*
 * test_instances.c - ctrace view's lists (src/analysis/instances*.c,
 * replay.c, taskview.c): every page the index gives, whatever the sort,
 * filter, order and page, must be what sorting and filtering every task,
 * region and log of the trace by hand gives; a task's time read again from
 * its threads must be what reading the whole trace gives (ctrace tasks
 * --type).
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../src/analysis/instances.h"
#include "../src/analysis/replay.h"
#include "../src/analysis/taskview.h"
#include "../src/analysis/timeline.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local volatile unsigned long sink;

/* Handed from the main thread to the workers: tasks begun on one thread,
 * worked on and ended on another. */
static ctrace_task handed[64];
static int handed_n;
static pthread_mutex_t handed_lock = PTHREAD_MUTEX_INITIALIZER;

static bool take_handed(ctrace_task *t)
{
    pthread_mutex_lock(&handed_lock);
    bool some = handed_n > 0;
    if (some)
        *t = handed[--handed_n];
    pthread_mutex_unlock(&handed_lock);
    return some;
}

static void spin(int n)
{
    for (int i = 0; i < n; i++)
        sink += (unsigned long)i * 2654435761u;
}

static void *work(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    char message[32];
    for (int i = 0; i < 3000; i++) {
        ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, i % 3 ? "alpha" : "beta");
        ctrace_task child = i % 10 == 0 ? ctrace_task_begin(task, "child") : (ctrace_task){0};
        ctrace_region outer = ctrace_region_begin(task, "outer");
        spin(50 + (i % 17) * 40);
        if (i % 50 == 0) {
            pthread_mutex_lock(&lock); /* contended now and then: sync time */
            spin(2000);
            pthread_mutex_unlock(&lock);
        }
        ctrace_region inner = ctrace_region_begin(i % 4 ? task : child, "inner");
        spin(30);
        if (i % 200 == 0)
            usleep(100); /* off the CPU: sleep time */
        ctrace_region_end(inner);
        ctrace_region_end(outer);
        snprintf(message, sizeof message, "item %u-%d", k, i);
        ctrace_log(task, i % 2 ? "even" : "odd", message);
        if (i % 10 == 0)
            ctrace_task_end(child);
        if (i % 500 != 7) /* a few never end */
            ctrace_task_end(task);
        ctrace_task h;
        if (i % 97 == 0 && take_handed(&h)) {
            ctrace_region r = ctrace_region_begin(h, "handed");
            spin(300);
            ctrace_region_end(r);
            ctrace_log(h, "hand", "worked on");
            ctrace_task_end(h);
        }
    }
    ctrace_region_begin(CTRACE_NO_TASK, "dangling"); /* open when the thread ends */
    return NULL;
}

/* On a failure, the trace into $CT_DUMP, to read it again; true. */
static bool keep_trace(const uint8_t *data, size_t size)
{
    FILE *dump = getenv("CT_DUMP") ? fopen(getenv("CT_DUMP"), "w") : NULL;
    if (dump) {
        fwrite(data, 1, size, dump);
        fclose(dump);
    }
    return true;
}

/* sched: the ctrace_config's (0 the switches, 2 schedstat samples only). */
static uint8_t *record(size_t *size, int sched)
{
    ctrace_config config = {.generation_ns = 20000000, .sched = sched};
    struct recording r;
    rec_start(&r, &config);
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, work, (void *)i);
    for (int i = 0; i < 64; i++) {
        pthread_mutex_lock(&handed_lock);
        handed[handed_n++] = ctrace_task_begin(CTRACE_NO_TASK, "handed");
        pthread_mutex_unlock(&handed_lock);
        usleep(500);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ctrace_task left;
    while (take_handed(&left))
        ctrace_task_end(left);
    return rec_stop(&r, size);
}

/* ---- every item, by hand ---- */

struct item {
    char type[64];
    int64_t b;
    uint64_t d; /* UINT64_MAX: open */
    uint64_t tid, task, parent, id;
};

struct truth {
    struct item *tasks, *regions;
    size_t ntasks, nregions;
    struct test_event **logs;
    size_t nlogs;
};

static void add(struct item **a, size_t *n, struct item x)
{
    if ((*n & (*n - 1)) == 0) /* at 0, 1, 2, 4...: room for as many again */
        *a = realloc(*a, (*n ? 2 * *n : 1) * sizeof **a);
    (*a)[(*n)++] = x;
}

static int by_id(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void by_hand(const struct test_trace *t, struct truth *out)
{
    memset(out, 0, sizeof *out);
    struct { uint64_t tid; struct item open[16]; int n; } stacks[16];
    int nstacks = 0;
    for (size_t i = 0; i < t->count; i++) {
        struct test_event *e = &t->events[i];
        if (e->kind == CT_EV_TASK_BEGIN) {
            struct item x = {.b = e->ts_ns, .d = UINT64_MAX, .tid = e->tid, .id = e->args[0],
                             .parent = e->args[1]};
            snprintf(x.type, sizeof x.type, "%s", e->str);
            add(&out->tasks, &out->ntasks, x);
        } else if (e->kind == CT_EV_LOG) {
            if ((out->nlogs & (out->nlogs - 1)) == 0)
                out->logs = realloc(out->logs, (out->nlogs ? 2 * out->nlogs : 1) * sizeof *out->logs);
            out->logs[out->nlogs++] = e;
        } else if (e->kind == CT_EV_REGION_BEGIN || e->kind == CT_EV_REGION_END) {
            int s = 0;
            while (s < nstacks && stacks[s].tid != e->tid)
                s++;
            if (s == nstacks) {
                stacks[nstacks].tid = e->tid;
                stacks[nstacks++].n = 0;
            }
            if (e->kind == CT_EV_REGION_BEGIN) {
                struct item x = {.b = e->ts_ns, .d = UINT64_MAX, .tid = e->tid, .task = e->args[0]};
                snprintf(x.type, sizeof x.type, "%s", e->str);
                stacks[s].open[stacks[s].n++] = x;
            } else {
                struct item x = stacks[s].open[--stacks[s].n];
                x.d = (uint64_t)(e->ts_ns - x.b);
                add(&out->regions, &out->nregions, x);
            }
        }
    }
    for (int s = 0; s < nstacks; s++)
        for (int k = 0; k < stacks[s].n; k++)
            add(&out->regions, &out->nregions, stacks[s].open[k]);
    qsort(out->tasks, out->ntasks, sizeof *out->tasks, by_id);
    for (size_t i = 0; i < t->count; i++) /* ends: after every begin was seen */
        if (t->events[i].kind == CT_EV_TASK_END) {
            struct item key = {.id = t->events[i].args[0]};
            struct item *x = bsearch(&key, out->tasks, out->ntasks, sizeof key, by_id);
            if (x)
                x->d = (uint64_t)(t->events[i].ts_ns - x->b);
        }
}

/* ---- the index against it ---- */

static long type_index(const struct ct_type_stats *types, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(types[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* The items by hand of a type that pass f. */
static size_t expected(const struct item *all, size_t n, const char *type,
                       const struct ct_inst_filter *f, struct item *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].type, type) != 0)
            continue;
        bool open = all[i].d == UINT64_MAX;
        if (f->open ? open : !open && all[i].d >= f->min_ns && (!f->max_ns || all[i].d < f->max_ns))
            out[k++] = all[i];
    }
    return k;
}

static int by_key(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* A page as items. */
static size_t page_items(struct ct_instances *ix, bool regions, size_t type,
                         const struct ct_inst_filter *f, enum ct_inst_sort sort, bool desc,
                         size_t offset, size_t limit, struct item *out, uint32_t *rows,
                         size_t *total)
{
    struct ct_inst_set *s = regions ? &ix->regions : &ix->tasks;
    size_t n;
    assert_int_equal(ct_inst_page(ix, s, type, f, sort, desc, offset, limit, rows, &n, total), 0);
    for (size_t k = 0; k < n; k++) {
        size_t i = rows[k];
        out[k] = (struct item){.b = ct_inst_begin(s, i), .d = ct_inst_duration(s, i),
                               .tid = ct_inst_tid(ix, s, i)};
    }
    return n;
}

/* Every page of every type, sort, order and a few filters. */
static void check_set(struct ct_instances *ix, bool regions, const struct item *all, size_t nall)
{
    struct ct_inst_set *s = regions ? &ix->regions : &ix->tasks;
    const struct ct_type_stats *types = regions ? ix->ann.regions : ix->ann.tasks;
    struct item *want = calloc(nall + 1, sizeof *want), *got = calloc(nall + 1, sizeof *got);
    struct item *paged = calloc(nall + 1, sizeof *paged);
    uint32_t *rows = calloc(nall + 1, sizeof *rows);
    for (size_t t = 0; t < s->ntypes; t++) {
        uint64_t longest = 0, some[2] = {0, 0};
        size_t seen = 0;
        for (size_t i = 0; i < nall; i++)
            if (strcmp(all[i].type, types[t].name) == 0 && all[i].d != UINT64_MAX) {
                longest = all[i].d > longest ? all[i].d : longest;
                some[seen++ % 2] = all[i].d; /* bounds that items have exactly */
            }
        uint64_t lo = some[0] < some[1] ? some[0] : some[1], hi = some[0] ^ some[1] ^ lo;
        struct ct_inst_filter filters[] = {{0, 0, false},
                                           {0, 0, true},
                                           {longest / 4, longest / 2 + 1, false},
                                           {longest / 3, 0, false},
                                           {0, longest / 10 + 1, false},
                                           {lo, hi, false},
                                           {hi, 0, false}};
        for (size_t fi = 0; fi < sizeof filters / sizeof filters[0]; fi++) {
            const struct ct_inst_filter *f = &filters[fi];
            size_t nwant = expected(all, nall, types[t].name, f, want);
            for (int sort = 0; sort < 2; sort++) {
                size_t total;
                size_t n = page_items(ix, regions, t, f, (enum ct_inst_sort)sort, false, 0,
                                      nall + 1, got, rows, &total);
                if (n != nwant || total != nwant)
                    fail_msg("%s %s filter %zu sort %d: %zu listed, %zu in all, %zu by hand",
                             regions ? "region" : "task", types[t].name, fi, sort, n, total,
                             nwant);
                for (size_t k = 1; k < n; k++)
                    assert_true(sort == CT_INST_BY_BEGIN ? got[k - 1].b <= got[k].b
                                                         : got[k - 1].d <= got[k].d);
                /* The order reversed, and in pages of 7. */
                size_t back = page_items(ix, regions, t, f, (enum ct_inst_sort)sort, true, 0,
                                         nall + 1, paged, rows, &total);
                assert_int_equal(back, n);
                for (size_t k = 0; k < n; k++)
                    assert_true(paged[k].b == got[n - 1 - k].b && paged[k].d == got[n - 1 - k].d);
                /* Pages of 7 at the start, the end and a few places
                 * between (every one would make the test quadratic). */
                for (size_t at = 0; at < n; at = at < 70 || at + 140 > n ? at + 7 : at + n / 9 / 7 * 7 + 7) {
                    size_t m = page_items(ix, regions, t, f, (enum ct_inst_sort)sort, false, at, 7,
                                          paged + at, rows, &total);
                    assert_int_equal(m, n - at < 7 ? n - at : 7);
                    for (size_t k = at; k < at + m; k++)
                        assert_true(paged[k].b == got[k].b && paged[k].d == got[k].d &&
                                    paged[k].tid == got[k].tid);
                }
                /* The same items as by hand. */
                qsort(got, n, sizeof *got, by_key);
                qsort(want, nwant, sizeof *want, by_key);
                for (size_t k = 0; k < n; k++)
                    if (got[k].b != want[k].b || got[k].d != want[k].d || got[k].tid != want[k].tid)
                        fail_msg("%s %s item %zu: %lld+%llu on %llu, by hand %lld+%llu on %llu",
                                 regions ? "region" : "task", types[t].name, k,
                                 (long long)got[k].b, (unsigned long long)got[k].d,
                                 (unsigned long long)got[k].tid, (long long)want[k].b,
                                 (unsigned long long)want[k].d, (unsigned long long)want[k].tid);
            }
        }
    }
    free(want);
    free(got);
    free(paged);
    free(rows);
}

/* The first ranks by duration, found by a look at every duration before the
 * type's order is built, are the ranks the order gives. */
static void check_first_ranks(struct ct_instances *ix)
{
    struct ct_inst_set *s = &ix->regions;
    long t = type_index(ix->ann.regions, s->ntypes, "outer");
    assert_true(t >= 0);
    struct ct_inst_filter filters[] = {{0, 0, false}, {1000, 100000, false}, {0, 0, true}};
    /* The first ranks, and the last (the first the other way round). */
    uint32_t before[3][2][2][120], after[120];
    size_t n[3][2][2], at[3][2], m, total;
    for (int f = 0; f < 3; f++)
        for (int desc = 0; desc < 2; desc++) {
            assert_int_equal(ct_inst_page(ix, s, (size_t)t, &filters[f], CT_INST_BY_DURATION, desc,
                                          17, 100, before[f][desc][0], &n[f][desc][0], &total), 0);
            at[f][desc] = total > 30 ? total - 30 : 0;
            assert_int_equal(ct_inst_page(ix, s, (size_t)t, &filters[f], CT_INST_BY_DURATION, desc,
                                          at[f][desc], 100, before[f][desc][1], &n[f][desc][1],
                                          &total), 0);
        }
    assert_true(n[0][0][1] == 30 && at[0][0] > 2000); /* the last pages came the other way */
    assert_null(atomic_load(&s->by_dur[t]));
    uint32_t deep[10];
    assert_int_equal(ct_inst_page(ix, s, (size_t)t, &filters[0], CT_INST_BY_DURATION, false, 5000,
                                  10, deep, &m, &total), 0);
    assert_non_null(atomic_load(&s->by_dur[t])); /* built now */
    for (int f = 0; f < 3; f++)
        for (int desc = 0; desc < 2; desc++)
            for (int last = 0; last < 2; last++) {
                assert_int_equal(ct_inst_page(ix, s, (size_t)t, &filters[f], CT_INST_BY_DURATION,
                                              desc, last ? at[f][desc] : 17, 100, after, &m, &total),
                                 0);
                assert_int_equal(m, n[f][desc][last]);
                assert_memory_equal(after, before[f][desc][last], m * sizeof *after);
            }
}

static bool holds(const char *hay, const char *needle)
{
    for (size_t n = strlen(needle); *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return !*needle;
}

static void check_logs(struct ct_instances *ix, const struct truth *truth)
{
    uint32_t *rows = calloc(truth->nlogs + 1, sizeof *rows);
    const char *queries[] = {"", "item 2-1", "EVEN", "worked", "no such text"};
    uint64_t tid = ix->tids[0];
    for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++)
        for (int by_tid = 0; by_tid < 2; by_tid++) {
            size_t want = 0;
            for (size_t i = 0; i < truth->nlogs; i++) {
                const struct test_event *e = truth->logs[i];
                if ((holds(e->text, queries[qi]) || holds(e->str, queries[qi])) &&
                    (!by_tid || e->tid == tid))
                    want++;
            }
            struct ct_log_filter f = {queries[qi], by_tid ? tid : 0, 0, INT64_MIN, INT64_MAX};
            size_t n, total;
            assert_int_equal(ct_inst_logs_page(ix, &f, false, 0, truth->nlogs + 1, rows, &n, &total),
                             0);
            if (total != want || n != want)
                fail_msg("logs holding '%s'%s: %zu listed, %zu by hand", queries[qi],
                         by_tid ? " of one thread" : "", total, want);
            for (size_t k = 1; k < n; k++)
                assert_true(ct_inst_log_time(ix, rows[k - 1]) <= ct_inst_log_time(ix, rows[k]));
            for (size_t k = 0; k < n; k++) {
                const struct ct_inst_text *x = &ix->texts[ix->log_text[rows[k]]];
                assert_true(holds(ix->text + x->at, queries[qi]) ||
                            holds(ix->categories[x->category], queries[qi]));
            }
            uint32_t last;
            assert_int_equal(ct_inst_logs_page(ix, &f, true, 0, 1, &last, &n, &total), 0);
            assert_true(n == (want > 0) && (!n || last == rows[want - 1]));
        }
    free(rows);
}

/* A task's threads, regions and logs, as the focus lists them. */
static void check_tasks(struct ct_instances *ix, const struct truth *truth)
{
    uint32_t rows[64];
    for (size_t k = 0; k < truth->ntasks; k += 37) {
        const struct item *t = &truth->tasks[k];
        long i = ct_inst_task(ix, t->id);
        assert_true(i >= 0);
        assert_true(ct_inst_begin(&ix->tasks, i) == t->b);
        uint64_t tids[16];
        size_t n = ct_inst_task_threads(ix, (size_t)i, tids, 16);
        assert_true(n >= 1 && tids[0] == t->tid);
        size_t want = 0;
        for (size_t r = 0; r < truth->nregions; r++)
            if (truth->regions[r].task == t->id) {
                want++;
                bool on = false;
                for (size_t m = 0; m < n; m++)
                    on |= tids[m] == truth->regions[r].tid;
                assert_true(on);
            }
        size_t got, total;
        assert_int_equal(ct_inst_task_regions(ix, (size_t)i, INT64_MIN, INT64_MAX, 0, 64, rows,
                                              &got, &total), 0);
        assert_int_equal(total, want);
        for (size_t m = 0; m < got; m++)
            assert_int_equal(ix->regions.task[rows[m]], (uint32_t)i + 1);
        size_t logs = 0;
        for (size_t g = 0; g < truth->nlogs; g++)
            logs += truth->logs[g]->args[0] == t->id;
        struct ct_log_filter f = {"", 0, (uint32_t)i + 1, INT64_MIN, INT64_MAX};
        assert_int_equal(ct_inst_logs_page(ix, &f, false, 0, 64, rows, &got, &total), 0);
        assert_int_equal(total, logs);
        uint32_t parent = ix->tasks.task[i];
        assert_int_equal(parent ? ix->task_id[parent - 1] : 0, t->parent);
    }
}

static void test_pages_match_every_item(void **state)
{
    (void)state;
    size_t size;
    uint8_t *data = record(&size, 0);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    struct truth truth;
    by_hand(&t, &truth);
    struct ct_reader rd;
    assert_int_equal(ct_rd_open_mem(&rd, data, size, "t.out"), 0);
    struct ct_instances ix;
    assert_int_equal(ct_instances_build(&rd, &ix, NULL, NULL), 0);
    assert_int_equal(ix.tasks.at[ix.tasks.ntypes], truth.ntasks);
    assert_int_equal(ix.regions.n, truth.nregions);
    assert_int_equal(ix.nlogs, truth.nlogs);
    check_first_ranks(&ix); /* before any order by duration is built */
    check_set(&ix, false, truth.tasks, truth.ntasks);
    check_set(&ix, true, truth.regions, truth.nregions);
    check_logs(&ix, &truth);
    check_tasks(&ix, &truth);
    ct_instances_free(&ix);
    free(truth.tasks);
    free(truth.regions);
    free(truth.logs);
    free_trace(&t);
    free(data);
}

/* A task's time read again from its threads over its time is what the
 * whole trace's reading gives it: the reading again starts from a mark
 * with the thread's state as the whole reading had it there (with
 * schedstat samples only, what the kernel's totals owe the columns). */
static void task_time_read_again(int sched)
{
    size_t size;
    uint8_t *data = record(&size, sched);
    char path[] = "/tmp/ctrace-instances-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    close(fd);
    struct ct_reader pass, src, rd;
    assert_int_equal(ct_rd_open_mem(&src, data, size, "t.out"), 0);
    assert_int_equal(ct_rd_open_mem(&pass, data, size, "t.out"), 0);
    struct ct_timeline tl;
    assert_int_equal(ct_timeline_build(&pass, &src, &tl, 0, NULL), 0);
    assert_int_equal(ct_rd_open_mem(&rd, data, size, "t.out"), 0);
    struct ct_instances ix;
    assert_int_equal(ct_instances_build(&rd, &ix, NULL, NULL), 0);
    const char *types[] = {"alpha", "handed"};
    for (int ty = 0; ty < 2; ty++) {
        struct ct_task_view whole;
        struct ct_reader wrd;
        assert_int_equal(ct_task_view(path, types[ty], &whole, &wrd), 0);
        ct_rd_close(&wrd);
        assert_true(whole.count > 10);
        struct ct_replay r;
        assert_int_equal(ct_replay_open(&r, &tl), 0);
        size_t compared = 0;
        for (size_t k = 0; k < whole.count; k++) {
            const struct ct_task_row *w = &whole.rows[k];
            if (w->end_ns == INT64_MIN)
                continue; /* never ended: read to the end of the trace here */
            long i = ct_inst_task(&ix, w->id);
            assert_true(i >= 0);
            uint64_t tids[16];
            size_t n = ct_inst_task_threads(&ix, (size_t)i, tids, 16);
            size_t budget = SIZE_MAX;
            struct ct_task_time got;
            assert_int_equal(ct_task_time(&r, w->id, w->begin_ns, w->end_ns, tids, n, &budget,
                                          &got), 0);
            for (int c = 0; c < CT_COL_COUNT; c++)
                if (got.ns[c] != w->ns[c] && keep_trace(data, size))
                    fail_msg("task %llu (%s), %s: %llu read again, %llu in the whole reading",
                             (unsigned long long)w->id, types[ty], ct_column_name(c),
                             (unsigned long long)got.ns[c], (unsigned long long)w->ns[c]);
            assert_memory_equal(got.sync_ns, w->sync_ns, sizeof got.sync_ns);
            compared++;
        }
        assert_true(compared > 10);
        ct_replay_close(&r);
        ct_task_view_free(&whole);
    }
    ct_instances_free(&ix);
    ct_timeline_free(&tl);
    unlink(path);
    free(data);
}

static void test_task_time_read_again(void **state)
{
    (void)state;
    task_time_read_again(0);
}

static void test_task_time_read_again_sampled(void **state)
{
    (void)state;
    task_time_read_again(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_match_every_item),
        cmocka_unit_test(test_task_time_read_again),
        cmocka_unit_test(test_task_time_read_again_sampled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
