/*
 * fleet.h - a trace as rows for a fleet's store: the regions, tasks, logs,
 * blocking events and threads of one file, in one pass over the reader
 * with the thread analysis's visitor (threads.h), for the ClickHouse and
 * OpenTelemetry exports (clickhouse.c, otlp.c).
 *
 * The rows follow the reports exactly: regions and tasks are matched as
 * `ctrace regions` and `ctrace tasks` match them (annotations.c), blocks as
 * `ctrace stats` pairs them, threads are `ctrace threads`' rows. Memory is
 * what those reports hold: each thread's open regions and pending block,
 * the open tasks, the distinct types and stacks; a row is handed to the
 * sink as soon as it is known and not kept.
 */
#ifndef CT_FLEET_H
#define CT_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "../format/reader.h"
#include "threads.h"

/* Who recorded the trace, from its first generation's PROCESS record. */
struct ct_fleet_trace {
    bool has_process;
    uint64_t pid, ppid, sched;
    char host[256];
    char exe[512];
    char command[1024];          /* the command line, arguments joined by spaces */
    uint64_t start_real_ns;      /* the wall clock at time zero (the session's start) */
    uint64_t first_generation;
};

/* How an annotation was found in the trace. */
enum ct_fleet_status {
    CT_FLEET_ENDED = 1,      /* begun and ended in the trace */
    CT_FLEET_UNFINISHED = 2, /* begun, never ended: its end is the trace's end */
    CT_FLEET_UNMATCHED = 3,  /* ended, its begin is not in the trace (begun
                                before it): its begin is the trace's start */
};

struct ct_fleet_region {
    uint64_t tid, task;
    const char *thread_name;   /* as known at its end */
    const char *type;          /* valid for the call */
    size_t type_len;
    int status;
    int64_t begin_ns, end_ns;  /* since time zero */
    uint64_t begin_real_ns;    /* the wall clock at its begin */
    uint64_t duration_ns;      /* what `ctrace regions` counts (0 unless ended) */
    uint32_t depth;            /* 1: outermost on its thread */
    /* The n-th region begun on its thread (1, 2, ...), the one it is nested
     * in (0: none), and the span tree it belongs to: its task's, or for a
     * region of no task, its enclosing region's; trace_task 0 means the
     * tree of its thread's outermost region trace_root. Unmatched regions
     * have seq 0 and no parent. */
    uint32_t seq, parent_seq, trace_root;
    uint64_t parent_task, trace_task;
};

struct ct_fleet_task {
    uint64_t id, parent;
    const char *type;
    size_t type_len;
    int status;
    int64_t begin_ns, end_ns;
    uint64_t begin_real_ns;
    uint64_t duration_ns;      /* what `ctrace tasks` counts (0 unless ended) */
    uint64_t begin_tid, end_tid;
};

struct ct_fleet_log {
    uint64_t tid, task;
    const char *thread_name;
    int64_t ts_ns;
    uint64_t real_ns;
    const char *category;
    size_t category_len;
    const uint8_t *message;
    size_t message_len;
    /* The innermost region open on its thread (seq 0: none), and its tree. */
    uint32_t region_seq, region_trace_root;
    uint64_t region_task, region_trace_task;
    /* Its task's begin or end is read and the other is not yet: the task's
     * row has not been given to the sink (false: it may have been). */
    bool task_pending;
};

enum ct_fleet_block_kind { CT_FLEET_BLOCK = 1, CT_FLEET_SYSCALL = 2 };

/* A thread blocked (a lock, condvar, semaphore, barrier, join, sleep: from
 * block to unblock, as `ctrace stats` counts it) or a slow system call. */
struct ct_fleet_block {
    uint64_t tid;
    int kind;
    int status;                 /* ENDED, or UNFINISHED: blocked at the end */
    const char *reason;         /* mutex, cond, ..., or the call: read, poll, ... */
    const char *fd_class;       /* a system call's descriptor: file, pipe, net, other */
    uint64_t object;            /* its address (a descriptor's object for calls), 0: none */
    int64_t fd;                 /* -1: none */
    int64_t begin_ns, end_ns;
    uint64_t begin_real_ns, duration_ns;
    const char *const *frames;  /* symbolized, innermost first, as stats names them */
    unsigned nframes;
};

/* Where the rows go. Each may be NULL; a non-zero return stops the
 * export: the rest of the trace is read without reading its threads. */
struct ct_fleet_sink {
    void *ctx;
    int (*region)(void *ctx, const struct ct_fleet_region *r);
    int (*task)(void *ctx, const struct ct_fleet_task *t);
    int (*log)(void *ctx, const struct ct_fleet_log *l);
    int (*block)(void *ctx, const struct ct_fleet_block *b);
    /* Once the trace is read: each thread (the tracer's own left out). */
    int (*thread)(void *ctx, const struct ct_thread_row *r);
    /* As the reader goes: the bytes of the file read so far. */
    void (*progress)(void *ctx, uint64_t done, uint64_t size);
    /* A generation begins (the rows of the previous one were all given). */
    void (*generation)(void *ctx);
};

/* What the pass counted, as `ctrace stats` counts it. */
struct ct_fleet_summary {
    uint64_t generations, events, lost_events;
    uint64_t threads, tasks, regions, logs, blocks, syscalls;
    uint64_t voluntary_switches, involuntary_switches;
    int64_t begin_ns, end_ns;
    uint64_t duration_ns;
    uint64_t sched; /* the PROCESS records' scheduling source (the highest; perf
                     * where schedstat followed it, --sched=auto) */
    bool stopped;   /* a sink said stop */
};

/* Reads the first generation of the file at path for who recorded it.
 * 0, or -1 with the error in rd (closed either way). */
int ct_fleet_identify(const char *path, struct ct_fleet_trace *out, struct ct_reader *rd);

/* Reads the whole trace (rd freshly opened) into the sink. 0, or -1 with
 * the error in rd, or 1 when a sink stopped it. */
int ct_fleet_read(struct ct_reader *rd, const struct ct_fleet_sink *sink,
                  struct ct_fleet_summary *summary);

/* A 64-bit hash of bytes, continuing from seed (0 to start): ids derived
 * from a trace's identity (trace and span ids, ClickHouse's trace_id). */
uint64_t ct_fleet_hash(uint64_t seed, const void *data, size_t len);
uint64_t ct_fleet_hash_u64(uint64_t seed, uint64_t v);

#endif
