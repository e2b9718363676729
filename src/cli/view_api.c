/*
 * view_api.c - see view_api.h.
 */
#include "view_api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/timeline.h"
#include "../analysis/utilization.h"

/* What a writer left in a's stream: 500 when it failed. */
static void finish(struct ct_vanswer *a, FILE *out, int rc)
{
    fclose(out);
    if (rc != 0) {
        free(a->body);
        a->body = NULL;
        ct_vanswer_text(a, 500, "cannot read the trace\n");
    }
}

#define T_MIN (INT64_MIN / 4)
#define T_MAX (INT64_MAX / 4)

static void search(struct ct_vreq *q, struct ct_vanswer *a, struct ct_timeline *tl)
{
    const char *text = ct_vreq_arg(q, "q");
    int64_t after = tl->begin, limit = 50;
    if (!text || !*text || strlen(text) > 200) {
        ct_vanswer_text(a, 400, "q (1 to 200 characters) is required\n");
        return;
    }
    if (ct_vreq_number(q, "after", T_MIN, T_MAX, &after) < 0 ||
        ct_vreq_number(q, "limit", 1, 1000, &limit) < 0) {
        ct_vanswer_text(a, 400, "after (ns) and limit (1 to 1000) are whole numbers\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (out)
        finish(a, out, ct_timeline_search_json(tl, text, after, (size_t)limit, out));
}

static void logs_at(struct ct_vreq *q, struct ct_vanswer *a, struct ct_timeline *tl)
{
    int64_t tid = 0, t0, t1;
    if (ct_vreq_number(q, "tid", 0, INT64_MAX, &tid) < 0 ||
        ct_vreq_number(q, "t0", T_MIN, T_MAX, &t0) != 1 ||
        ct_vreq_number(q, "t1", T_MIN, T_MAX, &t1) != 1 || t1 <= t0) {
        ct_vanswer_text(a, 400, "t0 < t1 (ns) are required, tid a whole number\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (out)
        finish(a, out, ct_timeline_logs_at_json(tl, (uint64_t)tid, t0, t1, 200, out));
}

/* The utilization, computed on the first request (a pass over the trace)
 * and kept. */
static pthread_mutex_t util_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ct_util util;
static int util_state; /* 0 not computed, 1 computed, -1 failed */

static void utilization(struct ct_vreq *q, struct ct_vanswer *a, struct ct_timeline *tl)
{
    const char *mode = ct_vreq_arg(q, "mode");
    enum ct_util_mode m = CT_UTIL_MACHINE;
    if (mode && strcmp(mode, "demand") == 0) {
        m = CT_UTIL_DEMAND;
    } else if (mode && strcmp(mode, "machine") != 0) {
        ct_vanswer_text(a, 400, "mode must be machine or demand\n");
        return;
    }
    int64_t t0 = tl->begin, t1 = tl->end, px = 1000, width = 0;
    if (ct_vreq_number(q, "t0", T_MIN, T_MAX, &t0) < 0 ||
        ct_vreq_number(q, "t1", T_MIN, T_MAX, &t1) < 0 ||
        ct_vreq_number(q, "px", 1, 20000, &px) < 0 ||
        ct_vreq_number(q, "width", 0, T_MAX, &width) < 0 ||
        t1 <= t0) {
        ct_vanswer_text(a, 400, "t0 < t1 (ns), px (1 to 20000) and width (ns) are whole numbers\n");
        return;
    }
    pthread_mutex_lock(&util_lock);
    if (util_state == 0) {
        struct ct_reader rd;
        util_state = -1;
        if (tl->src_open && ct_rd_open_mem(&rd, tl->src.data, tl->src.size, tl->src.path) == 0) {
            rd.have_start = tl->src.have_start;
            rd.start_mono_ns = tl->src.start_mono_ns;
            if (ct_util_compute(&rd, tl->begin, tl->end, &util) == 0)
                util_state = 1;
            ct_rd_close(&rd);
        }
    }
    int state = util_state;
    pthread_mutex_unlock(&util_lock);
    if (state != 1) {
        ct_vanswer_text(a, 500, "cannot read the trace\n");
        return;
    }
    FILE *out = ct_vanswer_json(a);
    if (!out)
        return;
    ct_util_json(&util, m, t0, t1, (unsigned)px, width, out);
    finish(a, out, 0);
}

bool ct_view_api_windowed(const char *url)
{
    return strcmp(url, "/api/logs_at") == 0;
}

bool ct_view_api(struct ct_vreq *q, struct ct_vanswer *a, struct ct_timeline *tl)
{
    const char *url = ct_vreq_url(q);
    if (strcmp(url, "/api/search") == 0)
        search(q, a, tl);
    else if (strcmp(url, "/api/logs_at") == 0)
        logs_at(q, a, tl);
    else if (strcmp(url, "/api/utilization") == 0)
        utilization(q, a, tl);
    else
        return false;
    return true;
}

void ct_view_api_free(void)
{
    ct_util_free(&util);
    util_state = 0;
}
