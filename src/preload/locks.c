/*
 * locks.c - contended locks, condition variables, semaphores and barriers.
 *
 * A lock is recorded only when it blocks: the wrapper tries it first, and
 * the uncontended case costs one extra branch and the try. A block is a
 * `block` event (reason, object address, the program's stack) before the
 * real call and an `unblock` after it. The releases that wake someone are
 * `wake` events on the same object, which link the waker to the unblock it
 * caused:
 *   - a mutex: glibc keeps the lock word at 2 while another thread may wait
 *     (or sets FUTEX_WAITERS for PI and robust mutexes); unlock reads it,
 *     or, for a default mutex released in place (mutex_fast.c), sees it in
 *     the exchange that releases it;
 *   - condvars and semaphores: glibc counts their waiters (the condvar's
 *     __wrefs from bit 3, the semaphore's first word from bit 32), which
 *     signal and post read anyway; elsewhere waiters.c counts the traced
 *     waiters;
 *   - read-write locks: glibc's flags say when readers or writers sleep
 *     (__readers, __wrphase_futex, __writers_futex), which unlock reads.
 * Spinlocks and barriers record blocks, not wakes.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

CT_REAL_DEFINE(pthread_mutex_lock);
CT_REAL_DECL(pthread_mutex_trylock);
CT_REAL_DECL(pthread_mutex_timedlock);
CT_REAL_DECL(pthread_mutex_clocklock);
CT_REAL_DEFINE(pthread_mutex_unlock);
CT_REAL_DECL(pthread_rwlock_rdlock);
CT_REAL_DECL(pthread_rwlock_tryrdlock);
CT_REAL_DECL(pthread_rwlock_wrlock);
CT_REAL_DECL(pthread_rwlock_trywrlock);
CT_REAL_DECL(pthread_rwlock_timedrdlock);
CT_REAL_DECL(pthread_rwlock_timedwrlock);
CT_REAL_DECL(pthread_rwlock_clockrdlock);
CT_REAL_DECL(pthread_rwlock_clockwrlock);
CT_REAL_DECL(pthread_rwlock_unlock);
CT_REAL_DECL(pthread_spin_lock);
CT_REAL_DECL(pthread_spin_trylock);
CT_REAL_DECL(pthread_cond_wait);
CT_REAL_DECL(pthread_cond_timedwait);
CT_REAL_DECL(pthread_cond_clockwait);
CT_REAL_DECL(pthread_cond_signal);
CT_REAL_DECL(pthread_cond_broadcast);
CT_REAL_DECL(sem_wait);
CT_REAL_DECL(sem_trywait);
CT_REAL_DECL(sem_timedwait);
CT_REAL_DECL(sem_clockwait);
CT_REAL_DECL(sem_post);
CT_REAL_DECL(pthread_barrier_wait);

/* Whether a condvar, semaphore or read-write lock has a waiter, from
 * glibc's own words where their layout is known (words its signal, post
 * and unlock read anyway: no cache line of ours shared between the waiter
 * and the waker), else from waiters.c's table, which the waits keep. */
#if defined(__GLIBC__) && __SIZEOF_POINTER__ == 8
#define OWN_COUNTS 1
static bool cond_waited(const pthread_cond_t *c)
{
    /* __wrefs: the number of waiters from bit 3 (glibc 2.25 and later). */
    return __atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) >> 3 != 0;
}

/* __readers bit 2 (PTHREAD_RWLOCK_RWAITING): readers wait for a writer to
 * go, on a writer-preferring lock; bit 1 (PTHREAD_RWLOCK_FUTEX_USED) of
 * __wrphase_futex and of __writers_futex: a thread sleeps on that futex. */
static bool rwlock_waited(const pthread_rwlock_t *l)
{
    return (__atomic_load_n(&l->__data.__readers, __ATOMIC_RELAXED) & 4) ||
           (__atomic_load_n(&l->__data.__wrphase_futex, __ATOMIC_RELAXED) & 2) ||
           (__atomic_load_n(&l->__data.__writers_futex, __ATOMIC_RELAXED) & 2);
}

/* A write lock's release (__cur_writer is its holder's tid) or a read's. */
static unsigned rwlock_release(const pthread_rwlock_t *l)
{
    return __atomic_load_n(&l->__data.__cur_writer, __ATOMIC_RELAXED) ? CT_REASON_RWLOCK_WRITE
                                                                       : CT_REASON_RWLOCK_READ;
}

/* Whether a signal (or, `all`, a broadcast) of c, which has waiters, can
 * wake one that this thread's own signals have not: a producer signals on
 * every item while its consumer, woken by the first, has yet to run and
 * leave the wait, and each of those later signals wakes no one. Each
 * thread keeps, for the last condvars it signalled, how many waiters had
 * come (__wseq from bit 1: the waits begun, glibc 2.25 and later) and how
 * many at most were still there (those less the traced waits that
 * returned, waiters.c: a count never above the true one, so never fewer
 * waiters than there are); while no waiter comes, a signal past that many
 * wakes no one still unsignalled and records no wake. Another thread's
 * signals are not counted: a wake too many, never one missed. */
struct cond_memo {
    const pthread_cond_t *c;
    uint64_t arrived, waiters, signals;
};
static __thread struct cond_memo cond_memo[4] __attribute__((tls_model("initial-exec")));

static uint64_t cond_arrived(const pthread_cond_t *c)
{
    uint64_t wseq;
    __atomic_load(&((const uint64_t *)(const void *)c)[0], &wseq, __ATOMIC_RELAXED);
    return wseq >> 1;
}

static bool cond_wakes(const pthread_cond_t *c, bool all)
{
    struct cond_memo *m = &cond_memo[((uintptr_t)c >> 4) & 3];
    if (m->c == c && m->arrived == cond_arrived(c)) {
        if (m->signals >= m->waiters)
            return false;
        m->signals = all ? m->waiters : m->signals + 1;
        return true;
    }
    /* The returns first, then the arrivals: every wait counted returned
     * had begun, so the difference never falls short. */
    uint64_t left = ct_waiters_left(c), arrived = cond_arrived(c);
    uint64_t waiters = arrived >= left ? arrived - left : UINT64_MAX;
    *m = (struct cond_memo){c, arrived, waiters, all ? waiters : 1};
    return true;
}

static bool sem_waited(const sem_t *s)
{
    /* A 64-bit word first: the value, and the number of waiters from bit 32. */
    uint64_t data;
    __atomic_load(&((const uint64_t *)(const void *)s)[0], &data, __ATOMIC_RELAXED);
    return data >> 32 != 0;
}
#else
#define OWN_COUNTS 0
static bool cond_waited(const pthread_cond_t *c)
{
    return ct_has_waiters(c);
}

static bool cond_wakes(const pthread_cond_t *c, bool all)
{
    (void)c, (void)all;
    return true;
}

static bool rwlock_waited(const pthread_rwlock_t *l)
{
    return ct_has_waiters(l);
}

static unsigned rwlock_release(const pthread_rwlock_t *l)
{
    (void)l;
    return CT_REASON_RWLOCK_WRITE;
}

static bool sem_waited(const sem_t *s)
{
    return ct_has_waiters(s);
}
#endif

/* A wait, counted in waiters.c's table where glibc's count is not read. */
#define WAITING(reason, object, call)                                         \
    ({                                                                        \
        if (!OWN_COUNTS)                                                      \
            ct_waiter_add(object, 1);                                         \
        __typeof__(call) w_ = CT_BLOCKING(reason, object, call);                 \
        if (!OWN_COUNTS)                                                      \
            ct_waiter_add(object, -1);                                        \
        w_;                                                                   \
    })

/* A condvar's wait: glibc counts the waits begun, the returns are counted
 * here (cond_wakes). */
#define COND_WAITING(c, call)                                                 \
    ({                                                                        \
        __typeof__(call) cw_ = WAITING(CT_REASON_COND, c, call);              \
        if (OWN_COUNTS)                                                       \
            ct_waiter_left(c);                                                \
        cw_;                                                                  \
    })

/* A traced thread's wait for a mutex, counted (waiters.c) from before its
 * block event to its lock: the mutex's word shows a waiter to every unlock
 * after a thread leaves pthread_cond_wait, whose relock sets it whether
 * anyone waits or not, so an unlock records a wake only when a traced
 * thread waits. (A thread waiting for the mutex inside pthread_cond_wait
 * waits on the condvar, which a wake of the mutex would not end.) */
#define MUTEX_BLOCKING(m, call)                                               \
    ({                                                                        \
        ct_waiter_add(m, 1);                                                  \
        __typeof__(call) mw_ = CT_BLOCKING(CT_REASON_MUTEX, m, call);         \
        ct_waiter_add(m, -1);                                                 \
        mw_;                                                                  \
    })

/* The slow paths of the mutex wrappers (mutex_fast.c has their fast paths,
 * which reach these by tail calls). */
__attribute__((noinline, cold)) static int mutex_lock_blocking(pthread_mutex_t *m)
{
    return MUTEX_BLOCKING(m, REAL(pthread_mutex_lock)(m));
}

int ct_mutex_lock_trying(pthread_mutex_t *m)
{
    int rc = REAL(pthread_mutex_trylock)(m);
    if (CT_UNLIKELY(rc == EBUSY))
        return mutex_lock_blocking(m);
    return rc;
}

__attribute__((cold)) int ct_mutex_lock_resolving(pthread_mutex_t *m)
{
    return REAL(pthread_mutex_lock)(m);
}

/* The wake's time is taken before the release, so that it comes before
 * the woken thread's unblock; it is written after, outside the lock. */
__attribute__((cold)) int ct_mutex_unlock_waking(pthread_mutex_t *m)
{
    if (!ct_has_waiters(m))
        return REAL(pthread_mutex_unlock)(m);
    uint64_t ts = ct_now();
    int rc = REAL(pthread_mutex_unlock)(m);
    CT_RECORD(ct_ev_wake_at(CT_REASON_MUTEX, (uintptr_t)m, ts));
    return rc;
}

#ifdef __GLIBC__
__attribute__((cold)) void ct_mutex_released_waking(pthread_mutex_t *m)
{
    /* Taken before the wake: the woken thread's unblock comes after it. */
    bool traced = ct_tracing_here() && ct_has_waiters(m);
    uint64_t ts = traced ? ct_now() : 0;
    int saved = errno;
    syscall(SYS_futex, &m->__data.__lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
    if (traced)
        CT_RECORD(ct_ev_wake_at(CT_REASON_MUTEX, (uintptr_t)m, ts));
}
#endif

__attribute__((cold)) int ct_mutex_unlock_resolving(pthread_mutex_t *m)
{
    return REAL(pthread_mutex_unlock)(m);
}

CT_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_mutex_timedlock)(m, deadline);
    int rc = REAL(pthread_mutex_trylock)(m);
    if (rc != EBUSY)
        return rc;
    return MUTEX_BLOCKING(m, REAL(pthread_mutex_timedlock)(m, deadline));
}

/* glibc 2.30's clock-taking variants: what C++'s std::timed_mutex,
 * std::shared_timed_mutex and std::condition_variable::wait_for call. */
CT_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
                                      const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_mutex_clocklock)(m, clock, deadline);
    int rc = REAL(pthread_mutex_trylock)(m);
    if (rc != EBUSY)
        return rc;
    return MUTEX_BLOCKING(m, REAL(pthread_mutex_clocklock)(m, clock, deadline));
}

/* A read-write lock's wait, tried first: `call` only if the try is busy. */
#define RWLOCK(reason, try, l, call)                                          \
    ({                                                                        \
        int r_ = REAL(try)(l);                                                \
        r_ == EBUSY ? WAITING(reason, l, call) : r_;                          \
    })

CT_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    if (!ct_tracing_here())
        return REAL(pthread_rwlock_rdlock)(l);
    return RWLOCK(CT_REASON_RWLOCK_READ, pthread_rwlock_tryrdlock, l,
                  REAL(pthread_rwlock_rdlock)(l));
}

CT_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    if (!ct_tracing_here())
        return REAL(pthread_rwlock_wrlock)(l);
    return RWLOCK(CT_REASON_RWLOCK_WRITE, pthread_rwlock_trywrlock, l,
                  REAL(pthread_rwlock_wrlock)(l));
}

CT_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_rwlock_timedrdlock)(l, deadline);
    return RWLOCK(CT_REASON_RWLOCK_READ, pthread_rwlock_tryrdlock, l,
                  REAL(pthread_rwlock_timedrdlock)(l, deadline));
}

CT_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_rwlock_timedwrlock)(l, deadline);
    return RWLOCK(CT_REASON_RWLOCK_WRITE, pthread_rwlock_trywrlock, l,
                  REAL(pthread_rwlock_timedwrlock)(l, deadline));
}

CT_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock,
                                         const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_rwlock_clockrdlock)(l, clock, deadline);
    return RWLOCK(CT_REASON_RWLOCK_READ, pthread_rwlock_tryrdlock, l,
                  REAL(pthread_rwlock_clockrdlock)(l, clock, deadline));
}

CT_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock,
                                         const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_rwlock_clockwrlock)(l, clock, deadline);
    return RWLOCK(CT_REASON_RWLOCK_WRITE, pthread_rwlock_trywrlock, l,
                  REAL(pthread_rwlock_clockwrlock)(l, clock, deadline));
}

/* A write lock's release, or a read lock's, that others wait for. */
CT_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    if (!ct_tracing_here() || !rwlock_waited(l))
        return REAL(pthread_rwlock_unlock)(l);
    unsigned release = rwlock_release(l);
    uint64_t ts = ct_now();
    int rc = REAL(pthread_rwlock_unlock)(l);
    CT_RECORD(ct_ev_wake_at(release, (uintptr_t)l, ts));
    return rc;
}

CT_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
    if (!ct_tracing_here())
        return REAL(pthread_spin_lock)(l);
    int rc = REAL(pthread_spin_trylock)(l);
    if (rc != EBUSY)
        return rc;
    return CT_BLOCKING(CT_REASON_SPINLOCK, (const void *)l, REAL(pthread_spin_lock)(l));
}

CT_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (!ct_tracing_here())
        return REAL(pthread_cond_wait)(c, m);
    return COND_WAITING(c, REAL(pthread_cond_wait)(c, m));
}

CT_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_cond_timedwait)(c, m, deadline);
    return COND_WAITING(c, REAL(pthread_cond_timedwait)(c, m, deadline));
}

CT_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
                                     const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_cond_clockwait)(c, m, clock, deadline);
    return COND_WAITING(c, REAL(pthread_cond_clockwait)(c, m, clock, deadline));
}

/* A signal or broadcast with waiters can itself wait: glibc's
 * __condvar_quiesce_and_switch_g1 waits for the waiters of the group it
 * closes to leave it. Timed, and recorded as a wait on the condvar when
 * slow (a sync `syscall` event of call cond_signal or cond_broadcast);
 * without waiters it returns at once and costs nothing more. */
CT_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
    if (!ct_tracing_here() || !cond_waited(c) || !cond_wakes(c, false))
        return REAL(pthread_cond_signal)(c);
    CT_RECORD(ct_ev_wake(CT_REASON_COND, (uintptr_t)c));
    return TIMED_AS(CT_REASON_COND_SIGNAL, -1, CT_FD_OTHER, (uintptr_t)c,
                    REAL(pthread_cond_signal)(c));
}

CT_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
    if (!ct_tracing_here() || !cond_waited(c) || !cond_wakes(c, true))
        return REAL(pthread_cond_broadcast)(c);
    CT_RECORD(ct_ev_wake(CT_REASON_COND, (uintptr_t)c));
    return TIMED_AS(CT_REASON_COND_BROADCAST, -1, CT_FD_OTHER, (uintptr_t)c,
                    REAL(pthread_cond_broadcast)(c));
}

CT_EXPORT int sem_wait(sem_t *s)
{
    if (!ct_tracing_here())
        return REAL(sem_wait)(s);
    if (REAL(sem_trywait)(s) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    return WAITING(CT_REASON_SEM, s, REAL(sem_wait)(s));
}

CT_EXPORT int sem_timedwait(sem_t *s, const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(sem_timedwait)(s, deadline);
    if (REAL(sem_trywait)(s) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    return WAITING(CT_REASON_SEM, s, REAL(sem_timedwait)(s, deadline));
}

CT_EXPORT int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(sem_clockwait)(s, clock, deadline);
    if (REAL(sem_trywait)(s) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    return WAITING(CT_REASON_SEM, s, REAL(sem_clockwait)(s, clock, deadline));
}

CT_EXPORT int sem_post(sem_t *s)
{
    if (ct_tracing_here() && sem_waited(s))
        CT_RECORD(ct_ev_wake(CT_REASON_SEM, (uintptr_t)s));
    return REAL(sem_post)(s);
}

CT_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    if (!ct_tracing_here())
        return REAL(pthread_barrier_wait)(b);
    return CT_BLOCKING(CT_REASON_BARRIER, b, REAL(pthread_barrier_wait)(b));
}
