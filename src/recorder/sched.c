/*
 * sched.c - the writer's side of scheduling. Under the preload library, the
 * thread that starts the session opens one ring per CPU, which every thread
 * it and its descendants create afterwards inherits in the kernel (the
 * writer too, whose records are dropped): no system call, descriptor or
 * mapping per thread. A thread the rings do not follow (one that
 * existed before, or one the preload did not see created) opens a ring of
 * its own when it registers (one file descriptor and 36 KiB each, at most a
 * quarter of the process's descriptor limit and 512 in all, so that tracing
 * never starves the program of descriptors). The writer reads the rings
 * every wake, sorts each CPU's records to their threads by tid and, at each
 * generation's end, writes each thread's switches as a batch of `cpu`
 * events: state on (running), preempted (runnable, waiting for a CPU) or off
 * (blocked or sleeping), and the CPU. A thread's switches come from several
 * CPUs' rings, read one after another: they are merged by time, and the
 * last HOLD_NS of them wait for the next generation, for another CPU's ring
 * may still hold an earlier one.
 *
 * Where the kernel refuses the ring (seccomp, perf_event_paranoid 3), the
 * fallback: each thread's schedstat totals, sampled (sched_stat.c), and
 * written as `sched_sample` events. Coarser than the switches: the time a
 * thread waited for a CPU is known per sample, not when.
 */
#include "sched.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sched_raw.h"
#include "writer.h"

#define MAX_RINGS 512
/* A thread's own ring: 32 KiB, 512 switches (records of 32 bytes, out and
 * in; the writer reads it a quarter full, up to every ms), small, for the
 * kernel clears its pages at mmap (32 pages cost a process ~55 us more than 8). */
#define THREAD_RING_PAGES 8
/* A per-CPU ring: 1 MiB (21 800 switches of all threads on the CPU, two
 * records of 24 bytes each, out and in: a program that switches 200 000
 * times a second on a CPU fills it in 110 ms, and a writer starved of CPU
 * by such a program has been seen to read it only every tenth of a
 * second, where --sched=auto turns to samples; a burst is not a rate either:
 * --sched=auto cannot judge one in time, and rings of 64 KiB lost switches
 * when run_test's 600 threads of crowd started and slept at once), fewer
 * pages past 4 CPUs: 4 MiB in all, at least 64 KiB each. */
#define CPU_RING_PAGES 256
/* A process the trace followed (exec'd or forked by a traced one: one of a
 * build's or a script's many, short-lived as a rule) has rings of 256 KiB
 * (5 400 switches; 27 ms at 200 000 a second, where the writer reads every
 * 1 to 10 ms): two 1 MiB rings take 0.6 ms to map here, two of 256 KiB
 * 0.15, and processes at once share the locked-memory limit. --sched=exact
 * has 1 MiB: a writer sharing a CPU with a ping-pong read 8 ms apart. */
#define CPU_RING_PAGES_FOLLOWED 64
/* A process opens its per-CPU rings only when it makes its first thread
 * (most of a build's or a script's never do): until then its one thread
 * has a ring of its own, of THREAD_RING_PAGES, which the per-CPU rings
 * then take over; they follow a thread from its creation, a ring opened
 * by the thread itself only from its first event. */
#define CPU_RINGS_PAGES 1024
#define CPU_RING_MIN_PAGES 16
#define MAX_CPUS 1024
/* Every clone copies each inherited event: about 1.9 us a thread per event
 * here (bench/progs/inherit_cost.c: 2 events +5 us, 32 +50, 64 +125 on a
 * 51 us create and join), while a ring of the thread's own cost +130 us.
 * Past this many CPUs, threads open rings of their own. */
#define COVER_MAX_CPUS 64
#define HOLD_NS 200000u    /* see above */
#define RINGS_DURING_FLUSH_NS 2000000u
/* A ring's rate of filling is told over this much time at least. */
#define RATE_MIN_NS 1000000u

struct ct_sched_session ct_ss = {.mode = CT_SCHED_NONE};
static _Atomic bool enabled;
/* The switches have given way to schedstat samples (--sched=auto:
 * ct_sched_switches_off): a thread registered since samples its own. */
static _Atomic bool sampling;
/* --sched=auto: the switches give way to samples where they cost more
 * than the samples would by far: past auto_per_s a second over a window
 * of AUTO_WINDOW_NS (about 1 us each of the program's time: 3 % at the
 * default 30 000), and past twice what sampling every live thread every
 * SAMPLE_NS costs the writer (about SAMPLE_COST_NS a read). Asked at each
 * of the writer's wakes (every 10 ms, sooner when rings fill). */
#define AUTO_SWITCHES_PER_S 30000u
#define AUTO_WINDOW_NS 100000000u
/* A rate past AUTO_EARLY_TIMES the limit is judged over AUTO_EARLY_NS
 * already: a program switching four times too fast would otherwise pay the
 * exact price for the whole window (its first tenth of a second), where a
 * rate near the limit needs the whole window to be told from a burst. */
#define AUTO_EARLY_NS 20000000u
#define AUTO_EARLY_TIMES 4u
#define SWITCH_COST_NS 1000u
#define SAMPLE_COST_NS 3000u
static bool auto_wanted;
static unsigned auto_per_s = AUTO_SWITCHES_PER_S;
static struct {
    uint64_t from_ns, from_switches;
} auto_window;
static uint64_t switches_read; /* switches out, as read from the rings */

/* The per-CPU rings: opened by the session's thread, then read by the
 * writer only (cpu_ring_count published last). cover_epoch names the set
 * open now; a thread is followed by them when its cover_mine equals it. */
static bool inherit_wanted;
static _Atomic bool cover_deferred; /* to open at the process's first thread */
static unsigned cpu_ring_pages = CPU_RING_PAGES;
static struct ct_perf_ring *cpu_rings;
static _Atomic int cpu_ring_count;
static _Atomic unsigned cover_epoch;
static unsigned epoch_seq;
static __thread unsigned cover_mine;
/* When this thread was created (CLOCK_MONOTONIC), if its creator said:
 * its switches count from then, its first run included. */
static __thread uint64_t created_mono;
static __thread uint64_t created_units; /* the same in trace units */
static pid_t cover_tid;       /* the thread that opened them */
static uint64_t cover_opened_ns; /* when (CLOCK_MONOTONIC) */
/* The ring of the thread that starts the session, opened before the
 * session's time zero and taken by the thread as it registers (after
 * it: the writer thread it has just made may take its CPU in between, a
 * switch that counts); the thread's schedstat totals at time zero. */
static struct {
    struct ct_perf_ring ring;
    pid_t tid;
    uint64_t opened_ns;
} starter = {.ring = {.fd = -1}};
static struct {
    _Atomic uint64_t mono_ns;
    uint64_t run, wait, slices;
    bool read;
} began;
/* Records the kernel dropped from them, and between which times. */
static uint64_t cover_lost, cover_lost_from_ns, cover_lost_to_ns;
/* The per-CPU rings' last read (CLOCK_MONOTONIC; a thread's own ring
 * keeps its own), and when the fullest ring is due to be a quarter full. */
static uint64_t cpu_read_ns, read_due_ns = UINT64_MAX;

/* Opens the per-CPU rings on the calling thread; false if the kernel
 * refuses one of an online CPU. */
static bool open_cover(void)
{
    if (atomic_load(&cpu_ring_count))
        ct_sched_stop(); /* a session that failed to start left them */
    long conf = sysconf(_SC_NPROCESSORS_CONF), online = sysconf(_SC_NPROCESSORS_ONLN);
    if (conf <= 0 || conf > MAX_CPUS || conf > COVER_MAX_CPUS)
        return false;
    struct ct_perf_ring *rings = calloc((size_t)conf, sizeof *rings);
    if (!rings)
        return false;
    long opened = 0;
    for (int cpu = 0; cpu < conf; cpu++) {
        rings[cpu].fd = -1;
        /* A smaller ring where the locked-memory limit refuses the large
         * one (perf_event_mlock_kb per CPU for the user, then RLIMIT_MEMLOCK:
         * many traced processes at once share it). */
        unsigned first = auto_wanted ? cpu_ring_pages : CPU_RING_PAGES;
        while (first > CPU_RING_MIN_PAGES && (long)first * conf > CPU_RINGS_PAGES)
            first /= 2;
        for (unsigned pages = first; pages >= CPU_RING_MIN_PAGES / 2; pages /= 4)
            if (ct_perf_open(&rings[cpu], 0, cpu, pages) == 0) {
                opened++;
                break;
            }
    }
    if (opened < online) { /* a CPU without a ring would lose its switches */
        for (int cpu = 0; cpu < conf; cpu++)
            if (rings[cpu].fd >= 0)
                ct_perf_close(&rings[cpu]);
        free(rings);
        return false;
    }
    if (!ct_swait_cpus((unsigned)conf)) {
        for (int cpu = 0; cpu < conf; cpu++)
            if (rings[cpu].fd >= 0)
                ct_perf_close(&rings[cpu]);
        free(rings);
        return false;
    }
    cpu_rings = rings;
    cover_lost = 0;
    cover_tid = ct_gettid();
    cover_opened_ns = ct_mono_ns();
    cpu_read_ns = cover_opened_ns;
    if (++epoch_seq == 0)
        epoch_seq = 1;
    cover_mine = epoch_seq;
    atomic_store(&cover_epoch, epoch_seq);
    atomic_store_explicit(&cpu_ring_count, (int)conf, memory_order_release);
    return true;
}

static int ring_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return MAX_RINGS;
    rlim_t quarter = rl.rlim_cur / 4;
    return quarter < MAX_RINGS ? (int)quarter : MAX_RINGS;
}

/* Turns scheduling on for a session if the kernel grants it: the per-CPU
 * rings, or one probe on the calling thread (seccomp, perf_event_paranoid
 * 3 and containers may refuse the ring; then the schedstat files, which a
 * kernel without CONFIG_SCHEDSTATS or a /proc not mounted lacks). */
void ct_sched_enable(int want)
{
    ct_ss.mode = CT_SCHED_NONE;
    atomic_store(&sampling, false);
    /* CTRACE_SCHED_AUTO_RATE: the rate past which the switches give way
     * (tests lower it; 0 never), read once a session, not in line. */
    const char *rate = secure_getenv("CTRACE_SCHED_AUTO_RATE");
    auto_per_s = AUTO_SWITCHES_PER_S;
    if (rate && *rate) {
        char *end;
        unsigned long n = strtoul(rate, &end, 10);
        if (*end == 0 && n <= 100000000u)
            auto_per_s = (unsigned)n;
    }
    auto_wanted = want == 0 && auto_per_s > 0;
    auto_window.from_ns = 0;
    atomic_store(&cover_deferred, false);
    if (starter.ring.fd >= 0)
        ct_perf_close(&starter.ring); /* a session that failed to start, or the parent's */
    if (want >= 0 && want != 2 && inherit_wanted &&
        ct_perf_open(&starter.ring, 0, -1, THREAD_RING_PAGES) == 0) {
        starter.tid = ct_gettid();
        starter.opened_ns = ct_mono_ns();
        ct_ss.mode = CT_SCHED_PERF;
        atomic_store(&cover_deferred, true); /* the per-CPU rings at the first thread */
    } else if (want >= 0 && want != 2) {
        struct ct_perf_ring probe;
        if (ct_perf_open(&probe, 0, -1, 1) == 0) {
            ct_perf_close(&probe);
            ct_ss.mode = CT_SCHED_PERF;
        }
    }
    if (want >= 0 && ct_ss.mode == CT_SCHED_NONE) {
        int fd = ct_sstat_open_once(ct_gettid(), "schedstat");
        uint64_t run, wait, slices;
        if (fd >= 0 && ct_sstat_read(fd, &run, &wait, &slices))
            ct_ss.mode = CT_SCHED_SCHEDSTAT;
        ct_sstat_close_once(fd);
    }
    ct_ss.rings_max = ring_limit();
    atomic_store(&enabled, ct_ss.mode != CT_SCHED_NONE);
}

void ct_sched_session_began(uint64_t mono_ns)
{
    began.read = false;
    if (ct_ss.mode == CT_SCHED_PERF && starter.ring.fd >= 0 && starter.tid == ct_gettid()) {
        int fd = ct_sstat_open_once(starter.tid, "schedstat");
        began.read = fd >= 0 && ct_sstat_read(fd, &began.run, &began.wait, &began.slices);
        ct_sstat_close_once(fd);
        began.run = ct_sstat_own_run_now(began.run);
    }
    atomic_store_explicit(&began.mono_ns, mono_ns, memory_order_release);
}

int ct_sched_mode(void)
{
    return atomic_load(&enabled) ? ct_ss.mode : CT_SCHED_NONE;
}

void ct_sched_inherit(bool on, bool followed)
{
    inherit_wanted = on;
    cpu_ring_pages = followed ? CPU_RING_PAGES_FOLLOWED : CPU_RING_PAGES;
}

unsigned ct_sched_cover_token(void)
{
    return cover_mine && cover_mine == atomic_load_explicit(&cover_epoch, memory_order_relaxed)
               ? cover_mine
               : 0;
}

void ct_sched_covered(unsigned token, uint64_t created_ns, uint64_t created_ts)
{
    cover_mine = token;
    created_mono = created_ns;
    created_units = created_ts;
}

void ct_sched_thread_start(struct ct_thread *t)
{
    t->ring.fd = t->schedstat_fd = t->stat_fd = -1;
    t->created_units = 0;
    t->cover_from_ns = 0;
    t->lat_from = t->lat_pending = 0;
    t->ex_from = 0;
    t->ex_run_ns = 0;
    t->ex_valid = false;
    t->ex_lone = 0;
    t->ex_prev_out = 0;
    t->lat_prev_ns = t->lat_carry_ns = t->last_out_ns = t->enc_last_ns = 0;
    t->lat_prev_state = t->last_state = 0;
    t->ss_zero_base = t->ss_pend = t->ss_latency_fd = t->ss_sampling = false;
    t->obs_valid = false;
    t->obs_checked = 0;
    t->ss_run_ns = t->ss_wait_ns = t->ss_slices = t->ss_read_ns = 0;
    ct_sstat_give_back(t);
    if (!atomic_load(&enabled))
        return;
    if (ct_sched_cover_token()) {
        uint64_t now = ct_mono_ns();
        /* From its creation: its wait for its first run is in its life
         * (thread_runnable), and so is the switch that ended it. */
        t->sched_from_ns = created_mono && created_mono < now ? created_mono : now;
        t->created_units = created_mono ? created_units : 0;
        if (ct_ss.mode == CT_SCHED_PERF && created_mono) {
            /* Its schedstat counts from its creation too: its first
             * period starts there, with no switch yet. */
            t->ss_zero_base = true;
            t->lat_prev_ns = t->sched_from_ns;
            t->ex_valid = true; /* not yet run: nothing on a CPU */
        } else if (ct_ss.mode == CT_SCHED_PERF) {
            ct_sstat_baseline(t);
        }
        return;
    }
    if (atomic_fetch_add(&ct_ss.rings_open, 1) >= ct_ss.rings_max) {
        atomic_fetch_sub(&ct_ss.rings_open, 1);
        return;
    }
    bool starts = false;
    if (ct_ss.mode == CT_SCHED_SCHEDSTAT || atomic_load(&sampling)) {
        ct_sstat_start(t);
        t->ss_sampling = true;
    } else if (t->tid == starter.tid && starter.ring.fd >= 0) {
        t->ring = starter.ring; /* the session's starter: open since before time zero */
        starter.ring.fd = -1;
        starter.ring.base = NULL;
        starts = true;
    } else if (ct_perf_open(&t->ring, t->tid, -1, THREAD_RING_PAGES) != 0) {
        t->ring.fd = -1; /* refused for this one (the locked-memory limit): */
        ct_sstat_start(t); /* its run-queue waits, at least */
    }
    if (t->ring.fd < 0 && t->schedstat_fd < 0) {
        atomic_fetch_sub(&ct_ss.rings_open, 1);
    } else if (t->ring.fd >= 0) {
        /* Its schedstat file kept open from now: opened later, by the
         * writer, it can race the program's closes (a daemon's close loop
         * at its start took the file's first number). */
        ct_sstat_baseline(t);
        uint64_t from = atomic_load_explicit(&began.mono_ns, memory_order_acquire);
        if (starts && began.read && from >= starter.opened_ns && from <= ct_mono_ns()) {
            /* Followed from the start: its first period from the totals read then. */
            t->sched_from_ns = t->lat_prev_ns = from;
            t->ss_run_ns = began.run;
            t->ss_wait_ns = began.wait;
            t->ss_slices = began.slices;
        }
    }
}

void ct_sched_thread_end(struct ct_thread *t)
{
    ct_sstat_latency_close(t);
    if (t->ring.fd >= 0 || t->schedstat_fd >= 0) {
        if (t->ring.fd >= 0)
            ct_perf_close(&t->ring);
        ct_sstat_close(&t->schedstat_fd);
        ct_sstat_close(&t->stat_fd);
        atomic_fetch_sub(&ct_ss.rings_open, 1);
    }
    free(t->cpu_events);
    t->cpu_events = NULL;
    t->cpu_len = t->cpu_cap = 0;
    t->cpu_last_ns = 0;
    t->cpu_unsorted_at = 0;
}

bool ct_sched_room(void **events, size_t *len, size_t *cap, size_t size)
{
    if (*len < *cap)
        return true;
    size_t grown = *cap ? *cap * 2 : 64;
    void *raw = realloc(*events, grown * size);
    if (!raw)
        return false;
    *events = raw;
    *cap = grown;
    return true;
}

/* Room for one more switch of time mono_ns at the end of t's list, which
 * notes whether the list is still in time order. */
struct raw_switch *ct_sched_append(struct ct_thread *t, uint64_t mono_ns)
{
    if (mono_ns < t->cpu_last_ns)
        ct_sched_unsorted(t, t->cpu_len);
    else
        t->cpu_last_ns = mono_ns;
    if (!ct_sched_room(&t->cpu_events, &t->cpu_len, &t->cpu_cap, sizeof(struct raw_switch))) {
        ct_sched_lost(t, 1, mono_ns, mono_ns);
        return NULL;
    }
    return &((struct raw_switch *)(void *)t->cpu_events)[t->cpu_len++];
}

void ct_sched_lost(struct ct_thread *t, uint64_t n, uint64_t from_ns, uint64_t to_ns)
{
    if (!n)
        return;
    uint64_t zero = atomic_load_explicit(&began.mono_ns, memory_order_acquire);
    if (from_ns < zero) /* a ring opened before the session's time zero */
        from_ns = zero;
    if (!t->cpu_lost || from_ns < t->lost_from_ns)
        t->lost_from_ns = from_ns;
    if (!t->cpu_lost || to_ns > t->lost_to_ns)
        t->lost_to_ns = to_ns;
    t->cpu_lost += n;
}

/* A ring just read, filled by r->filled bytes in since_ns: when it would
 * be a quarter full at that rate (the earliest of all: the next read). */
static void note_fill(const struct ct_perf_ring *r, uint64_t now, uint64_t since_ns)
{
    if (since_ns >= RATE_MIN_NS && !r->filled)
        return;
    uint64_t in = since_ns < RATE_MIN_NS /* too short to tell a rate: again after that */
                      ? RATE_MIN_NS
                      : (uint64_t)((unsigned __int128)(r->data_size / 4) * since_ns / r->filled);
    if (now + in < read_due_ns)
        read_due_ns = now + in;
}

/* Appends a switch (not a sample) to t's list, noting what sched_wait.c
 * needs: its latest switch out, and the switches in after a block that
 * wait for their share of the run-queue wait. */
static void append_switch(struct ct_thread *t, const struct raw_switch *r)
{
    if (r->state != CT_CPU_ON && r->mono_ns < t->cpu_last_ns) {
        /* A switch out that reached its ring late, after the thread's
         * switch in on another CPU was read and moved back: the switch in
         * cannot have been before it; it goes back to the kernel's time. */
        struct raw_switch *e = t->cpu_events;
        for (size_t i = t->cpu_len; i-- > 0 && e[i].mono_ns + 65536 > r->mono_ns;)
            if (e[i].state == CT_CPU_ON && e[i].mono_ns < r->mono_ns &&
                e[i].mono_ns + e[i].moved_ns >= r->mono_ns) {
                e[i].mono_ns += e[i].moved_ns;
                e[i].moved_ns = 0;
                e[i].paired = 0;
                ct_sched_unsorted(t, i);
            }
    }
    struct raw_switch *to = ct_sched_append(t, r->mono_ns);
    if (!to)
        return;
    *to = *r;
    switches_read += r->state != CT_CPU_ON;
    if (r->state == CT_CPU_ON) {
        t->lat_pending += t->last_state == CT_CPU_OFF;
        t->ex_lone += !r->paired;
        t->obs_valid = false; /* it runs again */
    }
    else if (r->mono_ns > t->last_out_ns)
        t->last_out_ns = r->mono_ns;
    t->last_state = r->state;
}

/* Appends a switch of the thread's own ring to its pending list (writer
 * memory); a switch in moved back by the lag the per-CPU rings measure. */
static void on_switch(void *arg, pid_t tid, uint64_t mono_ns, int state, unsigned cpu)
{
    (void)tid;
    struct ct_thread *t = arg;
    uint64_t moved = state == CT_CPU_ON ? ct_swait_lone_shift(mono_ns, t->last_out_ns) : 0;
    append_switch(t, &(struct raw_switch){.mono_ns = mono_ns - moved, .cpu = cpu,
                                          .state = (uint8_t)state, .moved_ns = (uint16_t)moved});
}

/* Reads a thread's own ring into its list; the records the kernel dropped
 * from it, by its own count (PERF_RECORD_LOST) or, for a ring found full,
 * one at least after the last it kept: the kernel writes that count only
 * with a later record, which may never come (the thread ended, or it no
 * longer switches), and a full ring must not read as a whole one. */
static void read_own_ring(struct ct_thread *t, ct_perf_switch_fn *fn)
{
    unsigned lost = ct_perf_read(&t->ring, fn, t);
    uint64_t now = ct_mono_ns(), from = t->ring.read_ns; /* the last read, or the opening */
    if (!lost && t->ring.filled + 512 >= t->ring.data_size) {
        lost = 1;
        from = t->cpu_last_ns > from ? t->cpu_last_ns : from;
    }
    note_fill(&t->ring, now, now - t->ring.read_ns);
    ct_sched_lost(t, lost, from, now);
    t->ring.read_ns = now;
}

/* The per-CPU rings' records go to their threads through a table of the
 * registered threads by tid, built at every read (open addressing; a live
 * thread wins over an exited one of the same tid). Records of a thread not
 * registered yet (between its creation and its first event) wait in
 * `unclaimed`; at a generation's end those older than the hold are
 * dropped (threads of the tracer's own, threads that never register). */
static struct {
    struct ct_thread **slots;
    size_t mask; /* slots - 1, a power of two less one; 0 when none */
} by_tid;

struct unclaimed_switch {
    pid_t tid;
    struct raw_switch r;
};
static struct {
    struct unclaimed_switch *items;
    size_t len, cap;
} unclaimed;

static struct ct_thread *lookup(pid_t tid)
{
    if (!by_tid.mask)
        return NULL;
    for (size_t i = (size_t)tid * 0x9e3779b1u & by_tid.mask;; i = (i + 1) & by_tid.mask) {
        struct ct_thread *t = by_tid.slots[i];
        if (!t || t->tid == tid)
            return t;
    }
}

static void index_threads(void)
{
    size_t n = 0;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next)
        n++;
    size_t want = 64;
    while (want < 2 * n)
        want *= 2;
    if (want - 1 != by_tid.mask) {
        struct ct_thread **slots = realloc(by_tid.slots, want * sizeof *slots);
        if (!slots)
            return; /* the old table, smaller: records may go unclaimed */
        by_tid.slots = slots;
        by_tid.mask = want - 1;
    }
    memset(by_tid.slots, 0, (by_tid.mask + 1) * sizeof *by_tid.slots);
    size_t used = 0;
    for (struct ct_thread *t = ct_thread_first(); t && 2 * used <= by_tid.mask; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if (state != CT_THREAD_LIVE && state != CT_THREAD_EXITED)
            continue;
        size_t i = (size_t)t->tid * 0x9e3779b1u & by_tid.mask;
        while (by_tid.slots[i] && by_tid.slots[i]->tid != t->tid)
            i = (i + 1) & by_tid.mask;
        if (!by_tid.slots[i])
            used++;
        if (!by_tid.slots[i] || state == CT_THREAD_LIVE)
            by_tid.slots[i] = t;
    }
}

/* Files one record of a per-CPU ring under its thread, unless it came before
 * the thread registered, or the thread has a ring of its own, with the same
 * switches (it was created out of the preload's sight). */
static void claim(pid_t tid, const struct raw_switch *r)
{
    if (tid == ct_g.tracer_tid)
        return; /* the writer (made before the rings, which it never inherits) */
    struct ct_thread *t = lookup(tid);
    if (t) {
        if (__atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) < 0 && r->mono_ns >= t->sched_from_ns &&
            r->mono_ns >= t->cover_from_ns)
            append_switch(t, r);
        return;
    }
    if (ct_sched_room((void **)&unclaimed.items, &unclaimed.len, &unclaimed.cap,
                  sizeof *unclaimed.items))
        unclaimed.items[unclaimed.len++] = (struct unclaimed_switch){tid, *r};
}

static void on_cpu_switch(void *arg, pid_t tid, uint64_t mono_ns, int state, unsigned cpu)
{
    (void)arg;
    struct ct_thread *t = lookup(tid);
    struct raw_switch r = {.mono_ns = mono_ns, .cpu = cpu, .state = (uint8_t)state};
    uint64_t busy, free;
    r.paired = ct_swait_cpu_record(tid, cpu, state, &r.mono_ns, t ? t->last_out_ns : 0, &busy,
                                   &free);
    if (state == CT_CPU_ON) { /* at most PAIR_NS, or 65535 */
        r.moved_ns = (uint16_t)(mono_ns - r.mono_ns);
        r.busy_ns = busy;
        r.free_ns = free;
    }
    claim(tid, &r);
}

/* Reads the per-CPU rings (after a second try for the records that found no
 * thread before); at a generation's end drops the unclaimed older than
 * cutoff. */
static void read_cpu_rings(int count, uint64_t cutoff, bool flush)
{
    index_threads();
    size_t kept = 0, len = unclaimed.len;
    unclaimed.len = 0; /* claim appends the ones still unknown after it */
    for (size_t i = 0; i < len; i++) {
        struct unclaimed_switch u = unclaimed.items[i];
        if (lookup(u.tid))
            claim(u.tid, &u.r);
        else if (!flush || u.r.mono_ns > cutoff)
            unclaimed.items[kept++] = u;
    }
    unclaimed.len = kept;
    /* In time order across the CPUs, so that each thread's switches come
     * in order (sort_switches then has nothing to do but across reads). */
    uint64_t lost = ct_perf_read_merged(cpu_rings, count, on_cpu_switch, NULL);
    /* A ring found full lost what came after; the kernel reports how much
     * with its next record (PERF_RECORD_LOST), which may never come (the
     * program ended, or nothing more ran on that CPU): one at least, so
     * that the trace says it is incomplete. */
    uint64_t now = ct_mono_ns(), since = now - cpu_read_ns;
    for (int cpu = 0; cpu < count; cpu++)
        if (cpu_rings[cpu].fd >= 0) {
            lost += cpu_rings[cpu].filled + 512 >= cpu_rings[cpu].data_size;
            note_fill(&cpu_rings[cpu], now, since);
        }
    if (lost) {
        if (!cover_lost)
            cover_lost_from_ns = cpu_read_ns;
        cover_lost_to_ns = now;
        cover_lost += lost;
    }
    cpu_read_ns = now;
    if (flush && cover_lost) { /* a CPU's loss is not one thread's: the first thread's */
        struct ct_thread *t = lookup(cover_tid);
        for (struct ct_thread *o = ct_thread_first(); !t && o; o = o->all_next)
            if (atomic_load_explicit(&o->state, memory_order_acquire) == CT_THREAD_LIVE)
                t = o;
        if (t) {
            ct_sched_lost(t, cover_lost, cover_lost_from_ns, cover_lost_to_ns);
            cover_lost = 0;
        }
    }
}

/* Keeps the per-CPU rings read while a long encoding goes on. */
static void (*keep_up)(void);

/* While a generation's switches are written: the per-CPU rings, read
 * every RINGS_DURING_FLUSH_NS. */
static struct {
    int count;
    uint64_t cutoff, read_ns;
} flush_rings;

static void read_during_flush(void)
{
    if (ct_mono_ns() - flush_rings.read_ns < RINGS_DURING_FLUSH_NS)
        return;
    read_cpu_rings(flush_rings.count, flush_rings.cutoff, false);
    flush_rings.read_ns = ct_mono_ns();
}

/* Writer side: closes a thread's own ring (its schedstat file, if any,
 * counts against the limit instead). */
static void close_own_ring(struct ct_thread *t)
{
    ct_perf_close(&t->ring);
    __atomic_store_n(&t->ring.fd, -1, __ATOMIC_RELEASE);
    atomic_fetch_sub(&ct_ss.rings_open, 1);
}

/* The opener's own ring's records before the per-CPU rings were all open
 * (they hold the later ones). */
static void on_switch_before_cover(void *arg, pid_t tid, uint64_t mono_ns, int state,
                                   unsigned cpu)
{
    if (mono_ns < cover_opened_ns)
        on_switch(arg, tid, mono_ns, state, cpu);
}

/* Under the writer's lock: the rings, unless the session has ended or
 * turned to samples meanwhile (a refusal leaves each thread its own).
 * The opening thread's own ring is read and closed: the per-CPU rings
 * follow it from their opening on. */
static bool cover_opened_now;
static void open_deferred_cover(void)
{
    if (atomic_load(&cover_deferred) && atomic_load(&enabled) && ct_ss.mode == CT_SCHED_PERF &&
        !atomic_load(&sampling) && open_cover()) {
        cover_opened_now = true;
        struct ct_thread *t = ct_self;
        if ((uintptr_t)t > (uintptr_t)CT_THREAD_DEAD &&
            __atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) >= 0) {
            read_own_ring(t, on_switch_before_cover);
            t->cover_from_ns = cover_opened_ns;
            close_own_ring(t);
        }
    }
    atomic_store(&cover_deferred, false);
}

/* The rings' first read at once (the writer may sleep 10 ms, in which a
 * fast program fills them), the second 1 ms later (note_fill): a rate. */
void ct_sched_before_thread(void)
{
    if (atomic_load_explicit(&cover_deferred, memory_order_relaxed)) {
        ct_writer_exclusive(open_deferred_cover);
        if (cover_opened_now) {
            cover_opened_now = false;
            ct_writer_poke();
        }
    }
}

/* Writer side: closes the per-CPU rings (new threads no longer inherit
 * them: cover_epoch 0). */
static void close_cpu_rings(void)
{
    int n = atomic_exchange(&cpu_ring_count, 0);
    atomic_store(&cover_epoch, 0);
    for (int cpu = 0; cpu < n; cpu++)
        if (cpu_rings[cpu].fd >= 0)
            ct_perf_close(&cpu_rings[cpu]);
    free(cpu_rings);
    cpu_rings = NULL;
}

bool ct_sched_too_fast(uint64_t now)
{
    if (!auto_wanted || ct_ss.mode != CT_SCHED_PERF || atomic_load(&sampling))
        return false;
    if (!auto_window.from_ns || now < auto_window.from_ns) {
        auto_window.from_ns = now;
        auto_window.from_switches = switches_read;
        return false;
    }
    uint64_t span = now - auto_window.from_ns;
    if (span < AUTO_EARLY_NS)
        return false;
    uint64_t per_s = (switches_read - auto_window.from_switches) * 1000000000u / span;
    if (span < AUTO_WINDOW_NS && per_s < (uint64_t)AUTO_EARLY_TIMES * auto_per_s)
        return false; /* the window goes on */
    auto_window.from_ns = now;
    auto_window.from_switches = switches_read;
    uint64_t live = 0;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next)
        live += atomic_load_explicit(&t->state, memory_order_relaxed) == CT_THREAD_LIVE;
    uint64_t sampling_ns = live * (1000000000u / SAMPLE_NS) * SAMPLE_COST_NS;
    return per_s >= auto_per_s && per_s * SWITCH_COST_NS >= 2 * sampling_ns;
}

void ct_sched_switches_off(void)
{
    int count = atomic_load(&cpu_ring_count);
    if (ct_ss.mode != CT_SCHED_PERF || atomic_load(&sampling))
        return;
    atomic_store(&sampling, true); /* before the rings close: see thread_start */
    if (count)
        read_cpu_rings(count, UINT64_MAX, false);
    unclaimed.len = 0; /* switches of threads never registered: none to come */
    close_cpu_rings();
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if ((state != CT_THREAD_LIVE && state != CT_THREAD_EXITED) ||
            __atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) < 0)
            continue;
        read_own_ring(t, on_switch);
        close_own_ring(t);
    }
    /* Each live thread's totals now, which its samples count from: the
     * switches read cover its time up to here, the samples from here (the
     * generation ending with them takes a while to write). */
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next)
        if (atomic_load_explicit(&t->state, memory_order_acquire) == CT_THREAD_LIVE &&
            !t->ss_sampling)
            ct_sstat_sample_from_now(t);
}

/* A thread in a generation of samples: switches read past the last
 * generation's end stay unwritten (a generation of samples has none); one
 * that registered as the switches gave way, its own ring opened after
 * ct_sched_switches_off passed it, has the ring closed unread and its
 * totals taken now. */
static void to_samples(struct ct_thread *t, bool live)
{
    t->cpu_len = 0;
    if (t->ss_sampling)
        return;
    if (__atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) >= 0)
        close_own_ring(t);
    if (live)
        ct_sstat_sample_from_now(t);
    t->ss_sampling = true;
}

void ct_sched_to_samples(void)
{
    if (!atomic_load(&sampling) || ct_ss.mode != CT_SCHED_PERF)
        return;
    ct_ss.mode = CT_SCHED_SCHEDSTAT;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if (state == CT_THREAD_LIVE || state == CT_THREAD_EXITED)
            to_samples(t, state == CT_THREAD_LIVE);
    }
}

uint64_t ct_sched_collect(ct_sched_emit_fn *emit, int how, uint64_t end_ns)
{
    read_due_ns = UINT64_MAX;
    bool flush = how != CT_SCHED_READ;
    uint32_t open_gen = atomic_load(&ct_g.gen); /* the one after the ending one */
    int count = atomic_load_explicit(&cpu_ring_count, memory_order_acquire);
    if (!count && !atomic_load(&enabled))
        return UINT64_MAX; /* --sched=off: no walk of the registry every wake */
    uint64_t now = ct_mono_ns();
    uint64_t cutoff = how == CT_SCHED_LAST || !count ? UINT64_MAX : now - HOLD_NS;
    /* A switch after the generation's end, converted on its line extended,
     * would meet the next generation's line some nanoseconds off: a woken
     * there could come before the off written here. */
    if (how == CT_SCHED_FLUSH && end_ns < cutoff)
        cutoff = end_ns;
    if (ct_ss.mode == CT_SCHED_PERF)
        ct_sstat_latency_samples(now, flush);
    if (count)
        read_cpu_rings(count, cutoff, flush);
    if (ct_ss.mode == CT_SCHED_PERF)
        ct_sched_observe_blocked(now, emit);
    flush_rings.count = count;
    flush_rings.cutoff = cutoff;
    flush_rings.read_ns = ct_mono_ns();
    keep_up = count ? read_during_flush : NULL;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if (state != CT_THREAD_LIVE && state != CT_THREAD_EXITED)
            continue;
        if (!t->ss_sampling && ct_ss.mode == CT_SCHED_SCHEDSTAT && atomic_load(&sampling))
            to_samples(t, state == CT_THREAD_LIVE); /* registered since */
        if (__atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) >= 0) {
            read_own_ring(t, on_switch);
        } else if (t->schedstat_fd >= 0 && !t->ss_latency_fd &&
                   (ct_ss.mode != CT_SCHED_PERF || !t->ss_sampling)) {
            ct_sstat_sample(t, now, flush, state == CT_THREAD_EXITED);
        }
        /* (A thread turned to samples has its first in the next generation,
         * and its totals at exit, if it exits meanwhile, there too.) */
        if (ct_ss.mode == CT_SCHED_PERF && !t->ss_sampling)
            ct_sstat_latency_resolve(t, state == CT_THREAD_EXITED, flush);
        if (flush && state == CT_THREAD_LIVE)
            ct_sched_mark_call(t, emit);
        /* An exited thread has no switches to come that another CPU's
         * ring could hold earlier; those after the generation's end (it
         * runs on in the kernel after it said it exited) wait for the
         * next, as a live thread's do: the writer keeps it until then. */
        /* A thread made as the generation ended has its own first events
         * in the next one (written after its number changed, stamped
         * before its end): its switches go there too, so that its row
         * begins with them, not at this generation's start. */
        uint32_t first = __atomic_load_n(&t->first_gen, __ATOMIC_ACQUIRE);
        bool held = how == CT_SCHED_FLUSH && first && first == open_gen;
        if (flush && !held && (t->cpu_len || t->cpu_lost)) {
            /* Writing a generation's switches takes a while when there are
             * millions: the rings are read meanwhile, so that none fills. */
            if (keep_up)
                keep_up();
            if (t->cpu_lost && t->lost_to_ns > end_ns) { /* read after the end: within */
                t->lost_to_ns = end_ns;
                t->lost_from_ns = t->lost_from_ns < end_ns ? t->lost_from_ns : end_ns;
            }
            uint64_t until = how == CT_SCHED_FLUSH ? end_ns : UINT64_MAX;
            ct_sched_emit_thread(t, emit, state == CT_THREAD_EXITED ? until : cutoff,
                                 how == CT_SCHED_LAST, keep_up);
        } else if (how == CT_SCHED_LAST && t->cpu_events) {
            free(t->cpu_events); /* an empty list's memory, kept from before */
            t->cpu_events = NULL;
            t->cpu_cap = 0;
        }
    }
    keep_up = NULL;
    /* Switches read meanwhile (keep_up) for a thread already written come
     * after the trace's end: the session's last thread may be the one
     * ending it, in line (ct_writer_stop), switching as it does. */
    for (struct ct_thread *t = ct_thread_first(); how == CT_SCHED_LAST && t; t = t->all_next)
        if (t->cpu_events) {
            free(t->cpu_events);
            t->cpu_events = NULL;
            t->cpu_len = t->cpu_cap = 0;
        }
    return read_due_ns;
}

void ct_sched_stop(void)
{
    atomic_store(&cover_deferred, false);
    if (starter.ring.fd >= 0)
        ct_perf_close(&starter.ring);
    close_cpu_rings();
    ct_swait_stop();
    ct_swait_free();
    ct_sched_encoded_free();
    free(unclaimed.items);
    free(by_tid.slots);
    unclaimed.items = NULL;
    by_tid.slots = NULL;
    unclaimed.len = unclaimed.cap = by_tid.mask = 0;
}
