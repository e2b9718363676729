/*
 * export_otlp.c - `ctrace export --format=otlp [-o OUT] [--otlp-endpoint URL]
 * FILE...`: tasks, regions and logs as OpenTelemetry spans (otlp.c), as
 * OTLP/JSON lines in a file and/or POSTed to a collector (OTLP/HTTP).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../analysis/otlp.h"
#include "cli.h"
#include "export.h"
#include "http.h"

struct sender {
    FILE *out;
    const char *output;
    char *url; /* the collector's /v1/traces */
    const char *path;
    bool failed;
    struct ct_progress *progress;
    struct ct_otlp_counts *counts;
};

/* A response that names rejected spans (a partial success) is shown. */
static int post(struct sender *s, const char *json, size_t len)
{
    struct ct_http_response r;
    /* A collector busy or restarting (429, 502, 503, 504) is tried again,
     * 1, 2, then 4 s later, as OTLP asks; any other answer is final. */
    for (unsigned attempt = 0;; attempt++) {
        if (ct_http_post(s->url, "application/json", json, len, &r) != 0) {
            fprintf(stderr, "ctrace export: %s: cannot send spans to %s: %s\n", s->path, s->url,
                    r.error);
            ct_http_response_free(&r);
            return -1;
        }
        bool retry = r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504;
        if (!retry || attempt == 3)
            break;
        ct_http_response_free(&r);
        sleep(1u << attempt);
    }
    int rc = 0;
    if (r.status < 200 || r.status > 299) {
        fprintf(stderr, "ctrace export: %s: the collector at %s refused the spans (HTTP %ld): %s\n",
                s->path, s->url, r.status, r.body ? r.body : "");
        rc = -1;
    } else if (r.body && strstr(r.body, "rejectedSpans")) {
        fprintf(stderr, "ctrace export: %s: the collector at %s took part of the spans: %s\n",
                s->path, s->url, r.body);
    }
    ct_http_response_free(&r);
    return rc;
}

static int on_request(void *ctx, const char *json, size_t len)
{
    struct sender *s = ctx;
    if (s->out && (fwrite(json, 1, len, s->out) != len || fputc('\n', s->out) == EOF)) {
        fprintf(stderr, "ctrace export: cannot write %s: %s\n", s->output ? s->output : "stdout",
                strerror(errno));
        s->failed = true;
        return -1;
    }
    if (s->url && post(s, json, len) != 0) {
        s->failed = true;
        return -1;
    }
    return 0;
}

static void on_progress(void *ctx, uint64_t done, uint64_t size)
{
    struct sender *s = ctx;
    (void)size;
    ct_progress_update(s->progress, done, s->counts->spans, "spans");
}

/* The collector's URL for traces: /v1/traces after a URL with no path. */
static char *traces_url(const char *endpoint)
{
    const char *scheme = strstr(endpoint, "://");
    const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
    if (path && path[1] && path[1] != '?')
        return strdup(endpoint);
    return ct_http_url(endpoint, "/v1/traces", "");
}

int ct_export_otlp(const struct ct_export_options *o)
{
    struct ct_otlp_counts counts = {0};
    struct ct_progress progress;
    struct sender s = {.output = o->output, .progress = &progress, .counts = &counts};
    if (o->otlp_endpoint) {
        const char *why = ct_http_init();
        if (why) {
            fprintf(stderr, "ctrace export: %s\n", why);
            return CT_EXIT_BAD_INPUT;
        }
        if (!(s.url = traces_url(o->otlp_endpoint)))
            return CT_EXIT_BAD_INPUT;
    }
    /* With a collector and no -o, nothing is written here. */
    if (o->output)
        s.out = fopen(o->output, "w");
    else if (!o->otlp_endpoint)
        s.out = stdout;
    if (o->output && !s.out) {
        fprintf(stderr, "ctrace export: cannot write %s: %s\n", o->output, strerror(errno));
        free(s.url);
        return CT_EXIT_BAD_INPUT;
    }
    struct ct_otlp_out out = {&s, on_request, on_progress};
    ct_progress_start(&progress, o->files, o->nfiles);
    int rc = CT_EXIT_OK;
    for (int i = 0; i < o->nfiles && !s.failed; i++) {
        const char *path = o->files[i];
        struct ct_reader rd;
        struct ct_fleet_trace who;
        s.path = path;
        if (ct_fleet_identify(path, &who, &rd) != 0 || ct_rd_open(&rd, path) != 0) {
            ct_cli_report(&rd);
            rc = CT_EXIT_BAD_INPUT;
            continue;
        }
        char resolved[PATH_MAX];
        const char *file = realpath(path, resolved) ? resolved : path;
        const char *host = who.host[0] ? who.host : "unknown";
        int r = ct_otlp_export(&rd, &who, host, file, &out, &counts);
        ct_progress_end(&progress);
        ct_cli_report(&rd);
        ct_rd_close(&rd);
        if (r != 0)
            rc = CT_EXIT_BAD_INPUT;
        ct_progress_file_done(&progress, rd.size);
    }
    ct_progress_end(&progress);
    if (s.out && s.out != stdout && fclose(s.out) != 0) {
        fprintf(stderr, "ctrace export: cannot write %s: %s\n", o->output, strerror(errno));
        rc = CT_EXIT_BAD_INPUT;
    } else if (s.out == stdout && fflush(stdout) != 0) {
        rc = CT_EXIT_BAD_INPUT;
    }
    if (rc != CT_EXIT_OK && o->output)
        remove(o->output); /* no half-written export left behind */
    if (rc == CT_EXIT_OK && s.url)
        fprintf(stderr, "ctrace export: %llu spans (%llu tasks, %llu regions, %llu logs alone) "
                        "in %llu requests sent to %s\n",
                (unsigned long long)counts.spans, (unsigned long long)counts.task_spans,
                (unsigned long long)counts.region_spans, (unsigned long long)counts.log_spans,
                (unsigned long long)counts.requests, s.url);
    free(s.url);
    return rc;
}
