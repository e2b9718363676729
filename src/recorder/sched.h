/*
 * sched.h - when each thread ran, and on which CPU: context switch records
 * from the kernel (compat/perf_linux.c), per CPU for the threads the
 * session's first thread creates, per thread for the others, turned into
 * `cpu` events by the writer (sched.c).
 */
#ifndef CT_SCHED_H
#define CT_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "recorder.h"

/* The `state` of a cpu event: on a CPU; off it while runnable (preempted,
 * or it yielded); off it to block or sleep; woken from that, runnable,
 * waiting for a CPU (the writer's estimate: sched_wait.c). */
enum { CT_CPU_ON = 1, CT_CPU_PREEMPTED = 2, CT_CPU_OFF = 3, CT_CPU_WOKEN = 4 };

/* How the trace knows about scheduling (PROCESS record, sched field): not
 * at all, from the kernel's context switches (exact), or from the run and
 * run-queue wait totals of /proc/self/task/TID/schedstat sampled by the
 * writer (where perf_event_open is refused). */
enum { CT_SCHED_NONE = 0, CT_SCHED_PERF = 1, CT_SCHED_SCHEDSTAT = 2 };

typedef void ct_perf_switch_fn(void *arg, pid_t tid, uint64_t mono_ns, int state, unsigned cpu);

/* cpu -1: thread tid's switches on every CPU; else the switches on that CPU
 * of tid (0: the caller) and of the threads it creates from now on. A ring
 * of `pages` pages (a power of two). */
CT_INTERNAL int ct_perf_open(struct ct_perf_ring *ring, pid_t tid, int cpu, unsigned pages);
CT_INTERNAL void ct_perf_close(struct ct_perf_ring *ring);
/* Calls fn for each switch in the ring, oldest first; returns how many
 * records the kernel lost. */
CT_INTERNAL unsigned ct_perf_read(struct ct_perf_ring *ring, ct_perf_switch_fn *fn, void *arg);
/* The same for count rings at once (those with fd -1 are skipped), merged:
 * oldest first across them all, as far as each ring is in time order. */
CT_INTERNAL unsigned ct_perf_read_merged(struct ct_perf_ring *rings, int count,
                                         ct_perf_switch_fn *fn, void *arg);

/* Starts following the calling thread's switches (from its own first
 * event), unless the per-CPU rings follow it already; a no-op unless
 * scheduling is on for the session. */
CT_INTERNAL void ct_sched_thread_start(struct ct_thread *t);
/* Whether the threads created by the calling thread are followed by the
 * per-CPU rings (a token the creator hands to the new thread), and, in the
 * new thread, that they are. Only the preload library knows the creator. */
CT_INTERNAL unsigned ct_sched_cover_token(void);
CT_INTERNAL void ct_sched_covered(unsigned token, uint64_t created_ns, uint64_t created_units);
/* Per-CPU rings that the threads made from the process's first on
 * inherit (ct_sched_before_thread); `followed`: the process is one the
 * trace followed (smaller rings). */
CT_INTERNAL void ct_sched_inherit(bool on, bool followed);
/* The preload's pthread_create, in the creating thread before the real
 * one: the process opens its per-CPU rings here, the first time, so that
 * the new thread and every one after it are followed from their creation
 * (the creating thread's own ring, its until then, is read and closed).
 * One atomic load once they are open. */
CT_INTERNAL void ct_sched_before_thread(void);
/* Writer side (--sched=auto), when the switches come too fast to be
 * cheap: reads and closes every ring (a thread registered from now on
 * samples its schedstat); the generation then ends with the switches
 * read, and ct_sched_to_samples, before the next begins, takes every live
 * thread's schedstat totals, which its samples count from. The PROCESS
 * records from there say CT_SCHED_SCHEDSTAT. */
CT_INTERNAL void ct_sched_switches_off(void);
/* --sched=auto: whether the switches of the last 100 ms came too fast
 * (asked at each of the writer's wakes; the generation then ends). The
 * rate they must pass: 30 000 a second, or CTRACE_SCHED_AUTO_RATE (0
 * never) when the session starts. */
CT_INTERNAL bool ct_sched_too_fast(uint64_t now_ns);
CT_INTERNAL void ct_sched_to_samples(void);
/* Writer side, when the session ends: closes the per-CPU rings. */
CT_INTERNAL void ct_sched_stop(void);
/* Writer side: closes the ring of a thread whose descriptor is freed. */
/* On the exiting thread, before it hands its descriptor over: its last
 * schedstat totals, which its files no longer give once it is gone. */
CT_INTERNAL void ct_sched_thread_exit(struct ct_thread *t);
CT_INTERNAL void ct_sched_thread_end(struct ct_thread *t);
/* Writer side: reads the rings; at a generation's end (how FLUSH, or LAST
 * for the session's last) turns what was read into batches (emit is called
 * with each thread's finished batch payload), with the switches up to
 * end_ns, the generation's closing clock reading (a later one waits for
 * the next generation, on whose clock line the reader puts it); lost
 * switches with the first and last times (units) they can have had.
 * Returns when (CLOCK_MONOTONIC) the rings should be read next: when the
 * fullest would be a quarter full, at the rate it filled since its last
 * read (UINT64_MAX: no ring, or none filling). */
typedef void ct_sched_emit_fn(pid_t tid, uint64_t base_ts, const uint8_t *events, size_t len,
                              uint64_t lost, uint64_t lost_first, uint64_t lost_last);
enum { CT_SCHED_READ = 0, CT_SCHED_FLUSH = 1, CT_SCHED_LAST = 2 };
CT_INTERNAL uint64_t ct_sched_collect(ct_sched_emit_fn *emit, int how, uint64_t end_ns);
/* The context switches (switches out) written as cpu events so far. */
CT_INTERNAL uint64_t ct_sched_switches_written(void);
CT_INTERNAL void ct_sched_set_clock(uint64_t base_units, uint64_t base_mono_ns, uint64_t q32);
/* The writer, as a session begins, on the thread that started it: its
 * time zero (CLOCK_MONOTONIC). */
CT_INTERNAL void ct_sched_session_began(uint64_t mono_ns);
CT_INTERNAL int ct_sched_mode(void);
/* want: -1 off, 0 or 1 the kernel's switches where permitted, else the
 * schedstat samples (0: the samples also where the switches come too
 * fast, ct_sched_too_fast); 2 the schedstat samples only. After ct_sched_inherit,
 * the kernel's switches come from per-CPU rings opened on the calling
 * thread, which the threads it creates from now on inherit (the writer
 * too, whose records are dropped). */
CT_INTERNAL void ct_sched_enable(int want);

#endif
