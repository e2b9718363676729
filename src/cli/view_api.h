/*
 * view_api.h - the JSON answers of `ctrace view` for the timeline's
 * search, the logs under a mark and the utilization page (view_api.c),
 * beside those of view.c. They run on the server's worker threads.
 */
#ifndef CT_VIEW_API_H
#define CT_VIEW_API_H

#include <stdbool.h>

#include "view_server.h"

struct ct_timeline;

/* Answers q when its path is one of these; false otherwise (nothing
 * answered).
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
 * logs_at reads the index's window (as /api/span does): the caller holds
 * what guards the windows when it asks for it (ct_view_api_windowed).
 * Search and utilization read the file with readers of their own; the
 * utilization is computed once, under a lock of its own. */
bool ct_view_api(struct ct_vreq *q, struct ct_vanswer *a, struct ct_timeline *tl);
/* Whether the path is an answer that reads the index's window. */
bool ct_view_api_windowed(const char *url);
/* Frees what the answers keep. */
void ct_view_api_free(void);

#endif
