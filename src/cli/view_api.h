/*
 * view_api.h - the JSON answers of `ctrace view` for the timeline's
 * search, the logs under a mark and the utilization page (view_api.c),
 * beside those of view.c.
 */
#ifndef CT_VIEW_API_H
#define CT_VIEW_API_H

#include <stdbool.h>

#include "../compat/mhd.h"

struct ct_timeline;

/* Answers url when it is one of these; false otherwise (nothing sent).
 *
 *   /api/search?q=&after=&limit=     regions, tasks (type or id) and logs
 *                                    matching q from `after` on, in time order
 *   /api/logs_at?tid=&t0=&t1=        the logs of a thread (0: all) in a range
 *   /api/utilization?mode=machine|demand&t0=&t1=&px=&width=
 *                                    the share of CPU time the threads got
 *                                    over [t0, t1) at px points, the minimum
 *                                    over windows of each width (MMU), and
 *                                    the worst windows of `width` ns
 *
 * logs_at reads the index's window (as /api/span does); search and
 * utilization read the file with readers of their own, and utilization
 * is computed once, under a lock of its own. */
bool ct_view_api(struct MHD_Connection *c, const char *url, struct ct_timeline *tl,
                 enum MHD_Result *result);
/* Frees what the answers keep. */
void ct_view_api_free(void);

#endif
