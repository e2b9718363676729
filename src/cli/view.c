/*
 * view.c - `ctrace view [--addr=HOST:PORT] [--no-browser] FILE`: the trace in
 * the browser. The trace is indexed once (src/analysis/timeline*.c: one
 * streamed pass split by thread between the cores, which also gives the
 * thread analysis; the tasks and regions by type are read afterwards on a
 * thread of their own), then a server on 127.0.0.1 (libmicrohttpd, one
 * internal thread: requests are answered one at a time, so the index needs
 * no lock) serves the UI's files,
 * embedded in this binary (ui/, through scripts/embed.py), and JSON:
 *
 *   /api/summary                     threads, CPUs, counters, the time range
 *   /api/timeline?t0=&t1=&px=        what [t0, t1) shows at px pixels
 *   /api/span?tid=&t=                the span of a thread at t: reason, stack,
 *                                    region, waker
 *   /api/task?id=&t=                 a task under way at t
 *   /api/threads                     the thread analysis (ctrace threads)
 *   /api/tasks, /api/regions         by type (ctrace tasks, regions)
 *   /api/tasklist?type=T             each task of a type (tasks --type=T)
 *   /api/logs?q=                     logs whose category or message holds q
 *   /api/pprof?type=net|sync|syscall|sched   the gzipped pprof profile
 *   /api/search, /api/logs_at, /api/utilization   view_api.c
 *
 * Only GET and HEAD; an unknown path is 404, a bad parameter 400, and no
 * file outside the embedded ones is ever read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../analysis/annotations.h"
#include "../compat/addr.h"
#include "../compat/mhd.h"
#include "../analysis/pprof.h"
#include "../analysis/taskview.h"
#include "../analysis/threads.h"
#include "../analysis/timeline.h"
#include "cli.h"
#include "view_api.h"
#include "view_files.h"

static struct {
    const char *path;
    struct ct_reader rd;
    struct ct_timeline tl;
    char *threads_json, *tasks_json, *regions_json;
    size_t threads_len, tasks_len, regions_len;
    char *pprof[4];
    size_t pprof_len[4];
    bool pprof_done[4];
} v;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

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

/* ---- answers ---- */

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type,
                                  const void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = ct_mhd.from_buffer(len, (void *)data, mode);
    if (!r)
        return MHD_NO;
    ct_mhd.add_header(r, "Content-Type", type);
    ct_mhd.add_header(r, "Cache-Control", "no-store");
    ct_mhd.add_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = ct_mhd.queue(c, status, r);
    ct_mhd.destroy(r);
    return rc;
}

static enum MHD_Result error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return send_bytes(c, status, "text/plain; charset=utf-8", msg, strlen(msg),
                      MHD_RESPMEM_MUST_COPY);
}

/* Sends what a function writes into a memory stream as JSON. */
#define SEND_JSON(c, stmt)                                                    \
    ({                                                                        \
        char *buf_ = NULL;                                                    \
        size_t len_ = 0;                                                      \
        FILE *out = open_memstream(&buf_, &len_);                             \
        enum MHD_Result rc_ = MHD_NO;                                         \
        if (out) {                                                            \
            stmt;                                                             \
            fclose(out);                                                      \
            rc_ = send_bytes(c, 200, "application/json", buf_, len_,          \
                             MHD_RESPMEM_MUST_FREE);                          \
        }                                                                     \
        rc_;                                                                  \
    })

/* A whole number parameter within [lo, hi]; false when absent or not. */
static bool number(struct MHD_Connection *c, const char *name, int64_t lo, int64_t hi,
                   int64_t *out)
{
    const char *s = ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, name);
    if (!s || !*s || strlen(s) > 20)
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (*end || errno || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

static enum MHD_Result timeline(struct MHD_Connection *c)
{
    int64_t t0, t1, px;
    int64_t span = v.tl.end - v.tl.begin + 1;
    if (!number(c, "t0", INT64_MIN / 4, INT64_MAX / 4, &t0) ||
        !number(c, "t1", INT64_MIN / 4, INT64_MAX / 4, &t1) || !number(c, "px", 1, 20000, &px))
        return error(c, 400, "t0, t1 (ns) and px (1 to 20000) are required whole numbers\n");
    if (t1 <= t0 || t1 <= v.tl.begin - span || t0 >= v.tl.end + span)
        return error(c, 400, "the range is empty or outside the trace\n");
    return SEND_JSON(c, ct_timeline_query_json(&v.tl, t0, t1, (unsigned)px, out));
}

static enum MHD_Result task_details(struct MHD_Connection *c)
{
    int64_t id, t;
    if (!number(c, "id", 0, INT64_MAX, &id) || !number(c, "t", INT64_MIN / 4, INT64_MAX / 4, &t))
        return error(c, 400, "id and t are required whole numbers\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    int rc = ct_timeline_task_json(&v.tl, (uint64_t)id, t, out);
    fclose(out);
    if (rc != 0) {
        free(buf);
        return error(c, 404, "no such task\n");
    }
    return send_bytes(c, 200, "application/json", buf, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result span_details(struct MHD_Connection *c)
{
    int64_t tid, t;
    if (!number(c, "tid", 0, INT64_MAX, &tid) || !number(c, "t", INT64_MIN / 4, INT64_MAX / 4, &t))
        return error(c, 400, "tid and t are required whole numbers\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    int rc = ct_timeline_span_json(&v.tl, (uint64_t)tid, t, out);
    fclose(out);
    if (rc != 0) {
        free(buf);
        return error(c, 404, "no such span\n");
    }
    return send_bytes(c, 200, "application/json", buf, len, MHD_RESPMEM_MUST_FREE);
}

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
    ct_rd_close(&pass);
    return rc == 0 && v.threads_json ? 0 : -1;
}

/* Tasks and regions by type (ctrace tasks, regions): read on a thread of
 * their own once the timeline is served, so that its first paint does not
 * wait for them; their pages wait for the thread. */
static void *annotations(void *arg)
{
    (void)arg;
    struct ct_reader rd;
    struct ct_annotations a;
    if (ct_rd_open(&rd, v.path) != 0)
        return NULL;
    if (ct_annotations_compute(&rd, &a) == 0) {
        FILE *out = open_memstream(&v.tasks_json, &v.tasks_len);
        if (out) {
            ct_cli_types_json(out, a.tasks, a.ntasks);
            fclose(out);
        }
        out = open_memstream(&v.regions_json, &v.regions_len);
        if (out) {
            ct_cli_types_json(out, a.regions, a.nregions);
            fclose(out);
        }
    }
    ct_annotations_free(&a);
    ct_rd_close(&rd);
    return NULL;
}

static pthread_t annotations_thread;
static bool annotations_started, annotations_done;

static enum MHD_Result types(struct MHD_Connection *c, char **json, size_t *len)
{
    if (annotations_started && !annotations_done) {
        pthread_join(annotations_thread, NULL);
        annotations_done = true;
    }
    if (!annotations_started && !annotations_done) {
        annotations(NULL);
        annotations_done = true;
    }
    if (!*json)
        return error(c, 500, "cannot read the trace\n");
    return send_bytes(c, 200, "application/json", *json, *len, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result task_list(struct MHD_Connection *c)
{
    const char *type = ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, "type");
    if (!type || !*type || strlen(type) > 200)
        return error(c, 400, "type is required\n");
    struct ct_task_view tv;
    struct ct_reader rd;
    int rc = ct_task_view(v.path, type, &tv, &rd);
    enum MHD_Result result = rc == 0 ? SEND_JSON(c, ct_cli_task_list_json(out, &tv))
                                     : error(c, 500, "cannot read the trace\n");
    ct_rd_close(&rd);
    ct_task_view_free(&tv);
    return result;
}

static enum MHD_Result pprof(struct MHD_Connection *c)
{
    static const char *types[] = {"net", "sync", "syscall", "sched"};
    const char *type = ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, "type");
    int k = -1;
    for (int i = 0; i < 4 && type; i++)
        if (strcmp(type, types[i]) == 0)
            k = i;
    if (k < 0)
        return error(c, 400, "type must be net, sync, syscall or sched\n");
    if (!v.pprof_done[k]) {
        struct ct_reader rd;
        if (ct_rd_open_mem(&rd, v.rd.data, v.rd.size, v.path) != 0)
            return error(c, 500, "cannot read the trace\n");
        FILE *out = open_memstream(&v.pprof[k], &v.pprof_len[k]);
        int rc = out ? ct_pprof_write(&rd, (enum ct_pprof_type)k, out, NULL) : -1;
        if (out)
            fclose(out);
        ct_rd_close(&rd);
        if (rc != 0) {
            free(v.pprof[k]);
            v.pprof[k] = NULL;
            return error(c, 500, "cannot write the profile\n");
        }
        v.pprof_done[k] = true;
    }
    struct MHD_Response *r =
        ct_mhd.from_buffer(v.pprof_len[k], v.pprof[k], MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    char disposition[64];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.pb.gz\"", types[k]);
    ct_mhd.add_header(r, "Content-Type", "application/octet-stream");
    ct_mhd.add_header(r, "Content-Disposition", disposition);
    enum MHD_Result rc = ct_mhd.queue(c, 200, r);
    ct_mhd.destroy(r);
    return rc;
}

static enum MHD_Result logs(struct MHD_Connection *c)
{
    const char *q = ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, "q");
    if (q && strlen(q) > 200)
        return error(c, 400, "q is too long\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    int rc = ct_timeline_logs_json(&v.tl, q ? q : "", 1000, out);
    fclose(out);
    if (rc != 0) {
        free(buf);
        return error(c, 500, "cannot read the trace\n");
    }
    return send_bytes(c, 200, "application/json", buf, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)cls, (void)version, (void)upload;
    static int marker;
    if (*state == NULL) {
        *state = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return error(c, 405, "only GET and HEAD\n");
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    for (const struct ct_ui_file *f = ct_ui_files; f->path; f++)
        if (strcmp(url, f->path) == 0)
            return send_bytes(c, 200, f->type, f->data, f->len, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/api/summary") == 0)
        return SEND_JSON(c, ct_timeline_summary_json(&v.tl, out));
    if (strcmp(url, "/api/timeline") == 0)
        return timeline(c);
    if (strcmp(url, "/api/span") == 0)
        return span_details(c);
    if (strcmp(url, "/api/task") == 0)
        return task_details(c);
    if (strcmp(url, "/api/threads") == 0)
        return send_bytes(c, 200, "application/json", v.threads_json, v.threads_len,
                          MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/api/tasks") == 0)
        return types(c, &v.tasks_json, &v.tasks_len);
    if (strcmp(url, "/api/regions") == 0)
        return types(c, &v.regions_json, &v.regions_len);
    if (strcmp(url, "/api/tasklist") == 0)
        return task_list(c);
    if (strcmp(url, "/api/logs") == 0)
        return logs(c);
    if (strcmp(url, "/api/pprof") == 0)
        return pprof(c);
    enum MHD_Result answered;
    if (ct_view_api(c, url, &v.tl, &answered)) /* view_api.c: search, logs, utilization */
        return answered;
    return error(c, 404, "not found\n");
}

static void open_browser(const char *url)
{
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY"))
        return;
    pid_t pid = fork();
    if (pid == 0) {
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

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_view, argc, argv))
        return CT_EXIT_OK;
    const char *addr = "127.0.0.1:0";
    bool browser = true;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--addr=", 7) == 0)
            addr = argv[i] + 7;
        else if (strcmp(argv[i], "--no-browser") == 0)
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
    show_progress = isatty(STDERR_FILENO);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (build() != 0)
        return CT_EXIT_BAD_INPUT;
    ct_timeline_warm(&v.tl);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    annotations_started = pthread_create(&annotations_thread, NULL, annotations, NULL) == 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        fprintf(stderr, "ctrace view: cannot listen on %s: %s\n", addr, strerror(errno));
        return CT_EXIT_BAD_INPUT;
    }
    struct MHD_Daemon *d = ct_mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                            handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                            MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "ctrace view: cannot start the server\n");
        return CT_EXIT_BAD_INPUT;
    }
    char host[INET_ADDRSTRLEN], url[128];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(url, sizeof url, "http://%s:%d/", host, ntohs(sa.sin_port));
    printf("ctrace view: %s (%zu threads, %" PRIu64 " events, indexed in %.2f s); Ctrl-C stops\n",
           url, v.tl.nlanes, v.tl.events,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
    if (browser)
        open_browser(url);
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    signal(SIGCHLD, SIG_IGN); /* the browser opener */
    while (!stop)
        pause();
    ct_mhd.stop_daemon(d);
    if (annotations_started && !annotations_done) {
        /* Still reading the tasks and regions (seconds, on a big trace):
         * Ctrl-C does not wait for them. */
        fflush(stdout);
        fflush(stderr);
        _exit(CT_EXIT_OK);
    }
    close(fd);
    ct_view_api_free();
    ct_timeline_free(&v.tl);
    ct_rd_close(&v.rd);
    free(v.threads_json);
    free(v.tasks_json);
    free(v.regions_json);
    for (int k = 0; k < 4; k++)
        free(v.pprof[k]);
    return CT_EXIT_OK;
}

const struct ct_command ct_cmd_view = {
    "view",
    "the trace in the browser: timeline, threads, profiles, tasks, logs",
    "usage: ctrace view [--addr=HOST:PORT] [--no-browser] FILE\n"
    "\n"
    "Indexes FILE, then serves the web UI on 127.0.0.1 and a free port (or\n"
    "--addr), prints the URL and opens a browser when one is available.\n"
    "Ctrl-C stops the server.\n"
    "\n"
    "The UI: a timeline of every thread's states (running, runnable, blocked\n"
    "with the reason, system calls with their descriptor, sleeping), the CPUs,\n"
    "counters, regions, tasks, logs and wake-ups (W/S or Ctrl+wheel zoom, A/D\n"
    "pan, the wheel scrolls, 1-4 tools, / search, ? every key; a click shows\n"
    "details with the stack; the URL keeps the view); the thread analysis;\n"
    "blocking profiles as flame graphs with their pprof files; the CPU\n"
    "utilization and its minimum over windows (MMU); tasks and regions with\n"
    "latency histograms; logs, searchable.\n"
    "\n"
    "  --addr=HOST:PORT  where to listen (default 127.0.0.1:0, a free port);\n"
    "                    another host than 127.0.0.1 exposes the trace\n"
    "  --no-browser      only print the URL\n",
    run,
};
