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
 * fallback: each thread opens its /proc/self/task/TID/schedstat (time on
 * CPU, time runnable in the run queue, timeslices) and stat (the CPU it
 * last ran on) when it registers, reading its totals as the baseline; the
 * writer reads them again every wake, at most every 2 ms per thread, and
 * writes what changed as `sched_sample` events (and an exiting thread reads
 * its own last totals, which its files no longer give once it is gone).
 * Coarser than the switches:
 * the time a thread waited for a CPU is known per sample, not when. Raw
 * system calls throughout: the preload library interposes open, pread and
 * close.
 */
#include "sched.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched_raw.h"

#define MAX_RINGS 512
#define THREAD_RING_PAGES 8 /* 32 KiB: about 1000 switches between two reads */
/* A per-CPU ring: 1 MiB (43 000 switches of all threads on the CPU: a
 * program that switches 200 000 times a second on a CPU fills it in a
 * fifth of a second, and a writer starved of CPU by such a program has
 * been seen to read it only every tenth), fewer pages past 4 CPUs: 4 MiB
 * in all, at least 64 KiB each. */
#define CPU_RING_PAGES 256
/* A process the trace followed (exec'd or forked by a traced one: one of a
 * build's or a script's many, short-lived as a rule) has rings of 256 KiB
 * (11 000 switches; 55 ms at 200 000 a second, where the writer reads every
 * 1 to 10 ms): the kernel allocates and clears a ring's pages when it is
 * mapped, 0.6 ms for two 1 MiB rings here against 0.15 ms, paid by every
 * process at its start; and processes at once share the locked-memory
 * limit the rings count against. */
#define CPU_RING_PAGES_FOLLOWED 64
#define CPU_RINGS_PAGES 1024
#define CPU_RING_MIN_PAGES 16
#define MAX_CPUS 1024
/* Every clone copies each inherited event: about 1.9 us a thread per event
 * here (bench/progs/inherit_cost.c: 2 events +5 us, 32 +50, 64 +125 on a
 * 51 us create and join), while a ring of the thread's own cost +130 us.
 * Past this many CPUs, threads open rings of their own. */
#define COVER_MAX_CPUS 64
#define HOLD_NS 200000u    /* see above */
#define SAMPLE_NS 2000000u /* schedstat: at most one read per thread per 2 ms */
/* With the kernel's switches, a thread's schedstat is read for its
 * run-queue wait (sched_wait.c) at most this often, and only after it
 * switched in after a block; at most LATENCY_FDS files stay open, the
 * other threads' are opened for each read. */
#define LATENCY_SAMPLE_NS 20000000u
#define LATENCY_FDS 256
#define RINGS_DURING_FLUSH_NS 2000000u

static _Atomic int rings_open;
static int rings_max; /* a quarter of the descriptor limit, at the session's start */
static _Atomic bool enabled;
static _Atomic int mode = CT_SCHED_NONE; /* read by registering threads */
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
static unsigned cpu_ring_pages = CPU_RING_PAGES;
static struct ct_perf_ring *cpu_rings;
static _Atomic int cpu_ring_count;
static _Atomic unsigned cover_epoch;
static unsigned epoch_seq;
static __thread unsigned cover_mine;
/* When this thread was created (CLOCK_MONOTONIC), if its creator said:
 * its switches count from then, its first run included. */
static __thread uint64_t created_mono;
static pid_t cover_tid;       /* the thread that opened them */
static uint64_t cover_opened_ns; /* when (CLOCK_MONOTONIC) */
/* The session's start (its time zero), and the schedstat totals of the
 * thread that opened the rings then: that thread registers only after the
 * session has begun, and a switch of it in between (the writer thread it
 * has just made may take its CPU) is in the rings, and counts. */
static struct {
    _Atomic uint64_t mono_ns;
    uint64_t run, wait, slices;
    bool read;
} began;
static uint64_t cover_lost;   /* records the kernel dropped from them */

static int proc_open(pid_t tid, const char *file)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, file);
    return (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

/* A thread's schedstat files stay open: the tracer's own. */
static int proc_keep(pid_t tid, const char *file)
{
    return ct_own_fd(proc_open(tid, file));
}

static void proc_close(int *fd)
{
    if (*fd >= 0)
        ct_own_fd_close(*fd);
    *fd = -1;
}

/* Reads a small /proc file from the start into buf (NUL-terminated). */
static bool proc_read(int fd, char *buf, size_t size)
{
    long n = syscall(SYS_pread64, fd, buf, size - 1, 0L);
    if (n <= 0)
        return false;
    buf[n] = 0;
    return true;
}

/* Reads a decimal number at *p, past leading spaces; false if none. */
static bool parse_number(const char **p, uint64_t *out)
{
    const char *q = *p;
    while (*q == ' ')
        q++;
    if (*q < '0' || *q > '9')
        return false;
    uint64_t v = 0;
    while (*q >= '0' && *q <= '9')
        v = v * 10 + (uint64_t)(*q++ - '0');
    *p = q;
    *out = v;
    return true;
}

/* schedstat: "run_ns wait_ns timeslices". */
static bool read_schedstat(int fd, uint64_t *run, uint64_t *wait, uint64_t *slices)
{
    char buf[96];
    const char *p = buf;
    return proc_read(fd, buf, sizeof buf) && parse_number(&p, run) && parse_number(&p, wait) &&
           parse_number(&p, slices);
}

/* stat: field 39, the CPU the thread last ran on; fields are counted after
 * the command's closing parenthesis (the command may hold spaces). */
static unsigned read_cpu(int fd)
{
    char buf[1024];
    if (fd < 0 || !proc_read(fd, buf, sizeof buf))
        return UINT32_MAX;
    const char *p = strrchr(buf, ')');
    if (!p)
        return UINT32_MAX;
    for (int field = 2; field < 39 && p; field++)
        p = strchr(p + 1, ' ');
    uint64_t cpu;
    return p && parse_number(&p, &cpu) && cpu < UINT32_MAX ? (unsigned)cpu : UINT32_MAX;
}

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
        unsigned first = cpu_ring_pages;
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
    mode = CT_SCHED_NONE;
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
    if (want >= 0 && want != 2 && inherit_wanted && open_cover()) {
        mode = CT_SCHED_PERF;
    } else if (want >= 0 && want != 2) {
        struct ct_perf_ring probe;
        if (ct_perf_open(&probe, 0, -1, 1) == 0) {
            ct_perf_close(&probe);
            mode = CT_SCHED_PERF;
        }
    }
    if (want >= 0 && mode == CT_SCHED_NONE) {
        int fd = proc_open(ct_gettid(), "schedstat");
        uint64_t run, wait, slices;
        if (fd >= 0 && read_schedstat(fd, &run, &wait, &slices))
            mode = CT_SCHED_SCHEDSTAT;
        proc_close(&fd);
    }
    rings_max = ring_limit();
    atomic_store(&enabled, mode != CT_SCHED_NONE);
}

int ct_sched_mode(void)
{
    return atomic_load(&enabled) ? mode : CT_SCHED_NONE;
}

/* A thread's own last totals pass to the writer through ss_exit_*: the
 * thread fills them only while ss_exit_ns is 0 (the writer has taken the
 * last ones) and publishes them by storing ss_exit_ns; the writer reads
 * them once it sees ss_exit_ns and gives them back by storing 0. */
static uint64_t exit_taken(const struct ct_thread *t)
{
    return __atomic_load_n(&t->ss_exit_ns, __ATOMIC_ACQUIRE);
}

static void exit_give_back(struct ct_thread *t)
{
    __atomic_store_n(&t->ss_exit_ns, 0, __ATOMIC_RELEASE);
}

/* The schedstat fallback: the thread's two files and its totals now. */
static void schedstat_start(struct ct_thread *t)
{
    t->schedstat_fd = proc_keep(t->tid, "schedstat");
    if (t->schedstat_fd < 0 ||
        !read_schedstat(t->schedstat_fd, &t->ss_run_ns, &t->ss_wait_ns, &t->ss_slices)) {
        proc_close(&t->schedstat_fd);
        return;
    }
    t->stat_fd = proc_keep(t->tid, "stat");
    t->ss_read_ns = 0;
    exit_give_back(t);
}

/* schedstat's time on a CPU (and getrusage's) is as of the running
 * thread's last tick or switch (4 ms at HZ=250); the calling thread's CPU
 * clock is brought up to now: the later of the two. */
static uint64_t own_run_now(uint64_t run)
{
    struct timespec cpu_time;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_time) == 0) {
        uint64_t now_run = (uint64_t)cpu_time.tv_sec * 1000000000u + (uint64_t)cpu_time.tv_nsec;
        if (now_run > run)
            run = now_run;
    }
    return run;
}

/* A thread that ends before the writer sampled it has no schedstat file
 * open; with the kernel's switches, one that blocked has run-queue waits
 * after its wake-ups that only the kernel's totals tell (the latency
 * samples come every LATENCY_SAMPLE_NS): it opens the file for its last
 * totals. One that never gave up its CPU (getrusage: no voluntary switch)
 * has none, and costs no open. */
static int exit_fd(struct ct_thread *t, bool *temporary)
{
    *temporary = false;
    int fd = __atomic_load_n(&t->schedstat_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0 || mode != CT_SCHED_PERF)
        return fd;
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0 || ru.ru_nvcsw == 0)
        return -1;
    *temporary = true;
    return proc_open(t->tid, "schedstat");
}

void ct_sched_thread_exit(struct ct_thread *t)
{
    if (exit_taken(t))
        return; /* the writer has not taken the last ones yet */
    bool temporary;
    int fd = exit_fd(t, &temporary);
    if (fd < 0)
        return;
    uint64_t run, wait, slices;
    bool read = read_schedstat(fd, &run, &wait, &slices);
    if (temporary)
        syscall(SYS_close, fd);
    if (!read)
        return;
    run = own_run_now(run);
    int cpu = sched_getcpu();
    t->ss_exit_run = run;
    t->ss_exit_wait = wait;
    t->ss_exit_slices = slices;
    t->ss_exit_cpu = cpu >= 0 ? (unsigned)cpu : UINT32_MAX;
    __atomic_store_n(&t->ss_exit_ns, ct_mono_ns(), __ATOMIC_RELEASE);
}

void ct_sched_inherit(bool on, bool followed)
{
    inherit_wanted = on;
    cpu_ring_pages = followed ? CPU_RING_PAGES_FOLLOWED : CPU_RING_PAGES;
}

void ct_sched_session_began(uint64_t mono_ns)
{
    began.read = false;
    if (mode == CT_SCHED_PERF && cover_tid == ct_gettid() && ct_sched_cover_token()) {
        int fd = proc_open(cover_tid, "schedstat");
        began.read = fd >= 0 && read_schedstat(fd, &began.run, &began.wait, &began.slices);
        proc_close(&fd);
        began.run = own_run_now(began.run);
    }
    atomic_store_explicit(&began.mono_ns, mono_ns, memory_order_release);
}

unsigned ct_sched_cover_token(void)
{
    return cover_mine && cover_mine == atomic_load_explicit(&cover_epoch, memory_order_relaxed)
               ? cover_mine
               : 0;
}

void ct_sched_covered(unsigned token, uint64_t created_ns)
{
    cover_mine = token;
    created_mono = created_ns;
}

/* The schedstat file the writer reads a thread's run-queue wait from,
 * beside its switches: kept open while LATENCY_FDS allow, else opened for
 * each read (-1 then, and *temporary set). */
static _Atomic int latency_fds;

static int latency_fd(struct ct_thread *t, bool *temporary)
{
    *temporary = false;
    int fd = __atomic_load_n(&t->schedstat_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0)
        return fd;
    if (atomic_fetch_add(&latency_fds, 1) < LATENCY_FDS && atomic_load(&rings_open) < rings_max) {
        fd = proc_keep(t->tid, "schedstat");
        if (fd >= 0) {
            t->ss_latency_fd = true;
            __atomic_store_n(&t->schedstat_fd, fd, __ATOMIC_RELEASE);
            return fd;
        }
    }
    atomic_fetch_sub(&latency_fds, 1);
    *temporary = true;
    return proc_open(t->tid, "schedstat");
}

/* A thread whose life in the trace began after its creation (the
 * session's first thread, one the preload did not see made): its
 * schedstat totals now, which its first period counts from. */
static void latency_baseline(struct ct_thread *t)
{
    bool temporary;
    int fd = latency_fd(t, &temporary);
    uint64_t run, wait, slices;
    if (fd >= 0 && read_schedstat(fd, &run, &wait, &slices)) {
        t->ss_run_ns = t->tid == ct_gettid() ? own_run_now(run) : run;
        t->ss_wait_ns = wait;
        t->ss_slices = slices;
    }
    if (temporary && fd >= 0)
        syscall(SYS_close, fd);
    t->lat_prev_state = CT_CPU_ON;
    t->lat_prev_ns = ct_mono_ns();
}

void ct_sched_thread_start(struct ct_thread *t)
{
    t->ring.fd = t->schedstat_fd = t->stat_fd = -1;
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
    exit_give_back(t);
    if (!atomic_load(&enabled))
        return;
    if (ct_sched_cover_token()) {
        uint64_t now = ct_mono_ns();
        /* From its creation: its wait for its first run is in its life
         * (thread_runnable), and so is the switch that ended it. */
        t->sched_from_ns = created_mono && created_mono < now ? created_mono : now;
        if (mode == CT_SCHED_PERF && created_mono) {
            /* Its schedstat counts from its creation too: its first
             * period starts there, with no switch yet. */
            t->ss_zero_base = true;
            t->lat_prev_ns = t->sched_from_ns;
            t->ex_valid = true; /* not yet run: nothing on a CPU */
        } else if (mode == CT_SCHED_PERF) {
            latency_baseline(t);
            uint64_t from = atomic_load_explicit(&began.mono_ns, memory_order_acquire);
            if (t->tid == cover_tid && began.read && from >= cover_opened_ns && from <= now) {
                /* The rings' opener: followed from the session's start,
                 * its first period from the totals read then. */
                t->sched_from_ns = from;
                t->lat_prev_ns = from;
                t->ss_run_ns = began.run;
                t->ss_wait_ns = began.wait;
                t->ss_slices = began.slices;
            }
        }
        return;
    }
    if (atomic_fetch_add(&rings_open, 1) >= rings_max) {
        atomic_fetch_sub(&rings_open, 1);
        return;
    }
    if (mode == CT_SCHED_SCHEDSTAT || atomic_load(&sampling)) {
        schedstat_start(t);
        t->ss_sampling = true;
    } else if (ct_perf_open(&t->ring, t->tid, -1, THREAD_RING_PAGES) != 0) {
        t->ring.fd = -1; /* refused for this one (the locked-memory limit): */
        schedstat_start(t); /* its run-queue waits, at least */
    }
    if (t->ring.fd < 0 && t->schedstat_fd < 0)
        atomic_fetch_sub(&rings_open, 1);
    else if (t->ring.fd >= 0)
        latency_baseline(t);
}

void ct_sched_thread_end(struct ct_thread *t)
{
    if (t->ss_latency_fd) {
        proc_close(&t->schedstat_fd);
        atomic_fetch_sub(&latency_fds, 1);
        t->ss_latency_fd = false;
    }
    if (t->ring.fd >= 0 || t->schedstat_fd >= 0) {
        if (t->ring.fd >= 0)
            ct_perf_close(&t->ring);
        proc_close(&t->schedstat_fd);
        proc_close(&t->stat_fd);
        atomic_fetch_sub(&rings_open, 1);
    }
    free(t->cpu_events);
    t->cpu_events = NULL;
    t->cpu_len = t->cpu_cap = 0;
    t->cpu_last_ns = 0;
    t->cpu_unsorted = false;
}

static bool append_to(void **events, size_t *len, size_t *cap, size_t size)
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
static struct raw_switch *append(struct ct_thread *t, uint64_t mono_ns)
{
    if (mono_ns < t->cpu_last_ns)
        t->cpu_unsorted = true;
    else
        t->cpu_last_ns = mono_ns;
    if (!append_to(&t->cpu_events, &t->cpu_len, &t->cpu_cap, sizeof(struct raw_switch))) {
        t->cpu_lost++;
        return NULL;
    }
    return &((struct raw_switch *)(void *)t->cpu_events)[t->cpu_len++];
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
                t->cpu_unsorted = true;
            }
    }
    struct raw_switch *to = append(t, r->mono_ns);
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
        return; /* the writer, created after the rings */
    struct ct_thread *t = lookup(tid);
    if (t) {
        if (__atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) < 0 && r->mono_ns >= t->sched_from_ns)
            append_switch(t, r);
        return;
    }
    if (append_to((void **)&unclaimed.items, &unclaimed.len, &unclaimed.cap,
                  sizeof *unclaimed.items))
        unclaimed.items[unclaimed.len++] = (struct unclaimed_switch){tid, *r};
}

static void on_cpu_switch(void *arg, pid_t tid, uint64_t mono_ns, int state, unsigned cpu)
{
    (void)arg;
    struct ct_thread *t = lookup(tid);
    struct raw_switch r = {.mono_ns = mono_ns, .cpu = cpu, .state = (uint8_t)state};
    uint64_t busy;
    r.paired = ct_swait_cpu_record(tid, cpu, state, &r.mono_ns, t ? t->last_out_ns : 0, &busy);
    if (state == CT_CPU_ON) /* at most PAIR_NS, or 65535 */
        r.moved_ns = (uint16_t)(mono_ns - r.mono_ns);
    if (state == CT_CPU_ON)
        r.busy_ns = busy;
    claim(tid, &r);
}

/* Reads the per-CPU rings (after a second try for the records that found no
 * thread before); at a generation's end drops the unclaimed older than
 * cutoff. */
static void read_cpu_rings(int count, uint64_t cutoff, bool flush, bool *busy)
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
    cover_lost += ct_perf_read_merged(cpu_rings, count, on_cpu_switch, NULL);
    /* A ring found full lost what came after; the kernel reports how much
     * with its next record (PERF_RECORD_LOST), which may never come (the
     * program ended, or nothing more ran on that CPU): one at least, so
     * that the trace says it is incomplete. */
    for (int cpu = 0; cpu < count; cpu++)
        if (cpu_rings[cpu].fd >= 0 && cpu_rings[cpu].filled + 512 >= cpu_rings[cpu].data_size)
            cover_lost++;


    for (int cpu = 0; cpu < count; cpu++)
        if (cpu_rings[cpu].fd >= 0)
            *busy |= cpu_rings[cpu].filled > cpu_rings[cpu].data_size / 4;
    if (flush && cover_lost) { /* a CPU's loss is not one thread's: the first thread's */
        struct ct_thread *t = lookup(cover_tid);
        for (struct ct_thread *o = ct_thread_first(); !t && o; o = o->all_next)
            if (atomic_load_explicit(&o->state, memory_order_acquire) == CT_THREAD_LIVE)
                t = o;
        if (t) {
            t->cpu_lost += cover_lost;
            cover_lost = 0;
        }
    }
}

/* Reads a thread's schedstat totals and appends what changed since the
 * last read, with the CPU it last ran on; for an exited thread, what
 * changed up to its exit, once. */
static void sample(struct ct_thread *t, uint64_t now, bool flush, bool exited)
{
    if (exited ? !exit_taken(t) : !flush && now - t->ss_read_ns < SAMPLE_NS)
        return;
    t->ss_read_ns = now;
    uint64_t run, wait, slices;
    if (exited) {
        run = t->ss_exit_run;
        wait = t->ss_exit_wait;
        slices = t->ss_exit_slices;
        now = exit_taken(t);
        exit_give_back(t);
    } else if (!read_schedstat(t->schedstat_fd, &run, &wait, &slices)) {
        return; /* gone */
    }
    if (run < t->ss_run_ns || wait < t->ss_wait_ns ||
        (run == t->ss_run_ns && wait == t->ss_wait_ns))
        return; /* nothing new */
    struct raw_switch *r = append(t, now);
    if (!r)
        return;
    *r = (struct raw_switch){.mono_ns = now, .cpu = exited ? t->ss_exit_cpu : read_cpu(t->stat_fd),
                             .state = 0,
                             .run_ns = run - t->ss_run_ns, .wait_ns = wait - t->ss_wait_ns,
                             .slices = slices - t->ss_slices};
    t->ss_run_ns = run;
    t->ss_wait_ns = wait;
    t->ss_slices = slices;
}

/* With the kernel's switches: reads the schedstat of each live thread
 * with switches in after a block that wait for their share of its
 * run-queue wait (every LATENCY_SAMPLE_NS, and at a generation's end),
 * before the rings are read, so that every wait the kernel counted
 * ended at a switch in whose record is read after. */
static void latency_samples(uint64_t now, bool flush)
{
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        if (atomic_load_explicit(&t->state, memory_order_acquire) != CT_THREAD_LIVE ||
            (!t->lat_pending && !t->lat_carry_ns && !t->ex_lone) ||
            (!flush && now - t->ss_read_ns < LATENCY_SAMPLE_NS))
            continue;
        bool temporary;
        int fd = latency_fd(t, &temporary);
        t->ss_pend = fd >= 0 && read_schedstat(fd, &t->ss_pend_run, &t->ss_pend_wait,
                                                &t->ss_pend_slices);
        t->ss_pend_ns = ct_mono_ns();
        t->ss_read_ns = now;
        t->ex_lone = 0;
        if (temporary && fd >= 0)
            syscall(SYS_close, fd);
    }
}

/* Gives a sampled thread's run-queue wait to its switches (sched_wait.c)
 * and keeps the sample, in time order, after the switches it covers; an
 * exited thread's last totals, which it read itself, likewise. */
static void latency_resolve(struct ct_thread *t, bool exited, bool flush)
{
    bool own = false;
    /* The totals a thread read itself at its end (its exit, or the
     * session's): at a generation's end, when its last switches, which
     * reach the rings as it ends, have surely been read. */
    uint64_t exit_ns = exit_taken(t);
    if (exit_ns && (exited || !t->ss_pend) && flush) {
        own = true; /* read by the thread itself: at its exit, or the session's end */
        t->ss_pend = true;
        t->ss_pend_ns = exit_ns;
        t->ss_pend_run = t->ss_exit_run;
        t->ss_pend_wait = t->ss_exit_wait;
        t->ss_pend_slices = t->ss_exit_slices;
        exit_give_back(t);
    }
    if (!t->ss_pend)
        return;
    t->ss_pend = false;
    if (t->ss_pend_run < t->ss_run_ns || t->ss_pend_wait < t->ss_wait_ns)
        return; /* not the same thread's totals */
    ct_sched_sort_switches(t);
    /* Off a CPU at the sample: its time on a CPU is exact there (a running
     * thread's is the kernel's as of its last tick). */
    const struct raw_switch *list = t->cpu_events;
    size_t last = t->cpu_len;
    while (last > 0 && (!list[last - 1].state || list[last - 1].mono_ns > t->ss_pend_ns))
        last--;
    bool off = last > 0 ? list[last - 1].state != CT_CPU_ON : t->last_state != CT_CPU_ON;
    if ((off || own) && t->ex_valid) {
        ct_swait_exec(t, t->ss_pend_ns, t->ss_pend_run - t->ex_run_ns, own);
    } else if (off) {
        t->ex_from = last;
    }
    if (off || own) {
        t->ex_run_ns = t->ss_pend_run;
        t->ex_valid = true;
    }
    ct_sched_sort_switches(t); /* the check may have moved switches in */
    uint64_t wait = t->ss_pend_wait - t->ss_wait_ns;
    ct_swait_share(t, t->ss_pend_ns, wait);
    if (append_to(&t->cpu_events, &t->cpu_len, &t->cpu_cap, sizeof(struct raw_switch))) {
        struct raw_switch *e = t->cpu_events;
        size_t at = t->lat_from;
        /* Beside the switches it covers, it is stamped with the last of
         * them (the time the thread's state last changed before the read):
         * a thread off a CPU at the read has its next switch in, and the
         * `woken` before it, maybe before the read, and a batch's times
         * never go back. */
        uint64_t stamp = t->ss_pend_ns;
        for (size_t k = at; k-- > 0;)
            if (e[k].state) {
                stamp = e[k].mono_ns;
                break;
            }
        memmove(e + at + 1, e + at, (t->cpu_len - at) * sizeof *e);
        e[at] = (struct raw_switch){.mono_ns = stamp, .cpu = UINT32_MAX, .state = 0,
                                    .run_ns = t->ss_pend_run - t->ss_run_ns,
                                    .wait_ns = wait,
                                    .slices = t->ss_pend_slices - t->ss_slices};
        t->cpu_len++;
        t->lat_from++;
        if (t->lat_from < t->cpu_len && e[t->lat_from].mono_ns < stamp)
            t->cpu_unsorted = true; /* the share stopped short (no memory) */
    }
    t->ss_run_ns = t->ss_pend_run;
    t->ss_wait_ns = t->ss_pend_wait;
    t->ss_slices = t->ss_pend_slices;
}

/* Keeps the per-CPU rings read while a long encoding goes on. */
static void (*keep_up)(void);

/* While a generation's switches are written: the per-CPU rings, read
 * every RINGS_DURING_FLUSH_NS. */
static struct {
    int count;
    uint64_t cutoff, read_ns;
    bool *busy;
} flush_rings;

static void read_during_flush(void)
{
    if (ct_mono_ns() - flush_rings.read_ns < RINGS_DURING_FLUSH_NS)
        return;
    read_cpu_rings(flush_rings.count, flush_rings.cutoff, false, flush_rings.busy);
    flush_rings.read_ns = ct_mono_ns();
}

static void sample_from_now(struct ct_thread *t);

/* Writer side: closes a thread's own ring (its schedstat file, if any,
 * counts against the limit instead). */
static void close_own_ring(struct ct_thread *t)
{
    ct_perf_close(&t->ring);
    __atomic_store_n(&t->ring.fd, -1, __ATOMIC_RELEASE);
    atomic_fetch_sub(&rings_open, 1);
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
    if (!auto_wanted || mode != CT_SCHED_PERF || atomic_load(&sampling))
        return false;
    if (!auto_window.from_ns || now < auto_window.from_ns) {
        auto_window.from_ns = now;
        auto_window.from_switches = switches_read;
        return false;
    }
    uint64_t span = now - auto_window.from_ns;
    if (span < AUTO_WINDOW_NS)
        return false;
    uint64_t per_s = (switches_read - auto_window.from_switches) * 1000000000u / span;
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
    if (mode != CT_SCHED_PERF || atomic_load(&sampling))
        return;
    atomic_store(&sampling, true); /* before the rings close: see thread_start */
    bool busy = false;
    if (count)
        read_cpu_rings(count, UINT64_MAX, false, &busy);
    unclaimed.len = 0; /* switches of threads never registered: none to come */
    close_cpu_rings();
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if ((state != CT_THREAD_LIVE && state != CT_THREAD_EXITED) ||
            __atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) < 0)
            continue;
        t->cpu_lost += ct_perf_read(&t->ring, on_switch, t);
        close_own_ring(t);
    }
    /* Each live thread's totals now, which its samples count from: the
     * switches read cover its time up to here, the samples from here (the
     * generation ending with them takes a while to write). */
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next)
        if (atomic_load_explicit(&t->state, memory_order_acquire) == CT_THREAD_LIVE &&
            !t->ss_sampling)
            sample_from_now(t);
}

/* A live thread of a process whose switches gave way to samples, from now
 * on: its schedstat file (the one it read its run-queue waits from, if
 * kept open) and its totals now, which its first sample counts from. */
static void sample_from_now(struct ct_thread *t)
{
    t->ss_sampling = true;
    t->lat_pending = t->lat_carry_ns = 0;
    t->ss_pend = false;
    t->ex_lone = 0;
    int fd = __atomic_load_n(&t->schedstat_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0 && !t->ss_latency_fd)
        return; /* sampled already (the kernel refused it a ring) */
    if (fd >= 0) {
        t->ss_latency_fd = false;
        atomic_fetch_sub(&latency_fds, 1);
        atomic_fetch_add(&rings_open, 1);
    } else {
        if (atomic_fetch_add(&rings_open, 1) >= rings_max) {
            atomic_fetch_sub(&rings_open, 1);
            return; /* unscheduled from here, as a thread past the limit */
        }
        fd = proc_keep(t->tid, "schedstat");
        __atomic_store_n(&t->schedstat_fd, fd, __ATOMIC_RELEASE);
        if (fd < 0) {
            atomic_fetch_sub(&rings_open, 1);
            return;
        }
    }
    if (!read_schedstat(fd, &t->ss_run_ns, &t->ss_wait_ns, &t->ss_slices)) {
        t->ss_run_ns = t->ss_wait_ns = t->ss_slices = 0;
        return;
    }
    if (t->stat_fd < 0)
        t->stat_fd = proc_keep(t->tid, "stat");
    t->ss_read_ns = ct_mono_ns();
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
        sample_from_now(t);
    t->ss_sampling = true;
}

void ct_sched_to_samples(void)
{
    if (!atomic_load(&sampling) || mode != CT_SCHED_PERF)
        return;
    mode = CT_SCHED_SCHEDSTAT;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if (state == CT_THREAD_LIVE || state == CT_THREAD_EXITED)
            to_samples(t, state == CT_THREAD_LIVE);
    }
}

bool ct_sched_collect(ct_sched_emit_fn *emit, int how, uint64_t end_ns)
{
    bool busy = false;
    bool flush = how != CT_SCHED_READ;
    uint32_t open_gen = atomic_load(&ct_g.gen); /* the one after the ending one */
    int count = atomic_load_explicit(&cpu_ring_count, memory_order_acquire);
    if (!count && !atomic_load(&enabled))
        return false; /* --sched=off: no walk of the registry every wake */
    uint64_t now = ct_mono_ns();
    uint64_t cutoff = how == CT_SCHED_LAST || !count ? UINT64_MAX : now - HOLD_NS;
    /* A switch after the generation's end, converted on its line extended,
     * would meet the next generation's line some nanoseconds off: a woken
     * there could come before the off written here. */
    if (how == CT_SCHED_FLUSH && end_ns < cutoff)
        cutoff = end_ns;
    if (mode == CT_SCHED_PERF)
        latency_samples(now, flush);
    if (count)
        read_cpu_rings(count, cutoff, flush, &busy);
    if (mode == CT_SCHED_PERF)
        ct_sched_observe_blocked(now, emit);
    flush_rings.count = count;
    flush_rings.cutoff = cutoff;
    flush_rings.read_ns = ct_mono_ns();
    flush_rings.busy = &busy;
    keep_up = count ? read_during_flush : NULL;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if (state != CT_THREAD_LIVE && state != CT_THREAD_EXITED)
            continue;
        if (!t->ss_sampling && mode == CT_SCHED_SCHEDSTAT && atomic_load(&sampling))
            to_samples(t, state == CT_THREAD_LIVE); /* registered since */
        if (__atomic_load_n(&t->ring.fd, __ATOMIC_ACQUIRE) >= 0) {
            t->cpu_lost += ct_perf_read(&t->ring, on_switch, t);
            busy |= t->ring.filled > t->ring.data_size / 4;
        } else if (t->schedstat_fd >= 0 && !t->ss_latency_fd &&
                   (mode != CT_SCHED_PERF || !t->ss_sampling)) {
            sample(t, now, flush, state == CT_THREAD_EXITED);
        }
        /* (A thread turned to samples has its first in the next generation,
         * and its totals at exit, if it exits meanwhile, there too.) */
        if (mode == CT_SCHED_PERF && !t->ss_sampling)
            latency_resolve(t, state == CT_THREAD_EXITED, flush);
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
    return busy;
}

void ct_sched_stop(void)
{
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
