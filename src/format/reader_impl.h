/*
 * reader_impl.h - what the reader's files (reader.c, file.c, skim.c,
 * symtab.c) share and its users do not see.
 */
#ifndef CT_READER_IMPL_H
#define CT_READER_IMPL_H

#include "reader.h"

/* The fuzz target builds the reader with checksums ignored, so that the
 * fuzzer reaches what lies behind them (as zstd and others do). */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUMS_DIFFER(a, b) ((void)(a), (void)(b), false)
#else
#define CHECKSUMS_DIFFER(a, b) ((a) != (b))
#endif

/* Records the error "PATH: byte OFFSET: what" and stops reading; -1. */
int ct_rd_fail(struct ct_reader *rd, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define fail ct_rd_fail

/* Whether a BATCH record whose payload begins at p (len bytes) is one of
 * the threads the reader skips (streamed, rd->skip_thread). */
static inline bool ct_rd_skipped(const struct ct_reader *rd, const uint8_t *p, uint64_t len)
{
    if (!rd->skip_thread || !rd->streamed)
        return false;
    struct ct_cursor c = {p, p + (len < 20 ? len : 20)};
    uint64_t tid;
    return ct_get_uleb(&c, &tid) == 0 && rd->skip_thread(rd->skip_ctx, tid);
}

/* The bytes at file offset `at`; when streamed, ct_rd_load_span has read
 * them. */
static inline const uint8_t *ct_rd_at(const struct ct_reader *rd, uint64_t at)
{
    return !rd->streamed ? rd->data + at : rd->buf + (at - rd->buf_off);
}

/* Streamed: reads the records from rd->off up to and including the next
 * generation's end (file.c); 0, or -1 with the error. */
int ct_rd_load_span(struct ct_reader *rd);
/* Checks the file header (file.c). */
int ct_rd_check_header(struct ct_reader *rd);

/* What a skimmed varint is for (ct_kind's plan, skim.c). */
enum { SKIM_PLAIN, SKIM_STRING, SKIM_STACK, SKIM_TASK, SKIM_BYTES };

#endif
