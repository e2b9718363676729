/*
 * writer.c - the background thread that writes the trace (the sessions
 * that start and stop it, and ask it for changes, are in session.c).
 *
 * The writer wakes every 10 ms, or sooner when threads have filled a quarter
 * of the pool or the kernel's rings of context switches would be a quarter
 * full at the rate they fill (1 ms at the most), writes the full batches,
 * keeps a few mapped and touched ahead of need, and closes the generation
 * every generation_ns or generation_bytes. Closing generation G (the protocol of recorder.h):
 *
 *   1. publish G+1 (or 0 at the end of the session: threads then record
 *      nothing), membarrier, wait until no thread is inside an event
 *      (barrier.c);
 *   2. take each thread's slot of G: its partly filled batch and its count
 *      of dropped events;
 *   3. read the clock (every event of G came before), write G's remaining
 *      batches, its losses, its thread table and its end record with it;
 *   4. write G+1's begin record and tables; then its batches that threads
 *      filled meanwhile.
 */
#include "ctrace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../format/framing.h"
#include "counters.h"
#include "flight.h"
#include "event.h"
#include "sched.h"
#include "records.h"
#include "recorder.h"
#include "unwind.h"
#include "writer.h"
#include "barrier.h"
#include "writer_out.h"

#define WAKE_INTERVAL_NS 10000000u
/* Sooner while context switches fill a ring fast (ct_sched_collect says
 * when), but not more often than this. */
#define MIN_WAKE_INTERVAL_NS 1000000u
/* A generation ends early once this many threads have exited in it: their
 * descriptors (18 KiB each) are given back only at its end, when their
 * context switches are written, so a program that makes threads by the
 * thousand would otherwise hold thousands of them for a second. */
#define EXITED_PER_GEN 256u

static struct writer {
    bool running;
    pthread_t thread;
    pid_t thread_tid; /* the writer's, known from its creation (or 0) */
    _Atomic bool stopping;
    _Atomic uint32_t wake_word;
    _Atomic uint32_t pending; /* batches pushed since the writer last looked */
    uint32_t wake_threshold;
    uint64_t generation_ns;
    size_t generation_bytes;
    uint64_t file_gen;        /* its number in this file, from 1 */
    struct ct_clock_pair gen_base, session_base;
    uint64_t ns_per_unit_q32; /* calibration, 32.32 fixed point */
    uint64_t prev_rate;       /* the generation before's, as read (ct_gen_rate) */
    uint64_t modules_sig;
    uint32_t pending_list;    /* batches of the next generation, in order */
    uint32_t exited_at_start; /* ct_g.exited when the generation began */
    uint64_t counter_period_ns, counter_last;
    bool thread_made; /* the writer thread exists (else the session's work is done in line) */
    pid_t pid;        /* the process of the session (not a vfork child of it) */
    uint64_t next_look; /* deferred: the earliest next look at starting the thread */
    bool pinned;  /* the writer runs on its creator's CPU until it first wakes */
    cpu_set_t cpus; /* then on these, its creator's */
    struct ct_process_info process;
    struct ct_counter_batch counters; /* last: 16 KiB, untouched until sampled */
} w CT_LARGE;

/* One command at a time (callers hold the session lock); the writer
 * answers by advancing done. */
static pthread_mutex_t cmd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cmd_cond = PTHREAD_COND_INITIALIZER;
static struct {
    _Atomic int op;
    int sink, fd;
    struct ctrace_flight *flight;
    uint64_t done;
} cmd;
static _Atomic int dump_requested; /* a signal asked for the flight window */
/*
 * fork happens while the writer waits, never while it works: the writer
 * holds work_lock except in its futex wait, and fork's prepare handler
 * takes it (after the writer has started: `started`, a futex word). A
 * child forked while the writer was in malloc would inherit that
 * allocator's locks held, and hang at its first allocation, with an
 * allocator that does not take its own locks across fork (the sanitizers').
 */
static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint32_t started;
/* 1 once the writer has ended the session's last generation and the
 * files (writer_finish); a futex word for ct_writer_finish_now. */
static _Atomic uint32_t finished;
void (*ct_flight_write_hook)(struct ctrace_flight *f, const char *why);

void ct_writer_poke(void)
{
    atomic_fetch_add(&w.wake_word, 1);
    syscall(SYS_futex, &w.wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void ct_writer_wake(void)
{
    uint32_t n = atomic_fetch_add_explicit(&w.pending, 1, memory_order_relaxed) + 1;
    if (n == w.wake_threshold)
        ct_writer_poke();
}

/* Writes the counter samples of this generation as a batch of the
 * writer's own thread. */
static void write_counters(void)
{
    if (w.counters.len == 0)
        return;
    ct_out_batch_record(ct_g.tracer_tid, w.counters.base_ts, w.counters.events, w.counters.len);
    w.counters.len = 0;
}

/* Reads the context switches (sched.c), and at a generation's end writes
 * them, gathered into one write; when to read them next. */
static uint64_t collect_switches(int how, uint64_t end_ns)
{
    uint64_t due = ct_sched_collect(ct_out_cpu_batch, how, end_ns);
    ct_out_flush_cpu();
    return due;
}

/* The writer's wait from now: WAKE_INTERVAL_NS, or less when the rings are
 * due to be read sooner. */
static long wait_ns(uint64_t rings_due)
{
    uint64_t now = ct_mono_ns();
    if (rings_due >= now + WAKE_INTERVAL_NS)
        return WAKE_INTERVAL_NS;
    if (rings_due <= now + MIN_WAKE_INTERVAL_NS)
        return MIN_WAKE_INTERVAL_NS;
    return (long)(rings_due - now);
}

/* Writes the full batches of the current generation; keeps later ones. */
static void drain_full(void)
{
    atomic_store_explicit(&w.pending, 0, memory_order_relaxed);
    uint32_t list = ct_pool_take_full();
    uint32_t *tail = &w.pending_list;
    while (*tail)
        tail = &ct_pool_batch(*tail - 1)->next;
    while (list) {
        uint32_t index = list - 1;
        list = ct_pool_batch(index)->next;
        if (ct_pool_batch(index)->gen == ct_out.gen) {
            ct_out_batch(index);
        } else {
            ct_pool_batch(index)->next = 0;
            *tail = index + 1;
            tail = &ct_pool_batch(index)->next;
        }
    }
    ct_out_flush_batches();
}

/* The flight recorder's ring changes only under io_busy, so that a crash
 * handler that holds it sees a whole ring. */
static void flight_open(void)
{
    if (ct_out.flight && ct_out_acquire()) {
        ct_flight_open_gen(ct_out.flight, w.gen_base.mono_ns);
        ct_out_release();
    }
}

static void flight_close(uint64_t end_ns, bool cut)
{
    if (ct_out.flight && ct_out_acquire()) {
        ct_flight_close_gen(ct_out.flight, end_ns, cut);
        ct_out_release();
    }
}

/* The live threads as the last THREADS table found them, and whether the
 * next one may use that scan (a generation's end, then the next's
 * beginning, microseconds apart). */
static struct ct_live_threads live;
static bool live_fresh;
/* The command line was read at the session's start, for its first
 * generation. */
static bool cmdline_fresh;

static void begin_generation(void)
{
    /* Until its end, when its own two readings are known, times the
     * writer converts within it (a call the kernel showed a thread in)
     * use its start and the calibration so far. */
    ct_sched_set_clock(w.gen_base.units, w.gen_base.mono_ns, w.ns_per_unit_q32);
    flight_open();
    w.file_gen++;
    ct_out.gen_batches = ct_out.gen_lost = ct_out.gen_bytes = 0;
    ct_buf_reset(&ct_out.buf);
    ct_out_hold();
    ct_buf_uleb(&ct_out.buf, w.file_gen);
    ct_buf_uleb(&ct_out.buf, w.gen_base.units);
    ct_buf_uleb(&ct_out.buf, w.gen_base.mono_ns);
    ct_buf_uleb(&ct_out.buf, w.gen_base.real_ns);
    ct_buf_uleb(&ct_out.buf, w.ns_per_unit_q32);
    ct_buf_uleb(&ct_out.buf, w.prev_rate);
    ct_out_buf_record(CT_REC_GEN_BEGIN);
    ct_record_schema(&ct_out.buf);
    ct_out_buf_record(CT_REC_SCHEMA);
    w.process.clock_hz =
        w.ns_per_unit_q32
            ? (uint64_t)(((unsigned __int128)1000000000u << 32) / w.ns_per_unit_q32) << CT_TS_SHIFT
            : 0;
    if (!cmdline_fresh) /* an open and a read: 4 times a second */
        ct_process_cmdline_refresh(&w.process);
    cmdline_fresh = false;
    ct_record_process(&ct_out.buf, &w.process);
    ct_out_buf_record(CT_REC_PROCESS);
    w.modules_sig = ct_modules_signature();
    ct_record_modules(&ct_out.buf);
    ct_out_buf_record(CT_REC_MODULES);
    if (!live_fresh)
        ct_scan_live_threads(&live, ct_g.tracer_tid);
    live_fresh = false;
    ct_record_threads(&ct_out.buf, &live);
    ct_out_buf_record(CT_REC_THREADS);
    ct_out_write_held();
}

/* Ends the current generation; `last` ends the session: threads then
 * record nothing. Returns the clock reading of the end. */
static struct ct_clock_pair end_generation(bool last, bool cut)
{
    uint32_t next = last ? 0 : (ct_out.gen + 1 ? ct_out.gen + 1 : 1);
    atomic_store(&ct_g.gen, next);
    if (atomic_load(&ct_g.need_fence) || ct_membarrier() != 0) {
        atomic_store(&ct_g.need_fence, true);
        atomic_thread_fence(memory_order_seq_cst);
    }
    uint32_t partials = ct_barrier_close(ct_out.gen);
    /* The end is read once no thread is inside an event of this
     * generation: its times all come before it. An event of the next one
     * may begin before it; a reader puts such times on this generation's
     * line (prev_ns_per_unit in the next GEN_BEGIN). */
    struct ct_clock_pair end = ct_clock_pair_now();
    drain_full();
    while (partials) {
        uint32_t index = partials - 1;
        partials = ct_pool_batch(index)->next;
        ct_out_batch(index);
    }
    ct_out_flush_batches();
    write_counters();
    /* The context switches of this generation, converted with its own two
     * clock readings. */
    w.prev_rate = ct_gen_rate(w.gen_base.units, w.gen_base.mono_ns, end.units, end.mono_ns,
                              w.ns_per_unit_q32);
    ct_sched_set_clock(w.gen_base.units, w.gen_base.mono_ns, w.prev_rate);
    collect_switches(last ? CT_SCHED_LAST : CT_SCHED_FLUSH, end.mono_ns);
    uint64_t cfi_walks = 0, cfi_units = 0; /* stacks walked with .eh_frame */
    ct_out_hold(); /* the losses, THREADS, MODULES and GEN_END together */
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if (state != CT_THREAD_LIVE && state != CT_THREAD_EXITED)
            continue;
        struct ct_slot *s = &t->slot[ct_out.gen & 1];
        if (s->drop_count) {
            ct_out_lost(t->tid, s->drop_count, s->drop_first, s->drop_last);
            s->drop_count = 0;
        }
        uint32_t reentered = atomic_load_explicit(&t->reentered, memory_order_relaxed);
        if (reentered != t->reentered_reported) {
            ct_out_lost(t->tid, reentered - t->reentered_reported, end.units, end.units);
            t->reentered_reported = reentered;
        }
        uint32_t walks = atomic_load_explicit(&t->cfi_walks, memory_order_relaxed);
        uint64_t units = atomic_load_explicit(&t->cfi_units, memory_order_relaxed);
        cfi_walks += walks - t->cfi_walks_reported;
        cfi_units += units - t->cfi_units_reported;
        t->cfi_walks_reported = walks;
        t->cfi_units_reported = units;
    }
    ct_scan_live_threads(&live, ct_g.tracer_tid);
    live_fresh = !last; /* the next generation's table shares the scan */
    ct_record_threads(&ct_out.buf, &live);
    ct_out_buf_record(CT_REC_THREADS);
    uint64_t modules_sig = ct_modules_signature();
    if (modules_sig != w.modules_sig) {
        ct_record_modules(&ct_out.buf);
        ct_out_buf_record(CT_REC_MODULES);
    }
    /* After the barrier: the unwinder's maps replaced before it are free. */
    ct_code_map_update(modules_sig);
    /* Exited threads whose last batch is now written give back their
     * descriptors. A thread that exited in the next generation waits, and
     * so does one that exited after this generation's switches were
     * collected with its last schedstat totals still to write, or with
     * switches after the generation's end. */
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next)
        if (atomic_load_explicit(&t->state, memory_order_acquire) == CT_THREAD_EXITED &&
            t->slot[0].batch < 0 && t->slot[1].batch < 0 && t->gen <= ct_out.gen &&
            (last || (!__atomic_load_n(&t->ss_exit_ns, __ATOMIC_ACQUIRE) && !t->cpu_len))) {
            ct_sched_thread_end(t);
            ct_thread_free(t);
        }
    ct_calibration_update(w.session_base, end);
    ct_buf_reset(&ct_out.buf);
    ct_buf_uleb(&ct_out.buf, w.file_gen);
    ct_buf_uleb(&ct_out.buf, end.units);
    ct_buf_uleb(&ct_out.buf, end.mono_ns);
    ct_buf_uleb(&ct_out.buf, ct_out.gen_batches);
    ct_buf_uleb(&ct_out.buf, ct_out.gen_lost);
    /* References left out of events because an intern table was full. */
    static uint64_t misses_reported;
    uint64_t misses = ct_intern_full_misses(&ct_strings) + ct_intern_full_misses(&ct_stacks);
    ct_buf_uleb(&ct_out.buf, misses - misses_reported);
    misses_reported = misses;
    ct_buf_uleb(&ct_out.buf, cfi_walks);
    ct_buf_uleb(&ct_out.buf, cfi_units);
    /* The kernel's context switches written in this generation. */
    static uint64_t switches_reported;
    uint64_t switches = ct_sched_switches_written();
    ct_buf_uleb(&ct_out.buf, switches - switches_reported);
    switches_reported = switches;
    ct_buf_uleb(&ct_out.buf, atomic_exchange(&ct_g.batch_lost[ct_out.gen & 1], 0));
    ct_out_buf_record(CT_REC_GEN_END);
    ct_out_write_held();
    for (int i = 0; i < CT_MAX_SINKS; i++)
        ct_out.sinks[i].gens++;
    flight_close(end.mono_ns, cut);
    return end;
}

/* Begins the generation after the one end_generation ended at `end`. */
static void next_generation(struct ct_clock_pair end)
{
    w.exited_at_start = atomic_load_explicit(&ct_g.exited, memory_order_relaxed);
    atomic_store_explicit(&ct_g.exit_wake_at, w.exited_at_start + EXITED_PER_GEN,
                          memory_order_relaxed);
    ct_out.gen = ct_out.gen + 1 ? ct_out.gen + 1 : 1;
    w.gen_base = end;
    w.ns_per_unit_q32 = ct_calibration();
    begin_generation();
    uint32_t pending = w.pending_list;
    w.pending_list = 0;
    while (pending) {
        uint32_t index = pending - 1;
        pending = ct_pool_batch(index)->next;
        ct_out_batch(index);
    }
    ct_out_flush_batches();
}

/* A session's command (CT_CMD_*), at a generation boundary. */
static void run_command(void)
{
    pthread_mutex_lock(&cmd_lock);
    int op = atomic_load(&cmd.op);
    int sink = cmd.sink, fd = cmd.fd;
    struct ctrace_flight *flight = cmd.flight;
    pthread_mutex_unlock(&cmd_lock);
    struct ct_clock_pair end = end_generation(false, op == CT_CMD_CUT);
    if (ct_out_acquire()) {
        if (op == CT_CMD_ATTACH) {
            ct_out_sink_open(&ct_out.sinks[sink], fd);
            ct_out_sink_begin(&ct_out.sinks[sink]);
        } else if (op == CT_CMD_DETACH) {
            ct_out_sink_end(&ct_out.sinks[sink]);
            ct_out.sinks[sink].fd = -1;
        } else if (op == CT_CMD_FLIGHT_ON) {
            ct_out.flight = flight;
        } else if (op == CT_CMD_FLIGHT_OFF) {
            ct_out.flight = NULL;
        }
        ct_out_release();
    }
    next_generation(end);
    pthread_mutex_lock(&cmd_lock);
    atomic_store(&cmd.op, CT_CMD_NONE);
    cmd.done++;
    pthread_cond_broadcast(&cmd_cond);
    pthread_mutex_unlock(&cmd_lock);
}

static __thread bool is_writer; /* this thread is the writer */

/* The session's last generation and the files' ends. */
static void writer_finish(void)
{
    /* The writer's tid, which it sets when it runs: a process that ends
     * before it has (the session ended in line) takes the one known from
     * its creation, else finds it by its name, or the counters' batch and
     * the last thread table would name a stale one (after fork, the
     * parent's writer's). */
    if (!w.thread_made)
        ct_g.tracer_tid = 0; /* none (a stale one would be its parent's, after fork) */
    else if (!atomic_load(&started) && !is_writer)
        ct_g.tracer_tid = w.thread_tid ? w.thread_tid : ct_find_writer_tid();
    /* The counters as the session ends: a process shorter than their
     * period has this one sample (under the writer's tid, when known). */
    if (w.counter_period_ns && ct_g.tracer_tid > 0)
        ct_counters_sample(&w.counters);
    end_generation(true, false);
    ct_sched_stop();
    if (ct_out_acquire()) {
        for (int i = 0; i < CT_MAX_SINKS; i++)
            if (ct_out.sinks[i].fd >= 0)
                ct_out_sink_end(&ct_out.sinks[i]);
        ct_out_release();
    }
}

/* A program may end by its last thread's pthread_exit, when glibc calls
 * exit(0) for it; but the writer, a thread too, keeps the process alive.
 * The writer looks every 100 ms once no registered thread is live, and
 * then calls exit itself: the atexit handlers end the sessions with the
 * writer's work done in line (ct_writer_stop, ct_writer_command). */
static void exit_if_program_ended(uint64_t now)
{
    static uint64_t last_look;
    if (now - last_look < 100000000u)
        return;
    last_look = now;
    if (!ct_program_alive(ct_g.tracer_tid)) {
        pthread_mutex_unlock(&work_lock); /* the atexit handlers' work is in line */
        exit(0);
    }
}

/* The writer takes its creator's CPUs back at its first wake
 * (writer_thread.c, ct_pin_here). */
static void unpin(void)
{
    if (w.pinned) {
        w.pinned = false;
        sched_setaffinity(0, sizeof w.cpus, &w.cpus);
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    ct_self = CT_THREAD_DEAD;
    ct_busy = 1;
    ct_g.tracer_tid = ct_gettid();
    is_writer = true;
    prctl(PR_SET_NAME, CT_WRITER_NAME, 0, 0, 0);
    /* Known by its tid and name from here (the thread tables mark it as
     * the tracer's), whoever holds work_lock. */
    atomic_store(&started, 1);
    syscall(SYS_futex, &started, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    pthread_mutex_lock(&work_lock);
    uint64_t gen_start = ct_mono_ns();
    /* The first read a millisecond on: the rings' rate is not known yet,
     * and the cover of a process's first thread may have opened just now
     * (ct_sched_before_thread's poke can come before this thread waits). */
    uint64_t rings_due = 0;
    while (!atomic_load(&w.stopping)) {
        uint32_t word = atomic_load(&w.wake_word);
        struct timespec timeout = {0, wait_ns(rings_due)};
        if (atomic_load(&w.pending) < w.wake_threshold && !atomic_load(&w.stopping) &&
            !atomic_load(&cmd.op) && !atomic_load(&dump_requested)) {
            pthread_mutex_unlock(&work_lock);
            syscall(SYS_futex, &w.wake_word, FUTEX_WAIT_PRIVATE, word, &timeout, NULL, 0);
            pthread_mutex_lock(&work_lock);
            if (atomic_load(&w.stopping))
                break; /* (and perhaps ended by ct_writer_stop meanwhile) */
        }
        unpin();
        if (atomic_load(&cmd.op)) {
            run_command();
            gen_start = ct_mono_ns();
            continue;
        }
        if (atomic_exchange(&dump_requested, 0) && ct_out.flight && ct_flight_write_hook) {
            next_generation(end_generation(false, true));
            gen_start = ct_mono_ns();
            ct_flight_write_hook(ct_out.flight, "signal");
            continue;
        }
        drain_full();
        if (!atomic_load(&w.stopping)) /* no memory for a program that is ending */
            ct_pool_prefill(8);
        uint64_t now = ct_mono_ns();
        rings_due = collect_switches(CT_SCHED_READ, UINT64_MAX);
        exit_if_program_ended(now);
        if (w.counter_period_ns && now - w.counter_last >= w.counter_period_ns) {
            ct_counters_sample(&w.counters);
            w.counter_last = now;
        }
        /* Switches too fast to be cheap (--sched=auto): the generation
         * ends here, the next has samples. */
        bool to_samples = ct_sched_too_fast(now);
        if (to_samples || now - gen_start >= w.generation_ns ||
            ct_out.gen_bytes >= w.generation_bytes ||
            atomic_load_explicit(&ct_g.exited, memory_order_relaxed) - w.exited_at_start >=
                EXITED_PER_GEN) {
            if (to_samples)
                ct_sched_switches_off();
            struct ct_clock_pair end = end_generation(false, false);
            if (to_samples)
                ct_sched_to_samples();
            next_generation(end);
            gen_start = now;
        }
    }
    if (!atomic_load(&finished)) /* else ct_writer_stop did it in line */
        writer_finish();
    pthread_mutex_unlock(&work_lock);
    atomic_store(&finished, 1);
    syscall(SYS_futex, &finished, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    return NULL;
}

int ct_writer_finish_now(uint64_t timeout_ns)
{
    if (!w.running || is_writer)
        return 0;
    if (!w.thread_made)
        return -1; /* no thread to do it: what a crash writes */
    atomic_store(&w.stopping, true);
    ct_writer_poke();
    uint64_t deadline = ct_mono_ns() + timeout_ns;
    while (!atomic_load(&finished)) {
        uint64_t now = ct_mono_ns();
        if (now >= deadline)
            return -1;
        uint64_t left = deadline - now;
        struct timespec wait = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        syscall(SYS_futex, &finished, FUTEX_WAIT_PRIVATE, 0, &wait, NULL, 0);
    }
    return 1;
}

/* A writer left unjoined by ct_writer_stop(true), its work done. */
static pthread_t left_thread;
static bool left;

/* Makes the writer thread; 0 or a positive errno. The caller has blocked
 * every signal: the writer, which inherits the mask, takes none meant for
 * the program. */
static int start_thread(void)
{
    atomic_store(&started, 0);
    /* Named from its creation (a thread takes its creator's name), not
     * only once it runs: a process may end before it has. Raw calls: the
     * preload's prctl would take them for the program's renames. */
    char own[16] = {0};
    bool renamed = syscall(SYS_prctl, PR_GET_NAME, own, 0, 0, 0) == 0 &&
                   syscall(SYS_prctl, PR_SET_NAME, CT_WRITER_NAME, 0, 0, 0) == 0;
    pthread_attr_t attr;
    bool attr_made = pthread_attr_init(&attr) == 0;
    w.pinned = attr_made && ct_pin_here(&attr, &w.cpus);
    int rc = pthread_create(&w.thread, attr_made ? &attr : NULL, writer_main, NULL);
    if (rc != 0 && w.pinned) { /* the kernel refused the CPU */
        w.pinned = false;
        rc = pthread_create(&w.thread, NULL, writer_main, NULL);
    }
    if (attr_made)
        pthread_attr_destroy(&attr);
    if (renamed)
        syscall(SYS_prctl, PR_SET_NAME, own, 0, 0, 0);
    if (rc == 0) {
        w.thread_made = true;
        w.thread_tid = ct_created_tid(w.thread);
    }
    return rc;
}

int ct_writer_start(const struct ct_writer_config *config, struct ctrace_flight *flight)
{
    bool lazy = ct_writer_lazy && !flight;
    ct_writer_lazy = false;
    if (left) { /* an exec failed: the last writer goes before w is reused */
        ct_writer_poke();
        pthread_join(left_thread, NULL);
        left = false;
    }
    static bool w_used; /* 21 KiB, zero in a fresh process: its pages left untouched */
    if (w_used)
        w = (struct writer){0};
    w_used = true;
    atomic_store(&finished, 0);
    struct ct_buf buf = ct_out.buf; /* kept from session to session */
    ct_out = (struct ct_out){.buf = buf};
    live_fresh = false;
    for (int i = 0; i < CT_MAX_SINKS; i++)
        ct_out.sinks[i].fd = -1;
    if (config->fd >= 0)
        ct_out_sink_open(&ct_out.sinks[0], config->fd);
    ct_out.flight = flight;
    w.generation_ns = config->generation_ns;
    w.generation_bytes = config->generation_bytes;
    w.counter_period_ns = config->counter_period_ns;
    /* Woken when a quarter of the pool is full, or a generation's worth. */
    size_t wake = config->pool_batches / 4;
    if (wake > config->generation_bytes / CT_BATCH_SIZE)
        wake = config->generation_bytes / CT_BATCH_SIZE;
    w.wake_threshold = (uint32_t)(wake ? wake : 1);
    w.ns_per_unit_q32 = ct_calibration_start();
    w.prev_rate = 0;
    w.exited_at_start = atomic_load_explicit(&ct_g.exited, memory_order_relaxed);
    atomic_store_explicit(&ct_g.exit_wake_at, w.exited_at_start + EXITED_PER_GEN,
                          memory_order_relaxed);
    w.session_base = w.gen_base = ct_clock_pair_now();
    w.process.start_mono_ns = w.session_base.mono_ns;
    w.process.start_real_ns = w.session_base.real_ns;
    ct_sched_session_began(w.session_base.mono_ns);
    ct_process_info_read(&w.process);
    cmdline_fresh = true; /* the first generation's PROCESS record has it */
    ct_out.gen = atomic_load(&ct_g.gen);
    if (config->fd >= 0)
        ct_out_sink_begin(&ct_out.sinks[0]);
    begin_generation();
    if (config->fd >= 0 && ct_out.sinks[0].error)
        return -ct_out.sinks[0].error; /* the caller frees the flight recorder */
    w.running = true;
    w.pid = getpid();
    if (lazy) {
        atomic_store(&ct_writer_deferred, true);
        return 0;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = start_thread();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        w.running = false;
    return -rc;
}

/*
 * The writer's thread, when needed. A process that lives for a few
 * milliseconds (a build's compiler driver, a shell's command) spent more on
 * making its writer thread, running it and ending it at exit than on
 * anything else ctrace does in it. A session of the preload (with a trace
 * file, no flight recorder, no endpoint) starts without it: its events fill
 * batches in memory, and a short process ends its trace in line at exit or
 * exec, as any process can. The thread is made at the first of:
 *   - the program's first pthread_create (and any command of a session);
 *   - a wrapped call that may wait for long (a sleep, a lock, a join), or
 *     any wrapped call or annotation once the process is 10 ms old or a
 *     quarter of the pool is full,
 * the latter only where no signal handler runs (making a thread from a
 * handler that interrupted malloc would wait for ever on malloc's lock):
 * the preload knows (signals.c: not inside ctrace's handlers, and none of
 * the signals the program handles blocked on this thread beyond the mask
 * it asked for, as each is while its handler runs), and this process the
 * session's (not a vfork
 * child sharing its memory). A process killed meanwhile by a terminating
 * signal gets what a crash writes (ct_crash_flush); by SIGKILL, its header.
 */
#define DEFER_NS 10000000u
bool ct_writer_lazy;
_Atomic bool ct_writer_deferred;
bool (*ct_writer_no_handler_hook)(void);

void ct_writer_undefer(void)
{
    /* No signal between the claim and the thread: a terminating one's
     * handler takes a session with no thread for a crash. */
    ct_busy++;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (getpid() == w.pid && atomic_exchange(&ct_writer_deferred, false))
        start_thread(); /* if it fails, the session ends in line */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    ct_busy--;
}

void ct_writer_due(bool waiting)
{
    if (ct_busy)
        return;
    uint64_t now = ct_mono_ns();
    if (now < w.next_look)
        return;
    if (!waiting && now - w.session_base.mono_ns < DEFER_NS &&
        atomic_load_explicit(&w.pending, memory_order_relaxed) < w.wake_threshold)
        return;
    w.next_look = now + 1000000u; /* a look a millisecond at most */
    if (ct_writer_no_handler_hook && ct_writer_no_handler_hook())
        ct_writer_undefer();
}

void ct_writer_exclusive(void (*fn)(void))
{
    ct_busy++;
    pthread_mutex_lock(&work_lock);
    fn();
    pthread_mutex_unlock(&work_lock);
    ct_busy--;
}

void ct_writer_stop(bool ending)
{
    atomic_store(&w.stopping, true);
    if (is_writer) { /* exit called by the writer: the program has ended */
        writer_finish();
    } else if (!w.thread_made) { /* never needed (or never made): in line */
        atomic_store(&ct_writer_deferred, false);
        ct_busy++;
        pthread_mutex_lock(&work_lock);
        writer_finish();
        atomic_store(&finished, 1);
        pthread_mutex_unlock(&work_lock);
        ct_busy--;
    } else if (ending && pthread_mutex_trylock(&work_lock) == 0) {
        /* The writer sleeps (or has yet to take the lock): its work is
         * done here, and it returns without doing it when it wakes (a
         * writer not yet run is known by its name: ct_scan_live_threads). */
        ct_busy++;
        writer_finish();
        ct_busy--;
        atomic_store(&finished, 1);
        pthread_mutex_unlock(&work_lock);
        left_thread = w.thread;
        left = true;
    } else {
        ct_writer_poke();
        pthread_join(w.thread, NULL);
    }
    w.running = false;
    ct_out.flight = NULL;
    uint32_t gen = ct_out.gen + 1 ? ct_out.gen + 1 : 1;
    atomic_store(&ct_g.gen, gen); /* the next session's first generation */
    ct_process_info_free(&w.process);
}

void ct_writer_command(int op, int sink, int fd, struct ctrace_flight *flight)
{
    pthread_mutex_lock(&cmd_lock);
    uint64_t target = cmd.done + 1;
    cmd.sink = sink;
    cmd.fd = fd;
    cmd.flight = flight;
    atomic_store(&cmd.op, op);
    if (!is_writer && atomic_load(&ct_writer_deferred)) {
        pthread_mutex_unlock(&cmd_lock);
        ct_writer_undefer();
        pthread_mutex_lock(&cmd_lock);
    }
    if (is_writer || !w.thread_made) { /* in exit, called by the writer; or no writer */
        pthread_mutex_unlock(&cmd_lock);
        if (!is_writer)
            pthread_mutex_lock(&work_lock);
        run_command();
        if (!is_writer)
            pthread_mutex_unlock(&work_lock);
        return;
    }
    ct_writer_poke();
    while (cmd.done < target)
        pthread_cond_wait(&cmd_cond, &cmd_lock);
    pthread_mutex_unlock(&cmd_lock);
}

/* ---- what sessions ask of the writer (writer.h) ---- */

bool ct_writer_running(void)
{
    return w.running;
}

int ct_writer_sink_fd(int sink)
{
    return sink >= 0 && sink < CT_MAX_SINKS ? ct_out.sinks[sink].fd : -1;
}

int ct_writer_sink_error(int sink)
{
    return sink >= 0 && sink < CT_MAX_SINKS ? ct_out.sinks[sink].error : 0;
}

void ct_writer_lower_generation(uint64_t ns, size_t bytes)
{
    if (ns < w.generation_ns)
        w.generation_ns = ns;
    if (bytes < w.generation_bytes)
        w.generation_bytes = bytes;
}

void ct_writer_flight_bounds(struct ctrace_flight *f, const struct ct_fgen **from,
                             const struct ct_fgen **to)
{
    if (ct_out_acquire()) {
        *from = f->head;
        *to = f->tail;
        ct_out_release();
    }
}

static void reset_slot(struct ct_slot *s)
{
    if (s->batch >= 0)
        ct_pool_put(s->batch);
    s->batch = -1;
    s->pos = s->end = NULL;
    s->drop_count = 0;
}

void ct_writer_before_fork(void)
{
    if (!w.running)
        return;
    while (w.thread_made && !atomic_load(&started))
        syscall(SYS_futex, &started, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    pthread_mutex_lock(&work_lock);
}

void ct_writer_after_fork_parent(void)
{
    if (w.running)
        pthread_mutex_unlock(&work_lock);
}

void ct_writer_after_fork_child(void)
{
    /* The writer may have held these; it is not in the child. */
    left = false;
    atomic_store(&ct_writer_deferred, false);
    w.thread_made = false;
    pthread_mutex_init(&work_lock, NULL);
    pthread_mutex_init(&cmd_lock, NULL);
    pthread_cond_init(&cmd_cond, NULL);
    atomic_store(&cmd.op, CT_CMD_NONE);
    atomic_store(&dump_requested, 0);
    ct_out_release();
    if (!CTRACE_ON_()) {
        ct_thread_free_rebuild(); /* its lock may have been held */
        return;
    }
    __atomic_store_n(&ctrace_on_, 0, __ATOMIC_RELAXED);
    /* The parent's files and flight recorder stay the parent's; the
     * child's copy of the ring is freed by ctrace_flight_stop, if called. */
    w.running = false;
    ct_out_after_fork_child(); /* and what the writer had in hand at the fork */
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_relaxed);
        if (state != CT_THREAD_LIVE && state != CT_THREAD_EXITED && state != CT_THREAD_CLAIMED)
            continue;
        reset_slot(&t->slot[0]);
        reset_slot(&t->slot[1]);
        ct_sched_thread_end(t); /* the parent's threads' rings */
        atomic_store(&t->seq, 0);
        if (t != ct_self)
            atomic_store(&t->state, CT_THREAD_FREE);
        else
            t->tid = ct_gettid();
    }
    ct_sched_stop(); /* the child's copies of the parent's per-CPU rings */
    ct_thread_free_rebuild();
    for (uint32_t list = ct_pool_take_full(); list;) {
        uint32_t index = list - 1;
        list = ct_pool_batch(index)->next;
        ct_pool_put((int32_t)index);
    }
    while (w.pending_list) {
        uint32_t index = w.pending_list - 1;
        w.pending_list = ct_pool_batch(index)->next;
        ct_pool_put((int32_t)index);
    }
    atomic_store(&w.pending, 0);
    uint32_t gen = ct_out.gen + 2 ? ct_out.gen + 2 : 1;
    atomic_store(&ct_g.gen, gen);
    ct_process_info_free(&w.process);
}

struct ctrace_flight *ct_flight_current(void)
{
    return w.running ? ct_out.flight : NULL;
}

void ct_flight_request_write(void)
{
    atomic_store(&dump_requested, 1);
    ct_writer_poke();
}

bool ct_flight_take_request(void)
{
    return atomic_exchange(&dump_requested, 0);
}
