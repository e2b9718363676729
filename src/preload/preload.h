/*
 * preload.h - what every wrapper of libctrace-preload.so shares.
 *
 * A wrapper has the name and signature of the function it wraps. It calls
 * the real one through a pointer resolved once with dlsym(RTLD_NEXT), and
 * records events only when tracing is on and the thread may record: ct_busy
 * (recorder.h) is set on the tracer's own thread, on a thread that has
 * exited, and inside the recorder, whose own calls (the writer's writev, the
 * /proc reads of a thread's first event) must pass straight through. errno is what the real
 * function left; recording never changes it.
 */
#ifndef CT_PRELOAD_H
#define CT_PRELOAD_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "../recorder/recorder.h"
#include "../recorder/system.h"
#include "ctrace.h"

#define CT_EXPORT __attribute__((visibility("default")))


/* The next definition of `name` after this library; aborts with a message
 * when there is none (a libc without it). */
CT_INTERNAL void *ct_resolve(const char *name);

/* Declares the pointer to the real `name`, and REAL(name) to call it. */
#define CT_REAL_DECL(name) static __typeof__(name) *real_##name
/* The same pointer, shared by two files of this library (defined in one
 * with CT_REAL_DEFINE). */
#define CT_REAL_DECL_SHARED(name) extern CT_INTERNAL __typeof__(name) *real_##name
#define CT_REAL_DEFINE(name) __typeof__(name) *real_##name
#define REAL(name)                                                            \
    (*({                                                                      \
        __typeof__(name) *f_ = __atomic_load_n(&real_##name, __ATOMIC_RELAXED); \
        if (CT_UNLIKELY(!f_)) {                                               \
            f_ = (__typeof__(name) *)ct_resolve(#name);                       \
            __atomic_store_n(&real_##name, f_, __ATOMIC_RELAXED);             \
        }                                                                     \
        f_;                                                                   \
    }))

CT_INTERNAL extern bool ct_child_pending;
CT_INTERNAL bool ct_preload_start_pending(void);

/* The calling thread's descriptor once registered (its first event),
 * else NULL. */
static inline struct ct_thread *ct_call_self(void)
{
    struct ct_thread *t = ct_self;
    return (uintptr_t)t > (uintptr_t)CT_THREAD_DEAD ? t : NULL;
}

/* True when this call should be recorded: two loads and a branch (one
 * more with tracing off, where a forked child's trace may be pending). */
static inline bool ct_tracing_here(void)
{
    if (CT_UNLIKELY(CTRACE_ON_()))
        return ct_busy == 0;
    return CT_UNLIKELY(ct_child_pending) && ct_busy == 0 && ct_preload_start_pending();
}

/* Runs recorder code from a wrapper: guarded, errno kept. */
#define CT_RECORD(stmt)                                                       \
    do {                                                                      \
        int saved_errno_ = errno;                                             \
        ct_busy++;                                                           \
        stmt;                                                                 \
        ct_busy--;                                                           \
        errno = saved_errno_;                                                 \
    } while (0)

/* Blocks in `call` as `reason` on `object`: a block before, an unblock
 * after, recorded; the call's result. Expanded in the wrapper, so that the
 * block's stack starts at the program's frame. */
#define CT_BLOCKING(reason, object, call)                                     \
    ({                                                                        \
        ct_writer_check(true);                                                \
        CT_RECORD(ct_ev_block((reason), (uintptr_t)(object)));                \
        struct ct_thread *bself_ = ct_call_self();                            \
        if (bself_)                                                           \
            ct_call_enter(bself_, ct_now(), (reason) | CT_CALL_BLOCK, -1, 0xff); \
        __typeof__(call) b_ = (call);                                         \
        if (bself_)                                                           \
            atomic_store_explicit(&bself_->call_since, 0, memory_order_relaxed); \
        CT_RECORD(ct_ev_unblock());                                           \
        b_;                                                                   \
    })

/* Times `call`; records it as a `syscall` event of call `reason` on fd,
 * of class fd_class (evaluated only then), with object, when it took at
 * least the threshold. Expanded in the wrapper, so that the event's stack
 * starts at the program's frame. */
#define TIMED_HINT(reason, fd, fd_class, hint, object, call)                  \
    ({                                                                        \
        ct_writer_check(false);                                               \
        struct ct_thread *self_ = ct_call_self();                             \
        uint64_t t0_ = ct_now();                                              \
        if (self_)                                                            \
            ct_call_enter(self_, t0_, (reason), (fd), (hint));                \
        __typeof__(call) r_ = (call);                                         \
        if (self_)                                                            \
            atomic_store_explicit(&self_->call_since, 0, memory_order_relaxed); \
        uint64_t t1_ = ct_now();                                              \
        if (t1_ - t0_ >= ct_pconf.syscall_threshold_units)                    \
            CT_RECORD(ct_ev_syscall(t0_, t1_, (reason), (fd), (fd_class),     \
                                    (int64_t)r_, (object)));                  \
        r_;                                                                   \
    })
/* The class hint for the writer (a call in progress at a generation's
 * end): the descriptor's class if the cache knows it, never an fstat. */
#define TIMED_AS(reason, fd, fd_class, object, call)                          \
    TIMED_HINT(reason, fd, fd_class, ct_fd_class_cached(fd), object, call)
#define TIMED_ON(reason, fd, object, call) TIMED_AS(reason, fd, ct_fd_class(fd), object, call)
#define TIMED(reason, fd, call) TIMED_ON(reason, fd, 0, call)

/* Objects that traced threads are blocked on (condvars, semaphores, where
 * glibc's count is not read): their releasers record a wake only when
 * someone waits; and pipes a traced thread has read (waiters.c). */
CT_INTERNAL void ct_waiter_add(const void *object, int delta);
CT_INTERNAL bool ct_has_waiters(const void *object);
CT_INTERNAL void ct_waiter_mark(const void *object);
/* A traced wait on object returned; how many have (0 when untracked: a
 * count never above the true one). */
CT_INTERNAL void ct_waiter_left(const void *object);
CT_INTERNAL uint64_t ct_waiters_left(const void *object);

/* The mutex wrappers: their fast paths (mutex_fast.c, built without frame
 * pointers) and, reached from them by tail calls, the rest (locks.c). */
CT_REAL_DECL_SHARED(pthread_mutex_lock);
CT_REAL_DECL_SHARED(pthread_mutex_unlock);
CT_INTERNAL int ct_mutex_lock_trying(pthread_mutex_t *m);
CT_INTERNAL int ct_mutex_lock_resolving(pthread_mutex_t *m);
CT_INTERNAL int ct_mutex_unlock_waking(pthread_mutex_t *m);
/* After a default mutex's release found the word at 2: the futex wake,
 * and its event when a traced thread waits for m. */
CT_INTERNAL void ct_mutex_released_waking(pthread_mutex_t *m);
CT_INTERNAL int ct_mutex_unlock_woken(pthread_mutex_t *m);
CT_INTERNAL int ct_mutex_unlock_resolving(pthread_mutex_t *m);

/* Settings from CTRACE_* variables (init.c). */
struct ct_preload_config {
    uint64_t syscall_threshold_units; /* record a call that took this long */
};
CT_INTERNAL extern struct ct_preload_config ct_pconf;

/* True when tracing is on and the trace is this process's (not a vfork
 * parent's). */
CT_INTERNAL bool ct_preload_owns_trace(void);
/* A child or an exec'd program that is not followed because the trace is
 * not a file: says so, once (init.c). */
CT_INTERNAL void ct_preload_child_unfollowed(void);
/* fork, in the child: its own trace starts at its first wrapped call
 * other than an exec, _exit, close, dup2 or a signal's disposition
 * (ct_tracing_here): a child that only sets up and execs, as a shell's do,
 * leaves its trace to the program it execs (init.c). */
CT_INTERNAL void ct_preload_child_pending(void);
/* (ct_child_pending, ct_preload_start_pending: above, for ct_tracing_here.)
 * Whether this process is a forked child whose trace has yet to start
 * (not a vfork child of it). */
CT_INTERNAL bool ct_preload_pending_here(void);
/* exec: ends this image's trace, and marks the next image as followed. */
CT_INTERNAL void ct_preload_before_exec(const char *path);
CT_INTERNAL void ct_preload_exec_failed(void);

/* The flight recorder (flight.c): starts it, writing windows to path. */
struct ct_preload_flight {
    uint64_t age_ns, bytes; /* 0: the defaults */
    int signal;             /* that writes the window; 0: none */
    bool at_exit;
};
CT_INTERNAL bool ct_preload_flight_start(const struct ct_preload_flight *o, const char *path,
                                         const ctrace_config *trace);
/* A fatal signal, after ct_crash_flush: the window to the file. */
CT_INTERNAL void ct_preload_flight_crash(void);
/* A terminating signal, once the writer has ended: the window, whole, to
 * the file. Async-signal-safe. */
CT_INTERNAL void ct_preload_flight_final(void);
/* A terminating signal (signals.c) is about to end the program: ends
 * this process's trace first (init.c). Async-signal-safe. */
CT_INTERNAL void ct_preload_terminate(int sig);

/* The endpoint (http.c), on ADDR; hosts: the Host names it answers to
 * besides this machine's (comma-separated, "*" any; may be NULL). */
CT_INTERNAL void ct_preload_http_start(const char *addr, const char *hosts);

/* Installs the handlers of fatal and terminating signals (signals.c);
 * `claimed` (the flight recorder's signal, or 0) is left alone. */
CT_INTERNAL void ct_preload_install_signals(int claimed);

/* The class of a file descriptor, cached (io.c). */
CT_INTERNAL unsigned ct_fd_class(int fd);
/* The class if the cache knows it, else 0xff (no system call). */
CT_INTERNAL unsigned ct_fd_class_cached(int fd);
CT_INTERNAL void ct_fd_forget(int fd);
/* The identity of the pipe or eventfd fd is (a read's object), 0 for any
 * other descriptor. */
CT_INTERNAL uint64_t ct_fd_pipe(int fd);

#endif
