/* helpers.h - recording a trace in memory and reading it back, for tests. */
#ifndef CT_TEST_HELPERS_H
#define CT_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctrace.h"
#include "../src/format/reader.h"

/* A trace being recorded into an anonymous file. */
struct recording {
    int fd;
};

void rec_start(struct recording *r, const ctrace_config *config);
/* Stops tracing; returns the trace's bytes (malloc'd) and their count. */
uint8_t *rec_stop(struct recording *r, size_t *size);

/* One decoded event, with its strings resolved. */
struct test_event {
    uint8_t kind;
    uint64_t tid;
    int64_t ts_ns;
    uint64_t args[CT_MAX_ARGS];
    unsigned nargs;
    char text[64];                     /* the 'b' argument, cut to fit */
    size_t text_len;                   /* its whole length */
    char str[64];                      /* the first 's' argument, resolved */
    uint64_t stack;
    unsigned nframes;                  /* of the stack, resolved */
};

struct test_trace {
    struct test_event *events;
    size_t count;
    uint64_t generations, lost;
    uint64_t batch_lost; /* the GEN_END records' count of the lost events */
    bool complete;
    char error[512], warning[512];
};

/* Reads a whole trace; returns 0, or -1 with the reader's error copied. */
int read_trace(const uint8_t *data, size_t size, struct test_trace *out);
/* The same through a file read by ct_rd_open (streamed with pread, not
 * mapped): must give the same events, warnings and errors. */
int read_trace_streamed(const uint8_t *data, size_t size, struct test_trace *out);
/* The error or warning without its file name. */
const char *after_path(const char *message);
void free_trace(struct test_trace *t);
size_t count_kind(const struct test_trace *t, unsigned kind);

#endif
