/*
 * barrier.h - the close of a generation's slots (barrier.c), for the
 * writer.
 */
#ifndef CT_BARRIER_H
#define CT_BARRIER_H

#include <stdint.h>

#include "recorder.h"

/* Takes every thread's batch of generation gen, once each thread is outside
 * the event it was in; returns the list of those batches (index + 1, linked
 * through their `next`; 0 when none). The generation number has moved past
 * gen already. */
CT_INTERNAL uint32_t ct_barrier_close(uint32_t gen);

#endif
