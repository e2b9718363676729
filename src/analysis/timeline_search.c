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
    size_t need; /* finds still wanted from this generation */
    struct found *found;
    size_t n, cap;
    struct open_match *open;
    size_t nopen, open_cap;
    /* per thread (a small hash, tid -> slot): how many regions are open
     * since the search began, and this generation's finds */
    uint64_t *tids;
    uint32_t *depth, *finds;
    size_t slots;
    /* the finds whose end is still to be seen: tasks by id, regions by
     * thread and begin (sorted, for a binary search) */
    struct key { uint64_t a; int64_t b; size_t index; } *tasks, *regions;
    size_t ntasks, nregions;
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

/* A thread's slot in the hash, added when new; SIZE_MAX when full. */
static size_t slot_of(struct search *s, uint64_t tid)
{
    size_t k = (size_t)(tid * 0x9e3779b97f4a7c15u >> 32) % s->slots;
    for (size_t probes = 0; probes < s->slots; probes++, k = (k + 1) % s->slots) {
        if (s->tids[k] == tid)
            return k;
        if (s->tids[k] == 0) {
            s->tids[k] = tid;
            return k;
        }
    }
    return SIZE_MAX;
}

static void copy_text(char *dst, size_t size, const void *src, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* The first pass over a generation: what matches, at most `need` a thread
 * (a thread's batches are in time order, so the first `need` of the
 * generation in time are among them). */
static void collect(struct search *s, const struct ct_gen *gen, uint64_t tid,
                    const struct ct_event *ev)
{
    const struct ct_idmap_entry *e = NULL;
    enum found_kind kind;
    if (ev->kind == CT_EV_REGION_BEGIN) {
        e = ct_idmap_get(&gen->strings, ev->args[1]);
        if (!e || !holds(e->data, e->len, s->q))
            return;
        kind = FOUND_REGION;
    } else if (ev->kind == CT_EV_TASK_BEGIN) {
        e = ct_idmap_get(&gen->strings, ev->args[2]);
        if (!(e && holds(e->data, e->len, s->q)) && !(s->id && ev->args[0] == s->id))
            return;
        kind = FOUND_TASK;
    } else if (ev->kind == CT_EV_LOG) {
        e = ct_idmap_get(&gen->strings, ev->args[1]);
        if (!(e && holds(e->data, e->len, s->q)) && !holds(ev->bytes, ev->bytes_len, s->q))
            return;
        kind = FOUND_LOG;
    } else {
        return;
    }
    size_t k = slot_of(s, tid);
    if (k == SIZE_MAX || s->finds[k] >= s->need || !CT_TL_GROW(s->found, s->n, s->cap, 64))
        return;
    s->finds[k]++;
    struct found *f = &s->found[s->n++];
    *f = (struct found){ev->ts_ns, kind == FOUND_LOG ? ev->ts_ns : -1, tid, ev->args[0], kind, "", ""};
    if (e)
        copy_text(f->name, sizeof f->name, e->data, e->len);
    if (kind == FOUND_LOG)
        copy_text(f->text, sizeof f->text, ev->bytes, ev->bytes_len);
}

static int by_key(const void *x, const void *y)
{
    const struct key *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

static const struct key *lookup(const struct key *keys, size_t n, uint64_t a, int64_t b)
{
    struct key k = {a, b, 0};
    return n ? bsearch(&k, keys, n, sizeof k, by_key) : NULL;
}

/* The finds whose ends are wanted, sorted for lookup; false without
 * memory. */
static bool index_pending(struct search *s)
{
    free(s->tasks);
    free(s->regions);
    s->ntasks = s->nregions = 0;
    s->tasks = malloc((s->n + 1) * sizeof *s->tasks);
    s->regions = malloc((s->n + 1) * sizeof *s->regions);
    if (!s->tasks || !s->regions)
        return false;
    for (size_t i = 0; i < s->n; i++) {
        const struct found *f = &s->found[i];
        if (f->kind == FOUND_TASK && f->end < 0)
            s->tasks[s->ntasks++] = (struct key){f->task, 0, i};
        else if (f->kind == FOUND_REGION && f->end < 0)
            s->regions[s->nregions++] = (struct key){f->tid, f->t, i};
    }
    qsort(s->tasks, s->ntasks, sizeof *s->tasks, by_key);
    qsort(s->regions, s->nregions, sizeof *s->regions, by_key);
    return true;
}

static bool pending(const struct search *s)
{
    if (s->nopen)
        return true;
    for (size_t i = 0; i < s->ntasks; i++)
        if (s->found[s->tasks[i].index].end < 0)
            return true;
    for (size_t i = 0; i < s->nregions; i++)
        if (s->found[s->regions[i].index].end < 0)
            return true;
    return false;
}

/* The second pass: where the finds end. Regions nest: a thread's end
 * ends its innermost open region, counted from where the search began. */
static void find_ends(struct search *s, uint64_t tid, const struct ct_event *ev)
{
    size_t k;
    const struct key *key;
    switch (ev->kind) {
    case CT_EV_REGION_BEGIN:
        if (ev->ts_ns < s->after || (k = slot_of(s, tid)) == SIZE_MAX)
            break;
        s->depth[k]++;
        key = lookup(s->regions, s->nregions, tid, ev->ts_ns);
        if (key && s->found[key->index].end < 0 && CT_TL_GROW(s->open, s->nopen, s->open_cap, 16))
            s->open[s->nopen++] = (struct open_match){tid, s->depth[k], 0, key->index};
        break;
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT:
        if ((k = slot_of(s, tid)) == SIZE_MAX || s->depth[k] == 0)
            break; /* begun before the search */
        for (size_t i = s->nopen; i-- > 0;)
            if (s->open[i].tid == tid && s->open[i].depth == s->depth[k]) {
                s->found[s->open[i].index].end = ev->ts_ns;
                s->open[i] = s->open[--s->nopen];
                break;
            }
        s->depth[k]--;
        break;
    case CT_EV_TASK_END:
        key = lookup(s->tasks, s->ntasks, ev->args[0], 0);
        if (key && s->found[key->index].end < 0)
            s->found[key->index].end = ev->ts_ns;
        break;
    }
}

static int by_time(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* One pass over a generation: every batch in file order (a thread's
 * definitions come before their use in its own batches). */
static int scan(struct search *s, struct ct_reader *rd, struct ct_gen *gen, bool first_pass)
{
    uint64_t want = first_pass ? 1ull << CT_EV_REGION_BEGIN | 1ull << CT_EV_TASK_BEGIN |
                                     1ull << CT_EV_LOG
                               : 1ull << CT_EV_REGION_BEGIN | 1ull << CT_EV_REGION_END |
                                     1ull << CT_EV_REGION_END_AT | 1ull << CT_EV_TASK_END;
    for (size_t b = 0; b < gen->nbatches; b++) {
        struct ct_event_iter it;
        struct ct_event ev;
        uint64_t counts[CT_MAX_KINDS];
        int r;
        ct_rd_events(gen, b, &it);
        while ((r = ct_rd_skim_events(rd, &it, want, counts, &ev)) == 1) {
            if (!ev.timed || !(want >> ev.kind & 1))
                continue;
            if (!first_pass)
                find_ends(s, gen->batches[b].tid, &ev);
            else if (ev.ts_ns >= s->after)
                collect(s, gen, gen->batches[b].tid, &ev);
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

static void write_found(const struct ct_timeline *tl, const struct found *f, bool first, FILE *out)
{
    static const char *kinds[] = {"region", "task", "log"};
    fprintf(out, "%s{\"kind\":\"%s\",\"t\":%" PRId64 ",\"end\":%" PRId64 ",\"tid\":%" PRIu64
                 ",\"task\":%" PRIu64 ",\"name\":",
            first ? "" : ",", kinds[f->kind], f->t, f->end, f->tid | tl->json_tid_base, f->task);
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
    rd.have_start = tl->src.have_start; /* the same time zero (a tree's) */
    rd.start_mono_ns = tl->src.start_mono_ns;
    struct search s = {.q = q, .after = after};
    char *end;
    unsigned long long id = strtoull(q, &end, 10);
    s.id = *q && !*end ? id : 0;
    s.slots = tl->nlanes * 2 + 16;
    s.tids = calloc(s.slots, sizeof *s.tids);
    s.depth = calloc(s.slots, sizeof *s.depth);
    s.finds = calloc(s.slots, sizeof *s.finds);
    /* From the generation before the last that begins at or before after:
     * a generation may hold events from a little before its base. */
    size_t g = 0;
    while (g + 1 < tl->ngens && tl->gens[g + 1].begin <= after)
        g++;
    g = g ? g - 1 : 0;
    struct ct_gen gen = {0};
    uint64_t read = 0;
    int rc = s.tids && s.depth && s.finds ? 0 : -1;
    size_t extra = 0; /* generations read for ends after enough were found */
    int64_t looked_to = after;
    bool done = true;
    for (; rc == 0 && g < tl->ngens; g++) {
        if (read >= CT_SEARCH_BYTES || extra > 2) {
            done = s.n < limit && extra == 0 ? false : done;
            break;
        }
        if (ct_rd_gen_at(&rd, tl->gens[g].offset, &gen) != 1) {
            rc = -1;
            break;
        }
        read += tl->gens[g].end_offset - tl->gens[g].offset;
        if (s.n < limit) {
            /* The first `need` finds of this generation in time, kept. */
            size_t before = s.n;
            s.need = limit - s.n;
            memset(s.finds, 0, s.slots * sizeof *s.finds);
            rc = scan(&s, &rd, &gen, true);
            if (s.n > before)
                qsort(s.found + before, s.n - before, sizeof *s.found, by_time);
            if (s.n > limit)
                s.n = limit;
            if (rc == 0 && !index_pending(&s))
                rc = -1;
            looked_to = g + 1 < tl->ngens ? tl->gens[g + 1].begin : tl->end;
        } else {
            extra++;
        }
        if (rc == 0)
            rc = scan(&s, &rd, &gen, false);
        if (s.n >= limit && !pending(&s))
            break;
    }
    if (s.n >= limit)
        done = false;
    fprintf(out, "{\"after\":%" PRId64 ",\"results\":[", after);
    for (size_t i = 0; rc == 0 && i < s.n; i++)
        write_found(tl, &s.found[i], i == 0, out);
    fprintf(out, "],\"looked_to\":%" PRId64 ",\"done\":%s}", looked_to, done ? "true" : "false");
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    free(s.found);
    free(s.open);
    free(s.tids);
    free(s.depth);
    free(s.finds);
    free(s.tasks);
    free(s.regions);
    return rc;
}
