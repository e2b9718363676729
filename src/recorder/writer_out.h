/*
 * writer_out.h - the writer's output (writer_out.c): sinks, the flight
 * recorder's ring, and the records written to them. The writer thread's
 * only, but for ct_crash_flush.
 */
#ifndef CT_WRITER_OUT_H
#define CT_WRITER_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "flight.h"
#include "records.h"
#include "recorder.h"

/* Where records go: up to CT_MAX_SINKS file descriptors (the trace of
 * ctrace_start, traces streamed by the HTTP endpoint), each attached and
 * detached at a generation's boundary, and the flight recorder's ring. */
struct sink {
    int fd; /* -1: free */
    bool pipe; /* a pipe or a socket: its reader may go (ct_out_sink_open) */
    int error; /* errno of the first failed write */
    uint64_t bytes_lost, gens;
};

CT_INTERNAL extern struct ct_out {
    struct sink sinks[CT_MAX_SINKS];
    struct ctrace_flight *flight;
    uint32_t gen; /* the global generation being written */
    uint64_t gen_batches, gen_lost, gen_bytes; /* of the generation */
    struct ct_buf buf; /* a table being made */
} ct_out;

/* The output, for one writer at a time: false when a crash handler has it
 * (for good). ct_out_release gives it back. */
CT_INTERNAL bool ct_out_acquire(void);
CT_INTERNAL void ct_out_release(void);
CT_INTERNAL bool ct_out_crashed(void);
/* Makes s the sink of fd (before its header). */
CT_INTERNAL void ct_out_sink_open(struct sink *s, int fd);
/* A file's header, and its END record: to one sink. */
CT_INTERNAL void ct_out_sink_begin(struct sink *s);
CT_INTERNAL void ct_out_sink_end(struct sink *s);
/* One record whose payload is parts, to every sink and the ring. */
CT_INTERNAL void ct_out_record(unsigned type, const struct iovec *parts, int nparts);
/* A batch record of thread tid's events, at once. */
CT_INTERNAL void ct_out_batch_record(pid_t tid, uint64_t base_ts, const void *events, size_t len);
/* ct_out.buf as one record, which is then emptied. */
CT_INTERNAL void ct_out_buf_record(unsigned type);
/* From ct_out_hold to ct_out_write_held, ct_out_buf_record's records are
 * written together: one write for a generation's first five, where each
 * took one (a short process's start, a file system's work for each). */
CT_INTERNAL void ct_out_hold(void);
CT_INTERNAL void ct_out_write_held(void);
/* A full batch (pool index), written with others (then given back to the
 * pool), at the latest by ct_out_flush_batches. */
CT_INTERNAL void ct_out_batch(uint32_t index);
CT_INTERNAL void ct_out_flush_batches(void);
/* A thread's context switches (sched.c's emit), gathered until
 * ct_out_flush_cpu. */
CT_INTERNAL void ct_out_cpu_batch(pid_t tid, uint64_t base_ts, const uint8_t *events, size_t len,
                                  uint64_t lost, uint64_t lost_first, uint64_t lost_last);
CT_INTERNAL void ct_out_flush_cpu(void);
/* A LOST record: count events of thread tid between first and last. */
CT_INTERNAL void ct_out_lost(pid_t tid, uint64_t count, uint64_t first, uint64_t last);
/* fork: the child's output, clean. */
CT_INTERNAL void ct_out_after_fork_child(void);

#endif
