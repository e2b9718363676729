/*
 * tree_cmds.c - stats, threads, pprof and export over a process tree:
 * `ctrace CMD FILE FILE.*`, or `ctrace CMD --tree FILE` (FILE and every
 * trace of its descendants beside it). The files are found and linked by
 * src/analysis/tree.c; each is analysed as one trace is, on the tree's
 * time line, and the results are put together here, each row with its
 * process. The single-file paths of the commands are not touched.
 */
#include "tree_cmds.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/chrome.h"
#include "../analysis/pprof.h"
#include "../analysis/pprof_merge.h"
#include "../analysis/stats.h"
#include "../analysis/threads.h"
#include "../analysis/tree.h"
#include "output.h"

struct args {
    bool json, follow;
    const char *output, *type, *format;
    char **paths;
    size_t n;
};

/* Whether argv asks for a tree: --tree, or more than one FILE. */
bool ct_cli_tree_wanted(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tree") == 0)
            return true;
        if (strcmp(argv[i], "-o") == 0)
            i++; /* its value */
        else if (argv[i][0] != '-' || !argv[i][1])
            files++;
    }
    return files > 1;
}

static int parse(const struct ct_command *cmd, int argc, char **argv, struct args *a)
{
    *a = (struct args){0};
    a->paths = calloc((size_t)argc, sizeof *a->paths);
    if (!a->paths)
        return CT_EXIT_BAD_INPUT;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--tree") == 0)
            a->follow = true;
        else if (strcmp(s, "--json") == 0 && (cmd == &ct_cmd_stats || cmd == &ct_cmd_threads))
            a->json = true;
        else if (strcmp(s, "-o") == 0 && i + 1 < argc &&
                 (cmd == &ct_cmd_pprof || cmd == &ct_cmd_export))
            a->output = argv[++i];
        else if (strncmp(s, "--type=", 7) == 0 && cmd == &ct_cmd_pprof)
            a->type = s + 7;
        else if (strncmp(s, "--format=", 9) == 0 && cmd == &ct_cmd_export)
            a->format = s + 9;
        else if (s[0] == '-' && s[1])
            return ct_cli_usage_error(cmd, "unknown option '%s'", s);
        else
            a->paths[a->n++] = argv[i];
    }
    if (a->n == 0)
        return ct_cli_usage_error(cmd, "missing FILE");
    return -1;
}

/* Reports each image's reader (warnings, errors); the exit status. */
static int report_all(struct ct_reader *rds, size_t n, int rc)
{
    fflush(stdout);
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        ct_cli_report(&rds[i]);
        failed |= rds[i].failed;
    }
    return rc == 0 && !failed ? CT_EXIT_OK : CT_EXIT_BAD_INPUT;
}

static bool any_failed(const struct ct_reader *rds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rds[i].failed)
            return true;
    return false;
}

/* Opens every image's reader; -1 when one cannot be opened (said). */
static int open_all(const struct ct_tree *t, struct ct_reader **rds)
{
    *rds = calloc(t->count ? t->count : 1, sizeof **rds);
    if (!*rds)
        return -1;
    for (size_t i = 0; i < t->count; i++)
        if (ct_tree_open(t, i, &(*rds)[i]) != 0) {
            ct_cli_report(&(*rds)[i]);
            for (size_t k = 0; k < i; k++)
                ct_rd_close(&(*rds)[k]);
            free(*rds);
            *rds = NULL;
            return -1;
        }
    return 0;
}

static void close_all(struct ct_reader *rds, size_t n)
{
    for (size_t i = 0; rds && i < n; i++)
        ct_rd_close(&rds[i]);
    free(rds);
}

/* ---- stats ---- */

static void stats_text(const struct ct_tree *t, const struct ct_stats *st)
{
    int64_t first = 0, last = 0;
    uint64_t threads = 0, events = 0, tasks = 0, regions = 0, logs = 0, lost = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (i == 0 || st[i].first_ns < first)
            first = st[i].first_ns;
        if (i == 0 || st[i].last_ns > last)
            last = st[i].last_ns;
        threads += st[i].threads;
        events += st[i].events;
        tasks += st[i].tasks;
        regions += st[i].regions;
        logs += st[i].logs;
        lost += st[i].lost_events;
    }
    printf("process tree %zu process image%s, from %s\n", t->count, t->count == 1 ? "" : "s",
           t->images[0].path);
    printf("duration     %.6f s\n", (double)ct_span_ns(first, last) / 1e9);
    printf("threads      %" PRIu64 "\nevents       %" PRIu64 "\ntasks        %" PRIu64
           "\nregions      %" PRIu64 "\nlogs         %" PRIu64 "\nlost events  %" PRIu64 "\n\n",
           threads, events, tasks, regions, logs, lost);
    printf("%-10s %-8s %10s %10s %7s %9s  %-24s %s\n", "pid", "ppid", "start", "duration",
           "threads", "events", "file", "command");
    for (size_t i = 0; i < t->count; i++) {
        const struct ct_tree_image *img = &t->images[i];
        char pid[32];
        snprintf(pid, sizeof pid, "%*s%" PRIu64 "%s", (int)(img->depth < 8 ? img->depth : 8) * 2,
                 "", img->pid, img->exec_prev >= 0 ? "*" : "");
        printf("%-10s %-8" PRIu64 " %9.3fs %9.3fs %7" PRIu64 " %9" PRIu64 "  %-24s %s\n", pid,
               img->ppid, (double)st[i].first_ns / 1e9, (double)st[i].duration_ns / 1e9,
               st[i].threads, st[i].events, img->path, img->command);
    }
    printf("\n(*: a program exec'd by the image of the same pid above it; start: from the "
           "tree's first process)\n");
}

static void json_str(const char *s)
{
    ct_json_string(stdout, s, strlen(s));
}

static void stats_json(const struct ct_tree *t, const struct ct_stats *st)
{
    int64_t first = 0, last = 0;
    uint64_t sum[8] = {0};
    uint64_t by_kind[CT_MAX_KINDS] = {0};
    for (size_t i = 0; i < t->count; i++) {
        if (i == 0 || st[i].first_ns < first)
            first = st[i].first_ns;
        if (i == 0 || st[i].last_ns > last)
            last = st[i].last_ns;
        uint64_t v[8] = {st[i].threads, st[i].events, st[i].tasks, st[i].regions,
                         st[i].logs,    st[i].stacks, st[i].lost_events, st[i].generations};
        for (int k = 0; k < 8; k++)
            sum[k] += v[k];
        for (unsigned k = 0; k < CT_MAX_KINDS; k++)
            by_kind[k] += st[i].by_kind[k];
    }
    printf("{\"files\":%zu,\"duration_ns\":%" PRIu64 ",\"threads\":%" PRIu64
           ",\"events_total\":%" PRIu64 ",\"tasks\":%" PRIu64 ",\"regions\":%" PRIu64
           ",\"logs\":%" PRIu64 ",\"stacks\":%" PRIu64 ",\"lost_events\":%" PRIu64
           ",\"generations\":%" PRIu64 ",\"events\":{",
           t->count, ct_span_ns(first, last), sum[0], sum[1], sum[2], sum[3], sum[4], sum[5],
           sum[6], sum[7]);
    bool comma = false;
    for (unsigned k = 0; k < CT_MAX_KINDS; k++) {
        const char *name = NULL;
        for (size_t i = 0; i < t->count && !name; i++)
            if (st[i].kind_names[k][0])
                name = st[i].kind_names[k];
        if (!name)
            continue;
        printf("%s", comma ? "," : "");
        json_str(name);
        printf(":%" PRIu64, by_kind[k]);
        comma = true;
    }
    printf("},\"processes\":[");
    for (size_t i = 0; i < t->count; i++) {
        const struct ct_tree_image *img = &t->images[i];
        printf("%s{\"file\":", i ? "," : "");
        json_str(img->path);
        printf(",\"pid\":%" PRIu64 ",\"ppid\":%" PRIu64 ",\"command\":", img->pid, img->ppid);
        json_str(img->command);
        printf(",\"parent_file\":");
        if (img->parent >= 0)
            json_str(t->images[img->parent].path);
        else
            printf("null");
        printf(",\"exec_file\":");
        if (img->exec_next >= 0)
            json_str(t->images[img->exec_next].path);
        else
            printf("null");
        printf(",\"exec_of\":%s,\"start_ns\":%" PRId64 ",\"duration_ns\":%" PRIu64
               ",\"threads\":%" PRIu64 ",\"events_total\":%" PRIu64 ",\"tasks\":%" PRIu64
               ",\"regions\":%" PRIu64 ",\"logs\":%" PRIu64 ",\"lost_events\":%" PRIu64 "}",
               img->exec_prev >= 0 ? "true" : "false", st[i].first_ns, st[i].duration_ns,
               st[i].threads, st[i].events, st[i].tasks, st[i].regions, st[i].logs,
               st[i].lost_events);
    }
    printf("]}\n");
}

static int tree_stats(const struct ct_tree *t, const struct args *a)
{
    struct ct_reader *rds;
    if (open_all(t, &rds) != 0)
        return CT_EXIT_BAD_INPUT;
    struct ct_stats *st = calloc(t->count, sizeof *st);
    int rc = st ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < t->count; i++)
        rc = ct_stats_compute(&rds[i], &st[i]);
    if (rc == 0 && (!ct_cli_strict || !any_failed(rds, t->count))) {
        if (a->json)
            stats_json(t, st);
        else
            stats_text(t, st);
    }
    free(st);
    int status = report_all(rds, t->count, rc);
    close_all(rds, t->count);
    return status;
}

/* ---- threads ---- */

struct row_ref {
    const struct ct_thread_row *row;
    size_t image;
};

static int by_total(const void *a, const void *b)
{
    uint64_t x = ct_row_total(((const struct row_ref *)a)->row);
    uint64_t y = ct_row_total(((const struct row_ref *)b)->row);
    return x > y ? -1 : x < y;
}

static void threads_text(const struct ct_tree *t, const struct ct_threads *th)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += th[i].count;
    struct row_ref *refs = calloc(n ? n : 1, sizeof *refs);
    if (!refs)
        return;
    n = 0;
    for (size_t i = 0; i < t->count; i++)
        for (size_t k = 0; k < th[i].count; k++)
            if (!th[i].rows[k].tracer)
                refs[n++] = (struct row_ref){&th[i].rows[k], i};
    qsort(refs, n, sizeof *refs, by_total);
    printf("times in ms; %zu process image%s (ctrace stats --tree names them)\n\n", t->count,
           t->count == 1 ? "" : "s");
    printf("%-8s %-28s", "pid", "thread");
    for (int c = 0; c < CT_COL_COUNT; c++)
        printf(" %10s", ct_column_name(c));
    printf(" %10s\n", "total");
    for (size_t i = 0; i < n; i++) {
        const struct ct_thread_row *r = refs[i].row;
        char label[64];
        snprintf(label, sizeof label, "%" PRIu64 " %s", r->tid, r->name);
        printf("%-8" PRIu64 " %-28s", t->images[refs[i].image].pid, label);
        for (int c = 0; c < CT_COL_COUNT; c++)
            printf(" %10.3f", (double)r->ns[c] / 1e6);
        printf(" %10.3f\n", (double)ct_row_total(r) / 1e6);
    }
    uint64_t lost = 0;
    size_t most = n;
    for (size_t i = 0; i < n; i++) {
        lost += refs[i].row->lost;
        if (refs[i].row->lost && (most == n || refs[i].row->lost > refs[most].row->lost))
            most = i;
    }
    if (most < n) /* the columns of a thread that lost events miss their time */
        printf("lost: %" PRIu64 " events, %" PRIu64 " of them by thread %" PRIu64
               " of process %" PRIu64
               ": the columns miss the time they held (ctrace view marks where)\n",
               lost, refs[most].row->lost, refs[most].row->tid, t->images[refs[most].image].pid);
    /* Per process image: where its threads' time went. */
    printf("\n%-8s %-28s", "pid", "process image (threads)");
    for (int c = 0; c < CT_COL_COUNT; c++)
        printf(" %10s", ct_column_name(c));
    printf(" %10s  %s\n", "total", "command");
    for (size_t i = 0; i < t->count; i++) {
        uint64_t sum[CT_COL_COUNT] = {0}, total = 0;
        unsigned count = 0;
        for (size_t k = 0; k < th[i].count; k++) {
            const struct ct_thread_row *r = &th[i].rows[k];
            if (r->tracer)
                continue;
            count++;
            for (int c = 0; c < CT_COL_COUNT; c++)
                sum[c] += r->ns[c];
            total += ct_row_total(r);
        }
        char label[64];
        const char *base = strrchr(t->images[i].path, '/');
        snprintf(label, sizeof label, "%.50s (%u)", base ? base + 1 : t->images[i].path, count);
        printf("%-8" PRIu64 " %-28s", t->images[i].pid, label);
        for (int c = 0; c < CT_COL_COUNT; c++)
            printf(" %10.3f", (double)sum[c] / 1e6);
        printf(" %10.3f  %s\n", (double)total / 1e6, t->images[i].command);
    }
    free(refs);
}

/* The JSON array of one image's rows (ct_cli_threads_json), each object at
 * the array's top level given "pid" and "process" first: the rows' fields
 * are the single trace's, whatever they become. */
void ct_cli_tree_thread_rows(FILE *out, const char *array, size_t len,
                             const struct ct_tree_image *img, long image, bool *first)
{
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = array[i];
        if (in_string) {
            fputc(c, out);
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '[' && depth == 0) {
            depth++;
            continue;
        }
        if (c == ']' && depth == 1) {
            depth--;
            continue;
        }
        if (c == ',' && depth == 1)
            continue; /* written before each object instead */
        if (c == '{' && depth == 1) {
            fprintf(out, "%s{\"pid\":%" PRIu64 ",", *first ? "" : ",", img->pid);
            if (image >= 0)
                fprintf(out, "\"image\":%ld,", image);
            fputs("\"process\":", out);
            ct_json_string(out, img->command, strlen(img->command));
            fputc(',', out);
            *first = false;
            depth++;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        else if (c == '"')
            in_string = true;
        fputc(c, out);
    }
}

static int tree_threads(const struct ct_tree *t, const struct args *a)
{
    struct ct_reader *rds;
    if (open_all(t, &rds) != 0)
        return CT_EXIT_BAD_INPUT;
    struct ct_threads *th = calloc(t->count, sizeof *th);
    int rc = th ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < t->count; i++)
        rc = ct_threads_compute(&rds[i], &th[i]);
    if (rc == 0 && (!ct_cli_strict || !any_failed(rds, t->count))) {
        if (a->json) {
            putchar('[');
            bool first = true;
            for (size_t i = 0; i < t->count; i++) {
                char *buf = NULL;
                size_t len = 0;
                FILE *mem = open_memstream(&buf, &len);
                if (!mem)
                    break;
                ct_cli_threads_json(mem, &th[i]);
                fclose(mem);
                ct_cli_tree_thread_rows(stdout, buf, len, &t->images[i], -1, &first);
                free(buf);
            }
            printf("]\n");
        } else {
            threads_text(t, th);
        }
    }
    for (size_t i = 0; th && i < t->count; i++)
        ct_threads_free(&th[i]);
    free(th);
    int status = report_all(rds, t->count, rc);
    close_all(rds, t->count);
    return status;
}

/* ---- export ---- */

static const char chrome_head[] = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
static const char chrome_tail[] = "\n]}\n";

static int tree_export(const struct ct_tree *t, const struct args *a)
{
    if (!a->format || strcmp(a->format, "chrome") != 0)
        return ct_cli_usage_error(&ct_cmd_export, "--format=chrome is the format there is");
    struct ct_reader *rds;
    if (open_all(t, &rds) != 0)
        return CT_EXIT_BAD_INPUT;
    struct ct_output out;
    if (ct_output_open(&out, a->output, "export") != 0) {
        close_all(rds, t->count);
        return CT_EXIT_BAD_INPUT;
    }
    /* Each image's export (its pids distinct: pid x 10, + 1, + 2), its
     * events put in one array. */
    fputs(chrome_head, out.f);
    bool first = true;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->count; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem) {
            rc = -1;
            break;
        }
        rc = ct_export_chrome(&rds[i], mem, t->images[i].pid, t->images[i].command);
        fclose(mem);
        size_t head = sizeof chrome_head - 1, tail = sizeof chrome_tail - 1;
        if (rc == 0 && len >= head + tail && memcmp(buf, chrome_head, head) == 0 &&
            memcmp(buf + len - tail, chrome_tail, tail) == 0) {
            size_t body = len - head - tail;
            const char *events = buf + head;
            if (body && events[0] == '\n') { /* the first event's line break */
                events++;
                body--;
            }
            if (body) {
                fputs(first ? "\n" : ",\n", out.f);
                fwrite(events, 1, body, out.f);
                first = false;
            }
        } else if (rc == 0) {
            rc = -1;
        }
        free(buf);
    }
    fputs(chrome_tail, out.f);
    if (rc != 0 || (ct_cli_strict && any_failed(rds, t->count)))
        ct_output_abort(&out);
    else if (ct_output_commit(&out, "export") != 0)
        rc = -1;
    int status = report_all(rds, t->count, rc);
    close_all(rds, t->count);
    return status;
}

/* ---- the dispatch ---- */

int ct_cli_tree_run(const struct ct_command *cmd, int argc, char **argv)
{
    struct args a;
    int usage = parse(cmd, argc, argv, &a);
    if (usage >= 0) {
        free(a.paths);
        return usage;
    }
    struct ct_tree t;
    char err[256];
    if (ct_tree_load(&t, a.paths, a.n, a.follow, err, sizeof err) != 0) {
        fprintf(stderr, "ctrace %s: %s\n", cmd->name, err);
        free(a.paths);
        return CT_EXIT_BAD_INPUT;
    }
    int rc = cmd == &ct_cmd_stats     ? tree_stats(&t, &a)
             : cmd == &ct_cmd_threads ? tree_threads(&t, &a)
             : cmd == &ct_cmd_export  ? tree_export(&t, &a)
                                      : ct_cli_tree_pprof(&t, a.type, a.output);
    ct_tree_free(&t);
    free(a.paths);
    return rc;
}

/* ---- pprof ---- */

int ct_cli_tree_pprof(const struct ct_tree *t, const char *type, const char *output)
{
    static const char *names[] = {"net", "sync", "syscall", "sched"};
    int kind = -1;
    for (int i = 0; type && i < 4; i++)
        if (strcmp(type, names[i]) == 0)
            kind = i;
    if (kind < 0)
        return ct_cli_usage_error(&ct_cmd_pprof, "--type must be net, sync, syscall or sched");
    struct ct_reader *rds;
    if (open_all(t, &rds) != 0)
        return CT_EXIT_BAD_INPUT;
    char fallback[4200];
    if (!output) {
        snprintf(fallback, sizeof fallback, "%s.%s.pb.gz", t->images[0].path, names[kind]);
        output = fallback;
    }
    struct ct_pprof_merge *m = ct_pprof_merge_new();
    struct ct_pprof_totals sum = {0};
    int rc = m ? 0 : -1;
    /* Each process's profile, symbolized against its own modules, then
     * put together. */
    for (size_t i = 0; rc == 0 && i < t->count; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        struct ct_pprof_totals totals;
        rc = mem ? ct_pprof_write(&rds[i], (enum ct_pprof_type)kind, mem, &totals) : -1;
        if (mem)
            fclose(mem);
        if (rc == 0)
            rc = ct_pprof_merge_add(m, buf, len, t->images[i].pid);
        sum.contentions += totals.contentions;
        sum.delay_ns += totals.delay_ns;
        sum.stacks += totals.stacks;
        free(buf);
    }
    struct ct_output out;
    if (rc == 0 && ct_output_open(&out, output, "pprof") == 0) {
        if (ct_pprof_merge_write(m, out.f) != 0 || (ct_cli_strict && any_failed(rds, t->count))) {
            ct_output_abort(&out);
            rc = -1;
        } else if (ct_output_commit(&out, "pprof") != 0) {
            rc = -1;
        } else if (out.path) {
            fprintf(stderr, "wrote %s: %zu processes, %" PRIu64 " contentions, %.3f ms of delay, "
                            "%" PRIu64 " stacks\n",
                    output, t->count, sum.contentions, (double)sum.delay_ns / 1e6, sum.stacks);
        }
    } else if (rc == 0) {
        rc = -1;
    }
    ct_pprof_merge_free(m);
    int status = report_all(rds, t->count, rc);
    close_all(rds, t->count);
    return status;
}
