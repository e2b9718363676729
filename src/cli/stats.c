/*
 * stats.c - `ctrace stats [--json] FILE`: the overview of a trace.
 */
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/stats.h"
#include "../analysis/tree.h"
#include "cli.h"
#include "tree_cmds.h"

struct neighbours;
static const char *file_of(const struct neighbours *nb, uint64_t pid);
static const char *exec_file(const struct neighbours *nb);

static void print_text(const char *path, const struct ct_stats *st, const struct ct_reader *rd,
                       const struct neighbours *nb)
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
    if (st->sampled_from_gen)
        printf("            then run-queue waits sampled from /proc schedstat from %.6f s on "
               "(generation %" PRIu64 "): the switches came too fast (--sched=auto)\n",
               (double)st->sampled_from_ns / 1e9, st->sampled_from_gen);
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
    for (size_t i = 0; i < st->nchildren; i++) {
        const char *file = file_of(nb, st->children[i]);
        printf("child       %" PRIu64 ", %s%s\n", st->children[i],
               file ? "traced in " : "not traced (no trace of it beside this one)",
               file ? file : "");
    }
    if (st->exec_path[0])
        printf("exec        %s, %s%s\n", st->exec_path,
               exec_file(nb) ? "traced in " : "not traced (no trace of it beside this one)",
               exec_file(nb) ? exec_file(nb) : "");
    if (st->conflicts)
        printf("conflicting definitions %" PRIu64 "\n", st->conflicts);
}

static void print_children_json(const struct ct_stats *st, const struct neighbours *nb);

static void print_json(const char *path, const struct ct_stats *st, const struct ct_reader *rd,
                       const struct neighbours *nb)
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
    if (st->sampled_from_gen)
        printf(",\"sampled_from_ns\":%" PRIu64 ",\"sampled_from_generation\":%" PRIu64,
               st->sampled_from_ns, st->sampled_from_gen);
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
    print_children_json(st, nb);
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

static void json_path_or_null(const char *p)
{
    if (p)
        ct_json_string(stdout, p, strlen(p));
    else
        printf("null");
}

static void print_children_json(const struct ct_stats *st, const struct neighbours *nb)
{
    print_diagnosis_json(&st->diag);
    printf(",\"children\":[");
    for (size_t i = 0; i < st->nchildren; i++)
        printf("%s%" PRIu64, i ? "," : "", st->children[i]);
    printf("],\"children_files\":[");
    for (size_t i = 0; i < st->nchildren; i++) {
        printf("%s", i ? "," : "");
        json_path_or_null(file_of(nb, st->children[i]));
    }
    printf("],\"exec\":");
    json_path_or_null(st->exec_path[0] ? st->exec_path : NULL);
    printf(",\"exec_file\":");
    json_path_or_null(exec_file(nb));
}

/* The files of the processes this one started, and of the program it
 * exec'd, where they were traced (src/analysis/tree.c: beside this file,
 * by their PROCESS records; a child belongs to the image that ran when it
 * started). Children started where no fork was seen (posix_spawn, so
 * system and popen) have no fork event: they are added. */
struct neighbours {
    uint64_t pids[64];
    char paths[64][4096];
    size_t n;
    char exec_path[4096];
};

static void find_neighbours(const char *path, struct ct_stats *st, struct neighbours *nb)
{
    nb->n = ct_tree_neighbours(path, nb->pids, nb->paths, 64, nb->exec_path,
                               sizeof nb->exec_path);
    for (size_t i = 0; i < nb->n && st->nchildren < 64; i++) {
        bool known = false;
        for (size_t k = 0; k < st->nchildren && !known; k++)
            known = st->children[k] == nb->pids[i];
        if (!known)
            st->children[st->nchildren++] = nb->pids[i];
    }
}

static const char *exec_file(const struct neighbours *nb)
{
    return nb->exec_path[0] ? nb->exec_path : NULL;
}

/* Where child pid was traced: its file, or NULL. */
static const char *file_of(const struct neighbours *nb, uint64_t pid)
{
    for (size_t i = 0; i < nb->n; i++)
        if (nb->pids[i] == pid)
            return nb->paths[i];
    return NULL;
}

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_stats, argc, argv))
        return CT_EXIT_OK;
    if (ct_cli_tree_wanted(argc, argv)) /* FILE FILE.*, or --tree FILE */
        return ct_cli_tree_run(&ct_cmd_stats, argc, argv);
    bool json;
    const char *path;
    struct ct_reader rd;
    int usage = ct_cli_open_json_file(&ct_cmd_stats, argc, argv, &json, &path, &rd);
    if (usage >= 0)
        return usage;
    struct ct_stats st;
    int rc = ct_stats_compute(&rd, &st);
    static struct neighbours nb;
    if (rc == 0 && ct_cli_may_print(&rd)) {
        find_neighbours(path, &st, &nb);
        if (json)
            print_json(path, &st, &rd, &nb);
        else
            print_text(path, &st, &rd, &nb);
    }
    ct_cli_report(&rd);
    ct_rd_close(&rd);
    return ct_cli_status(&rd, rc);
}

const struct ct_command ct_cmd_stats = {
    "stats",
    "overview: duration, threads, events by kind, losses",
    "usage: ctrace stats [--json] [--strict] [--tree] FILE [FILE.PID...]\n"
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
    "named), then the error, exit 1; with --strict only the error.\n"
    "\n"
    "A process tree: FILE FILE.* (the traces ctrace run wrote for the program's\n"
    "children and exec'd programs), or --tree FILE (FILE and every trace of its\n"
    "descendants beside it) reads them as one, on one time line:\n"
    "the totals, and a line for each process image (pid, parent, start,\n"
    "duration, threads, events, file, its command as it ended); --json gives\n"
    "the totals and processes: [{file, pid, ppid, command, parent_file,\n"
    "exec_file, exec_of, start_ns, duration_ns, ...}].\n",
    run,
};
