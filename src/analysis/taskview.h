/* taskview.h - each task of one type, and where its time went (taskview.c). */
#ifndef CT_TASKVIEW_H
#define CT_TASKVIEW_H

#include <stdint.h>

#include "../format/reader.h"
#include "threads.h"

#define CT_TASK_THREADS 16

/* Where a task's time went: the time of its threads while the innermost
 * region open on them was one of the task's. */
struct ct_task_time {
    uint64_t ns[CT_COL_COUNT];
    uint64_t sync_ns[CT_SYNC_REASONS];
};

struct ct_task_row {
    uint64_t id, parent;
    int64_t begin_ns, end_ns; /* end_ns INT64_MIN: not ended in the trace */
    uint64_t threads[CT_TASK_THREADS];
    unsigned nthreads;
    uint64_t logs, regions;
    uint64_t ns[CT_COL_COUNT];   /* time of its threads inside its regions */
    uint64_t sync_ns[CT_SYNC_REASONS];
};

struct ct_task_view {
    struct ct_task_row *rows;
    size_t count, cap;
};

/* Reads the trace at path twice (ct_rd_close rd either way); 0, or -1
 * when it cannot be opened or memory ran out. A damaged trace is read up
 * to the damage: 0, with rd->failed and rd->error set. */
int ct_task_view(const char *path, const char *type, struct ct_task_view *out,
                 struct ct_reader *rd);
void ct_task_view_free(struct ct_task_view *v);

/* The same time for one task of ctrace view's index, by reading its threads
 * again over [begin, end] (replay.h) rather than the whole trace. At most
 * *budget batches are read (it is lowered by what was read): 1 when the
 * task needs more (out then unset), 0 done, -1 when the file cannot be
 * read again. */
struct ct_replay;
int ct_task_time(struct ct_replay *r, uint64_t id, int64_t begin, int64_t end,
                 const uint64_t *tids, size_t ntids, size_t *budget, struct ct_task_time *out);

#endif
