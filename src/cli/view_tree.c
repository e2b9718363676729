/*
 * view_tree.c - `ctrace view FILE FILE.*` and `ctrace view --tree FILE`:
 * a process tree in the browser. The same UI and the same API as one
 * trace's view (view.c), over every image of the tree (tree.h): each
 * image's timeline is built as one trace's is, and the answers join them
 * (timeline_tree.h).
 *
 *   over the tree      /api/summary (with "tree" and "processes"),
 *                      /api/timeline, /api/span, /api/threads (a pid and
 *                      an image on each row), /api/pprof (one profile,
 *                      each sample labelled with its pid), /api/search,
 *                      /api/logs_at, /api/utilization (the tree's threads
 *                      on the machine's CPUs)
 *   per process        /api/tasks, /api/regions, /api/tasklist,
 *                      /api/regionlist, /api/tasktime, /api/focus,
 *                      /api/logs and /api/task take proc=IMAGE (default 0,
 *                      the root): task ids and the lists are a process's;
 *                      each image's lists are indexed when first asked for
 *
 * Every file stays mapped and open, each mapping guarded against a file
 * cut under us (mapguard.h): an answer that read a file that changed is
 * an error naming it, as in view.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../analysis/instances.h"
#include "../analysis/pprof.h"
#include "../analysis/pprof_merge.h"
#include "../analysis/timeline_tree.h"
#include "../analysis/utilization.h"
#include "../compat/addr.h"
#include "../compat/mapguard.h"
#include "../compat/mhd.h"
#include "cli.h"
#include "tree_cmds.h"
#include "view_files.h"
#include "view_lists.h"
#include "view_server.h"
#include "view_tree.h"

#define MAX_HOSTS 16
#define HEAD_BYTES 4096
enum { IDLE, BUILDING, READY, FAILED, TOO_BIG };

/* One image's file as it was read, and its lists. */
struct image {
    int fd;
    off_t size;
    uint8_t head[HEAD_BYTES];
    size_t head_len;
    struct ct_instances ix;
    struct ct_view_lists lists;
    int lists_state;
    pthread_t lists_thread;
    atomic_uint_fast64_t done, total;
};

static struct {
    struct ct_tl_tree t;
    struct image *img;
    pthread_mutex_t windows, lists_lock, util_lock, pprof_lock;
    pthread_cond_t lists_built;
    char *summary_json, *threads_json;
    size_t summary_len, threads_len;
    char *pprof_data[4];
    size_t pprof_len[4];
    int pprof_state[4];
    struct ct_util util;
    int util_state;
    atomic_bool stopping;
    const char *hosts[MAX_HOSTS + 1];
} tv = {.windows = PTHREAD_MUTEX_INITIALIZER,
        .lists_lock = PTHREAD_MUTEX_INITIALIZER,
        .util_lock = PTHREAD_MUTEX_INITIALIZER,
        .pprof_lock = PTHREAD_MUTEX_INITIALIZER,
        .lists_built = PTHREAD_COND_INITIALIZER};

/* ---- the files under us ---- */

static void remember_files(void)
{
    for (size_t i = 0; i < tv.t.n; i++) {
        struct image *m = &tv.img[i];
        struct stat st;
        m->fd = open(tv.t.tree.images[i].path, O_RDONLY | O_CLOEXEC);
        if (m->fd < 0 || fstat(m->fd, &st) != 0)
            continue;
        m->size = st.st_size;
        ssize_t n = pread(m->fd, m->head, sizeof m->head, 0);
        m->head_len = n > 0 ? (size_t)n : 0;
    }
}

/* The first image whose file is no longer what was indexed, why in why. */
static const char *file_changed(char why[160])
{
    for (size_t i = 0; i < tv.t.n; i++) {
        struct image *m = &tv.img[i];
        const char *path = tv.t.tree.images[i].path;
        struct stat st;
        uint8_t now[HEAD_BYTES];
        if (tv.t.src[i].mapped && ct_mapguard_tripped_at(tv.t.src[i].data)) {
            snprintf(why, 160, "a read of it failed: it was cut short");
            return path;
        }
        if (m->fd < 0 || fstat(m->fd, &st) != 0)
            continue;
        if (st.st_size < m->size) {
            snprintf(why, 160, "it was cut from %lld to %lld bytes", (long long)m->size,
                     (long long)st.st_size);
            return path;
        }
        if (pread(m->fd, now, m->head_len, 0) != (ssize_t)m->head_len ||
            memcmp(now, m->head, m->head_len) != 0) {
            snprintf(why, 160, "it was written again");
            return path;
        }
    }
    return NULL;
}

static bool refuse_changed(struct ct_vanswer *a)
{
    char why[160];
    const char *path = file_changed(why);
    if (!path)
        return false;
    if (!a->keep)
        free(a->body);
    ct_vanswer_text(a, 410, "%s changed on disk since ctrace view read it (%s): run ctrace view "
                            "again\n", path, why);
    return true;
}

/* ---- parameters ---- */

/* proc=IMAGE: an image of the tree (0 when absent); false when bad. */
static bool image_arg(struct ct_vreq *q, struct ct_vanswer *a, size_t *image)
{
    int64_t i = 0;
    if (ct_vreq_number(q, "proc", 0, (int64_t)tv.t.n - 1, &i) < 0) {
        ct_vanswer_text(a, 400, "proc is an image of the tree: 0 to %zu\n", tv.t.n - 1);
        return false;
    }
    *image = (size_t)i;
    return true;
}

/* ---- the lists, one image's at a time ---- */

static bool lists_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct image *m = ctx;
    atomic_store(&m->done, done);
    atomic_store(&m->total, total);
    return !atomic_load(&tv.stopping);
}

static void *build_lists(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    struct image *m = &tv.img[i];
    struct ct_reader rd;
    bool ok = false;
    if (ct_tree_open(&tv.t.tree, i, &rd) == 0) {
        ok = ct_instances_build(&rd, &m->ix, lists_progress, m) == 0;
        if (ok && m->ix.end < tv.t.tl[i].end)
            m->ix.end = tv.t.tl[i].end;
        m->lists.ix = &m->ix;
        m->lists.tl = &tv.t.tl[i];
        ok = ok && ct_view_lists_ready(&m->lists) == 0;
        if (!ok && !atomic_load(&tv.stopping))
            fprintf(stderr, "ctrace view: tasks, regions and logs of %s: %s\n",
                    tv.t.tree.images[i].path, rd.error[0] ? rd.error : "out of memory");
        ct_rd_close(&rd);
    } else {
        fprintf(stderr, "ctrace view: %s\n", rd.error);
    }
    malloc_trim(0);
    pthread_mutex_lock(&tv.lists_lock);
    m->lists_state = ok ? READY : FAILED;
    pthread_cond_broadcast(&tv.lists_built);
    pthread_mutex_unlock(&tv.lists_lock);
    return NULL;
}

/* Starts image i's lists (the first time; refused when they would take
 * more than half the memory available) and waits half a second for them:
 * true once ready; else the answer says how far they are. */
static bool lists_ready(size_t i, struct ct_vanswer *a)
{
    struct image *m = &tv.img[i];
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 500000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&tv.lists_lock);
    uint64_t available = m->lists_state == IDLE ? ct_view_memory_available() : 0;
    if (m->lists_state == IDLE && available && ct_view_lists_need(&tv.t.tl[i]) > available / 2)
        m->lists_state = TOO_BIG;
    if (m->lists_state == IDLE)
        m->lists_state = pthread_create(&m->lists_thread, NULL, build_lists,
                                        (void *)(uintptr_t)i) == 0 ? BUILDING : FAILED;
    while (m->lists_state == BUILDING &&
           pthread_cond_timedwait(&tv.lists_built, &tv.lists_lock, &until) == 0)
        ;
    int state = m->lists_state;
    pthread_mutex_unlock(&tv.lists_lock);
    if (state == READY)
        return true;
    if (state == FAILED) {
        ct_vanswer_text(a, 500, "cannot index the tasks, regions and logs of %s\n",
                        tv.t.tree.images[i].path);
        return false;
    }
    if (state == TOO_BIG) {
        ct_vanswer_text(a, 507, "the lists of %s's tasks, regions and logs would take about "
                                "%.1f GB to index, more than half of the memory available\n",
                        tv.t.tree.images[i].path,
                        (double)ct_view_lists_need(&tv.t.tl[i]) / 1e9);
        return false;
    }
    uint64_t done = atomic_load(&m->done), total = atomic_load(&m->total);
    FILE *out = ct_vanswer_json(a);
    if (out) {
        fprintf(out, "{\"pending\":true,\"progress\":%.3f}", total ? (double)done / total : 0.0);
        fclose(out);
    }
    a->status = 202;
    a->retry_after = 1;
    return false;
}

static bool is_list(const char *url)
{
    static const char *lists[] = {"/api/tasks",      "/api/regions", "/api/tasklist",
                                  "/api/regionlist", "/api/logs",    "/api/tasktime",
                                  "/api/focus"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (strcmp(url, lists[i]) == 0)
            return true;
    return false;
}

/* ---- the timeline's answers (under the windows' lock) ---- */

static void timeline(struct ct_vreq *q, struct ct_vanswer *a)
{
    int64_t t0, t1, px, span = tv.t.end - tv.t.begin + 1;
    if (ct_vreq_number(q, "t0", INT64_MIN / 4, INT64_MAX / 4, &t0) != 1 ||
        ct_vreq_number(q, "t1", INT64_MIN / 4, INT64_MAX / 4, &t1) != 1 ||
        ct_vreq_number(q, "px", 1, 20000, &px) != 1) {
        ct_vanswer_text(a, 400, "t0, t1 (ns) and px (1 to 20000) are required whole numbers\n");
        return;
    }
    if (t1 <= t0 || t1 <= tv.t.begin - span || t0 >= tv.t.end + span) {
        ct_vanswer_text(a, 400, "the range is empty or outside the trace\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (out) {
        ct_tl_tree_query_json(&tv.t, t0, t1, (unsigned)px, out);
        fclose(out);
    }
}

static void span_details(struct ct_vreq *q, struct ct_vanswer *a)
{
    int64_t key, t;
    uint64_t tid;
    if (ct_vreq_number(q, "tid", 0, INT64_MAX, &key) != 1 ||
        ct_vreq_number(q, "t", INT64_MIN / 4, INT64_MAX / 4, &t) != 1) {
        ct_vanswer_text(a, 400, "tid and t are required whole numbers\n");
        return;
    }
    int i = ct_tl_tree_find(&tv.t, (uint64_t)key, &tid);
    FILE *out = i >= 0 ? ct_vanswer_json(a) : NULL;
    if (i < 0 || !out) {
        ct_vanswer_text(a, 404, "no such span\n");
        return;
    }
    int rc = ct_timeline_span_json(&tv.t.tl[i], tid, t, out);
    fclose(out);
    if (rc != 0) {
        free(a->body);
        ct_vanswer_text(a, 404, "no such span\n");
    }
}

static void task_details(struct ct_vreq *q, struct ct_vanswer *a)
{
    int64_t id, t;
    size_t i;
    if (ct_vreq_number(q, "id", 0, INT64_MAX, &id) != 1 ||
        ct_vreq_number(q, "t", INT64_MIN / 4, INT64_MAX / 4, &t) != 1) {
        ct_vanswer_text(a, 400, "id and t are required whole numbers\n");
        return;
    }
    if (!image_arg(q, a, &i))
        return;
    FILE *out = ct_vanswer_json(a);
    if (!out)
        return;
    int rc = ct_timeline_task_json(&tv.t.tl[i], (uint64_t)id, t, out);
    fclose(out);
    if (rc != 0) {
        free(a->body);
        ct_vanswer_text(a, 404, "no such task\n");
    }
}

/* Copies the inside of the array that follows `open` in an answer held
 * in buf up to the last `close`, a comma first unless *first. */
static void splice_array(FILE *out, const char *buf, const char *open, const char *close, bool *first)
{
    const char *b = buf ? strstr(buf, open) : NULL, *e = NULL;
    if (!b)
        return;
    b += strlen(open);
    for (const char *p = strstr(b, close); p; p = strstr(p + 1, close))
        e = p;
    if (!e || e == b)
        return;
    fprintf(out, "%s%.*s", *first ? "" : ",", (int)(e - b), b);
    *first = false;
}

/* The logs of a thread (tid: a lane's key), or of every thread (0), in a
 * range: each image's, one after another. */
static void logs_at(struct ct_vreq *q, struct ct_vanswer *a)
{
    int64_t key = 0, t0, t1;
    if (ct_vreq_number(q, "tid", 0, INT64_MAX, &key) < 0 ||
        ct_vreq_number(q, "t0", INT64_MIN / 4, INT64_MAX / 4, &t0) != 1 ||
        ct_vreq_number(q, "t1", INT64_MIN / 4, INT64_MAX / 4, &t1) != 1 || t1 <= t0) {
        ct_vanswer_text(a, 400, "t0 < t1 (ns) are required, tid a whole number\n");
        return;
    }
    uint64_t tid = 0;
    int only = key ? ct_tl_tree_find(&tv.t, (uint64_t)key, &tid) : -1;
    FILE *out = ct_vanswer_json(a);
    if (!out)
        return;
    fputs("{\"logs\":[", out);
    bool first = true;
    unsigned long long matched = 0;
    for (size_t i = 0; i < tv.t.n; i++) {
        if (key && (int)i != only)
            continue;
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem)
            continue;
        int rc = ct_timeline_logs_at_json(&tv.t.tl[i], tid, t0, t1, 200, mem);
        fclose(mem);
        const char *m = buf ? strstr(buf, "],\"matched\":") : NULL;
        if (rc == 0 && m) {
            matched += strtoull(m + 12, NULL, 10);
            splice_array(out, buf, "{\"logs\":[", "],\"matched\":", &first);
        }
        free(buf);
    }
    fprintf(out, "],\"matched\":%llu}", matched);
    fclose(out);
}

static bool windows(struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *url = ct_vreq_url(q);
    void (*answer)(struct ct_vreq *, struct ct_vanswer *) =
        strcmp(url, "/api/timeline") == 0  ? timeline
        : strcmp(url, "/api/span") == 0    ? span_details
        : strcmp(url, "/api/task") == 0    ? task_details
        : strcmp(url, "/api/logs_at") == 0 ? logs_at
                                           : NULL;
    if (!answer)
        return false;
    pthread_mutex_lock(&tv.windows);
    if (ct_vreq_cancelled(q))
        ct_vanswer_text(a, 503, "cancelled: the client has gone\n");
    else
        answer(q, a);
    pthread_mutex_unlock(&tv.windows);
    return true;
}

/* ---- over the tree, reading the files ---- */

/* The objects of a JSON array's inside (body, len): where each begins and
 * ends, strings skipped. Returns how many, up to cap. */
static size_t objects(const char *body, size_t len, const char **at, size_t *size, size_t cap)
{
    size_t n = 0;
    int depth = 0;
    bool in_string = false, escaped = false;
    const char *begin = NULL;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (depth++ == 0)
                begin = body + i;
        } else if ((c == '}' || c == ']') && --depth == 0 && n < cap) {
            at[n] = begin;
            size[n++] = (size_t)(body + i + 1 - begin);
        }
    }
    return n;
}

struct found {
    int64_t t;
    const char *at;
    size_t size;
};

static int found_by_time(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* Regions, tasks and logs matching q from `after` on, in time order over
 * the tree: each image's first `limit`, merged, the first `limit` of them
 * kept. Where the answer stops: its last result, or where the images not
 * searched to their end stopped (the earliest), so that the next page
 * (after its last) misses none. */
static void search(struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *text = ct_vreq_arg(q, "q");
    int64_t after = tv.t.begin, limit = 50;
    if (!text || ct_vreq_number(q, "after", INT64_MIN / 4, INT64_MAX / 4, &after) < 0 ||
        ct_vreq_number(q, "limit", 1, 1000, &limit) < 0) {
        ct_vanswer_text(a, 400, "q is required; after (ns) and limit (1 to 1000) are numbers\n");
        return;
    }
    char **bufs = calloc(tv.t.n, sizeof *bufs);
    size_t cap = tv.t.n * (size_t)limit, n = 0;
    struct found *found = calloc(cap ? cap : 1, sizeof *found);
    const char **at = calloc((size_t)limit, sizeof *at);
    size_t *size = calloc((size_t)limit, sizeof *size);
    bool done = true;
    int64_t looked_to = tv.t.end;
    for (size_t i = 0; bufs && found && at && size && i < tv.t.n; i++) {
        size_t len = 0;
        FILE *mem = open_memstream(&bufs[i], &len);
        if (!mem)
            continue;
        int rc = ct_timeline_search_json(&tv.t.tl[i], text, after, (size_t)limit, mem);
        fclose(mem);
        const char *body = bufs[i] ? strstr(bufs[i], "\"results\":[") : NULL;
        const char *lt = bufs[i] ? strstr(bufs[i], "],\"looked_to\":") : NULL;
        if (rc != 0 || !body || !lt)
            continue;
        body += 11;
        if (!strstr(lt, "\"done\":true")) {
            long long to = strtoll(lt + 14, NULL, 10);
            looked_to = to < looked_to ? to : looked_to;
            done = false;
        }
        size_t k = objects(body, (size_t)(lt + 1 - body), at, size, (size_t)limit);
        for (size_t j = 0; j < k && n < cap; j++) {
            const char *t = strstr(at[j], "\"t\":");
            found[n++] = (struct found){t ? strtoll(t + 4, NULL, 10) : 0, at[j], size[j]};
        }
    }
    qsort(found, n, sizeof *found, found_by_time);
    /* An image not searched to its end may hold more before what the
     * others found later: those wait for the next page. */
    while (!done && n && found[n - 1].t >= looked_to)
        n--;
    FILE *out = ct_vanswer_json(a);
    if (out) {
        size_t shown = n < (size_t)limit ? n : (size_t)limit;
        fprintf(out, "{\"after\":%" PRId64 ",\"results\":[", after);
        for (size_t j = 0; j < shown; j++)
            fprintf(out, "%s%.*s", j ? "," : "", (int)found[j].size, found[j].at);
        if (n > shown) { /* cut: the next page starts after the last shown */
            done = false;
            looked_to = found[shown - 1].t;
        }
        fprintf(out, "],\"looked_to\":%" PRId64 ",\"done\":%s}", looked_to,
                done ? "true" : "false");
        fclose(out);
    }
    for (size_t i = 0; bufs && i < tv.t.n; i++)
        free(bufs[i]);
    free(bufs);
    free(found);
    free(at);
    free(size);
}

/* The tree's utilization: every image's threads on the machine's CPUs,
 * over the tree's time, in one set of bins. */
static int compute_util(void)
{
    struct ct_reader *rds = calloc(tv.t.n, sizeof *rds);
    size_t opened = 0;
    int rc = rds ? 0 : -1;
    for (; rc == 0 && opened < tv.t.n; opened++) {
        const struct ct_reader *src = &tv.t.tl[opened].src;
        if (!tv.t.tl[opened].src_open ||
            ct_rd_open_mem(&rds[opened], src->data, src->size, src->path) != 0) {
            rc = -1;
            break;
        }
        rds[opened].have_start = src->have_start;
        rds[opened].start_mono_ns = src->start_mono_ns;
    }
    if (rc == 0)
        rc = ct_util_compute_many(rds, tv.t.n, tv.t.begin, tv.t.end, &tv.util);
    for (size_t i = 0; i < opened; i++)
        ct_rd_close(&rds[i]);
    free(rds);
    return rc;
}

static void utilization(struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *mode = ct_vreq_arg(q, "mode");
    enum ct_util_mode m = CT_UTIL_MACHINE;
    if (mode && strcmp(mode, "demand") == 0) {
        m = CT_UTIL_DEMAND;
    } else if (mode && strcmp(mode, "machine") != 0) {
        ct_vanswer_text(a, 400, "mode must be machine or demand\n");
        return;
    }
    int64_t t0 = tv.t.begin, t1 = tv.t.end, px = 1000, width = 0;
    const int64_t lo = INT64_MIN / 4, hi = INT64_MAX / 4;
    if (ct_vreq_number(q, "t0", lo, hi, &t0) < 0 || ct_vreq_number(q, "t1", lo, hi, &t1) < 0 ||
        ct_vreq_number(q, "px", 1, 20000, &px) < 0 ||
        ct_vreq_number(q, "width", 0, hi, &width) < 0 || t1 <= t0) {
        ct_vanswer_text(a, 400, "t0 < t1 (ns), px (1 to 20000) and width (ns) are whole numbers\n");
        return;
    }
    pthread_mutex_lock(&tv.util_lock);
    if (tv.util_state == IDLE)
        tv.util_state = compute_util() == 0 ? READY : FAILED;
    int state = tv.util_state;
    pthread_mutex_unlock(&tv.util_lock);
    FILE *out = state == READY ? ct_vanswer_json(a) : NULL;
    if (!out) {
        ct_vanswer_text(a, 500, "cannot read the trace\n");
        return;
    }
    ct_util_json(&tv.util, m, t0, t1, (unsigned)px, width, out);
    fclose(out);
}

/* One profile of the tree: every image's, merged, each sample with its
 * pid. Made once per type, on the request that first asks (the tree's
 * profiles are small next to its timelines). */
static int make_profile(int k)
{
    struct ct_pprof_merge *m = ct_pprof_merge_new();
    int rc = m ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < tv.t.n; i++) {
        struct ct_reader rd;
        char *data = NULL;
        size_t len = 0;
        if (ct_tree_open(&tv.t.tree, i, &rd) != 0)
            rc = -1;
        FILE *mem = rc == 0 ? open_memstream(&data, &len) : NULL;
        if (rc == 0 && (!mem || ct_pprof_write(&rd, (enum ct_pprof_type)k, mem, NULL) != 0))
            rc = -1;
        if (mem)
            fclose(mem);
        if (rc == 0)
            rc = ct_pprof_merge_add(m, data, len, tv.t.tree.images[i].pid);
        free(data);
        ct_rd_close(&rd);
    }
    FILE *out = rc == 0 ? open_memstream(&tv.pprof_data[k], &tv.pprof_len[k]) : NULL;
    if (rc == 0 && (!out || ct_pprof_merge_write(m, out) != 0))
        rc = -1;
    if (out)
        fclose(out);
    if (m)
        ct_pprof_merge_free(m);
    malloc_trim(0);
    return rc;
}

static void pprof(struct ct_vreq *q, struct ct_vanswer *a)
{
    static const char *types[] = {"net", "sync", "syscall", "sched"};
    static const char *dispositions[] = {
        "attachment; filename=\"net.pb.gz\"", "attachment; filename=\"sync.pb.gz\"",
        "attachment; filename=\"syscall.pb.gz\"", "attachment; filename=\"sched.pb.gz\""};
    const char *type = ct_vreq_arg(q, "type");
    int k = -1;
    for (int i = 0; i < 4 && type; i++)
        if (strcmp(type, types[i]) == 0)
            k = i;
    if (k < 0) {
        ct_vanswer_text(a, 400, "type must be net, sync, syscall or sched\n");
        return;
    }
    pthread_mutex_lock(&tv.pprof_lock);
    if (tv.pprof_state[k] == IDLE)
        tv.pprof_state[k] = make_profile(k) == 0 ? READY : FAILED;
    int state = tv.pprof_state[k];
    pthread_mutex_unlock(&tv.pprof_lock);
    if (state != READY)
        ct_vanswer_text(a, 500, "cannot write the profile\n");
    else
        *a = (struct ct_vanswer){200, "application/octet-stream", tv.pprof_data[k],
                                 tv.pprof_len[k], true, dispositions[k], 0};
}

static void status(struct ct_vreq *q, struct ct_vanswer *a)
{
    static const char *states[] = {"idle", "building", "ready", "failed", "too big"};
    size_t i = 0;
    if (!image_arg(q, a, &i))
        return;
    struct ct_vserver_stats st;
    ct_vserver_stats(&st);
    pthread_mutex_lock(&tv.lists_lock);
    int lists = tv.img[i].lists_state;
    pthread_mutex_unlock(&tv.lists_lock);
    uint64_t done = atomic_load(&tv.img[i].done), total = atomic_load(&tv.img[i].total);
    FILE *out = ct_vanswer_json(a);
    if (!out)
        return;
    fprintf(out, "{\"lists\":\"%s\",\"lists_progress\":%.3f,\"answered\":%" PRIu64
                 ",\"cancelled\":%" PRIu64 ",\"workers\":%u,\"busy\":%u,\"images\":%zu}",
            states[lists], total ? (double)done / (double)total : 0.0, st.answered, st.cancelled,
            st.workers, st.busy, tv.t.n);
    fclose(out);
}

static bool quick(const char *url, struct ct_vanswer *a)
{
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    for (const struct ct_ui_file *f = ct_ui_files; f->path; f++)
        if (strcmp(url, f->path) == 0) {
            *a = (struct ct_vanswer){200, f->type, (char *)f->data, f->len, true, NULL, 0};
            return true;
        }
    if (strcmp(url, "/api/summary") == 0)
        *a = (struct ct_vanswer){.status = 200, .type = "application/json",
                                 .body = tv.summary_json, .len = tv.summary_len, .keep = true};
    else if (strcmp(url, "/api/threads") == 0)
        *a = (struct ct_vanswer){.status = 200, .type = "application/json",
                                 .body = tv.threads_json, .len = tv.threads_len, .keep = true};
    else if (strncmp(url, "/api/", 5) != 0)
        *a = (struct ct_vanswer){.status = 404, .type = "text/plain; charset=utf-8",
                                 .body = (char *)"not found\n", .len = 10, .keep = true};
    else
        return false;
    return true;
}

static void slow(struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *url = ct_vreq_url(q);
    size_t image;
    if (strcmp(url, "/api/status") == 0) {
        status(q, a);
        return;
    }
    if (refuse_changed(a))
        return;
    if (is_list(url)) {
        if (image_arg(q, a, &image) && lists_ready(image, a))
            ct_view_lists_answer(&tv.img[image].lists, q, a);
    } else if (strcmp(url, "/api/pprof") == 0) {
        pprof(q, a);
    } else if (strcmp(url, "/api/search") == 0) {
        search(q, a);
    } else if (strcmp(url, "/api/utilization") == 0) {
        utilization(q, a);
    } else if (!windows(q, a)) {
        ct_vanswer_text(a, 404, "not found\n");
    }
    refuse_changed(a);
}

/* ---- the command ---- */

/* The thread analysis of every image, each row with its pid and image. */
static int threads_json(void)
{
    FILE *out = open_memstream(&tv.threads_json, &tv.threads_len);
    if (!out)
        return -1;
    fputc('[', out);
    bool first = true;
    for (size_t i = 0; i < tv.t.n; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem)
            continue;
        ct_cli_threads_json(mem, &tv.t.tl[i].threads);
        fclose(mem);
        ct_cli_tree_thread_rows(out, buf, len, &tv.t.tree.images[i], (long)i, &first);
        free(buf);
    }
    fputc(']', out);
    fclose(out);
    return 0;
}

static int build(char **paths, size_t n, bool follow)
{
    char err[512];
    if (ct_tree_load(&tv.t.tree, paths, n, follow, err, sizeof err) != 0) {
        fprintf(stderr, "ctrace view: %s\n", err);
        return -1;
    }
    if (tv.t.tree.count > CT_TL_TREE_MAX) {
        fprintf(stderr,
                "ctrace view: %s: the tree has %zu process images; ctrace view shows at most %d "
                "at once (each keeps its file open and mapped): name at most %d of its files "
                "(FILE FILE.PID ...)\n",
                tv.t.tree.images[0].path, tv.t.tree.count, CT_TL_TREE_MAX, CT_TL_TREE_MAX);
        return -1;
    }
    if (ct_tl_tree_open(&tv.t, err, sizeof err) != 0) {
        fprintf(stderr, "ctrace view: %s\n", err);
        return -1;
    }
    tv.img = calloc(tv.t.n, sizeof *tv.img);
    if (!tv.img)
        return -1;
    for (size_t i = 0; i < tv.t.n; i++)
        if (tv.t.src[i].mapped)
            ct_mapguard_install(tv.t.src[i].data, tv.t.src[i].size);
    remember_files();
    bool damaged;
    int rc = ct_tl_tree_build(&tv.t, 0, &damaged, err, sizeof err);
    if (rc != 0 || damaged) /* a damaged image is shown up to the damage */
        fprintf(stderr, "ctrace view: %s\n", err);
    if (rc != 0 || (damaged && ct_cli_strict))
        return -1;
    FILE *out = open_memstream(&tv.summary_json, &tv.summary_len);
    if (!out)
        return -1;
    ct_tl_tree_summary_json(&tv.t, out);
    fclose(out);
    return threads_json();
}

static void open_browser(const char *url, const sigset_t *mask)
{
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY"))
        return;
    pid_t pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, mask, NULL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execlp("xdg-open", "xdg-open", url, (char *)NULL);
        _exit(127);
    }
}

/* The options and files of `ctrace view --tree`, or of several files;
 * paths holds the files. Returns -1 when they are fine, else the exit
 * status. */
static int parse_args(int argc, char **argv, char **paths, size_t *n, const char **addr,
                      bool *browser, bool *follow)
{
    size_t nhosts = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--addr=", 7) == 0)
            *addr = argv[i] + 7;
        else if (strncmp(argv[i], "--allow-host=", 13) == 0 && argv[i][13]) {
            if (nhosts == MAX_HOSTS)
                return ct_cli_usage_error(&ct_cmd_view, "at most %d --allow-host", MAX_HOSTS);
            tv.hosts[nhosts++] = argv[i] + 13;
        } else if (strcmp(argv[i], "--no-browser") == 0)
            *browser = false;
        else if (strcmp(argv[i], "--tree") == 0)
            *follow = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return ct_cli_usage_error(&ct_cmd_view, "unknown option '%s'", argv[i]);
        else
            paths[(*n)++] = argv[i];
    }
    if (*n == 0)
        return ct_cli_usage_error(&ct_cmd_view, "missing FILE");
    return -1;
}

int ct_view_tree_run(int argc, char **argv)
{
    const char *addr = "127.0.0.1:0";
    bool browser = true, follow = false;
    size_t n = 0;
    char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths)
        return CT_EXIT_BAD_INPUT;
    int status = parse_args(argc, argv, paths, &n, &addr, &browser, &follow);
    struct sockaddr_in sa;
    if (status < 0 && !ct_parse_addr(addr, &sa))
        status = ct_cli_usage_error(&ct_cmd_view,
                                    "--addr=%s: expected HOST:PORT, as 127.0.0.1:8080", addr);
    if (status < 0) {
        const char *why = ct_mhd_load();
        if (why) {
            fprintf(stderr, "ctrace view: %s\n", why);
            status = CT_EXIT_BAD_INPUT;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (status < 0 && build(paths, n, follow) != 0)
        status = CT_EXIT_BAD_INPUT;
    free(paths);
    if (status >= 0)
        return status;
    size_t lanes = 0;
    uint64_t events = 0;
    for (size_t i = 0; i < tv.t.n; i++) {
        if (i == 0) /* the first window's memory, once: each image's would add up */
            ct_timeline_warm(&tv.t.tl[i]);
        lanes += tv.t.tl[i].nlanes;
        events += tv.t.tl[i].events;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sigset_t stops, before;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stops, &before);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);
    int fd = ct_vserver_listen(&sa, addr);
    if (fd < 0)
        return CT_EXIT_BAD_INPUT;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct ct_vserver_config config = {fd, sa.sin_addr.s_addr, tv.hosts, quick, slow,
                                       (unsigned)(cores > 0 && cores < 8 ? 8 : 16)};
    if (ct_vserver_start(&config) != 0)
        return CT_EXIT_BAD_INPUT;
    char host[INET_ADDRSTRLEN], url[128];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(url, sizeof url, "http://%s:%d/", host, ntohs(sa.sin_port));
    printf("ctrace view: %s (%zu processes, %zu threads, %" PRIu64
           " events, indexed in %.2f s); Ctrl-C stops\n",
           url, tv.t.n, lanes, events,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
    if (browser)
        open_browser(url, &before);
    int sig;
    while (sigwait(&stops, &sig) != 0)
        ;
    /* As view.c: stop at once; lists still being made are left to the
     * exit. */
    atomic_store(&tv.stopping, true);
    ct_vserver_stop();
    fflush(stdout);
    fflush(stderr);
    _exit(CT_EXIT_OK);
}
