/*
 * threads.c - the life of threads: creation (with the creator's stack and
 * the start function), start, names, join.
 *
 * pthread_create hands the new thread a small record (creator, creation
 * id, the real start function and argument), so that the new thread's first
 * event names who created it and where it starts: the analyzer groups
 * threads by start function, as go tool trace groups goroutines.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "preload.h"
#include "../recorder/sched.h"

CT_REAL_DECL(pthread_create);
CT_REAL_DECL(pthread_join);
CT_REAL_DECL(pthread_tryjoin_np);
CT_REAL_DECL(pthread_timedjoin_np);
CT_REAL_DECL(pthread_clockjoin_np);
CT_REAL_DECL(pthread_setname_np);
CT_REAL_DECL(prctl);

struct start_record {
    void *(*start)(void *);
    void *arg;
    pid_t creator;
    uint64_t create_id;
    unsigned cover; /* the creator's per-CPU rings follow the new thread */
    size_t stack_size;
    uint64_t created; /* when the real pthread_create began (0: not traced) */
    uint64_t created_ns; /* and CLOCK_MONOTONIC's then */
    char name[16]; /* the creator's, which the kernel copies to the thread */
};

static _Atomic uint64_t next_create_id = 1;

static void *thread_trampoline(void *p)
{
    struct start_record *given = p;
    if (given->stack_size) /* before the copy: r's address must not escape, */
        ct_thread_origin(given->name, given->stack_size); /* or no tail call */
    struct start_record r = *given;
    free(p);
    ct_sched_covered(r.cover, r.created_ns, r.created);
    if (ct_tracing_here())
        CT_RECORD(ct_ev_thread_start(r.creator, r.create_id, (uintptr_t)r.start, r.created));
    return r.start(r.arg);
}

/* A thread that the tracer's own code creates (libmicrohttpd's, for the
 * endpoint): it records nothing and is in no report. */
static void own_thread_ends(void *tid)
{
    ct_tracer_thread_mark((pid_t)(intptr_t)tid, false);
}

/* The start records of the tracer's own threads (the writer, the
 * endpoint's), taken from here rather than from malloc: a free() on the
 * new thread would give it a malloc arena of its own (64 MiB of address
 * space, its first pages and four system calls, and one arena fewer for
 * the program's threads), where the writer of a short process never
 * allocates at all. malloc when all are taken. */
#define OWN_RECORDS 8
static struct own_record {
    atomic_bool taken;
    struct start_record r;
} own_records[OWN_RECORDS];

static struct start_record *own_record_take(void)
{
    for (int i = 0; i < OWN_RECORDS; i++)
        if (!atomic_load_explicit(&own_records[i].taken, memory_order_relaxed) &&
            !atomic_exchange_explicit(&own_records[i].taken, true, memory_order_acquire))
            return &own_records[i].r;
    return malloc(sizeof(struct start_record));
}

static void own_record_give(struct start_record *p)
{
    for (int i = 0; i < OWN_RECORDS; i++)
        if (p == &own_records[i].r) {
            atomic_store_explicit(&own_records[i].taken, false, memory_order_release);
            return;
        }
    free(p);
}

static void *own_trampoline(void *p)
{
    struct start_record r = *(struct start_record *)p;
    own_record_give(p);
    ct_self = CT_THREAD_DEAD;
    ct_busy = 1;
    pid_t tid = ct_gettid();
    ct_tracer_thread_mark(tid, true);
    void *result;
    pthread_cleanup_push(own_thread_ends, (void *)(intptr_t)tid);
    result = r.start(r.arg);
    pthread_cleanup_pop(1);
    return result;
}

/* The size of the stack a thread made with ATTR gets; 0 when unknown. */
static size_t stack_size_of(const pthread_attr_t *attr)
{
    pthread_attr_t fallback;
    size_t size = 0;
    if (!attr) {
        if (pthread_getattr_default_np(&fallback) != 0)
            return 0;
        pthread_attr_getstacksize(&fallback, &size);
        pthread_attr_destroy(&fallback);
        return size;
    }
    pthread_attr_getstacksize(attr, &size);
    return size;
}

CT_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                             void *(*start)(void *), void *arg)
{
    if (ct_busy) {
        struct start_record *own = own_record_take();
        if (!own)
            return EAGAIN;
        *own = (struct start_record){.start = start, .arg = arg};
        int rc = REAL(pthread_create)(thread, attr, own_trampoline, own);
        if (rc != 0)
            own_record_give(own);
        return rc;
    }
    if (!ct_tracing_here())
        return REAL(pthread_create)(thread, attr, start, arg);
    if (atomic_load_explicit(&ct_writer_deferred, memory_order_relaxed))
        ct_writer_undefer(); /* a program of threads: its writer from the first */
    ct_sched_before_thread(); /* the process's first: its per-CPU rings */
    struct start_record *r;
    CT_RECORD(r = malloc(sizeof *r));
    if (!r)
        return REAL(pthread_create)(thread, attr, start, arg);
    uint64_t id = atomic_fetch_add(&next_create_id, 1), created = 0;
    CT_RECORD(created = ct_ev_thread_create(id, (uintptr_t)start)); /* registers the creator */
    struct ct_thread *self = ct_self;
    bool known = (uintptr_t)self > (uintptr_t)CT_THREAD_DEAD; /* its tid and name */
    *r = (struct start_record){.start = start,
                               .arg = arg,
                               .creator = known ? self->tid : ct_gettid(),
                               .create_id = id,
                               .cover = ct_sched_cover_token(),
                               .stack_size = known ? stack_size_of(attr) : 0,
                               .created = created,
                               .created_ns = created ? ct_mono_ns() : 0};
    if (known)
        memcpy(r->name, self->name, sizeof r->name);
    if (created) {
        /* The new thread exists, runnable, from inside the call: its wait
         * for its first run counts from here, as the kernel's does (not
         * from the thread_create event, whose stack and, for a thread's
         * first event, registration came before). */
        r->created = ct_now();
        r->created_ns = ct_mono_ns();
    }
    int rc = REAL(pthread_create)(thread, attr, thread_trampoline, r);
    if (rc != 0)
        free(r);
    return rc;
}

/* A join that waits (the thread has not ended: the try says EBUSY) is a
 * block on the thread's handle, which its end's wake names. */
#define JOINING(thread, result, call)                                         \
    ({                                                                        \
        int rc_ = REAL(pthread_tryjoin_np)(thread, result);                   \
        rc_ == EBUSY ? CT_BLOCKING(CT_REASON_JOIN, thread, call) : rc_;       \
    })

CT_EXPORT int pthread_join(pthread_t thread, void **result)
{
    if (!ct_tracing_here())
        return REAL(pthread_join)(thread, result);
    return JOINING(thread, result, REAL(pthread_join)(thread, result));
}

CT_EXPORT int pthread_timedjoin_np(pthread_t thread, void **result, const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_timedjoin_np)(thread, result, deadline);
    return JOINING(thread, result, REAL(pthread_timedjoin_np)(thread, result, deadline));
}

CT_EXPORT int pthread_clockjoin_np(pthread_t thread, void **result, clockid_t clock,
                                   const struct timespec *deadline)
{
    if (!ct_tracing_here())
        return REAL(pthread_clockjoin_np)(thread, result, clock, deadline);
    return JOINING(thread, result, REAL(pthread_clockjoin_np)(thread, result, clock, deadline));
}

CT_EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
    int rc = REAL(pthread_setname_np)(thread, name);
    if (rc == 0 && pthread_equal(thread, pthread_self())) {
        ct_thread_renamed(); /* its creator's name is not its own any more */
        if (ct_tracing_here())
            CT_RECORD(ct_ev_thread_name(name));
    }
    return rc;
}

CT_EXPORT int prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    int rc = REAL(prctl)(option, a2, a3, a4, a5);
    if (rc == 0 && option == PR_SET_NAME) {
        ct_thread_renamed();
        if (ct_tracing_here() && a2)
            CT_RECORD(ct_ev_thread_name((const char *)a2));
    }
    return rc;
}
