/*
 * timeline_json.c - the queries of `ctrace view` (timeline.h): what a
 * range shows at a number of pixels (from a window when it covers few
 * enough batches, from the index's buckets otherwise) and the logs, as
 * JSON; one span or task is timeline_details.c's.
 */
#include "timeline.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../format/reader.h"
#include "../recorder/sched.h"
#include "json.h"
#include "threads.h"
#include "timeline_json.h"

/* ---- JSON ---- */

static const char *state_name(int col)
{
    static const char *names[] = {"running", "network", "blocked", "syscall", "runnable",
                                  "sleeping", "off-cpu"};
    return col >= 0 && col < CT_COL_COUNT ? names[col] : "?";
}

void ct_tl_summary_threads(const struct ct_timeline *tl, bool *first, FILE *out)
{
    for (size_t i = 0; i < tl->nlanes; i++) {
        const struct tl_lane *l = &tl->lanes[i];
        fprintf(out, "%s{\"tid\":%" PRIu64 ",\"name\":", *first ? "" : ",", tid_key(tl, l->tid));
        *first = false;
        json_str(out, l->name);
        fputs(",\"function\":", out);
        json_str(out, l->function);
        fprintf(out, ",\"spans\":%" PRIu64 ",\"regions\":%" PRIu64 ",\"depth\":%u", l->nspans,
                l->nregions, l->max_depth);
        if (tl->json_tree)
            fprintf(out, ",\"pid\":%" PRIu64 ",\"image\":%u,\"os_tid\":%" PRIu64, tl->pid,
                    tl->json_image, l->tid);
        if (l->lost) {
            fprintf(out, ",\"lost\":%" PRIu64 ",\"losses\":[", l->lost);
            for (size_t k = 0; k < l->nlosses; k++)
                fprintf(out, "%s[%" PRId64 ",%" PRId64 ",%" PRIu64 "]", k ? "," : "",
                        l->losses[k].b, l->losses[k].e, l->losses[k].n);
            fputc(']', out);
        }
        for (size_t k = 0; k < tl->threads.count; k++)
            if (tl->threads.rows[k].tid == l->tid) {
                fprintf(out, ",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"exited\":%s",
                        tl->threads.rows[k].begin_ns, tl->threads.rows[k].end_ns,
                        tl->threads.rows[k].exited ? "true" : "false");
                break;
            }
        fputc('}', out);
    }
}

void ct_tl_summary_counters(const struct ct_timeline *tl, bool *first, FILE *out)
{
    for (size_t i = 0; i < tl->ncounters; i++) {
        const char *name = ct_counter_name(tl->counters[i].kind);
        char buf[128];
        snprintf(buf, sizeof buf, "%s%s", name ? name : "counter", tl->json_counter_suffix);
        fprintf(out, "%s", *first ? "" : ",");
        *first = false;
        json_str(out, buf);
    }
}

const char *ct_tl_state_name(int col)
{
    return state_name(col);
}

void ct_tl_summary_names(FILE *out)
{
    /* The names of block reasons and calls, by value (reasons.def). */
    fputs(",\"reasons\":[", out);
    unsigned last = 0;
    for (unsigned i = 1; i < 256; i++)
        last = ct_reason_name(i) ? i : last;
    for (unsigned i = 0; i <= last; i++) {
        const char *name = i ? ct_reason_name(i) : NULL;
        fprintf(out, "%s", i ? "," : "");
        json_str(out, name ? name : "");
    }
    /* The x86-64 system calls' names, by number (calls the kernel saw). */
    fputs("],\"syscalls\":[", out);
    last = 0;
    for (unsigned i = 0; i < 1024; i++)
        last = ct_syscall_name(i) ? i : last;
    for (unsigned i = 0; i <= last; i++) {
        const char *name = ct_syscall_name(i);
        fprintf(out, "%s", i ? "," : "");
        json_str(out, name ? name : "");
    }
    fputc(']', out);
}

void ct_tl_summary_strings(const struct ct_timeline *tl, bool *first, FILE *out)
{
    for (size_t i = 0; i < tl->nstrings; i++) {
        fprintf(out, "%s", *first ? "" : ",");
        *first = false;
        json_str(out, str(tl, (uint32_t)i));
    }
}

unsigned ct_tl_task_rows_shown(const struct ct_timeline *tl)
{
    /* Task rows: a window packs what it shows in up to CT_TL_TASK_ROWS;
     * about one per thread is what runs at once. */
    unsigned rows = tl->task_rows + 1;
    if (rows < tl->nlanes)
        rows = (unsigned)tl->nlanes;
    if (rows > CT_TL_TASK_ROWS)
        rows = CT_TL_TASK_ROWS;
    return tl->ntasks ? rows : 0;
}

void ct_timeline_summary_json(const struct ct_timeline *tl, FILE *out)
{
    fprintf(out,
            "{\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"sched\":%s,\"sampled\":%s,"
            "\"events\":%" PRIu64 ",\"pid\":%" PRIu64 ",\"ncpu\":%" PRIu64,
            tl->begin, tl->end, tl->sched ? "true" : "false",
            tl->sched && tl->threads.sched_mode == CT_SCHED_SCHEDSTAT ? "true" : "false",
            tl->events, tl->pid, tl->ncpu);
    fputs(",\"states\":[", out);
    for (int c = 0; c < CT_COL_COUNT; c++) {
        fprintf(out, "%s", c ? "," : "");
        json_str(out, state_name(c));
    }
    fputs("],\"threads\":[", out);
    bool first = true;
    ct_tl_summary_threads(tl, &first, out);
    fputs("],\"cpus\":[", out);
    for (size_t i = 0; i < tl->ncpus; i++)
        fprintf(out, "%s%d", i ? "," : "", tl->cpus[i].cpu);
    fputs("],\"counters\":[", out);
    first = true;
    ct_tl_summary_counters(tl, &first, out);
    fputc(']', out);
    ct_tl_summary_names(out);
    fputs(",\"strings\":[", out);
    first = true;
    ct_tl_summary_strings(tl, &first, out);
    fprintf(out,
            "],\"tasks\":%" PRIu64 ",\"task_rows\":%u,\"logs\":%" PRIu64 ",\"wakes\":%" PRIu64 "}",
            tl->ntasks, ct_tl_task_rows_shown(tl), tl->nlog_events, tl->nwake_events);
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

/* The pixel of time t from t0, at w ns a pixel, in double arithmetic (t -
 * t0 may not fit an int64_t), held within what a long holds. */
static long pixel_of(int64_t t, int64_t t0, double w)
{
    double p = ((double)t - (double)t0) / w;
    return p < -1e15 ? (long)-1e15 : p > 1e15 ? (long)1e15 : (long)p;
}

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
static void item_n(struct summary *s, int64_t b, int64_t e, uint64_t key, int slot, long index,
                   const char *extra, uint64_t count)
{
    if (e - b >= s->w) {
        flush_pixel(s);
        emit_held(s);
        if (index < 0) /* a bucket of the index: a summary, however wide */
            fprintf(s->out, "%s[%" PRId64 ",%" PRId64 ",%" PRIu64 ",-1,%" PRIu64 "]",
                    s->first ? "" : ",", b, e, key, count);
        else
            fprintf(s->out, "%s[%" PRId64 ",%" PRId64 ",%" PRIu64 ",%ld,1%s]", s->first ? "" : ",",
                    b, e, key, index, extra);
        s->first = false;
        return;
    }
    long px = pixel_of(b, s->t0, s->w);
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
    item_n(s, b, e, key, slot, (long)index, extra, 1);
}

static void summary_end(struct summary *s)
{
    flush_pixel(s);
    emit_held(s);
}


/* A span item's fields after its count: the reason or call of its
 * activity (0: none), the call's descriptor (-1: none) and its class. */
static void span_extra(const struct tl_span *sp, char *buf, size_t size)
{
    bool inside = sp->since != TL_NO_ACTIVITY, call = inside && (sp->flags & TL_SPAN_CALL);
    long long fd = call && sp->object <= INT32_MAX ? (long long)sp->object : -1;
    unsigned sysno = inside ? span_sysno(sp) : 0;
    /* a system call the kernel saw: 1000 + its number (the summary's
     * syscalls); else a reason or call (the summary's reasons) */
    unsigned reason = sysno ? 1000 + sysno - 1 : inside ? sp->reason : 0;
    snprintf(buf, size, ",%u,%lld,%u", reason, fd, call && !sysno ? sp->fd_class : 0);
}

/* The buckets of a grid from t0 to t1, and the index of the first. */
static long bucket_of(const struct tl_grid *g, int64_t t)
{
    if (!g->n || t <= g->origin)
        return 0;
    uint64_t k = ct_span_ns(g->origin, t) / (uint64_t)g->bucket_ns;
    return k >= (uint64_t)g->n ? g->n : (long)k;
}

/* An index's lane: its long items (sorted by begin) and its buckets of
 * [t0, t1), merged into one summary in time order. */
static void coarse_items(struct summary *s, int64_t t0, int64_t t1, bool regions,
                         const struct tl_lane *l)
{
    const struct tl_grid *g = regions ? &l->region_grid : &l->span_grid;
    size_t nlong = regions ? l->nregion_items : l->nspan_items;
    /* Long items may begin before t0: spans do not overlap (the first that
     * ends after t0); regions from t0 minus the longest. */
    size_t k = regions ? FIRST_AT(l->regions, nlong, b, t0 - l->longest_region)
                       : FIRST_AT(l->spans, nlong, e, t0 + 1);
    long bk = bucket_of(g, t0), last = bucket_of(g, t1);
    for (;;) {
        int64_t bb = g->origin + bk * g->bucket_ns;
        int64_t lb = INT64_MAX;
        if (k < nlong)
            lb = regions ? l->regions[k].b : l->spans[k].b;
        bool bucket_left = bk < g->n && bk <= last;
        if (!bucket_left && (k >= nlong || lb >= t1))
            break;
        if (k < nlong && lb < t1 && (!bucket_left || lb <= bb)) {
            char extra[64];
            if (regions) {
                const struct tl_region *r = &l->regions[k];
                if (r->e > t0) {
                    snprintf(extra, sizeof extra, ",%u,%u", r->type, r->depth);
                    item(s, r->b, r->e, r->e - r->b >= s->w ? r->depth : 1, 0, k, extra);
                }
            } else {
                const struct tl_span *sp = &l->spans[k];
                if (sp->e > t0) {
                    span_extra(sp, extra, sizeof extra);
                    item(s, sp->b, sp->e, sp->col, sp->col, k, extra);
                }
            }
            k++;
            continue;
        }
        uint32_t n = g->count[bk];
        if (n) {
            int col = regions || !g->key ? 0 : g->key[bk];
            item_n(s, bb, bb + g->bucket_ns - 1, regions ? 1 : (uint64_t)col, col, -1, "", n);
        }
        bk++;
    }
}

static void coarse_lane(const struct tl_lane *l, int64_t t0, int64_t t1, double w, FILE *out)
{
    struct summary s = {out, t0, t1, w, true};
    coarse_items(&s, t0, t1, false, l);
    summary_end(&s);
    fputs("],\"regions\":[", out);
    struct summary r = {out, t0, t1, w, true};
    coarse_items(&r, t0, t1, true, l);
    summary_end(&r);
    fputs("]}", out);
}

/* A window's lane: every item. */
static void fine_lane(const struct tl_lane *l, int64_t t0, int64_t t1, double w,
                      uint32_t strings, FILE *out)
{
    struct summary s = {out, t0, t1, w, true};
    for (size_t k = first_span(l, t0); k < l->nspan_items && l->spans[k].b < t1; k++) {
        char extra[64];
        span_extra(&l->spans[k], extra, sizeof extra);
        item(&s, l->spans[k].b, l->spans[k].e, l->spans[k].col, l->spans[k].col, k, extra);
    }
    summary_end(&s);
    /* Regions: every depth's in one pass; a summary's key is its depth.
     * Summaries per depth would interleave; short regions of any depth are
     * summed together at depth 1. */
    fputs("],\"regions\":[", out);
    struct summary r = {out, t0, t1, w, true};
    size_t lo = FIRST_AT(l->regions, l->nregion_items, b, t0 - l->longest_region);
    for (size_t k = lo; k < l->nregion_items && l->regions[k].b < t1; k++) {
        const struct tl_region *g = &l->regions[k];
        if (g->e <= t0)
            continue;
        char extra[64];
        snprintf(extra, sizeof extra, ",%u,%u", g->type + strings, g->depth);
        item(&r, g->b, g->e, g->e - g->b >= w ? g->depth : 1, 0, k, extra);
    }
    summary_end(&r);
    fputs("]}", out);
}

/* Task bars row by row: [b, e, type, index, count, id]; from an index,
 * its long tasks in their rows and the short ones summed in the next. */
static void task_rows(const struct ct_timeline *tl, bool index, int64_t t0, int64_t t1, double w,
                      bool *first, FILE *out)
{
    const struct ct_timeline *ix = tl->index ? tl->index : tl;
    uint32_t strings = ix->json_string_base;
    size_t from = tl->task_rows ? FIRST_AT(tl->task_bars, tl->ntask_items, b, t0 - tl->longest_task)
                                : 0;
    unsigned rows = tl->task_rows;
    bool short_row = index && tl->task_grid.n > 0;
    if (short_row && rows >= CT_TL_TASK_ROWS)
        rows = CT_TL_TASK_ROWS - 1;
    for (unsigned row = 0; row < rows + short_row; row++) {
        fprintf(out, "%s{\"row\":%u,\"items\":[", *first ? "" : ",",
                row + ix->json_row_base);
        *first = false;
        struct summary s = {out, t0, t1, w, true};
        if (short_row && row == rows) {
            const struct tl_grid *g = &tl->task_grid;
            for (long k = bucket_of(g, t0), last = bucket_of(g, t1); k < g->n && k <= last; k++)
                if (g->count[k]) {
                    int64_t bb = g->origin + k * g->bucket_ns;
                    int slot = (int)(g->tag[k] % (CT_COL_COUNT + 1));
                    item_n(&s, bb, bb + g->bucket_ns - 1, g->tag[k] + strings, slot, -1, "",
                           g->count[k]);
                }
        }
        for (size_t k = from; row < tl->task_rows && k < tl->ntask_items && tl->task_bars[k].b < t1;
             k++) {
            const struct tl_task *t = &tl->task_bars[k];
            if (t->row != row || t->e <= t0)
                continue;
            char extra[48];
            if (ix->json_tree) /* the task's image: its ids are its process's */
                snprintf(extra, sizeof extra, ",%" PRIu64 ",%u", t->id, ix->json_image);
            else
                snprintf(extra, sizeof extra, ",%" PRIu64, t->id);
            item(&s, t->b, t->e, t->type + strings, (int)(t->type % (CT_COL_COUNT + 1)), k, extra);
        }
        summary_end(&s);
        fputs("]}", out);
    }
}

/* A CPU's runs: its long ones and buckets (an index's), or every one (a
 * window's); a summary's key is a thread, its slot a small hash of it, for
 * the thread that ran most of a pixel. */
static void cpu_runs(struct summary *s, const struct tl_cpu *c, bool index, int64_t t0, int64_t t1,
                     uint64_t base)
{
    size_t k = FIRST_AT(c->runs, c->n, e, t0 + 1);
    const struct tl_grid *g = &c->grid;
    long bk = index ? bucket_of(g, t0) : 0, last = index ? bucket_of(g, t1) : -1;
    for (;;) {
        bool bucket_left = index && bk < g->n && bk <= last;
        int64_t bb = g->origin + bk * g->bucket_ns;
        bool run_left = k < c->n && c->runs[k].b < t1;
        if (!bucket_left && !run_left)
            break;
        if (run_left && (!bucket_left || c->runs[k].b <= bb)) {
            const struct tl_run *r = &c->runs[k];
            item(s, r->b, r->e, r->tid ? r->tid | base : 0, (int)(r->tid % (CT_COL_COUNT + 1)), k,
                 "");
            k++;
            continue;
        }
        if (g->count[bk])
            item_n(s, bb, bb + g->bucket_ns - 1, g->tag[bk] ? g->tag[bk] | base : 0,
                   (int)(g->tag[bk] % (CT_COL_COUNT + 1)), -1, "", g->count[bk]);
        bk++;
    }
}

/* Logs: one item a pixel: [t, tid, index, count]. */
static void log_marks(const struct ct_timeline *tl, bool index, int64_t t0, int64_t t1, double w,
                      bool *firstp, FILE *out)
{
    bool first = *firstp;
    if (index) {
        const struct tl_grid *g = &tl->log_grid;
        for (long k = bucket_of(g, t0), last = bucket_of(g, t1); k < g->n && k <= last;) {
            int64_t t = g->origin + k * g->bucket_ns;
            long p = pixel_of(t, t0, w);
            uint64_t n = 0, tid = 0;
            long start = k;
            for (; k < g->n && k <= last &&
                   pixel_of(g->origin + k * g->bucket_ns, t0, w) == p; k++) {
                if (!n && g->count[k])
                    tid = g->tag[k];
                n += g->count[k];
            }
            if (n) {
                fprintf(out, "%s[%" PRId64 ",%" PRIu64 ",-1,%" PRIu64 "]", first ? "" : ",",
                        g->origin + start * g->bucket_ns, tid_key(tl, tid), n);
                first = false;
            }
        }
        *firstp = first;
        return;
    }
    /* A window's: per pixel and thread, the first log's category and
     * message (cut), and how many there are. */
    size_t lo = FIRST_AT(tl->logs, tl->nlogs, t, t0);
    for (size_t k = lo; k < tl->nlogs && tl->logs[k].t < t1;) {
        long p = pixel_of(tl->logs[k].t, t0, w);
        size_t end = k;
        while (end < tl->nlogs && tl->logs[end].t < t1 &&
               pixel_of(tl->logs[end].t, t0, w) == p)
            end++;
        for (size_t i = k; i < end; i++) {
            bool seen = false; /* its thread's first log in the pixel was written */
            for (size_t j = k; j < i && !seen; j++)
                seen = tl->logs[j].tid == tl->logs[i].tid;
            if (seen)
                continue;
            size_t n = 0;
            for (size_t j = i; j < end; j++)
                n += tl->logs[j].tid == tl->logs[i].tid;
            const struct tl_log *g = &tl->logs[i];
            fprintf(out, "%s[%" PRId64 ",%" PRIu64 ",%zu,%zu,", first ? "" : ",", g->t,
                    tid_key(tl, g->tid), i, n);
            json_str(out, str(tl->index ? tl->index : tl, g->category));
            fputc(',', out);
            ct_json_string(out, tl->text + g->text, g->len < 300 ? g->len : 300);
            fputc(']', out);
            first = false;
        }
        k = end;
    }
    *firstp = first;
}

void ct_tl_query_threads(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                         int64_t t1, double w, bool *first, FILE *out)
{
    for (size_t i = 0; i < tl->nlanes; i++) {
        fprintf(out, "%s{\"tid\":%" PRIu64 ",\"spans\":[", *first ? "" : ",",
                tid_key(tl, tl->lanes[i].tid));
        *first = false;
        if (win && i < win->nlanes)
            fine_lane(&win->lanes[i], t0, t1, w, tl->json_string_base, out);
        else
            coarse_lane(&tl->lanes[i], t0, t1, w, out);
    }
}

void ct_tl_query_cpu(const struct ct_timeline *tl, const struct ct_timeline *win, size_t i,
                     int64_t t0, int64_t t1, double w, bool *first, FILE *out)
{
    const struct tl_cpu *c = &tl->cpus[i];
    struct summary s = {out, t0, t1, w, *first};
    const struct tl_cpu *from = c;
    for (size_t k = 0; win && k < win->ncpus; k++)
        from = win->cpus[k].cpu == c->cpu ? &win->cpus[k] : from;
    if (win && from == c)
        from = NULL; /* the window read no run there */
    if (from)
        cpu_runs(&s, from, !win, t0, t1, tl->json_tid_base);
    summary_end(&s);
    *first = s.first;
}

void ct_tl_query_counters(const struct ct_timeline *tl, int64_t t0, int64_t t1, double w,
                          bool *firstp, FILE *out)
{
    for (size_t i = 0; i < tl->ncounters; i++) {
        const struct tl_counter *c = &tl->counters[i];
        const char *name = ct_counter_name(c->kind);
        char buf[128];
        snprintf(buf, sizeof buf, "%s%s", name ? name : "counter", tl->json_counter_suffix);
        fprintf(out, "%s{\"name\":", *firstp ? "" : ",");
        *firstp = false;
        json_str(out, buf);
        fputs(",\"points\":[", out);
        size_t lo = FIRST_AT(c->s, c->n, t, t0);
        if (lo > 0)
            lo--; /* the value at t0 */
        bool first = true;
        for (size_t k = lo; k < c->n;) {
            long p = pixel_of(c->s[k].t, t0, w);
            uint64_t mn = c->s[k].v, mx = c->s[k].v, last = c->s[k].v;
            int64_t t = c->s[k].t;
            for (k++; k < c->n && pixel_of(c->s[k].t, t0, w) == p; k++) {
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
}

void ct_tl_query_tasks(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                       int64_t t1, double w, bool *first, FILE *out)
{
    task_rows(win ? win : tl, !win, t0, t1, w, first, out);
}

void ct_tl_query_logs(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                      int64_t t1, double w, bool *first, FILE *out)
{
    log_marks(win ? win : tl, !win, t0, t1, w, first, out);
}

uint64_t ct_tl_query_wakes(const struct ct_timeline *tl, const struct ct_timeline *win, int64_t t0,
                           int64_t t1, bool *first, FILE *out)
{
    /* Wake-ups: linked in a window, only when few enough to draw; the
     * index counts them. */
    uint64_t in_range = 0;
    if (win) {
        size_t lo = FIRST_AT(win->wakes, win->nwakes, tu, t0), end = lo;
        while (end < win->nwakes && win->wakes[end].tu < t1)
            end++;
        for (size_t k = lo; end - lo <= 2000 && k < end; k++) {
            fprintf(out, "%s[%" PRId64 ",%" PRIu64 ",%" PRId64 ",%" PRIu64 "]", *first ? "" : ",",
                    win->wakes[k].tw, tid_key(tl, win->wakes[k].from), win->wakes[k].tu,
                    tid_key(tl, win->wakes[k].to));
            *first = false;
        }
        in_range = end - lo;
    } else {
        const struct tl_grid *g = &tl->wake_grid;
        for (long k = bucket_of(g, t0), last = bucket_of(g, t1); k < g->n && k <= last; k++)
            in_range += g->count[k];
    }
    return in_range;
}

int ct_timeline_query_json(struct ct_timeline *tl, int64_t t0, int64_t t1, unsigned px,
                           FILE *out)
{
    if (t1 <= t0 || px == 0 || px > 20000)
        return -1;
    double w = (double)(t1 - t0) / px;
    /* Exactly, from a window, when the range covers few enough batches;
     * from the buckets otherwise. */
    struct ct_timeline *win = ct_tl_window(tl, t0, t1, CT_TL_WINDOW_BUDGET);
    fprintf(out, "{\"t0\":%" PRId64 ",\"t1\":%" PRId64 ",\"px\":%u,\"exact\":%s,\"threads\":[", t0,
            t1, px, win ? "true" : "false");
    bool first = true;
    ct_tl_query_threads(tl, win, t0, t1, w, &first, out);
    fputs("],\"cpus\":[", out);
    for (size_t i = 0; i < tl->ncpus; i++) {
        fprintf(out, "%s{\"cpu\":%d,\"runs\":[", i ? "," : "", tl->cpus[i].cpu);
        first = true;
        ct_tl_query_cpu(tl, win, i, t0, t1, w, &first, out);
        fputs("]}", out);
    }
    fputs("],\"counters\":[", out);
    first = true;
    ct_tl_query_counters(tl, t0, t1, w, &first, out);
    fputs("],\"tasks\":[", out);
    first = true;
    ct_tl_query_tasks(tl, win, t0, t1, w, &first, out);
    fputs("],\"logs\":[", out);
    first = true;
    ct_tl_query_logs(tl, win, t0, t1, w, &first, out);
    fputs("],\"wakes\":[", out);
    first = true;
    uint64_t in_range = ct_tl_query_wakes(tl, win, t0, t1, &first, out);
    fprintf(out, "],\"wakes_in_range\":%" PRIu64 "}", in_range);
    return 0;
}

static bool contains(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp((const char *)hay + i, needle, n) == 0)
            return true;
    return false;
}

struct found_log {
    int64_t t;
    uint64_t tid, task;
    const uint8_t *category, *message;
    size_t category_len, message_len;
};

static int found_by_time(const void *a, const void *b)
{
    const struct found_log *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* One generation's logs that match q: in time order, those still wanted
 * written; all counted. */
static int scan_logs(struct ct_reader *rd, struct ct_gen *gen, const char *q, size_t limit,
                     size_t *shown, uint64_t *matched, FILE *out)
{
    struct found_log *found = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t b = 0; b < gen->nbatches && rc == 0; b++) {
        struct ct_event_iter it;
        struct ct_event ev;
        uint64_t counts[CT_MAX_KINDS];
        int r;
        ct_rd_events(gen, b, &it);
        while ((r = ct_rd_skim_events(rd, &it, 1ull << CT_EV_LOG, counts, &ev)) == 1) {
            const struct ct_idmap_entry *cat = ct_idmap_get(&gen->strings, ev.args[1]);
            const uint8_t *c = cat ? cat->data : (const uint8_t *)"";
            size_t clen = cat ? cat->len : 0;
            if (!contains(c, clen, q) && !contains(ev.bytes, ev.bytes_len, q))
                continue;
            ++*matched;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                struct found_log *grown = realloc(found, cap * sizeof *grown);
                if (!grown) {
                    r = -1;
                    break;
                }
                found = grown;
            }
            found[n++] = (struct found_log){ev.ts_ns, gen->batches[b].tid, ev.args[0], c,
                                            ev.bytes, clen, ev.bytes_len};
        }
        if (r < 0)
            rc = -1;
    }
    if (n)
        qsort(found, n, sizeof *found, found_by_time);
    for (size_t i = 0; i < n && *shown < limit; i++, ++*shown) {
        fprintf(out, "%s{\"t\":%" PRId64 ",\"tid\":%" PRIu64 ",\"task\":%" PRIu64 ",\"category\":",
                *shown ? "," : "", found[i].t, found[i].tid, found[i].task);
        ct_json_string(out, (const char *)found[i].category, found[i].category_len);
        fputs(",\"message\":", out);
        ct_json_string(out, (const char *)found[i].message, found[i].message_len);
        fputc('}', out);
    }
    free(found);
    return rc;
}

int ct_timeline_logs_json(struct ct_timeline *tl, const char *q, size_t limit, FILE *out)
{
    /* Read from the file, streamed when it is one: the logs are not kept. */
    struct ct_reader rd;
    if (!tl->src_open)
        return -1;
    int rc = tl->src_mapped ? ct_rd_open(&rd, tl->src.path)
                            : ct_rd_open_mem(&rd, tl->src.data, tl->src.size, tl->src.path);
    if (rc != 0)
        return -1;
    rd.have_start = tl->src.have_start; /* the same time zero (a tree's) */
    rd.start_mono_ns = tl->src.start_mono_ns;
    fputs("{\"logs\":[", out);
    size_t shown = 0;
    uint64_t matched = 0;
    struct ct_gen gen = {0};
    while (rc == 0 && (rc = ct_rd_next_gen(&rd, &gen)) == 1) {
        rc = scan_logs(&rd, &gen, q, limit, &shown, &matched, out);
        if (!*q && shown == limit) { /* every log matches: the count is known */
            matched = tl->nlog_events;
            break;
        }
    }
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    fprintf(out, "],\"matched\":%" PRIu64 ",\"total\":%" PRIu64 "}", matched, tl->nlog_events);
    return 0;
}

int ct_timeline_logs_at_json(struct ct_timeline *tl, uint64_t tid, int64_t t0, int64_t t1,
                             size_t limit, FILE *out)
{
    if (t1 <= t0 || t0 < INT64_MIN / 4 || t1 > INT64_MAX / 4)
        return -1;
    struct ct_timeline *w = ct_tl_window(tl, t0, t1, 0);
    if (!w)
        return -1;
    fputs("{\"logs\":[", out);
    size_t shown = 0, matched = 0;
    for (size_t k = FIRST_AT(w->logs, w->nlogs, t, t0); k < w->nlogs && w->logs[k].t < t1; k++) {
        const struct tl_log *g = &w->logs[k];
        if (tid && g->tid != tid)
            continue;
        if (shown++ < limit) {
            fprintf(out, "%s{\"t\":%" PRId64 ",\"tid\":%" PRIu64 ",\"task\":%" PRIu64
                         ",\"category\":",
                    shown > 1 ? "," : "", g->t, tid_key(tl, g->tid), g->task);
            json_str(out, str(tl, g->category));
            fputs(",\"message\":", out);
            ct_json_string(out, w->text + g->text, g->len);
            fputc('}', out);
        }
        matched++;
    }
    fprintf(out, "],\"matched\":%zu}", matched);
    return 0;
}
