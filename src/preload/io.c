/*
 * io.c - sleeps, and system calls that may block: reads and writes, sends
 * and receives, accept and connect, poll, select and epoll, fsync and
 * fdatasync, file locks, the waits for a child process or a signal, and
 * name lookups (getaddrinfo, whose own sends and receives are the C
 * library's inside calls, which no wrapper sees).
 *
 * Sleeps are always recorded, as a block with reason `sleep`. A system call
 * is timed (two clock reads) and recorded only when it took at least the
 * threshold (CTRACE_SYSCALL_NS, 10 us by default): one `syscall` event at
 * its start, with its duration, file descriptor, the descriptor's class
 * (file, pipe, network, other) and result. Calls that return at once cost
 * the two clock reads and nothing else.
 *
 * The class of a descriptor comes from fstat the first time a slow call
 * uses it, cached by number, and forgotten on close, dup2 and dup3.
 *
 * Who woke whom through a pipe: a read of a pipe marks the pipe (its
 * identity: device and inode, the same for both ends) as read in this
 * process, once, and its `syscall` event names the pipe; every write to a
 * marked pipe first records a `wake` naming it, from the cache: no system
 * call of its own (an fstat per write cost a pipe ping-pong 8 % here).
 * The analyses link a slow read's end to the last wake on its pipe before
 * it; a wake no read waited for links nothing. A mark rather than a count
 * of the readers waiting: the count's cache line went back and forth
 * between the reader's and the writer's CPUs four times a message.
 * The cache is kept true by forgetting a descriptor after every way a
 * program closes one through the C library: close, dup2, dup3, fclose,
 * pclose, closedir, close_range, closefrom. A descriptor closed by a raw
 * system call and its number reused keeps its old class and identity
 * until it is closed again. eventfd
 * descriptors are linked the same way, but they share one anonymous inode:
 * their identity is the kernel's eventfd-id from /proc/self/fdinfo (where
 * the kernel shows one), or else the descriptor's number, which threads of
 * one process share; found when the descriptor is first classed, with raw
 * system calls (read and close are wrapped here).
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* glibc declares poll's descriptors write-only (access attribute); the
 * wrappers read them before the call, which is sound: they are the
 * program's input. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "../recorder/records.h"
#include "preload.h"


#define FD_CACHE 65536

/* Class + 1 by descriptor; 0: not known yet. The identity of the pipe or
 * eventfd it is, which a write's wake names. */
static _Atomic unsigned char fd_classes[FD_CACHE] CT_LARGE;
static _Atomic uint64_t fd_objects[FD_CACHE] CT_LARGE;
/* Class + 1 of what an epoll instance watches (the strongest: network over
 * pipe over file over other), from epoll_ctl; 0: not known yet. */
static _Atomic unsigned char epoll_classes[FD_CACHE] CT_LARGE;

/* Device and inode; the inode shifted past the low bit, which is always
 * set (pipes made one after another differ there). */
static uint64_t pipe_identity(const struct stat *st)
{
    return ((uint64_t)st->st_dev << 40 ^ (uint64_t)st->st_ino << 1) | 1;
}

#define EVENTFD_TAG (0xEFDull << 52)

/* The identity of fd if it is an eventfd (an anonymous inode: no file
 * type bits), else 0. */
static uint64_t eventfd_identity(int fd, const struct stat *st)
{
    if ((st->st_mode & S_IFMT) != 0)
        return 0;
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    long n = syscall(SYS_readlinkat, AT_FDCWD, path, link, sizeof link - 1);
    if (n <= 0)
        return 0;
    link[n] = 0;
    if (strcmp(link, "anon_inode:[eventfd]") != 0)
        return 0;
    uint64_t id = EVENTFD_TAG | (uint64_t)(unsigned)fd << 1 | 1;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    char text[512];
    size_t len = ct_read_small_file(path, text, sizeof text - 1);
    if (len > 0) {
        text[len] = 0;
        const char *at = strstr(text, "eventfd-id:");
        if (at)
            id = EVENTFD_TAG | 1ull << 51 | strtoull(at + 11, NULL, 10) << 1 | 1;
    }
    return id;
}

CT_REAL_DECL(close);
CT_REAL_DECL(dup2);
CT_REAL_DECL(dup3);
CT_REAL_DECL(fclose);
CT_REAL_DECL(pclose);
CT_REAL_DECL(closedir);
CT_REAL_DECL(close_range);
CT_REAL_DECL(closefrom);

unsigned ct_fd_class(int fd)
{
    if (fd >= 0 && fd < FD_CACHE) {
        unsigned c = atomic_load_explicit(&fd_classes[fd], memory_order_relaxed);
        if (c)
            return c - 1;
    }
    struct stat st;
    unsigned c = CT_FD_OTHER;
    uint64_t object = 0;
    if (fstat(fd, &st) == 0) {
        if (S_ISSOCK(st.st_mode))
            c = CT_FD_NETWORK;
        else if (S_ISFIFO(st.st_mode))
            c = CT_FD_PIPE;
        else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
            c = CT_FD_FILE;
        object = S_ISFIFO(st.st_mode) ? pipe_identity(&st)
                 : fd >= 0 && fd < FD_CACHE ? eventfd_identity(fd, &st)
                                            : 0;
    }
    if (fd >= 0 && fd < FD_CACHE)
        atomic_store_explicit(&fd_objects[fd], object, memory_order_relaxed);
    if (fd >= 0 && fd < FD_CACHE)
        atomic_store_explicit(&fd_classes[fd], (unsigned char)(c + 1), memory_order_relaxed);
    return c;
}

unsigned ct_fd_class_cached(int fd)
{
    if (fd < 0 || fd >= FD_CACHE)
        return 0xff;
    unsigned c = atomic_load_explicit(&fd_classes[fd], memory_order_relaxed);
    return c ? c - 1 : 0xff;
}

/* The identity of the pipe or eventfd fd is, from the cache; 0 for
 * anything else. */
uint64_t ct_fd_pipe(int fd)
{
    if (fd < 0 || fd >= FD_CACHE)
        return 0;
    unsigned c = ct_fd_class(fd);
    if (c != CT_FD_PIPE && c != CT_FD_OTHER)
        return 0;
    return atomic_load_explicit(&fd_objects[fd], memory_order_relaxed);
}

void ct_fd_forget(int fd)
{
    /* Stored only where something was known: the pages of descriptors
     * never classed stay untouched (a close of a process's start, such as
     * the tracer's own, costs no fresh page). */
    if (fd >= 0 && fd < FD_CACHE) {
        if (atomic_load_explicit(&fd_classes[fd], memory_order_relaxed))
            atomic_store_explicit(&fd_classes[fd], 0, memory_order_relaxed);
        if (atomic_load_explicit(&epoll_classes[fd], memory_order_relaxed))
            atomic_store_explicit(&epoll_classes[fd], 0, memory_order_relaxed);
    }
}

/* A descriptor known to be a socket (accept's): no fstat to class it. */
static void fd_is_socket(int fd)
{
    if (fd >= 0 && fd < FD_CACHE) {
        atomic_store_explicit(&fd_objects[fd], 0, memory_order_relaxed);
        atomic_store_explicit(&fd_classes[fd], CT_FD_NETWORK + 1, memory_order_relaxed);
    }
}

/* ---- what a poll, select or epoll wait waits on ---- */

/* The classes are ordered other < file < pipe < network: a wait on a set
 * that holds a socket is a network wait, as Go's netpoller's are. */
static unsigned stronger(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

static unsigned poll_class(const struct pollfd *fds, nfds_t n)
{
    unsigned c = CT_FD_OTHER;
    for (nfds_t i = 0; i < n && i < 4096 && c != CT_FD_NETWORK; i++)
        if (fds[i].fd >= 0)
            c = stronger(c, ct_fd_class(fds[i].fd));
    return c;
}

/* The descriptors of a select, gathered before the call (which clears
 * the ones not ready). */
struct select_set {
    int n;
    unsigned long bits[FD_SETSIZE / (8 * sizeof(unsigned long))];
};

static void select_gather(struct select_set *set, int n, const fd_set *r, const fd_set *w,
                          const fd_set *e)
{
    const size_t word_bits = 8 * sizeof(unsigned long);
    set->n = n < 0 ? 0 : n > FD_SETSIZE ? FD_SETSIZE : n;
    size_t words = ((size_t)set->n + word_bits - 1) / word_bits;
    for (size_t i = 0; i < words; i++) {
        unsigned long v = 0;
        if (r)
            v |= r->fds_bits[i];
        if (w)
            v |= w->fds_bits[i];
        if (e)
            v |= e->fds_bits[i];
        set->bits[i] = v;
    }
}

static unsigned select_class(const struct select_set *set)
{
    const int word_bits = 8 * (int)sizeof(unsigned long);
    unsigned c = CT_FD_OTHER;
    for (int fd = 0; fd < set->n && c != CT_FD_NETWORK; fd++)
        if (set->bits[fd / word_bits] >> (fd % word_bits) & 1)
            c = stronger(c, ct_fd_class(fd));
    return c;
}

/* An epoll instance whose adds were not seen (made before tracing, or
 * inherited): its watched descriptors from /proc/self/fdinfo ("tfd: N"
 * lines), raw system calls. */
static unsigned epoll_fdinfo_class(int epfd)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
    size_t len = ct_read_small_file(path, text, sizeof text - 1);
    if (len == 0)
        return CT_FD_OTHER;
    text[len] = 0;
    unsigned c = CT_FD_OTHER;
    for (const char *at = text; (at = strstr(at, "tfd:")) && c != CT_FD_NETWORK;) {
        at += 4;
        c = stronger(c, ct_fd_class((int)strtol(at, NULL, 10)));
    }
    return c;
}

/* The same from the caches alone, for the writer's mark of a wait in
 * progress: 0xff where nothing is known. */
static unsigned poll_class_cached(const struct pollfd *fds, nfds_t n)
{
    unsigned c = 0xff;
    for (nfds_t i = 0; i < n && i < 64; i++) {
        unsigned k = ct_fd_class_cached(fds[i].fd);
        if (k != 0xff && (c == 0xff || k > c))
            c = k;
    }
    return c;
}

static unsigned epoll_class_cached(int epfd)
{
    unsigned known = epfd >= 0 && epfd < FD_CACHE
                         ? atomic_load_explicit(&epoll_classes[epfd], memory_order_relaxed)
                         : 0;
    return known ? known - 1 : 0xff;
}

static unsigned epoll_class(int epfd)
{
    if (epfd < 0 || epfd >= FD_CACHE)
        return CT_FD_OTHER;
    unsigned known = atomic_load_explicit(&epoll_classes[epfd], memory_order_relaxed);
    if (known)
        return known - 1;
    unsigned c = epoll_fdinfo_class(epfd);
    atomic_store_explicit(&epoll_classes[epfd], (unsigned char)(c + 1), memory_order_relaxed);
    return c;
}

/* Forgotten after the call, not before: a slow call racing the close
 * could otherwise class the closing descriptor again. A number reused at
 * once by another thread loses a true entry, which is found again. The
 * tracer's own descriptors (the trace, the perf rings) are not the
 * program's to close: EBADF, as for a descriptor it never had. */
CT_EXPORT int close(int fd)
{
    bool program = ct_own_close_begin();
    int rc;
    if (!ct_own_fd_is(fd)) {
        rc = REAL(close)(fd);
        ct_fd_forget(fd);
    } else if (program) {
        errno = EBADF;
        rc = -1;
    } else { /* the tracer's own code (the endpoint's library) */
        rc = ct_own_fd_close(fd);
    }
    ct_own_close_end(program);
    return rc;
}

/* dup2 and dup3 onto a tracer's descriptor would close it and hand its
 * number to the program's file, which the writer would then write the
 * trace into: EBADF, as close says, for a number the program may not use
 * (the kernel says so for one past its limit). */
CT_EXPORT int dup2(int old, int new_fd)
{
    bool program = ct_own_close_begin();
    int rc;
    if (program && ct_own_fd_is(new_fd) && old != new_fd) {
        errno = EBADF;
        rc = -1;
    } else {
        rc = REAL(dup2)(old, new_fd);
        ct_fd_forget(new_fd);
    }
    ct_own_close_end(program);
    return rc;
}

CT_EXPORT int dup3(int old, int new_fd, int flags)
{
    bool program = ct_own_close_begin();
    int rc;
    if (program && ct_own_fd_is(new_fd)) {
        errno = EBADF;
        rc = -1;
    } else {
        rc = REAL(dup3)(old, new_fd, flags);
        ct_fd_forget(new_fd);
    }
    ct_own_close_end(program);
    return rc;
}

/* The C library's own closes do not come through close. */
CT_EXPORT int fclose(FILE *f)
{
    int fd = f ? f->_fileno : -1;
    int rc;
    if (ct_tracing_here()) { /* it writes what the stream holds */
        struct ct_thread *self = ct_call_self();
        uint64_t t0 = ct_now();
        if (self)
            ct_call_enter(self, t0, CT_REASON_FCLOSE, fd, ct_fd_class_cached(fd));
        ct_busy++;
        rc = REAL(fclose)(f);
        ct_busy--;
        if (self)
            atomic_store_explicit(&self->call_since, 0, memory_order_relaxed);
        uint64_t t1 = ct_now();
        if (t1 - t0 >= ct_pconf.syscall_threshold_units)
            CT_RECORD(ct_ev_syscall(t0, t1, CT_REASON_FCLOSE, fd, ct_fd_class(fd), rc, 0));
    } else {
        rc = REAL(fclose)(f);
    }
    ct_fd_forget(fd);
    return rc;
}

CT_EXPORT int closedir(DIR *d)
{
    int fd = dirfd(d);
    int rc = REAL(closedir)(d);
    ct_fd_forget(fd);
    return rc;
}

static void forget_range(unsigned first, unsigned last)
{
    for (unsigned fd = first; fd <= last && fd < FD_CACHE; fd++)
        ct_fd_forget((int)fd);
}

/* The range in pieces, around the tracer's own descriptors. */
CT_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    bool program = ct_own_close_begin();
    int rc = 0;
    for (unsigned from = first; rc == 0 && from <= last;) {
        int own = ct_own_fd_next(from, last);
        if (own < 0) {
            rc = REAL(close_range)(from, last, flags);
            break;
        }
        if ((unsigned)own > from)
            rc = REAL(close_range)(from, (unsigned)own - 1, flags);
        if ((unsigned)own == last)
            break;
        from = (unsigned)own + 1;
    }
    if (rc == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
        forget_range(first, last);
    ct_own_close_end(program);
    return rc;
}

CT_EXPORT void closefrom(int first)
{
    bool program = ct_own_close_begin();
    unsigned from = first < 0 ? 0 : (unsigned)first;
    for (int own; (own = ct_own_fd_next(from, ~0u)) >= 0; from = (unsigned)own + 1)
        if ((unsigned)own > from && REAL(close_range)(from, (unsigned)own - 1, 0) != 0)
            for (unsigned fd = from; fd < (unsigned)own; fd++)
                syscall(SYS_close, fd); /* a kernel without close_range */
    REAL(closefrom)((int)from);
    forget_range(first < 0 ? 0 : (unsigned)first, FD_CACHE - 1);
    ct_own_close_end(program);
}

/* A read that may wait on a pipe: the pipe marked as read here. */
#define PIPE_READ(reason, fd, call)                                           \
    ({                                                                        \
        uint64_t pipe_ = ct_fd_pipe(fd);                                         \
        if (pipe_)                                                            \
            ct_waiter_mark((const void *)(uintptr_t)pipe_);                   \
        TIMED_ON(reason, fd, pipe_, call);                                    \
    })

/* A write to a pipe a traced thread reads: a wake first. */
#define PIPE_WRITE(reason, fd, call)                                          \
    ({                                                                        \
        uint64_t pipe_ = ct_fd_pipe(fd);                                         \
        if (pipe_ && ct_has_waiters((const void *)(uintptr_t)pipe_))          \
            CT_RECORD(ct_ev_wake(CT_REASON_READ, (uintptr_t)pipe_));          \
        TIMED(reason, fd, call);                                              \
    })

/* A wrapper for a call on a descriptor. */
#define IO_WRAPPER(ret, name, reason, params, args, fd)                       \
    CT_REAL_DECL(name);                                                       \
    CT_EXPORT ret name params                                                 \
    {                                                                         \
        if (!ct_tracing_here())                                               \
            return REAL(name) args;                                           \
        return TIMED(reason, fd, REAL(name) args);                            \
    }

/* The same, with the class given (a wait on a set of descriptors). */
#define IO_WRAPPER_AS(ret, name, reason, params, args, fd, fd_class, hint)    \
    CT_REAL_DECL(name);                                                       \
    CT_EXPORT ret name params                                                 \
    {                                                                         \
        if (!ct_tracing_here())                                               \
            return REAL(name) args;                                           \
        return TIMED_HINT(reason, fd, fd_class, hint, 0, REAL(name) args);    \
    }

/* A wrapper for a call that may read or write a pipe. */
#define PIPE_WRAPPER(ret, name, reason, how, params, args)                    \
    CT_REAL_DECL(name);                                                       \
    CT_EXPORT ret name params                                                 \
    {                                                                         \
        if (!ct_tracing_here())                                               \
            return REAL(name) args;                                           \
        return how(reason, fd, REAL(name) args);                              \
    }

PIPE_WRAPPER(ssize_t, read, CT_REASON_READ, PIPE_READ, (int fd, void *buf, size_t n),
             (fd, buf, n))
PIPE_WRAPPER(ssize_t, write, CT_REASON_WRITE, PIPE_WRITE, (int fd, const void *buf, size_t n),
             (fd, buf, n))
/* The fortified forms (_FORTIFY_SOURCE, as distributions build): glibc's
 * own __read_chk calls its internal read, which the wrapper of read does
 * not see. */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t room);
extern ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t room);
extern ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t room);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t room, int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t room, int flags,
                              struct sockaddr *from, socklen_t *len);
extern int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t room);
extern int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                       const sigset_t *mask, size_t room);
PIPE_WRAPPER(ssize_t, __read_chk, CT_REASON_READ, PIPE_READ,
             (int fd, void *buf, size_t n, size_t room), (fd, buf, n, room))
IO_WRAPPER(ssize_t, __pread_chk, CT_REASON_PREAD,
           (int fd, void *buf, size_t n, off_t off, size_t room), (fd, buf, n, off, room), fd)
IO_WRAPPER(ssize_t, __pread64_chk, CT_REASON_PREAD,
           (int fd, void *buf, size_t n, off_t off, size_t room), (fd, buf, n, off, room), fd)
IO_WRAPPER(ssize_t, __recv_chk, CT_REASON_RECV,
           (int fd, void *buf, size_t n, size_t room, int flags), (fd, buf, n, room, flags), fd)
IO_WRAPPER(ssize_t, __recvfrom_chk, CT_REASON_RECVFROM,
           (int fd, void *buf, size_t n, size_t room, int flags, struct sockaddr *from,
            socklen_t *len),
           (fd, buf, n, room, flags, from, len), fd)
PIPE_WRAPPER(ssize_t, readv, CT_REASON_READV, PIPE_READ, (int fd, const struct iovec *iov, int n),
             (fd, iov, n))
PIPE_WRAPPER(ssize_t, writev, CT_REASON_WRITEV, PIPE_WRITE,
             (int fd, const struct iovec *iov, int n), (fd, iov, n))
IO_WRAPPER(ssize_t, pread, CT_REASON_PREAD, (int fd, void *buf, size_t n, off_t off),
           (fd, buf, n, off), fd)
IO_WRAPPER(ssize_t, pwrite, CT_REASON_PWRITE, (int fd, const void *buf, size_t n, off_t off),
           (fd, buf, n, off), fd)
IO_WRAPPER(ssize_t, recv, CT_REASON_RECV, (int fd, void *buf, size_t n, int flags),
           (fd, buf, n, flags), fd)
IO_WRAPPER(ssize_t, recvfrom, CT_REASON_RECVFROM,
           (int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *len),
           (fd, buf, n, flags, from, len), fd)
IO_WRAPPER(ssize_t, recvmsg, CT_REASON_RECVMSG, (int fd, struct msghdr *msg, int flags),
           (fd, msg, flags), fd)
IO_WRAPPER(ssize_t, send, CT_REASON_SEND, (int fd, const void *buf, size_t n, int flags),
           (fd, buf, n, flags), fd)
IO_WRAPPER(ssize_t, sendto, CT_REASON_SENDTO,
           (int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
            socklen_t len),
           (fd, buf, n, flags, to, len), fd)
IO_WRAPPER(ssize_t, sendmsg, CT_REASON_SENDMSG, (int fd, const struct msghdr *msg, int flags),
           (fd, msg, flags), fd)
/* accept: the new descriptor is a socket, known without an fstat (an
 * epoll_ctl that adds it classes it then). */
CT_REAL_DECL(accept);
CT_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!ct_tracing_here())
        return REAL(accept)(fd, addr, len);
    int rc = TIMED(CT_REASON_ACCEPT, fd, REAL(accept)(fd, addr, len));
    fd_is_socket(rc);
    return rc;
}

CT_REAL_DECL(accept4);
CT_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (!ct_tracing_here())
        return REAL(accept4)(fd, addr, len, flags);
    int rc = TIMED(CT_REASON_ACCEPT, fd, REAL(accept4)(fd, addr, len, flags));
    fd_is_socket(rc);
    return rc;
}
IO_WRAPPER(int, connect, CT_REASON_CONNECT,
           (int fd, const struct sockaddr *addr, socklen_t len), (fd, addr, len), fd)
IO_WRAPPER_AS(int, poll, CT_REASON_POLL, (struct pollfd *fds, nfds_t n, int timeout),
              (fds, n, timeout), n > 0 ? fds[0].fd : -1, poll_class(fds, n),
              poll_class_cached(fds, n))
IO_WRAPPER_AS(int, ppoll, CT_REASON_PPOLL,
              (struct pollfd *fds, nfds_t n, const struct timespec *timeout,
               const sigset_t *mask),
              (fds, n, timeout, mask), n > 0 ? fds[0].fd : -1, poll_class(fds, n),
              poll_class_cached(fds, n))
IO_WRAPPER_AS(int, __poll_chk, CT_REASON_POLL,
              (struct pollfd *fds, nfds_t n, int timeout, size_t room), (fds, n, timeout, room),
              n > 0 ? fds[0].fd : -1, poll_class(fds, n), poll_class_cached(fds, n))
IO_WRAPPER_AS(int, __ppoll_chk, CT_REASON_PPOLL,
              (struct pollfd *fds, nfds_t n, const struct timespec *timeout,
               const sigset_t *mask, size_t room),
              (fds, n, timeout, mask, room), n > 0 ? fds[0].fd : -1, poll_class(fds, n),
              poll_class_cached(fds, n))

CT_REAL_DECL(select);
CT_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout)
{
    if (!ct_tracing_here())
        return REAL(select)(n, r, w, e, timeout);
    struct select_set set;
    select_gather(&set, n, r, w, e);
    return TIMED_HINT(CT_REASON_SELECT, -1, select_class(&set), 0xff, 0,
                      REAL(select)(n, r, w, e, timeout));
}

CT_REAL_DECL(pselect);
CT_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
                      const sigset_t *mask)
{
    if (!ct_tracing_here())
        return REAL(pselect)(n, r, w, e, timeout, mask);
    struct select_set set;
    select_gather(&set, n, r, w, e);
    return TIMED_HINT(CT_REASON_PSELECT, -1, select_class(&set), 0xff, 0,
                      REAL(pselect)(n, r, w, e, timeout, mask));
}

IO_WRAPPER_AS(int, epoll_wait, CT_REASON_EPOLL_WAIT,
              (int epfd, struct epoll_event *events, int max, int timeout),
              (epfd, events, max, timeout), epfd, epoll_class(epfd), epoll_class_cached(epfd))
IO_WRAPPER_AS(int, epoll_pwait, CT_REASON_EPOLL_PWAIT,
              (int epfd, struct epoll_event *events, int max, int timeout, const sigset_t *mask),
              (epfd, events, max, timeout, mask), epfd, epoll_class(epfd),
              epoll_class_cached(epfd))

/* What an epoll instance watches: the strongest class added to it. Added
 * descriptors the cache does not know cost one fstat, once. */
CT_REAL_DECL(epoll_ctl);
CT_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    int rc = REAL(epoll_ctl)(epfd, op, fd, event);
    if (rc == 0 && op == EPOLL_CTL_ADD && epfd >= 0 && epfd < FD_CACHE && ct_tracing_here()) {
        int saved = errno;
        ct_busy++;
        unsigned known = atomic_load_explicit(&epoll_classes[epfd], memory_order_relaxed);
        unsigned c = stronger(known ? known - 1 : CT_FD_OTHER, ct_fd_class(fd));
        atomic_store_explicit(&epoll_classes[epfd], (unsigned char)(c + 1), memory_order_relaxed);
        ct_busy--;
        errno = saved;
    }
    return rc;
}

IO_WRAPPER(int, fsync, CT_REASON_FSYNC, (int fd), (fd), fd)
IO_WRAPPER(int, fdatasync, CT_REASON_FDATASYNC, (int fd), (fd), fd)
/* A child's end: no descriptor (-1, class other). */
IO_WRAPPER(pid_t, waitpid, CT_REASON_WAITPID, (pid_t pid, int *status, int options),
           (pid, status, options), -1)
IO_WRAPPER(pid_t, wait, CT_REASON_WAIT, (int *status), (status), -1)
IO_WRAPPER(pid_t, wait4, CT_REASON_WAIT4,
           (pid_t pid, int *status, int options, struct rusage *usage),
           (pid, status, options, usage), -1)
IO_WRAPPER(pid_t, wait3, CT_REASON_WAIT4, (int *status, int options, struct rusage *usage),
           (status, options, usage), -1)
IO_WRAPPER(int, waitid, CT_REASON_WAITID, (idtype_t type, id_t id, siginfo_t *info, int options),
           (type, id, info, options), -1)
IO_WRAPPER(int, system, CT_REASON_SYSTEM, (const char *command), (command), -1)

/* pclose waits for the command's end: a wait for a child, like system. */
CT_EXPORT int pclose(FILE *f)
{
    int fd = fileno(f);
    int rc = ct_tracing_here() ? TIMED(CT_REASON_PCLOSE, -1, REAL(pclose)(f)) : REAL(pclose)(f);
    ct_fd_forget(fd);
    return rc;
}

IO_WRAPPER(int, flock, CT_REASON_FLOCK, (int fd, int op), (fd, op), fd)
IO_WRAPPER(int, lockf, CT_REASON_LOCKF, (int fd, int cmd, off_t len), (fd, cmd, len), fd)
IO_WRAPPER(ssize_t, preadv, CT_REASON_PREADV, (int fd, const struct iovec *iov, int n, off_t off),
           (fd, iov, n, off), fd)
IO_WRAPPER(ssize_t, pwritev, CT_REASON_PWRITEV,
           (int fd, const struct iovec *iov, int n, off_t off), (fd, iov, n, off), fd)
IO_WRAPPER(int, recvmmsg, CT_REASON_RECVMMSG,
           (int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout),
           (fd, v, n, flags, timeout), fd)
IO_WRAPPER(int, sendmmsg, CT_REASON_SENDMMSG, (int fd, struct mmsghdr *v, unsigned n, int flags),
           (fd, v, n, flags), fd)
IO_WRAPPER_AS(int, epoll_pwait2, CT_REASON_EPOLL_PWAIT2,
              (int epfd, struct epoll_event *events, int max, const struct timespec *timeout,
               const sigset_t *mask),
              (epfd, events, max, timeout, mask), epfd, epoll_class(epfd),
              epoll_class_cached(epfd))
/* The waits for a signal: no descriptor. */
IO_WRAPPER(int, sigwait, CT_REASON_SIGWAIT, (const sigset_t *set, int *sig), (set, sig), -1)
IO_WRAPPER(int, sigwaitinfo, CT_REASON_SIGWAITINFO, (const sigset_t *set, siginfo_t *info),
           (set, info), -1)
IO_WRAPPER(int, sigtimedwait, CT_REASON_SIGTIMEDWAIT,
           (const sigset_t *set, siginfo_t *info, const struct timespec *timeout),
           (set, info, timeout), -1)
/* sigsuspend and pause return only after a handler ran, whose events come
 * first: a block before and an unblock after keep the order (a syscall
 * event, written at the end with its start time, would land after them).
 * Always recorded, as sleeps are. */
CT_REAL_DECL(sigsuspend);
CT_EXPORT int sigsuspend(const sigset_t *mask)
{
    if (!ct_tracing_here())
        return REAL(sigsuspend)(mask);
    return CT_BLOCKING(CT_REASON_SIGSUSPEND, 0, REAL(sigsuspend)(mask));
}

CT_REAL_DECL(pause);
CT_EXPORT int pause(void)
{
    if (!ct_tracing_here())
        return REAL(pause)();
    return CT_BLOCKING(CT_REASON_PAUSE, 0, REAL(pause)());
}

/* A name lookup: one network wait (DNS), whatever its sources. The calls
 * inside it that come through wrappers (an NSS module's sends and
 * receives, its locks) are left out, as the recorder's own are: they
 * would be events inside this one, written before it. */
CT_REAL_DECL(getaddrinfo);
CT_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                          struct addrinfo **res)
{
    if (!ct_tracing_here())
        return REAL(getaddrinfo)(node, service, hints, res);
    return TIMED_AS(CT_REASON_GETADDRINFO, -1, CT_FD_NETWORK, 0, ({
                        ct_busy++;
                        int rc = REAL(getaddrinfo)(node, service, hints, res);
                        ct_busy--;
                        rc;
                    }));
}

/* Built with _FILE_OFFSET_BITS=64 (meson's default), the pread, pwrite,
 * preadv, pwritev and lockf wrappers above are pread64 and so on to the
 * linker, which is what a program built so calls; one built without it
 * calls pread and the others: the same functions where off_t has 64 bits,
 * so the same wrappers. */
#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64 && __SIZEOF_LONG__ == 8
__asm__(".globl pread\n.type pread, @function\n.set pread, pread64\n"
        ".globl pwrite\n.type pwrite, @function\n.set pwrite, pwrite64\n"
        ".globl preadv\n.type preadv, @function\n.set preadv, preadv64\n"
        ".globl pwritev\n.type pwritev, @function\n.set pwritev, pwritev64\n"
        ".globl lockf\n.type lockf, @function\n.set lockf, lockf64\n");
#endif

/* ---- sleeps: always recorded ---- */

CT_REAL_DECL(nanosleep);
CT_REAL_DECL(clock_nanosleep);
CT_REAL_DECL(usleep);
CT_REAL_DECL(sleep);

#define SLEEPING(call) CT_BLOCKING(CT_REASON_SLEEP, 0, call)

/* A sleep that ran its full length, begun at `start` (CLOCK_MONOTONIC
 * ns): the earliest time the kernel could wake it, for the writer, which
 * puts no run-queue wait before it (0: not known). */
static void slept(uint64_t start, clockid_t clock, int flags, const struct timespec *req)
{
    struct ct_thread *self = ct_call_self();
    if (!self || !req || req->tv_sec < 0 || req->tv_sec > 100000000 || req->tv_nsec < 0 ||
        req->tv_nsec >= 1000000000)
        return;
    uint64_t ns = (uint64_t)req->tv_sec * 1000000000u + (uint64_t)req->tv_nsec;
    uint64_t earliest = 0;
    if (!(flags & TIMER_ABSTIME)) {
        bool wall = clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME ||
                    clock == CLOCK_BOOTTIME || clock == CLOCK_TAI;
        earliest = wall ? start + ns : 0; /* not the CPU-time clocks */
    } else if (clock == CLOCK_MONOTONIC) {
        earliest = ns;
    } else if (clock == CLOCK_REALTIME) {
        /* The wall clock reached req: as long ago as it is past it now. */
        uint64_t real = ct_real_ns(), mono = ct_mono_ns();
        earliest = real >= ns && real - ns < mono ? mono - (real - ns) : 0;
    }
    if (earliest)
        ct_sleep_done(self, earliest);
}

CT_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!ct_tracing_here())
        return REAL(nanosleep)(req, rem);
    uint64_t start = ct_mono_ns();
    int r = SLEEPING(REAL(nanosleep)(req, rem));
    if (r == 0)
        slept(start, CLOCK_MONOTONIC, 0, req);
    return r;
}

CT_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                              struct timespec *rem)
{
    if (!ct_tracing_here())
        return REAL(clock_nanosleep)(clock, flags, req, rem);
    uint64_t start = ct_mono_ns();
    int r = SLEEPING(REAL(clock_nanosleep)(clock, flags, req, rem));
    if (r == 0)
        slept(start, clock, flags, req);
    return r;
}

CT_EXPORT int usleep(useconds_t us)
{
    if (!ct_tracing_here())
        return REAL(usleep)(us);
    uint64_t start = ct_mono_ns();
    int r = SLEEPING(REAL(usleep)(us));
    struct timespec req = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    if (r == 0)
        slept(start, CLOCK_MONOTONIC, 0, &req);
    return r;
}

CT_EXPORT unsigned sleep(unsigned seconds)
{
    if (!ct_tracing_here())
        return REAL(sleep)(seconds);
    uint64_t start = ct_mono_ns();
    unsigned r = SLEEPING(REAL(sleep)(seconds));
    struct timespec req = {(time_t)seconds, 0};
    if (r == 0)
        slept(start, CLOCK_MONOTONIC, 0, &req);
    return r;
}
