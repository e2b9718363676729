/*
 * mutex_fast.c - the fast paths of pthread_mutex_lock and unlock, the
 * hottest wrappers. They only test and jump: the try, the recording and
 * resolving the real function are in locks.c, reached by tail calls. This
 * file alone is built without frame pointers, so that the two wrappers
 * have no frame: a tail call leaves the program's return address where
 * the slow path's own frame links to it, and stacks stay whole. An
 * uncontended lock and unlock pay a few instructions: the mutex's own word
 * is read first, and whether this call is traced only when it shows a
 * holder or a waiter (docs/performance.md, "A hammered mutex"); a default
 * mutex is released here, without glibc's call. So an uncontended lock or
 * unlock does not start a forked child's trace (ct_tracing_here); the
 * child's next traced call does.
 */
#include <pthread.h>

#include "preload.h"

/* Whether m looks free. glibc's trylock costs twice its lock (4.5 ns more
 * here), so a mutex whose lock word is 0 is locked directly: only a thread
 * that takes it in the instant between the look and the lock can make that
 * lock block unrecorded. Anything else tries first, and records a block
 * when the try fails. */
static inline bool mutex_looks_free(const pthread_mutex_t *m)
{
#ifdef __GLIBC__
    return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0;
#else
    (void)m;
    return false;
#endif
}

/* Whether unlocking m wakes a waiter: glibc keeps the lock word at 2 while
 * another thread may wait (FUTEX_WAITERS for PI and robust mutexes). */
static inline bool mutex_contended(const pthread_mutex_t *m)
{
#ifdef __GLIBC__
    int lock = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
    int kind = m->__data.__kind;
    if (kind & (16 | 32)) /* PTHREAD_MUTEX_ROBUST_NORMAL_NP, PTHREAD_MUTEX_PRIO_INHERIT_NP */
        return (lock & 0x80000000) != 0;
    return lock > 1;
#else
    return ct_has_waiters(m);
#endif
}

CT_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (!mutex_looks_free(m) && ct_tracing_here())
        return ct_mutex_lock_trying(m);
    __typeof__(pthread_mutex_lock) *real =
        __atomic_load_n(&real_pthread_mutex_lock, __ATOMIC_RELAXED);
    if (CT_UNLIKELY(!real))
        return ct_mutex_lock_resolving(m);
    return real(m);
}

CT_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
#ifdef __GLIBC__
    /* The default mutex (glibc's kind 0: PTHREAD_MUTEX_TIMED_NP, private,
     * no elision; what PTHREAD_MUTEX_INITIALIZER and default attributes
     * give) is released here as glibc releases it: no owner, one user less,
     * the lock word exchanged for 0, and a futex wake when it was 2 (a
     * thread may sleep on it). The word the exchange returns is the one the
     * release met, read in the same atomic operation: whether to record a
     * wake costs no read of its own (a read before the release fetched the
     * line from the other CPU's cache once more on every contended
     * handoff), and the wake recorded is the one made. */
    if (__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == 0) {
        m->__data.__owner = 0;
        m->__data.__nusers--;
        if (CT_UNLIKELY(__atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE) > 1))
            ct_mutex_released_waking(m);
        return 0;
    }
#endif
    if (CT_UNLIKELY(mutex_contended(m)) && ct_tracing_here())
        return ct_mutex_unlock_waking(m);
    __typeof__(pthread_mutex_unlock) *real =
        __atomic_load_n(&real_pthread_mutex_unlock, __ATOMIC_RELAXED);
    if (CT_UNLIKELY(!real))
        return ct_mutex_unlock_resolving(m);
    return real(m);
}
