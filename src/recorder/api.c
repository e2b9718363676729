/*
 * api.c - the annotation API of ctrace.h: tasks, regions and logs, and the
 * slow paths of event.h (a new batch, a string or stack definition).
 *
 * Every function below starts with the same test of ctrace_on_ that the
 * header's macros inline at call sites, so that calling a function through
 * its address costs no more when tracing is off.
 */
#define CTRACE_NO_MACROS
#include "ctrace.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "sched.h"
#include "system.h"

volatile unsigned char ctrace_on_;
struct ct_state ct_g = {.gen = 1, .stacks = true, .max_depth = 32, .task_ids = 1};

/* Hands the slot's batch to the writer, takes a fresh one, and writes the
 * record of any events dropped meanwhile. NULL when no batch is free: the
 * event is counted as dropped, with its time. */
struct ct_slot *ct_slot_refill(struct ct_thread *t, uint32_t gen, uint64_t ts, size_t need)
{
    if (gen == 0)
        return NULL; /* the session is ending: record nothing more */
    if (ct_busy == 0) /* an annotation of the program's, not a wrapper's event */
        ct_writer_check(false);
    /* A thread's timestamps never go back, from batch to batch either: a
     * thread that moved to a CPU whose TSC is a little behind starts its
     * next batch at its last time. The slot last written keeps last_ts;
     * the writer never changes it. */
    uint64_t floor = t->slot[t->gen & 1].last_ts;
    if (ts < floor)
        ts = floor;
    t->gen = gen;
    if (!__atomic_load_n(&t->first_gen, __ATOMIC_RELAXED))
        __atomic_store_n(&t->first_gen, gen, __ATOMIC_RELEASE);
    struct ct_slot *s = &t->slot[gen & 1];
    if (s->batch >= 0) {
        struct ct_batch *b = ct_pool_batch((uint32_t)s->batch);
        b->used = (uint32_t)(s->pos - b->mem);
        ct_pool_push_full(s->batch);
        ct_writer_wake();
        s->batch = -1;
        s->pos = s->end = NULL;
    }
    int32_t index = need <= CT_BATCH_SIZE / 2 ? ct_pool_get() : -1;
    if (index < 0) {
        if (s->drop_count++ == 0)
            s->drop_first = ts;
        s->drop_last = ts;
        return NULL;
    }
    struct ct_batch *b = ct_pool_batch((uint32_t)index);
    b->gen = gen;
    b->tid = t->tid;
    b->base_ts = ts;
    b->used = 0;
    s->batch = index;
    s->pos = b->mem;
    s->end = b->mem + CT_BATCH_SIZE;
    s->last_ts = ts;
    s->last_task = 0;
    if (s->drop_count) {
        uint8_t *p = ct_put_head(s, CT_EV_LOST, ts);
        p = ct_put_uleb(p, s->drop_count);
        p = ct_put_uleb(p, s->drop_first);
        s->pos = ct_put_uleb(p, s->drop_last);
        atomic_fetch_add_explicit(&ct_g.batch_lost[gen & 1], s->drop_count, memory_order_relaxed);
        s->drop_count = 0;
    }
    return s;
}

uint32_t ct_string_define(struct ct_thread *t, struct ct_slot *s, const char *str, uint64_t ts,
                          struct ct_string_cache_entry *e)
{
    const char *text = str ? str : "(null)";
    size_t len = strnlen(text, CT_MAX_STRING);
    uint32_t id = ct_intern(&ct_strings, ct_hash_bytes(text, len));
    if (id == 0 || !ct_room(t, s, ts, 2 * CT_LEB_MAX + len + CT_EVENT_RESERVE))
        return 0;
    uint8_t *p = s->pos;
    *p++ = CT_EV_STRING;
    p = ct_put_uleb(p, id);
    p = ct_put_uleb(p, len);
    memcpy(p, text, len);
    s->pos = p + len;
    e->ptr = str;
    e->id = id;
    e->gen = t->gen;
    return id;
}

static uint64_t next_task_id(struct ct_thread *t)
{
    if (t->task_next == t->task_end) {
        t->task_next = atomic_fetch_add(&ct_g.task_ids, CT_TASK_ID_BLOCK);
        t->task_end = t->task_next + CT_TASK_ID_BLOCK;
    }
    return t->task_next++;
}

static inline bool stacks_on(void)
{
    return atomic_load_explicit(&ct_g.stacks, memory_order_relaxed);
}

/* Ends an event: the optional stack reference goes last. */
static inline void finish(struct ct_slot *s, uint8_t *p, uint8_t *kind, uint32_t stack)
{
    if (stack) {
        *kind |= CT_KIND_STACK;
        p = ct_put_uleb(p, stack);
    }
    s->pos = p;
}

ctrace_task(ctrace_task_begin)(ctrace_task parent, const char *type)
{
    ctrace_task task = {0};
    struct ct_thread *t;
    if (!CTRACE_ON_() || !(t = ct_enter()))
        return task;
    uint64_t ts = ct_now();
    task.id = next_task_id(t);
    struct ct_slot *s = ct_slot_for(t, ts, CT_EVENT_RESERVE);
    if (s) {
        uint32_t type_id = ct_string_ref(t, s, type, ts);
        uint32_t stack = stacks_on() ? ct_stack_ref(t, s, ts, 1) : 0;
        if (ct_room(t, s, ts, CT_EVENT_RESERVE)) {
            uint8_t *kind = s->pos;
            uint8_t *p = ct_put_head(s, CT_EV_TASK_BEGIN, ts);
            p = ct_put_task(s, kind, p, task.id);
            /* Ids are fresh, so a parent never equals its child: 0 is free
             * to mean "no parent". */
            p = ct_put_uleb(p, parent.id ? ct_zigzag((int64_t)(task.id - parent.id)) : 0);
            p = ct_put_uleb(p, type_id);
            finish(s, p, kind, stack);
        }
    }
    ct_leave(t);
    return task;
}

void(ctrace_task_end)(ctrace_task task)
{
    struct ct_thread *t;
    if (!CTRACE_ON_() || task.id == 0 || !(t = ct_enter()))
        return;
    uint64_t ts = ct_now();
    struct ct_slot *s = ct_slot_for(t, ts, CT_EVENT_RESERVE);
    if (s) {
        uint32_t stack = stacks_on() ? ct_stack_ref(t, s, ts, 1) : 0;
        if (ct_room(t, s, ts, CT_EVENT_RESERVE)) {
            uint8_t *kind = s->pos;
            uint8_t *p = ct_put_head(s, CT_EV_TASK_END, ts);
            finish(s, ct_put_task(s, kind, p, task.id), kind, stack);
        }
    }
    ct_leave(t);
}

/*
 * Regions are the most frequent annotation, so each has a fast path for the
 * common case: no stacks, a warm string cache, room in the batch, the same
 * generation as the thread's previous event. It calls nothing, so it needs
 * no saved registers. Everything else continues, inside the
 * already entered event, in an out-of-line slow path; the empty asm after
 * each call to it keeps the call from becoming a jump, so that the slow
 * path's stack walk finds the API function's frame (CT_SLOW_SKIP).
 */
#define CT_SLOW_SKIP 2
#define NO_TAIL_CALL() __asm__ volatile("" ::: "memory")

/* Every case of a region's begin; `skip` as for ct_stack_ref. */
__attribute__((always_inline)) static inline ctrace_region region_begin_any(struct ct_thread *t,
                                                                            uint64_t ts,
                                                                            ctrace_task task,
                                                                            const char *type,
                                                                            unsigned skip)
{
    ctrace_region region = {type, 0, 0};
    struct ct_slot *s = ct_slot_for(t, ts, CT_EVENT_RESERVE);
    if (s) {
        uint32_t type_id = ct_string_ref(t, s, type, ts);
        uint32_t stack = stacks_on() ? ct_stack_ref(t, s, ts, skip) : 0;
        if (ct_room(t, s, ts, CT_EVENT_RESERVE)) {
            uint8_t *kind = s->pos;
            uint8_t *p = ct_put_head(s, CT_EV_REGION_BEGIN, ts);
            p = ct_put_task(s, kind, p, task.id);
            finish(s, ct_put_uleb(p, type_id), kind, stack);
        }
    }
    /* Depth counts even when the begin was dropped, so ends still match. */
    region.depth = ++t->depth;
    ct_leave(t);
    return region;
}

__attribute__((noinline)) static ctrace_region region_begin_slow(struct ct_thread *t,
                                                                 uint64_t ts, ctrace_task task,
                                                                 const char *type)
{
    return region_begin_any(t, ts, task, type, CT_SLOW_SKIP);
}

/* The fast path's conditions: the slot to write into, or NULL. */
static inline struct ct_slot *fast_slot(struct ct_thread *t)
{
    uint32_t gen = atomic_load_explicit(&ct_g.gen, memory_order_acquire);
    struct ct_slot *s = &t->slot[gen & 1];
    if (gen != t->gen || (size_t)(s->end - s->pos) < CT_EVENT_RESERVE)
        return NULL;
    return s;
}

static inline struct ct_string_cache_entry *cached_string(struct ct_thread *t, const char *str)
{
    uintptr_t h = (uintptr_t)str * 0x9E3779B97F4A7C15u;
    struct ct_string_cache_entry *e = &t->strings[h >> (64 - 6)];
    return e->ptr == str && e->gen == t->gen ? e : NULL;
}

ctrace_region(ctrace_region_begin)(ctrace_task task, const char *type)
{
    struct ct_thread *t;
    if (!CTRACE_ON_() || !(t = ct_enter()))
        return CTRACE_NO_REGION;
    uint64_t ts = ct_now();
    if (CT_LIKELY(!stacks_on())) {
        struct ct_slot *s = fast_slot(t);
        struct ct_string_cache_entry *e = cached_string(t, type);
        if (CT_LIKELY(s && e)) {
            uint8_t *kind = s->pos;
            uint8_t *p = ct_put_head(s, CT_EV_REGION_BEGIN, ts);
            p = ct_put_task(s, kind, p, task.id);
            s->pos = ct_put_uleb(p, e->id);
            ctrace_region region = {type, ++t->depth, 0};
            ct_leave(t);
            return region;
        }
    }
    ctrace_region region = region_begin_slow(t, ts, task, type);
    NO_TAIL_CALL();
    return region;
}

__attribute__((always_inline)) static inline void region_end_any(struct ct_thread *t, uint64_t ts,
                                                                 ctrace_region region,
                                                                 bool in_order, unsigned skip)
{
    struct ct_slot *s = ct_slot_for(t, ts, CT_EVENT_RESERVE);
    if (s) {
        /* Looked up again, not carried from the begin: the region may have
         * begun in an earlier generation, whose definitions this one lacks. */
        uint32_t type_id = ct_string_ref(t, s, region.type, ts);
        uint32_t stack = stacks_on() ? ct_stack_ref(t, s, ts, skip) : 0;
        if (ct_room(t, s, ts, CT_EVENT_RESERVE)) {
            uint8_t *kind = s->pos;
            uint8_t *p = ct_put_head(s, in_order ? CT_EV_REGION_END : CT_EV_REGION_END_AT, ts);
            p = ct_put_uleb(p, type_id);
            if (!in_order)
                p = ct_put_uleb(p, region.depth);
            finish(s, p, kind, stack);
        }
    }
    ct_leave(t);
}

__attribute__((noinline)) static void region_end_slow(struct ct_thread *t, uint64_t ts,
                                                      ctrace_region region, bool in_order)
{
    region_end_any(t, ts, region, in_order, CT_SLOW_SKIP);
}

void(ctrace_region_end)(ctrace_region region)
{
    struct ct_thread *t;
    if (!CTRACE_ON_() || region.depth == 0 || !(t = ct_enter()))
        return;
    uint64_t ts = ct_now();
    bool in_order = region.depth == t->depth;
    if (t->depth > 0)
        t->depth--;
    if (CT_LIKELY(!stacks_on())) {
        struct ct_slot *s = fast_slot(t);
        struct ct_string_cache_entry *e = cached_string(t, region.type);
        if (CT_LIKELY(s && e && in_order)) {
            uint8_t *p = ct_put_head(s, CT_EV_REGION_END, ts);
            s->pos = ct_put_uleb(p, e->id);
            ct_leave(t);
            return;
        }
    }
    region_end_slow(t, ts, region, in_order);
    NO_TAIL_CALL();
}

/* Inlined into both log functions so that the stack starts at their caller. */
__attribute__((always_inline)) static inline void log_event(ctrace_task task,
                                                            const char *category,
                                                            const char *message)
{
    struct ct_thread *t;
    if (!(t = ct_enter()))
        return;
    uint64_t ts = ct_now();
    const char *text = message ? message : "";
    size_t len = strnlen(text, CTRACE_MAX_MESSAGE);
    size_t need = CT_EVENT_RESERVE + len;
    struct ct_slot *s = ct_slot_for(t, ts, need);
    if (s) {
        uint32_t cat = ct_string_ref(t, s, category, ts);
        uint32_t stack = stacks_on() ? ct_stack_ref(t, s, ts, 1) : 0;
        if (ct_room(t, s, ts, need)) {
            uint8_t *kind = s->pos;
            uint8_t *p = ct_put_head(s, CT_EV_LOG, ts);
            p = ct_put_task(s, kind, p, task.id);
            p = ct_put_uleb(p, cat);
            p = ct_put_uleb(p, len);
            memcpy(p, text, len);
            finish(s, p + len, kind, stack);
        }
    }
    ct_leave(t);
}

void(ctrace_log)(ctrace_task task, const char *category, const char *message)
{
    if (CTRACE_ON_())
        log_event(task, category, message);
}

void(ctrace_logf)(ctrace_task task, const char *category, const char *fmt, ...)
{
    if (!CTRACE_ON_())
        return;
    char buf[CTRACE_MAX_MESSAGE + 1];
    va_list ap;
    buf[0] = 0;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
    }
    log_event(task, category, buf);
}

void ctrace_set_stacks(bool on)
{
    atomic_store(&ct_g.stacks, on);
}

bool(ctrace_enabled)(void)
{
    return CTRACE_ON_() != 0;
}

/* Called from the thread-specific key's destructor when a registered thread
 * exits: records the exit and hands its batch to the writer. The descriptor
 * becomes the writer's with the release store of EXITED, the thread's last
 * access to it. */
void ct_thread_exit(struct ct_thread *t)
{
    /* Who woke a joiner: the thread it joins, as it ends. Whether one
     * waits is not known here (a wake nobody waits for links nothing). */
    if (ct_g.exit_wakes && CTRACE_ON_() && ct_busy == 0)
        ct_ev_wake(CT_REASON_JOIN, (uintptr_t)pthread_self());
    if (CTRACE_ON_() && ct_enter() == t) {
        uint64_t ts = ct_now();
        struct ct_slot *s = ct_slot_for(t, ts, CT_EVENT_RESERVE);
        if (s)
            s->pos = ct_put_head(s, CT_EV_THREAD_EXIT, ts);
        uint32_t gen = atomic_load_explicit(&ct_g.gen, memory_order_relaxed);
        s = &t->slot[gen & 1];
        if (t->gen == gen && s->batch >= 0) {
            struct ct_batch *b = ct_pool_batch((uint32_t)s->batch);
            b->used = (uint32_t)(s->pos - b->mem);
            ct_pool_push_full(s->batch);
            s->batch = -1;
            s->pos = s->end = NULL;
        }
        ct_leave(t);
    }
    ct_self = CT_THREAD_DEAD;
    ct_busy = 1;
    ct_sched_thread_exit(t);
    atomic_store_explicit(&t->state, CT_THREAD_EXITED, memory_order_release);
    uint32_t exited = atomic_fetch_add_explicit(&ct_g.exited, 1, memory_order_relaxed) + 1;
    if (exited == atomic_load_explicit(&ct_g.exit_wake_at, memory_order_relaxed))
        ct_writer_poke(); /* a burst of exits: their descriptors wait for a generation's end */
}

const char *ctrace_strerror(int error)
{
    switch (error) {
#define CTRACE_ERROR_CASE(name, value, text) case value: return text;
        CTRACE_ERRORS(CTRACE_ERROR_CASE)
#undef CTRACE_ERROR_CASE
    }
    return "unknown error";
}
