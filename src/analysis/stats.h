/* stats.h - the overview of a trace that `ctrace stats` prints. */
#ifndef CT_STATS_H
#define CT_STATS_H

#include <stdint.h>

#include "../format/reader.h"

/* Diagnosis: where threads blocked. */
#define CT_DIAG_TOP 5
#define CT_DIAG_FRAMES 6
struct ct_block_site {
    uint64_t stack;       /* the stack id (stable within one process's trace) */
    uint64_t count, total_ns;
    unsigned reason;
    char frames[CT_DIAG_FRAMES][160]; /* symbolized, innermost first */
    unsigned nframes;
};
struct ct_contended {
    uint64_t object;
    unsigned reason;
    uint64_t count, total_ns;
};
struct ct_stuck {
    uint64_t tid;
    char name[16];
    unsigned reason;
    uint64_t object;
    int64_t since_ns;
    char frames[CT_DIAG_FRAMES][160];
    unsigned nframes;
};
struct ct_diagnosis {
    struct ct_stuck stuck[64];   /* threads still blocked at the end */
    size_t nstuck;
    struct ct_block_site sites[CT_DIAG_TOP];
    size_t nsites;
    struct ct_contended objects[CT_DIAG_TOP];
    size_t nobjects;
};

struct ct_stats {
    uint64_t bytes;
    uint64_t start_mono_ns; /* time zero: CLOCK_MONOTONIC at the session's start */
    /* Context switches from the kernel's records: off a CPU to block or
     * sleep, and off it while runnable (preempted, or it yielded). */
    uint64_t voluntary_switches, involuntary_switches;
    uint64_t generations, incomplete_generations;
    int64_t first_ns, last_ns; /* the span the generations cover */
    uint64_t duration_ns;
    uint64_t threads;          /* distinct threads, the tracer's own left out */
    uint64_t events;           /* all events, definitions included */
    uint64_t by_kind[CT_MAX_KINDS];
    char kind_names[CT_MAX_KINDS][32];
    bool kind_known[CT_MAX_KINDS];
    uint64_t tasks, regions, logs, stacks, strings;
    uint64_t lost_events;
    uint64_t refs_dropped; /* strings and stacks an intern table had no room for */
    uint64_t regions_out_of_order; /* ends that were not the innermost region */
    uint64_t conflicts;
    uint64_t pid;
    /* Children that `ctrace run` traced into FILE.PID, and programs exec'd. */
    struct ct_diagnosis diag;
    uint64_t children[64];
    size_t nchildren;
    char exec_path[256];
    uint64_t sched; /* the PROCESS record's scheduling source */
    /* perf, then schedstat from this generation (1 the first) on, this far
     * into the trace: the switches gave way to samples (--sched=auto). */
    uint64_t sampled_from_gen;
    uint64_t sampled_from_ns;
    uint64_t threads_unscheduled; /* with events, but without switches or samples */
    char command[256];
};

/* Reads the whole trace. 0, or -1 on a failure of
 * its own (memory, output). A damaged trace is read up to the damage: 0, with
 * rd->failed and rd->error set (the caller reports it). */
int ct_stats_compute(struct ct_reader *rd, struct ct_stats *stats);

#endif
