/*
 * replay.h - one thread of a trace read again over a range of time, from
 * the marks of `ctrace view`'s timeline index (timeline.h), through the
 * thread analysis: what a task's threads did while it ran, without reading
 * the whole trace again.
 *
 * A replay has its own reader (on the index's bytes) and its own few
 * generations read again, and only reads the index: any number may run at
 * once, beside the timeline's windows (which keep theirs in the index and
 * are taken one at a time).
 */
#ifndef CT_REPLAY_H
#define CT_REPLAY_H

#include "timeline.h"

#define CT_REPLAY_CACHE 2

struct ct_replay {
    const struct ct_timeline *ix;
    struct ct_reader rd;
    bool open;
    struct {
        uint32_t index; /* in ix->gens; UINT32_MAX: empty */
        uint64_t used;
        struct ct_gen gen;
    } cache[CT_REPLAY_CACHE];
    uint64_t clock;
    size_t batches; /* read so far */
};

/* 0, or -1 when the index has no bytes to read again. */
int ct_replay_open(struct ct_replay *r, const struct ct_timeline *ix);
void ct_replay_close(struct ct_replay *r);

/* The batches of thread tid that reading it over [t0, t1] reads. */
size_t ct_replay_cost(const struct ct_timeline *ix, uint64_t tid, int64_t t0, int64_t t1);

/* What a replay tells: the regions open where it starts (innermost last),
 * then the thread analysis's intervals and events (struct ct_visitor's
 * interval and event; its mark is not called). */
struct ct_replay_visitor {
    void *ctx;
    void (*start)(void *ctx, const struct tl_open_region *open, unsigned n);
    struct ct_visitor v;
};

/* Reads thread tid from the last mark at or before t0 to the first at or
 * after t1. 0 (nothing when the thread has no lane), or -1 when the file
 * cannot be read again. */
int ct_replay_thread(struct ct_replay *r, uint64_t tid, int64_t t0, int64_t t1,
                     const struct ct_replay_visitor *v);

#endif
