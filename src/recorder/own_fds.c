/*
 * own_fds.c - the descriptors the tracer keeps open inside the program:
 * the trace file, the perf rings, the schedstat files. A daemon closes
 * every descriptor at its start and then opens its own files: the trace's
 * number went to the program's first file, and the writer wrote the trace
 * into it. So they are moved above the numbers a program uses first (half
 * the descriptor limit, at most 1024) and marked; the preload's close,
 * close_range and closefrom leave the marked ones open (close says EBADF,
 * as for a descriptor the program never had). The recorder closes them
 * with ct_own_fd_close.
 */
#include "recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OWN_MAX (CT_FD_SET_WORDS * 64) /* descriptors above are not protected */

static _Atomic uint64_t own[OWN_MAX / 64] CT_LARGE;

/* Found once: a thread that opens its own ring (a library user's threads)
 * pays no getrlimit for it. A limit lowered below it later only makes the
 * move fail, and the descriptor stays where it is. */
static int high_base(void)
{
    static _Atomic int base = -1;
    int b = atomic_load_explicit(&base, memory_order_relaxed);
    if (b >= 0)
        return b;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        b = 0;
    else if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 2048)
        b = 1024;
    else
        b = (int)(rl.rlim_cur / 2);
    atomic_store_explicit(&base, b, memory_order_relaxed);
    return b;
}

int ct_own_fd(int fd)
{
    if (fd < 0)
        return fd;
    int base = high_base();
    if (fd < base) {
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, base);
        if (moved < 0 && errno == EBADF)
            return -1; /* the program closed it meanwhile: the number may be its own now */
        if (moved >= 0) {
            syscall(SYS_close, fd);
            fd = moved;
        }
    }
    if (fd < OWN_MAX)
        atomic_fetch_or(&own[fd / 64], (uint64_t)1 << (fd % 64));
    return fd;
}

/* Opens of the tracer's on their way to being its own, and the program's
 * closes under way: each side counts itself in, then looks at the other
 * (sequentially consistent, so that of an open and a close at once one
 * sees the other) and waits for it, or backs out, waits and tries again.
 * Closes waiting for opens go first: an open begins only when none waits
 * (opens from many threads one after another would keep them waiting). */
static _Atomic int opening, closing, close_waiting;

/* Whether counter fell to 0 before `until` (yielding meanwhile). */
static bool wait_zero(_Atomic int *counter, uint64_t until)
{
    while (atomic_load(counter) != 0) {
        if (ct_mono_ns() > until)
            return false;
        sched_yield();
    }
    return true;
}

#define WAIT_NS 50000000u

void ct_own_open_begin(void)
{
    uint64_t until = ct_mono_ns() + WAIT_NS;
    wait_zero(&close_waiting, until);
    atomic_fetch_add(&opening, 1);
    wait_zero(&closing, until); /* a close under way ends first */
}

void ct_own_open_end(void)
{
    atomic_fetch_sub(&opening, 1);
}

bool ct_own_close_begin(void)
{
    if (ct_busy)
        return false;
    uint64_t until = 0;
    for (;;) {
        atomic_fetch_add(&closing, 1);
        if (atomic_load(&opening) == 0)
            return true;
        if (until && ct_mono_ns() > until)
            return true; /* waited its bound: closes all the same */
        /* An open is under way: out of its way until it ends. */
        atomic_fetch_sub(&closing, 1);
        atomic_fetch_add(&close_waiting, 1);
        if (!until)
            until = ct_mono_ns() + WAIT_NS;
        wait_zero(&opening, until);
        atomic_fetch_sub(&close_waiting, 1);
    }
}

void ct_own_close_end(bool program)
{
    if (program)
        atomic_fetch_sub(&closing, 1);
}

void ct_own_after_fork_child(void)
{
    /* The other threads' opens and closes did not come along. */
    atomic_store(&opening, 0);
    atomic_store(&closing, 0);
    atomic_store(&close_waiting, 0);
}

bool ct_own_fd_is(int fd)
{
    return fd >= 0 && fd < OWN_MAX &&
           (atomic_load_explicit(&own[fd / 64], memory_order_relaxed) >> (fd % 64) & 1);
}

int ct_own_fd_close(int fd)
{
    if (fd >= 0 && fd < OWN_MAX)
        atomic_fetch_and(&own[fd / 64], ~((uint64_t)1 << (fd % 64)));
    return (int)syscall(SYS_close, fd);
}

int ct_own_fd_next(unsigned first, unsigned last)
{
    for (unsigned fd = first; fd <= last && fd < OWN_MAX;) {
        uint64_t word = atomic_load_explicit(&own[fd / 64], memory_order_relaxed) >> (fd % 64);
        if (word)
            return fd + (unsigned)__builtin_ctzll(word) <= last
                       ? (int)(fd + (unsigned)__builtin_ctzll(word))
                       : -1;
        fd = (fd / 64 + 1) * 64;
    }
    return -1;
}

void ct_open_fds(uint64_t set[CT_FD_SET_WORDS])
{
    memset(set, 0, CT_FD_SET_WORDS * sizeof *set);
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return;
    int self = dirfd(dir);
    for (struct dirent *d; (d = readdir(dir));) {
        if (d->d_name[0] < '0' || d->d_name[0] > '9')
            continue;
        int fd = atoi(d->d_name);
        if (fd != self && fd < OWN_MAX)
            set[fd / 64] |= (uint64_t)1 << (fd % 64);
    }
    closedir(dir);
}

void ct_own_fds_since(const uint64_t before[CT_FD_SET_WORDS])
{
    static uint64_t now[CT_FD_SET_WORDS] CT_LARGE; /* 8 KiB; the caller is one at a time */
    ct_open_fds(now);
    for (int i = 0; i < CT_FD_SET_WORDS; i++)
        if (now[i] & ~before[i])
            atomic_fetch_or(&own[i], now[i] & ~before[i]);
}
