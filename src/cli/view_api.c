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

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 char *data, size_t len)
{
    struct MHD_Response *r = ct_mhd.from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    ct_mhd.add_header(r, "Content-Type", type);
    ct_mhd.add_header(r, "Cache-Control", "no-store");
    ct_mhd.add_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = ct_mhd.queue(c, status, r);
    ct_mhd.destroy(r);
    return rc;
}

static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char *copy = strdup(msg);
    return copy ? send_text(c, status, "text/plain; charset=utf-8", copy, strlen(copy)) : MHD_NO;
}

/* A whole number parameter within [lo, hi]: 1; absent: 0; else -1. */
static int number(struct MHD_Connection *c, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, name);
    if (!s)
        return 0;
    if (!*s || strlen(s) > 20)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (*end || errno || n < lo || n > hi)
        return -1;
    *out = n;
    return 1;
}

/* Sends what write(out, arg) writes as JSON; 500 when it fails. */
static enum MHD_Result send_json(struct MHD_Connection *c, int rc, char *buf, size_t len)
{
    if (rc != 0) {
        free(buf);
        return refuse(c, 500, "cannot read the trace\n");
    }
    return send_text(c, 200, "application/json", buf, len);
}

#define T_MIN (INT64_MIN / 4)
#define T_MAX (INT64_MAX / 4)

static enum MHD_Result search(struct MHD_Connection *c, struct ct_timeline *tl)
{
    const char *q = ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, "q");
    int64_t after = tl->begin, limit = 50;
    if (!q || !*q || strlen(q) > 200)
        return refuse(c, 400, "q (1 to 200 characters) is required\n");
    if (number(c, "after", T_MIN, T_MAX, &after) < 0 || number(c, "limit", 1, 1000, &limit) < 0)
        return refuse(c, 400, "after (ns) and limit (1 to 1000) are whole numbers\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    int rc = ct_timeline_search_json(tl, q, after, (size_t)limit, out);
    fclose(out);
    return send_json(c, rc, buf, len);
}

static enum MHD_Result logs_at(struct MHD_Connection *c, struct ct_timeline *tl)
{
    int64_t tid = 0, t0, t1;
    if (number(c, "tid", 0, INT64_MAX, &tid) < 0 || number(c, "t0", T_MIN, T_MAX, &t0) != 1 ||
        number(c, "t1", T_MIN, T_MAX, &t1) != 1 || t1 <= t0)
        return refuse(c, 400, "t0 < t1 (ns) are required, tid a whole number\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    int rc = ct_timeline_logs_at_json(tl, (uint64_t)tid, t0, t1, 200, out);
    fclose(out);
    return send_json(c, rc, buf, len);
}

/* The utilization, computed on the first request (a pass over the trace)
 * and kept. */
static pthread_mutex_t util_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ct_util util;
static int util_state; /* 0 not computed, 1 computed, -1 failed */

static enum MHD_Result utilization(struct MHD_Connection *c, struct ct_timeline *tl)
{
    const char *mode = ct_mhd.lookup(c, MHD_GET_ARGUMENT_KIND, "mode");
    enum ct_util_mode m = CT_UTIL_MACHINE;
    if (mode && strcmp(mode, "demand") == 0)
        m = CT_UTIL_DEMAND;
    else if (mode && strcmp(mode, "machine") != 0)
        return refuse(c, 400, "mode must be machine or demand\n");
    int64_t t0 = tl->begin, t1 = tl->end, px = 1000, width = 0;
    if (number(c, "t0", T_MIN, T_MAX, &t0) < 0 || number(c, "t1", T_MIN, T_MAX, &t1) < 0 ||
        number(c, "px", 1, 20000, &px) < 0 || number(c, "width", 0, T_MAX, &width) < 0 ||
        t1 <= t0)
        return refuse(c, 400, "t0 < t1 (ns), px (1 to 20000) and width (ns) are whole numbers\n");
    pthread_mutex_lock(&util_lock);
    if (util_state == 0) {
        struct ct_reader rd;
        util_state = -1;
        if (tl->src_open && ct_rd_open_mem(&rd, tl->src.data, tl->src.size, tl->src.path) == 0) {
            if (ct_util_compute(&rd, tl->begin, tl->end, &util) == 0)
                util_state = 1;
            ct_rd_close(&rd);
        }
    }
    pthread_mutex_unlock(&util_lock);
    if (util_state != 1)
        return refuse(c, 500, "cannot read the trace\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    ct_util_json(&util, m, t0, t1, (unsigned)px, width, out);
    fclose(out);
    return send_json(c, 0, buf, len);
}

bool ct_view_api(struct MHD_Connection *c, const char *url, struct ct_timeline *tl,
                 enum MHD_Result *result)
{
    if (strcmp(url, "/api/search") == 0)
        *result = search(c, tl);
    else if (strcmp(url, "/api/logs_at") == 0)
        *result = logs_at(c, tl);
    else if (strcmp(url, "/api/utilization") == 0)
        *result = utilization(c, tl);
    else
        return false;
    return true;
}

void ct_view_api_free(void)
{
    ct_util_free(&util);
    util_state = 0;
}
