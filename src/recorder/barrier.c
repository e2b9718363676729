/*
 * barrier.c - how the writer closes a generation (writer.c): once the
 * generation number has moved on (and, with membarrier, every CPU has seen
 * it), a thread outside an event will write its next one into the next
 * generation's slot, so its slot of the closing one can be taken; a thread
 * inside an event (its seq odd) is waited for until it has left it. The
 * protocol is drawn in recorder.h.
 */
#include "barrier.h"

#include <time.h>

/* Takes a thread's slot of the closing generation, after the grace period. */
static void take_slot(struct ct_thread *t, uint32_t gen, uint32_t **tail)
{
    struct ct_slot *s = &t->slot[gen & 1];
    if (s->batch >= 0) {
        struct ct_batch *b = ct_pool_batch((uint32_t)s->batch);
        b->used = (uint32_t)(s->pos - b->mem);
        b->next = 0;
        **tail = (uint32_t)s->batch + 1;
        *tail = &b->next;
        s->batch = -1;
        s->pos = s->end = NULL;
    }
}

/* True when the thread t is outside the event it was in at the barrier
 * (seq was odd then): its seq has moved. */
static bool left_event(struct ct_thread *t)
{
    return atomic_load_explicit(&t->seq, memory_order_acquire) != t->close_seq;
}

/* Passes over the threads that were inside an event at the barrier until
 * each has left it. Events are short: first a few microseconds of
 * spinning, for threads running on other CPUs; then sleeps of 20 us, for
 * threads preempted inside one (sched_yield would give the CPU to every
 * other runnable thread first). A thread stopped inside an event for over
 * a second (a debugger, SIGSTOP to one thread) is left alone: its slot is
 * taken at a later generation's close, written late rather than taken
 * while in use. */
static void wait_outside_events(uint32_t gen, uint32_t **tail)
{
    uint64_t deadline = 0;
    for (unsigned round = 0;; round++) {
        unsigned waiting = 0;
        for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
            /* Only descriptors in use: a free one may be being claimed
             * (and cleared) by a new thread; it was never pending. */
            int state = atomic_load_explicit(&t->state, memory_order_acquire);
            if ((state != CT_THREAD_LIVE && state != CT_THREAD_EXITED) || !t->close_pending)
                continue;
            if (left_event(t)) {
                t->close_pending = false;
                take_slot(t, gen, tail);
            } else {
                waiting++;
            }
        }
        if (!waiting)
            return;
        if (round < 20) {
            for (int i = 0; i < 100; i++)
                __builtin_ia32_pause();
            continue;
        }
        uint64_t now = ct_mono_ns();
        if (!deadline) {
            deadline = now + 1000000000u;
        } else if (now > deadline) {
            for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
                int state = atomic_load_explicit(&t->state, memory_order_acquire);
                if (state == CT_THREAD_LIVE || state == CT_THREAD_EXITED)
                    t->close_pending = false;
            }
            return;
        }
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
}

uint32_t ct_barrier_close(uint32_t gen)
{
    uint32_t partials = 0, *tail = &partials;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next) {
        int state = atomic_load_explicit(&t->state, memory_order_acquire);
        if (state != CT_THREAD_LIVE && state != CT_THREAD_EXITED)
            continue;
        t->close_seq = atomic_load_explicit(&t->seq, memory_order_acquire);
        t->close_pending = t->close_seq & 1;
        if (!t->close_pending)
            take_slot(t, gen, &tail);
    }
    wait_outside_events(gen, &tail);
    return partials;
}
