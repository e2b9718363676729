/*
 * http.c - HTTP POSTs over libcurl (http.h).
 *
 * Why libcurl and not a client of our own: the servers an export talks to
 * are a fleet's, not only loopback ones: ClickHouse and OpenTelemetry
 * collectors behind TLS, basic authentication, proxies, IPv6 literals and
 * redirects, which curl has done right for decades. It is loaded with
 * dlopen (src/compat/curl.h) only when an export sends somewhere.
 *
 * A stream's body goes through a ring of NBUF buffers: the producer fills
 * one while the sending thread's read callback drains another; when all
 * are full the producer waits. So memory is NBUF * chunk, and a slow
 * server slows the reader instead of filling memory.
 */
#include "http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../compat/curl.h"

#define BODY_MAX (1u << 20)
#define NBUF 4

const char *ct_http_init(void)
{
    return ct_curl_load();
}

void ct_http_response_free(struct ct_http_response *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct ct_http_response *r = ctx;
    size_t len = size * n, keep = len;
    if (r->body_len + keep > BODY_MAX) {
        keep = BODY_MAX - r->body_len;
        r->truncated = true;
    }
    if (keep) {
        char *grown = realloc(r->body, r->body_len + keep + 1);
        if (!grown)
            return 0; /* curl then fails the transfer */
        r->body = grown;
        memcpy(r->body + r->body_len, data, keep);
        r->body_len += keep;
        r->body[r->body_len] = 0;
    }
    return len;
}

/* A handle set up for a POST to url; headers are added to *list. */
static CURL *post_handle(const char *url, const char *content_type, struct curl_slist **list,
                         struct ct_http_response *r, char errbuf[CURL_ERROR_SIZE])
{
    CURL *h = ct_curl.easy_init();
    if (!h)
        return NULL;
    char type[128];
    snprintf(type, sizeof type, "Content-Type: %s", content_type);
    *list = ct_curl.slist_append(NULL, type);
    /* No "Expect: 100-continue" round trip before each body. */
    if (*list)
        *list = ct_curl.slist_append(*list, "Expect:");
    ct_curl.easy_setopt(h, CURLOPT_URL, url);
    ct_curl.easy_setopt(h, CURLOPT_POST, 1L);
    ct_curl.easy_setopt(h, CURLOPT_HTTPHEADER, *list);
    ct_curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    ct_curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A server that takes nothing for 5 minutes is gone. */
    ct_curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    ct_curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 300L);
    ct_curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    ct_curl.easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    ct_curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    ct_curl.easy_setopt(h, CURLOPT_WRITEDATA, r);
    ct_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    ct_curl.easy_setopt(h, CURLOPT_USERAGENT, "ctrace/" CTRACE_VERSION_STRING);
    errbuf[0] = 0;
    return h;
}

static int perform(CURL *h, struct ct_http_response *r, const char *errbuf)
{
    CURLcode rc = ct_curl.easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(r->error, sizeof r->error, "%s", errbuf[0] ? errbuf : ct_curl.easy_strerror(rc));
        size_t n = strlen(r->error);
        while (n > 0 && r->error[n - 1] == '\n')
            r->error[--n] = 0;
        return -1;
    }
    ct_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    return 0;
}

int ct_http_post(const char *url, const char *content_type, const void *body, size_t len,
                 struct ct_http_response *r)
{
    memset(r, 0, sizeof *r);
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *list = NULL;
    CURL *h = post_handle(url, content_type, &list, r, errbuf);
    if (!h) {
        snprintf(r->error, sizeof r->error, "libcurl could not make a request");
        return -1;
    }
    ct_curl.easy_setopt(h, CURLOPT_POSTFIELDS, body);
    ct_curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    int rc = perform(h, r, errbuf);
    ct_curl.easy_cleanup(h);
    ct_curl.slist_free_all(list);
    return rc;
}

/* ---- streams ---- */

struct buffer {
    uint8_t *data;
    size_t len, cap, read; /* read: bytes the sender has taken */
};

struct ct_http_stream {
    CURL *h;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    struct ct_http_response response;
    int rc;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct buffer bufs[NBUF];
    /* Filled buffers wait in the ring [head, head + queued); the producer
     * fills `filling`, the sender reads the one at head. */
    unsigned head, queued, filling;
    bool ended, aborted, done;
    uint64_t sent;
};

static size_t on_read(char *out, size_t size, size_t n, void *ctx)
{
    struct ct_http_stream *s = ctx;
    size_t want = size * n, given = 0;
    pthread_mutex_lock(&s->lock);
    while (!s->aborted && s->queued == 0 && !s->ended)
        pthread_cond_wait(&s->changed, &s->lock);
    if (s->aborted) {
        pthread_mutex_unlock(&s->lock);
        return CURL_READFUNC_ABORT;
    }
    if (s->queued) {
        /* The buffer at head is the sender's alone until it is released. */
        struct buffer *b = &s->bufs[s->head];
        pthread_mutex_unlock(&s->lock);
        given = b->len - b->read < want ? b->len - b->read : want;
        memcpy(out, b->data + b->read, given);
        b->read += given;
        pthread_mutex_lock(&s->lock);
        if (b->read == b->len) {
            s->head = (s->head + 1) % NBUF;
            s->queued--;
            pthread_cond_broadcast(&s->changed);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return given; /* 0: the body's end */
}

static void *send_thread(void *arg)
{
    struct ct_http_stream *s = arg;
    int rc = perform(s->h, &s->response, s->errbuf);
    pthread_mutex_lock(&s->lock);
    s->rc = rc;
    s->done = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct ct_http_stream *ct_http_stream_open(const char *url, const char *content_type, size_t chunk)
{
    struct ct_http_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (unsigned i = 0; i < NBUF; i++) {
        s->bufs[i].cap = chunk;
        if (!(s->bufs[i].data = malloc(chunk)))
            goto fail;
    }
    s->h = post_handle(url, content_type, &s->headers, &s->response, s->errbuf);
    if (!s->h)
        goto fail;
    ct_curl.easy_setopt(s->h, CURLOPT_READFUNCTION, on_read);
    ct_curl.easy_setopt(s->h, CURLOPT_READDATA, s);
    ct_curl.easy_setopt(s->h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    if (pthread_create(&s->thread, NULL, send_thread, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->changed);
        goto fail;
    }
    return s;
fail:
    if (s->h)
        ct_curl.easy_cleanup(s->h);
    ct_curl.slist_free_all(s->headers);
    for (unsigned i = 0; i < NBUF; i++)
        free(s->bufs[i].data);
    free(s);
    return NULL;
}

/* Queues the buffer being filled and waits for a free one; false when the
 * request has ended. Called with the lock held. */
static bool next_buffer(struct ct_http_stream *s)
{
    struct buffer *b = &s->bufs[s->filling];
    if (b->len) {
        while (!s->done && s->queued == NBUF - 1)
            pthread_cond_wait(&s->changed, &s->lock);
        if (s->done)
            return false;
        b->read = 0;
        s->queued++;
        s->filling = (s->head + s->queued) % NBUF;
        s->bufs[s->filling].len = 0;
        pthread_cond_broadcast(&s->changed);
    }
    return !s->done;
}

uint8_t *ct_http_stream_reserve(struct ct_http_stream *s, size_t n, uint8_t **end)
{
    struct buffer *b = &s->bufs[s->filling];
    if (b->len + n <= b->cap) {
        *end = b->data + b->cap;
        return b->data + b->len;
    }
    pthread_mutex_lock(&s->lock);
    bool ok = next_buffer(s);
    pthread_mutex_unlock(&s->lock);
    if (!ok)
        return NULL;
    b = &s->bufs[s->filling];
    if (n > b->cap) { /* one row longer than a buffer */
        uint8_t *grown = realloc(b->data, n);
        if (!grown)
            return NULL;
        b->data = grown;
        b->cap = n;
    }
    *end = b->data + b->cap;
    return b->data + b->len;
}

void ct_http_stream_commit(struct ct_http_stream *s, size_t n)
{
    s->bufs[s->filling].len += n;
    s->sent += n;
}

uint64_t ct_http_stream_sent(const struct ct_http_stream *s)
{
    return s->sent;
}

int ct_http_stream_finish(struct ct_http_stream *s, bool abort, struct ct_http_response *r)
{
    pthread_mutex_lock(&s->lock);
    if (abort)
        s->aborted = true;
    else if (next_buffer(s))
        s->ended = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    *r = s->response;
    int rc = s->rc;
    if (abort && rc == 0 && r->status == 0)
        rc = -1;
    ct_curl.easy_cleanup(s->h);
    ct_curl.slist_free_all(s->headers);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
    for (unsigned i = 0; i < NBUF; i++)
        free(s->bufs[i].data);
    free(s);
    return rc;
}

/* ---- URLs ---- */

char *ct_http_escape(const char *s)
{
    char *e = ct_curl.easy_escape(NULL, s, (int)strlen(s));
    char *copy = e ? strdup(e) : NULL;
    if (e)
        ct_curl.free(e);
    return copy;
}

char *ct_http_url(const char *base, const char *path, const char *params)
{
    /* The base's query string, if any, stays after the path. */
    const char *q = strchr(base, '?');
    size_t host_len = q ? (size_t)(q - base) : strlen(base);
    while (host_len > 0 && base[host_len - 1] == '/')
        host_len--;
    size_t cap = host_len + strlen(path) + (q ? strlen(q) : 0) + strlen(params) + 8;
    char *url = malloc(cap);
    if (!url)
        return NULL;
    int n = snprintf(url, cap, "%.*s%s%s", (int)host_len, base, path, q ? q : "");
    if (params[0])
        snprintf(url + n, cap - (size_t)n, "%s%s", q ? "&" : "?", params);
    return url;
}
