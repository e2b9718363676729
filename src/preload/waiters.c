/*
 * waiters.c - how many traced threads wait on an object (a condvar or a
 * semaphore where glibc's own count is not read), so that the thread that
 * signals or posts it records a wake only when it can wake someone; and
 * which pipes a traced thread has read (a mark, set once), whose writes
 * record wakes; and how many traced waits on a condvar have returned.
 * Open addressing on the object's address, insert-only, lock-free; when
 * the table is full, every release of an untracked object is recorded
 * (more events, never a missed link).
 */
#include <stdatomic.h>

#include "preload.h"

#define SLOTS 4096

static struct {
    _Atomic uintptr_t key;
    _Atomic int count;
    _Atomic uint64_t left; /* traced waits that returned (ct_waiter_left) */
} table[SLOTS] CT_LARGE;

static _Atomic int overflowed;

static size_t slot_of(uintptr_t key)
{
    key *= 0x9E3779B97F4A7C15u;
    return (size_t)(key >> 52) & (SLOTS - 1);
}

/* The slot of object, claiming one if `claim`; -1 if absent or full. */
static long find(uintptr_t key, bool claim)
{
    size_t i = slot_of(key);
    for (size_t probes = 0; probes < SLOTS; probes++, i = (i + 1) & (SLOTS - 1)) {
        uintptr_t k = atomic_load_explicit(&table[i].key, memory_order_acquire);
        if (k == key)
            return (long)i;
        if (k == 0) {
            if (!claim)
                return -1;
            if (atomic_compare_exchange_strong(&table[i].key, &k, key) || k == key)
                return (long)i;
        }
    }
    return -1;
}

void ct_waiter_add(const void *object, int delta)
{
    long i = find((uintptr_t)object, true);
    if (i < 0) {
        atomic_store(&overflowed, 1);
        return;
    }
    atomic_fetch_add_explicit(&table[i].count, delta, memory_order_relaxed);
}

bool ct_has_waiters(const void *object)
{
    long i = find((uintptr_t)object, false);
    if (i < 0)
        return atomic_load_explicit(&overflowed, memory_order_relaxed) != 0;
    return atomic_load_explicit(&table[i].count, memory_order_relaxed) > 0;
}

void ct_waiter_left(const void *object)
{
    long i = find((uintptr_t)object, true);
    if (i >= 0)
        atomic_fetch_add_explicit(&table[i].left, 1, memory_order_relaxed);
}

uint64_t ct_waiters_left(const void *object)
{
    long i = find((uintptr_t)object, false);
    return i < 0 ? 0 : atomic_load_explicit(&table[i].left, memory_order_relaxed);
}

/* Marks object once: the slot is written only the first time, so that a
 * reader and a writer on two CPUs then share it read-only. */
void ct_waiter_mark(const void *object)
{
    long i = find((uintptr_t)object, true);
    if (i < 0) {
        atomic_store(&overflowed, 1);
        return;
    }
    if (atomic_load_explicit(&table[i].count, memory_order_relaxed) == 0)
        atomic_store_explicit(&table[i].count, 1, memory_order_relaxed);
}
