/*
 * view_lists.h - ctrace view's lists of tasks, regions and logs (one page
 * at a time, from the instance index, src/analysis/instances.h), where a
 * task's time went (its threads read again, taskview.h), and a task's
 * focus on the timeline.
 */
#ifndef CT_VIEW_LISTS_H
#define CT_VIEW_LISTS_H

#include "../analysis/instances.h"
#include "../analysis/timeline.h"
#include "view_server.h"

/* The instance index once built, and the timeline index (read only). */
struct ct_view_lists {
    struct ct_instances *ix;
    const struct ct_timeline *tl;
    char *tasks_json, *regions_json; /* by type, with exact histograms */
    size_t tasks_len, regions_len;
};

/* The types' JSON, made once the index is built; 0, or -1 without memory. */
int ct_view_lists_ready(struct ct_view_lists *l);
void ct_view_lists_free(struct ct_view_lists *l);
/* The memory the instance index takes at the peak of its making, from
 * the timeline's counts: a task is gathered in 37 bytes and kept in 30, a
 * region and a log gathered in 16 and kept in 14 (instances.c). */
uint64_t ct_view_lists_need(const struct ct_timeline *tl);
/* What the system says is available (MemAvailable), or 0 if unknown. */
uint64_t ct_view_memory_available(void);
/* Whether work of the lists' own is under way (an order being built). */
bool ct_view_lists_busy(void);

/* The endpoints (the request's url picks one): /api/tasks, /api/regions,
 * /api/tasklist, /api/regionlist, /api/logs, /api/tasktime, /api/focus.
 * false when the url is none of them. */
bool ct_view_lists_answer(struct ct_view_lists *l, struct ct_vreq *q, struct ct_vanswer *a);

#endif
