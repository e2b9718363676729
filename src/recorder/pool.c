/*
 * pool.c - the batches that events are written into.
 *
 * Memory is mapped a chunk (1 MiB) at a time, as threads need it, up to the
 * configured bound, and then only recycled: a fresh page costs microseconds
 * on first touch, a recycled one nothing. The first chunks are smaller
 * (64 KiB, then 192 and 768 KiB): most processes a build or a script
 * starts live milliseconds and fill a batch or two, and the kernel clears
 * every page it maps (a first chunk of 256 KiB costs a traced curl 0.1 ms
 * of CPU more than one of 64 KiB).
 * Batches move between two lists without locks:
 *   free: many threads pop, the writer pushes. A Treiber stack whose head
 *         carries a tag that changes on every update, so that a pop can
 *         never succeed on a head that was popped and pushed back (ABA).
 *   full: many threads push, the writer takes the whole list at once with an
 *         exchange and reverses it into push order. Taking everything needs
 *         no tag.
 * A thread touches these lists once per 32 KiB batch, never per event.
 */
#include "recorder.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct ct_batch *batches;
static uint32_t capacity;           /* batches the bound allows */
static _Atomic uint32_t mapped;     /* batches mapped so far */
static _Atomic uint64_t free_head;  /* tag << 32 | index + 1 */
static _Atomic uint32_t full_head;  /* index + 1 */
static _Atomic int32_t free_count; /* batches on the free list, about */
static _Atomic uint32_t in_flight;  /* chunks counted in mapped, not yet on the list */

int ct_pool_init(size_t max_bytes)
{
    if (batches)
        return 0; /* the pool outlives a session; its bound is the first's */
    uint32_t n = (uint32_t)(max_bytes / CT_BATCH_SIZE);
    n = (n + CT_CHUNK_BATCHES - 1) / CT_CHUNK_BATCHES * CT_CHUNK_BATCHES;
    if (n < CT_CHUNK_BATCHES)
        n = CT_CHUNK_BATCHES;
    /* The descriptors' pages are faulted in as chunks are mapped (a page
     * holds a hundred). */
    void *mem = mmap(NULL, n * sizeof *batches, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    batches = mem;
    capacity = n;
    return 0;
}

struct ct_batch *ct_pool_batch(uint32_t index)
{
    return &batches[index];
}

void ct_pool_put(int32_t index)
{
    uint64_t head = atomic_load_explicit(&free_head, memory_order_relaxed);
    uint64_t next;
    do {
        __atomic_store_n(&batches[index].free_next, (uint32_t)head, __ATOMIC_RELAXED);
        next = ((head >> 32) + 1) << 32 | (uint32_t)(index + 1);
    } while (!atomic_compare_exchange_weak_explicit(&free_head, &head, next,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&free_count, 1, memory_order_relaxed);
}

/* The batches of the chunk that begins at batch `first`: 2, 6, 24, then
 * CT_CHUNK_BATCHES (32) at a time. */
static uint32_t chunk_batches(uint32_t first)
{
    return first < 2 ? 2 : first < 8 ? 6 : first < 32 ? 24 : CT_CHUNK_BATCHES;
}

/* Maps one more chunk and returns one of its batches, the rest to the free
 * list; -1 when the bound is reached or the kernel refuses. */
static int32_t map_chunk(bool touch)
{
    /* A plain look first: when the pool is at its bound, every event that
     * finds no batch comes here, and must not bounce the line. */
    uint32_t first = atomic_load_explicit(&mapped, memory_order_relaxed), count;
    if (first >= capacity)
        return -1;
    atomic_fetch_add(&in_flight, 1);
    do { /* the batches [first, first + count) are this call's */
        if (first >= capacity) {
            atomic_fetch_sub(&in_flight, 1);
            return -1;
        }
        count = chunk_batches(first);
        if (count > capacity - first)
            count = capacity - first;
    } while (!atomic_compare_exchange_weak(&mapped, &first, first + count));
    /* MAP_POPULATE: the kernel faults the pages in itself, 15 times
     * cheaper here than a fault per page from user space (a 1 MiB chunk:
     * 0.2 ms against 3 ms on this VM), whether the writer maps ahead or a
     * thread on its hot path. */
    uint8_t *mem = mmap(NULL, (size_t)count * CT_BATCH_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) {
        /* The batches stay reserved, never used: giving them back would
         * hand them out again while another call maps those after them. */
        atomic_fetch_sub(&in_flight, 1);
        return -1;
    }
    for (uint32_t i = 0; i < count; i++)
        batches[first + i].mem = mem + (size_t)i * CT_BATCH_SIZE;
    if (touch) /* in case the kernel populated less: before any thread sees them */
        for (size_t off = 0; off < (size_t)count * CT_BATCH_SIZE; off += 4096)
            mem[off] = 0;
    for (uint32_t i = 1; i < count; i++)
        ct_pool_put((int32_t)(first + i));
    atomic_fetch_sub(&in_flight, 1);
    return (int32_t)first;
}

/* The free list is empty and the bound reached, but another thread (the
 * writer, mapping ahead) may be putting a chunk's batches on the list right
 * now: wait for it rather than drop events that have a batch coming. The
 * wait is bounded (a mapper stopped by the debugger, or a signal handler
 * interrupting the mapper, must not hang the program): a few hundred
 * microseconds normally, 20 ms at most. */
static bool wait_in_flight(void)
{
    for (int i = 0; i < 1000 && atomic_load(&in_flight); i++) {
        if (i < 100)
            __builtin_ia32_pause();
        else
            syscall(SYS_nanosleep, &(struct timespec){0, 20000}, NULL); /* not the interposed one */
    }
    return (uint32_t)atomic_load_explicit(&free_head, memory_order_acquire) != 0;
}

int32_t ct_pool_get(void)
{
    uint64_t head = atomic_load_explicit(&free_head, memory_order_acquire);
    for (;;) {
        uint32_t top = (uint32_t)head;
        if (top == 0) {
            int32_t index = map_chunk(false);
            if (index >= 0 || !atomic_load(&in_flight) || !wait_in_flight())
                return index;
            head = atomic_load_explicit(&free_head, memory_order_acquire);
            continue;
        }
        /* Another thread may pop this batch and push it back meanwhile,
         * writing its link: an atomic read, whose stale value the tagged
         * exchange then refuses. (A link of its own: the batch's `next`
         * is the writer's, written plainly while a thread fills it.) */
        uint64_t next = ((head >> 32) + 1) << 32 |
                        __atomic_load_n(&batches[top - 1].free_next, __ATOMIC_RELAXED);
        if (atomic_compare_exchange_weak_explicit(&free_head, &head, next,
                                                  memory_order_acquire,
                                                  memory_order_acquire)) {
            atomic_fetch_sub_explicit(&free_count, 1, memory_order_relaxed);
            return (int32_t)(top - 1);
        }
    }
}

void ct_pool_push_full(int32_t index)
{
    uint32_t head = atomic_load_explicit(&full_head, memory_order_relaxed);
    do
        __atomic_store_n(&batches[index].next, head, __ATOMIC_RELAXED);
    while (!atomic_compare_exchange_weak_explicit(&full_head, &head, (uint32_t)(index + 1),
                                                  memory_order_release,
                                                  memory_order_relaxed));
}

uint32_t ct_pool_take_full(void)
{
    uint32_t list = atomic_exchange_explicit(&full_head, 0, memory_order_acquire);
    uint32_t reversed = 0;
    while (list) {
        uint32_t next = batches[list - 1].next;
        batches[list - 1].next = reversed;
        reversed = list;
        list = next;
    }
    return reversed;
}

/* Maps and touches chunks ahead of need, from the writer thread, so that
 * threads rarely pay for fresh pages themselves: when fewer than want_free
 * batches are free, and fewer than a quarter of those mapped (a process
 * that has used a batch or two of its first 8 maps no more). */
void ct_pool_prefill(unsigned want_free)
{
    int32_t have = atomic_load_explicit(&free_count, memory_order_relaxed);
    uint32_t quarter = atomic_load_explicit(&mapped, memory_order_relaxed) / 4;
    if (quarter < want_free)
        want_free = quarter;
    while (have < (int32_t)want_free) {
        int32_t b = map_chunk(true);
        if (b < 0)
            return;
        ct_pool_put(b);
        have = atomic_load_explicit(&free_count, memory_order_relaxed);
    }
}
