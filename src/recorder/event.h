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

/* A task argument: omitted when it repeats the batch's previous one (bit 6
 * of the kind byte), else its difference from that one. */
static inline uint8_t *ct_put_task(struct ct_slot *s, uint8_t *kind, uint8_t *p, uint64_t task)
{
    if (task == s->last_task) {
        *kind |= CT_KIND_SAME_TASK;
        return p;
    }
    p = ct_put_sleb(p, (int64_t)(task - s->last_task));
    s->last_task = task;
    return p;
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

/* The stack of the API function's caller: its id, defined in this thread's
 * batch the first time it appears in a generation; 0 for none. `skip` is the
 * number of frames between ct_stack_ref and the API function's caller: 1
 * when the API function calls it directly. Beyond them, leading frames in
 * this shared library's own text are left out too, so wrappers and slow
 * paths never show. Out of line, so that events without stacks do not pay
 * for its frame. */
CT_INTERNAL uint32_t ct_stack_ref(struct ct_thread *t, struct ct_slot *s, uint64_t ts,
                                  unsigned skip) __attribute__((noinline));
/* The same for the events of the LD_PRELOAD wrappers (blocking, rarer):
 * always walked with the call frame information of .eh_frame, so that code
 * built without frame pointers has whole stacks. */
CT_INTERNAL uint32_t ct_stack_ref_unwound(struct ct_thread *t, struct ct_slot *s, uint64_t ts,
                                          unsigned skip) __attribute__((noinline));
/* Finds this library's text, whose leading frames stacks leave out, and
 * maps the loaded objects for the unwinder. */
CT_INTERNAL void ct_stack_init(void);

#endif
