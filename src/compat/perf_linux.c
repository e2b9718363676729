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
    attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
    attr.sample_id_all = 1;
    attr.context_switch = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    attr.inherit = attr.inherit_thread = cpu >= 0;
    int fd = ct_own_fd((int)syscall(SYS_perf_event_open, &attr, tid, cpu, -1,
                                     PERF_FLAG_FD_CLOEXEC));
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

unsigned ct_perf_read(struct ct_perf_ring *ring, ct_perf_switch_fn *fn, void *arg)
{
    struct perf_event_mmap_page *meta = ring->base;
    uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = meta->data_tail;
    unsigned lost = 0;
    ring->filled = (size_t)(head - tail);
    while (tail < head) {
        struct perf_event_header h;
        ring_copy(ring, tail, &h, sizeof h);
        if (h.size < sizeof h || h.size > ring->data_size)
            break; /* cannot happen; never loop on it */
        uint8_t rec[256];
        size_t n = h.size < sizeof rec ? h.size : sizeof rec;
        ring_copy(ring, tail, rec, n);
        if (h.type == PERF_RECORD_SWITCH && n >= sizeof h + 24) {
            /* sample_id: pid, tid (u32 each), time (u64), cpu, res (u32 each) */
            uint64_t time;
            uint32_t cpu, tid;
            memcpy(&tid, rec + sizeof h + 4, 4);
            memcpy(&time, rec + sizeof h + 8, 8);
            memcpy(&cpu, rec + sizeof h + 16, 4);
            int state = !(h.misc & PERF_RECORD_MISC_SWITCH_OUT) ? CT_CPU_ON
                        : (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) ? CT_CPU_PREEMPTED
                                                                         : CT_CPU_OFF;
            fn(arg, (pid_t)tid, time, state, cpu);
        } else if (h.type == PERF_RECORD_LOST && n >= sizeof h + 16) {
            uint64_t count;
            memcpy(&count, rec + sizeof h + 8, 8);
            lost += (unsigned)count;
        }
        tail += h.size;
    }
    __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
    return lost;
}
