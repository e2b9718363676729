/*
 * intern.c - maps a 64-bit content hash (of a string, or of a stack's frames)
 * to a small id, the same id for the same content in every thread and for
 * the life of the process, so that events carry one- or two-byte references.
 *
 * Open addressing, insert-only, lock-free: a slot is claimed by a
 * compare-and-swap of its key from 0, then given an id. A thread that finds
 * the key but not yet the id waits for the claimer, which is between two
 * instructions. The tables are mapped once, lazily committed by the kernel,
 * and filled to three quarters at most; past that, ct_intern returns 0 and
 * the event goes without the reference (counted).
 *
 * Only content hashes are stored: two different contents with one hash would
 * share an id. With 64-bit hashes that takes about 2^32 entries; the reader
 * still reports a conflicting definition if one ever happens.
 */
#include "recorder.h"

#include <sched.h>
#include <sys/mman.h>

struct ct_slot_entry {
    _Atomic uint64_t key;
    _Atomic uint32_t id;
};

struct ct_intern {
    struct ct_slot_entry *slots;
    uint64_t mask;
    uint32_t limit;
    _Atomic uint32_t next_id;
    _Atomic uint64_t full_misses;
};

struct ct_intern ct_strings, ct_stacks;

int ct_intern_init(struct ct_intern *table, unsigned log2_slots)
{
    if (table->slots)
        return 0;
    size_t n = (size_t)1 << log2_slots;
    void *mem = mmap(NULL, n * sizeof(struct ct_slot_entry), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    table->slots = mem;
    table->mask = n - 1;
    table->limit = (uint32_t)(n / 4 * 3);
    atomic_store(&table->next_id, 1);
    return 0;
}

uint32_t ct_intern(struct ct_intern *table, uint64_t key)
{
    if (key == 0)
        key = 1; /* 0 marks an empty slot */
    for (uint64_t i = key;; i++) {
        struct ct_slot_entry *s = &table->slots[i & table->mask];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == 0) {
            if (atomic_load_explicit(&table->next_id, memory_order_relaxed) > table->limit) {
                atomic_fetch_add_explicit(&table->full_misses, 1, memory_order_relaxed);
                return 0;
            }
            if (!atomic_compare_exchange_strong(&s->key, &k, key)) {
                if (k != key)
                    continue; /* another key took this slot: probe on */
            } else {
                uint32_t id = atomic_fetch_add(&table->next_id, 1);
                atomic_store_explicit(&s->id, id, memory_order_release);
                return id;
            }
        }
        if (k == key) {
            uint32_t id;
            while ((id = atomic_load_explicit(&s->id, memory_order_acquire)) == 0)
                sched_yield();
            return id;
        }
    }
}

uint64_t ct_intern_full_misses(struct ct_intern *table)
{
    return atomic_load_explicit(&table->full_misses, memory_order_relaxed);
}

/* FNV-1a with a final avalanche; strings here are short type names. */
uint64_t ct_hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325u ^ len;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h;
}
