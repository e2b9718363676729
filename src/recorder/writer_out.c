/*
 * writer_out.c - where the writer's records go: the sinks (the trace's
 * descriptors), the flight recorder's ring, and a crash handler's last
 * writes. One writer at a time holds the output (io_busy): the writer
 * thread, or a fatal signal's handler, which never gives it back.
 *
 * Full batches are written by one writev per sink for up to COALESCE of
 * them; one collection's context-switch batches are gathered and written
 * at once.
 */
#include "ctrace.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../format/framing.h"
#include "event.h"
#include "records.h"
#include "recorder.h"
#include "writer_out.h"

struct ct_out ct_out;

/* A record is being written: the writer and a crash handler (ct_crash_flush)
 * never write at once. */
static _Atomic int io_busy;
static _Atomic int crashed;

bool ct_out_acquire(void)
{
    for (;;) {
        int expected = 0;
        if (atomic_compare_exchange_weak(&io_busy, &expected, 1))
            return true;
        if (atomic_load(&crashed))
            return false; /* the process is dying; the handler owns the file */
        sched_yield();
    }
}

/* A sink's first failed write: said once. When no sink is left to write
 * to (and no flight recorder keeps a window), tracing stops: the program
 * pays nothing more for events nobody will read. */
static void write_failed(struct sink *s, int err)
{
    s->error = err ? err : EIO;
    bool left = ct_out.flight != NULL;
    for (int i = 0; i < CT_MAX_SINKS; i++)
        left |= ct_out.sinks[i].fd >= 0 && !ct_out.sinks[i].error;
    if (!left)
        __atomic_store_n(&ctrace_on_, 0, __ATOMIC_RELEASE);
    if (atomic_load(&crashed))
        return; /* not async-signal-safe */
    char msg[256];
    int n = snprintf(msg, sizeof msg, "ctrace: writing the trace failed (%s); %s\n",
                     strerror(s->error),
                     left ? "later events are lost" : "tracing stopped");
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        return;
}

void ct_out_sink_open(struct sink *s, int fd)
{
    struct stat st;
    *s = (struct sink){.fd = fd};
    s->pipe = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

/* writev to a pipe or a socket: when its reader has gone, the kernel sends
 * the writing thread SIGPIPE, whose default action would kill the program
 * (a trace to `| head`, or a reader that exits). So SIGPIPE is blocked
 * around the write, and one that this write raised is taken back; one that
 * was pending before is left for the program. Async-signal-safe. */
static ssize_t writev_quietly(int fd, const struct iovec *iov, int count)
{
    sigset_t pipe_only, old, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    ssize_t n = writev(fd, iov, count);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

/* Batches written by one writev per sink (coalesce below). */
#define COALESCE 64

/* Writes all of iov to one sink, retrying short writes and interruptions. */
static void write_all(struct sink *s, const struct iovec *parts, int count)
{
    struct iovec copy[3 * COALESCE], *iov = copy;
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        copy[i] = parts[i];
        total += parts[i].iov_len;
    }
    if (s->error) {
        s->bytes_lost += total;
        return;
    }
    while (count > 0) {
        ssize_t n = s->pipe ? writev_quietly(s->fd, iov, count) : writev(s->fd, iov, count);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) { /* a non-blocking fd */
                struct pollfd pfd = {s->fd, POLLOUT, 0};
                if (poll(&pfd, 1, 1000) > 0)
                    continue;
            }
            int err = errno;
            s->bytes_lost += total;
            write_failed(s, err);
            return;
        }
        total -= (size_t)n;
        while (count > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
}

/* Writes one record whose payload is the concatenation of parts to every
 * sink and the flight recorder; the caller holds io_busy.
 * Async-signal-safe. */
static void write_record_locked(unsigned type, const struct iovec *parts, int nparts)
{
    uint8_t header[CT_RECORD_HEADER_SIZE];
    size_t len = ct_record_header(header, type, parts, nparts);
    struct iovec iov[4] = {{header, sizeof header}};
    for (int i = 0; i < nparts; i++)
        iov[i + 1] = parts[i];
    if (ct_out.flight)
        ct_flight_append(ct_out.flight, iov, nparts + 1);
    for (int i = 0; i < CT_MAX_SINKS; i++)
        if (ct_out.sinks[i].fd >= 0)
            write_all(&ct_out.sinks[i], iov, nparts + 1);
    ct_out.gen_bytes += sizeof header + len;
}

/* The start and the end of a file: written to one sink only. */
void ct_out_sink_begin(struct sink *s)
{
    uint8_t h[CT_FILE_HEADER_SIZE];
    ct_file_header(h);
    struct iovec iov = {h, sizeof h};
    write_all(s, &iov, 1);
}

void ct_out_sink_end(struct sink *s)
{
    uint8_t end[CT_RECORD_HEADER_SIZE + CT_LEB_MAX];
    struct iovec iov = {end, ct_end_record(end, s->gens)};
    write_all(s, &iov, 1);
}

void ct_out_record(unsigned type, const struct iovec *parts, int nparts)
{
    if (!ct_out_acquire())
        return;
    write_record_locked(type, parts, nparts);
    atomic_store(&io_busy, 0);
}

/* Records held to be written together (ct_out_hold), framed one after
 * another. Only the session's own code writes records (the writer, or a
 * session without its thread, under the session lock), so none comes
 * between; a crash meanwhile leaves them unwritten, as one a moment
 * earlier would have. */
static struct ct_buf held;
static bool holding;

void ct_out_hold(void)
{
    holding = true;
}

void ct_out_write_held(void)
{
    holding = false;
    if (held.len && ct_out_acquire()) {
        struct iovec iov = {held.data, held.len};
        if (ct_out.flight)
            ct_flight_append(ct_out.flight, &iov, 1);
        for (int i = 0; i < CT_MAX_SINKS; i++)
            if (ct_out.sinks[i].fd >= 0)
                write_all(&ct_out.sinks[i], &iov, 1);
        ct_out.gen_bytes += held.len;
        atomic_store(&io_busy, 0);
    }
    ct_buf_reset(&held);
}

/* A record into the held ones; false (and what is held written) without
 * memory for it. */
static bool hold_record(unsigned type, const struct iovec *part)
{
    uint8_t *p = ct_buf_reserve(&held, CT_RECORD_HEADER_SIZE + part->iov_len);
    if (!p) {
        ct_out_write_held();
        return false;
    }
    ct_record_header(p, type, part, 1);
    memcpy(p + CT_RECORD_HEADER_SIZE, part->iov_base, part->iov_len);
    held.len += CT_RECORD_HEADER_SIZE + part->iov_len;
    return true;
}

/* Writes ct_out.buf as one record of the given type. */
void ct_out_buf_record(unsigned type)
{
    if (ct_out.buf.failed)
        return; /* out of memory: the table is missing, the reader says so */
    struct iovec part = {ct_out.buf.data, ct_out.buf.len};
    if (!holding || !hold_record(type, &part))
        ct_out_record(type, &part, 1);
    ct_buf_reset(&ct_out.buf);
}

/* One batch as a record, io_busy held (the crash handler's way). */
/* A batch record's head (its thread and base time); returns its length. */
static size_t batch_head(uint8_t head[2 * CT_LEB_MAX], uint64_t tid, uint64_t base_ts)
{
    uint8_t *p = ct_put_uleb(head, tid);
    return (size_t)(ct_put_uleb(p, base_ts) - head);
}

void ct_out_batch_record(pid_t tid, uint64_t base_ts, const void *events, size_t len)
{
    uint8_t head[2 * CT_LEB_MAX];
    struct iovec parts[2] = {{head, batch_head(head, (uint64_t)tid, base_ts)},
                             {(void *)events, len}};
    ct_out_record(CT_REC_BATCH, parts, 2);
    ct_out.gen_batches++;
}

static void write_batch_locked(const struct ct_batch *b)
{
    uint8_t head[2 * CT_LEB_MAX];
    struct iovec parts[2] = {{head, batch_head(head, (uint64_t)b->tid, b->base_ts)},
                             {b->mem, b->used}};
    if (b->used == 0)
        return;
    write_record_locked(CT_REC_BATCH, parts, 2);
    ct_out.gen_batches++;
}

/* Full batches on their way out, written together: one writev per sink
 * for up to COALESCE records instead of one each (a program whose threads
 * come and go hands over a small batch per thread; a busy one 32 KiB at a
 * time). In order; the flight recorder takes each record as before. */
static struct {
    uint32_t index[COALESCE];
    int n;
} coalesced;

void ct_out_flush_batches(void)
{
    if (coalesced.n == 0)
        return;
    struct {
        uint8_t record[CT_RECORD_HEADER_SIZE];
        uint8_t head[2 * CT_LEB_MAX];
    } h[COALESCE];
    struct iovec iov[3 * COALESCE];
    int k = 0;
    bool io = ct_out_acquire();
    for (int i = 0; i < coalesced.n && io; i++) {
        const struct ct_batch *b = ct_pool_batch(coalesced.index[i]);
        if (b->used == 0)
            continue;
        struct iovec parts[2] = {{h[i].head, batch_head(h[i].head, (uint64_t)b->tid, b->base_ts)},
                                 {b->mem, b->used}};
        size_t len = ct_record_header(h[i].record, CT_REC_BATCH, parts, 2);
        iov[k] = (struct iovec){h[i].record, CT_RECORD_HEADER_SIZE};
        iov[k + 1] = parts[0];
        iov[k + 2] = parts[1];
        if (ct_out.flight)
            ct_flight_append(ct_out.flight, &iov[k], 3);
        k += 3;
        ct_out.gen_bytes += CT_RECORD_HEADER_SIZE + len;
        ct_out.gen_batches++;
    }
    for (int i = 0; i < CT_MAX_SINKS && k; i++)
        if (ct_out.sinks[i].fd >= 0)
            write_all(&ct_out.sinks[i], iov, k);
    if (io)
        atomic_store(&io_busy, 0);
    for (int i = 0; i < coalesced.n; i++)
        ct_pool_put((int32_t)coalesced.index[i]);
    coalesced.n = 0;
}

void ct_out_batch(uint32_t index)
{
    coalesced.index[coalesced.n++] = index;
    if (coalesced.n == COALESCE)
        ct_out_flush_batches();
}

/*
 * A fatal signal: writes what can be written without locks or allocation
 * (async-signal-safe), so that the trace holds the last events before the
 * crash: the full batches of the current generation and the crashing
 * thread's own batch. Other threads' partly filled batches stay unwritten:
 * they may be writing into them. The generation is left without its end;
 * the reader reads it with a warning. Once only; never from the writer.
 */
void ct_crash_flush(void)
{
    if (!CTRACE_ON_() || atomic_exchange(&crashed, 1))
        return;
    __atomic_store_n(&ctrace_on_, 0, __ATOMIC_RELAXED);
    if (ct_gettid() == ct_g.tracer_tid)
        return;
    bool mine = false;
    for (int i = 0; i < 100000 && !mine; i++) { /* up to about 100 ms */
        int expected = 0;
        mine = atomic_compare_exchange_strong(&io_busy, &expected, 1);
        if (!mine) {
            struct timespec pause = {0, 1000};
            nanosleep(&pause, NULL);
        }
    }
    if (!mine)
        return;
    uint32_t gen = ct_out.gen;
    for (uint32_t list = ct_pool_take_full(); list;) {
        const struct ct_batch *b = ct_pool_batch(list - 1);
        list = b->next;
        if (b->gen == gen)
            write_batch_locked(b);
    }
    struct ct_thread *t = ct_self;
    if ((uintptr_t)t > (uintptr_t)CT_THREAD_DEAD && t->gen == gen) {
        struct ct_slot *s = &t->slot[gen & 1];
        if (s->batch >= 0) {
            struct ct_batch *b = ct_pool_batch((uint32_t)s->batch);
            b->used = (uint32_t)(s->pos - b->mem);
            write_batch_locked(b);
        }
    }
    /* io_busy stays taken: nothing more is written. */
}

/* The context-switch batches of one collection, whole records one after
 * another, written together: a program whose threads come and go leaves a
 * short batch per thread, and one writev each cost the writer's CPU, which
 * on a small machine is the program's, more than the switches themselves. */
static struct ct_buf cpu_out;

void ct_out_flush_cpu(void)
{
    if (cpu_out.len == 0)
        return;
    if (ct_out_acquire()) {
        for (size_t at = 0; ct_out.flight && at < cpu_out.len;) {
            size_t len = CT_RECORD_HEADER_SIZE + ct_get_u32(cpu_out.data + at + 4);
            struct iovec record = {cpu_out.data + at, len};
            ct_flight_append(ct_out.flight, &record, 1);
            at += len;
        }
        struct iovec all = {cpu_out.data, cpu_out.len};
        for (int i = 0; i < CT_MAX_SINKS; i++)
            if (ct_out.sinks[i].fd >= 0)
                write_all(&ct_out.sinks[i], &all, 1);
        atomic_store(&io_busy, 0);
    }
    ct_buf_reset(&cpu_out);
}

/* Takes one thread's context switches of this generation (sched.c), for
 * ct_out_flush_cpu; written at once when there is no memory for them. */
void ct_out_cpu_batch(pid_t tid, uint64_t base_ts, const uint8_t *events, size_t len,
                      uint64_t lost, uint64_t lost_first, uint64_t lost_last)
{
    if (len) {
        uint8_t head[2 * CT_LEB_MAX];
        size_t head_len = batch_head(head, (uint64_t)tid, base_ts);
        struct iovec parts[2] = {{head, head_len}, {(void *)events, len}};
        size_t size = CT_RECORD_HEADER_SIZE + head_len + len;
        uint8_t *at = ct_buf_reserve(&cpu_out, size);
        if (at) {
            ct_record_header(at, CT_REC_BATCH, parts, 2);
            memcpy(at + CT_RECORD_HEADER_SIZE, head, head_len);
            memcpy(at + CT_RECORD_HEADER_SIZE + head_len, events, len);
            cpu_out.len += size;
            ct_out.gen_bytes += size;
            ct_out.gen_batches++;
            if (cpu_out.len >= (256u << 10))
                ct_out_flush_cpu();
        } else {
            ct_out_flush_cpu();
            ct_out_batch_record(tid, base_ts, events, len);
        }
    }
    if (lost) {
        ct_out_flush_cpu(); /* in order */
        ct_out_lost(tid, lost, lost_first, lost_last);
    }
}

void ct_out_lost(pid_t tid, uint64_t count, uint64_t first, uint64_t last)
{
    ct_buf_reset(&ct_out.buf);
    ct_buf_uleb(&ct_out.buf, (uint64_t)tid);
    ct_buf_uleb(&ct_out.buf, count);
    ct_buf_uleb(&ct_out.buf, first);
    ct_buf_uleb(&ct_out.buf, last);
    ct_out_buf_record(CT_REC_LOST);
    ct_out.gen_lost += count;
}


void ct_out_release(void)
{
    atomic_store(&io_busy, 0);
}

bool ct_out_crashed(void)
{
    return atomic_load(&crashed);
}

struct ctrace_flight *ct_flight_for_crash(void)
{
    /* ct_crash_flush took io_busy for good: the ring holds still. */
    return atomic_load(&crashed) ? ct_out.flight : NULL;
}

void ct_out_after_fork_child(void)
{
    atomic_store(&io_busy, 0);
    for (int i = 0; i < coalesced.n; i++)
        ct_pool_put((int32_t)coalesced.index[i]);
    coalesced.n = 0;
    ct_buf_reset(&cpu_out);
    for (int i = 0; i < CT_MAX_SINKS; i++)
        ct_out.sinks[i].fd = -1;
    ct_out.flight = NULL;
}
