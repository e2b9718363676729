/*
 * sched.h - when each thread ran, and on which CPU: per-thread context
 * switch records from the kernel (compat/perf_linux.c), turned into `cpu`
 * events by the writer (sched.c).
 */
#ifndef CT_SCHED_H
#define CT_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "recorder.h"

/* The `state` of a cpu event. */
enum { CT_CPU_ON = 1, CT_CPU_PREEMPTED = 2, CT_CPU_OFF = 3 };

/* How the trace knows about scheduling (PROCESS record, sched field): not
 * at all, from the kernel's context switches (exact), or from the run and
 * run-queue wait totals of /proc/self/task/TID/schedstat sampled by the
 * writer (where perf_event_open is refused). */
enum { CT_SCHED_NONE = 0, CT_SCHED_PERF = 1, CT_SCHED_SCHEDSTAT = 2 };

typedef void ct_perf_switch_fn(void *arg, uint64_t mono_ns, int state, unsigned cpu);

CT_INTERNAL int ct_perf_open(struct ct_perf_ring *ring, pid_t tid);
CT_INTERNAL void ct_perf_close(struct ct_perf_ring *ring);
/* Calls fn for each switch in the ring, oldest first; returns how many
 * records the kernel lost. */
CT_INTERNAL unsigned ct_perf_read(struct ct_perf_ring *ring, ct_perf_switch_fn *fn, void *arg);

/* Starts following the calling thread's switches (from its own first
 * event); a no-op unless scheduling is on for the session. */
CT_INTERNAL void ct_sched_thread_start(struct ct_thread *t);
/* Writer side: closes the ring of a thread whose descriptor is freed. */
CT_INTERNAL void ct_sched_thread_end(struct ct_thread *t);
/* Writer side: turns everything read so far into batches (emit is called
 * with each thread's finished batch payload). */
typedef void ct_sched_emit_fn(pid_t tid, uint64_t base_ts, const uint8_t *events, size_t len,
                              uint64_t lost);
CT_INTERNAL void ct_sched_collect(ct_sched_emit_fn *emit, bool flush);
CT_INTERNAL void ct_sched_set_clock(uint64_t base_units, uint64_t base_mono_ns, uint64_t q32);
CT_INTERNAL int ct_sched_mode(void);
/* want: -1 off, 0 or 1 the kernel's switches where permitted, else the
 * schedstat samples; 2 the schedstat samples only. */
CT_INTERNAL void ct_sched_enable(int want);

#endif
