/*
 * sched.c - the writer's side of scheduling: every thread that records
 * events opens a ring of its own context switches when it registers (one
 * file descriptor and 36 KiB each, at most a quarter of the process's
 * descriptor limit and 512 in all, so that tracing never starves the
 * program of descriptors); the writer reads the rings every wake and, at
 * each generation's end, writes each thread's switches as a batch of `cpu`
 * events: state on (running), preempted (runnable, waiting for a CPU) or off
 * (blocked or sleeping), and the CPU.
 *
 * Where the kernel refuses the ring (seccomp, perf_event_paranoid 3), the
 * fallback: each thread opens its /proc/self/task/TID/schedstat (time on
 * CPU, time runnable in the run queue, timeslices) and stat (the CPU it
 * last ran on) when it registers, reading its totals as the baseline; the
 * writer reads them again every wake, at most every 2 ms per thread, and
 * writes what changed as `sched_sample` events. Coarser than the switches:
 * the time a thread waited for a CPU is known per sample, not when. Raw
 * system calls throughout: the preload library interposes open, pread and
 * close.
 */
#include "sched.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../format/bytes.h"

#define MAX_RINGS 512
#define SAMPLE_NS 2000000u /* schedstat: at most one read per thread per 2 ms */

static _Atomic int rings_open;
static _Atomic bool enabled;
static int mode = CT_SCHED_NONE;
static struct {
    uint64_t base_units, base_mono_ns, q32;
} clock_base;

static int proc_open(pid_t tid, const char *file)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, file);
    return (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

static void proc_close(int *fd)
{
    if (*fd >= 0)
        syscall(SYS_close, *fd);
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

/* Turns scheduling on for a session if the kernel grants it: one probe on
 * the calling thread (seccomp, perf_event_paranoid 3 and containers may
 * refuse the ring; then the schedstat files, which a kernel without
 * CONFIG_SCHEDSTATS or a /proc not mounted lacks). */
void ct_sched_enable(int want)
{
    mode = CT_SCHED_NONE;
    if (want >= 0 && want != 2) {
        struct ct_perf_ring probe;
        if (ct_perf_open(&probe, 0) == 0) {
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
    atomic_store(&enabled, mode != CT_SCHED_NONE);
}

int ct_sched_mode(void)
{
    return atomic_load(&enabled) ? mode : CT_SCHED_NONE;
}

static int ring_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return MAX_RINGS;
    rlim_t quarter = rl.rlim_cur / 4;
    return quarter < MAX_RINGS ? (int)quarter : MAX_RINGS;
}

/* The schedstat fallback: the thread's two files and its totals now. */
static void schedstat_start(struct ct_thread *t)
{
    t->schedstat_fd = proc_open(t->tid, "schedstat");
    if (t->schedstat_fd < 0 ||
        !read_schedstat(t->schedstat_fd, &t->ss_run_ns, &t->ss_wait_ns, &t->ss_slices)) {
        proc_close(&t->schedstat_fd);
        return;
    }
    t->stat_fd = proc_open(t->tid, "stat");
    t->ss_read_ns = 0;
}

void ct_sched_thread_start(struct ct_thread *t)
{
    t->ring.fd = t->schedstat_fd = t->stat_fd = -1;
    if (!atomic_load(&enabled))
        return;
    if (atomic_fetch_add(&rings_open, 1) >= ring_limit()) {
        atomic_fetch_sub(&rings_open, 1);
        return;
    }
    if (mode == CT_SCHED_SCHEDSTAT)
        schedstat_start(t);
    else if (ct_perf_open(&t->ring, t->tid) != 0)
        t->ring.fd = -1;
    if (t->ring.fd < 0 && t->schedstat_fd < 0)
        atomic_fetch_sub(&rings_open, 1);
}

void ct_sched_thread_end(struct ct_thread *t)
{
    if (t->ring.fd < 0 && t->schedstat_fd < 0)
        return;
    if (t->ring.fd >= 0)
        ct_perf_close(&t->ring);
    proc_close(&t->schedstat_fd);
    proc_close(&t->stat_fd);
    atomic_fetch_sub(&rings_open, 1);
    free(t->cpu_events);
    t->cpu_events = NULL;
    t->cpu_len = t->cpu_cap = 0;
}

void ct_sched_set_clock(uint64_t base_units, uint64_t base_mono_ns, uint64_t q32)
{
    clock_base.base_units = base_units;
    clock_base.base_mono_ns = base_mono_ns;
    clock_base.q32 = q32;
}

static uint64_t units_of(uint64_t mono_ns)
{
    if (!clock_base.q32)
        return clock_base.base_units;
    __int128 d = (__int128)(int64_t)(mono_ns - clock_base.base_mono_ns) * ((__int128)1 << 32) /
                 (__int128)clock_base.q32;
    return (uint64_t)((__int128)clock_base.base_units + d);
}

/* A switch as the kernel gave it (or a schedstat sample: state 0), kept
 * until the generation's end, when its exact calibration is known. */
struct raw_switch {
    uint64_t mono_ns;
    uint32_t cpu;
    uint32_t state;
    uint64_t run_ns, wait_ns, slices; /* a sample's increments */
};

static struct raw_switch *append(struct ct_thread *t)
{
    if (t->cpu_len == t->cpu_cap) {
        size_t cap = t->cpu_cap ? t->cpu_cap * 2 : 64;
        void *raw = realloc(t->cpu_events, cap * sizeof(struct raw_switch));
        if (!raw) {
            t->cpu_lost++;
            return NULL;
        }
        t->cpu_events = raw;
        t->cpu_cap = cap;
    }
    return &((struct raw_switch *)(void *)t->cpu_events)[t->cpu_len++];
}

/* Appends a switch to the thread's pending list (writer memory). */
static void on_switch(void *arg, uint64_t mono_ns, int state, unsigned cpu)
{
    struct raw_switch *r = append(arg);
    if (r)
        *r = (struct raw_switch){.mono_ns = mono_ns, .cpu = cpu, .state = (uint32_t)state};
}

/* Reads a thread's schedstat totals and appends what changed since the
 * last read, with the CPU it last ran on. */
static void sample(struct ct_thread *t, uint64_t now, bool flush)
{
    if (!flush && now - t->ss_read_ns < SAMPLE_NS)
        return;
    t->ss_read_ns = now;
    uint64_t run, wait, slices;
    if (!read_schedstat(t->schedstat_fd, &run, &wait, &slices) || run < t->ss_run_ns ||
        wait < t->ss_wait_ns || (run == t->ss_run_ns && wait == t->ss_wait_ns))
        return; /* gone (exited), or nothing new */
    struct raw_switch *r = append(t);
    if (!r)
        return;
    *r = (struct raw_switch){.mono_ns = now, .cpu = read_cpu(t->stat_fd), .state = 0,
                             .run_ns = run - t->ss_run_ns, .wait_ns = wait - t->ss_wait_ns,
                             .slices = slices - t->ss_slices};
    t->ss_run_ns = run;
    t->ss_wait_ns = wait;
    t->ss_slices = slices;
}

/* Encodes a thread's switches as cpu events; returns the bytes (malloc'd). */
static uint8_t *encode(const struct ct_thread *t, size_t *len, uint64_t *base)
{
    uint8_t *out = malloc(t->cpu_len * (1 + 5 * CT_LEB_MAX) + 1);
    if (!out)
        return NULL;
    const struct raw_switch *raw = (const void *)t->cpu_events;
    uint8_t *p = out;
    uint64_t last = t->cpu_len ? units_of(raw[0].mono_ns) : 0;
    *base = last;
    for (size_t i = 0; i < t->cpu_len; i++) {
        uint64_t ts = units_of(raw[i].mono_ns);
        *p++ = raw[i].state ? CT_EV_CPU : CT_EV_SCHED_SAMPLE;
        p = ct_put_uleb(p, ts > last ? ts - last : 0);
        if (ts > last)
            last = ts;
        if (raw[i].state) {
            p = ct_put_uleb(p, raw[i].state);
        } else {
            p = ct_put_uleb(p, raw[i].run_ns);
            p = ct_put_uleb(p, raw[i].wait_ns);
            p = ct_put_uleb(p, raw[i].slices);
        }
        p = ct_put_uleb(p, raw[i].cpu);
    }
    *len = (size_t)(p - out);
    return out;
}

void ct_sched_collect(ct_sched_emit_fn *emit, bool flush)
{
    uint64_t now = mode == CT_SCHED_SCHEDSTAT ? ct_mono_ns() : 0;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if ((state != CT_THREAD_LIVE && state != CT_THREAD_EXITED) ||
            (t->ring.fd < 0 && t->schedstat_fd < 0))
            continue;
        if (t->ring.fd >= 0)
            t->cpu_lost += ct_perf_read(&t->ring, on_switch, t);
        else
            sample(t, now, flush);
        if (flush && (t->cpu_len || t->cpu_lost)) {
            size_t len = 0;
            uint64_t base = 0;
            uint8_t *events = t->cpu_len ? encode(t, &len, &base) : NULL;
            if (t->cpu_len && !events)
                t->cpu_lost += t->cpu_len;
            emit(t->tid, base, events, events ? len : 0, t->cpu_lost);
            free(events);
            /* Freed, not kept: the descriptor lives in mapped memory that
             * leak checkers do not scan, and a generation's worth is small. */
            free(t->cpu_events);
            t->cpu_events = NULL;
            t->cpu_len = t->cpu_cap = 0;
            t->cpu_lost = 0;
        }
    }
}
