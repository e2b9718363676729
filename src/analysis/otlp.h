/*
 * otlp.h - a trace's tasks, regions and logs as OpenTelemetry spans, in
 * OTLP/JSON (otlp.c): ExportTraceServiceRequest messages of at most
 * CT_OTLP_REQUEST_MAX bytes each, handed to the caller one at a time (a
 * line of a file, a POST to a collector).
 */
#ifndef CT_OTLP_H
#define CT_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "../format/reader.h"
#include "fleet.h"

/* The collectors' default limit on a request is 4 MiB (OTLP/gRPC) or 20
 * MiB (OTLP/HTTP): requests stay under the smaller. */
#define CT_OTLP_REQUEST_MAX (4u << 20)

struct ct_otlp_out {
    void *ctx;
    /* One complete request (JSON, no newline); non-zero stops the export. */
    int (*request)(void *ctx, const char *json, size_t len);
    /* May be NULL: the bytes of the file read so far. */
    void (*progress)(void *ctx, uint64_t done, uint64_t size);
};

struct ct_otlp_counts {
    uint64_t spans, task_spans, region_spans, log_spans, events, dropped_events, requests;
};

/* Reads the whole trace (rd freshly opened) as spans of one resource: the
 * process of `who`, on `host`, from `file`. 0, -1 with the error in rd, or
 * 1 when out->request stopped it. counts are added to. */
int ct_otlp_export(struct ct_reader *rd, const struct ct_fleet_trace *who, const char *host,
                   const char *file, const struct ct_otlp_out *out, struct ct_otlp_counts *counts);

#endif
