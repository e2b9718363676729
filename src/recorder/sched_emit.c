/*
 * sched_emit.c - the writer's scheduling records written out: each
 * thread's switches and samples, kept in time order (they come from
 * several CPUs' rings), converted to the trace's clock units on the
 * generation's own line and encoded as `cpu` and `sched_sample` events;
 * and the `call` events that say what a thread off a CPU is in, at a
 * generation's end. The writer's only, like sched.c, whose state these
 * read only through the thread descriptors.
 */
#include "sched.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../format/bytes.h"
#include "records.h"
#include "sched_raw.h"

/* A thread off a CPU this long with no wrapped call to say why: the
 * kernel is asked what it is blocked in (its wait channel). */
#define OBSERVE_NS 20000000u

static struct {
    uint64_t base_units, base_mono_ns, q32;
    uint64_t per_ns_q64; /* units per ns with 64 fraction bits: 2^96 / q32 */
} clock_base;

void ct_sched_set_clock(uint64_t base_units, uint64_t base_mono_ns, uint64_t q32)
{
    clock_base.base_units = base_units;
    clock_base.base_mono_ns = base_mono_ns;
    clock_base.q32 = q32;
    /* A multiplication per switch rather than a 128-bit division (a
     * generation's million switches took tens of milliseconds to convert,
     * while the rings filled). q32 is ns per unit with 32 fraction bits,
     * 2^32 or more for any clock of 4 GHz or less. */
    clock_base.per_ns_q64 =
        q32 > ((uint64_t)1 << 32) ? (uint64_t)(((unsigned __int128)1 << 96) / q32) : 0;
}

static uint64_t units_of(uint64_t mono_ns)
{
    if (!clock_base.q32)
        return clock_base.base_units;
    int64_t d = (int64_t)(mono_ns - clock_base.base_mono_ns);
    if (!clock_base.per_ns_q64) {
        __int128 q = (__int128)d * ((__int128)1 << 32) / (__int128)clock_base.q32;
        return (uint64_t)((__int128)clock_base.base_units + q);
    }
    uint64_t magnitude = d < 0 ? -(uint64_t)d : (uint64_t)d;
    uint64_t units = (uint64_t)(((unsigned __int128)magnitude * clock_base.per_ns_q64) >> 64);
    return d < 0 ? clock_base.base_units - units : clock_base.base_units + units;
}

/* The per-CPU rings are read merged (ct_perf_read_merged), so one read's
 * records come in order; only a switch that reached its ring after a read
 * began can land behind a later one of the next read, a few microseconds
 * back: an insertion sort moves those, from the first that may be out of
 * order (a pass over a generation's list is a cache miss a switch, the
 * most of the writer's work on a program that switches fast). Should it
 * have to move many, a merge sort, bottom up, does the rest. */
void ct_sched_sort_switches(struct ct_thread *t)
{
    if (!t->cpu_unsorted_at)
        return;
    struct raw_switch *a = t->cpu_events;
    size_t n = t->cpu_len, i = t->cpu_unsorted_at > 1 ? t->cpu_unsorted_at - 1 : 1;
    t->cpu_unsorted_at = 0;
    while (i < n && a[i - 1].mono_ns <= a[i].mono_ns)
        i++;
    if (i >= n)
        return;
    size_t budget = 8 * n;
    for (; i < n && budget; i++) {
        struct raw_switch r = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1].mono_ns > r.mono_ns && budget; j--, budget--)
            a[j] = a[j - 1];
        a[j] = r;
    }
    if (budget)
        return;
    struct raw_switch *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return; /* unsorted: encode clamps a time that goes back to the one before */
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t l = lo, r = mid, o = lo;
            while (l < mid && r < hi)
                tmp[o++] = a[r].mono_ns < a[l].mono_ns ? a[r++] : a[l++];
            while (l < mid)
                tmp[o++] = a[l++];
            while (r < hi)
                tmp[o++] = a[r++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
    free(tmp);
}

/* The encoded switches of one thread, in a buffer kept from generation to
 * generation: a generation's switches of a busy thread are megabytes, and
 * fresh pages for them each time cost more than the encoding. */
static struct {
    uint8_t *mem;
    size_t cap;
} encoded;
#define ENCODED_MAX_EVENT 64 /* two cpu events or one sample, at most */

/* When switch in i was woken: never before the switch before it, in this
 * batch or the last (its share of the wait is at most its time off the
 * CPU, but a switch in moved after it was given, by a later correction of
 * its execution, would put it there). */
static uint64_t woken_at(const struct ct_thread *t, const struct raw_switch *raw, size_t i)
{
    uint64_t at = raw[i].mono_ns - raw[i].woken_ns;
    uint64_t before = i > 0 ? raw[i - 1].mono_ns : t->enc_last_ns;
    /* A nanosecond after it: the same time in ns can come back from the
     * trace's clock units a nanosecond earlier in a batch of its own. */
    if (at <= before && before < raw[i].mono_ns)
        at = before + 1;
    return at;
}

/* Encodes a thread's first n switches as cpu events, a switch in after
 * a block preceded by a `woken` event where it had run-queue wait (its
 * share: sched_wait.c); returns the bytes (in `encoded`), NULL without
 * memory. keep_up (or NULL) keeps the rings read during a long one. */
static uint8_t *encode(struct ct_thread *t, size_t n, size_t *len, uint64_t *base,
                       void (*keep_up)(void))
{
    const struct raw_switch *raw = (const void *)t->cpu_events;
    size_t used = 0;
    uint64_t last = n ? units_of(raw[0].mono_ns) : 0;
    if (n && raw[0].state == CT_CPU_ON && raw[0].woken_ns)
        last = units_of(woken_at(t, raw, 0));
    if (n && last < t->created_units)
        last = t->created_units; /* and so every event: none is before the last */
    *base = last;
    for (size_t i = 0; i < n; i++) {
        if (encoded.cap - used < ENCODED_MAX_EVENT) {
            size_t cap = encoded.cap ? 2 * encoded.cap : 1u << 12;
            uint8_t *grown = realloc(encoded.mem, cap);
            if (!grown)
                return NULL;
            encoded.mem = grown;
            encoded.cap = cap;
        }
        if ((i & 0xffff) == 0xffff && keep_up)
            keep_up();
        uint8_t *p = encoded.mem + used;
        if (raw[i].state == CT_CPU_ON && raw[i].woken_ns) {
            uint64_t ts = units_of(woken_at(t, raw, i));
            *p++ = CT_EV_CPU;
            p = ct_put_uleb(p, ts > last ? ts - last : 0);
            if (ts > last)
                last = ts;
            p = ct_put_uleb(p, CT_CPU_WOKEN);
            p = ct_put_uleb(p, raw[i].cpu);
        }
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
        used = (size_t)(p - encoded.mem);
        if (raw[i].state)
            t->enc_last_ns = raw[i].mono_ns;
    }
    *len = used;
    return encoded.mem;
}

/* Switches out (off or preempted) written so far: the writer's only. */
static uint64_t switches_written;

uint64_t ct_sched_switches_written(void)
{
    return switches_written;
}

void ct_sched_emit_thread(struct ct_thread *t, ct_sched_emit_fn *emit, uint64_t cutoff, bool last,
                          void (*keep_up)(void))
{
    ct_sched_sort_switches(t);
    const struct raw_switch *raw = (const void *)t->cpu_events;
    size_t n = t->cpu_len;
    while (n && raw[n - 1].mono_ns > cutoff)
        n--;
    if (!n && !t->cpu_lost)
        return;
    for (size_t i = 0; i < n; i++)
        switches_written += raw[i].state == CT_CPU_OFF || raw[i].state == CT_CPU_PREEMPTED;
    size_t len = 0;
    uint64_t base = 0;
    uint8_t *events = n ? encode(t, n, &len, &base, keep_up) : NULL;
    if (n && !events)
        ct_sched_lost(t, n, raw[0].mono_ns, raw[n - 1].mono_ns);
    emit(t->tid, base, events, events ? len : 0, t->cpu_lost,
         t->cpu_lost ? units_of(t->lost_from_ns) : 0, t->cpu_lost ? units_of(t->lost_to_ns) : 0);
    t->cpu_lost = 0;
    if (t->lat_from < n) {
        /* Written before a sample shared the run-queue wait out (no
         * schedstat file): they go without; the next period starts after. */
        for (size_t i = t->lat_from; i < n; i++)
            if (raw[i].state) {
                t->lat_prev_state = raw[i].state;
                t->lat_prev_ns = raw[i].mono_ns;
            }
        t->lat_pending = 0;
        for (size_t i = n; i < t->cpu_len; i++)
            t->lat_pending += raw[i].state == CT_CPU_ON && raw[i - 1].state == CT_CPU_OFF;
        t->lat_from = 0;
    } else {
        t->lat_from -= n;
    }
    if (t->ex_from < n) { /* written unchecked: the next check starts after */
        t->ex_valid = false;
        t->ex_from = 0;
    } else {
        t->ex_from -= n;
    }
    if (t->cpu_unsorted_at) /* (switches read meanwhile: keep_up) */
        t->cpu_unsorted_at = t->cpu_unsorted_at > n ? t->cpu_unsorted_at - n : 1;
    t->cpu_len -= n;
    if (t->cpu_len)
        memmove(t->cpu_events, raw + n, t->cpu_len * sizeof *raw);
    if (!last && (t->cpu_len || t->cpu_cap <= 256 || n >= t->cpu_cap / 4))
        return;
    /* Freed at the last, too: the descriptor lives in mapped memory that
     * leak checkers do not scan. */
    free(t->cpu_events);
    t->cpu_len = 0;
    t->cpu_events = NULL;
    t->cpu_cap = 0;
}

void ct_sched_encoded_free(void)
{
    free(encoded.mem);
    encoded.mem = NULL;
    encoded.cap = 0;
}

/* ---- what a thread off a CPU is in ---- */

/* The class of a descriptor of this process, from fstat. */
static unsigned class_of(int fd)
{
    struct stat st;
    if (fd < 0 || syscall(SYS_fstat, fd, &st) != 0)
        return CT_FD_OTHER;
    if (S_ISSOCK(st.st_mode))
        return CT_FD_NETWORK;
    if (S_ISFIFO(st.st_mode))
        return CT_FD_PIPE;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
        return CT_FD_FILE;
    return CT_FD_OTHER;
}

/* What a kernel wait channel (the function a thread sleeps in) implies:
 * the system call, as syscalls.def numbers it, and the class of what it
 * waits on. Names differ between kernels; these are parts of them. */
static const struct {
    const char *part;
    uint32_t sysno;
    uint8_t fd_class;
} wait_channels[] = {
    {"futex", 202, CT_FD_OTHER},
    {"pipe_read", 0, CT_FD_PIPE},
    {"pipe_write", 1, CT_FD_PIPE},
    {"accept", 43, CT_FD_NETWORK},
    {"unix_stream_read", 47, CT_FD_NETWORK},
    {"unix_dgram_recv", 47, CT_FD_NETWORK},
    {"sk_wait_data", 45, CT_FD_NETWORK},
    {"wait_woken", 45, CT_FD_NETWORK}, /* a TCP read */
    {"sk_stream_wait", 44, CT_FD_NETWORK},
    {"sock_alloc_send", 44, CT_FD_NETWORK},
    {"inet_wait_for_connect", 42, CT_FD_NETWORK},
    {"epoll", 232, CT_FD_OTHER},
    {"poll_schedule_timeout", 7, CT_FD_OTHER},
    {"do_wait", 61, CT_FD_OTHER},
    {"nanosleep", 35, CT_FD_OTHER},
    {"sigtimedwait", 128, CT_FD_OTHER},
    {"sigsuspend", 130, CT_FD_OTHER},
};

/* Asks the kernel what thread t, off a CPU since its last switch out with
 * no wrapped call, is waiting in: its wait channel (/proc/self/task/TID/
 * wchan), which never waits for the thread. ("0": running, or not yet off
 * its run queue; /proc/TID/syscall, which would say the call and its
 * arguments, waits for the thread to be off its CPU and run queue, which
 * under a crowded CPU stalled the writer for tens of milliseconds.) Read
 * with ct_read_small_file: raw system calls, the program's closes held off. */
static void observe(struct ct_thread *t)
{
    char path[64], text[128];
    snprintf(path, sizeof path, "/proc/self/task/%d/wchan", (int)t->tid);
    size_t n = ct_read_small_file(path, text, sizeof text - 1);
    if (n == 0)
        return;
    text[n] = 0;
    if (strcmp(text, "0") == 0)
        return;
    t->obs_sysno = UINT32_MAX; /* a wait no call of the table names */
    t->obs_class = CT_FD_OTHER;
    for (size_t i = 0; i < sizeof wait_channels / sizeof *wait_channels; i++)
        if (strstr(text, wait_channels[i].part)) {
            t->obs_sysno = wait_channels[i].sysno;
            t->obs_class = wait_channels[i].fd_class;
            break;
        }
    t->obs_arg0 = 0;
    t->obs_since = t->last_out_ns;
    t->obs_valid = true;
}

void ct_sched_observe_blocked(uint64_t now, ct_sched_emit_fn *emit)
{
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        if (atomic_load_explicit(&t->state, memory_order_acquire) != CT_THREAD_LIVE ||
            t->last_state != CT_CPU_OFF || t->obs_valid || t->obs_checked == t->last_out_ns ||
            now < t->last_out_ns + OBSERVE_NS)
            continue;
        t->obs_checked = t->last_out_ns;
        if (!atomic_load_explicit(&t->call_since, memory_order_acquire)) {
            observe(t);
            if (t->obs_valid)
                ct_sched_mark_call(t, emit);
        }
    }
}

void ct_sched_mark_call(struct ct_thread *t, ct_sched_emit_fn *emit)
{
    uint64_t since = atomic_load_explicit(&t->call_since, memory_order_acquire);
    uint64_t call = 0, fd = UINT32_MAX, fd_class = CT_FD_OTHER, sysno = 0, object = 0, at;
    if (since && !(t->call_reason & CT_CALL_BLOCK)) {
        call = t->call_reason;
        fd = (uint32_t)t->call_fd;
        fd_class = t->call_class != 0xff ? t->call_class : class_of(t->call_fd);
        at = since;
    } else if (!since && t->obs_valid) {
        sysno = t->obs_sysno != UINT32_MAX ? t->obs_sysno + 1 : 0; /* 0: none */
        fd_class = t->obs_class;
        at = units_of(t->obs_since);
    } else {
        return;
    }
    if (at < clock_base.base_units)
        at = clock_base.base_units;
    uint8_t event[1 + 6 * CT_LEB_MAX], *p = event;
    *p++ = CT_EV_CALL;
    p = ct_put_uleb(p, 0);
    p = ct_put_uleb(p, call);
    p = ct_put_uleb(p, fd);
    p = ct_put_uleb(p, fd_class);
    p = ct_put_uleb(p, sysno);
    p = ct_put_uleb(p, object);
    emit(t->tid, at, event, (size_t)(p - event), 0, 0, 0);
}

