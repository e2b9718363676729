/*
 * perf_linux.c - a thread's own context switches, from the kernel.
 *
 * perf_event_open with a software dummy event and context_switch set gives,
 * in a ring buffer mapped into our memory, a PERF_RECORD_SWITCH each time
 * the thread goes on or off a CPU: off with PERF_RECORD_MISC_SWITCH_OUT, and
 * with ..._OUT_PREEMPT as well when it was preempted while runnable rather
 * than blocking. sample_id_all adds tid, time (CLOCK_MONOTONIC, use_clockid)
 * and CPU to every record. Linux grants this for one's own threads, user
 * space only, at perf_event_paranoid 2 without privileges.
 *
 * The ring has one producer (the kernel) and one consumer (the writer
 * thread): data_head is read with acquire, data_tail written with release.
 */
#include "../recorder/sched.h"

#include <linux/perf_event.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int ct_perf_open(struct ct_perf_ring *ring, pid_t tid, int cpu, unsigned pages)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_DUMMY;
    /* A per-CPU ring's records are all of its CPU: 24 bytes a switch
     * rather than 32, a third more switches between two reads. */
    attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | (cpu >= 0 ? 0 : PERF_SAMPLE_CPU);
    attr.sample_id_all = 1;
    attr.context_switch = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    attr.inherit = attr.inherit_thread = cpu >= 0;
    ct_own_open_begin();
    int fd = ct_own_fd((int)syscall(SYS_perf_event_open, &attr, tid, cpu, -1,
                                     PERF_FLAG_FD_CLOEXEC));
    ct_own_open_end();
    if (fd < 0)
        return -1;
    long page = sysconf(_SC_PAGESIZE);
    size_t size = (size_t)page * (pages + 1);
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        ct_own_fd_close(fd);
        return -1;
    }
    ring->base = base;
    ring->size = size;
    ring->data = (uint8_t *)base + page;
    ring->data_size = (size_t)page * pages;
    ring->cpu = cpu;
    ring->filled = 0;
    struct timespec now; /* its rate of filling, and a loss, count from here */
    clock_gettime(CLOCK_MONOTONIC, &now);
    ring->read_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    /* Last, for the writer, which may be reading the thread's ring. */
    __atomic_store_n(&ring->fd, fd, __ATOMIC_RELEASE);
    return 0;
}

void ct_perf_close(struct ct_perf_ring *ring)
{
    if (ring->base)
        munmap(ring->base, ring->size);
    if (ring->fd >= 0)
        ct_own_fd_close(ring->fd);
    ring->base = NULL;
    ring->fd = -1;
}

/* Copies n bytes at offset `at` of the ring, which may wrap. */
static void ring_copy(const struct ct_perf_ring *ring, uint64_t at, void *out, size_t n)
{
    size_t off = (size_t)(at % ring->data_size);
    size_t first = ring->data_size - off < n ? ring->data_size - off : n;
    memcpy(out, ring->data + off, first);
    memcpy((uint8_t *)out + first, ring->data, n - first);
}

/* One ring's next record, parsed (a cursor of ct_perf_read_merged). */
struct cursor {
    struct ct_perf_ring *ring;
    uint64_t tail, head;
    uint64_t time;
    uint32_t tid, cpu;
    int state;
};

/* Moves c to its ring's next switch, counting the losses on the way;
 * false at the ring's end (or at a record that cannot be, which ends it
 * too, never looping on it). Records are whole multiples of 8 bytes in a
 * ring of a power of two pages: a header never wraps, a record may, and
 * is read in place unless it does. */
static bool cursor_next(struct cursor *c, unsigned *lost)
{
    struct ct_perf_ring *ring = c->ring;
    while (c->tail < c->head) {
        size_t off = (size_t)c->tail & (ring->data_size - 1);
        struct perf_event_header h;
        memcpy(&h, ring->data + off, sizeof h);
        if (h.size < sizeof h || h.size > ring->data_size || (h.size & 7)) {
            c->head = c->tail;
            return false;
        }
        uint8_t copy[256];
        size_t n = h.size;
        const uint8_t *rec = ring->data + off;
        if (off + n > ring->data_size) {
            n = n < sizeof copy ? n : sizeof copy;
            ring_copy(ring, c->tail, copy, n);
            rec = copy;
        }
        c->tail += h.size;
        if (h.type == PERF_RECORD_SWITCH && n >= sizeof h + (ring->cpu >= 0 ? 16 : 24)) {
            /* sample_id: pid, tid (u32 each), time (u64), and on a thread's
             * own ring cpu, res (u32 each) */
            memcpy(&c->tid, rec + sizeof h + 4, 4);
            memcpy(&c->time, rec + sizeof h + 8, 8);
            if (ring->cpu >= 0)
                c->cpu = (uint32_t)ring->cpu;
            else
                memcpy(&c->cpu, rec + sizeof h + 16, 4);
            c->state = !(h.misc & PERF_RECORD_MISC_SWITCH_OUT) ? CT_CPU_ON
                       : (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) ? CT_CPU_PREEMPTED
                                                                        : CT_CPU_OFF;
            return true;
        }
        if (h.type == PERF_RECORD_LOST && n >= sizeof h + 16) {
            uint64_t count;
            memcpy(&count, rec + sizeof h + 8, 8);
            *lost += (unsigned)count;
        }
    }
    return false;
}

/* Up to this many rings are merged at once; more are merged in groups. */
#define MERGE_MAX 64

unsigned ct_perf_read_merged(struct ct_perf_ring *rings, int count, ct_perf_switch_fn *fn,
                             void *arg)
{
    unsigned lost = 0;
    for (int first = 0; first < count; first += MERGE_MAX) {
        struct cursor at[MERGE_MAX];
        int n = 0;
        for (int i = first; i < count && i < first + MERGE_MAX; i++) {
            struct ct_perf_ring *ring = &rings[i];
            if (ring->fd < 0 || !ring->base)
                continue;
            struct perf_event_mmap_page *meta = ring->base;
            at[n] = (struct cursor){.ring = ring,
                                    .head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE),
                                    .tail = meta->data_tail};
            ring->filled = (size_t)(at[n].head - at[n].tail);
            if (cursor_next(&at[n], &lost))
                n++;
            else
                __atomic_store_n(&meta->data_tail, at[n].tail, __ATOMIC_RELEASE);
        }
        /* The oldest of the rings' next switches, until all are read: each
         * ring is in time order, and so is what fn sees. */
        while (n > 0) {
            int min = 0;
            for (int i = 1; i < n; i++)
                if (at[i].time < at[min].time)
                    min = i;
            struct cursor *c = &at[min];
            fn(arg, (pid_t)c->tid, c->time, c->state, c->cpu);
            if (!cursor_next(c, &lost)) {
                struct perf_event_mmap_page *meta = c->ring->base;
                __atomic_store_n(&meta->data_tail, c->tail, __ATOMIC_RELEASE);
                at[min] = at[--n];
            }
        }
    }
    return lost;
}

unsigned ct_perf_read(struct ct_perf_ring *ring, ct_perf_switch_fn *fn, void *arg)
{
    return ct_perf_read_merged(ring, 1, fn, arg);
}
