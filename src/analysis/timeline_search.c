/*
 * timeline_search.c - search over the timeline of `ctrace view`
 * (timeline.h): the regions and tasks whose type holds a text, the task
 * of an id, and the logs whose category or message holds it, from a time
 * on, in time order. The index keeps no names per item, so the file is
 * read again from the generation before that time, with a reader of its
 * own (the index's windows are not touched), until enough are found: at
 * most CT_SEARCH_BYTES of trace per request, after which the answer says
 * how far it looked and the page asks again from there.
 */
#include "timeline.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define CT_SEARCH_BYTES (256u << 20)

enum found_kind { FOUND_REGION, FOUND_TASK, FOUND_LOG };

struct found {
    int64_t t, end; /* end: -1 until seen */
    uint64_t tid, task;
    enum found_kind kind;
    char name[64];  /* a type, or a log's category */
    char text[160]; /* a log's message, cut */
};

/* A matched region still open, to be ended by its thread's next end at
 * its depth (depths counted from where the search began). */
struct open_match {
    uint64_t tid;
    uint32_t depth, type;
    size_t index;
};

struct search {
    const char *q;
    uint64_t id; /* q as a task id, 0 when it is not a number */
    int64_t after;
    struct found *found;
    size_t n, cap;
    struct open_match *open;
    size_t nopen, open_cap;
    /* per thread: how many regions are open (a small hash, tid -> depth) */
    uint64_t *tids;
    uint32_t *depth;
    size_t slots;
};

static bool holds(const void *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp((const char *)hay + i, needle, n) == 0)
            return true;
    return false;
}

static uint32_t *depth_of(struct search *s, uint64_t tid)
{
    if (!s->slots)
        return NULL;
    size_t k = (size_t)(tid * 0x9e3779b97f4a7c15u >> 32) % s->slots;
    for (size_t probes = 0; probes < s->slots; probes++, k = (k + 1) % s->slots) {
        if (s->tids[k] == tid)
            return &s->depth[k];
        if (s->tids[k] == 0) {
            s->tids[k] = tid;
            return &s->depth[k];
        }
    }
    return NULL;
}

static struct found *add(struct search *s)
{
    if (!CT_TL_GROW(s->found, s->n, s->cap, 64))
        return NULL;
    struct found *f = &s->found[s->n++];
    memset(f, 0, sizeof *f);
    f->end = -1;
    return f;
}

static void copy_text(char *dst, size_t size, const void *src, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void on_region_end(struct search *s, uint64_t tid, int64_t t)
{
    uint32_t *d = depth_of(s, tid);
    if (!d || *d == 0)
        return; /* begun before the search */
    for (size_t i = s->nopen; i-- > 0;)
        if (s->open[i].tid == tid && s->open[i].depth == *d) {
            s->found[s->open[i].index].end = t;
            s->open[i] = s->open[--s->nopen];
            break;
        }
    --*d;
}

static void visit(struct search *s, const struct ct_gen *gen, uint64_t tid,
                  const struct ct_event *ev, bool collect)
{
    const struct ct_idmap_entry *e;
    switch (ev->kind) {
    case CT_EV_REGION_BEGIN: {
        uint32_t *d = depth_of(s, tid);
        if (d)
            ++*d;
        e = ct_idmap_get(&gen->strings, ev->args[1]);
        if (!collect || !e || !holds(e->data, e->len, s->q) || !d)
            break;
        struct found *f = add(s);
        if (!f || !CT_TL_GROW(s->open, s->nopen, s->open_cap, 16))
            break;
        *f = (struct found){ev->ts_ns, -1, tid, ev->args[0], FOUND_REGION, "", ""};
        copy_text(f->name, sizeof f->name, e->data, e->len);
        s->open[s->nopen++] = (struct open_match){tid, *d, 0, (size_t)(f - s->found)};
        break;
    }
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT:
        on_region_end(s, tid, ev->ts_ns);
        break;
    case CT_EV_TASK_BEGIN:
        e = ct_idmap_get(&gen->strings, ev->args[2]);
        if (collect && ((e && holds(e->data, e->len, s->q)) || (s->id && ev->args[0] == s->id))) {
            struct found *f = add(s);
            if (!f)
                break;
            *f = (struct found){ev->ts_ns, -1, tid, ev->args[0], FOUND_TASK, "", ""};
            if (e)
                copy_text(f->name, sizeof f->name, e->data, e->len);
        }
        break;
    case CT_EV_TASK_END:
        for (size_t i = 0; i < s->n; i++)
            if (s->found[i].kind == FOUND_TASK && s->found[i].task == ev->args[0] &&
                s->found[i].end < 0)
                s->found[i].end = ev->ts_ns;
        break;
    case CT_EV_LOG:
        e = ct_idmap_get(&gen->strings, ev->args[1]);
        if (collect && ((e && holds(e->data, e->len, s->q)) || holds(ev->bytes, ev->bytes_len, s->q))) {
            struct found *f = add(s);
            if (!f)
                break;
            *f = (struct found){ev->ts_ns, ev->ts_ns, tid, ev->args[0], FOUND_LOG, "", ""};
            if (e)
                copy_text(f->name, sizeof f->name, e->data, e->len);
            copy_text(f->text, sizeof f->text, ev->bytes, ev->bytes_len);
        }
        break;
    }
}

static int by_time(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* One generation: every batch in file order (a thread's definitions come
 * before their use in its own batches). */
static int scan(struct search *s, struct ct_reader *rd, struct ct_gen *gen, bool collect)
{
    uint64_t want = 1ull << CT_EV_REGION_BEGIN | 1ull << CT_EV_REGION_END |
                    1ull << CT_EV_REGION_END_AT | 1ull << CT_EV_TASK_BEGIN |
                    1ull << CT_EV_TASK_END | 1ull << CT_EV_LOG;
    for (size_t b = 0; b < gen->nbatches; b++) {
        struct ct_event_iter it;
        struct ct_event ev;
        uint64_t counts[CT_MAX_KINDS];
        int r;
        ct_rd_events(gen, b, &it);
        while ((r = ct_rd_skim_events(rd, &it, want, counts, &ev)) == 1)
            if (ev.timed && (ev.kind == CT_EV_REGION_END || ev.kind == CT_EV_REGION_END_AT ||
                             ev.kind == CT_EV_TASK_END || ev.ts_ns >= s->after))
                visit(s, gen, gen->batches[b].tid, &ev, collect);
        if (r < 0)
            return -1;
    }
    return 0;
}

static void write_found(const struct found *f, bool first, FILE *out)
{
    static const char *kinds[] = {"region", "task", "log"};
    fprintf(out, "%s{\"kind\":\"%s\",\"t\":%" PRId64 ",\"end\":%" PRId64 ",\"tid\":%" PRIu64
                 ",\"task\":%" PRIu64 ",\"name\":",
            first ? "" : ",", kinds[f->kind], f->t, f->end, f->tid, f->task);
    ct_json_string(out, f->name, strlen(f->name));
    if (f->kind == FOUND_LOG) {
        fputs(",\"message\":", out);
        ct_json_string(out, f->text, strlen(f->text));
    }
    fputc('}', out);
}

int ct_timeline_search_json(const struct ct_timeline *tl, const char *q, int64_t after,
                            size_t limit, FILE *out)
{
    if (!tl->src_open || !tl->ngens)
        return -1;
    struct ct_reader rd;
    if (ct_rd_open_mem(&rd, tl->src.data, tl->src.size, tl->src.path) != 0)
        return -1;
    struct search s = {.q = q, .after = after};
    char *end;
    unsigned long long id = strtoull(q, &end, 10);
    s.id = *q && !*end ? id : 0;
    s.slots = tl->nlanes * 2 + 16;
    s.tids = calloc(s.slots, sizeof *s.tids);
    s.depth = calloc(s.slots, sizeof *s.depth);
    /* From the generation before the last that begins at or before after:
     * a generation may hold events from a little before its base. */
    size_t g = 0;
    while (g + 1 < tl->ngens && tl->gens[g + 1].begin <= after)
        g++;
    g = g ? g - 1 : 0;
    struct ct_gen gen = {0};
    uint64_t read = 0;
    int rc = s.tids && s.depth ? 0 : -1;
    size_t taken = 0, extra = 0; /* generations read after enough were found */
    int64_t looked_to = after;
    bool done = true;
    for (; rc == 0 && g < tl->ngens; g++) {
        if (read >= CT_SEARCH_BYTES || extra > 2) {
            done = false;
            break;
        }
        if (ct_rd_gen_at(&rd, tl->gens[g].offset, &gen) != 1) {
            rc = -1;
            break;
        }
        bool collect = taken < limit;
        size_t before = s.n;
        rc = scan(&s, &rd, &gen, collect);
        read += tl->gens[g].end_offset - tl->gens[g].offset;
        /* This generation's finds in time order, the first wanted kept:
         * the open regions among the rest are forgotten with them. */
        qsort(s.found + before, s.n - before, sizeof *s.found, by_time);
        if (collect && s.n > limit) {
            for (size_t i = s.nopen; i-- > 0;)
                if (s.open[i].index >= limit)
                    s.open[i] = s.open[--s.nopen];
            s.n = limit;
        }
        taken = s.n;
        looked_to = g + 1 < tl->ngens ? tl->gens[g + 1].begin : tl->end;
        if (taken >= limit) {
            bool pending = s.nopen > 0;
            for (size_t i = 0; i < s.n && !pending; i++)
                pending = s.found[i].end < 0;
            if (!pending)
                break;
            extra++;
        }
    }
    if (taken >= limit)
        done = false;
    fprintf(out, "{\"after\":%" PRId64 ",\"results\":[", after);
    for (size_t i = 0; rc == 0 && i < s.n; i++)
        write_found(&s.found[i], i == 0, out);
    fprintf(out, "],\"looked_to\":%" PRId64 ",\"done\":%s}", looked_to, done ? "true" : "false");
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    free(s.found);
    free(s.open);
    free(s.tids);
    free(s.depth);
    return rc;
}
