/*
 * http.c - the endpoint inside the traced process (CTRACE_HTTP=ADDR, or
 * `ctrace run --http=ADDR`), as Go's /debug/pprof/trace:
 *
 *   GET /debug/ctrace/                   an index page
 *   GET /debug/ctrace/trace?seconds=N    a trace of the next N seconds
 *                                        (1 <= N <= 600; default 1), streamed
 *   GET /debug/ctrace/flight             the flight recorder's window
 *
 * Only GET and HEAD; one trace at a time (409 while one streams or a window
 * is being written); bad parameters 400; anything else 404. ADDR is
 * HOST:PORT or :PORT (loopback); a HOST of 0.0.0.0 listens everywhere, and
 * only then.
 *
 * Who may ask (a trace holds what docs/format.md lists): a web page the
 * user visits can make the browser send requests to loopback, so
 *
 *   - the Host header must name this machine: localhost, a loopback
 *     address, the address listened on (any IPv4 address when that is
 *     0.0.0.0) or a name of CTRACE_HTTP_HOSTS (comma-separated; "*": any),
 *     with this port if one is given. A DNS name that an attacker made
 *     resolve to 127.0.0.1 (DNS rebinding) is refused with 403, so a page
 *     cannot read a trace through it;
 *   - trace and flight, which cost the program and hand out its trace,
 *     are refused (403) to a request a browser marks as coming from
 *     another site: Sec-Fetch-Site other than same-origin or none, or,
 *     from browsers without it, an Origin or Referer of another origin.
 *     A plain GET from an <img> or a link on another site starts nothing;
 *     curl, wget and other clients send none of these headers, so
 *     `curl .../trace?seconds=N` works as before.
 *
 * Idle connections: libmicrohttpd closes a connection idle for 10 s, serves
 * up to 64 at once (a thread each, waiting in poll(2), so that descriptor
 * numbers past FD_SETSIZE work), and refuses more: a client that opens
 * connections and sends nothing holds the endpoint for 10 s at most.
 *
 * libmicrohttpd is loaded with dlopen when the endpoint is asked for, and
 * only then: a program traced without it never maps the library. Its
 * threads are the tracer's (pthread_create in threads.c marks them): they
 * record nothing and are left out of reports.
 *
 * A trace streams through a pipe: the writer attaches the pipe's write end
 * as a sink (writer.c: a file header at the next generation boundary, then
 * every record), the connection's thread reads the other end into the
 * response, detaches the sink after N seconds (the end record follows) and
 * ends the response at the pipe's end. The write end is non-blocking: a
 * client that stops reading costs the writer at most a second, once, and
 * its trace ends there.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../compat/addr.h"
#include "../compat/mhd.h"
#include "../recorder/flight.h"
#include "../recorder/writer.h"
#include "preload.h"

#define PREFIX "/debug/ctrace/"
#define MAX_SECONDS 600
#define MAX_CONNECTIONS 64u
#define IDLE_TIMEOUT_S 10u

static struct {
    struct sockaddr_in bound; /* the address listened on */
    char hosts[1024];         /* CTRACE_HTTP_HOSTS, with a comma at each end */
    bool any_host;            /* CTRACE_HTTP_HOSTS=* */
} ep;


static _Atomic int busy; /* a trace streams, or a window is written */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body)
{
    struct MHD_Response *r =
        ct_mhd.from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    ct_mhd.add_header(r, "Content-Type", type);
    enum MHD_Result rc = ct_mhd.queue(c, status, r);
    ct_mhd.destroy(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *body)
{
    return reply(c, status, "text/plain; charset=utf-8", body);
}

static const char index_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ctrace</title></head>\n"
    "<body><h1>ctrace</h1>\n<ul>\n"
    "<li><a href=\"trace?seconds=5\">trace?seconds=5</a>: a trace of the next 5 seconds "
    "(seconds from 1 to 600)</li>\n"
    "<li><a href=\"flight\">flight</a>: the flight recorder's window "
    "(ctrace run --flight)</li>\n"
    "</ul>\n<p>Read a trace with <code>ctrace view FILE</code>, <code>ctrace stats FILE</code>"
    ".</p></body></html>\n";

/* ---- trace?seconds=N ---- */

struct stream {
    int rd, wr; /* the pipe */
    int sink;   /* -1 once detached */
    uint64_t deadline;
};

static void stream_end_tracing(struct stream *s)
{
    if (s->sink >= 0) {
        ct_session_detach(s->sink);
        s->sink = -1;
    }
    if (s->wr >= 0) {
        close(s->wr);
        s->wr = -1;
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    for (;;) {
        uint64_t now = now_ns();
        if (s->sink >= 0 && now >= s->deadline)
            stream_end_tracing(s); /* the end record follows in the pipe */
        int timeout = s->sink >= 0 ? (int)((s->deadline - now) / 1000000u) + 1 : 1000;
        struct pollfd pfd = {s->rd, POLLIN, 0};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (n <= 0)
            continue;
        ssize_t got = read(s->rd, buf, max);
        if (got > 0)
            return got;
        if (got == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (errno != EINTR && errno != EAGAIN)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    stream_end_tracing(s); /* the client went away early, or the end */
    close(s->rd);
    free(s);
    atomic_store(&busy, 0);
}

/* N from "seconds", or 0 when it is not a number from 1 to MAX_SECONDS. */
static unsigned seconds_arg(const char *v)
{
    if (!v)
        return 1;
    if (!*v || strlen(v) > 3)
        return 0;
    unsigned n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        n = n * 10 + (unsigned)(*p - '0');
    }
    return n >= 1 && n <= MAX_SECONDS ? n : 0;
}

static enum MHD_Result serve_trace(struct MHD_Connection *c, bool head)
{
    unsigned seconds = seconds_arg(ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, "seconds"));
    if (!seconds)
        return text(c, 400, "seconds must be a whole number from 1 to 600\n");
    if (head)
        return reply(c, 200, "application/octet-stream", "");
    if (atomic_exchange(&busy, 1))
        return text(c, 409, "a trace is being taken already; try again when it ends\n");
    struct stream *s = malloc(sizeof *s);
    int p[2];
    if (!s || pipe2(p, O_CLOEXEC) != 0) {
        free(s);
        atomic_store(&busy, 0);
        return text(c, 500, "out of resources\n");
    }
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    *s = (struct stream){p[0], p[1], -1, now_ns() + seconds * 1000000000ull};
    s->sink = ct_session_attach(p[1], NULL);
    if (s->sink < 0) {
        int err = -s->sink;
        s->sink = -1;
        stream_free(s);
        char msg[128];
        snprintf(msg, sizeof msg, "cannot trace: %s\n", strerror(err));
        return text(c, err == EBUSY ? 409 : 500, msg);
    }
    struct MHD_Response *r = ct_mhd.from_callback(MHD_SIZE_UNKNOWN, 64 << 10, stream_read, s,
                                               stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    ct_mhd.add_header(r, "Content-Type", "application/octet-stream");
    ct_mhd.add_header(r, "Content-Disposition", "attachment; filename=\"ctrace.out\"");
    enum MHD_Result rc = ct_mhd.queue(c, 200, r);
    ct_mhd.destroy(r);
    return rc;
}

/* ---- flight ---- */

static enum MHD_Result serve_flight(struct MHD_Connection *c, bool head)
{
    struct ctrace_flight *f = ct_flight_current();
    if (!f)
        return text(c, 404, "no flight recorder in this process (ctrace run --flight)\n");
    if (head)
        return reply(c, 200, "application/octet-stream", "");
    if (atomic_exchange(&busy, 1))
        return text(c, 409, "a trace is being taken already; try again when it ends\n");
    int fd = memfd_create("ctrace-flight", MFD_CLOEXEC);
    int rc = fd < 0 ? -errno : ctrace_flight_write(f, fd);
    atomic_store(&busy, 0);
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        char msg[128];
        snprintf(msg, sizeof msg, "cannot write the window: %s\n", strerror(-rc));
        return text(c, rc == -EBUSY ? 409 : 500, msg);
    }
    struct stat st;
    fstat(fd, &st);
    struct MHD_Response *r = ct_mhd.from_fd((size_t)st.st_size, fd); /* closes fd */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    ct_mhd.add_header(r, "Content-Type", "application/octet-stream");
    ct_mhd.add_header(r, "Content-Disposition", "attachment; filename=\"flight.out\"");
    enum MHD_Result result = ct_mhd.queue(c, 200, r);
    ct_mhd.destroy(r);
    return result;
}

/* ---- who may ask ---- */

static bool equal_nocase(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Whether a Host header value ("name", "name:port", "[v6]:port") names
 * this endpoint (the rules at the top). */
static bool host_allowed(const char *host)
{
    if (!host || ep.any_host)
        return true; /* no Host: an HTTP/1.0 client, never a browser */
    const char *name = host, *end, *port = NULL;
    if (*host == '[') {
        name = host + 1;
        end = strchr(name, ']');
        if (!end)
            return false;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1])
            return false;
    } else {
        end = strchr(host, ':');
        if (end)
            port = end + 1;
        else
            end = host + strlen(host);
    }
    if (port) {
        char *stop;
        long n = strtol(port, &stop, 10);
        if (*stop || stop == port || n != ntohs(ep.bound.sin_port))
            return false;
    }
    size_t len = (size_t)(end - name);
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, name, len);
    buf[len] = 0;
    if (equal_nocase(name, len, "localhost") || strcmp(buf, "::1") == 0)
        return true;
    struct in_addr a;
    if (*host != '[' && inet_pton(AF_INET, buf, &a) == 1)
        return (ntohl(a.s_addr) >> 24) == 127 || a.s_addr == ep.bound.sin_addr.s_addr ||
               ep.bound.sin_addr.s_addr == htonl(INADDR_ANY);
    /* A name of CTRACE_HTTP_HOSTS: ",name," in ",a,b,". */
    for (const char *at = ep.hosts; (at = strchr(at, ',')) && at[1]; at++)
        if (strncasecmp(at + 1, name, len) == 0 && at[1 + len] == ',')
            return true;
    return false;
}

/* Whether url ("http://AUTHORITY/...") has the authority host. */
static bool same_origin(const char *url, const char *host)
{
    const char *p = strstr(url, "://");
    if (!p || !host)
        return false;
    p += 3;
    size_t n = strcspn(p, "/?#");
    return equal_nocase(p, n, host);
}

/* Whether a browser says the request comes from another site (the rules
 * at the top). */
static bool cross_site(struct MHD_Connection *c)
{
    const char *host = ct_mhd.lookup(c, MHD_HEADER_KIND, "Host");
    const char *site = ct_mhd.lookup(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site)
        return strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
    const char *origin = ct_mhd.lookup(c, MHD_HEADER_KIND, "Origin");
    if (origin && !same_origin(origin, host))
        return true;
    const char *referer = ct_mhd.lookup(c, MHD_HEADER_KIND, "Referer");
    return referer && !same_origin(referer, host);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)cls, (void)version, (void)upload;
    static int marker;
    if (*state == NULL) { /* headers only, so far */
        *state = &marker;
        return MHD_YES;
    }
    if (*upload_size) { /* a body: not for us */
        *upload_size = 0;
        return MHD_YES;
    }
    if (!host_allowed(ct_mhd.lookup(c, MHD_HEADER_KIND, "Host")))
        return text(c, 403, "this endpoint answers to localhost and the address it listens "
                            "on; CTRACE_HTTP_HOSTS (ctrace run --http-hosts) adds names\n");
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0)
        return text(c, 405, "only GET and HEAD\n");
    bool takes = strcmp(url, PREFIX "trace") == 0 || strcmp(url, PREFIX "flight") == 0;
    if (takes && cross_site(c))
        return text(c, 403, "a request from another site may not take a trace; open "
                            PREFIX " itself, or use curl\n");
    if (strcmp(url, PREFIX) == 0 || strcmp(url, "/debug/ctrace") == 0)
        return reply(c, 200, "text/html; charset=utf-8", head ? "" : index_page);
    if (strcmp(url, PREFIX "trace") == 0)
        return serve_trace(c, head);
    if (strcmp(url, PREFIX "flight") == 0)
        return serve_flight(c, head);
    return text(c, 404, "not found; see " PREFIX "\n");
}

static void warn(const char *addr, const char *why)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ctrace: no endpoint on %s: %s\n", addr, why);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        return;
}

/* The library's listening socket and wake-up pipe are the tracer's: a
 * program that closes every descriptor must not close them, nor get their
 * numbers for its own files (own_fds.c). */
static bool started;
static void start_daemon(void)
{
    static uint64_t before[CT_FD_SET_WORDS] CT_LARGE;
    ct_open_fds(before);
    struct MHD_Daemon *d = ct_mhd.start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL,
        ntohs(ep.bound.sin_port), NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ep.bound, MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, MHD_OPTION_END);
    started = d != NULL;
    if (started)
        ct_own_fds_since(before);
}

void ct_preload_http_start(const char *addr, const char *hosts)
{
    struct sockaddr_in sa;
    if (!ct_parse_addr(addr, &sa)) {
        warn(addr, "expected HOST:PORT, as 127.0.0.1:6060");
        return;
    }
    ep.bound = sa;
    ep.any_host = hosts && strcmp(hosts, "*") == 0;
    snprintf(ep.hosts, sizeof ep.hosts, ",%s,", hosts ? hosts : "");
    ct_busy++; /* the library's start-up, its threads: the tracer's own */
    const char *why = ct_mhd_load();
    if (why) {
        warn(addr, why);
        ct_busy--;
        return;
    }
    /* With the writer's work held off: a descriptor it opened and closed
     * meanwhile (a /proc file, a ring, on its way above 1024) would have
     * made one of the library's pass for the program's. */
    ct_writer_exclusive(start_daemon);
    if (!started)
        warn(addr, "cannot listen there (in use?)");
    ct_busy--;
}
