/*
 * event.h - writing one event into the calling thread's batch: entering and
 * leaving the event (the protocol of recorder.h), finding room, and the
 * references to strings and stacks. Inline, because this is the hot path.
 */
#ifndef CT_EVENT_H
#define CT_EVENT_H

#include "../format/bytes.h"
#include "recorder.h"

/* Enters an event on this thread: the thread, or NULL to record nothing
 * (the thread cannot register, or a signal handler interrupted an event of
 * this same thread: that nested event is counted and dropped). */
static inline struct ct_thread *ct_enter(void)
{
    struct ct_thread *t = ct_self;
    if (CT_UNLIKELY((uintptr_t)t <= (uintptr_t)CT_THREAD_DEAD)) {
        if (t == CT_THREAD_DEAD || !(t = ct_thread_register()))
            return NULL;
    }
    uint32_t seq = atomic_load_explicit(&t->seq, memory_order_relaxed);
    if (CT_UNLIKELY(seq & 1)) {
        uint32_t n = atomic_load_explicit(&t->reentered, memory_order_relaxed);
        atomic_store_explicit(&t->reentered, n + 1, memory_order_relaxed);
        return NULL;
    }
    atomic_store_explicit(&t->seq, seq + 1, memory_order_relaxed);
    if (CT_UNLIKELY(atomic_load_explicit(&ct_g.need_fence, memory_order_relaxed)))
        atomic_thread_fence(memory_order_seq_cst);
    else
        atomic_signal_fence(memory_order_seq_cst);
    return t;
}

static inline void ct_leave(struct ct_thread *t)
{
    uint32_t seq = atomic_load_explicit(&t->seq, memory_order_relaxed);
    atomic_store_explicit(&t->seq, seq + 1, memory_order_release);
}

CT_INTERNAL struct ct_slot *ct_slot_refill(struct ct_thread *t, uint32_t gen, uint64_t ts,
                                           size_t need);

/* The slot to write into with at least `need` bytes of room, or NULL when the
 * event must be dropped (counted in the slot). */
static inline struct ct_slot *ct_slot_for(struct ct_thread *t, uint64_t ts, size_t need)
{
    /* Acquire: the writer's reset of this slot, two generations ago, is seen
     * (a plain load on x86). */
    uint32_t gen = atomic_load_explicit(&ct_g.gen, memory_order_acquire);
    struct ct_slot *s = &t->slot[gen & 1];
    if (CT_UNLIKELY(gen != t->gen || (size_t)(s->end - s->pos) < need))
        return ct_slot_refill(t, gen, ts, need);
    return s;
}

/* Makes room in the slot the thread is writing; false when dropping. */
static inline bool ct_room(struct ct_thread *t, struct ct_slot *s, uint64_t ts, size_t need)
{
    if (CT_LIKELY((size_t)(s->end - s->pos) >= need))
        return true;
    return ct_slot_refill(t, t->gen, ts, need) != NULL;
}

/* Kind byte and timestamp delta. Timestamps never go back inside a batch: a
 * TSC read that is behind the previous one (a migration between CPUs whose
 * counters differ slightly) is written as a zero delta. */
static inline uint8_t *ct_put_head(struct ct_slot *s, unsigned kind, uint64_t ts)
{
    uint8_t *p = s->pos;
    uint64_t delta = ts > s->last_ts ? ts - s->last_ts : 0;
    s->last_ts += delta;
    *p++ = (uint8_t)kind;
    return ct_put_uleb(p, delta);
}

CT_INTERNAL uint32_t ct_string_define(struct ct_thread *t, struct ct_slot *s, const char *str,
                                      uint64_t ts, struct ct_string_cache_entry *e);

/* The id of a type or category string, defining it in this thread's batch
 * the first time the thread uses it in a generation. 0 means unknown. */
static inline uint32_t ct_string_ref(struct ct_thread *t, struct ct_slot *s, const char *str,
                                     uint64_t ts)
{
    uintptr_t h = (uintptr_t)str * 0x9E3779B97F4A7C15u;
    struct ct_string_cache_entry *e = &t->strings[h >> (64 - 6)];
    if (CT_LIKELY(e->ptr == str && e->gen == t->gen))
        return e->id;
    return ct_string_define(t, s, str, ts, e);
}

CT_INTERNAL uint32_t ct_stack_define(struct ct_thread *t, struct ct_slot *s, const uintptr_t *pcs,
                                     unsigned n, uint64_t hash, uint64_t ts,
                                     struct ct_stack_cache_entry *e);

/* Walks the frame-pointer chain from the caller of the function this is
 * inlined into. Every frame must lie above the previous one and inside this
 * thread's stack, between the current frame and the stack's top, all of
 * which is mapped: a broken chain (code built without frame pointers) ends
 * the walk early, never faults. Running on another stack (a signal handler's
 * alternate stack) gives no frames. */
__attribute__((always_inline)) static inline unsigned ct_unwind(struct ct_thread *t,
                                                                uintptr_t *pcs, unsigned max)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = fp, hi = t->stack_hi;
    unsigned n = 0;
    if (fp < t->stack_lo || fp >= hi)
        return 0;
    while (n < max) {
        if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
            break;
        uintptr_t next = ((const uintptr_t *)fp)[0];
        uintptr_t ret = ((const uintptr_t *)fp)[1];
        if (ret < 4096)
            break;
        pcs[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

static inline uint64_t ct_hash_frames(const uintptr_t *pcs, unsigned n)
{
    uint64_t h = n;
    for (unsigned i = 0; i < n; i++) {
        h = (h ^ pcs[i]) * 0x9E3779B97F4A7C15u;
        h ^= h >> 31;
    }
    return h;
}

/* The stack of the API function's caller: its id, defined in this thread's
 * batch the first time it appears in a generation; 0 for none. */
__attribute__((always_inline)) static inline uint32_t ct_stack_ref(struct ct_thread *t,
                                                                   struct ct_slot *s, uint64_t ts)
{
    uintptr_t pcs[CT_MAX_FRAMES];
    unsigned n = ct_unwind(t, pcs, ct_g.max_depth);
    if (n == 0)
        return 0;
    uint64_t h = ct_hash_frames(pcs, n);
    struct ct_stack_cache_entry *e = &t->stacks[h & (CT_STACK_CACHE - 1)];
    if (CT_LIKELY(e->hash == h && e->gen == t->gen))
        return e->id;
    return ct_stack_define(t, s, pcs, n, h, ts, e);
}

#endif
