/*
 * sched.c - the writer's side of scheduling: every thread that records
 * events opens a ring of its own context switches when it registers (one
 * file descriptor and 36 KiB each, at most a quarter of the process's
 * descriptor limit and 512 in all, so that tracing never starves the
 * program of descriptors); the writer reads the rings every wake and, at
 * each generation's end, writes each thread's switches as a batch of `cpu`
 * events: state on (running), preempted (runnable, waiting for a CPU) or off
 * (blocked or sleeping), and the CPU.
 */
#include "sched.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../format/bytes.h"

#define MAX_RINGS 512

static _Atomic int rings_open;
static _Atomic bool enabled;
static int mode = CT_SCHED_NONE;
static struct {
    uint64_t base_units, base_mono_ns, q32;
} clock_base;

/* Turns scheduling on for a session if the kernel grants it: one probe on
 * the calling thread (seccomp, perf_event_paranoid 3 and containers may
 * refuse). */
void ct_sched_enable(bool on)
{
    mode = CT_SCHED_NONE;
    if (on) {
        struct ct_perf_ring probe;
        if (ct_perf_open(&probe, 0) == 0) {
            ct_perf_close(&probe);
            mode = CT_SCHED_PERF;
        }
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

void ct_sched_thread_start(struct ct_thread *t)
{
    t->ring.fd = -1;
    if (!atomic_load(&enabled))
        return;
    if (atomic_fetch_add(&rings_open, 1) >= ring_limit()) {
        atomic_fetch_sub(&rings_open, 1);
        return;
    }
    if (ct_perf_open(&t->ring, t->tid) != 0) {
        atomic_fetch_sub(&rings_open, 1);
        t->ring.fd = -1;
    }
}

void ct_sched_thread_end(struct ct_thread *t)
{
    if (t->ring.fd < 0)
        return;
    ct_perf_close(&t->ring);
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

/* A switch as the kernel gave it, kept until the generation's end, when
 * its exact calibration is known. */
struct raw_switch {
    uint64_t mono_ns;
    uint32_t cpu;
    uint32_t state;
};

/* Appends a switch to the thread's pending list (writer memory). */
static void on_switch(void *arg, uint64_t mono_ns, int state, unsigned cpu)
{
    struct ct_thread *t = arg;
    if (t->cpu_len == t->cpu_cap) {
        size_t cap = t->cpu_cap ? t->cpu_cap * 2 : 64;
        void *raw = realloc(t->cpu_events, cap * sizeof(struct raw_switch));
        if (!raw) {
            t->cpu_lost++;
            return;
        }
        t->cpu_events = raw;
        t->cpu_cap = cap;
    }
    ((struct raw_switch *)(void *)t->cpu_events)[t->cpu_len++] =
        (struct raw_switch){mono_ns, cpu, (uint32_t)state};
}

/* Encodes a thread's switches as cpu events; returns the bytes (malloc'd). */
static uint8_t *encode(const struct ct_thread *t, size_t *len, uint64_t *base)
{
    uint8_t *out = malloc(t->cpu_len * (1 + 3 * CT_LEB_MAX) + 1);
    if (!out)
        return NULL;
    const struct raw_switch *raw = (const void *)t->cpu_events;
    uint8_t *p = out;
    uint64_t last = t->cpu_len ? units_of(raw[0].mono_ns) : 0;
    *base = last;
    for (size_t i = 0; i < t->cpu_len; i++) {
        uint64_t ts = units_of(raw[i].mono_ns);
        *p++ = CT_EV_CPU;
        p = ct_put_uleb(p, ts > last ? ts - last : 0);
        if (ts > last)
            last = ts;
        p = ct_put_uleb(p, raw[i].state);
        p = ct_put_uleb(p, raw[i].cpu);
    }
    *len = (size_t)(p - out);
    return out;
}

void ct_sched_collect(ct_sched_emit_fn *emit, bool flush)
{
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if ((state != CT_THREAD_LIVE && state != CT_THREAD_EXITED) || t->ring.fd < 0)
            continue;
        t->cpu_lost += ct_perf_read(&t->ring, on_switch, t);
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
