/*
 * view_lists.c - see view_lists.h. Every answer is bounded: a page of at
 * most MAX_PAGE rows, found through the instance index; a task's time is
 * read again for the tasks asked for only, within a budget of batches.
 */
#include "view_lists.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/json.h"
#include "../analysis/replay.h"
#include "../analysis/taskview.h"

#define MAX_PAGE 1000
#define DEFAULT_PAGE 100
/* A focus draws at most this many regions and logs of a range. */
#define MAX_FOCUS 10000
/* The batches one request of task times may read again: 64 MiB of trace,
 * a few hundred milliseconds. */
#define TIME_BUDGET 2048

/* ---- parameters ---- */

/* A whole number argument within [lo, hi]: 1 when given, 0 when absent
 * (*out = dflt), -1 when not a number or out of bounds. */
static int number(struct ct_vreq *q, const char *name, int64_t lo, int64_t hi, int64_t dflt,
                  int64_t *out)
{
    *out = dflt;
    return ct_vreq_number(q, name, lo, hi, out);
}

static const char *str_arg(struct ct_vreq *q, const char *name, const char *dflt)
{
    const char *s = ct_vreq_arg(q, name);
    return s && *s ? s : dflt;
}

/* The page arguments shared by every list; false with a 400 answer. */
struct page {
    int64_t offset, limit;
    bool desc;
};

static bool page_args(struct ct_vreq *q, struct ct_vanswer *a, bool desc, struct page *p)
{
    const char *order = str_arg(q, "order", desc ? "desc" : "asc");
    if (number(q, "offset", 0, INT64_MAX / 2, 0, &p->offset) < 0 ||
        number(q, "limit", 0, MAX_PAGE, DEFAULT_PAGE, &p->limit) < 0 ||
        (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)) {
        ct_vanswer_text(a, 400, "offset and limit (0 to %d) are whole numbers; order is asc or "
                                "desc\n", MAX_PAGE);
        return false;
    }
    p->desc = strcmp(order, "desc") == 0;
    return true;
}

static void json_str(FILE *out, const char *s)
{
    ct_json_string(out, s, strlen(s));
}

/* ---- types, with exact histograms ---- */

/* The edges of the histogram's bins: 1, 2, 5, 10, 20, 50 ... ns, as
 * `ctrace tasks` draws them. */
static int bin_edges(uint64_t edges[64])
{
    static const uint64_t steps[] = {1, 2, 5};
    int n = 0;
    for (uint64_t decade = 1; n < 63 && decade < 10000000000000ull; decade *= 10)
        for (int k = 0; k < 3 && n < 63; k++)
            edges[n++] = decade * steps[k];
    edges[n] = UINT64_MAX;
    return n;
}

static int bin_of(const uint64_t *edges, int n, uint64_t v)
{
    int lo = 0, hi = n; /* the last edge at or below v */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (edges[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void types_json(FILE *out, const struct ct_inst_set *s, const struct ct_type_stats *types)
{
    uint64_t edges[64];
    int nbins = bin_edges(edges);
    fputc('[', out);
    for (size_t t = 0; t < s->ntypes; t++) {
        const struct ct_latency *l = &types[t].latency;
        uint64_t counts[64] = {0};
        /* Exact: a bar counts the items its range lists (below 1 ns in
         * the first). */
        for (size_t i = s->at[t]; i < s->at[t + 1]; i++) {
            uint64_t d = ct_inst_duration(s, i);
            if (d != UINT64_MAX)
                counts[bin_of(edges, nbins, d)]++;
        }
        fprintf(out, "%s{\"type\":", t ? "," : "");
        json_str(out, types[t].name);
        fprintf(out,
                ",\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64 ",\"min_ns\":%" PRIu64
                ",\"p50_ns\":%" PRIu64 ",\"p90_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
                ",\"max_ns\":%" PRIu64 ",\"unfinished\":%" PRIu64 ",\"unmatched\":%" PRIu64
                ",\"histogram\":[",
                l->count, l->total, l->min, ct_latency_quantile(l, 0.5),
                ct_latency_quantile(l, 0.9), ct_latency_quantile(l, 0.99), l->max,
                types[t].unfinished, types[t].unmatched);
        int first = -1, last = -1;
        for (int k = 0; k < nbins; k++)
            if (counts[k]) {
                first = first < 0 ? k : first;
                last = k;
            }
        for (int k = first; k >= 0 && k <= last; k++)
            fprintf(out, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", k > first ? "," : "", edges[k],
                    k + 1 < nbins ? edges[k + 1] : UINT64_MAX / 2, counts[k]);
        fputs("]}", out);
    }
    fputc(']', out);
}

int ct_view_lists_ready(struct ct_view_lists *l)
{
    FILE *out = open_memstream(&l->tasks_json, &l->tasks_len);
    if (!out)
        return -1;
    types_json(out, &l->ix->tasks, l->ix->ann.tasks);
    fclose(out);
    out = open_memstream(&l->regions_json, &l->regions_len);
    if (!out)
        return -1;
    types_json(out, &l->ix->regions, l->ix->ann.regions);
    fclose(out);
    return 0;
}

void ct_view_lists_free(struct ct_view_lists *l)
{
    free(l->tasks_json);
    free(l->regions_json);
    l->tasks_json = l->regions_json = NULL;
}

static void send_types(struct ct_vanswer *a, char *json, size_t len)
{
    *a = (struct ct_vanswer){200, "application/json", json, len, true, NULL, 0};
}

/* ---- tasks and regions, a page ---- */

static long type_named(const struct ct_type_stats *types, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(types[i].name, name) == 0)
            return (long)i;
    return -1;
}

static void duration_json(FILE *out, const struct ct_inst_set *s, size_t i)
{
    uint64_t d = ct_inst_duration(s, i);
    if (d == UINT64_MAX)
        fputs(",\"duration_ns\":null,\"open\":true", out);
    else
        fprintf(out, ",\"duration_ns\":%" PRIu64, d);
}

static void task_row(FILE *out, const struct ct_instances *ix, size_t i)
{
    const struct ct_inst_set *s = &ix->tasks;
    uint32_t parent = s->task[i];
    fprintf(out, "{\"id\":%" PRIu64 ",\"parent\":%" PRIu64 ",\"begin_ns\":%" PRId64,
            ix->task_id[i], parent ? ix->task_id[parent - 1] : 0, ct_inst_begin(s, i));
    duration_json(out, s, i);
    uint64_t tids[16];
    size_t n = ct_inst_task_threads(ix, i, tids, 16);
    fputs(",\"threads\":[", out);
    for (size_t k = 0; k < n && k < 16; k++)
        fprintf(out, "%s%" PRIu64, k ? "," : "", tids[k]);
    fprintf(out, "],\"nthreads\":%zu}", n);
}

static void region_row(FILE *out, const struct ct_instances *ix, size_t i)
{
    const struct ct_inst_set *s = &ix->regions;
    uint32_t task = s->task[i];
    fprintf(out, "{\"tid\":%" PRIu64 ",\"begin_ns\":%" PRId64, ct_inst_tid(ix, s, i), ct_inst_begin(s, i));
    duration_json(out, s, i);
    fprintf(out, ",\"task\":%" PRIu64, task ? ix->task_id[task - 1] : 0);
    if (task && task - 1 < ix->tasks.at[ix->tasks.ntypes]) {
        size_t t = 0;
        while (t + 1 < ix->tasks.ntypes && ix->tasks.at[t + 1] <= task - 1)
            t++;
        fputs(",\"task_type\":", out);
        json_str(out, ix->ann.tasks[t].name);
    }
    fputc('}', out);
}

/* A type's order by duration, built on a thread of its own once its first
 * page was answered (from one look at its durations): the pages after do
 * not wait for it. One at a time. */
static atomic_int preparing;

struct prepare {
    struct ct_instances *ix;
    struct ct_inst_set *s;
    size_t type;
};

static void *prepare_order(void *arg)
{
    struct prepare *p = arg;
    (void)ct_inst_order(p->ix, p->s, p->type);
    free(p);
    atomic_fetch_sub(&preparing, 1);
    return NULL;
}

static void prepare(struct ct_instances *ix, struct ct_inst_set *s, size_t type)
{
    int idle = 0;
    if (atomic_load_explicit(&s->by_dur[type], memory_order_acquire) ||
        !atomic_compare_exchange_strong(&preparing, &idle, 1))
        return;
    struct prepare *p = malloc(sizeof *p);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (p) {
        *p = (struct prepare){ix, s, type};
        if (pthread_create(&t, &attr, prepare_order, p) != 0) {
            free(p);
            p = NULL;
        }
    }
    pthread_attr_destroy(&attr);
    if (!p)
        atomic_fetch_sub(&preparing, 1);
}

bool ct_view_lists_busy(void)
{
    return atomic_load(&preparing) > 0;
}

static void list(struct ct_view_lists *l, struct ct_vreq *q, struct ct_vanswer *a, bool regions)
{
    struct ct_instances *ix = l->ix;
    struct ct_inst_set *s = regions ? &ix->regions : &ix->tasks;
    const struct ct_type_stats *types = regions ? ix->ann.regions : ix->ann.tasks;
    const char *name = ct_vreq_arg(q, "type");
    long type = name ? type_named(types, s->ntypes, name) : -1;
    if (type < 0) {
        ct_vanswer_text(a, name ? 404 : 400, "%s\n",
                        name ? "no such type" : "type is required (a task or region type)");
        return;
    }
    int64_t min, max, open;
    const char *sort = str_arg(q, "sort", "duration");
    struct page p;
    if (number(q, "min", 0, INT64_MAX, 0, &min) < 0 || number(q, "max", 0, INT64_MAX, 0, &max) < 0 ||
        number(q, "open", 0, 1, 0, &open) < 0 ||
        (strcmp(sort, "begin") != 0 && strcmp(sort, "duration") != 0)) {
        ct_vanswer_text(a, 400, "min and max are durations in ns, open is 0 or 1, sort is begin "
                                "or duration\n");
        return;
    }
    if (!page_args(q, a, strcmp(sort, "duration") == 0, &p))
        return;
    struct ct_inst_filter f = {(uint64_t)min, (uint64_t)max, open == 1};
    uint32_t *rows = malloc((size_t)(p.limit ? p.limit : 1) * sizeof *rows);
    size_t nrows, total;
    if (!rows || ct_inst_page(ix, s, (size_t)type, &f,
                              strcmp(sort, "begin") == 0 ? CT_INST_BY_BEGIN : CT_INST_BY_DURATION,
                              p.desc, (size_t)p.offset, (size_t)p.limit, rows, &nrows,
                              &total) != 0) {
        free(rows);
        ct_vanswer_text(a, 503, "out of memory\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (out) {
        fputs("{\"type\":", out);
        json_str(out, types[type].name);
        fprintf(out, ",\"total\":%zu,\"offset\":%" PRId64 ",\"limit\":%" PRId64
                     ",\"sort\":\"%s\",\"order\":\"%s\",\"rows\":[",
                total, p.offset, p.limit, sort, p.desc ? "desc" : "asc");
        for (size_t k = 0; k < nrows; k++) {
            if (k)
                fputc(',', out);
            if (regions)
                region_row(out, ix, rows[k]);
            else
                task_row(out, ix, rows[k]);
        }
        fputs("]}", out);
        fclose(out);
    }
    free(rows);
    if (strcmp(sort, "duration") == 0)
        prepare(ix, s, (size_t)type);
}

/* ---- logs ---- */

static void log_row(FILE *out, const struct ct_instances *ix, size_t i)
{
    const struct ct_inst_text *x = &ix->texts[ix->log_text[i]];
    uint32_t task = ix->log_task[i];
    fprintf(out, "{\"t\":%" PRId64 ",\"tid\":%" PRIu64 ",\"task\":%" PRIu64 ",\"category\":",
            ct_inst_log_time(ix, i), ct_inst_log_tid(ix, i), task ? ix->task_id[task - 1] : 0);
    json_str(out, ix->categories[x->category]);
    fputs(",\"message\":", out);
    ct_json_string(out, ix->text + x->at, x->len);
    fputc('}', out);
}

static void logs(struct ct_view_lists *l, struct ct_vreq *q, struct ct_vanswer *a)
{
    struct ct_instances *ix = l->ix;
    const char *text = str_arg(q, "q", "");
    int64_t tid, task, t0, t1;
    struct page p;
    if (strlen(text) > 200 || number(q, "tid", 0, INT64_MAX, 0, &tid) < 0 ||
        number(q, "task", 0, INT64_MAX, 0, &task) < 0 ||
        number(q, "t0", INT64_MIN, INT64_MAX, INT64_MIN, &t0) < 0 ||
        number(q, "t1", INT64_MIN, INT64_MAX, INT64_MAX, &t1) < 0) {
        ct_vanswer_text(a, 400, "q is at most 200 bytes; tid, task, t0 and t1 are whole numbers\n");
        return;
    }
    if (!page_args(q, a, false, &p))
        return;
    struct ct_log_filter f = {text, (uint64_t)tid, 0, t0, t1};
    if (task) {
        long i = ct_inst_task(ix, (uint64_t)task);
        f.task = i >= 0 ? (uint32_t)i + 1 : UINT32_MAX; /* none matches an unknown task */
    }
    uint32_t *rows = malloc((size_t)(p.limit ? p.limit : 1) * sizeof *rows);
    size_t nrows, total;
    if (!rows || ct_inst_logs_page(ix, &f, p.desc, (size_t)p.offset, (size_t)p.limit, rows, &nrows,
                                   &total) != 0) {
        free(rows);
        ct_vanswer_text(a, 503, "out of memory\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (out) {
        fprintf(out, "{\"total\":%zu,\"matched\":%zu,\"offset\":%" PRId64 ",\"limit\":%" PRId64
                     ",\"order\":\"%s\",\"logs\":[",
                ix->nlogs, total, p.offset, p.limit, p.desc ? "desc" : "asc");
        for (size_t k = 0; k < nrows; k++) {
            if (k)
                fputc(',', out);
            log_row(out, ix, rows[k]);
        }
        fputs("]}", out);
        fclose(out);
    }
    free(rows);
}

/* ---- where tasks' time went ---- */

static size_t task_regions(const struct ct_instances *ix, size_t i)
{
    size_t n = 0, total = 0;
    return ct_inst_task_regions(ix, i, INT64_MIN, INT64_MAX, 0, 0, NULL, &n, &total) == 0 ? total
                                                                                           : 0;
}

static size_t task_logs(const struct ct_instances *ix, size_t i)
{
    struct ct_log_filter f = {"", 0, (uint32_t)i + 1, INT64_MIN, INT64_MAX};
    size_t n = 0, total = 0;
    return ct_inst_logs_page(ix, &f, false, 0, 0, NULL, &n, &total) == 0 ? total : 0;
}

static void task_time_row(FILE *out, struct ct_replay *r, const struct ct_instances *ix, size_t i,
                          size_t *budget)
{
    fprintf(out, "{\"id\":%" PRIu64 ",\"regions\":%zu,\"logs\":%zu", ix->task_id[i],
            task_regions(ix, i), task_logs(ix, i));
    uint64_t tids[64];
    size_t n = ct_inst_task_threads(ix, i, tids, 64);
    struct ct_task_time t;
    int rc = ct_inst_begin(&ix->tasks, i) == INT64_MIN || n > 64
                 ? 1
                 : ct_task_time(r, ix->task_id[i], ct_inst_begin(&ix->tasks, i), ct_inst_end(ix, &ix->tasks, i),
                                tids, n, budget, &t);
    if (rc != 0) {
        fprintf(out, ",\"time\":null,\"why\":\"%s\"}",
                rc < 0 ? "the trace cannot be read again" : "too long to read again here");
        return;
    }
    fputs(",\"time\":{", out);
    for (int c = 0; c < CT_COL_COUNT; c++)
        fprintf(out, "%s\"%s_ns\":%" PRIu64, c ? "," : "", ct_column_name(c), t.ns[c]);
    fputs(",\"sync_by_primitive_ns\":{", out);
    bool any = false;
    for (unsigned k = 1; k < CT_SYNC_REASONS; k++)
        if (t.sync_ns[k]) {
            fprintf(out, "%s\"%s\":%" PRIu64, any ? "," : "", ct_reason_name(k), t.sync_ns[k]);
            any = true;
        }
    fputs("}}}", out);
}

struct by_begin {
    int64_t begin;
    size_t i;
};

static int begin_order(const void *a, const void *b)
{
    const struct by_begin *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static void task_times(struct ct_view_lists *l, struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *ids = ct_vreq_arg(q, "ids");
    uint64_t list[MAX_PAGE];
    size_t n = 0;
    for (const char *p = ids; p && *p && n < MAX_PAGE;) {
        char *end;
        errno = 0;
        unsigned long long id = strtoull(p, &end, 10);
        if (end == p || errno || (*end && *end != ',')) {
            n = 0;
            ids = NULL;
            break;
        }
        list[n++] = id;
        p = *end ? end + 1 : end;
    }
    if (!ids || !n) {
        ct_vanswer_text(a, 400, "ids: task ids, separated by commas (at most %d)\n", MAX_PAGE);
        return;
    }
    struct ct_replay r;
    if (ct_replay_open(&r, l->tl) != 0) {
        ct_vanswer_text(a, 500, "the trace cannot be read again\n");
        return;
    }
    /* In the order of their begins: the generations read again for one
     * are there for the next (the answer is in that order). */
    struct by_begin found[MAX_PAGE];
    size_t nfound = 0;
    for (size_t k = 0; k < n; k++) {
        long i = ct_inst_task(l->ix, list[k]);
        if (i >= 0)
            found[nfound++] = (struct by_begin){ct_inst_begin(&l->ix->tasks, (size_t)i), (size_t)i};
    }
    qsort(found, nfound, sizeof *found, begin_order);
    FILE *out = ct_vanswer_json(a);
    size_t budget = TIME_BUDGET;
    if (out) {
        fputc('[', out);
        for (size_t k = 0; k < nfound && !ct_vreq_cancelled(q); k++) {
            fputs(k ? "," : "", out);
            task_time_row(out, &r, l->ix, found[k].i, &budget);
        }
        fputc(']', out);
        fclose(out);
    }
    ct_replay_close(&r);
}

/* ---- a task's focus ---- */

static void focus(struct ct_view_lists *l, struct ct_vreq *q, struct ct_vanswer *a)
{
    struct ct_instances *ix = l->ix;
    int64_t id, t0, t1, limit;
    if (number(q, "id", 1, INT64_MAX, 0, &id) != 1 ||
        number(q, "t0", INT64_MIN, INT64_MAX, INT64_MIN, &t0) < 0 ||
        number(q, "t1", INT64_MIN, INT64_MAX, INT64_MAX, &t1) < 0 ||
        number(q, "limit", 0, MAX_FOCUS, 2000, &limit) < 0) {
        ct_vanswer_text(a, 400, "id (a task id) is required; t0, t1 and limit (to %d) are whole "
                                "numbers\n", MAX_FOCUS);
        return;
    }
    long i = ct_inst_task(ix, (uint64_t)id);
    if (i < 0) {
        ct_vanswer_text(a, 404, "no such task\n");
        return;
    }
    const struct ct_inst_set *s = &ix->tasks;
    uint32_t *rows = malloc((size_t)(limit ? limit : 1) * sizeof *rows);
    size_t nrows = 0, total = 0;
    FILE *out = rows ? ct_vanswer_json(a) : NULL;
    if (!out) {
        free(rows);
        ct_vanswer_text(a, 503, "out of memory\n");
        return;
    }
    size_t type = 0;
    while (type < s->ntypes && s->at[type + 1] <= (size_t)i)
        type++;
    fprintf(out, "{\"id\":%" PRIu64 ",\"parent\":%" PRIu64 ",\"type\":", ix->task_id[i],
            s->task[i] ? ix->task_id[s->task[i] - 1] : 0);
    json_str(out, type < s->ntypes ? ix->ann.tasks[type].name : "");
    bool begun = ct_inst_begin(s, i) != INT64_MIN;
    fprintf(out, ",\"begun\":%s,\"begin\":%" PRId64 ",\"end\":%" PRId64,
            begun ? "true" : "false", begun ? ct_inst_begin(s, i) : 0,
            begun ? ct_inst_end(ix, s, (size_t)i) : 0);
    if (s->dur[i] == CT_INST_OPEN)
        fputs(",\"open\":true", out);
    uint64_t tids[256];
    size_t n = ct_inst_task_threads(ix, (size_t)i, tids, 256);
    fputs(",\"threads\":[", out);
    for (size_t k = 0; k < n && k < 256; k++)
        fprintf(out, "%s%" PRIu64, k ? "," : "", tids[k]);
    fputs("],\"regions\":{\"rows\":[", out);
    if (ct_inst_task_regions(ix, (size_t)i, t0, t1, 0, (size_t)limit, rows, &nrows, &total) != 0)
        nrows = total = 0;
    const struct ct_inst_set *r = &ix->regions;
    for (size_t k = 0; k < nrows; k++) {
        size_t g = rows[k], t = 0;
        while (t + 1 < r->ntypes && r->at[t + 1] <= g)
            t++;
        fprintf(out, "%s{\"tid\":%" PRIu64 ",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"type\":",
                k ? "," : "", ct_inst_tid(ix, r, g), ct_inst_begin(r, g), ct_inst_end(ix, r, g));
        json_str(out, ix->ann.regions[t].name);
        fputs(r->dur[g] == CT_INST_OPEN ? ",\"open\":true}" : "}", out);
    }
    fprintf(out, "],\"total\":%zu},\"logs\":{\"rows\":[", total);
    struct ct_log_filter f = {"", 0, (uint32_t)i + 1, t0, t1};
    if (ct_inst_logs_page(ix, &f, false, 0, (size_t)limit, rows, &nrows, &total) != 0)
        nrows = total = 0;
    for (size_t k = 0; k < nrows; k++) {
        fputs(k ? "," : "", out);
        log_row(out, ix, rows[k]);
    }
    fprintf(out, "],\"total\":%zu}}", total);
    fclose(out);
    free(rows);
}

bool ct_view_lists_answer(struct ct_view_lists *l, struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *url = ct_vreq_url(q);
    if (strcmp(url, "/api/tasks") == 0)
        send_types(a, l->tasks_json, l->tasks_len);
    else if (strcmp(url, "/api/regions") == 0)
        send_types(a, l->regions_json, l->regions_len);
    else if (strcmp(url, "/api/tasklist") == 0)
        list(l, q, a, false);
    else if (strcmp(url, "/api/regionlist") == 0)
        list(l, q, a, true);
    else if (strcmp(url, "/api/logs") == 0)
        logs(l, q, a);
    else if (strcmp(url, "/api/tasktime") == 0)
        task_times(l, q, a);
    else if (strcmp(url, "/api/focus") == 0)
        focus(l, q, a);
    else
        return false;
    return true;
}

uint64_t ct_view_lists_need(const struct ct_timeline *tl)
{
    uint64_t regions = 0;
    for (size_t i = 0; i < tl->nlanes; i++)
        regions += tl->lanes[i].nregions;
    return tl->ntasks * 67 + (regions + tl->nlog_events) * 30;
}

uint64_t ct_view_memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024;
}
