/*
 * view_server.c - see view_server.h.
 *
 * A request's way: libmicrohttpd calls handle() on its thread once the
 * request is read. A quick answer is queued there. Otherwise the request's
 * path and arguments are copied, its connection suspended (libmicrohttpd
 * stops watching it) and the request queued for the workers; a worker
 * computes the answer into the request and resumes the connection, which
 * makes libmicrohttpd call handle() again, where the answer is queued.
 * The request is freed when libmicrohttpd says the connection is done with
 * it (completed()). Workers start as requests wait, up to the configured
 * number, and then stay.
 */
#include "view_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "../compat/mhd.h"

#define MAX_ARGS 16

struct ct_vreq {
    struct MHD_Connection *c;
    int fd;
    char *url;
    char *args[MAX_ARGS][2];
    unsigned nargs;
    struct ct_vanswer answer;
    bool gone; /* seen cancelled */
    atomic_bool done;
    struct ct_vreq *next; /* in the queue */
};

static struct {
    struct MHD_Daemon *daemon;
    struct ct_vserver_config config;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct ct_vreq *head, *tail;
    unsigned workers, idle;
    unsigned busy; /* requests queued or being answered */
    uint64_t answered, cancelled;
    atomic_bool stopping;
} s = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static int marker; /* *state of a request read, not yet decided */

/* ---- answers ---- */

FILE *ct_vanswer_json(struct ct_vanswer *a)
{
    a->status = 200;
    a->type = "application/json";
    a->keep = false;
    return open_memstream(&a->body, &a->len);
}

void ct_vanswer_text(struct ct_vanswer *a, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    a->status = status;
    a->type = "text/plain; charset=utf-8";
    a->keep = false;
    a->body = n >= 0 ? text : NULL;
    a->len = n >= 0 ? (size_t)n : 0;
}

static enum MHD_Result send_answer(struct MHD_Connection *c, struct ct_vanswer *a)
{
    if (!a->body && a->len) {
        a->status = 500;
        a->len = 0;
    }
    struct MHD_Response *r = ct_mhd.from_buffer(a->len, a->body ? a->body : (char *)"",
                                                a->keep || !a->body ? MHD_RESPMEM_PERSISTENT
                                                                    : MHD_RESPMEM_MUST_FREE);
    if (!r) {
        if (!a->keep)
            free(a->body);
        a->body = NULL;
        return MHD_NO;
    }
    if (!a->keep)
        a->body = NULL; /* the response has it now */
    ct_mhd.add_header(r, "Content-Type", a->type ? a->type : "text/plain; charset=utf-8");
    ct_mhd.add_header(r, "Cache-Control", "no-store");
    ct_mhd.add_header(r, "X-Content-Type-Options", "nosniff");
    ct_mhd.add_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    if (a->disposition)
        ct_mhd.add_header(r, "Content-Disposition", a->disposition);
    if (a->retry_after) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", a->retry_after);
        ct_mhd.add_header(r, "Retry-After", secs);
    }
    enum MHD_Result rc = ct_mhd.queue(c, a->status, r);
    ct_mhd.destroy(r);
    return rc;
}

static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct ct_vanswer a = {status, "text/plain; charset=utf-8", (char *)msg, strlen(msg), true,
                           NULL, 0};
    return send_answer(c, &a);
}

/* ---- who may ask ---- */

/* Whether a Host header names this server as a page of ours would: a
 * loopback name or address, the address listened on (any address when
 * that is 0.0.0.0: a literal address cannot be made to point elsewhere, as
 * a name can), or a name allowed. */
static bool host_allowed(const char *host)
{
    if (!host)
        return true; /* HTTP/1.0 without one: not a browser's */
    char name[256];
    size_t len = strlen(host);
    if (len >= sizeof name)
        return false;
    if (host[0] == '[') { /* [v6]:port */
        const char *close = strchr(host, ']');
        if (!close)
            return false;
        len = (size_t)(close - host - 1);
        memcpy(name, host + 1, len);
        name[len] = 0;
        struct in6_addr a6;
        return inet_pton(AF_INET6, name, &a6) == 1 &&
               (IN6_IS_ADDR_LOOPBACK(&a6) || s.config.bound == htonl(INADDR_ANY));
    }
    const char *colon = strchr(host, ':');
    if (colon)
        len = (size_t)(colon - host);
    memcpy(name, host, len);
    name[len] = 0;
    if (len && name[len - 1] == '.')
        name[--len] = 0;
    struct in_addr a4;
    if (inet_pton(AF_INET, name, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127 || a4.s_addr == s.config.bound ||
               s.config.bound == htonl(INADDR_ANY);
    if (strcasecmp(name, "localhost") == 0 ||
        (len > 10 && strcasecmp(name + len - 10, ".localhost") == 0))
        return true;
    for (const char *const *h = s.config.hosts; h && *h; h++)
        if (strcasecmp(name, *h) == 0)
            return true;
    return false;
}

/* A request another site's page made the browser send. */
static bool cross_site(struct MHD_Connection *c)
{
    const char *site = ct_mhd.lookup(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    return site && strcasecmp(site, "cross-site") == 0;
}

/* ---- the queue and the workers ---- */

static void *worker(void *arg);

static void enqueue(struct ct_vreq *q)
{
    pthread_mutex_lock(&s.lock);
    if (s.tail)
        s.tail->next = q;
    else
        s.head = q;
    s.tail = q;
    s.busy++;
    if (s.idle)
        pthread_cond_signal(&s.wake);
    else if (s.workers < s.config.workers) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, worker, NULL) == 0)
            s.workers++;
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&s.lock);
}

bool ct_vreq_cancelled(struct ct_vreq *q)
{
    if (atomic_load(&s.stopping))
        return true;
    /* The client closed its end (a page that moved on aborts its fetch),
     * or the connection broke. A suspended connection is not watched by
     * libmicrohttpd: we look. */
    struct pollfd p = {q->fd, POLLRDHUP, 0};
    if (q->fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        q->gone = true;
    return q->gone;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&s.lock);
    for (;;) {
        while (!s.head) {
            s.idle++;
            pthread_cond_wait(&s.wake, &s.lock);
            s.idle--;
        }
        struct ct_vreq *q = s.head;
        s.head = q->next;
        if (!s.head)
            s.tail = NULL;
        pthread_mutex_unlock(&s.lock);
        bool skipped = ct_vreq_cancelled(q);
        if (skipped)
            ct_vanswer_text(&q->answer, 503, "cancelled: the client has gone\n");
        else
            s.config.slow(q, &q->answer);
        atomic_store(&q->done, true);
        pthread_mutex_lock(&s.lock);
        s.busy--;
        s.answered++;
        if (skipped || q->gone)
            s.cancelled++;
        /* libmicrohttpd calls handle() again, on its thread, which sends
         * the answer. Under the lock: a stop waits for it. */
        ct_mhd.resume(q->c);
    }
    return NULL;
}

/* ---- libmicrohttpd's callbacks ---- */

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct ct_vreq *q = cls;
    if (q->nargs == MAX_ARGS || !key)
        return MHD_NO;
    char *k = strdup(key), *v = strdup(value ? value : "");
    if (!k || !v) {
        free(k);
        free(v);
        return MHD_NO;
    }
    q->args[q->nargs][0] = k;
    q->args[q->nargs][1] = v;
    q->nargs++;
    return MHD_YES;
}

static void free_request(struct ct_vreq *q)
{
    free(q->url);
    for (unsigned i = 0; i < q->nargs; i++) {
        free(q->args[i][0]);
        free(q->args[i][1]);
    }
    if (!q->answer.keep)
        free(q->answer.body);
    free(q);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)cls, (void)version, (void)upload;
    if (*state == NULL) {
        *state = &marker;
        return MHD_YES;
    }
    if (*state != &marker) { /* resumed: the answer is ready */
        struct ct_vreq *q = *state;
        return atomic_load(&q->done) ? send_answer(c, &q->answer) : MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return refuse(c, 405, "only GET and HEAD\n");
    if (!host_allowed(ct_mhd.lookup(c, MHD_HEADER_KIND, "Host")))
        return refuse(c, 403, "this Host is not answered: ctrace view answers localhost, "
                              "loopback addresses, the address it listens on and the names "
                              "given with --allow-host\n");
    if (cross_site(c))
        return refuse(c, 403, "a request made by another site is not answered\n");
    struct ct_vanswer a = {0};
    if (s.config.quick(url, &a))
        return send_answer(c, &a);
    struct ct_vreq *q = calloc(1, sizeof *q);
    if (!q || !(q->url = strdup(url))) {
        free(q);
        return refuse(c, 503, "out of memory\n");
    }
    ct_mhd.values(c, MHD_GET_ARGUMENT_KIND, copy_arg, q);
    const union MHD_ConnectionInfo *info =
        ct_mhd.connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    q->fd = info ? info->connect_fd : -1;
    q->c = c;
    *state = q;
    ct_mhd.suspend(c);
    enqueue(q);
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    if (*state && *state != &marker)
        free_request(*state);
    *state = NULL;
}

/* Room for many connections: each costs a descriptor. */
static unsigned connection_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1000;
    if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t room = rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64;
    return room > 16384 ? 16384 : (unsigned)room;
}

int ct_vserver_start(const struct ct_vserver_config *config)
{
    s.config = *config;
    if (!s.config.workers)
        s.config.workers = 1;
    unsigned limit = connection_limit();
    /* Idle connections are closed after CONNECTION_TIMEOUT seconds (a
     * browser opens another when it needs one); a suspended one is not
     * timed while its answer is computed. */
    for (int mode = 0; mode < 2 && !s.daemon; mode++)
        s.daemon = ct_mhd.start_daemon(
            (mode == 0 ? MHD_USE_EPOLL_INTERNAL_THREAD : MHD_USE_POLL_INTERNAL_THREAD) |
                MHD_ALLOW_SUSPEND_RESUME,
            0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, config->listen_fd,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)20, MHD_OPTION_CONNECTION_LIMIT, limit,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!s.daemon) {
        fprintf(stderr, "ctrace view: cannot start the server\n");
        return -1;
    }
    return 0;
}

bool ct_vserver_stop(void)
{
    atomic_store(&s.stopping, true);
    /* Requests at work see the stop and end soon; a short wait for them,
     * then libmicrohttpd may stop (it must not while a connection is
     * suspended). */
    for (int i = 0; i < 50; i++) {
        pthread_mutex_lock(&s.lock);
        unsigned busy = s.busy;
        pthread_mutex_unlock(&s.lock);
        if (!busy)
            break;
        struct timespec tick = {0, 4000000};
        nanosleep(&tick, NULL);
    }
    pthread_mutex_lock(&s.lock);
    bool clean = s.busy == 0;
    pthread_mutex_unlock(&s.lock);
    if (clean && s.daemon) {
        ct_mhd.stop_daemon(s.daemon);
        s.daemon = NULL;
    }
    return clean;
}

void ct_vserver_stats(struct ct_vserver_stats *out)
{
    pthread_mutex_lock(&s.lock);
    *out = (struct ct_vserver_stats){s.answered, s.cancelled, s.workers, s.busy};
    pthread_mutex_unlock(&s.lock);
}

const char *ct_vreq_url(const struct ct_vreq *q)
{
    return q->url;
}

const char *ct_vreq_arg(const struct ct_vreq *q, const char *name)
{
    for (unsigned i = 0; i < q->nargs; i++)
        if (strcmp(q->args[i][0], name) == 0)
            return q->args[i][1];
    return NULL;
}

int ct_vreq_number(const struct ct_vreq *q, const char *name, int64_t lo, int64_t hi,
                   int64_t *out)
{
    const char *text = ct_vreq_arg(q, name);
    if (!text || !*text)
        return 0;
    if (strlen(text) > 20)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (*end || errno || n < lo || n > hi)
        return -1;
    *out = n;
    return 1;
}

int ct_vserver_listen(struct sockaddr_in *sa, const char *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = sizeof *sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)sa, sizeof *sa) != 0 || listen(fd, 256) != 0 ||
        getsockname(fd, (struct sockaddr *)sa, &len) != 0) {
        fprintf(stderr, "ctrace view: cannot listen on %s: %s\n", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}
