/*
 * sched_stat.c - what the kernel's per-thread totals say: a thread's
 * /proc/self/task/TID/schedstat (time on a CPU, time runnable in the run
 * queue, timeslices) and stat (the CPU it last ran on). Two uses:
 *
 * - the fallback where the kernel refuses the switches' rings, and the
 *   switches given way to samples (--sched=auto): each thread's totals are
 *   read every writer wake, at most every SAMPLE_NS, and what changed is
 *   kept as a sample (a raw_switch of state 0);
 * - beside the switches: a thread's run-queue wait after a wake-up, which
 *   the switch records do not show, read every LATENCY_SAMPLE_NS and
 *   shared out between its switches in (sched_wait.c), and its time on a
 *   CPU, which corrects where its switches in were put.
 *
 * A thread that ends reads its own last totals (its files no longer give
 * them once it is gone) and hands them to the writer. Raw system calls
 * throughout: the preload library interposes open, pread and close.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched.h"
#include "sched_raw.h"

/* With the kernel's switches, a thread's schedstat is read for its
 * run-queue wait (sched_wait.c) at most this often, and only after it
 * switched in after a block; at most LATENCY_FDS files stay open, the
 * other threads' are opened for each read. */
#define LATENCY_SAMPLE_NS 20000000u
#define LATENCY_FDS 256

int ct_sstat_open(pid_t tid, const char *file)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, file);
    return (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

/* A thread's schedstat files stay open: the tracer's own. */
static int proc_keep(pid_t tid, const char *file)
{
    ct_own_open_begin();
    int fd = ct_own_fd(ct_sstat_open(tid, file));
    ct_own_open_end();
    return fd;
}

int ct_sstat_open_once(pid_t tid, const char *file)
{
    ct_own_open_begin();
    int fd = ct_sstat_open(tid, file);
    if (fd < 0)
        ct_own_open_end();
    return fd;
}

void ct_sstat_close_once(int fd)
{
    if (fd < 0)
        return;
    syscall(SYS_close, fd);
    ct_own_open_end();
}

void ct_sstat_close(int *fd)
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
bool ct_sstat_read(int fd, uint64_t *run, uint64_t *wait, uint64_t *slices)
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

/* A thread's own last totals pass to the writer through ss_exit_*: the
 * thread fills them only while ss_exit_ns is 0 (the writer has taken the
 * last ones) and publishes them by storing ss_exit_ns; the writer reads
 * them once it sees ss_exit_ns and gives them back by storing 0. */
static uint64_t exit_taken(const struct ct_thread *t)
{
    return __atomic_load_n(&t->ss_exit_ns, __ATOMIC_ACQUIRE);
}

void ct_sstat_give_back(struct ct_thread *t)
{
    __atomic_store_n(&t->ss_exit_ns, 0, __ATOMIC_RELEASE);
}

/* The schedstat fallback: the thread's two files and its totals now. */
void ct_sstat_start(struct ct_thread *t)
{
    t->schedstat_fd = proc_keep(t->tid, "schedstat");
    if (t->schedstat_fd < 0 ||
        !ct_sstat_read(t->schedstat_fd, &t->ss_run_ns, &t->ss_wait_ns, &t->ss_slices)) {
        ct_sstat_close(&t->schedstat_fd);
        return;
    }
    t->stat_fd = proc_keep(t->tid, "stat");
    t->ss_read_ns = 0;
    ct_sstat_give_back(t);
}

/* schedstat's time on a CPU (and getrusage's) is as of the running
 * thread's last tick or switch (4 ms at HZ=250); the calling thread's CPU
 * clock is brought up to now: the later of the two. */
uint64_t ct_sstat_own_run_now(uint64_t run)
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
 * samples come every LATENCY_SAMPLE_NS), and one preempted often enough
 * to fill a ring of its own (THREAD_RING_SWITCHES) may have lost switches
 * whose time only they tell: it opens the file for its last totals. One
 * that never gave up its CPU (getrusage: no voluntary switch), or seldom,
 * costs no open. */
static int exit_fd(struct ct_thread *t, bool *temporary)
{
    *temporary = false;
    int fd = __atomic_load_n(&t->schedstat_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0 || ct_ss.mode != CT_SCHED_PERF)
        return fd;
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0 ||
        (ru.ru_nvcsw == 0 && ru.ru_nivcsw < THREAD_RING_SWITCHES / 2))
        return -1;
    *temporary = true;
    return ct_sstat_open_once(t->tid, "schedstat");
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
    bool read = ct_sstat_read(fd, &run, &wait, &slices);
    if (temporary)
        ct_sstat_close_once(fd);
    if (!read)
        return;
    run = ct_sstat_own_run_now(run);
    int cpu = sched_getcpu();
    t->ss_exit_run = run;
    t->ss_exit_wait = wait;
    t->ss_exit_slices = slices;
    t->ss_exit_cpu = cpu >= 0 ? (unsigned)cpu : UINT32_MAX;
    __atomic_store_n(&t->ss_exit_ns, ct_mono_ns(), __ATOMIC_RELEASE);
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
    if (atomic_fetch_add(&latency_fds, 1) < LATENCY_FDS && atomic_load(&ct_ss.rings_open) < ct_ss.rings_max) {
        fd = proc_keep(t->tid, "schedstat");
        if (fd >= 0) {
            t->ss_latency_fd = true;
            __atomic_store_n(&t->schedstat_fd, fd, __ATOMIC_RELEASE);
            return fd;
        }
    }
    atomic_fetch_sub(&latency_fds, 1);
    *temporary = true;
    return ct_sstat_open_once(t->tid, "schedstat");
}

void ct_sstat_latency_close(struct ct_thread *t)
{
    if (!t->ss_latency_fd)
        return;
    ct_sstat_close(&t->schedstat_fd);
    atomic_fetch_sub(&latency_fds, 1);
    t->ss_latency_fd = false;
}

/* A thread whose life in the trace began after its creation (the
 * session's first thread, one the preload did not see made): its
 * schedstat totals now, which its first period counts from. */
void ct_sstat_baseline(struct ct_thread *t)
{
    bool temporary;
    int fd = latency_fd(t, &temporary);
    uint64_t run, wait, slices;
    if (fd >= 0 && ct_sstat_read(fd, &run, &wait, &slices)) {
        t->ss_run_ns = t->tid == ct_gettid() ? ct_sstat_own_run_now(run) : run;
        t->ss_wait_ns = wait;
        t->ss_slices = slices;
    }
    if (temporary)
        ct_sstat_close_once(fd);
    t->lat_prev_state = CT_CPU_ON;
    t->lat_prev_ns = ct_mono_ns();
}

/* Reads a thread's schedstat totals and appends what changed since the
 * last read, with the CPU it last ran on; for an exited thread, what
 * changed up to its exit, once. */
void ct_sstat_sample(struct ct_thread *t, uint64_t now, bool flush, bool exited)
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
        ct_sstat_give_back(t);
    } else if (!ct_sstat_read(t->schedstat_fd, &run, &wait, &slices)) {
        return; /* gone */
    }
    if (run < t->ss_run_ns || wait < t->ss_wait_ns ||
        (run == t->ss_run_ns && wait == t->ss_wait_ns))
        return; /* nothing new */
    struct raw_switch *r = ct_sched_append(t, now);
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
void ct_sstat_latency_samples(uint64_t now, bool flush)
{
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        if (atomic_load_explicit(&t->state, memory_order_acquire) != CT_THREAD_LIVE ||
            (!t->lat_pending && !t->lat_carry_ns && !t->ex_lone) ||
            (!flush && now - t->ss_read_ns < LATENCY_SAMPLE_NS))
            continue;
        bool temporary;
        int fd = latency_fd(t, &temporary);
        t->ss_pend = fd >= 0 && ct_sstat_read(fd, &t->ss_pend_run, &t->ss_pend_wait,
                                                &t->ss_pend_slices);
        t->ss_pend_ns = ct_mono_ns();
        t->ss_read_ns = now;
        t->ex_lone = 0;
        if (temporary)
            ct_sstat_close_once(fd);
    }
}

/* Gives a sampled thread's run-queue wait to its switches (sched_wait.c)
 * and keeps the sample, in time order, after the switches it covers; an
 * exited thread's last totals, which it read itself, likewise. */
void ct_sstat_latency_resolve(struct ct_thread *t, bool exited, bool flush)
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
        ct_sstat_give_back(t);
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
    int64_t unplaced = 0; /* the kernel's run that was run-queue wait, or the reverse */
    if ((off || own) && t->ex_valid) {
        unplaced = ct_swait_exec(t, t->ss_pend_ns, t->ss_pend_run - t->ex_run_ns, own);
    } else if (off) {
        t->ex_from = last;
    }
    if (off || own) {
        t->ex_run_ns = t->ss_pend_run;
        t->ex_valid = true;
    }
    ct_sched_sort_switches(t); /* the check may have moved switches in */
    uint64_t wait = t->ss_pend_wait - t->ss_wait_ns;
    int64_t share = (int64_t)wait + unplaced;
    ct_swait_share(t, t->ss_pend_ns, share > 0 ? (uint64_t)share : 0);
    if (ct_sched_room(&t->cpu_events, &t->cpu_len, &t->cpu_cap, sizeof(struct raw_switch))) {
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
            ct_sched_unsorted(t, at); /* the share stopped short (no memory) */
    }
    t->ss_run_ns = t->ss_pend_run;
    t->ss_wait_ns = t->ss_pend_wait;
    t->ss_slices = t->ss_pend_slices;
}

/* A live thread of a process whose switches gave way to samples, from now
 * on: its schedstat file (the one it read its run-queue waits from, if
 * kept open) and its totals now, which its first sample counts from. */
void ct_sstat_sample_from_now(struct ct_thread *t)
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
        atomic_fetch_add(&ct_ss.rings_open, 1);
    } else {
        if (atomic_fetch_add(&ct_ss.rings_open, 1) >= ct_ss.rings_max) {
            atomic_fetch_sub(&ct_ss.rings_open, 1);
            return; /* unscheduled from here, as a thread past the limit */
        }
        fd = proc_keep(t->tid, "schedstat");
        __atomic_store_n(&t->schedstat_fd, fd, __ATOMIC_RELEASE);
        if (fd < 0) {
            atomic_fetch_sub(&ct_ss.rings_open, 1);
            return;
        }
    }
    if (!ct_sstat_read(fd, &t->ss_run_ns, &t->ss_wait_ns, &t->ss_slices)) {
        t->ss_run_ns = t->ss_wait_ns = t->ss_slices = 0;
        return;
    }
    if (t->stat_fd < 0)
        t->stat_fd = proc_keep(t->tid, "stat");
    t->ss_read_ns = ct_mono_ns();
}
