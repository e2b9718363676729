/*
 * tasks.c - `ctrace tasks [--json] FILE` and `ctrace regions [--json] FILE`:
 * by type, how many and how long, with a latency histogram drawn in the
 * terminal (src/analysis/annotations.h).
 */
#include <inttypes.h>
#include <string.h>

#include "../analysis/annotations.h"
#include "../analysis/taskview.h"
#include "cli.h"

/* A duration for people: ns, us, ms or s with three significant digits. */
static const char *human(uint64_t ns, char buf[16])
{
    if (ns < 1000)
        snprintf(buf, 16, "%" PRIu64 "ns", ns);
    else if (ns < 1000000)
        snprintf(buf, 16, "%.3gus", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, 16, "%.3gms", (double)ns / 1e6);
    else
        snprintf(buf, 16, "%.3gs", (double)ns / 1e9);
    return buf;
}

/* Counts per decade-third (1, 2, 5 steps) bucket: edges[i]..edges[i+1]
 * holds counts[i]; returns the first and last bins with a count (first -1
 * when none). */
static void bins(const struct ct_latency *l, double edges[64], uint64_t counts[64], int *first_out,
                 int *last_out, uint64_t *max_out)
{
    static const double steps[] = {1, 2, 5};
    int n = 0;
    for (double decade = 1; n < 63 && decade < 1e13; decade *= 10)
        for (int k = 0; k < 3 && n < 63; k++)
            edges[n++] = decade * steps[k];
    edges[n] = 1e19;
    /* Re-bin the fine histogram by its buckets' middles. */
    uint64_t max_count = 0;
    int first = -1, last = -1;
    for (int i = 0; i < n; i++) {
        uint64_t lo = (uint64_t)edges[i], hi = (uint64_t)edges[i + 1];
        uint64_t c = 0;
        for (unsigned b = 0; b < CT_LAT_BUCKETS; b++) {
            uint64_t v = l->buckets[b] ? ct_latency_bucket_value(l, b) : 0;
            if (l->buckets[b] && v >= lo && v < hi)
                c += l->buckets[b];
        }
        counts[i] = c;
        if (c) {
            if (first < 0)
                first = i;
            last = i;
            if (c > max_count)
                max_count = c;
        }
    }
    *first_out = first;
    *last_out = last;
    *max_out = max_count;
}

/* The bins above, drawn as bars. */
static void histogram(const struct ct_latency *l)
{
    double edges[64];
    uint64_t counts[64] = {0}, max_count;
    int first, last;
    bins(l, edges, counts, &first, &last, &max_count);
    for (int i = first; i >= 0 && i <= last; i++) {
        char a[16], b[16];
        int width = max_count ? (int)((counts[i] * 40 + max_count - 1) / max_count) : 0;
        printf("    %7s - %-7s %8" PRIu64 " %.*s\n", human((uint64_t)edges[i], a),
               human((uint64_t)edges[i + 1], b), counts[i], width,
               "########################################");
    }
}

static void print_text(const char *what, const struct ct_type_stats *types, size_t n,
                       uint64_t unmatched)
{
    if (n == 0 && !unmatched) {
        bool regions = strcmp(what, "region type") == 0;
        printf("no %s in this trace: the program %s none (%s, ctrace(3))\n",
               regions ? "regions" : "tasks", regions ? "marked" : "began",
               regions ? "ctrace_region_begin" : "ctrace_task_begin");
        return;
    }
    printf("%-24s %8s %10s %10s %10s %10s %10s %10s\n", what, "count", "total", "min", "p50",
           "p90", "p99", "max");
    for (size_t i = 0; i < n; i++) {
        const struct ct_type_stats *t = &types[i];
        const struct ct_latency *l = &t->latency;
        char b[7][16];
        printf("%-24s %8" PRIu64 " %10s %10s %10s %10s %10s %10s\n", t->name, l->count,
               human(l->total, b[0]), human(l->min, b[1]), human(ct_latency_quantile(l, 0.5), b[2]),
               human(ct_latency_quantile(l, 0.9), b[3]), human(ct_latency_quantile(l, 0.99), b[4]),
               human(l->max, b[5]));
        if (t->unfinished || t->unmatched)
            printf("    %" PRIu64 " not ended in the trace, %" PRIu64 " ended without a begin\n",
                   t->unfinished, t->unmatched);
        if (l->count)
            histogram(l);
    }
    if (unmatched)
        printf("%" PRIu64 " ended without a begin in the trace\n", unmatched);
}

void ct_cli_types_json(FILE *out, const struct ct_type_stats *types, size_t n)
{
    fprintf(out, "[");
    for (size_t i = 0; i < n; i++) {
        const struct ct_latency *l = &types[i].latency;
        fprintf(out, "%s{\"type\":", i ? "," : "");
        ct_json_string(out, types[i].name, strlen(types[i].name));
        fprintf(out, ",\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64 ",\"min_ns\":%" PRIu64
                ",\"p50_ns\":%" PRIu64 ",\"p90_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
                ",\"max_ns\":%" PRIu64 ",\"unfinished\":%" PRIu64 ",\"unmatched\":%" PRIu64,
                l->count, l->total, l->min, ct_latency_quantile(l, 0.5),
                ct_latency_quantile(l, 0.9), ct_latency_quantile(l, 0.99), l->max,
                types[i].unfinished, types[i].unmatched);
        double edges[64];
        uint64_t counts[64] = {0}, max_count;
        int first, last;
        bins(l, edges, counts, &first, &last, &max_count);
        fprintf(out, ",\"histogram\":[");
        for (int k = first; k >= 0 && k <= last; k++)
            fprintf(out, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", k > first ? "," : "",
                    (uint64_t)edges[k], (uint64_t)edges[k + 1], counts[k]);
        fprintf(out, "]}");
    }
    fprintf(out, "]");
}

void ct_cli_task_list_json(FILE *out, const struct ct_task_view *v)
{
    fprintf(out, "[");
    for (size_t i = 0; i < v->count; i++) {
        const struct ct_task_row *r = &v->rows[i];
        fprintf(out, "%s{\"id\":%" PRIu64 ",\"parent\":%" PRIu64 ",\"begin_ns\":%" PRId64
               ",\"duration_ns\":%s%" PRIu64 ",\"threads\":[",
               i ? "," : "", r->id, r->parent, r->begin_ns,
               r->end_ns == INT64_MIN ? "null,\"unfinished\":" : "",
               r->end_ns == INT64_MIN ? (uint64_t)1 : ct_span_ns(r->begin_ns, r->end_ns));
        for (unsigned k = 0; k < r->nthreads; k++)
            fprintf(out, "%s%" PRIu64, k ? "," : "", r->threads[k]);
        fprintf(out, "],\"logs\":%" PRIu64 ",\"regions\":%" PRIu64, r->logs, r->regions);
        for (int c = 0; c < CT_COL_COUNT; c++)
            fprintf(out, ",\"%s_ns\":%" PRIu64, ct_column_name(c), r->ns[c]);
        fprintf(out, ",\"sync_by_primitive_ns\":{");
        bool any = false;
        for (unsigned k = 1; k < CT_SYNC_REASONS; k++)
            if (r->sync_ns[k]) {
                fprintf(out, "%s\"%s\":%" PRIu64, any ? "," : "", ct_reason_name(k), r->sync_ns[k]);
                any = true;
            }
        fprintf(out, "}}");
    }
    fprintf(out, "]");
}

/* `ctrace tasks --type=T`: each task of the type, and where its time went. */
static int list_type(const char *path, const char *type, bool json)
{
    struct ct_reader rd;
    struct ct_task_view v;
    int rc = ct_task_view(path, type, &v, &rd);
    bool print = rc == 0 && ct_cli_may_print(&rd);
    if (print && json) {
        ct_cli_task_list_json(stdout, &v);
        printf("\n");
    } else if (print) {
        printf("tasks of type %s: %zu; time of their threads inside their regions\n\n", type,
               v.count);
        printf("%-10s %10s %8s %5s %5s", "task", "duration", "threads", "logs", "regs");
        for (int c = 0; c < CT_COL_COUNT; c++)
            printf(" %10s", ct_column_name(c));
        printf("\n");
        for (size_t i = 0; i < v.count; i++) {
            const struct ct_task_row *r = &v.rows[i];
            char d[16];
            printf("%-10" PRIu64 " %10s %8u %5" PRIu64 " %5" PRIu64, r->id,
                   r->end_ns == INT64_MIN ? "unended" : human(ct_span_ns(r->begin_ns, r->end_ns), d),
                   r->nthreads, r->logs, r->regions);
            for (int c = 0; c < CT_COL_COUNT; c++)
                printf(" %10s", human(r->ns[c], d));
            printf("\n");
        }
    }
    ct_cli_report(&rd);
    ct_rd_close(&rd);
    ct_task_view_free(&v);
    return ct_cli_status(&rd, rc);
}

static int run_common(const struct ct_command *cmd, bool regions, int argc, char **argv)
{
    if (ct_cli_wants_help(cmd, argc, argv))
        return CT_EXIT_OK;
    bool json = false;
    const char *path = NULL, *type = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (!regions && strncmp(argv[i], "--type=", 7) == 0)
            type = argv[i] + 7;
        else if (argv[i][0] == '-' && argv[i][1])
            return ct_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (path)
            return ct_cli_usage_error(cmd, "expected one FILE");
        else
            path = argv[i];
    }
    if (!path)
        return ct_cli_usage_error(cmd, "missing FILE");
    if (type)
        return list_type(path, type, json);
    struct ct_reader rd;
    if (ct_rd_open(&rd, path) != 0) {
        ct_cli_report(&rd);
        return CT_EXIT_BAD_INPUT;
    }
    struct ct_annotations a;
    int rc = ct_annotations_compute(&rd, &a);
    if (rc == 0 && ct_cli_may_print(&rd)) {
        const struct ct_type_stats *types = regions ? a.regions : a.tasks;
        size_t n = regions ? a.nregions : a.ntasks;
        if (json)
        {
            ct_cli_types_json(stdout, types, n);
            printf("\n");
        }
        else
            print_text(regions ? "region type" : "task type", types, n,
                       regions ? 0 : a.task_ends_unmatched);
        if (!json && regions && a.regions_out_of_order)
            printf("%" PRIu64 " regions ended while not the innermost\n",
                   a.regions_out_of_order);
    }
    ct_cli_report(&rd);
    ct_annotations_free(&a);
    ct_rd_close(&rd);
    return ct_cli_status(&rd, rc);
}

static int run_tasks(int argc, char **argv)
{
    return run_common(&ct_cmd_tasks, false, argc, argv);
}

static int run_regions(int argc, char **argv)
{
    return run_common(&ct_cmd_regions, true, argc, argv);
}

const struct ct_command ct_cmd_tasks = {
    "tasks",
    "tasks by type: count and latency distribution",
    "usage: ctrace tasks [--json] [--type=T] [--strict] FILE\n"
    "\n"
    "For each task type: how many tasks ended, their total, minimum, median,\n"
    "90th and 99th percentile and maximum duration (percentiles within 1.6 %),\n"
    "and a histogram of durations. Tasks begun but not ended in the trace, and\n"
    "ends whose begin is not in it, are counted apart.\n"
    "\n"
    "  --type=T  each task of type T instead: its duration, threads, logs,\n"
    "            regions, and where its time went (its threads' time inside\n"
    "            its regions: execution, blocked by reason, scheduler wait...)\n"
    "  --json    an array of {type, count, total_ns, min_ns, p50_ns, p90_ns,\n"
    "            p99_ns, max_ns, unfinished, unmatched}; with --type, of\n"
    "            {id, parent, begin_ns, duration_ns, threads, logs, regions,\n"
    "            execution_ns, ..., sync_by_primitive_ns}\n"
    "\n"
    "A cut or damaged FILE: what precedes the damage, then the error, exit 1;\n"
    "with --strict only the error.\n",
    run_tasks,
};

const struct ct_command ct_cmd_regions = {
    "regions",
    "regions by type: count and latency distribution",
    "usage: ctrace regions [--json] [--strict] FILE\n"
    "\n"
    "For each region type: how many regions ended, their total, minimum,\n"
    "median, 90th and 99th percentile and maximum duration (percentiles within\n"
    "1.6 %), and a histogram of durations. Regions still open at the end,\n"
    "ends without a begin, and ends out of order are counted apart.\n"
    "\n"
    "  --json   an array of {type, count, total_ns, min_ns, p50_ns, p90_ns,\n"
    "           p99_ns, max_ns, unfinished, unmatched}\n"
    "\n"
    "A cut or damaged FILE: what precedes the damage, then the error, exit 1;\n"
    "with --strict only the error.\n",
    run_regions,
};
