/*
 * timeline_tree.c - a process tree's timelines answered as one (see
 * timeline_tree.h): each image's index built alone, then the keys that
 * keep its lanes, strings and task rows apart in the joined answers.
 */
#include "timeline_tree.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int ct_tl_tree_open(struct ct_tl_tree *t, char *err, size_t cap)
{
    t->n = t->tree.count;
    if (t->n == 0 || t->n > CT_TL_TREE_MAX) {
        snprintf(err, cap, "%zu process images: ctrace view shows 1 to %d at once", t->n,
                 CT_TL_TREE_MAX);
        return -1;
    }
    t->src = calloc(t->n, sizeof *t->src);
    t->tl = calloc(t->n, sizeof *t->tl);
    if (!t->src || !t->tl) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (ct_rd_open_mapped(&t->src[i], t->tree.images[i].path) != 0) {
            snprintf(err, cap, "%s", t->src[i].error);
            return -1;
        }
        t->src[i].have_start = true;
        t->src[i].start_mono_ns = t->tree.zero_ns;
    }
    return 0;
}

static int by_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The keys (timeline_tree.h): an image whose tids are all new keeps them
 * and claims them; one with a tid claimed already is qualified whole. */
static int join(struct ct_tl_tree *t)
{
    size_t total = 0;
    for (size_t i = 0; i < t->n; i++)
        total += t->tl[i].nlanes;
    uint64_t *claimed = malloc((total ? total : 1) * sizeof *claimed);
    int *cpus = malloc(1024 * sizeof *cpus);
    if (!claimed || !cpus) {
        free(claimed);
        free(cpus);
        return -1;
    }
    size_t nclaimed = 0, ncpus = 0;
    uint32_t strings = 0, rows = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct ct_timeline *tl = &t->tl[i];
        const struct ct_tree_image *img = &t->tree.images[i];
        bool clash = false;
        for (size_t k = 0; k < tl->nlanes && !clash; k++)
            clash = nclaimed && bsearch(&tl->lanes[k].tid, claimed, nclaimed, sizeof *claimed,
                                        by_value);
        tl->json_tid_base = clash ? (uint64_t)i << 32 : 0;
        if (!clash) {
            for (size_t k = 0; k < tl->nlanes; k++)
                claimed[nclaimed++] = tl->lanes[k].tid;
            qsort(claimed, nclaimed, sizeof *claimed, by_value);
        }
        tl->json_tree = true;
        tl->json_image = (uint32_t)i;
        tl->json_string_base = strings;
        tl->json_row_base = rows;
        strings += (uint32_t)tl->nstrings;
        rows += ct_tl_task_rows_shown(tl);
        const char *cmd = strrchr(img->exe, '/') ? strrchr(img->exe, '/') + 1 : img->exe;
        unsigned execs = 0; /* the images of its pid before it */
        for (int k = img->exec_prev; k >= 0 && execs < t->n; k = t->tree.images[k].exec_prev)
            execs++;
        char nth[24] = "";
        if (execs)
            snprintf(nth, sizeof nth, ", exec %u", execs);
        snprintf(tl->json_counter_suffix, sizeof tl->json_counter_suffix,
                 " (pid %" PRIu64 "%s%.16s%s)", img->pid, *cmd ? " " : "", cmd, nth);
        if (i == 0 || tl->begin < t->begin)
            t->begin = tl->begin;
        if (i == 0 || tl->end > t->end)
            t->end = tl->end;
        for (size_t k = 0; k < tl->ncpus; k++) {
            bool seen = false;
            for (size_t j = 0; j < ncpus && !seen; j++)
                seen = cpus[j] == tl->cpus[k].cpu;
            if (!seen && ncpus < 1024)
                cpus[ncpus++] = tl->cpus[k].cpu;
        }
    }
    qsort(cpus, ncpus, sizeof *cpus, by_int);
    free(claimed);
    t->cpus = cpus;
    t->ncpus = ncpus;
    return 0;
}

int ct_tl_tree_build(struct ct_tl_tree *t, unsigned parts, bool *damaged, char *err, size_t cap)
{
    *damaged = false;
    for (size_t i = 0; i < t->n; i++) {
        struct ct_reader pass;
        if (ct_tree_open(&t->tree, i, &pass) != 0) {
            snprintf(err, cap, "%s", pass.error);
            return -1;
        }
        int rc = ct_timeline_build(&pass, &t->src[i], &t->tl[i], parts, NULL);
        if (rc != 0 || pass.failed) {
            snprintf(err, cap, "%s", pass.error);
            *damaged = rc == 0;
        }
        ct_rd_close(&pass);
        if (rc != 0)
            return -1;
    }
    if (join(t) != 0) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    return 0;
}

void ct_tl_tree_free(struct ct_tl_tree *t)
{
    for (size_t i = 0; t->tl && i < t->n; i++)
        ct_timeline_free(&t->tl[i]);
    for (size_t i = 0; t->src && i < t->n; i++)
        ct_rd_close(&t->src[i]);
    free(t->tl);
    free(t->src);
    free(t->cpus);
    ct_tree_free(&t->tree);
    memset(t, 0, sizeof *t);
}

int ct_tl_tree_find(const struct ct_tl_tree *t, uint64_t key, uint64_t *tid)
{
    uint64_t base = key >> 32 << 32;
    *tid = key & 0xffffffffu;
    for (size_t i = 0; i < t->n; i++) {
        if (t->tl[i].json_tid_base != base)
            continue;
        for (size_t k = 0; k < t->tl[i].nlanes; k++)
            if (t->tl[i].lanes[k].tid == *tid)
                return (int)i;
    }
    return -1;
}

static void json_str(FILE *out, const char *s)
{
    ct_json_string(out, s, strlen(s));
}

void ct_tl_tree_summary_json(const struct ct_tl_tree *t, FILE *out)
{
    uint64_t events = 0, tasks = 0, logs = 0, wakes = 0, ncpu = 0;
    unsigned rows = 0;
    bool sched = false;
    for (size_t i = 0; i < t->n; i++) {
        const struct ct_timeline *tl = &t->tl[i];
        events += tl->events;
        tasks += tl->ntasks;
        logs += tl->nlog_events;
        wakes += tl->nwake_events;
        ncpu = tl->ncpu > ncpu ? tl->ncpu : ncpu;
        rows += ct_tl_task_rows_shown(tl);
        sched |= tl->sched;
    }
    fprintf(out,
            "{\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"sched\":%s,\"events\":%" PRIu64
            ",\"pid\":%" PRIu64 ",\"ncpu\":%" PRIu64 ",\"tree\":true,\"processes\":[",
            t->begin, t->end, sched ? "true" : "false", events, t->tree.images[0].pid, ncpu);
    for (size_t i = 0; i < t->n; i++) {
        const struct ct_tree_image *img = &t->tree.images[i];
        /* Its threads' lifetimes: the time line's begin is the tree's. */
        int64_t b = t->tl[i].end, e = t->tl[i].begin;
        for (size_t k = 0; k < t->tl[i].threads.count; k++) {
            const struct ct_thread_row *r = &t->tl[i].threads.rows[k];
            b = r->begin_ns < b ? r->begin_ns : b;
            e = r->end_ns > e ? r->end_ns : e;
        }
        if (e < b)
            b = e = t->tl[i].begin;
        fprintf(out,
                "%s{\"image\":%zu,\"pid\":%" PRIu64 ",\"ppid\":%" PRIu64 ",\"parent\":%d,"
                "\"exec_prev\":%d,\"depth\":%u,\"threads\":%zu,\"begin\":%" PRId64
                ",\"end\":%" PRId64 ",\"command\":",
                i ? "," : "", i, img->pid, img->ppid, img->parent, img->exec_prev, img->depth,
                t->tl[i].nlanes, b, e);
        json_str(out, img->command);
        fputs(",\"file\":", out);
        json_str(out, img->path);
        fputc('}', out);
    }
    fputs("],\"states\":[", out);
    for (int c = 0; c < CT_COL_COUNT; c++) {
        fprintf(out, "%s", c ? "," : "");
        json_str(out, ct_tl_state_name(c));
    }
    fputs("],\"threads\":[", out);
    bool first = true;
    for (size_t i = 0; i < t->n; i++)
        ct_tl_summary_threads(&t->tl[i], &first, out);
    fputs("],\"cpus\":[", out);
    for (size_t i = 0; i < t->ncpus; i++)
        fprintf(out, "%s%d", i ? "," : "", t->cpus[i]);
    fputs("],\"counters\":[", out);
    first = true;
    for (size_t i = 0; i < t->n; i++)
        ct_tl_summary_counters(&t->tl[i], &first, out);
    fputs("],\"counter_images\":[", out); /* each counter's image */
    first = true;
    for (size_t i = 0; i < t->n; i++)
        for (size_t k = 0; k < t->tl[i].ncounters; k++) {
            fprintf(out, "%s%zu", first ? "" : ",", i);
            first = false;
        }
    fputc(']', out);
    ct_tl_summary_names(out);
    fputs(",\"strings\":[", out);
    first = true;
    for (size_t i = 0; i < t->n; i++)
        ct_tl_summary_strings(&t->tl[i], &first, out);
    fprintf(out,
            "],\"tasks\":%" PRIu64 ",\"task_rows\":%u,\"logs\":%" PRIu64 ",\"wakes\":%" PRIu64 "}",
            tasks, rows, logs, wakes);
}

int ct_tl_tree_query_json(struct ct_tl_tree *t, int64_t t0, int64_t t1, unsigned px, FILE *out)
{
    if (t1 <= t0 || px == 0 || px > 20000)
        return -1;
    double w = (double)(t1 - t0) / px;
    struct ct_timeline **win = calloc(t->n, sizeof *win);
    if (!win)
        return -1;
    /* Each image exactly when its part of the range is few enough of its
     * batches; an image that has nothing there reads nothing. */
    bool exact = true;
    for (size_t i = 0; i < t->n; i++) {
        win[i] = ct_tl_window(&t->tl[i], t0, t1, CT_TL_WINDOW_BUDGET);
        exact &= win[i] != NULL;
    }
    fprintf(out, "{\"t0\":%" PRId64 ",\"t1\":%" PRId64 ",\"px\":%u,\"exact\":%s,\"threads\":[", t0,
            t1, px, exact ? "true" : "false");
    bool first = true;
    for (size_t i = 0; i < t->n; i++)
        ct_tl_query_threads(&t->tl[i], win[i], t0, t1, w, &first, out);
    fputs("],\"cpus\":[", out);
    for (size_t c = 0; c < t->ncpus; c++) {
        fprintf(out, "%s{\"cpu\":%d,\"runs\":[", c ? "," : "", t->cpus[c]);
        first = true;
        for (size_t i = 0; i < t->n; i++)
            for (size_t k = 0; k < t->tl[i].ncpus; k++)
                if (t->tl[i].cpus[k].cpu == t->cpus[c])
                    ct_tl_query_cpu(&t->tl[i], win[i], k, t0, t1, w, &first, out);
        fputs("]}", out);
    }
    fputs("],\"counters\":[", out);
    first = true;
    for (size_t i = 0; i < t->n; i++)
        ct_tl_query_counters(&t->tl[i], t0, t1, w, &first, out);
    fputs("],\"tasks\":[", out);
    first = true;
    for (size_t i = 0; i < t->n; i++)
        ct_tl_query_tasks(&t->tl[i], win[i], t0, t1, w, &first, out);
    fputs("],\"logs\":[", out);
    first = true;
    for (size_t i = 0; i < t->n; i++)
        ct_tl_query_logs(&t->tl[i], win[i], t0, t1, w, &first, out);
    fputs("],\"wakes\":[", out);
    first = true;
    uint64_t in_range = 0;
    for (size_t i = 0; i < t->n; i++)
        in_range += ct_tl_query_wakes(&t->tl[i], win[i], t0, t1, &first, out);
    fprintf(out, "],\"wakes_in_range\":%" PRIu64 "}", in_range);
    free(win);
    return 0;
}
