/* counters.h - the writer's samples of memory and threads (counters.c). */
#ifndef CT_COUNTERS_H
#define CT_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "recorder.h"

/* Counter events of the current generation, waiting to be written. */
struct ct_counter_batch {
    size_t len; /* first: read at every generation's end, events only when sampled */
    uint64_t base_ts, last_ts;
    uint8_t events[16384];
};

CT_INTERNAL void ct_counters_sample(struct ct_counter_batch *c);

#endif
