/*
 * session.c - the sessions that ctrace_start and ctrace_stop, the flight
 * recorder and the preload library open and close: one writer (writer.c)
 * serves them all, started by the first and stopped by the last; the ones
 * in between attach and detach at a generation boundary through a command
 * the writer runs.
 */
#include "ctrace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>

#include "event.h"
#include "flight.h"
#include "sched.h"
#include "recorder.h"
#include "unwind.h"
#include "writer.h"

static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static int api_sink = -1; /* the sink of ctrace_start */

/*
 * fork: the child has one thread and no writer, and the trace's fd is its
 * parent's. So the child starts clean: tracing off, the other threads'
 * descriptors free, every batch (its parent's events, written by the parent)
 * back in the pool. The session lock is held across fork, so that no
 * session starts or stops halfway through it.
 */
static void before_fork(void)
{
    pthread_mutex_lock(&session_lock);
    ct_writer_before_fork();
}

static void after_fork_parent(void)
{
    ct_writer_after_fork_parent();
    pthread_mutex_unlock(&session_lock);
}

static void after_fork_child(void)
{
    pthread_mutex_init(&session_lock, NULL);
    ct_own_after_fork_child();
    ct_unwind_after_fork_child();
    if (CTRACE_ON_())
        api_sink = -1;
    ct_writer_after_fork_child();
}

/* Fills in the defaults of c; -EINVAL when a setting is out of range. */
static int config_defaults(ctrace_config *c)
{
    if (c->buffer_bytes == 0)
        c->buffer_bytes = 64u << 20;
    if (c->generation_ns == 0)
        c->generation_ns = 1000000000u;
    if (c->generation_bytes == 0)
        c->generation_bytes = 16u << 20;
    if (c->max_stack_depth == 0)
        c->max_stack_depth = 32;
    if (c->buffer_bytes < (1u << 20) || c->max_stack_depth > CT_MAX_FRAMES ||
        c->generation_ns < 1000000u || c->sched < -1 || c->sched > 2)
        return -EINVAL;
    return 0;
}

/* Starts recording into sink 0 (fd, or none) and the flight recorder (or
 * none); session_lock held, tracing off. */
static int session_start(const ctrace_config *c, int fd, struct ctrace_flight *flight)
{
    if (ct_pool_init(c->buffer_bytes) != 0 || ct_intern_init(&ct_strings, 16) != 0 ||
        ct_intern_init(&ct_stacks, 20) != 0)
        return -ENOMEM;
    static bool first_session = true;
    if (first_session) {
        first_session = false;
        atomic_store(&ct_g.need_fence, ct_membarrier_register() != 0);
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    }
    ct_g.max_depth = c->max_stack_depth;
    ct_stack_init();
    ct_sched_enable(c->sched);
    /* A thread registered in an earlier session (or before fork) follows
     * its switches again. */
    struct ct_thread *self = ct_self;
    if ((uintptr_t)self > (uintptr_t)CT_THREAD_DEAD && self->ring.fd < 0 && self->schedstat_fd < 0)
        ct_sched_thread_start(self);
    atomic_store(&ct_g.stacks, c->stacks >= 0);
    /* No pages are touched here: the writer maps and touches batches ahead
     * of need from its first wake, off the program's threads. */
    struct ct_writer_config wc = {fd, c->generation_ns, c->generation_bytes,
                                  c->buffer_bytes / CT_BATCH_SIZE,
                                  c->counter_period_ns < 0 ? 0
                                  : c->counter_period_ns == 0 ? 10000000u
                                                              : (uint64_t)c->counter_period_ns};
    int rc = ct_writer_start(&wc, flight);
    if (rc == 0)
        __atomic_store_n(&ctrace_on_, 1, __ATOMIC_RELEASE);
    else
        ct_sched_stop();
    return rc;
}

static int check_writable(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 || (flags & O_ACCMODE) == O_RDONLY ? -EBADF : 0;
}

int ct_session_attach(int fd, const ctrace_config *config)
{
    ctrace_config c = config ? *config : (ctrace_config){0};
    int rc = config_defaults(&c);
    if (rc == 0)
        rc = check_writable(fd);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&session_lock);
    if (!ct_writer_running()) {
        rc = session_start(&c, fd, NULL);
        goto out;
    }
    rc = -EBUSY;
    for (int i = 0; i < CT_MAX_SINKS; i++)
        if (ct_writer_sink_fd(i) < 0) {
            ct_writer_command(CT_CMD_ATTACH, i, fd, NULL);
            rc = ct_writer_sink_error(i) ? -ct_writer_sink_error(i) : i;
            if (rc < 0)
                ct_writer_command(CT_CMD_DETACH, i, -1, NULL);
            break;
        }
out:
    pthread_mutex_unlock(&session_lock);
    return rc;
}

void ct_session_detach(int sink)
{
    pthread_mutex_lock(&session_lock);
    if (ct_writer_running() && sink >= 0 && sink < CT_MAX_SINKS && ct_writer_sink_fd(sink) >= 0) {
        bool alone = !ct_flight_current();
        for (int i = 0; i < CT_MAX_SINKS; i++)
            if (i != sink && ct_writer_sink_fd(i) >= 0)
                alone = false;
        if (alone) {
            __atomic_store_n(&ctrace_on_, 0, __ATOMIC_RELEASE);
            ct_writer_stop(false);
        } else
            ct_writer_command(CT_CMD_DETACH, sink, -1, NULL);
    }
    pthread_mutex_unlock(&session_lock);
}

int ctrace_start_config(int fd, const ctrace_config *config)
{
    if (api_sink >= 0 && ct_writer_running() && ct_writer_sink_fd(api_sink) >= 0)
        return -EBUSY;
    int rc = ct_session_attach(fd, config);
    if (rc < 0)
        return rc;
    api_sink = rc;
    return 0;
}

int ctrace_start(int fd)
{
    return ctrace_start_config(fd, NULL);
}

void ctrace_stop(void)
{
    int sink = api_sink;
    api_sink = -1;
    if (sink >= 0)
        ct_session_detach(sink);
}

int ct_session_flight_on(struct ctrace_flight *f, const ctrace_config *config)
{
    ctrace_config c = config ? *config : (ctrace_config){0};
    int rc = config_defaults(&c);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&session_lock);
    if (!ct_writer_running()) {
        rc = session_start(&c, -1, f);
    } else if (ct_flight_current()) {
        rc = -EBUSY;
    } else {
        ct_writer_lower_generation(c.generation_ns, c.generation_bytes);
        ct_writer_command(CT_CMD_FLIGHT_ON, 0, -1, f);
    }
    pthread_mutex_unlock(&session_lock);
    return rc;
}

void ct_session_flight_off(struct ctrace_flight *f)
{
    pthread_mutex_lock(&session_lock);
    if (ct_writer_running() && ct_flight_current() == f) {
        bool others = false;
        for (int i = 0; i < CT_MAX_SINKS; i++)
            others |= ct_writer_sink_fd(i) >= 0;
        if (others) {
            ct_writer_command(CT_CMD_FLIGHT_OFF, 0, -1, NULL);
        } else {
            __atomic_store_n(&ctrace_on_, 0, __ATOMIC_RELEASE);
            ct_writer_stop(false);
        }
    }
    pthread_mutex_unlock(&session_lock);
}

int ct_writer_flight_snapshot(struct ctrace_flight *f, const struct ct_fgen **from,
                              const struct ct_fgen **to)
{
    pthread_mutex_lock(&session_lock);
    int rc = 0;
    if (ct_flight_current() == f && f)
        ct_writer_command(CT_CMD_CUT, 0, -1, NULL);
    else
        rc = -EINVAL; /* stopped, or not this process's (after fork) */
    if (rc == 0)
        ct_writer_flight_bounds(f, from, to);
    pthread_mutex_unlock(&session_lock);
    return rc;
}

void (*ct_exit_hook)(void);

void ct_session_stop_all(void)
{
    if (!CTRACE_ON_())
        return;
    if (ct_exit_hook)
        ct_exit_hook();
    /* The stopping thread's last scheduling totals, read by itself (the
     * writer's reads of a running thread's are as of its last tick). */
    struct ct_thread *self = ct_self;
    if ((uintptr_t)self > (uintptr_t)CT_THREAD_DEAD)
        ct_sched_thread_exit(self);
    pthread_mutex_lock(&session_lock);
    if (ct_writer_running()) {
        __atomic_store_n(&ctrace_on_, 0, __ATOMIC_RELEASE);
        ct_writer_stop(true);
    }
    api_sink = -1;
    pthread_mutex_unlock(&session_lock);
}

int ct_session_end_from_signal(void)
{
    if (!CTRACE_ON_())
        return 0;
    /* No lock: the thread this runs on may hold the session's. The
     * writer's barrier waits up to a second for a thread inside an event
     * (this one, should the signal have come in the middle of one). */
    __atomic_store_n(&ctrace_on_, 0, __ATOMIC_RELEASE);
    return ct_writer_finish_now(3000000000u);
}

/* A program that never calls ctrace_stop still gets a complete trace. */
__attribute__((destructor)) static void stop_at_exit(void)
{
    ct_session_stop_all();
}
