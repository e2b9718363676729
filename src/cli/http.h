/*
 * http.h - HTTP POSTs for the exports (http.c, over libcurl: src/compat/
 * curl.h): a request with its whole body, and a streamed one whose body is
 * written while it is made, sent by a thread of its own so that a trace is
 * read while the server takes what was read before.
 */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What came back: the status and the body (at most 1 MiB kept), or why
 * nothing did (status 0). */
struct ct_http_response {
    long status;
    char *body; /* NUL-terminated, malloc'd (ct_http_response_free) */
    size_t body_len;
    bool truncated;
    char error[256]; /* a transport error: connection refused, timeout, ... */
};
void ct_http_response_free(struct ct_http_response *r);

/* Loads libcurl; NULL, or why it cannot be (one line). */
const char *ct_http_init(void);

/* POSTs len bytes to url. 0 when a response came (any status), -1 when
 * none did (r->error says why). */
int ct_http_post(const char *url, const char *content_type, const void *body, size_t len,
                 struct ct_http_response *r);

/* A streamed POST (chunked transfer encoding). The body is written into
 * buffers of `chunk` bytes that a queue of a few hands to the sending
 * thread: memory is bounded, and a server slower than the reader holds the
 * reader back. */
struct ct_http_stream;
struct ct_http_stream *ct_http_stream_open(const char *url, const char *content_type, size_t chunk);
/* Room for n bytes of body at least, up to *end (the end of the buffer
 * being filled: a caller may write several pieces there before it commits
 * them); NULL when the request has ended already (the server answered
 * early, or the connection failed): finish it for the response. */
uint8_t *ct_http_stream_reserve(struct ct_http_stream *s, size_t n, uint8_t **end);
void ct_http_stream_commit(struct ct_http_stream *s, size_t n);
/* Bytes of body committed so far. */
uint64_t ct_http_stream_sent(const struct ct_http_stream *s);
/* Ends the body and waits for the response (as ct_http_post), then frees
 * the stream. With abort, the body is cut instead of ended: the server
 * sees a request that did not complete. */
int ct_http_stream_finish(struct ct_http_stream *s, bool abort, struct ct_http_response *r);

/* url with `params` (already escaped) added to its query string: "/?"
 * after a bare host, "&" after an existing query. malloc'd. */
char *ct_http_url(const char *base, const char *path, const char *params);
/* s escaped for a URL's query string; malloc'd. */
char *ct_http_escape(const char *s);

#endif
