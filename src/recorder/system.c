/*
 * system.c - the events of system.h, through one general encoder: these are
 * rarer than annotations (a contended lock, a blocking call), so clarity
 * wins over the last nanosecond here.
 */
#include "system.h"

#include <string.h>

#include "ctrace.h"
#include "event.h"

/* Frames between ct_stack_ref_unwound and the program: its return into
 * emit's caller here, that function's return into the wrapper. */
#define SYSTEM_SKIP 2

struct args {
    uint64_t v[6];
    unsigned n;
    const void *bytes;
    size_t len;
    bool stack;
};

/* Writes one event of `kind` at time ts; the argument values in the order
 * of the kind's letters, the byte string where the kind has a 'b'. Always
 * inlined, so that the stack walk counts the same frames for every caller. */
__attribute__((always_inline)) static inline void emit(unsigned kind, uint64_t ts,
                                                       const struct args *a)
{
    struct ct_thread *t;
    if (!CTRACE_ON_() || !(t = ct_enter()))
        return;
    size_t need = CT_EVENT_RESERVE + a->len + a->n * CT_LEB_MAX;
    struct ct_slot *s = ct_slot_for(t, ts, need);
    if (s) {
        uint32_t stack = a->stack && atomic_load_explicit(&ct_g.stacks, memory_order_relaxed)
                             ? ct_stack_ref_unwound(t, s, ts, SYSTEM_SKIP)
                             : 0;
        if (ct_room(t, s, ts, need)) {
            struct args late = *a;
            if (kind == CT_EV_SYSCALL && s->last_ts > ts) {
                /* Events written during the call (a signal handler's): the
                 * batch's times never go back, so the call is written as
                 * starting after them; its end stays where it was. */
                uint64_t shift = s->last_ts - ts;
                late.v[3] = late.v[3] > shift ? late.v[3] - shift : 0;
                a = &late;
            }
            uint8_t *p = ct_put_head(s, kind | (stack ? CT_KIND_STACK : 0), ts);
            const char *letters = ct_event_table[kind].args;
            for (unsigned i = 0, v = 0; letters[i]; i++) {
                switch (letters[i]) {
                case 'k':
                    if (stack)
                        p = ct_put_uleb(p, stack);
                    break;
                case 'b':
                    p = ct_put_uleb(p, a->len);
                    memcpy(p, a->bytes, a->len);
                    p += a->len;
                    break;
                case 'i':
                    p = ct_put_sleb(p, (int64_t)a->v[v++]);
                    break;
                default:
                    p = ct_put_uleb(p, a->v[v++]);
                }
            }
            s->pos = p;
        }
    }
    ct_leave(t);
}

uint64_t ct_ev_thread_create(uint64_t create_id, uintptr_t start_fn)
{
    struct args a = {.v = {create_id, start_fn}, .n = 2, .stack = true};
    uint64_t now = ct_now();
    emit(CT_EV_THREAD_CREATE, now, &a);
    return CTRACE_ON_() ? now : 0;
}

void ct_ev_thread_start(pid_t creator, uint64_t create_id, uintptr_t start_fn, uint64_t created)
{
    uint64_t now = ct_now();
    if (created && created < now) { /* Go's runnable goroutine, before its first run */
        struct args made = {.v = {(uint64_t)creator, create_id}, .n = 2};
        emit(CT_EV_THREAD_RUNNABLE, created, &made);
    }
    struct args a = {.v = {(uint64_t)creator, create_id, start_fn}, .n = 3};
    emit(CT_EV_THREAD_START, now, &a);
}

void ct_ev_thread_name(const char *name)
{
    struct args a = {.bytes = name, .len = strnlen(name, 15)};
    emit(CT_EV_THREAD_NAME, ct_now(), &a);
    /* The thread table of an exited thread shows this name. */
    struct ct_thread *t = ct_self;
    if ((uintptr_t)t > (uintptr_t)CT_THREAD_DEAD) {
        memcpy(t->name, name, a.len);
        t->name[a.len] = 0;
    }
}

void ct_ev_block(unsigned reason, uintptr_t object)
{
    struct args a = {.v = {reason, object}, .n = 2, .stack = true};
    emit(CT_EV_BLOCK, ct_now(), &a);
}

void ct_ev_unblock(void)
{
    struct args a = {.n = 0};
    emit(CT_EV_UNBLOCK, ct_now(), &a);
}

void ct_ev_wake(unsigned reason, uintptr_t object)
{
    ct_ev_wake_at(reason, object, ct_now());
}

void ct_ev_wake_at(unsigned reason, uintptr_t object, uint64_t ts)
{
    struct args a = {.v = {reason, object}, .n = 2};
    emit(CT_EV_WAKE, ts, &a);
}

void ct_ev_syscall(uint64_t start, uint64_t end, unsigned call, int fd, unsigned fd_class,
                   int64_t result, uint64_t object)
{
    struct args a = {.v = {call, (uint64_t)(unsigned)fd, fd_class, end - start, (uint64_t)result,
                           object},
                     .n = 6,
                     .stack = true};
    emit(CT_EV_SYSCALL, start, &a);
}

void ct_ev_fork(pid_t child)
{
    struct args a = {.v = {(uint64_t)child}, .n = 1};
    emit(CT_EV_FORK, ct_now(), &a);
}

void ct_ev_exec(const char *path)
{
    struct args a = {.bytes = path, .len = strnlen(path, 4096)};
    emit(CT_EV_EXEC, ct_now(), &a);
}
