/* stats.h - the overview of a trace that `ctrace stats` prints. */
#ifndef CT_STATS_H
#define CT_STATS_H

#include <stdint.h>

#include "../format/reader.h"

struct ct_stats {
    uint64_t bytes;
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
    uint64_t regions_out_of_order; /* ends that were not the innermost region */
    uint64_t conflicts;
    uint64_t pid;
    /* Children that `ctrace run` traced into FILE.PID, and programs exec'd. */
    uint64_t children[64];
    size_t nchildren;
    char exec_path[256];
    uint64_t sched; /* the PROCESS record's scheduling source */
    char command[256];
};

/* Reads the whole trace. 0, or -1 with the error in rd. */
int ct_stats_compute(struct ct_reader *rd, struct ct_stats *stats);

#endif
