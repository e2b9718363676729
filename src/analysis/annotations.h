/*
 * annotations.h - tasks and regions by type: how many, how long (count,
 * total, min, percentiles, max, histogram), and what did not match: ends
 * without a begin (begun before the trace), begins never ended, regions
 * ended out of order.
 */
#ifndef CT_ANNOTATIONS_H
#define CT_ANNOTATIONS_H

#include <stdint.h>

#include "../format/reader.h"
#include "latency.h"

struct ct_type_stats {
    char name[CT_MAX_STRING + 1];
    struct ct_latency latency;
    uint64_t unfinished; /* begun, never ended in the trace */
    uint64_t unmatched;  /* an end whose begin is not in the trace */
};

struct ct_annotations {
    struct ct_type_stats *tasks, *regions;
    size_t ntasks, nregions;
    uint64_t task_ends_unmatched;  /* a task end has no type: counted apart */
    uint64_t regions_out_of_order; /* ended while not the innermost */
    uint64_t logs;
};

/* Reads the whole trace. 0, or -1 on a failure of
 * its own (memory, output). A damaged trace is read up to the damage: 0, with
 * rd->failed and rd->error set (the caller reports it). */
int ct_annotations_compute(struct ct_reader *rd, struct ct_annotations *out);
void ct_annotations_free(struct ct_annotations *a);

#endif
