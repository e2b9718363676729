/* pprof.h - blocking profiles in pprof's format (pprof.c). */
#ifndef CT_PPROF_H
#define CT_PPROF_H

#include <stdint.h>
#include <stdio.h>

#include "../format/reader.h"

enum ct_pprof_type { CT_PPROF_NET, CT_PPROF_SYNC, CT_PPROF_SYSCALL, CT_PPROF_SCHED };

struct ct_pprof_totals {
    uint64_t contentions, delay_ns, stacks;
};

/* Writes the gzipped profile; 0, or -1 on a failure of
 * its own (memory, output). A damaged trace is read up to the damage: 0, with
 * rd->failed and rd->error set (the caller reports it). totals may
 * be NULL. */
int ct_pprof_write(struct ct_reader *rd, enum ct_pprof_type type, FILE *out,
                   struct ct_pprof_totals *totals);

#endif
