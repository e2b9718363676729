/*
 * recorder.h - the recorder's shared state, between the API (api.c), the
 * thread registry (thread.c), the batch pool (pool.c), the intern tables
 * (intern.c) and the writer (writer.c). See docs/architecture.md.
 *
 * The hand-off between a tracing thread and the writer, in one picture:
 *
 *   thread                                 writer (closing generation G)
 *   seq++ (odd: "inside an event")         g_gen = G+1
 *   g = g_gen                              membarrier(): a full fence on
 *   write into slot[g & 1]                   every running thread
 *   seq++ (even)                           wait until each seq is even
 *                                          take every slot[G & 1]
 *
 * After the writer's wait, no thread can be writing into a slot of G: a
 * thread that entered its event before the barrier has left it, and one that
 * enters after it reads G+1. So the writer owns slot[G & 1] of every thread
 * until it starts generation G+2, and the thread pays for this protocol with
 * two plain stores per event and no atomic read-modify-write.
 */
#ifndef CT_RECORDER_H
#define CT_RECORDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../compat/clock.h"
#include "../format/format.h"
#include "ctrace.h"

#define CT_INTERNAL __attribute__((visibility("hidden")))
/* A large static array (kilobytes), zero at the start and touched piece by
 * piece: kept apart from the small variables (in .lbss, which the linker
 * puts after .bss), so that those share a few pages. Each page a process
 * first touches costs it a fault of a few microseconds; scattered between
 * the arrays, the small variables a traced process's start touches took
 * a page each. GCC on x86-64 only (elsewhere the name would not be zero
 * fill). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT_LARGE __attribute__((section(".lbss")))
#else
#define CT_LARGE
#endif
#define CT_LIKELY(x) __builtin_expect(!!(x), 1)
#define CT_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define CT_BATCH_SIZE (32u << 10)
#define CT_CHUNK_BATCHES 32 /* batches mapped at once: 1 MiB */
/* Room checked on the fast path; enough for any event without definitions. */
#define CT_EVENT_RESERVE 64
#define CT_STRING_CACHE 64
#define CT_SLEEP_ENDS 32
#define CT_STACK_CACHE 1024
#define CT_TASK_ID_BLOCK 1024

/* ---- batch pool (pool.c) ---- */

/* A batch: CT_BATCH_SIZE bytes of events of one thread in one generation. */
struct ct_batch {
    uint8_t *mem;
    uint32_t next; /* index + 1 of the next batch on a list; 0 ends it */
    uint32_t free_next; /* the same on the free stack alone, which a pop reads
                           while another thread may own the batch: only ever
                           read and written atomically (next is written
                           plainly by the writer's lists) */
    uint32_t used; /* bytes of events, set when the batch is handed over */
    uint32_t gen;
    pid_t tid;
    uint64_t base_ts;
};

CT_INTERNAL int ct_pool_init(size_t max_bytes);
CT_INTERNAL int32_t ct_pool_get(void);            /* batch index, or -1 */
CT_INTERNAL void ct_pool_put(int32_t index);      /* back to the free list */
CT_INTERNAL void ct_pool_push_full(int32_t index); /* to the writer */
CT_INTERNAL uint32_t ct_pool_take_full(void);      /* all full, in push order */
CT_INTERNAL struct ct_batch *ct_pool_batch(uint32_t index);
CT_INTERNAL void ct_pool_prefill(unsigned want_free);

/* ---- intern tables (intern.c): 64-bit content hash -> small id ---- */

struct ct_intern;
CT_INTERNAL extern struct ct_intern ct_strings, ct_stacks;
CT_INTERNAL int ct_intern_init(struct ct_intern *table, unsigned log2_slots);
/* The id of key (nonzero), inserting it; 0 when the table is full. */
CT_INTERNAL uint32_t ct_intern(struct ct_intern *table, uint64_t key);
CT_INTERNAL uint64_t ct_intern_full_misses(struct ct_intern *table);
CT_INTERNAL uint64_t ct_hash_bytes(const void *data, size_t len);

/* ---- threads (thread.c) ---- */

/* Where a thread writes the events of one generation parity. 64 bytes, so
 * that finding the slot is a shift. */
struct ct_slot {
    uint8_t *pos, *end;
    uint64_t last_ts;
    uint64_t last_task; /* the previous task argument in this batch */
    /* Events that found no free batch: how many, and when. */
    uint64_t drop_count, drop_first, drop_last;
    int32_t batch; /* -1: none */
    uint32_t pad;
};
_Static_assert(sizeof(struct ct_slot) == 64, "a slot is 64 bytes");

struct ct_string_cache_entry {
    const char *ptr;
    uint32_t id, gen;
};

struct ct_stack_cache_entry {
    uint64_t hash;
    uint32_t id, gen;
};

/* The outermost frames of a stack that stack.c found past the end of a
 * frame-pointer walk (the thread's start, in the C library), from where,
 * and the stack words that walk read: while they hold the same values, the
 * frames are the same. */
#define CT_TAIL_FRAMES 4
#define CT_TAIL_WORDS 8
struct ct_stack_tail {
    uintptr_t record, pc; /* the walk's last exact frame and its record */
    uint32_t epoch;       /* of the unwinder's map */
    uint8_t nframes, nwords;
    uintptr_t frames[CT_TAIL_FRAMES];
    uintptr_t addr[CT_TAIL_WORDS], val[CT_TAIL_WORDS];
    /* Walks completed with it, by their hash (a walk and a tail make one
     * stack): the whole stack's id in generation gen. */
    struct ct_stack_cache_entry made[4];
};

/* FREE -> CLAIMED (being set up) -> LIVE -> EXITED -> FREE. The writer looks
 * only at LIVE and EXITED descriptors. */
enum { CT_THREAD_FREE, CT_THREAD_CLAIMED, CT_THREAD_LIVE, CT_THREAD_EXITED };

struct ct_thread {
    /* Written by the thread; read by the writer only as the header explains. */
    _Atomic uint32_t seq;
    uint32_t gen;
    /* The generation of the thread's first batch (0: none yet), written
     * once by the thread: the writer keeps the switches of a thread whose
     * events begin in the generation after the one it ends. */
    uint32_t first_gen;
    struct ct_slot slot[2];
    uint32_t depth;
    /* The wrapped call the thread is in, for the writer, which marks it in
     * each generation it spans (a slow call's event is written at its end,
     * in the generation where it ended): its start in clock units (0: none),
     * call value (CT_CALL_BLOCK set for a block, whose event came first),
     * descriptor, and the descriptor's class if known (0xff if not). */
    _Atomic uint64_t call_since;
    uint32_t call_reason;
    int32_t call_fd;
    uint8_t call_class;
    uint64_t task_next, task_end;
    uintptr_t stack_lo, stack_hi;
    _Atomic uint32_t reentered;  /* events dropped inside another event */
    uint32_t reentered_reported; /* the writer's: how many it has reported */
    uint32_t close_seq;          /* the writer's: seq at a generation's close */
    /* Stacks walked with call frame information (stack.c), and an estimate
     * of their time in clock units; the writer's counts of what it has
     * reported of them. */
    _Atomic uint32_t cfi_walks;
    _Atomic uint64_t cfi_units;
    uint32_t cfi_walks_reported;
    uint64_t cfi_units_reported;
    struct ct_stack_tail tails[2];
    unsigned tail_next;
    bool close_pending;          /* ... and inside an event then */
    /* Identity. */
    pid_t tid;
    char name[16];
    _Atomic int state;
    struct ct_thread *all_next; /* registry list; never unlinked */
    struct ct_thread *free_next; /* the free stack (thread.c), under its lock */
    /* Scheduling (sched.c): the kernel's ring of this thread's switches,
     * and the writer's pending cpu events, which only the writer touches. */
    struct ct_perf_ring {
        int fd;
        void *base;
        size_t size;
        uint8_t *data;
        size_t data_size;
        size_t filled; /* bytes it held at its last read */
        uint64_t read_ns; /* last read, or opened (CLOCK_MONOTONIC) */
        int cpu;       /* the CPU of a per-CPU ring; -1 for a thread's own */
    } ring;
    /* Where the kernel refuses the ring: /proc/self/task/TID/schedstat and
     * stat, open, and the totals last read from them. */
    int schedstat_fd, stat_fd;
    uint64_t ss_run_ns, ss_wait_ns, ss_slices, ss_read_ns;
    /* Its totals as it exited, read by the thread itself (its files read
     * nothing once it is gone): ss_exit_ns 0 if none. */
    uint64_t ss_exit_run, ss_exit_wait, ss_exit_slices, ss_exit_ns;
    unsigned ss_exit_cpu;
    /* Followed by the per-CPU rings from this time (its registration):
     * its switches before, from its creation on, are left out, for a
     * thread's life in the trace begins at its first event. */
    uint64_t sched_from_ns;
    /* The per-CPU rings' records of it count from here (0: all): the
     * thread that opened them late had a ring of its own until then. */
    uint64_t cover_from_ns;
    /* Its creation in trace units (its thread_runnable), 0 when not known:
     * no switch of it is written before. The kernel's wake-up of it inside
     * the clone comes after, but its CLOCK_MONOTONIC time converted to
     * units can come out a few ns earlier. */
    uint64_t created_units;
    void *cpu_events; /* switches read from the ring, until written */
    size_t cpu_len, cpu_cap;
    uint64_t cpu_last_ns; /* the latest time in cpu_events */
    /* 1 + the first entry that may be out of time order (it came, or was
     * moved, after a later one; those before are in order); 0: all are. */
    size_t cpu_unsorted_at;
    /* Switches lost (ct_sched_lost), until written, and between which
     * times (CLOCK_MONOTONIC) they were. */
    uint64_t cpu_lost, lost_from_ns, lost_to_ns;
    /* Wake-up latency (sched_wait.c), the writer's: the first entry of
     * cpu_events whose run-queue wait is not shared out yet, and the
     * state and time of the switch before it; run-queue wait the kernel
     * counted that no switch could take yet; how many switches in after a
     * block wait for a sample; the thread's latest switch out. */
    size_t lat_from;
    uint64_t lat_prev_ns, lat_carry_ns, last_out_ns;
    uint64_t enc_last_ns; /* the last switch encoded (a woken never before it) */
    /* The same for its execution: the first entry not yet checked against
     * the kernel's time on a CPU, which was ex_run_ns there (ex_valid: a
     * sample taken while the thread was off a CPU gave it). */
    size_t ex_from;
    uint64_t ex_run_ns;
    bool ex_valid;
    uint32_t ex_lone; /* switches in without a partner since the last read */
    uint64_t ex_prev_out; /* its switch out before ex_from, when off there */
    uint32_t lat_prev_state, lat_pending, last_state;
    /* Its schedstat totals count from its creation (zero when it was made),
     * not from the first read; a sample read before the rings were. */
    bool ss_zero_base, ss_pend, ss_latency_fd;
    bool ss_sampling; /* sampled: the switches gave way (--sched=auto), or refused */
    /* What the kernel showed the thread blocked in, off a CPU with no
     * wrapped call (sched.c: /proc/self/task/TID/syscall): valid until its
     * next switch in. */
    bool obs_valid;
    uint64_t obs_since, obs_checked, obs_arg0;
    uint32_t obs_sysno;
    uint8_t obs_class;
    uint64_t ss_pend_ns, ss_pend_run, ss_pend_wait, ss_pend_slices;
    /* Its last CT_SLEEP_ENDS sleeps that ran their full length, each as
     * the earliest time (CLOCK_MONOTONIC) the kernel could wake it: written
     * in order by the thread (ct_sleep_done), sleep_ends counting them; the
     * writer's shares of run-queue wait come after them (sched_wait.c). */
    _Atomic uint64_t sleep_end[CT_SLEEP_ENDS];
    _Atomic uint32_t sleep_ends;
    struct ct_string_cache_entry strings[CT_STRING_CACHE];
    struct ct_stack_cache_entry stacks[CT_STACK_CACHE];
};

#define CT_CALL_BLOCK 0x80000000u

/* The calling thread slept its full length: the kernel woke it no
 * earlier than `earliest` (CLOCK_MONOTONIC ns). */
static inline void ct_sleep_done(struct ct_thread *t, uint64_t earliest)
{
    uint32_t n = atomic_load_explicit(&t->sleep_ends, memory_order_relaxed);
    /* Both in order after the last: a reader that sees an end sees the
     * count that came before it (ct_swait_share). */
    atomic_store_explicit(&t->sleep_end[n % CT_SLEEP_ENDS], earliest, memory_order_release);
    atomic_store_explicit(&t->sleep_ends, n + 1, memory_order_release);
}

/* The calling thread enters a wrapped call (a block: CT_CALL_BLOCK in
 * reason), or leaves it. A few stores to its own descriptor. */
static inline void ct_call_enter(struct ct_thread *t, uint64_t since, unsigned reason, int fd,
                                 unsigned fd_class)
{
    t->call_reason = reason;
    t->call_fd = fd;
    t->call_class = (uint8_t)fd_class;
    atomic_store_explicit(&t->call_since, since, memory_order_release);
}

CT_INTERNAL extern __thread struct ct_thread *ct_self
    __attribute__((tls_model("initial-exec")));
/* Nonzero while this thread must not record from the LD_PRELOAD wrappers:
 * it is the tracer's own, it has exited, or it is inside the recorder. */
CT_INTERNAL extern __thread unsigned ct_busy __attribute__((tls_model("initial-exec")));
CT_INTERNAL struct ct_thread *ct_thread_register(void);
/* Before this thread's first event: its creator's name, which the kernel
 * copied to it, and its stack's size, 0 when unknown. */
CT_INTERNAL void ct_thread_origin(const char name[16], size_t stack_size);
/* This thread changed its name: ct_thread_origin's is not its own. */
CT_INTERNAL void ct_thread_renamed(void);
CT_INTERNAL struct ct_thread *ct_thread_first(void);
/* Gives a descriptor back (FREE), for a later thread to claim. */
CT_INTERNAL void ct_thread_free(struct ct_thread *t);
/* In a forked child: the free stack again, from the descriptors' states. */
CT_INTERNAL void ct_thread_free_rebuild(void);
CT_INTERNAL pid_t ct_gettid(void);

/* The tracer's own descriptors (own_fds.c): ct_own_fd moves fd above the
 * numbers a program uses first and marks it (returns the new number; fd
 * itself where it cannot be moved); the preload's closes leave marked ones
 * open. ct_own_fd_next: the first marked one in [first, last], or -1. */
CT_INTERNAL int ct_own_fd(int fd);
CT_INTERNAL bool ct_own_fd_is(int fd);
CT_INTERNAL int ct_own_fd_close(int fd);
CT_INTERNAL int ct_own_fd_next(unsigned first, unsigned last);
/* A descriptor the tracer opens has the lowest free number until it is
 * moved and marked (or, for one read, closed): between ct_own_open_begin
 * and ct_own_open_end the program's closes wait (the preload's close,
 * close_range, closefrom, dup2 and dup3 call ct_own_close_begin and _end
 * around theirs), so that a program closing numbers in a loop neither
 * closes it nor, opening a file of its own meanwhile, has its file taken
 * for the tracer's. Each side waits for the other 50 ms at most (a signal
 * handler may close on a thread in the middle of an open). */
CT_INTERNAL void ct_own_open_begin(void);
CT_INTERNAL void ct_own_open_end(void);
/* Whether the close is the program's (not the tracer's own code, ct_busy),
 * which then waits; its answer goes to ct_own_close_end. */
CT_INTERNAL bool ct_own_close_begin(void);
CT_INTERNAL void ct_own_close_end(bool program);
CT_INTERNAL void ct_own_after_fork_child(void);
/* A library's descriptors, which keep their numbers: ct_open_fds notes the
 * open ones, ct_own_fds_since marks those opened since, where they are
 * (the endpoint's listening socket and wake-up pipe). */
#define CT_FD_SET_WORDS 1024
CT_INTERNAL void ct_open_fds(uint64_t set[CT_FD_SET_WORDS]);
CT_INTERNAL void ct_own_fds_since(const uint64_t before[CT_FD_SET_WORDS]);
/* Flushes an exiting thread's batch (api.c); called by its key destructor. */
CT_INTERNAL void ct_thread_exit(struct ct_thread *t);
/* The tracer's own threads besides the writer (at most 64 at once). */
CT_INTERNAL void ct_tracer_thread_mark(pid_t tid, bool on);
CT_INTERNAL bool ct_is_tracer_thread(pid_t tid);
/* Whether a thread of the program (not the tracer's) is alive: a registered
 * one, else one in /proc/self/task that is not a zombie. */
CT_INTERNAL bool ct_program_alive(pid_t tracer_tid);
/* The writer thread's name, which it has from its creation: a thread of
 * this name that never registered is the tracer's, though it has yet to
 * run and say its tid (tracer_tid). */
#define CT_WRITER_NAME "ctrace-writer"
/* ct_self of a thread that has exited or must never trace. */
#define CT_THREAD_DEAD ((struct ct_thread *)1)

/* ---- global state ---- */

struct ct_state {
    _Atomic uint32_t gen;        /* the generation threads write into */
    _Atomic bool need_fence;     /* no membarrier: threads fence themselves */
    _Atomic bool stacks;         /* stacks on annotations */
    unsigned max_depth;
    _Atomic uint64_t task_ids;   /* next block of task ids */
    pid_t tracer_tid;            /* the writer thread, left out of reports */
    _Atomic uint32_t exited;     /* threads that have exited, ever */
    _Atomic uint32_t exit_wake_at; /* the count at which the writer ends a generation */
    /* Events lost that batches of generation g report (`lost` events),
     * added up in [g & 1] inside an event: the writer takes them after its
     * barrier, for GEN_END. */
    _Atomic uint64_t batch_lost[2];
    bool exit_wakes; /* a thread's exit is a join's wake (the preload sees joins) */
};
CT_INTERNAL extern struct ct_state ct_g;

/* ---- writer (writer.c) ---- */

#define CT_MAX_SINKS 4

struct ct_writer_config {
    int fd;
    uint64_t generation_ns;
    size_t generation_bytes;
    size_t pool_batches;
    uint64_t counter_period_ns; /* 0: no counters */
};
CT_INTERNAL void ct_writer_wake(void);
/* A session of the preload may start without its writer thread
 * (writer.c, "The writer's thread, when needed"): it records into memory,
 * and the first wrapped call or annotation that may start the thread
 * safely does, once the process has lived long enough to need it.
 * ct_writer_lazy asks the next ct_writer_start for that; while the
 * thread is wanted and not made, ct_writer_deferred is set. */
CT_INTERNAL extern bool ct_writer_lazy;
/* The arguments the process image was started with, as its constructors
 * saw them (the preload's, in ct_start_pid): its first session's command
 * line, without reading /proc/self/cmdline (tables.c). NULL: read it. */
CT_INTERNAL extern char **ct_start_argv;
CT_INTERNAL extern pid_t ct_start_pid;
CT_INTERNAL extern _Atomic bool ct_writer_deferred;
/* Whether no signal handler runs on this thread now, so that a thread may
 * be made here (the preload's, signals.c, which knows the handlers; set
 * with every session that defers its writer). */
CT_INTERNAL extern bool (*ct_writer_no_handler_hook)(void);
/* From a call of the program's (ct_busy 0): `waiting` the call may block
 * (a sleep, a lock's wait), else a call that returned or an annotation.
 * Starts the thread if the process is old enough and this a safe place. */
CT_INTERNAL void ct_writer_due(bool waiting);
/* From pthread_create: the thread, now. */
CT_INTERNAL void ct_writer_undefer(void);
static inline void ct_writer_check(bool waiting)
{
    if (CT_UNLIKELY(atomic_load_explicit(&ct_writer_deferred, memory_order_relaxed)))
        ct_writer_due(waiting);
}
/* Wakes the writer now (a generation to end early). */
CT_INTERNAL void ct_writer_poke(void);
/* Sessions: a trace streamed to fd, beside any other (at most CT_MAX_SINKS);
 * returns the sink's number, or a negative errno. It starts at the next
 * generation boundary and ends, complete, when detached. */
CT_INTERNAL int ct_session_attach(int fd, const ctrace_config *config);
CT_INTERNAL void ct_session_detach(int sink);
struct ctrace_flight;
CT_INTERNAL int ct_session_flight_on(struct ctrace_flight *f, const ctrace_config *config);
CT_INTERNAL void ct_session_flight_off(struct ctrace_flight *f);
/* Ends every session (exit, _exit), after ct_exit_hook. */
CT_INTERNAL void ct_session_stop_all(void);
/* A signal is about to end the program: the writer ends the trace as
 * ct_session_stop_all would (every thread's events up to now, the end
 * records), from a signal handler. Async-signal-safe; waits at most a few
 * seconds. 1 done, 0 no session, -1 the writer did not answer. */
CT_INTERNAL int ct_session_end_from_signal(void);
CT_INTERNAL extern void (*ct_exit_hook)(void);
/* Writes what a crashing thread safely can (async-signal-safe; writer.c). */
CT_INTERNAL void ct_crash_flush(void);
/* A duration in clock units, from the latest calibration (after a start). */
CT_INTERNAL uint64_t ct_units_from_ns(uint64_t ns);
/* The session-long rate (calibration.c): now, 0 before the first start;
 * at a start, a first estimate if there is none; after a generation, the
 * rate since the session's start, kept once it has lasted 50 ms. */
CT_INTERNAL uint64_t ct_calibration(void);
CT_INTERNAL uint64_t ct_calibration_start(void);
/* Takes q32 (ns per unit, 32.32) as the first estimate, as measured by the
 * process that started this one on the same machine; false when it is out
 * of bounds or a rate is known already. */
CT_INTERNAL bool ct_calibration_preset(uint64_t q32);
/* A reading of the event clock (units) and CLOCK_MONOTONIC taken by the
 * process that started this one (ctrace run, CTRACE_CLOCK_FROM): the first
 * estimate is measured from it. */
CT_INTERNAL void ct_calibration_from(uint64_t units, uint64_t mono_ns);
CT_INTERNAL void ct_calibration_update(struct ct_clock_pair session_start, struct ct_clock_pair now);

/* ---- compat ---- */
CT_INTERNAL int ct_membarrier_register(void);
CT_INTERNAL int ct_membarrier(void);

#endif
