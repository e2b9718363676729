/*
 * thread.c - the registry of threads that have recorded events.
 *
 * A thread registers on its first event: it takes a free descriptor or maps
 * new ones, learns its tid, name and stack top, and arms a thread-specific
 * key whose destructor flushes its batch when it exits. Descriptors are never
 * unmapped: the writer reads them after their thread has gone, and hands an
 * exited thread's descriptor back to the free state once its last events are
 * written (writer.c). The list only grows, by a compare-and-swap on its head.
 */
#include "recorder.h"
#include "records.h"
#include "sched.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Descriptors are mapped in blocks. The first block is small and faulted
 * in as it is touched: most processes a tracer starts (a build's
 * compilers, a shell's commands) have a thread or two, live milliseconds,
 * and touch a few of a descriptor's 18 KiB (its caches fill as it records);
 * the later ones, of a program that makes threads, are faulted in at once
 * (MAP_POPULATE, cheaper than a fault a page). */
#define DESCRIPTORS_FIRST_MAP 2
#define DESCRIPTORS_PER_MAP 16
static atomic_bool first_block_mapped;

__thread struct ct_thread *ct_self __attribute__((tls_model("initial-exec")));
__thread unsigned ct_busy __attribute__((tls_model("initial-exec")));
static __thread bool registering __attribute__((tls_model("initial-exec")));
static _Atomic(struct ct_thread *) all_threads;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* What the creator of this thread knew (ct_thread_origin): set in a thread
 * made by the preload's pthread_create before its first event, so that its
 * registration need not ask the kernel. */
static __thread struct {
    bool set;
    char name[16];
    size_t stack_size;
} origin __attribute__((tls_model("initial-exec")));

pid_t ct_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

struct ct_thread *ct_thread_first(void)
{
    return atomic_load_explicit(&all_threads, memory_order_acquire);
}

static void on_thread_exit(void *value)
{
    struct ct_thread *t = value;
    if (t && ct_self == t)
        ct_thread_exit(t);
}

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
}

/* Free descriptors: a stack under a spin lock, popped by registering
 * threads and pushed by the writer as it gives exited threads' descriptors
 * back (a scan of the registry for a free one grew with every thread that
 * exited in the generation: 3000 threads made in 0.3 s spent a third of
 * their time there). A signal handler that registers while its thread
 * holds the lock is turned away by `registering`; the writer takes no
 * signals. */
static atomic_flag free_lock = ATOMIC_FLAG_INIT;
static struct ct_thread *free_top;

static void free_lock_take(void)
{
    for (unsigned spins = 0; atomic_flag_test_and_set_explicit(&free_lock, memory_order_acquire);
         spins++) {
        if (spins < 100)
            __builtin_ia32_pause();
        else
            sched_yield(); /* the holder was preempted */
    }
}

static void free_push_locked(struct ct_thread *t)
{
    t->free_next = free_top;
    free_top = t;
}

void ct_thread_free(struct ct_thread *t)
{
    atomic_store_explicit(&t->state, CT_THREAD_FREE, memory_order_release);
    free_lock_take();
    free_push_locked(t);
    atomic_flag_clear_explicit(&free_lock, memory_order_release);
}

void ct_thread_free_rebuild(void)
{
    atomic_flag_clear(&free_lock);
    free_top = NULL;
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next)
        if (atomic_load_explicit(&t->state, memory_order_relaxed) == CT_THREAD_FREE)
            free_push_locked(t);
}

static struct ct_thread *claim_free(void)
{
    free_lock_take();
    struct ct_thread *t = free_top;
    if (t)
        free_top = t->free_next;
    atomic_flag_clear_explicit(&free_lock, memory_order_release);
    if (t) {
        int expected = CT_THREAD_FREE;
        if (!atomic_compare_exchange_strong(&t->state, &expected, CT_THREAD_CLAIMED))
            return NULL; /* cannot happen: only the stack hands out FREE ones */
    }
    return t;
}

/* Maps a block of descriptors; keeps the first, publishes the rest as free. */
static struct ct_thread *map_descriptors(void)
{
    int count = atomic_exchange(&first_block_mapped, true) ? DESCRIPTORS_PER_MAP
                                                           : DESCRIPTORS_FIRST_MAP;
    size_t size = (size_t)count * sizeof(struct ct_thread);
    int populate = count == DESCRIPTORS_FIRST_MAP ? 0 : MAP_POPULATE;
    struct ct_thread *block = mmap(NULL, size, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | populate, -1, 0);
    if (block == MAP_FAILED)
        return NULL;
    for (int i = 0; i < count; i++)
        atomic_init(&block[i].state, i == 0 ? CT_THREAD_CLAIMED : CT_THREAD_FREE);
    for (int i = count - 1; i >= 0; i--) {
        struct ct_thread *head = atomic_load(&all_threads);
        do
            block[i].all_next = head;
        while (!atomic_compare_exchange_weak(&all_threads, &head, &block[i]));
    }
    free_lock_take();
    for (int i = count - 1; i >= 1; i--)
        free_push_locked(&block[i]);
    atomic_flag_clear_explicit(&free_lock, memory_order_release);
    return &block[0];
}

extern void *__libc_stack_end; /* glibc: near the top of the main stack */

void ct_thread_origin(const char name[16], size_t stack_size)
{
    memcpy(origin.name, name, sizeof origin.name);
    origin.name[sizeof origin.name - 1] = 0;
    origin.stack_size = stack_size;
    origin.set = true;
}

void ct_thread_renamed(void)
{
    origin.name[0] = 0;
}

/* The bounds of this thread's stack; both 0 when unknown (no stacks then).
 * A thread whose creator gave its stack's size (ct_thread_origin) is not
 * the main one, and glibc put its descriptor (pthread_self) at the top of
 * that stack, above the frames and in the same mapping, its own stack or
 * the program's: that is a top without a system call. pthread_getattr_np
 * costs two (sched_getaffinity, and a malloc's worth) for what glibc
 * already knows. The main thread's top is __libc_stack_end, which glibc
 * sets at start-up, and its bottom is the stack limit below it:
 * pthread_getattr_np would read all of /proc/self/maps for it (a
 * millisecond with many libraries). */
static void stack_bounds(struct ct_thread *t)
{
    if (origin.set && origin.stack_size) {
        uintptr_t top = (uintptr_t)pthread_self();
        t->stack_hi = top;
        t->stack_lo = top > origin.stack_size ? top - origin.stack_size : 0;
        return;
    }
    struct rlimit rl;
    if (!origin.set && t->tid == getpid() && __libc_stack_end && getrlimit(RLIMIT_STACK, &rl) == 0) {
        uintptr_t top = (uintptr_t)__libc_stack_end;
        uintptr_t size = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > top ? 8u << 20 : rl.rlim_cur;
        t->stack_hi = top;
        t->stack_lo = top - size;
        return;
    }
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        t->stack_lo = (uintptr_t)addr;
        t->stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

/* Registers the calling thread; NULL when it cannot (out of memory, or
 * called again from a signal handler while registering). */
struct ct_thread *ct_thread_register(void)
{
    if (registering || ct_self == CT_THREAD_DEAD)
        return NULL;
    registering = true;
    pthread_once(&exit_key_once, make_exit_key);
    struct ct_thread *t = claim_free();
    if (!t)
        t = map_descriptors();
    if (!t) {
        registering = false;
        return NULL;
    }
    /* The descriptor may have served an earlier thread: start it afresh,
     * keeping only what the registry owns. Its string and stack caches
     * (17 KiB, a tenth of a short thread's life to clear) need not be:
     * their entries hold the generation they were made in, and a
     * descriptor is freed only once the generation moved past its thread's
     * last (writer.c; after fork, the child skips a generation). */
    struct ct_thread *next = t->all_next;
    memset((char *)t + sizeof t->seq, 0, offsetof(struct ct_thread, state) - sizeof t->seq);
    t->all_next = next;
    t->slot[0].batch = t->slot[1].batch = -1;
    t->tid = ct_gettid();
    stack_bounds(t);
    /* A new thread's name is its creator's at the clone, unless it renamed
     * itself before its first event (tracing was off then). */
    if (origin.set && origin.name[0])
        memcpy(t->name, origin.name, sizeof t->name);
    else
        prctl(PR_GET_NAME, t->name, 0, 0, 0);
    origin.set = false;
    ct_sched_thread_start(t);
    pthread_setspecific(exit_key, t);
    /* Only now may the writer look at the slots. */
    atomic_store_explicit(&t->state, CT_THREAD_LIVE, memory_order_release);
    ct_self = t;
    registering = false;
    return t;
}

/* Threads of the tracer's own besides the writer (the endpoint's): a small
 * set of thread ids, left out of reports. */
#define CT_TRACER_THREADS 64
static _Atomic pid_t tracer_threads[CT_TRACER_THREADS];

void ct_tracer_thread_mark(pid_t tid, bool on)
{
    for (int i = 0; i < CT_TRACER_THREADS; i++) {
        pid_t expected = on ? 0 : tid;
        if (atomic_compare_exchange_strong(&tracer_threads[i], &expected, on ? tid : 0))
            return;
    }
}

bool ct_is_tracer_thread(pid_t tid)
{
    for (int i = 0; i < CT_TRACER_THREADS; i++)
        if (atomic_load_explicit(&tracer_threads[i], memory_order_relaxed) == tid)
            return true;
    return false;
}

/* A registered thread that has not exited, first (the usual answer, without
 * a system call); else the kernel's list, where a main thread that ended by
 * pthread_exit waits as a zombie for the others. */
bool ct_program_alive(pid_t tracer_tid)
{
    for (struct ct_thread *t = ct_thread_first(); t; t = t->all_next)
        if (atomic_load_explicit(&t->state, memory_order_acquire) == CT_THREAD_LIVE)
            return true;
    struct ct_dir dir;
    if (!ct_dir_open(&dir, "/proc/self/task"))
        return true;
    bool alive = false;
    for (const char *entry; !alive && (entry = ct_dir_next(&dir));) {
        pid_t tid = (pid_t)atoi(entry);
        if (tid <= 0 || tid == tracer_tid || ct_is_tracer_thread(tid))
            continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
        size_t n = ct_read_small_file(path, stat, sizeof stat - 1);
        if (n == 0)
            continue; /* gone meanwhile */
        stat[n] = 0;
        const char *state = strrchr(stat, ')'); /* "pid (comm) S ...": comm may hold spaces */
        alive = !state || (state[1] == ' ' && state[2] != 'Z' && state[2] != 'X');
    }
    ct_dir_close(&dir);
    return alive;
}
