/*
 * threads.h - where each thread's time went: the thread analysis of
 * `ctrace threads`, Go's goroutine analysis for threads.
 *
 * Every nanosecond of a thread's life in the trace goes to exactly one
 * column, so the columns add up to its lifetime:
 *
 *   execution   on a CPU (from the kernel's switches; without them, any
 *               time not inside a recorded wait)
 *   network     off-CPU inside a system call on a socket
 *   sync        off-CPU blocked on a mutex, rwlock, spinlock, condvar,
 *               semaphore, barrier or join (also split by primitive)
 *   syscall     off-CPU inside another slow system call
 *   sched       runnable, waiting for a CPU: preempted, woken from a block
 *               or call and not yet running, or new and not yet run
 *   sleep       off-CPU in a sleep
 *   other       off-CPU with no recorded call to explain it
 *
 * The CPU states come from the kernel's context switches (cpu events,
 * `woken` included). A thread with schedstat samples and no switches (the
 * fallback where perf_event_open is refused): the samples say how long the
 * kernel had it on a CPU and in a run queue, not when; as its intervals
 * come, parts of them go to execution, sched and other so that those
 * columns follow the samples' totals (what it had on a CPU inside a call is
 * execution, as with the switches), a sample period behind. Every report
 * (threads, pprof, export, view) is made from the same intervals, so the
 * same trace gives the same totals everywhere.
 */
#ifndef CT_THREADS_H
#define CT_THREADS_H

#include <stdbool.h>
#include <stdint.h>

#include "../format/reader.h"

enum ct_column {
    CT_COL_EXEC,
    CT_COL_NET,
    CT_COL_SYNC,
    CT_COL_SYSCALL,
    CT_COL_SCHED,
    CT_COL_SLEEP,
    CT_COL_OTHER,
    CT_COL_COUNT
};

/* sync_ns by primitive: the sync reasons 1-8 (mutex ... join) at their
 * values; 0 for a futex wait no wrapper named (seen by the kernel). */
#define CT_SYNC_REASONS 10

struct ct_thread_row {
    uint64_t tid;
    char name[16];
    uint64_t start_fn;       /* 0 when the thread was not created in the trace */
    char start_function[96]; /* start_fn as module+offset, or "" */
    int64_t begin_ns, end_ns;
    bool exited, tracer, seen;
    bool runnable; /* between its thread_runnable and thread_start */
    bool switches; /* it has had a cpu event */
    uint64_t ns[CT_COL_COUNT];
    uint64_t sync_ns[CT_SYNC_REASONS];
    uint64_t blocks, syscalls;
    /* Context switches from the kernel's records: off a CPU to block or
     * sleep (voluntary), off it while runnable (involuntary: preempted, or
     * it yielded). Meaningful where `switches`. */
    uint64_t voluntary, involuntary;
    /* Events it lost (LOST records of its tid, its lost events): its
     * columns miss the time those held. */
    uint64_t lost;
    /* The state machine while reading. */
    int cpu;             /* CT_CPU_ON, PREEMPTED, OFF */
    int activity;        /* a column: NET, SYNC, SYSCALL, SLEEP, or EXEC for none */
    unsigned reason;     /* of a sync block */
    int64_t activity_end; /* a system call's end; INT64_MAX for blocks */
    int64_t at;          /* time accounted up to */
    /* First seen switching in at begin_ns: from off_before until then it
     * was off a CPU, given to a column at its next event. */
    bool off_before_set;
    int64_t off_before;
    /* Read again from a mark (a window, a task's time) after time the
     * columns here do not hold: no event of it is its first. */
    bool resumed;
    /* Schedstat samples and no switches: the kernel's totals so far, and
     * what the columns have of them (execution, sched). */
    bool sampled;
    uint64_t kernel_run, kernel_wait, given_run, given_wait;
    /* With switches: the kernel's totals as its samples add up (what the
     * columns should hold at the last one); whether the generation read
     * lost some of its records; and a stretch after a sample that found
     * switches missing (split by the totals, as if sampled: `gap`). */
    uint64_t sum_run, sum_wait;
    bool lost_here, gap, gapped; /* gapped: had such a stretch */
    uint32_t user;       /* a visitor's own (ctrace view: its lane + 1) */
};

/* Sees the analysis as it goes (ctrace export): every interval given to a
 * column, and every timed event of a thread, in that thread's time order. */
struct ct_visitor {
    void *ctx;
    void (*interval)(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                     int64_t begin, int64_t end);
    void (*event)(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                  const struct ct_gen *gen, const struct ct_event *ev);
    /* May be NULL: where a thread's reading may later resume (ctrace
     * view's marks): before anything of the thread in a generation (first,
     * batch = its first own batch or SIZE_MAX when it has none), and before
     * each of its own batches after the first (the switch batches stand
     * where they are: resuming leaves out their events before r->at). */
    void (*mark)(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                 const struct ct_gen *gen, size_t batch, bool first);
    /* May be NULL (all): whether to read thread tid at all. */
    bool (*wants)(void *ctx, uint64_t tid);
    /* May be NULL: each generation as it is indexed, before its threads
     * are read (the previous one is then done). */
    void (*generation)(void *ctx, const struct ct_reader *rd, const struct ct_gen *gen);
};

struct ct_threads {
    const struct ct_visitor *visitor; /* NULL, or set before computing */
    struct ct_thread_row *rows;
    size_t count, cap;
    bool sched;          /* cpu events were recorded */
    int sched_mode;      /* the PROCESS record's: CT_SCHED_NONE, _PERF, _SCHEDSTAT */
    int64_t begin_ns, end_ns;
    uint64_t events;
};

/* Who woke whom: wakes (a thread's wake event on an object: a mutex,
 * condvar, semaphore, pipe or eventfd) and unblocks (a thread's block on
 * an object ended, or its read of a pipe or eventfd returned), gathered
 * while reading, then linked: each unblock to the last wake on its object
 * before it from another thread. Shared by the Chrome export's flow arrows
 * and ctrace view's wake-up arrows. */
struct ct_wake_link {
    int64_t tw, tu;      /* the wake's time, the unblock's */
    int64_t tb;          /* when the blocking began: an earlier wake woke another */
    uint64_t from, to;   /* waker, woken */
    uint64_t object;
    uint8_t reason;      /* the wake's */
};
struct ct_wakes {
    struct ct_wake_link *wakes, *unblocks;
    size_t nwakes, nunblocks, wakes_cap, unblocks_cap;
};
void ct_wakes_add_wake(struct ct_wakes *w, int64_t t, uint64_t tid, uint64_t object,
                       unsigned reason);
void ct_wakes_add_unblock(struct ct_wakes *w, int64_t since, int64_t t, uint64_t tid,
                          uint64_t object);
/* The links, sorted by the unblock's time (malloc'd, *n of them; NULL
 * without memory); w is emptied. */
struct ct_wake_link *ct_wakes_link(struct ct_wakes *w, size_t *n);
void ct_wakes_free(struct ct_wakes *w);

/* Reads the whole trace. 0, or -1 on a failure of
 * its own (memory, output). A damaged trace is read up to the damage: 0, with
 * rd->failed and rd->error set (the caller reports it).
 * (ct_threads_read alone returns -1 on either.) */
int ct_threads_compute(struct ct_reader *rd, struct ct_threads *out);
/* The same, calling the visitor as it goes. */
int ct_threads_visit(struct ct_reader *rd, struct ct_threads *out, const struct ct_visitor *v);
/* ct_threads_visit in two steps, for readers that split the threads
 * between passes (the visitor's wants) and join the rows before the end:
 * reading (*sym, when sym is not NULL, gets the symbols of the first
 * modules found, for the caller to close), then finishing: start
 * functions named from sym (may be NULL), live threads run to the end. */
struct ct_symbols;
int ct_threads_read(struct ct_reader *rd, struct ct_threads *out, const struct ct_visitor *v,
                    struct ct_symbols **sym);
void ct_threads_finish(struct ct_threads *out, struct ct_symbols *sym);
void ct_threads_free(struct ct_threads *t);
/* A row as a thread first seen at `begin` starts. */
void ct_threads_row_init(struct ct_thread_row *r, uint64_t tid, int64_t begin);
/* Gives r's time up to `until` to the columns (calling the visitor), as the
 * end of the trace does. */
void ct_threads_account(struct ct_threads *t, struct ct_thread_row *r, int64_t until);
/* Reads one thread of one generation again from a mark (struct
 * ct_visitor), into out's row of that tid (restored by the caller from
 * what the mark saved): its own batches from `from` (SIZE_MAX: from its
 * first) to `to` (inclusive; SIZE_MAX: to its last), and its switch batches
 * without their events before skip_before. 0, or -1 with the error in rd. */
int ct_threads_resume(struct ct_reader *rd, struct ct_gen *gen, struct ct_threads *out,
                      uint64_t tid, size_t from, size_t to, int64_t skip_before);
const char *ct_column_name(int column);
/* The primitive a sync reason or call counts under in sync_ns. */
unsigned ct_sync_primitive(unsigned reason);
/* Its name: a reason's, "futex" for 0. */
const char *ct_sync_primitive_name(unsigned primitive);
uint64_t ct_row_total(const struct ct_thread_row *r);
/* Whether nothing of the thread has been accounted yet: its next events
 * may be its first (a creation, a first switch in). */
bool ct_row_untouched(const struct ct_thread_row *r);

#endif
