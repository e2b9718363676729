/*
 * otlp.c - tasks, regions and logs as OpenTelemetry spans (otlp.h).
 *
 * The mapping, Go's trace annotations seen as distributed tracing:
 *   a task        a trace, with a span of its own (name: the task's type)
 *                 from its begin to its end; a subtask is a trace of its
 *                 own whose task span links to its parent task's span
 *   a region      a span in its task's trace, the child of the region it
 *                 is nested in on its thread (of the same task), else of
 *                 its task's span; a region of no task is in the trace of
 *                 the region it is nested in, or the root of a trace
 *   a log         an event of the span it happened in: the innermost open
 *                 region of its thread (when of its task), else its task's
 *                 span; a log of no task outside any region is a span of
 *                 its own with that one event
 *   the process   the resource: service.name, host.name, process.pid, ...
 *   a thread      span attributes thread.id and thread.name
 * Ids are hashes of the trace's identity (host, pid, session start, first
 * generation) and the thing's own (task id; thread and the region's number
 * on it): the same file always gives the same ids, so spans exported twice
 * are the same spans to a back end.
 *
 * OTLP/JSON (the OTLP specification's JSON Protobuf Encoding): field names
 * in lowerCamelCase; traceId and spanId as hex, not base64; 64-bit
 * integers (times in ns since 1970, intValue) as decimal strings; enums
 * (kind) as integers.
 *
 * A span is written when it ends; its events wait until then (at most
 * EVENTS_MAX a span, the rest counted in droppedEventsCount).
 */
#include "otlp.h"

#include "idset.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_MAX 128
#define MESSAGE_MAX 4096

/* ---- text ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

/* Room for n more bytes and a NUL; b->oom when there is none. */
static __attribute__((noinline)) void grow(struct sbuf *b, size_t n)
{
    if (b->oom)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static inline bool reserve(struct sbuf *b, size_t n)
{
    if (__builtin_expect(b->len + n + 1 > b->cap, 0))
        grow(b, n);
    return !b->oom;
}

/* The text is NUL-terminated only where it is read as a string
 * (terminated()): most puts are a few bytes, and a store each counts. */
static inline void put(struct sbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static const char *terminated(struct sbuf *b)
{
    if (!reserve(b, 0))
        return NULL;
    b->p[b->len] = 0;
    return b->p;
}

static void puts_(struct sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

#define LIT(b, s) put(b, s, sizeof s - 1)

/* Decimal, written in place from its last digit, two digits a division:
 * a span's times are 19 digits, and most of its numbers. */
static void put_u64(struct sbuf *b, uint64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    size_t n = 1;
    for (uint64_t p = 10; n < 20 && v >= p; p *= 10)
        n++;
    if (!reserve(b, n))
        return;
    char *d = b->p + b->len + n;
    b->len += n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100) * 2;
        v /= 100;
        *--d = pairs[r + 1];
        *--d = pairs[r];
    }
    if (v >= 10) {
        *--d = pairs[v * 2 + 1];
        *--d = pairs[v * 2];
    } else {
        *--d = (char)('0' + v);
    }
}

static void put_i64(struct sbuf *b, int64_t v)
{
    if (v < 0) {
        LIT(b, "-");
        put_u64(b, 0 - (uint64_t)v);
    } else {
        put_u64(b, (uint64_t)v);
    }
}

static void put_hex64(struct sbuf *b, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    if (!reserve(b, 16))
        return;
    char *d = b->p + b->len;
    for (int i = 15; i >= 0; i--, v >>= 4)
        d[i] = digits[v & 15];
    b->len += 16;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 when
 * it is not one (RFC 3629: no overlong forms, surrogates or values past
 * U+10FFFF). */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* A JSON string of len bytes: valid UTF-8 as it is, other bytes as
 * U+FFFD (a trace's bytes need not be UTF-8; OTLP's strings must be). */
static void json_str(struct sbuf *b, const void *s, size_t len)
{
    const uint8_t *p = s;
    reserve(b, len + 2);
    put(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < len;) {
        uint8_t c = p[i];
        size_t n = 1;
        const char *esc = NULL;
        char u[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        } else if (c >= 0x80 && !(n = utf8_len(p + i, len - i))) {
            esc = "\\ufffd";
            n = 1;
        }
        if (esc) {
            put(b, (const char *)p + i - run, run);
            run = 0;
            puts_(b, esc);
        } else {
            run += n;
        }
        i += n;
    }
    put(b, (const char *)p + len - run, run);
    put(b, "\"", 1);
}

/* ---- ids ---- */

/* The trace's identity, and seeds derived from it for each kind of id. */
struct ids {
    uint64_t identity, tasks, regions, spans, logs;
};

static uint64_t nonzero(uint64_t v)
{
    return v ? v : 1;
}

/* A trace id: 128 bits from a 64-bit seed, in hex. */
static void put_trace_id(struct sbuf *b, uint64_t seed)
{
    put_hex64(b, nonzero(ct_fleet_hash_u64(seed, 1)));
    put_hex64(b, ct_fleet_hash_u64(seed, 2));
}

static uint64_t task_trace(const struct ids *x, uint64_t task)
{
    return ct_fleet_hash_u64(x->tasks, task);
}

static uint64_t task_span(const struct ids *x, uint64_t task)
{
    return nonzero(ct_fleet_hash_u64(task_trace(x, task), 0));
}

static uint64_t region_trace(const struct ids *x, uint64_t tid, uint32_t root)
{
    return ct_fleet_hash_u64(ct_fleet_hash_u64(x->regions, tid), root);
}

static uint64_t region_span(const struct ids *x, uint64_t tid, uint32_t seq)
{
    return nonzero(ct_fleet_hash_u64(ct_fleet_hash_u64(x->spans, tid), seq));
}

/* ---- events waiting for their span ---- */

struct pending {
    uint64_t span; /* 0: empty, UINT64_MAX: removed */
    uint64_t trace;
    uint64_t first_ns, last_ns;
    char **events;
    uint32_t count, dropped;
};

struct pending_map {
    struct pending *slots;
    size_t cap, used, live;
};

static size_t slot_of(uint64_t key, size_t cap)
{
    return (size_t)(key * 0x9E3779B97F4A7C15u >> 20) & (cap - 1);
}

static struct pending *pending_find(struct pending_map *m, uint64_t span)
{
    if (!m->cap)
        return NULL;
    for (size_t i = slot_of(span, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].span == span)
            return &m->slots[i];
        if (!m->slots[i].span)
            return NULL;
    }
}

static struct pending *pending_add(struct pending_map *m, uint64_t span)
{
    if ((m->used + 1) * 2 > m->cap) {
        size_t cap = !m->cap ? 64 : m->live * 4 < m->cap ? m->cap : m->cap * 2;
        struct pending *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return NULL;
        size_t used = 0;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].span || m->slots[i].span == UINT64_MAX)
                continue;
            size_t j = slot_of(m->slots[i].span, cap);
            while (slots[j].span)
                j = (j + 1) & (cap - 1);
            slots[j] = m->slots[i];
            used++;
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
        m->used = used;
    }
    size_t i = slot_of(span, m->cap);
    while (m->slots[i].span && m->slots[i].span != UINT64_MAX)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].span)
        m->used++;
    m->slots[i] = (struct pending){.span = span};
    m->live++;
    return &m->slots[i];
}

static void pending_drop(struct pending_map *m, struct pending *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        free(p->events[i]);
    free(p->events);
    p->span = UINT64_MAX;
    p->events = NULL;
    m->live--;
}

/* ---- the writer ---- */

struct writer {
    const struct ct_otlp_out *out;
    struct ct_otlp_counts *counts;
    struct ids ids;
    struct sbuf header; /* the request's start, up to the spans array */
    struct sbuf req, span, event;
    size_t spans_in_req;
    struct pending_map pending;
    /* Tasks whose span was written in this generation and the one before:
     * a log of theirs read now is late (on_log). */
    struct ct_idset written[2];
    bool stopped;
};

static void flush(struct writer *w)
{
    if (!w->spans_in_req || w->stopped)
        return;
    puts_(&w->req, "]}]}]}");
    if (w->req.oom) {
        w->stopped = true;
        return;
    }
    w->counts->requests++;
    if (w->out->request(w->out->ctx, w->req.p, w->req.len) != 0)
        w->stopped = true;
    w->req.len = 0;
    w->spans_in_req = 0;
}

/* Adds the span just built (w->span) to the request, sending the request
 * first when it would grow past the limit. */
static void add_span(struct writer *w)
{
    if (w->stopped)
        return;
    if (w->spans_in_req && w->req.len + w->span.len + 16 > CT_OTLP_REQUEST_MAX)
        flush(w);
    if (w->stopped)
        return;
    if (!w->spans_in_req) {
        w->req.len = 0;
        put(&w->req, w->header.p, w->header.len);
    } else {
        put(&w->req, ",", 1);
    }
    put(&w->req, w->span.p, w->span.len);
    w->spans_in_req++;
    w->counts->spans++;
}

static void attr_key(struct sbuf *b, bool *first, const char *key)
{
    if (!*first)
        LIT(b, ",");
    *first = false;
    LIT(b, "{\"key\":\"");
    puts_(b, key);
}

static void attr_int(struct sbuf *b, bool *first, const char *key, int64_t v)
{
    attr_key(b, first, key);
    LIT(b, "\",\"value\":{\"intValue\":\"");
    put_i64(b, v);
    LIT(b, "\"}}");
}

static void attr_str(struct sbuf *b, bool *first, const char *key, const void *s, size_t len)
{
    attr_key(b, first, key);
    LIT(b, "\",\"value\":{\"stringValue\":");
    json_str(b, s, len);
    LIT(b, "}}");
}

/* Starts w->span: ids, name, times. parent 0: a root. */
static void span_begin(struct writer *w, uint64_t trace, uint64_t span, uint64_t parent,
                       const char *name, size_t name_len, uint64_t start, uint64_t end)
{
    struct sbuf *b = &w->span;
    b->len = 0;
    LIT(b, "{\"traceId\":\"");
    put_trace_id(b, trace);
    LIT(b, "\",\"spanId\":\"");
    put_hex64(b, span);
    if (parent) {
        LIT(b, "\",\"parentSpanId\":\"");
        put_hex64(b, parent);
    }
    LIT(b, "\",\"name\":");
    json_str(b, name, name_len);
    LIT(b, ",\"kind\":1,\"startTimeUnixNano\":\"");
    put_u64(b, start);
    LIT(b, "\",\"endTimeUnixNano\":\"");
    put_u64(b, end < start ? start : end);
    LIT(b, "\",\"attributes\":[");
}

/* Ends w->span (its attributes and links written) with the events of p
 * (may be NULL), which it drops, and adds it. */
static void span_end_with(struct writer *w, struct pending *p)
{
    if (p) {
        LIT(&w->span, ",\"events\":[");
        for (uint32_t i = 0; i < p->count; i++) {
            if (i)
                LIT(&w->span, ",");
            puts_(&w->span, p->events[i]);
        }
        LIT(&w->span, "]");
        if (p->dropped) {
            LIT(&w->span, ",\"droppedEventsCount\":");
            put_u64(&w->span, p->dropped);
        }
        w->counts->events += p->count;
        w->counts->dropped_events += p->dropped;
        pending_drop(&w->pending, p);
    }
    LIT(&w->span, "}");
    add_span(w);
}

/* Ends w->span with the events waiting for it, and adds it. */
static void span_end(struct writer *w, uint64_t span)
{
    span_end_with(w, pending_find(&w->pending, span));
}

static const char *status_name(int status)
{
    return status == CT_FLEET_UNFINISHED ? "unfinished"
           : status == CT_FLEET_UNMATCHED ? "begun_before_trace"
                                          : NULL;
}

static int on_region(void *ctx, const struct ct_fleet_region *r)
{
    struct writer *w = ctx;
    const struct ids *x = &w->ids;
    uint64_t trace, span, parent = 0;
    if (r->status == CT_FLEET_UNMATCHED) {
        /* No number on its thread: its own trace, named by its end. */
        trace = region_trace(x, r->tid, 0) ^ (uint64_t)r->end_ns;
        span = nonzero(ct_fleet_hash_u64(trace, r->tid));
    } else {
        trace = r->trace_task ? task_trace(x, r->trace_task) : region_trace(x, r->tid, r->trace_root);
        span = region_span(x, r->tid, r->seq);
        if (r->parent_seq && (r->task == 0 || r->parent_task == r->task))
            parent = region_span(x, r->tid, r->parent_seq);
        else if (r->task)
            parent = task_span(x, r->task);
    }
    uint64_t end = r->begin_real_ns + ct_span_ns(r->begin_ns, r->end_ns);
    span_begin(w, trace, span, parent, r->type, strlen(r->type), r->begin_real_ns, end);
    bool first = true;
    attr_int(&w->span, &first, "thread.id", (int64_t)r->tid);
    attr_str(&w->span, &first, "thread.name", r->thread_name, strlen(r->thread_name));
    if (r->task)
        attr_int(&w->span, &first, "ctrace.task.id", (int64_t)r->task);
    attr_int(&w->span, &first, "ctrace.region.depth", r->depth);
    const char *status = status_name(r->status);
    if (status)
        attr_str(&w->span, &first, "ctrace.status", status, strlen(status));
    LIT(&w->span, "]");
    span_end(w, span);
    w->counts->region_spans++;
    return w->stopped;
}

static int on_task(void *ctx, const struct ct_fleet_task *t)
{
    struct writer *w = ctx;
    const struct ids *x = &w->ids;
    uint64_t span = task_span(x, t->id);
    uint64_t end = t->begin_real_ns + ct_span_ns(t->begin_ns, t->end_ns);
    const char *name = t->type[0] ? t->type : "(task begun before the trace)";
    span_begin(w, task_trace(x, t->id), span, 0, name, strlen(name), t->begin_real_ns, end);
    bool first = true;
    attr_int(&w->span, &first, "ctrace.task.id", (int64_t)t->id);
    if (t->parent)
        attr_int(&w->span, &first, "ctrace.task.parent_id", (int64_t)t->parent);
    if (t->begin_tid)
        attr_int(&w->span, &first, "thread.id", (int64_t)t->begin_tid);
    const char *status = status_name(t->status);
    if (status)
        attr_str(&w->span, &first, "ctrace.status", status, strlen(status));
    LIT(&w->span, "]");
    if (t->parent) {
        LIT(&w->span, ",\"links\":[{\"traceId\":\"");
        put_trace_id(&w->span, task_trace(x, t->parent));
        LIT(&w->span, "\",\"spanId\":\"");
        put_hex64(&w->span, task_span(x, t->parent));
        LIT(&w->span, "\"}]");
    }
    span_end(w, span);
    if (ct_idset_add(&w->written[0], t->id) < 0)
        w->stopped = w->event.oom = true;
    w->counts->task_spans++;
    return w->stopped;
}

/* The event of a log, as JSON, in w->event. */
static void log_event(struct writer *w, const struct ct_fleet_log *l)
{
    struct sbuf *b = &w->event;
    b->len = 0;
    LIT(b, "{\"timeUnixNano\":\"");
    put_u64(b, l->real_ns);
    LIT(b, "\",\"name\":");
    json_str(b, l->category, l->category_len);
    LIT(b, ",\"attributes\":[");
    bool first = true;
    size_t len = l->message_len;
    if (len > MESSAGE_MAX) {
        len = MESSAGE_MAX;
        while (len > 0 && (l->message[len] & 0xc0) == 0x80) /* not inside a character */
            len--;
    }
    attr_str(b, &first, "message", l->message, len);
    if (len < l->message_len)
        attr_int(b, &first, "ctrace.message.bytes", (int64_t)l->message_len);
    attr_int(b, &first, "thread.id", (int64_t)l->tid);
    if (l->task)
        attr_int(b, &first, "ctrace.task.id", (int64_t)l->task);
    LIT(b, "]}");
}

/* A span of its own for the event in w->event: a log of no task outside
 * any region (parent 0), or one read after its span was written. */
static void log_span(struct writer *w, uint64_t trace, uint64_t span, uint64_t parent,
                     const struct ct_fleet_log *l, const char *status)
{
    if (parent)
        span_begin(w, trace, span, parent, "logs", 4, l->real_ns, l->real_ns);
    else
        span_begin(w, trace, span, 0, l->category, l->category_len, l->real_ns, l->real_ns);
    bool first = true;
    attr_int(&w->span, &first, "thread.id", (int64_t)l->tid);
    attr_str(&w->span, &first, "thread.name", l->thread_name, strlen(l->thread_name));
    if (status)
        attr_str(&w->span, &first, "ctrace.status", status, strlen(status));
    LIT(&w->span, "],\"events\":[");
    put(&w->span, w->event.p, w->event.len);
    LIT(&w->span, "]}");
    w->counts->events++;
    w->counts->log_spans++;
    add_span(w);
}

static int on_log(void *ctx, const struct ct_fleet_log *l)
{
    struct writer *w = ctx;
    const struct ids *x = &w->ids;
    uint64_t span, trace;
    if (l->region_seq && (l->task == 0 || l->task == l->region_task)) {
        span = region_span(x, l->tid, l->region_seq);
        trace = l->region_trace_task ? task_trace(x, l->region_trace_task)
                                     : region_trace(x, l->tid, l->region_trace_root);
    } else if (l->task) {
        span = task_span(x, l->task);
        trace = task_trace(x, l->task);
        if (!l->task_pending &&
            (ct_idset_has(&w->written[0], l->task) || ct_idset_has(&w->written[1], l->task))) {
            /* Its task's span is written already: a task's log on another
             * thread, whose batch is read after the task's end. */
            log_event(w, l);
            log_span(w, trace, nonzero(ct_fleet_hash_u64(span, (uint64_t)l->ts_ns)), span, l,
                     "late_logs");
            return w->stopped;
        }
    } else {
        /* Of no task, in no region: a span of its own. */
        trace = ct_fleet_hash_u64(ct_fleet_hash_u64(x->logs, l->tid), (uint64_t)l->ts_ns);
        log_event(w, l);
        log_span(w, trace, nonzero(ct_fleet_hash_u64(trace, 0)), 0, l, NULL);
        return w->stopped;
    }
    struct pending *p = pending_find(&w->pending, span);
    if (!p && !(p = pending_add(&w->pending, span))) {
        w->stopped = w->event.oom = true;
        return 1;
    }
    p->trace = trace;
    if (!p->count && !p->dropped)
        p->first_ns = l->real_ns;
    p->last_ns = l->real_ns;
    if (p->count == EVENTS_MAX) {
        p->dropped++;
        return 0;
    }
    log_event(w, l);
    char **events = realloc(p->events, (p->count + 1) * sizeof *events);
    const char *text = terminated(&w->event);
    char *copy = text ? strdup(text) : NULL;
    if (events)
        p->events = events;
    if (!events || !copy) {
        free(copy);
        w->stopped = w->event.oom = true;
        return 1;
    }
    p->events[p->count++] = copy;
    return 0;
}

/* Logs whose span was written generations before them: a span of their
 * own, the child of the one they belong to. */
static void late_logs(struct writer *w)
{
    for (size_t i = 0; i < w->pending.cap && !w->stopped; i++) {
        struct pending *p = &w->pending.slots[i];
        if (!p->span || p->span == UINT64_MAX)
            continue;
        uint64_t span = nonzero(ct_fleet_hash_u64(p->span, 'l'));
        span_begin(w, p->trace, span, p->span, "logs", 4, p->first_ns, p->last_ns);
        bool first = true;
        attr_str(&w->span, &first, "ctrace.status", "late_logs", 9);
        LIT(&w->span, "]");
        span_end_with(w, p);
        w->counts->log_spans++;
    }
}

/* A generation begins: task spans written two generations ago are
 * forgotten (their logs are all read by then but for rare ones). */
static void on_generation(void *ctx)
{
    struct writer *w = ctx;
    ct_idset_free(&w->written[1]);
    w->written[1] = w->written[0];
    memset(&w->written[0], 0, sizeof w->written[0]);
}

static void on_progress(void *ctx, uint64_t done, uint64_t size)
{
    struct writer *w = ctx;
    if (w->out->progress)
        w->out->progress(w->out->ctx, done, size);
}

static void resource_header(struct writer *w, const struct ct_fleet_trace *who, const char *host,
                            const char *file)
{
    struct sbuf *b = &w->header;
    b->len = 0;
    LIT(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    bool first = true;
    const char *exe = who->exe[0] ? who->exe : who->command;
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    size_t base_len = strcspn(base, " ");
    if (!base_len)
        base = "unknown", base_len = 7;
    attr_str(b, &first, "service.name", base, base_len);
    attr_str(b, &first, "host.name", host, strlen(host));
    if (who->has_process) {
        attr_int(b, &first, "process.pid", (int64_t)who->pid);
        attr_int(b, &first, "process.parent_pid", (int64_t)who->ppid);
        attr_str(b, &first, "process.executable.path", who->exe, strlen(who->exe));
        attr_str(b, &first, "process.command_line", who->command, strlen(who->command));
    }
    attr_str(b, &first, "ctrace.file", file, strlen(file));
    puts_(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"ctrace\",\"version\":\"" CTRACE_VERSION_STRING
             "\"},\"spans\":[");
}

int ct_otlp_export(struct ct_reader *rd, const struct ct_fleet_trace *who, const char *host,
                   const char *file, const struct ct_otlp_out *out, struct ct_otlp_counts *counts)
{
    struct writer w = {.out = out, .counts = counts};
    uint64_t id = ct_fleet_hash(0, host, strlen(host));
    id = ct_fleet_hash_u64(id, who->pid);
    id = ct_fleet_hash_u64(id, who->start_real_ns);
    w.ids.identity = ct_fleet_hash_u64(id, who->first_generation);
    w.ids.tasks = ct_fleet_hash_u64(w.ids.identity, 'T');
    w.ids.regions = ct_fleet_hash_u64(w.ids.identity, 'R');
    w.ids.spans = ct_fleet_hash_u64(w.ids.identity, 'S');
    w.ids.logs = ct_fleet_hash_u64(w.ids.identity, 'L');
    resource_header(&w, who, host, file);
    struct ct_fleet_sink sink = {.ctx = &w, .region = on_region, .task = on_task, .log = on_log,
                                 .progress = on_progress, .generation = on_generation};
    struct ct_fleet_summary sum;
    int rc = ct_fleet_read(rd, &sink, &sum);
    if (rc == 0) {
        late_logs(&w);
        flush(&w);
    }
    bool oom = w.header.oom || w.req.oom || w.span.oom || w.event.oom;
    for (size_t i = 0; i < w.pending.cap; i++)
        if (w.pending.slots[i].span && w.pending.slots[i].span != UINT64_MAX)
            pending_drop(&w.pending, &w.pending.slots[i]);
    free(w.pending.slots);
    ct_idset_free(&w.written[0]);
    ct_idset_free(&w.written[1]);
    free(w.header.p);
    free(w.req.p);
    free(w.span.p);
    free(w.event.p);
    if (rc < 0)
        return -1;
    if (oom) {
        snprintf(rd->error, sizeof rd->error, "%s: out of memory", rd->path);
        rd->failed = true;
        return -1;
    }
    return w.stopped ? 1 : 0;
}
