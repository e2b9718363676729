/*
 * stats.c - `ctrace stats [--json] FILE`: the overview of a trace.
 */
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/stats.h"
#include "cli.h"

static void print_text(const char *path, const char *root, const struct ct_stats *st,
                       const struct ct_reader *rd)
{
    printf("trace       %s (%" PRIu64 " bytes)\n", path, st->bytes);
    if (rd->failed)
        printf("damaged     at byte %" PRIu64 ": this report covers what precedes it\n",
               rd->error_off);
    if (st->pid)
        printf("process     %" PRIu64 " %s\n", st->pid, st->command);
    printf("duration    %.6f s\n", (double)st->duration_ns / 1e9);
    printf("scheduling  %s\n",
           st->sched == 1   ? "kernel context switches (perf_event_open)"
           : st->sched == 2 ? "run-queue waits sampled from /proc schedstat (perf_event_open "
                              "refused, or --sched=schedstat)"
                            : "not recorded");
    if (st->threads_unscheduled)
        printf("            but not for %" PRIu64 " thread%s with events (the kernel refused their "
               "rings, or their switches were lost)\n",
               st->threads_unscheduled, st->threads_unscheduled == 1 ? "" : "s");
    if (st->sched == 1)
        printf("switches    %" PRIu64 " voluntary (to block or sleep), %" PRIu64
               " involuntary (preempted)\n",
               st->voluntary_switches, st->involuntary_switches);
    printf("generations %" PRIu64 "%s\n", st->generations,
           st->incomplete_generations ? " (the last is incomplete)" : "");
    printf("threads     %" PRIu64 "\n", st->threads);
    printf("events      %" PRIu64 "\n", st->events);
    for (unsigned k = 0; k < CT_MAX_KINDS; k++)
        if (st->by_kind[k])
            printf("  %-14s %" PRIu64 "%s\n", st->kind_names[k], st->by_kind[k],
                   st->kind_known[k] ? "" : " (unknown kind, from a newer version)");
    printf("tasks       %" PRIu64 "\n", st->tasks);
    printf("regions     %" PRIu64 "\n", st->regions);
    if (st->regions_out_of_order)
        printf("  ended out of order %" PRIu64 "\n", st->regions_out_of_order);
    printf("logs        %" PRIu64 "\n", st->logs);
    printf("stacks      %" PRIu64 "\n", st->stacks);
    printf("lost events %" PRIu64 "\n", st->lost_events);
    if (st->refs_dropped)
        printf("stacks and strings left out (intern tables full) %" PRIu64 "\n",
               st->refs_dropped);
    const struct ct_diagnosis *g = &st->diag;
    if (g->nstuck)
        printf("\nblocked at the end of the trace (a leak, or a deadlock):\n");
    for (size_t i = 0; i < g->nstuck; i++) {
        const struct ct_stuck *s = &g->stuck[i];
        printf("  thread %" PRIu64 ": %s on 0x%" PRIx64 " since %.6f s\n", s->tid,
               ct_reason_name(s->reason) ? ct_reason_name(s->reason) : "?", s->object,
               (double)s->since_ns / 1e9);
        for (unsigned f = 0; f < s->nframes; f++)
            printf("      %s\n", s->frames[f]);
    }
    if (g->nsites)
        printf("\ntop blocking call sites (time from block to unblock):\n");
    for (size_t i = 0; i < g->nsites; i++) {
        const struct ct_block_site *s = &g->sites[i];
        printf("  %10.3f ms %8" PRIu64 " blocks  %s\n", (double)s->total_ns / 1e6, s->count,
               ct_reason_name(s->reason) ? ct_reason_name(s->reason) : "?");
        for (unsigned f = 0; f < s->nframes && f < 3; f++)
            printf("      %s\n", s->frames[f]);
    }
    if (g->nobjects)
        printf("\nmost contended objects (time from block to unblock):\n");
    for (size_t i = 0; i < g->nobjects; i++) {
        const struct ct_contended *o = &g->objects[i];
        printf("  %10.3f ms %8" PRIu64 " blocks  %s 0x%" PRIx64 "\n", (double)o->total_ns / 1e6,
               o->count, ct_reason_name(o->reason) ? ct_reason_name(o->reason) : "?", o->object);
    }
    if (g->nstuck || g->nsites || g->nobjects)
        printf("\n");
    for (size_t i = 0; i < st->nchildren; i++)
        printf("child       %" PRIu64 ", traced in %s.%" PRIu64 "\n", st->children[i], root,
               st->children[i]);
    if (st->exec_path[0])
        printf("exec        %s, traced in %s.%" PRIu64 " (or .N)\n", st->exec_path, root,
               st->pid);
    if (st->conflicts)
        printf("conflicting definitions %" PRIu64 "\n", st->conflicts);
}

static void print_children_json(const struct ct_stats *st);

static void print_json(const char *path, const struct ct_stats *st, const struct ct_reader *rd)
{
    printf("{\"file\":");
    ct_json_string(stdout, path, strlen(path));
    /* A damaged trace: the byte of the damage and the error; the rest of
     * the object covers what precedes it. */
    if (rd->failed) {
        printf(",\"damaged_at\":%" PRIu64 ",\"error\":", rd->error_off);
        ct_json_string(stdout, rd->error, strlen(rd->error));
    }
    printf(",\"bytes\":%" PRIu64 ",\"pid\":%" PRIu64 ",\"command\":", st->bytes, st->pid);
    ct_json_string(stdout, st->command, strlen(st->command));
    printf(",\"sched\":\"%s\",\"threads_unscheduled\":%" PRIu64,
           st->sched == 1 ? "perf" : st->sched == 2 ? "schedstat" : "none",
           st->threads_unscheduled);
    if (st->sched == 1)
        printf(",\"voluntary_switches\":%" PRIu64 ",\"involuntary_switches\":%" PRIu64,
               st->voluntary_switches, st->involuntary_switches);
    printf(",\"start_mono_ns\":%" PRIu64, st->start_mono_ns);
    printf(",\"duration_ns\":%" PRIu64 ",\"generations\":%" PRIu64
           ",\"incomplete_generations\":%" PRIu64 ",\"threads\":%" PRIu64 ",\"events\":{",
           st->duration_ns, st->generations, st->incomplete_generations, st->threads);
    bool first = true;
    for (unsigned k = 0; k < CT_MAX_KINDS; k++) {
        if (!st->kind_names[k][0])
            continue;
        printf("%s", first ? "" : ",");
        ct_json_string(stdout, st->kind_names[k], strlen(st->kind_names[k]));
        printf(":%" PRIu64, st->by_kind[k]);
        first = false;
    }
    printf("}");
    print_children_json(st);
    printf(",\"events_total\":%" PRIu64 ",\"tasks\":%" PRIu64 ",\"regions\":%" PRIu64
           ",\"regions_out_of_order\":%" PRIu64 ",\"logs\":%" PRIu64 ",\"stacks\":%" PRIu64
           ",\"strings\":%" PRIu64 ",\"lost_events\":%" PRIu64 ",\"conflicts\":%" PRIu64
           ",\"references_dropped\":%" PRIu64 "}\n",
           st->events, st->tasks, st->regions, st->regions_out_of_order, st->logs, st->stacks,
           st->strings, st->lost_events, st->conflicts, st->refs_dropped);
}

static void print_frames_json(const char (*frames)[160], unsigned n)
{
    printf(",\"stack\":[");
    for (unsigned f = 0; f < n; f++) {
        printf("%s", f ? "," : "");
        ct_json_string(stdout, frames[f], strlen(frames[f]));
    }
    printf("]");
}

static void print_diagnosis_json(const struct ct_diagnosis *g)
{
    printf(",\"blocked_at_end\":[");
    for (size_t i = 0; i < g->nstuck; i++) {
        const struct ct_stuck *s = &g->stuck[i];
        printf("%s{\"tid\":%" PRIu64 ",\"reason\":\"%s\",\"object\":%" PRIu64
               ",\"since_ns\":%" PRId64,
               i ? "," : "", s->tid, ct_reason_name(s->reason) ? ct_reason_name(s->reason) : "?",
               s->object, s->since_ns);
        print_frames_json(s->frames, s->nframes);
        printf("}");
    }
    printf("],\"top_block_sites\":[");
    for (size_t i = 0; i < g->nsites; i++) {
        const struct ct_block_site *s = &g->sites[i];
        printf("%s{\"reason\":\"%s\",\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64,
               i ? "," : "", ct_reason_name(s->reason) ? ct_reason_name(s->reason) : "?", s->count,
               s->total_ns);
        print_frames_json(s->frames, s->nframes);
        printf("}");
    }
    printf("],\"contended_objects\":[");
    for (size_t i = 0; i < g->nobjects; i++) {
        const struct ct_contended *o = &g->objects[i];
        printf("%s{\"reason\":\"%s\",\"object\":%" PRIu64 ",\"count\":%" PRIu64
               ",\"total_ns\":%" PRIu64 "}",
               i ? "," : "", ct_reason_name(o->reason) ? ct_reason_name(o->reason) : "?",
               o->object, o->count, o->total_ns);
    }
    printf("]");
}

static void print_children_json(const struct ct_stats *st)
{
    print_diagnosis_json(&st->diag);
    printf(",\"children\":[");
    for (size_t i = 0; i < st->nchildren; i++)
        printf("%s%" PRIu64, i ? "," : "", st->children[i]);
    printf("],\"exec\":");
    if (st->exec_path[0])
        ct_json_string(stdout, st->exec_path, strlen(st->exec_path));
    else
        printf("null");
}

/* Whether the trace at path was written by a child of pid (its first
 * generation's PROCESS record says so). An unreadable file is not. */
static bool child_of(const char *path, uint64_t pid)
{
    struct ct_reader rd;
    struct ct_gen gen = {0};
    bool is = ct_rd_open(&rd, path) == 0 && ct_rd_next_gen(&rd, &gen) == 1 && gen.has_process &&
              gen.process.ppid == pid;
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    return is;
}

/* The file named by -o, FILE, from this trace's path: FILE itself, or
 * FILE.PID or FILE.PID.N for a process ctrace run followed, PID being this
 * one's. Its children's traces are FILE.CHILD, whoever their parent. */
static void trace_root(const char *path, uint64_t pid, char *root, size_t cap)
{
    snprintf(root, cap, "%s", path);
    char suffix[32];
    int n = snprintf(suffix, sizeof suffix, ".%" PRIu64, pid);
    for (char *at = strstr(root, suffix); pid && at; at = strstr(at + 1, suffix)) {
        const char *rest = at + n;
        if (*rest == '.' && isdigit((unsigned char)rest[1]))
            for (rest++; isdigit((unsigned char)*rest); rest++)
                ;
        if (!*rest) {
            *at = 0;
            return;
        }
    }
}

/* The children started where no fork was seen (posix_spawn, and so system
 * and popen, whose exec no wrapper sees) have no fork event: found as the
 * files FILE.PID beside this one whose process's parent is this one. */
static void find_spawned(const char *path, struct ct_stats *st)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base);
    char dir[4096]; /* "/" for /FILE, "." for FILE */
    int dir_len = !slash ? 1 : slash == path ? 1 : (int)(slash - path);
    if (!st->pid || snprintf(dir, sizeof dir, "%.*s", dir_len, slash ? path : ".") >=
                        (int)sizeof dir)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) && st->nchildren < 64;) {
        const char *name = e->d_name;
        if (strncmp(name, base, base_len) != 0 || name[base_len] != '.' ||
            !isdigit((unsigned char)name[base_len + 1]))
            continue;
        char *end;
        uint64_t pid = strtoull(name + base_len + 1, &end, 10);
        if (*end || pid == st->pid) /* FILE.PID.N: an exec'd image, or a second file */
            continue;
        bool known = false;
        for (size_t i = 0; i < st->nchildren && !known; i++)
            known = st->children[i] == pid;
        char child[8192];
        if (known || (size_t)snprintf(child, sizeof child, "%s/%s", dir, name) >= sizeof child)
            continue;
        if (child_of(child, st->pid))
            st->children[st->nchildren++] = pid;
    }
    closedir(d);
}

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_stats, argc, argv))
        return CT_EXIT_OK;
    bool json;
    const char *path;
    struct ct_reader rd;
    int usage = ct_cli_open_json_file(&ct_cmd_stats, argc, argv, &json, &path, &rd);
    if (usage >= 0)
        return usage;
    struct ct_stats st;
    int rc = ct_stats_compute(&rd, &st);
    char root[4096];
    trace_root(path, st.pid, root, sizeof root);
    if (rc == 0 && ct_cli_may_print(&rd)) {
        find_spawned(root, &st);
        if (json)
            print_json(path, &st, &rd);
        else
            print_text(path, root, &st, &rd);
    }
    ct_cli_report(&rd);
    ct_rd_close(&rd);
    return ct_cli_status(&rd, rc);
}

const struct ct_command ct_cmd_stats = {
    "stats",
    "overview: duration, threads, events by kind, losses",
    "usage: ctrace stats [--json] [--strict] FILE\n"
    "\n"
    "Prints an overview of the trace FILE: its duration, where its scheduling\n"
    "came from (and how many threads with events have none), generations,\n"
    "threads, events by kind, tasks, regions, logs, distinct stacks and lost\n"
    "events; and a diagnosis: the threads still blocked when the trace ends\n"
    "(leaks, deadlocks) with their stacks, the call sites where threads blocked\n"
    "longest, and the most contended objects. Children that ctrace run traced\n"
    "are named: those it saw forked, and those started otherwise (posix_spawn,\n"
    "system, popen) whose traces FILE.PID lie beside FILE.\n"
    "\n"
    "  --json   one JSON object with the fields duration_ns, sched,\n"
    "           threads_unscheduled, threads, events (kind name to count),\n"
    "           tasks, regions, logs, stacks, lost_events, generations,\n"
    "           blocked_at_end, top_block_sites, contended_objects,\n"
    "           children, and more; damaged_at and error for a damaged FILE\n"
    "\n"
    "A cut or damaged FILE: the overview of what precedes the damage (its byte\n"
    "named), then the error, exit 1; with --strict only the error.\n",
    run,
};
