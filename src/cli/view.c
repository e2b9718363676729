/*
 * view.c - `ctrace view [--addr=HOST:PORT] [--allow-host=NAME] [--no-browser]
 * FILE`: the trace in the browser. The trace is indexed once (the timeline,
 * src/analysis/timeline*.c: one streamed pass split by thread between the
 * cores, which also gives the thread analysis), then served (view_server.h:
 * one thread watches the connections, workers answer) while every task,
 * region and log is indexed on a thread of its own (instances.h) for the
 * lists. The UI's files are embedded in this binary (ui/, through
 * scripts/embed.py). JSON:
 *
 *   /api/summary                     threads, CPUs, counters, the time range
 *   /api/timeline?t0=&t1=&px=        what [t0, t1) shows at px pixels
 *   /api/span?tid=&t=                the span of a thread at t: reason, stack,
 *                                    region, waker
 *   /api/task?id=&t=                 a task under way at t
 *   /api/threads                     the thread analysis (ctrace threads)
 *   /api/tasks, /api/regions         by type, with exact histograms
 *   /api/tasklist?type=&min=&max=&open=&sort=&order=&offset=&limit=
 *   /api/regionlist?(the same)       a page of a type's instances
 *   /api/tasktime?ids=               where those tasks' time went
 *   /api/focus?id=&t0=&t1=           a task's threads, regions and logs
 *   /api/logs?q=&tid=&task=&t0=&t1=&order=&offset=&limit=   a page of logs
 *   /api/pprof?type=net|sync|syscall|sched   the gzipped pprof profile
 *   /api/status                      the lists' indexing, the server's counts
 *   /api/search, /api/logs_at, /api/utilization   view_api.c
 *
 * Only GET and HEAD; an unknown path is 404, a bad parameter 400, a list
 * asked for before its index is built 202 with the progress; no file
 * outside the embedded ones is ever read.
 *
 * What is shared between the workers: the timeline index is read by every
 * request, but its windows (the batches around a range read again, kept
 * for the next request) live in it: the requests that use them (timeline,
 * span, task) take `windows` one at a time, and each is bounded (a window
 * reads at most CT_TL_WINDOW_BUDGET batches). The instance index is read
 * only once built; the pprof files are made once each, under a lock of
 * their own; everything else is made before serving.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "../analysis/instances.h"
#include "../analysis/pprof.h"
#include "../analysis/threads.h"
#include "../analysis/timeline.h"
#include "../compat/addr.h"
#include "../compat/mapguard.h"
#include "../compat/mhd.h"
#include "cli.h"
#include "view_api.h"
#include "view_files.h"
#include "view_lists.h"
#include "view_server.h"
#include "view_tree.h"
#include "tree_cmds.h"

#define MAX_HOSTS 16
/* What is made after the URL is printed: the lists, the profiles. */
enum { LISTS_IDLE, LISTS_BUILDING, LISTS_READY, LISTS_FAILED, LISTS_TOO_BIG };
/* The file's first bytes, kept to see that it was not written again. */
#define HEAD_BYTES 4096

static struct {
    const char *path;
    struct ct_reader rd;
    struct ct_timeline tl;
    pthread_mutex_t windows;
    char *summary_json, *threads_json;
    size_t summary_len, threads_len;
    struct {
        pthread_mutex_t lock;
        pthread_cond_t made;
        char *data;
        size_t len;
        int state; /* as lists_state */
    } pprof[4];
    /* The file as it was read: a shrink or a rewrite makes every answer an
     * error (the index no longer describes it). */
    int fd;
    off_t size;
    uint8_t head[HEAD_BYTES];
    size_t head_len;
    /* The instance index: built on a thread of its own. */
    struct ct_instances ix;
    struct ct_view_lists lists;
    pthread_mutex_t lists_lock;
    pthread_cond_t lists_built;
    int lists_state;
    pthread_t lists_thread;
    bool lists_started; /* lists_thread is to be joined */
    atomic_uint_fast64_t lists_done, lists_total;
    atomic_bool stopping;
    const char *hosts[MAX_HOSTS + 1];
} v = {.windows = PTHREAD_MUTEX_INITIALIZER,
       .lists_lock = PTHREAD_MUTEX_INITIALIZER,
       .lists_built = PTHREAD_COND_INITIALIZER,
       .pprof = {{PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER},
                 {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER},
                 {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER},
                 {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER}},
       .fd = -1};

/* ---- the progress bar while indexing ---- */

static bool show_progress;

static void progress(uint64_t done, uint64_t total)
{
    if (!show_progress || total == 0)
        return;
    int width = 40, filled = (int)(done * (uint64_t)width / total);
    fprintf(stderr, "\rindexing %s [%.*s%*s] %3d%%", v.path, filled,
            "########################################", width - filled, "",
            (int)(done * 100 / total));
    if (done >= total)
        fputc('\n', stderr);
}

/* ---- the file under us ---- */

static void remember_file(void)
{
    v.fd = open(v.path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (v.fd < 0 || fstat(v.fd, &st) != 0)
        return;
    v.size = st.st_size;
    ssize_t n = pread(v.fd, v.head, sizeof v.head, 0);
    v.head_len = n > 0 ? (size_t)n : 0;
}

/* Why the file no longer is what was indexed, or NULL. */
static const char *file_changed(char why[160])
{
    if (ct_mapguard_tripped()) {
        snprintf(why, 160, "a read of it failed: it was cut short");
        return why;
    }
    struct stat st;
    uint8_t now[HEAD_BYTES];
    if (v.fd < 0 || fstat(v.fd, &st) != 0)
        return NULL;
    if (st.st_size < v.size) {
        snprintf(why, 160, "it was cut from %lld to %lld bytes", (long long)v.size,
                 (long long)st.st_size);
        return why;
    }
    if (pread(v.fd, now, v.head_len, 0) != (ssize_t)v.head_len ||
        memcmp(now, v.head, v.head_len) != 0) {
        snprintf(why, 160, "it was written again");
        return why;
    }
    return NULL;
}

static bool refuse_changed(struct ct_vanswer *a)
{
    char why[160];
    if (!file_changed(why))
        return false;
    if (!a->keep)
        free(a->body);
    ct_vanswer_text(a, 410, "%s changed on disk since ctrace view read it (%s): run ctrace view "
                            "again\n", v.path, why);
    return true;
}

/* ---- the instance index ---- */

static bool lists_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    atomic_store(&v.lists_done, done);
    atomic_store(&v.lists_total, total);
    return !atomic_load(&v.stopping);
}

static void *build_lists(void *arg)
{
    (void)arg;
    struct ct_reader rd;
    bool ok = false;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ct_rd_open(&rd, v.path) == 0) {
        ok = ct_instances_build(&rd, &v.ix, lists_progress, NULL) == 0;
        if (ok && v.ix.end < v.tl.end)
            v.ix.end = v.tl.end;
        v.lists.ix = &v.ix;
        v.lists.tl = &v.tl;
        ok = ok && ct_view_lists_ready(&v.lists) == 0;
        if (!ok && !atomic_load(&v.stopping))
            fprintf(stderr, "ctrace view: tasks, regions and logs: %s\n",
                    rd.error[0] ? rd.error : "out of memory");
        ct_rd_close(&rd);
    } else {
        fprintf(stderr, "ctrace view: %s\n", rd.error);
    }
    malloc_trim(0); /* what gathering took goes back to the system */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ok && show_progress)
        fprintf(stderr, "ctrace view: %zu tasks, %zu regions, %zu logs indexed in %.2f s\n",
                v.ix.tasks.at[v.ix.tasks.ntypes], v.ix.regions.n, v.ix.nlogs,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    pthread_mutex_lock(&v.lists_lock);
    v.lists_state = ok ? LISTS_READY : LISTS_FAILED;
    pthread_cond_broadcast(&v.lists_built);
    pthread_mutex_unlock(&v.lists_lock);
    return NULL;
}

/* Built at once when that takes a small part of the machine's memory,
 * else when a list is first asked for (and then refused when it would
 * take more than half of what is available). */
static bool lists_fit(void)
{
    struct sysinfo si;
    return sysinfo(&si) != 0 ||
           ct_view_lists_need(&v.tl) < (uint64_t)si.totalram * si.mem_unit / 8;
}

/* Starts the build (the first time); the state. */
static int start_lists(void)
{
    pthread_mutex_lock(&v.lists_lock);
    uint64_t available = v.lists_state == LISTS_IDLE ? ct_view_memory_available() : 0;
    if (v.lists_state == LISTS_IDLE && available && ct_view_lists_need(&v.tl) > available / 2) {
        v.lists_state = LISTS_TOO_BIG;
    } else if (v.lists_state == LISTS_IDLE) {
        v.lists_state = LISTS_BUILDING;
        if (pthread_create(&v.lists_thread, NULL, build_lists, NULL) != 0)
            v.lists_state = LISTS_FAILED;
        else
            v.lists_started = true;
    }
    int state = v.lists_state;
    pthread_mutex_unlock(&v.lists_lock);
    return state;
}

/* Waits a little for the index: true once it is ready; else an answer
 * saying how far it is. */
static bool lists_ready(struct ct_vanswer *a)
{
    int state = start_lists();
    if (state == LISTS_BUILDING) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 500000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&v.lists_lock);
        while (v.lists_state == LISTS_BUILDING &&
               pthread_cond_timedwait(&v.lists_built, &v.lists_lock, &until) == 0)
            ;
        state = v.lists_state;
        pthread_mutex_unlock(&v.lists_lock);
    }
    if (state == LISTS_READY)
        return true;
    if (state == LISTS_FAILED) {
        ct_vanswer_text(a, 500, "cannot index the tasks, regions and logs of the trace\n");
        return false;
    }
    if (state == LISTS_TOO_BIG) {
        ct_vanswer_text(a, 507, "the lists of this trace's tasks, regions and logs would take "
                                "about %.1f GB to index, more than half of the memory available\n",
                        (double)ct_view_lists_need(&v.tl) / 1e9);
        return false;
    }
    uint64_t done = atomic_load(&v.lists_done), total = atomic_load(&v.lists_total);
    FILE *out = ct_vanswer_json(a);
    if (out) {
        fprintf(out, "{\"pending\":true,\"progress\":%.3f}", total ? (double)done / total : 0.0);
        fclose(out);
    }
    a->status = 202;
    a->retry_after = 1;
    return false;
}

/* ---- answers ---- */

static void timeline(struct ct_vreq *q, struct ct_vanswer *a)
{
    int64_t t0, t1, px;
    int64_t span = v.tl.end - v.tl.begin + 1;
    if (ct_vreq_number(q, "t0", INT64_MIN / 4, INT64_MAX / 4, &t0) != 1 ||
        ct_vreq_number(q, "t1", INT64_MIN / 4, INT64_MAX / 4, &t1) != 1 ||
        ct_vreq_number(q, "px", 1, 20000, &px) != 1) {
        ct_vanswer_text(a, 400, "t0, t1 (ns) and px (1 to 20000) are required whole numbers\n");
        return;
    }
    if (t1 <= t0 || t1 <= v.tl.begin - span || t0 >= v.tl.end + span) {
        ct_vanswer_text(a, 400, "the range is empty or outside the trace\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (out) {
        ct_timeline_query_json(&v.tl, t0, t1, (unsigned)px, out);
        fclose(out);
    }
}

static void task_details(struct ct_vreq *q, struct ct_vanswer *a)
{
    int64_t id, t;
    if (ct_vreq_number(q, "id", 0, INT64_MAX, &id) != 1 ||
        ct_vreq_number(q, "t", INT64_MIN / 4, INT64_MAX / 4, &t) != 1) {
        ct_vanswer_text(a, 400, "id and t are required whole numbers\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (!out)
        return;
    int rc = ct_timeline_task_json(&v.tl, (uint64_t)id, t, out);
    fclose(out);
    if (rc != 0) {
        free(a->body);
        ct_vanswer_text(a, 404, "no such task\n");
    }
}

static void span_details(struct ct_vreq *q, struct ct_vanswer *a)
{
    int64_t tid, t;
    if (ct_vreq_number(q, "tid", 0, INT64_MAX, &tid) != 1 ||
        ct_vreq_number(q, "t", INT64_MIN / 4, INT64_MAX / 4, &t) != 1) {
        ct_vanswer_text(a, 400, "tid and t are required whole numbers\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (!out)
        return;
    int rc = ct_timeline_span_json(&v.tl, (uint64_t)tid, t, out);
    fclose(out);
    if (rc != 0) {
        free(a->body);
        ct_vanswer_text(a, 404, "no such span\n");
    }
}

/* view_api.c's answer that reads the windows (logs_at). */
static void windowed_api(struct ct_vreq *q, struct ct_vanswer *a)
{
    ct_view_api(q, a, &v.tl);
}

/* The answers that read the timeline's windows, one at a time. */
static bool windows(struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *url = ct_vreq_url(q);
    void (*answer)(struct ct_vreq *, struct ct_vanswer *) =
        strcmp(url, "/api/timeline") == 0 ? timeline
        : strcmp(url, "/api/span") == 0   ? span_details
        : strcmp(url, "/api/task") == 0   ? task_details
        : ct_view_api_windowed(url)       ? windowed_api
                                          : NULL;
    if (!answer)
        return false;
    pthread_mutex_lock(&v.windows);
    /* A page that moved on closes its connection: a request that waited
     * behind others and is no longer wanted is not answered. */
    if (ct_vreq_cancelled(q))
        ct_vanswer_text(a, 503, "cancelled: the client has gone\n");
    else
        answer(q, a);
    pthread_mutex_unlock(&v.windows);
    return true;
}

/* A profile made on a thread of its own: requests do not wait for it
 * longer than they wait for the lists. */
static void *make_profile(void *arg)
{
    int k = (int)(intptr_t)arg;
    struct ct_reader rd;
    char *data = NULL;
    size_t len = 0;
    int rc = -1;
    /* Streamed from the file: read through the mapping, every page of the
     * trace would stay in this process's memory. */
    if (ct_rd_open(&rd, v.path) == 0) {
        FILE *out = open_memstream(&data, &len);
        rc = out ? ct_pprof_write(&rd, (enum ct_pprof_type)k, out, NULL) : -1;
        if (out)
            fclose(out);
        ct_rd_close(&rd);
    }
    if (rc != 0 || ct_mapguard_tripped()) {
        free(data);
        data = NULL;
    }
    malloc_trim(0); /* what reading took goes back to the system */
    pthread_mutex_lock(&v.pprof[k].lock);
    v.pprof[k].data = data;
    v.pprof[k].len = len;
    v.pprof[k].state = data ? LISTS_READY : LISTS_FAILED;
    pthread_cond_broadcast(&v.pprof[k].made);
    pthread_mutex_unlock(&v.pprof[k].lock);
    return NULL;
}

static void pprof(struct ct_vreq *q, struct ct_vanswer *a)
{
    static const char *types[] = {"net", "sync", "syscall", "sched"};
    static const char *dispositions[] = {
        "attachment; filename=\"net.pb.gz\"", "attachment; filename=\"sync.pb.gz\"",
        "attachment; filename=\"syscall.pb.gz\"", "attachment; filename=\"sched.pb.gz\""};
    const char *type = ct_vreq_arg(q, "type"), *wait = ct_vreq_arg(q, "wait");
    int k = -1;
    for (int i = 0; i < 4 && type; i++)
        if (strcmp(type, types[i]) == 0)
            k = i;
    if (k < 0) {
        ct_vanswer_text(a, 400, "type must be net, sync, syscall or sched\n");
        return;
    }
    /* Made once, when first asked for; meanwhile a request waits half a
     * second (with wait=1, a download: until it is made) and is then told
     * to ask again. */
    pthread_mutex_lock(&v.pprof[k].lock);
    if (v.pprof[k].state == LISTS_IDLE) {
        pthread_t t;
        v.pprof[k].state = pthread_create(&t, NULL, make_profile, (void *)(intptr_t)k) == 0
                               ? LISTS_BUILDING
                               : LISTS_FAILED;
        if (v.pprof[k].state == LISTS_BUILDING)
            pthread_detach(t);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    for (int slice = 0; v.pprof[k].state == LISTS_BUILDING &&
                        (slice < 5 || (wait && strcmp(wait, "1") == 0 && !ct_vreq_cancelled(q)));
         slice++) {
        until.tv_nsec += 100000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&v.pprof[k].made, &v.pprof[k].lock, &until);
    }
    int state = v.pprof[k].state;
    pthread_mutex_unlock(&v.pprof[k].lock);
    if (state == LISTS_BUILDING) {
        FILE *out = ct_vanswer_json(a);
        if (out) {
            fputs("{\"pending\":true,\"progress\":null}", out);
            fclose(out);
        }
        a->status = 202;
        a->retry_after = 1;
    } else if (state != LISTS_READY) {
        ct_vanswer_text(a, 500, "cannot write the profile\n");
    } else {
        *a = (struct ct_vanswer){200, "application/octet-stream", v.pprof[k].data,
                                 v.pprof[k].len, true, dispositions[k], 0};
    }
}

/* On the server's thread: the files and what was made before serving. */
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
                                 .body = v.summary_json, .len = v.summary_len, .keep = true};
    else if (strcmp(url, "/api/threads") == 0)
        *a = (struct ct_vanswer){.status = 200, .type = "application/json",
                                 .body = v.threads_json, .len = v.threads_len, .keep = true};
    else if (strncmp(url, "/api/", 5) != 0)
        *a = (struct ct_vanswer){.status = 404, .type = "text/plain; charset=utf-8",
                                 .body = (char *)"not found\n", .len = 10, .keep = true};
    else
        return false;
    return true;
}

static bool is_list(const char *url)
{
    static const char *lists[] = {"/api/tasks",    "/api/regions",  "/api/tasklist",
                                  "/api/regionlist", "/api/logs",   "/api/tasktime",
                                  "/api/focus"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (strcmp(url, lists[i]) == 0)
            return true;
    return false;
}

static void status(struct ct_vanswer *a)
{
    static const char *states[] = {"idle", "building", "ready", "failed", "too big"};
    struct ct_vserver_stats st;
    ct_vserver_stats(&st);
    pthread_mutex_lock(&v.lists_lock);
    int lists = v.lists_state;
    pthread_mutex_unlock(&v.lists_lock);
    uint64_t done = atomic_load(&v.lists_done), total = atomic_load(&v.lists_total);
    FILE *out = ct_vanswer_json(a);
    if (!out)
        return;
    fprintf(out, "{\"lists\":\"%s\",\"lists_progress\":%.3f,\"answered\":%" PRIu64
                 ",\"cancelled\":%" PRIu64 ",\"workers\":%u,\"busy\":%u}",
            states[lists], total ? (double)done / (double)total : 0.0, st.answered, st.cancelled,
            st.workers, st.busy);
    fclose(out);
}

/* On a worker. */
static void slow(struct ct_vreq *q, struct ct_vanswer *a)
{
    const char *url = ct_vreq_url(q);
    if (strcmp(url, "/api/status") == 0) {
        status(a);
        return;
    }
    if (refuse_changed(a))
        return;
    if (is_list(url)) {
        if (lists_ready(a))
            ct_view_lists_answer(&v.lists, q, a);
    } else if (strcmp(url, "/api/pprof") == 0) {
        pprof(q, a);
    } else if (!windows(q, a) && !ct_view_api(q, a, &v.tl)) {
        ct_vanswer_text(a, 404, "not found\n");
    }
    refuse_changed(a); /* what was read may have been cut meanwhile */
}

/* ---- the command ---- */

/* The index and the thread analysis, in one streamed pass; 0, or -1 with
 * the error reported. */
static int build(void)
{
    struct ct_reader pass;
    if (ct_rd_open(&pass, v.path) != 0) {
        ct_cli_report(&pass);
        return -1;
    }
    int rc = ct_timeline_build(&pass, &v.rd, &v.tl, 0, progress);
    ct_cli_report(&pass); /* the error (the damage: what precedes it is shown), or a warning */
    if (rc == 0 && !ct_cli_may_print(&pass))
        rc = -1;
    FILE *out;
    if (rc == 0 && (out = open_memstream(&v.threads_json, &v.threads_len))) {
        ct_cli_threads_json(out, &v.tl.threads);
        fclose(out);
    }
    if (rc == 0 && (out = open_memstream(&v.summary_json, &v.summary_len))) {
        ct_timeline_summary_json(&v.tl, out);
        fclose(out);
    }
    ct_rd_close(&pass);
    return rc == 0 && v.threads_json && v.summary_json ? 0 : -1;
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

static void free_all(void)
{
    ct_view_lists_free(&v.lists);
    ct_instances_free(&v.ix);
    ct_timeline_free(&v.tl);
    ct_rd_close(&v.rd);
    free(v.threads_json);
    free(v.summary_json);
    for (int k = 0; k < 4; k++)
        free(v.pprof[k].data);
    if (v.fd >= 0)
        close(v.fd);
}

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_view, argc, argv))
        return CT_EXIT_OK;
    if (ct_cli_tree_wanted(argc, argv)) /* a process tree: view_tree.c */
        return ct_view_tree_run(argc, argv);
    const char *addr = "127.0.0.1:0";
    bool browser = true;
    size_t nhosts = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--addr=", 7) == 0)
            addr = argv[i] + 7;
        else if (strncmp(argv[i], "--allow-host=", 13) == 0 && argv[i][13]) {
            if (nhosts == MAX_HOSTS)
                return ct_cli_usage_error(&ct_cmd_view, "at most %d --allow-host", MAX_HOSTS);
            v.hosts[nhosts++] = argv[i] + 13;
        } else if (strcmp(argv[i], "--no-browser") == 0)
            browser = false;
        else if (argv[i][0] == '-' && argv[i][1])
            return ct_cli_usage_error(&ct_cmd_view, "unknown option '%s'", argv[i]);
        else if (v.path)
            return ct_cli_usage_error(&ct_cmd_view, "expected one FILE");
        else
            v.path = argv[i];
    }
    if (!v.path)
        return ct_cli_usage_error(&ct_cmd_view, "missing FILE");
    struct sockaddr_in sa;
    if (!ct_parse_addr(addr, &sa))
        return ct_cli_usage_error(&ct_cmd_view, "--addr=%s: expected HOST:PORT, as 127.0.0.1:8080",
                                  addr);
    const char *why = ct_mhd_load();
    if (why) {
        fprintf(stderr, "ctrace view: %s\n", why);
        return CT_EXIT_BAD_INPUT;
    }
    if (ct_rd_open_mapped(&v.rd, v.path) != 0) {
        ct_cli_report(&v.rd);
        return CT_EXIT_BAD_INPUT;
    }
    remember_file();
    if (v.rd.mapped)
        ct_mapguard_install(v.rd.data, v.rd.size);
    show_progress = isatty(STDERR_FILENO);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (build() != 0)
        return CT_EXIT_BAD_INPUT;
    ct_timeline_warm(&v.tl);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* From here Ctrl-C and SIGTERM are taken by this thread only (sigwait
     * below): every thread started after inherits the mask. */
    sigset_t stops, before;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stops, &before);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* the browser opener */
    int fd = ct_vserver_listen(&sa, addr);
    if (fd < 0)
        return CT_EXIT_BAD_INPUT;
    if (lists_fit())
        start_lists();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct ct_vserver_config config = {fd, sa.sin_addr.s_addr, v.hosts, quick, slow,
                                       (unsigned)(cores > 0 && cores < 8 ? 8 : 16)};
    if (ct_vserver_start(&config) != 0)
        return CT_EXIT_BAD_INPUT;
    char host[INET_ADDRSTRLEN], url[128];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(url, sizeof url, "http://%s:%d/", host, ntohs(sa.sin_port));
    printf("ctrace view: %s (%zu threads, %" PRIu64 " events, indexed in %.2f s); Ctrl-C stops\n",
           url, v.tl.nlanes, v.tl.events,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
    if (browser)
        open_browser(url, &before);
    int sig;
    while (sigwait(&stops, &sig) != 0)
        ;
    /* Stop at once: work under way is told to stop; what does not within
     * a few tens of milliseconds is left to the exit. */
    atomic_store(&v.stopping, true);
    bool clean = ct_vserver_stop();
    pthread_mutex_lock(&v.lists_lock);
    bool lists_joinable = v.lists_started && v.lists_state != LISTS_BUILDING;
    bool building = v.lists_state == LISTS_BUILDING || ct_view_lists_busy();
    pthread_mutex_unlock(&v.lists_lock);
    for (int k = 0; k < 4; k++) {
        pthread_mutex_lock(&v.pprof[k].lock);
        building |= v.pprof[k].state == LISTS_BUILDING;
        pthread_mutex_unlock(&v.pprof[k].lock);
    }
    /* The lists' thread, when it was started and has finished, is joined
     * on either way out (its state is set as it returns). */
    if (lists_joinable)
        pthread_join(v.lists_thread, NULL);
    if (!clean || building) {
        fflush(stdout);
        fflush(stderr);
        _exit(CT_EXIT_OK);
    }
    close(fd);
    ct_view_api_free();
    free_all();
    return CT_EXIT_OK;
}

const struct ct_command ct_cmd_view = {
    "view",
    "the trace in the browser: timeline, threads, profiles, tasks, logs",
    "usage: ctrace view [--addr=HOST:PORT] [--allow-host=NAME] [--no-browser] FILE\n"
    "       ctrace view [OPTIONS] FILE FILE.*   or   ctrace view [OPTIONS] --tree FILE\n"
    "\n"
    "Indexes FILE, then serves the web UI on 127.0.0.1 and a free port (or\n"
    "--addr), prints the URL and opens a browser when one is available.\n"
    "Ctrl-C (or SIGTERM) stops the server at once.\n"
    "\n"
    "The UI: a timeline of every thread's states (running, runnable, blocked\n"
    "with the reason, system calls with their descriptor, sleeping), the CPUs,\n"
    "counters, regions, tasks, logs and wake-ups (W/S or Ctrl+wheel zoom, A/D\n"
    "pan, the wheel scrolls, 1-4 tools, / search, ? every key; a click shows\n"
    "details with the stack; the URL keeps the view; stripes under a lane mark\n"
    "events its thread lost); the thread analysis;\n"
    "blocking profiles as flame graphs with their pprof files; the CPU\n"
    "utilization and its minimum over windows (MMU); tasks and regions with\n"
    "latency histograms and every instance, a page at a time, sorted and\n"
    "filtered by duration, each opening the timeline at it (a task with its\n"
    "threads, regions and logs in focus); logs, searchable, a page at a time.\n"
    "The lists are indexed after the URL is printed; their pages say how far.\n"
    "\n"
    "A process tree (a trace and its children's files, or --tree): one\n"
    "timeline of every process, a header lane per process (pid, command)\n"
    "with its counters and threads under it, the CPUs' lanes holding every\n"
    "process's runs; the threads page with a pid column; profiles, search\n"
    "and utilization over the whole tree. Tasks, regions and logs are one\n"
    "process's at a time: their pages choose the process. At most 256\n"
    "process images are shown at once.\n"
    "\n"
    "  --addr=HOST:PORT   where to listen (default 127.0.0.1:0, a free port);\n"
    "                     another host than 127.0.0.1 exposes the trace\n"
    "  --allow-host=NAME  answer requests for the host NAME too: by default\n"
    "                     only localhost, loopback addresses and the address\n"
    "                     listened on are answered, so that no other site's\n"
    "                     page can read the trace\n"
    "  --no-browser       only print the URL\n"
    "  --tree             FILE and every trace of its descendants beside it\n"
    "                     (FILE.PID, FILE.PID.N), as with ctrace threads\n",
    run,
};
