/*
 * sched_raw.h - the writer's own view of the kernel's scheduling records,
 * shared by sched.c (the session, the rings, the batches), sched_stat.c
 * (the schedstat files), sched_wait.c (what the records do not say by
 * themselves: when a switch in really happened, and how long a thread
 * woken from a block waited for a CPU) and sched_emit.c (the writing).
 * Writer memory, but for what registering and exiting threads read.
 */
#ifndef CT_SCHED_RAW_H
#define CT_SCHED_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "recorder.h"
#include "sched.h"

/* A switch as the kernel gave it (state CT_CPU_*), or a schedstat sample
 * (state 0), kept until the generation's end, when its exact calibration
 * is known. */
struct raw_switch {
    uint64_t mono_ns;
    uint32_t cpu;
    uint8_t state;
    uint8_t paired;    /* a switch in that took its partner's time */
    uint16_t moved_ns; /* a switch in: how far it was moved back from the
                          kernel's time (to its partner's, or by the lag;
                          at most 65535 ns) */
    union {
        /* A sample: what the thread's schedstat gained since the last. */
        struct {
            uint64_t run_ns, wait_ns, slices;
        };
        /* A switch in: how long the CPU it came to had been running the
         * process's threads back to back, since the thread's last switch
         * out (an upper bound of its wait for that CPU that the records
         * show); and, once the thread's run-queue wait was shared out,
         * how long before this it was woken and waiting (written as a
         * `woken` cpu event that long before it). */
        struct {
            uint64_t busy_ns, woken_ns;
            /* The CPU's last switch out of another of the process's
             * threads before it (0: none known): it ran no earlier. */
            uint64_t free_ns;
        };
    };
};

#define SAMPLE_NS 2000000u /* schedstat: at most one read per thread per 2 ms */
/* A switch in without a partner moves back at most this far in all (its
 * record's lag, and its share of what the kernel's time on a CPU says the
 * records miss: sched_wait.c). */
#define LONE_MOVE_MAX_NS 20000u
#define THREAD_RING_SWITCHES 512 /* a ring of a thread's own holds (sched.c) */

/* The session's state that the files share (sched.c sets it). */
struct ct_sched_session {
    _Atomic int mode;       /* CT_SCHED_*: read by registering threads */
    _Atomic int rings_open; /* rings and schedstat files held by threads */
    int rings_max;          /* a quarter of the descriptor limit, at the start */
};
CT_INTERNAL extern struct ct_sched_session ct_ss;

/* sched.c. Room for one more entry at the end of a growing array (false
 * without memory). */
CT_INTERNAL bool ct_sched_room(void **events, size_t *len, size_t *cap, size_t size);
/* Room for one more switch of time mono_ns at the end of t's list, which
 * notes whether the list is still in time order (NULL without memory,
 * counted as lost). */
CT_INTERNAL struct raw_switch *ct_sched_append(struct ct_thread *t, uint64_t mono_ns);
/* Entry `at` of t's list may be out of order with its neighbours. */
static inline void ct_sched_unsorted(struct ct_thread *t, size_t at)
{
    if (!t->cpu_unsorted_at || at + 1 < t->cpu_unsorted_at)
        t->cpu_unsorted_at = at + 1;
}
/* Counts n of t's switches lost, somewhere between from_ns and to_ns
 * (CLOCK_MONOTONIC), for its next batch's LOST record. */
CT_INTERNAL void ct_sched_lost(struct ct_thread *t, uint64_t n, uint64_t from_ns, uint64_t to_ns);

/* sched_stat.c. /proc/self/task/TID/FILE opened (-1 if refused), and
 * closed (*fd set to -1); a schedstat's "run_ns wait_ns timeslices". */
CT_INTERNAL int ct_sstat_open(pid_t tid, const char *file);
CT_INTERNAL void ct_sstat_close(int *fd);
/* A file opened for one read (at its lowest free number): the program's
 * closes wait until ct_sstat_close_once (recorder.h, ct_own_open_begin). */
CT_INTERNAL int ct_sstat_open_once(pid_t tid, const char *file);
CT_INTERNAL void ct_sstat_close_once(int fd);
CT_INTERNAL bool ct_sstat_read(int fd, uint64_t *run, uint64_t *wait, uint64_t *slices);
/* The calling thread's time on a CPU as of now, at least run (schedstat's
 * is as of its last tick or switch). */
CT_INTERNAL uint64_t ct_sstat_own_run_now(uint64_t run);
/* The writer has taken a thread's last totals (or there were none). */
CT_INTERNAL void ct_sstat_give_back(struct ct_thread *t);
/* The fallback for thread t: its two files kept open and its totals now. */
CT_INTERNAL void ct_sstat_start(struct ct_thread *t);
/* Thread t's totals now, which its first period beside the switches
 * counts from (a thread that began in the trace after its creation). */
CT_INTERNAL void ct_sstat_baseline(struct ct_thread *t);
/* Thread t's schedstat file, kept for its run-queue waits, closed. */
CT_INTERNAL void ct_sstat_latency_close(struct ct_thread *t);
/* The fallback: thread t's totals read (at most every SAMPLE_NS but at a
 * generation's end), and what changed appended as a sample; an exited
 * thread's own last totals, once. */
CT_INTERNAL void ct_sstat_sample(struct ct_thread *t, uint64_t now, bool flush, bool exited);
/* Beside the switches: the totals of each live thread with switches in
 * waiting for their share of its run-queue wait (every LATENCY_SAMPLE_NS,
 * and at a generation's end), read before the rings are. */
CT_INTERNAL void ct_sstat_latency_samples(uint64_t now, bool flush);
/* Thread t's run-queue wait and time on a CPU since its last totals given
 * to its switches (sched_wait.c), and the sample kept among them. */
CT_INTERNAL void ct_sstat_latency_resolve(struct ct_thread *t, bool exited, bool flush);
/* A live thread whose switches gave way to samples: its file and its
 * totals now, which its first sample counts from. */
CT_INTERNAL void ct_sstat_sample_from_now(struct ct_thread *t);

/* Per-CPU pairing of the per-CPU rings' records (sched_wait.c), for the
 * CPUs 0..count-1: false without memory. */
CT_INTERNAL bool ct_swait_cpus(unsigned count);
CT_INTERNAL void ct_swait_stop(void);
/* A record of a per-CPU ring, in time order across the rings: a switch out
 * is noted; a switch in that follows another thread's switch out on the
 * same CPU is the same context switch, and takes that switch out's time
 * (the kernel writes a switch in's record about half a microsecond to two
 * microseconds after the switch, once the thread's perf context is in;
 * the switch out's, before). Other switches in are moved back by the lag
 * measured on the pairs. *mono_ns is corrected in place; *busy_ns gets the
 * bound described at raw_switch (0 for switches out). last_out_ns is the
 * thread's own last switch out (0 if none): nothing moves before it.
 * True for a switch in that took its partner's time. */
CT_INTERNAL bool ct_swait_cpu_record(pid_t tid, unsigned cpu, int state, uint64_t *mono_ns,
                                     uint64_t last_out_ns, uint64_t *busy_ns, uint64_t *free_ns);
/* How far back a switch in without a partner at mono_ns, the thread's last
 * switch out at last_out_ns, is moved (the lag measured so far). */
CT_INTERNAL uint64_t ct_swait_lone_shift(uint64_t mono_ns, uint64_t last_out_ns);
/* The lag measured so far, in ns (0 before any pair). */
CT_INTERNAL uint64_t ct_swait_lag_ns(void);

/* Makes thread t's execution the kernel's, as far as the records' lag
 * explains the difference, over its list's entries (sorted) from
 * t->ex_from up to upto_ns, for which the kernel counted run_ns on a CPU;
 * the thread was off a CPU at both ends, or, `own`, the totals were read
 * by the thread itself at upto_ns (exact up to then). What the records
 * fall short by, its switches in without a partner move back by, within
 * lone_room; what they exceed it by, those move forward, never past their
 * records' times. Returns what no switch could take, to add to the
 * period's run-queue wait: a wake-up that preempts the running thread is
 * charged to the woken one from that moment (the scheduler skips its
 * clock's update at that switch), the woken one's wait counted as run
 * (positive), the preempted one's last run as wait (negative: at most 50
 * us a preemption; the rest is the hypervisor's, inside its runs). */
CT_INTERNAL int64_t ct_swait_exec(struct ct_thread *t, uint64_t upto_ns, uint64_t run_ns,
                                  bool own);
/* Gives thread t's run-queue wait to its switches: the entries of its
 * list (sorted) from t->lat_from up to time upto_ns, for which the
 * kernel's schedstat counted wait_ns of run-queue wait. The wait the
 * records show (after a preemption, before the first run) is the
 * records'; the rest was spent woken from a block before a switch in,
 * and is shared out between those switches in: first up to each one's
 * busy_ns, in proportion to it, then evenly up to each one's gap. */
CT_INTERNAL void ct_swait_share(struct ct_thread *t, uint64_t upto_ns, uint64_t wait_ns);
CT_INTERNAL void ct_swait_free(void);

/* sched_emit.c. The generation's clock line, which its switches are
 * converted on (ct_sched_set_clock, sched.h). A thread's switches sorted
 * by time, keeping the order of equal times. */
CT_INTERNAL void ct_sched_sort_switches(struct ct_thread *t);
/* Writes a thread's switches up to cutoff as its batch of this
 * generation; keeps the later ones for the next, and the list's memory
 * while it was well used (a busy thread fills megabytes a generation:
 * growing them afresh each time costs copies and page faults), until the
 * last. keep_up (or NULL) keeps the rings read during a long encoding. */
CT_INTERNAL void ct_sched_emit_thread(struct ct_thread *t, ct_sched_emit_fn *emit,
                                      uint64_t cutoff, bool last, void (*keep_up)(void));
/* The encoding's buffer, kept from generation to generation, freed. */
CT_INTERNAL void ct_sched_encoded_free(void);
/* Threads off a CPU for OBSERVE_NS with no wrapped call: what the kernel
 * says they are in, marked at once (in the generation of their switch
 * out, as far as it is still open), and again at each generation's end
 * while they stay off. */
CT_INTERNAL void ct_sched_observe_blocked(uint64_t now, ct_sched_emit_fn *emit);
/* At a generation's end: a `call` event for a thread inside a wrapped call
 * (whose own event comes at its end, maybe generations later), or blocked
 * in what the kernel showed; at the call's start, or at the generation's
 * if earlier, so that each generation reads alone. */
CT_INTERNAL void ct_sched_mark_call(struct ct_thread *t, ct_sched_emit_fn *emit);

#endif
