/*
 * http_sink.c - a server that takes whatever ctrace export sends and keeps
 * nothing, for bench_fleet.py: what the exporter itself can send, apart
 * from what a ClickHouse server on the same two cores can take.
 *
 *   http_sink COLUMNS-FILE
 *
 * Listens on 127.0.0.1 (a free port, printed on the first line of standard
 * output), a thread per connection. Every request is answered 200 when its
 * body has been read (chunked or with a length) and thrown away; a body
 * that asks for system.columns is answered with COLUMNS-FILE (the RowBinary
 * answer of a real server with ctrace's tables), the others with nothing.
 * A request with "http_sink_bytes" in its URL is answered with the bytes
 * of bodies taken so far.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *columns;
static size_t columns_len;
static atomic_ullong body_bytes;

struct conn {
    int fd;
    char buf[1 << 20];
    size_t len, pos; /* bytes in buf, and where parsing is */
};

/* Makes at least n unread bytes available; false at the end. */
static bool fill(struct conn *c, size_t n)
{
    if (c->len - c->pos >= n)
        return true;
    memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    c->len -= c->pos;
    c->pos = 0;
    while (c->len < n) {
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r <= 0)
            return false;
        c->len += (size_t)r;
    }
    return true;
}

/* A line ending in CRLF, NUL-terminated in place; NULL at the end. */
static char *line(struct conn *c)
{
    for (;;) {
        char *end = memmem(c->buf + c->pos, c->len - c->pos, "\r\n", 2);
        if (end) {
            *end = 0;
            char *s = c->buf + c->pos;
            c->pos = (size_t)(end - c->buf) + 2;
            return s;
        }
        if (c->len - c->pos == sizeof c->buf || !fill(c, c->len - c->pos + 1))
            return NULL;
    }
}

/* Skips n body bytes, keeping the first ones in keep (cap bytes). */
static bool skip(struct conn *c, size_t n, char *keep, size_t cap, size_t *kept)
{
    while (n) {
        if (c->pos == c->len && !fill(c, 1))
            return false;
        size_t k = c->len - c->pos < n ? c->len - c->pos : n;
        if (*kept < cap) {
            size_t m = cap - *kept < k ? cap - *kept : k;
            memcpy(keep + *kept, c->buf + c->pos, m);
            *kept += m;
        }
        c->pos += k;
        n -= k;
        atomic_fetch_add(&body_bytes, k);
    }
    return true;
}

static void *serve(void *arg)
{
    struct conn *c = arg;
    for (;;) {
        char *request = line(c);
        if (!request)
            break;
        bool counter = strstr(request, "http_sink_bytes") != NULL;
        size_t length = 0;
        bool chunked = false;
        char *h;
        while ((h = line(c)) && *h) {
            if (strncasecmp(h, "content-length:", 15) == 0)
                length = strtoull(h + 15, NULL, 10);
            if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strstr(h, "chunked"))
                chunked = true;
        }
        if (!h)
            break;
        char head[4096];
        size_t kept = 0;
        bool ok = true;
        if (chunked) {
            for (;;) {
                char *size = line(c);
                if (!size) {
                    ok = false;
                    break;
                }
                size_t n = strtoull(size, NULL, 16);
                if (n == 0) {
                    while ((h = line(c)) && *h) /* trailers */
                        ;
                    ok = h != NULL;
                    break;
                }
                if (!skip(c, n, head, sizeof head, &kept) || !line(c)) {
                    ok = false;
                    break;
                }
            }
        } else {
            ok = skip(c, length, head, sizeof head, &kept);
        }
        if (!ok)
            break;
        char answer[64];
        const char *body = "";
        size_t body_len = 0;
        if (counter) {
            body_len = (size_t)snprintf(answer, sizeof answer, "%llu\n",
                                        (unsigned long long)atomic_load(&body_bytes));
            body = answer;
        } else if (memmem(head, kept, "system.columns", 14)) {
            body = columns;
            body_len = columns_len;
        }
        char reply[256];
        int n = snprintf(reply, sizeof reply,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                         body_len);
        if (write(c->fd, reply, (size_t)n) != n ||
            (body_len && write(c->fd, body, body_len) != (ssize_t)body_len))
            break;
    }
    close(c->fd);
    free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: http_sink COLUMNS-FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        return perror(argv[1]), 1;
    columns_len = (size_t)ftell(f);
    rewind(f);
    columns = malloc(columns_len + 1);
    if (!columns || fread(columns, 1, columns_len, f) != columns_len)
        return perror(argv[1]), 1;
    fclose(f);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0)
        return perror("http_sink"), 1;
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0)
            continue;
        struct conn *c = malloc(sizeof *c);
        pthread_t t;
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->len = c->pos = 0;
        if (pthread_create(&t, NULL, serve, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}
