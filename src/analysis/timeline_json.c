/*
 * timeline_json.c - the queries of `ctrace view` (timeline.h): what the
 * index built by timeline.c holds between two times at a number of pixels,
 * one span, task or log list, as JSON.
 */
#include "timeline.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "threads.h"

/* ---- JSON ---- */

static void json_str(FILE *out, const char *s)
{
    ct_json_string(out, s, strlen(s));
}

static const char *str(const struct ct_timeline *tl, uint32_t idx)
{
    return idx < tl->nstrings ? tl->text + tl->strings[idx] : "";
}

static const char *state_name(int col)
{
    static const char *names[] = {"running", "network", "blocked", "syscall", "runnable",
                                  "sleeping", "off-cpu"};
    return col >= 0 && col < CT_COL_COUNT ? names[col] : "?";
}

void ct_timeline_summary_json(const struct ct_timeline *tl, FILE *out)
{
    fprintf(out, "{\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"sched\":%s,\"events\":%" PRIu64,
            tl->begin, tl->end, tl->sched ? "true" : "false", tl->events);
    fputs(",\"states\":[", out);
    for (int c = 0; c < CT_COL_COUNT; c++) {
        fprintf(out, "%s", c ? "," : "");
        json_str(out, state_name(c));
    }
    fputs("],\"threads\":[", out);
    for (size_t i = 0; i < tl->nlanes; i++) {
        const struct tl_lane *l = &tl->lanes[i];
        fprintf(out, "%s{\"tid\":%" PRIu64 ",\"name\":", i ? "," : "", l->tid);
        json_str(out, l->name);
        fputs(",\"function\":", out);
        json_str(out, l->function);
        fprintf(out, ",\"spans\":%zu,\"regions\":%zu,\"depth\":%u}", l->nspans, l->nregions,
                l->max_depth);
    }
    fputs("],\"cpus\":[", out);
    for (size_t i = 0; i < tl->ncpus; i++)
        fprintf(out, "%s%d", i ? "," : "", tl->cpus[i].cpu);
    fputs("],\"counters\":[", out);
    for (size_t i = 0; i < tl->ncounters; i++) {
        const char *name = ct_counter_name(tl->counters[i].kind);
        fprintf(out, "%s", i ? "," : "");
        json_str(out, name ? name : "counter");
    }
    fputs("],\"strings\":[", out);
    for (size_t i = 0; i < tl->nstrings; i++) {
        fprintf(out, "%s", i ? "," : "");
        json_str(out, str(tl, (uint32_t)i));
    }
    fprintf(out, "],\"tasks\":%zu,\"task_rows\":%u,\"logs\":%zu,\"wakes\":%zu}", tl->ntasks,
            tl->task_rows, tl->nlogs, tl->nwakes);
}

/* Per-pixel summaries of a sorted run of items: long ones as they are,
 * short ones summed per pixel, adjacent summaries of one kind merged. */
struct summary {
    FILE *out;
    int64_t t0, t1;
    double w; /* ns per pixel */
    bool first;
    /* the pixel being summed */
    long px;
    int64_t pb, pe;
    uint64_t n;
    double weight[CT_COL_COUNT + 1];
    uint64_t key[CT_COL_COUNT + 1];
    /* the summary waiting to be merged */
    bool held;
    int64_t hb, he;
    uint64_t hkey, hn;
};

static void emit_held(struct summary *s)
{
    if (!s->held)
        return;
    fprintf(s->out, "%s[%" PRId64 ",%" PRId64 ",%" PRIu64 ",-1,%" PRIu64 "]", s->first ? "" : ",",
            s->hb, s->he, s->hkey, s->hn);
    s->first = false;
    s->held = false;
}

static void flush_pixel(struct summary *s)
{
    if (!s->n)
        return;
    int best = 0;
    for (int i = 1; i <= CT_COL_COUNT; i++)
        if (s->weight[i] > s->weight[best])
            best = i;
    uint64_t key = s->key[best];
    if (s->held && s->hkey == key && s->he >= s->pb) {
        s->he = s->pe;
        s->hn += s->n;
    } else {
        emit_held(s);
        s->held = true;
        s->hb = s->pb;
        s->he = s->pe;
        s->hkey = key;
        s->hn = s->n;
    }
    s->n = 0;
    memset(s->weight, 0, sizeof s->weight);
}

/* An item: [b, e), its summary key (a state, a thread), its slot in the
 * weights, its index (for details), and extra JSON fields. */
static void item_n(struct summary *s, int64_t b, int64_t e, uint64_t key, int slot, size_t index,
                   const char *extra, uint64_t count)
{
    if (e - b >= s->w) {
        flush_pixel(s);
        emit_held(s);
        fprintf(s->out, "%s[%" PRId64 ",%" PRId64 ",%" PRIu64 ",%zu,1%s]", s->first ? "" : ",",
                b, e, key, index, extra);
        s->first = false;
        return;
    }
    long px = (long)((double)(b - s->t0) / s->w);
    if (s->n && px != s->px)
        flush_pixel(s);
    if (!s->n) {
        s->px = px;
        s->pb = b;
    }
    s->pe = e > s->pe || s->n == 0 ? e : s->pe;
    s->n += count;
    s->weight[slot] += (double)(e - b) + 1;
    s->key[slot] = key;
}

static void item(struct summary *s, int64_t b, int64_t e, uint64_t key, int slot, size_t index,
                 const char *extra)
{
    item_n(s, b, e, key, slot, index, extra, 1);
}

static void summary_end(struct summary *s)
{
    flush_pixel(s);
    emit_held(s);
}

/* The first of n items sorted by an int64_t time at byte `field` of each
 * whose time is at least t (n when none): every query starts so. */
static size_t first_at(const void *items, size_t n, size_t size, size_t field, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t key;
        memcpy(&key, (const char *)items + mid * size + field, sizeof key);
        if (key < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
#define FIRST_AT(items, n, field, t)                                          \
    first_at((items), (n), sizeof *(items), offsetof(__typeof__(*(items)), field), (t))

static size_t first_span(const struct tl_lane *l, int64_t t0)
{
    return FIRST_AT(l->spans, l->nspans, e, t0 + 1); /* the first that ends after t0 */
}

/* Merges the long items (by index, sorted by begin) and the buckets of
 * [t0, t1) into one summary, in time order. */
static void coarse_items(const struct ct_timeline *tl, struct summary *s, int64_t t0, int64_t t1,
                         bool regions, const struct tl_lane *l)
{
    const uint32_t *longs = regions ? l->long_regions : l->long_spans;
    size_t nlong = regions ? l->nlong_regions : l->nlong_spans;
    /* Long items may begin before t0: from the first whose end is after
     * t0 (spans do not overlap; regions: from t0 minus the longest). */
    size_t k = 0;
    int64_t from = regions ? t0 - l->longest_region : t0;
    size_t lo = 0, hi = nlong;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t b = regions ? l->regions[longs[mid]].b : l->spans[longs[mid]].e;
        if (b < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    k = lo;
    long bk = ct_tl_bucket_of(tl, l, t0), last = ct_tl_bucket_of(tl, l, t1);
    for (;;) {
        int64_t bb = tl->begin + bk * l->bucket_ns;
        int64_t lb = INT64_MAX;
        if (k < nlong)
            lb = regions ? l->regions[longs[k]].b : l->spans[longs[k]].b;
        bool bucket_left = bk <= last;
        if (!bucket_left && (k >= nlong || lb >= t1))
            break;
        if (k < nlong && lb < t1 && (!bucket_left || lb <= bb)) {
            char extra[64];
            if (regions) {
                const struct tl_region *g = &l->regions[longs[k]];
                if (g->e > t0) {
                    snprintf(extra, sizeof extra, ",%u,%u", g->type, g->depth);
                    item(s, g->b, g->e, g->e - g->b >= s->w ? g->depth : 1, 0, longs[k], extra);
                }
            } else {
                const struct tl_span *sp = &l->spans[longs[k]];
                if (sp->e > t0) {
                    snprintf(extra, sizeof extra, ",%u", sp->reason);
                    item(s, sp->b, sp->e, sp->col, sp->col, longs[k], extra);
                }
            }
            k++;
            continue;
        }
        uint32_t n = regions ? l->region_bucket_n[bk] : l->span_bucket_n[bk];
        if (n) {
            int col = regions ? 0 : l->span_bucket_col[bk];
            item_n(s, bb, bb + l->bucket_ns - 1, regions ? 1 : (uint64_t)col, col, 0, "", n);
        }
        bk++;
    }
}

static void coarse_lane(const struct ct_timeline *tl, const struct tl_lane *l, int64_t t0,
                        int64_t t1, double w, FILE *out)
{
    struct summary s = {out, t0, t1, w, true};
    coarse_items(tl, &s, t0, t1, false, l);
    summary_end(&s);
    fputs("],\"regions\":[", out);
    struct summary r = {out, t0, t1, w, true};
    coarse_items(tl, &r, t0, t1, true, l);
    summary_end(&r);
    fputs("]}", out);
}

int ct_timeline_query_json(const struct ct_timeline *tl, int64_t t0, int64_t t1, unsigned px,
                           FILE *out)
{
    if (t1 <= t0 || px == 0 || px > 20000)
        return -1;
    double w = (double)(t1 - t0) / px;
    /* A lane whose pixel is a bucket and a half or more is read from its
     * buckets and long items; finer, from the items themselves. */
    fprintf(out, "{\"t0\":%" PRId64 ",\"t1\":%" PRId64 ",\"px\":%u,\"threads\":[", t0, t1, px);
    for (size_t i = 0; i < tl->nlanes; i++) {
        const struct tl_lane *l = &tl->lanes[i];
        fprintf(out, "%s{\"tid\":%" PRIu64 ",\"spans\":[", i ? "," : "", l->tid);
        if (l->nbuckets && w >= 1.5 * (double)l->bucket_ns) {
            coarse_lane(tl, l, t0, t1, w, out);
            continue;
        }
        struct summary s = {out, t0, t1, w, true};
        for (size_t k = first_span(l, t0); k < l->nspans && l->spans[k].b < t1; k++) {
            char extra[32];
            snprintf(extra, sizeof extra, ",%u", l->spans[k].reason);
            item(&s, l->spans[k].b, l->spans[k].e, l->spans[k].col, l->spans[k].col, k, extra);
        }
        summary_end(&s);
        /* Regions: every depth's in one pass; a summary's key is its depth. */
        fputs("],\"regions\":[", out);
        struct summary r = {out, t0, t1, w, true};
        int64_t from = t0 - l->longest_region;
        size_t lo = FIRST_AT(l->regions, l->nregions, b, from);
        /* Summaries per depth would interleave; short regions of any depth
         * are summed together at depth 1. */
        for (size_t k = lo; k < l->nregions && l->regions[k].b < t1; k++) {
            const struct tl_region *g = &l->regions[k];
            if (g->e <= t0)
                continue;
            char extra[64];
            snprintf(extra, sizeof extra, ",%u,%u", g->type, g->depth);
            if (g->e - g->b >= w)
                item(&r, g->b, g->e, g->depth, 0, k, extra);
            else
                item(&r, g->b, g->e, 1, 0, k, extra);
        }
        summary_end(&r);
        fputs("]}", out);
    }
    fputs("],\"cpus\":[", out);
    for (size_t i = 0; i < tl->ncpus; i++) {
        const struct tl_cpu *c = &tl->cpus[i];
        fprintf(out, "%s{\"cpu\":%d,\"runs\":[", i ? "," : "", c->cpu);
        struct summary s = {out, t0, t1, w, true};
        size_t lo = FIRST_AT(c->runs, c->n, e, t0 + 1);
        for (size_t k = lo; k < c->n && c->runs[k].b < t1; k++) {
            /* The weight slot: a small hash of the thread, for the dominant
             * thread of a pixel. */
            int slot = (int)(c->runs[k].tid % (CT_COL_COUNT + 1));
            item(&s, c->runs[k].b, c->runs[k].e, c->runs[k].tid, slot, k, "");
        }
        summary_end(&s);
        fputs("]}", out);
    }
    fputs("],\"counters\":[", out);
    for (size_t i = 0; i < tl->ncounters; i++) {
        const struct tl_counter *c = &tl->counters[i];
        const char *name = ct_counter_name(c->kind);
        fprintf(out, "%s{\"name\":", i ? "," : "");
        json_str(out, name ? name : "counter");
        fputs(",\"points\":[", out);
        size_t lo = FIRST_AT(c->s, c->n, t, t0);
        if (lo > 0)
            lo--; /* the value at t0 */
        bool first = true;
        for (size_t k = lo; k < c->n;) {
            long p = (long)((double)(c->s[k].t - t0) / w);
            uint64_t mn = c->s[k].v, mx = c->s[k].v, last = c->s[k].v;
            int64_t t = c->s[k].t;
            for (k++; k < c->n && (long)((double)(c->s[k].t - t0) / w) == p; k++) {
                mn = c->s[k].v < mn ? c->s[k].v : mn;
                mx = c->s[k].v > mx ? c->s[k].v : mx;
                last = c->s[k].v;
            }
            fprintf(out, "%s[%" PRId64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", t,
                    mn, mx, last);
            first = false;
            if (t >= t1)
                break;
        }
        fputs("]}", out);
    }
    /* Task bars, row by row: [b, e, type, index, count, id]. */
    fputs("],\"tasks\":[", out);
    size_t from = tl->task_bars ? FIRST_AT(tl->task_bars, tl->ntasks, b, t0 - tl->longest_task) : 0;
    for (unsigned row = 0; row < tl->task_rows && tl->task_bars; row++) {
        fprintf(out, "%s{\"row\":%u,\"items\":[", row ? "," : "", row);
        struct summary s = {out, t0, t1, w, true};
        for (size_t k = from; k < tl->ntasks && tl->task_bars[k].b < t1; k++) {
            const struct tl_task *t = &tl->task_bars[k];
            if (t->row != row || t->e <= t0)
                continue;
            char extra[32];
            snprintf(extra, sizeof extra, ",%" PRIu64, t->id);
            item(&s, t->b, t->e, t->type, (int)(t->type % (CT_COL_COUNT + 1)), k, extra);
        }
        summary_end(&s);
        fputs("]}", out);
    }
    /* Logs: one item a pixel: [t, tid, index, count]. */
    fputs("],\"logs\":[", out);
    size_t lo = FIRST_AT(tl->logs, tl->nlogs, t, t0);
    bool first = true;
    for (size_t k = lo; k < tl->nlogs && tl->logs[k].t < t1;) {
        long p = (long)((double)(tl->logs[k].t - t0) / w);
        size_t start = k;
        while (k < tl->nlogs && tl->logs[k].t < t1 &&
               (long)((double)(tl->logs[k].t - t0) / w) == p)
            k++;
        fprintf(out, "%s[%" PRId64 ",%" PRIu64 ",%zu,%zu]", first ? "" : ",", tl->logs[start].t,
                tl->logs[start].tid, start, k - start);
        first = false;
    }
    /* Wake-ups: only when few enough to draw. */
    fputs("],\"wakes\":[", out);
    lo = FIRST_AT(tl->wakes, tl->nwakes, tu, t0);
    size_t end = lo;
    while (end < tl->nwakes && tl->wakes[end].tu < t1)
        end++;
    if (end - lo <= 2000)
        for (size_t k = lo; k < end; k++)
            fprintf(out, "%s[%" PRId64 ",%" PRIu64 ",%" PRId64 ",%" PRIu64 "]", k > lo ? "," : "",
                    tl->wakes[k].tw, tl->wakes[k].from, tl->wakes[k].tu, tl->wakes[k].to);
    fprintf(out, "],\"wakes_in_range\":%zu}", end - lo);
    return 0;
}

static void stack_json(struct ct_timeline *tl, uint32_t stack, FILE *out)
{
    fputc('[', out);
    if (stack && stack <= tl->nstacks) {
        const uint64_t *pcs = tl->frames + tl->stacks[stack - 1].at;
        bool first = true;
        for (uint32_t i = 0; i < tl->stacks[stack - 1].n; i++) {
            struct ct_symbol sym[8];
            int n = tl->symbols ? ct_symbols_frames(tl->symbols, pcs[i], true, sym, 8) : 0;
            for (int f = 0; f < (n > 0 ? n : 1); f++) {
                char buf[600];
                if (n > 0 && sym[f].function[0] && sym[f].file[0])
                    snprintf(buf, sizeof buf, "%.255s %.255s:%d", sym[f].function, sym[f].file,
                             sym[f].line);
                else if (n > 0 && sym[f].function[0])
                    snprintf(buf, sizeof buf, "%.255s", sym[f].function);
                else
                    snprintf(buf, sizeof buf, "0x%" PRIx64, pcs[i]);
                fprintf(out, "%s", first ? "" : ",");
                first = false;
                json_str(out, buf);
            }
        }
    }
    fputc(']', out);
}

static const struct tl_task *task_by_id(const struct ct_timeline *tl, uint64_t id)
{
    for (size_t i = 0; i < tl->ntasks; i++)
        if (tl->tasks[i].id == id)
            return &tl->tasks[i];
    return NULL;
}

int ct_timeline_span_json(struct ct_timeline *tl, uint64_t tid, size_t index, FILE *out)
{
    const struct tl_lane *l = NULL;
    for (size_t i = 0; i < tl->nlanes && !l; i++)
        if (tl->lanes[i].tid == tid)
            l = &tl->lanes[i];
    if (!l || index >= l->nspans)
        return -1;
    const struct tl_span *s = &l->spans[index];
    fprintf(out, "{\"tid\":%" PRIu64 ",\"thread\":", tid);
    json_str(out, l->name);
    fprintf(out, ",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"duration\":%" PRId64 ",\"state\":",
            s->b, s->e, s->e - s->b);
    json_str(out, state_name(s->col));
    const char *reason = s->reason ? ct_reason_name(s->reason) : NULL;
    fputs(",\"reason\":", out);
    json_str(out, reason ? reason : "");
    fprintf(out, ",\"object\":\"0x%" PRIx64 "\",\"stack\":", s->object);
    stack_json(tl, s->stack, out);
    /* The innermost region around the span's start, and its task. */
    const struct tl_region *in = NULL;
    for (size_t k = 0; k < l->nregions && l->regions[k].b <= s->b; k++)
        if (l->regions[k].e >= s->b && (!in || l->regions[k].depth > in->depth))
            in = &l->regions[k];
    if (in) {
        fputs(",\"region\":", out);
        json_str(out, str(tl, in->type));
        const struct tl_task *t = in->task ? task_by_id(tl, in->task) : NULL;
        if (t) {
            fprintf(out, ",\"task\":%" PRIu64 ",\"task_type\":", t->id);
            json_str(out, str(tl, t->type));
        }
    }
    /* Who woke it: the thread's first linked unblock after the span began,
     * if it came by the span's end (the unblock is recorded once the thread
     * runs again, a little after the kernel's switch ends the span). */
    size_t lo = FIRST_AT(tl->wakes, tl->nwakes, tu, s->b);
    for (size_t k = lo; k < tl->nwakes && tl->wakes[k].tu <= s->e + 10000000; k++)
        if (tl->wakes[k].to == tid) {
            fprintf(out, ",\"woken_by\":%" PRIu64 ",\"woken_at\":%" PRId64, tl->wakes[k].from,
                    tl->wakes[k].tw);
            break;
        }
    fputc('}', out);
    return 0;
}

static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

void ct_timeline_logs_json(const struct ct_timeline *tl, const char *q, size_t limit, FILE *out)
{
    fputs("{\"logs\":[", out);
    size_t shown = 0, matched = 0;
    for (size_t i = 0; i < tl->nlogs; i++) {
        const struct tl_log *g = &tl->logs[i];
        const char *cat = str(tl, g->category);
        if (!contains(cat, strlen(cat), q) && !contains(tl->text + g->text, g->len, q))
            continue;
        matched++;
        if (shown == limit)
            continue;
        fprintf(out, "%s{\"t\":%" PRId64 ",\"tid\":%" PRIu64 ",\"task\":%" PRIu64 ",\"category\":",
                shown ? "," : "", g->t, g->tid, g->task);
        json_str(out, cat);
        fputs(",\"message\":", out);
        json_str(out, tl->text + g->text);
        fputc('}', out);
        shown++;
    }
    fprintf(out, "],\"matched\":%zu,\"total\":%zu}", matched, tl->nlogs);
}

int ct_timeline_task_json(const struct ct_timeline *tl, size_t index, FILE *out)
{
    if (!tl->task_bars || index >= tl->ntasks)
        return -1;
    const struct tl_task *t = &tl->task_bars[index];
    fprintf(out, "{\"id\":%" PRIu64 ",\"parent\":%" PRIu64 ",\"tid\":%" PRIu64
                 ",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"type\":",
            t->id, t->parent, t->tid, t->b, t->e);
    json_str(out, str(tl, t->type));
    size_t logs = 0;
    for (size_t i = 0; i < tl->nlogs; i++)
        logs += tl->logs[i].task == t->id;
    fprintf(out, ",\"logs\":%zu}", logs);
    return 0;
}

void ct_timeline_tasks_json(const struct ct_timeline *tl, const char *type, size_t limit,
                            FILE *out)
{
    fputs("{\"tasks\":[", out);
    size_t shown = 0;
    for (size_t i = 0; i < tl->ntasks && shown < limit; i++) {
        const struct tl_task *t = &tl->tasks[i];
        if (type && *type && strcmp(str(tl, t->type), type) != 0)
            continue;
        fprintf(out, "%s{\"id\":%" PRIu64 ",\"parent\":%" PRIu64 ",\"tid\":%" PRIu64
                     ",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"type\":",
                shown ? "," : "", t->id, t->parent, t->tid, t->b, t->e);
        json_str(out, str(tl, t->type));
        fputc('}', out);
        shown++;
    }
    fputs("]}", out);
}
