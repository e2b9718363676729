/*
 * threads.c - `ctrace threads [--json] FILE`: where each thread's time went,
 * per thread and per start function (src/analysis/threads.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/threads.h"
#include "cli.h"
#include "tree_cmds.h"

static int by_total(const void *a, const void *b)
{
    uint64_t x = ct_row_total(a), y = ct_row_total(b);
    return x > y ? -1 : x < y;
}

static const char *function_of(const struct ct_thread_row *r)
{
    return r->start_function[0] ? r->start_function : "(not created in the trace)";
}

static void print_ms(uint64_t ns)
{
    printf(" %10.3f", (double)ns / 1e6);
}

/* The first column: as wide as its longest label (at least 28, at most
 * 100), so that no label or header is cut. */
static int width;

static void label_width(const struct ct_threads *t, bool functions)
{
    size_t w = 28;
    for (size_t i = 0; i < t->count; i++) {
        const struct ct_thread_row *r = &t->rows[i];
        size_t n = functions ? strlen(function_of(r)) + 8 : strlen(r->name) + 21;
        if (!r->tracer && n > w)
            w = n;
    }
    width = (int)(w < 100 ? w : 100);
}

static void header(const char *first, bool switches)
{
    printf("%-*s", width, first);
    for (int c = 0; c < CT_COL_COUNT; c++)
        printf(" %10s", ct_column_name(c));
    printf(" %10s", "total");
    if (switches)
        printf(" %9s %9s", "vol.sw", "invol.sw");
    putchar('\n');
}

/* Where events were lost, the columns miss what they held: said under
 * the table, the thread that lost most named. */
static void say_lost(const struct ct_threads *t)
{
    const struct ct_thread_row *most = NULL;
    uint64_t lost = 0;
    unsigned threads = 0;
    for (size_t i = 0; i < t->count; i++) {
        const struct ct_thread_row *r = &t->rows[i];
        if (r->tracer || !r->lost)
            continue;
        lost += r->lost;
        threads++;
        if (!most || r->lost > most->lost)
            most = r;
    }
    if (!most)
        return;
    char others[64] = "";
    if (threads > 1)
        snprintf(others, sizeof others, " (%" PRIu64 " in all, %u threads)", lost, threads);
    printf("lost: %" PRIu64 " event%s of thread %" PRIu64 "%s: %s (ctrace view marks where)\n",
           most->lost, most->lost == 1 ? "" : "s", most->tid, others,
           most->gapped ? "its context switches; after the last one read, its execution and "
                          "sched follow the kernel's totals"
                        : "the columns miss the time they held");
}

static void print_text(const struct ct_threads *t)
{
    printf("times in ms; scheduling %s\n\n",
           t->sched && t->sched_mode == 2
               ? "from the kernel's context switches, then from schedstat samples (they "
                 "came too fast; ctrace stats says from when)"
           : t->sched ? "from the kernel's context switches"
           : t->sched_mode == 2
               ? "from schedstat samples: sched is each sample's run-queue wait, taken "
                 "from execution"
               : "not recorded: execution is all time outside recorded waits");
    label_width(t, false);
    header("thread", t->sched);
    for (size_t i = 0; i < t->count; i++) {
        const struct ct_thread_row *r = &t->rows[i];
        if (r->tracer)
            continue;
        char label[64];
        snprintf(label, sizeof label, "%" PRIu64 " %s", r->tid, r->name);
        printf("%-*.*s", width, width, label);
        for (int c = 0; c < CT_COL_COUNT; c++)
            print_ms(r->ns[c]);
        print_ms(ct_row_total(r));
        if (t->sched && r->switches)
            printf(" %9" PRIu64 " %9" PRIu64, r->voluntary, r->involuntary);
        putchar('\n');
    }
    say_lost(t);
    /* Grouped by start function, as go tool trace groups goroutines. */
    printf("\n");
    label_width(t, true);
    header("start function (threads)", t->sched);
    bool *done = calloc(t->count ? t->count : 1, 1);
    for (size_t i = 0; done && i < t->count; i++) {
        if (done[i] || t->rows[i].tracer)
            continue;
        uint64_t sum[CT_COL_COUNT] = {0}, total = 0, vol = 0, invol = 0;
        unsigned n = 0;
        for (size_t j = i; j < t->count; j++) {
            if (done[j] || t->rows[j].tracer ||
                strcmp(function_of(&t->rows[j]), function_of(&t->rows[i])) != 0)
                continue;
            done[j] = true;
            n++;
            for (int c = 0; c < CT_COL_COUNT; c++)
                sum[c] += t->rows[j].ns[c];
            total += ct_row_total(&t->rows[j]);
            vol += t->rows[j].voluntary;
            invol += t->rows[j].involuntary;
        }
        char label[128];
        snprintf(label, sizeof label, "%s (%u)", function_of(&t->rows[i]), n);
        printf("%-*.*s", width, width, label);
        for (int c = 0; c < CT_COL_COUNT; c++)
            print_ms(sum[c]);
        print_ms(total);
        if (t->sched)
            printf(" %9" PRIu64 " %9" PRIu64, vol, invol);
        putchar('\n');
    }
    free(done);
}

void ct_cli_threads_json(FILE *out, const struct ct_threads *t)
{
    static const char *fields[CT_COL_COUNT] = {"execution_ns", "network_wait_ns", "sync_block_ns",
                                               "syscall_ns",   "sched_wait_ns",   "sleep_ns",
                                               "other_ns"};
    fprintf(out, "[");
    bool first = true;
    for (size_t i = 0; i < t->count; i++) {
        const struct ct_thread_row *r = &t->rows[i];
        if (r->tracer)
            continue;
        fprintf(out, "%s{\"tid\":%" PRIu64 ",\"name\":", first ? "" : ",", r->tid);
        ct_json_string(out, r->name, strlen(r->name));
        fprintf(out, ",\"start_function\":");
        ct_json_string(out, r->start_function, strlen(r->start_function));
        for (int c = 0; c < CT_COL_COUNT; c++)
            fprintf(out, ",\"%s\":%" PRIu64, fields[c], r->ns[c]);
        fprintf(out, ",\"total_ns\":%" PRIu64 ",\"sync_by_primitive_ns\":{", ct_row_total(r));
        bool any = false;
        for (unsigned k = 0; k < CT_SYNC_REASONS; k++) {
            if (!r->sync_ns[k])
                continue;
            fprintf(out, "%s\"%s\":%" PRIu64, any ? "," : "", ct_sync_primitive_name(k),
                    r->sync_ns[k]);
            any = true;
        }
        fprintf(out, "},\"begin_ns\":%" PRId64 ",\"end_ns\":%" PRId64 ",\"exited\":%s,\"blocks\":%" PRIu64
               ",\"syscalls\":%" PRIu64,
               r->begin_ns, r->end_ns, r->exited ? "true" : "false", r->blocks, r->syscalls);
        if (r->switches)
            fprintf(out, ",\"voluntary_switches\":%" PRIu64 ",\"involuntary_switches\":%" PRIu64,
                    r->voluntary, r->involuntary);
        if (r->lost)
            fprintf(out, ",\"lost_events\":%" PRIu64, r->lost);
        fprintf(out, "}");
        first = false;
    }
    fprintf(out, "]");
}

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_threads, argc, argv))
        return CT_EXIT_OK;
    if (ct_cli_tree_wanted(argc, argv)) /* FILE FILE.*, or --tree FILE */
        return ct_cli_tree_run(&ct_cmd_threads, argc, argv);
    bool json;
    const char *path;
    struct ct_reader rd;
    int usage = ct_cli_open_json_file(&ct_cmd_threads, argc, argv, &json, &path, &rd);
    if (usage >= 0)
        return usage;
    struct ct_threads t;
    int rc = ct_threads_compute(&rd, &t);
    if (rc == 0 && ct_cli_may_print(&rd)) {
        if (t.count)
            qsort(t.rows, t.count, sizeof *t.rows, by_total);
        if (json) {
            ct_cli_threads_json(stdout, &t);
            printf("\n");
        } else {
            print_text(&t);
        }
    }
    ct_cli_report(&rd);
    ct_threads_free(&t);
    ct_rd_close(&rd);
    return ct_cli_status(&rd, rc);
}

const struct ct_command ct_cmd_threads = {
    "threads",
    "where each thread's time went, per thread and per start function",
    "usage: ctrace threads [--json] [--strict] [--tree] FILE [FILE.PID...]\n"
    "\n"
    "Splits each thread's life in the trace into columns that add up to it.\n"
    "One definition, used by threads, stats, pprof, export and view alike\n"
    "(pprof --type=net|sync|syscall|sched totals are these columns' totals):\n"
    "\n"
    "  execution  on a CPU (inside a call too: the kernel's work for it)\n"
    "  network    off a CPU in a call on a socket, or a wait on a set of\n"
    "             descriptors (poll, select, epoll) that holds one\n"
    "  sync       off a CPU blocked on a mutex, rwlock, spinlock, condvar,\n"
    "             semaphore, barrier or join (a condvar signal that waited for\n"
    "             its waiters too; futex: a wait the kernel showed, no wrapper)\n"
    "  syscall    off a CPU in another blocking call: pipes, files, the C\n"
    "             library's streams (fgets, fread, printf, ...), waits for a\n"
    "             child or a signal\n"
    "  sched      runnable, waiting for a CPU: preempted, woken from a block or\n"
    "             call and not yet running (wake-up latency), or new and not yet\n"
    "             run (Go's runnable goroutine)\n"
    "  sleep      off a CPU in a sleep\n"
    "  other      off a CPU with no recorded call to explain it\n"
    "\n"
    "A thread created in the trace lives from where the kernel made it runnable,\n"
    "inside its creator's pthread_create. CPU states come from the kernel's\n"
    "context switches (ctrace run), at the times of its switches, and wake-up\n"
    "latency from its run-queue totals (schedstat: from the moment the woken\n"
    "thread was queued; a wake-up from another CPU reaches it microseconds\n"
    "after the waker's call); vol.sw and invol.sw count its switches off a CPU\n"
    "to block (voluntary) and while runnable (involuntary). A thread that lost\n"
    "events (its buffers or the kernel's ring were full) misses the time they\n"
    "held: said under the table; where lost switches leave it short of the\n"
    "kernel's totals, its time from its last switch read is split by those\n"
    "totals. With schedstat samples alone (--sched=schedstat, or where\n"
    "perf_event_open is refused) execution and sched follow the kernel's totals\n"
    "a sample period behind, and other cannot be told from execution. Without\n"
    "either, execution is all time outside recorded waits. Sorted by total;\n"
    "then grouped by start function.\n"
    "\n"
    "  --json   an array of {tid, name, start_function, execution_ns,\n"
    "           network_wait_ns, sync_block_ns, syscall_ns, sched_wait_ns,\n"
    "           sleep_ns, other_ns, total_ns, ...}; with the kernel's switches,\n"
    "           voluntary_switches and involuntary_switches too, and\n"
    "           lost_events where the thread lost some\n"
    "\n"
    "A cut or damaged FILE: what precedes the damage, then the error, exit 1;\n"
    "with --strict only the error.\n"
    "\n"
    "A process tree: FILE FILE.* (the traces ctrace run wrote for the program's\n"
    "children and exec'd programs), or --tree FILE (FILE and every trace of its\n"
    "descendants beside it) reads them as one, on one time line:\n"
    "every thread with its process's pid, then\n"
    "each process image's total; --json gives each row pid and process too.\n",
    run,
};
