/*
 * view_server.h - the HTTP server of `ctrace view`.
 *
 * libmicrohttpd watches every connection from one thread with epoll (poll
 * where epoll is missing): idle connections cost a descriptor each, time
 * out, and are not limited to select's 1024. Files and answers known in
 * advance are sent from that thread; every other request is taken off it
 * (its connection suspended) and answered by a pool of worker threads, so
 * that a slow answer never holds up another. A request whose client has
 * gone (a page that moved on closes its connection) is cancelled: a worker
 * skips it, and long work asks ct_vreq_cancelled as it goes.
 *
 * Requests are refused unless their Host is a loopback name or address,
 * the address listened on (any address of the machine when that is
 * 0.0.0.0) or a name allowed on the command line (a page on another site
 * whose name was made to resolve to 127.0.0.1 must not read the trace),
 * and unless they come from the view's own pages (a request another site
 * makes the browser send, Sec-Fetch-Site: cross-site, is refused).
 */
#ifndef CT_VIEW_SERVER_H
#define CT_VIEW_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ct_vreq;

/* An answer. body is malloc'd unless keep (then it outlives the server). */
struct ct_vanswer {
    unsigned status;
    const char *type;
    char *body;
    size_t len;
    bool keep;
    const char *disposition; /* a Content-Disposition header, or NULL */
    unsigned retry_after;    /* seconds, for a Retry-After header; 0 none */
};

/* Answers a request, on a worker thread. */
typedef void (*ct_vhandler)(struct ct_vreq *q, struct ct_vanswer *a);
/* Answers a request at once when it can (a file, an answer known in
 * advance), on the server's thread: true when it did. */
typedef bool (*ct_vquick)(const char *url, struct ct_vanswer *a);

struct ct_vserver_config {
    int listen_fd;
    uint32_t bound;           /* the IPv4 address listened on (network order) */
    const char *const *hosts; /* more Host names to answer (NULL-ended), or NULL */
    ct_vquick quick;
    ct_vhandler slow;
    unsigned workers;         /* at most, started as needed */
};

/* 0, or -1 with a message on stderr. */
int ct_vserver_start(const struct ct_vserver_config *config);
/* A socket listening on sa (its port filled in when 0); -1, said on
 * stderr naming addr, when it cannot. */
struct sockaddr_in;
int ct_vserver_listen(struct sockaddr_in *sa, const char *addr);
/* Stops the server: true when it stopped cleanly (no request was being
 * answered), false when a request is still at work (the caller then exits
 * without waiting for it). */
bool ct_vserver_stop(void);

/* What the server has done so far. */
struct ct_vserver_stats {
    uint64_t answered;  /* by the workers */
    uint64_t cancelled; /* skipped or stopped: their client had gone */
    unsigned workers, busy;
};
void ct_vserver_stats(struct ct_vserver_stats *out);

/* The request's path and its query arguments (NULL when absent). */
const char *ct_vreq_url(const struct ct_vreq *q);
const char *ct_vreq_arg(const struct ct_vreq *q, const char *name);
/* A whole number argument within [lo, hi] into *out: 1; absent or empty:
 * 0 (*out as it was); not a number or out of bounds: -1. */
int ct_vreq_number(const struct ct_vreq *q, const char *name, int64_t lo, int64_t hi,
                   int64_t *out);
/* Whether the client has gone, or the server is stopping: work may stop. */
bool ct_vreq_cancelled(struct ct_vreq *q);

/* Answers from a memory stream: a->body is what `out` wrote. */
#include <stdio.h>
FILE *ct_vanswer_json(struct ct_vanswer *a);
void ct_vanswer_text(struct ct_vanswer *a, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
