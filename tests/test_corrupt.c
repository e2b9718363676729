/*
 * test_corrupt.c - the reader given damaged and hostile files: a trace cut
 * at every byte, every byte flipped, and hand-made records with lying
 * lengths and counts. Each gives an error naming the byte offset (or, cut
 * between records, a warning), never a crash, an out-of-bounds read or a
 * huge allocation; run it under AddressSanitizer to see the last two.
 */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

#include "../src/format/crc32c.h"

static uint8_t *trace;
static size_t trace_size;

static int setup(void **state)
{
    (void)state;
    struct recording r;
    rec_start(&r, NULL);
    ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "t");
    ctrace_region region = ctrace_region_begin(task, "r");
    ctrace_log(task, "c", "message");
    ctrace_region_end(region);
    ctrace_task_end(task);
    trace = rec_stop(&r, &trace_size);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(trace);
    return 0;
}

static bool is_record_boundary(size_t at)
{
    size_t off = CT_FILE_HEADER_SIZE;
    while (off < at && off + CT_RECORD_HEADER_SIZE <= trace_size)
        off += CT_RECORD_HEADER_SIZE + ct_get_u32(trace + off + 4);
    return off == at;
}

/* The hardware CRC (three interleaved streams on long buffers, joined by
 * multiplication) agrees with the table one at every length and alignment,
 * and continues a CRC the same way; and the check value of "123456789". */
static void test_crc32c_versions_agree(void **state)
{
    (void)state;
    assert_int_equal(ct_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(ct_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    size_t size = 70000;
    uint8_t *buf = malloc(size + 8);
    assert_non_null(buf);
    uint32_t x = 1;
    for (size_t i = 0; i < size + 8; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t len = 0; len <= size; len += 1 + len / 5)
        for (size_t off = 0; off < 8; off += 3) {
            uint32_t seed = (uint32_t)(len * 2654435761u);
            assert_int_equal(ct_crc32c(seed, buf + off, len), ct_crc32c_sw(seed, buf + off, len));
        }
    assert_int_equal(ct_crc32c(ct_crc32c(0, buf, 1000), buf + 1000, 30000),
                     ct_crc32c(0, buf, 31000));
    free(buf);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    struct test_trace t;
    assert_int_equal(read_trace(trace, trace_size, &t), 0);
    free_trace(&t);
    for (size_t cut = 0; cut < trace_size; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(copy, trace, cut);
        int rc = read_trace(copy, cut, &t);
        struct test_trace st;
        int src = read_trace_streamed(copy, cut, &st);
        if (src != rc || strcmp(after_path(st.error), after_path(t.error)) != 0 ||
            strcmp(after_path(st.warning), after_path(t.warning)) != 0 || st.count != t.count)
            fail_msg("cut at %zu: streamed and in memory differ: \"%s\" / \"%s\"", cut,
                     st.error, t.error);
        free_trace(&st);
        if (cut >= CT_FILE_HEADER_SIZE && is_record_boundary(cut)) {
            if (rc != 0)
                fail_msg("cut at %zu (a record boundary): %s", cut, t.error);
            assert_true(t.warning[0] != 0);
        } else {
            if (rc == 0)
                fail_msg("cut at %zu read without error", cut);
            assert_non_null(strstr(t.error, "byte "));
        }
        free_trace(&t);
        free(copy);
    }
}

static void test_every_byte_flipped(void **state)
{
    (void)state;
    uint8_t *copy = malloc(trace_size);
    static const uint8_t masks[] = {0x01, 0x80, 0xFF};
    for (size_t at = 0; at < trace_size; at++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, trace, trace_size);
            copy[at] ^= masks[m];
            struct test_trace t, st;
            if (read_trace(copy, trace_size, &t) == 0)
                fail_msg("byte %zu ^ 0x%02x read without error", at, masks[m]);
            if (read_trace_streamed(copy, trace_size, &st) == 0 ||
                strcmp(after_path(st.error), after_path(t.error)) != 0)
                fail_msg("byte %zu ^ 0x%02x: streamed and in memory differ: \"%s\" / \"%s\"",
                         at, masks[m], st.error, t.error);
            free_trace(&st);
            assert_non_null(strstr(t.error, "byte "));
            free_trace(&t);
        }
    }
    free(copy);
}

/* ---- hand-made files ---- */

struct file {
    uint8_t data[4096];
    size_t len;
};

static void put(struct file *f, const void *p, size_t n)
{
    assert_true(f->len + n <= sizeof f->data);
    memcpy(f->data + f->len, p, n);
    f->len += n;
}

static void header(struct file *f)
{
    uint8_t h[CT_FILE_HEADER_SIZE] = {0};
    memcpy(h, CT_MAGIC, CT_MAGIC_LEN);
    ct_put_u16(h + 8, CT_VERSION_MAJOR);
    ct_put_u32(h + 12, CT_ENDIAN_CHECK);
    ct_put_u32(h + 16, CT_FILE_HEADER_SIZE);
    ct_put_u32(h + 20, ct_crc32c(0, h, 20));
    f->len = 0;
    put(f, h, sizeof h);
}

/* A record with a correct checksum around whatever payload it is given. */
static void record(struct file *f, unsigned type, const uint8_t *payload, size_t n)
{
    uint8_t h[CT_RECORD_HEADER_SIZE] = {(uint8_t)type};
    ct_put_u32(h + 4, (uint32_t)n);
    ct_put_u32(h + 8, ct_crc32c(ct_crc32c(0, h, 8), payload, n));
    put(f, h, sizeof h);
    put(f, payload, n);
}

static void gen_begin(struct file *f)
{
    static const uint8_t p[] = {1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10};
    record(f, CT_REC_GEN_BEGIN, p, sizeof p);
}

static void expect_error(struct file *f, const char *what)
{
    uint8_t *copy = malloc(f->len);
    memcpy(copy, f->data, f->len);
    struct test_trace t;
    int rc = read_trace(copy, f->len, &t);
    if (rc == 0 || !strstr(t.error, what))
        fail_msg("expected an error with \"%s\", got \"%s\"", what, t.error);
    free_trace(&t);
    free(copy);
}

static void test_hostile_records(void **state)
{
    (void)state;
    struct file f;

    /* A thread count that would need exabytes. */
    header(&f);
    gen_begin(&f);
    static const uint8_t many_threads[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    record(&f, CT_REC_THREADS, many_threads, sizeof many_threads);
    expect_error(&f, "cannot fit");

    header(&f);
    gen_begin(&f);
    record(&f, CT_REC_MODULES, many_threads, sizeof many_threads);
    expect_error(&f, "cannot fit");

    /* An overlong LEB128. */
    header(&f);
    static const uint8_t overlong[] = {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x01, 0, 0, 1};
    record(&f, CT_REC_GEN_BEGIN, overlong, sizeof overlong);
    expect_error(&f, "bad or missing");

    /* A record longer than the file. */
    header(&f);
    uint8_t h[CT_RECORD_HEADER_SIZE] = {CT_REC_GEN_BEGIN};
    ct_put_u32(h + 4, 1000);
    put(&f, h, sizeof h);
    expect_error(&f, "file ends inside");

    /* A record length past the format's limit. */
    header(&f);
    ct_put_u32(h + 4, 0xFFFFFFF0u);
    put(&f, h, sizeof h);
    expect_error(&f, "exceeds the limit");

    /* An unknown record type. */
    header(&f);
    record(&f, 77, (const uint8_t *)"", 0);
    expect_error(&f, "unknown record type");

    /* A batch with an event kind no schema defines. */
    header(&f);
    gen_begin(&f);
    static const uint8_t unknown_kind[] = {1, 0, 59, 0};
    record(&f, CT_REC_BATCH, unknown_kind, sizeof unknown_kind);
    static const uint8_t end1[] = {1, 0, 0, 1, 0};
    record(&f, CT_REC_GEN_END, end1, sizeof end1);
    expect_error(&f, "unknown event kind 59");

    /* An event that uses a string no definition gave. */
    header(&f);
    gen_begin(&f);
    static const uint8_t undefined_string[] = {1, 0, CT_EV_REGION_BEGIN, 0, 0, 7};
    record(&f, CT_REC_BATCH, undefined_string, sizeof undefined_string);
    record(&f, CT_REC_GEN_END, end1, sizeof end1);
    expect_error(&f, "string 7, which is not defined");

    /* A stack of 1000 frames. */
    header(&f);
    gen_begin(&f);
    static const uint8_t deep_stack[] = {1, 0, CT_EV_STACK, 1, 0xe8, 0x07, 1, 1, 1};
    record(&f, CT_REC_BATCH, deep_stack, sizeof deep_stack);
    record(&f, CT_REC_GEN_END, end1, sizeof end1);
    expect_error(&f, "stack of 1000 frames");

    /* A stack flag on a kind without a stack argument. */
    header(&f);
    gen_begin(&f);
    static const uint8_t bad_flag[] = {1, 0, CT_EV_THREAD_EXIT | CT_KIND_STACK, 0};
    record(&f, CT_REC_BATCH, bad_flag, sizeof bad_flag);
    record(&f, CT_REC_GEN_END, end1, sizeof end1);
    expect_error(&f, "stack flag");

    /* An end record that miscounts the batches. */
    header(&f);
    gen_begin(&f);
    static const uint8_t end5[] = {1, 0, 0, 5, 0};
    record(&f, CT_REC_GEN_END, end5, sizeof end5);
    expect_error(&f, "its end says 5");

    /* Data after the end record. */
    header(&f);
    gen_begin(&f);
    static const uint8_t end0[] = {1, 0, 0, 0, 0};
    record(&f, CT_REC_GEN_END, end0, sizeof end0);
    static const uint8_t one[] = {1};
    record(&f, CT_REC_END, one, sizeof one);
    put(&f, "junk", 4);
    expect_error(&f, "after the end record");

    /* A schema that disagrees with this reader about a known kind. */
    header(&f);
    gen_begin(&f);
    static const uint8_t schema[] = {1, CT_EV_LOG, 1, 3, 'l', 'o', 'g', 1, 'u', 1, 'x'};
    record(&f, CT_REC_SCHEMA, schema, sizeof schema);
    expect_error(&f, "has arguments 'u' in the file");

    /* Not a trace, empty, wrong byte order, newer major version. */
    f.len = 0;
    put(&f, "hello world, this is not a trace at all", 39);
    expect_error(&f, "not a ctrace trace");
    header(&f);
    f.data[12] = 0x0A;
    f.data[15] = 0x0D;
    expect_error(&f, "byte-order");
    header(&f);
    f.data[8] = 9;
    ct_put_u32(f.data + 20, ct_crc32c(0, f.data, 20));
    expect_error(&f, "format version 9.0");
    header(&f);
    f.data[10] = 1;
    expect_error(&f, "header checksum");
}

/* A kind from a newer version, declared by the file's schema, is read and
 * skipped by its declared arguments. */
static void test_newer_kind_is_skipped(void **state)
{
    (void)state;
    struct file f;
    header(&f);
    gen_begin(&f);
    static const uint8_t schema[] = {1, 60, 1, 6, 'f', 'u', 't', 'u', 'r', 'e',
                                     2, 'u', 'b', 3, 'n', ',', 'm'};
    record(&f, CT_REC_SCHEMA, schema, sizeof schema);
    static const uint8_t batch[] = {1, 0, 60, 5, 42, 3, 'a', 'b', 'c', CT_EV_THREAD_EXIT, 1};
    record(&f, CT_REC_BATCH, batch, sizeof batch);
    static const uint8_t end1[] = {1, 0, 0, 1, 0};
    record(&f, CT_REC_GEN_END, end1, sizeof end1);
    static const uint8_t one[] = {1};
    record(&f, CT_REC_END, one, sizeof one);
    struct test_trace t;
    int rc = read_trace(f.data, f.len, &t);
    if (rc != 0)
        fail_msg("%s", t.error);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.events[0].kind, 60);
    assert_int_equal(t.events[0].args[0], 42);
    assert_string_equal(t.events[0].text, "abc");
    assert_int_equal(t.events[1].kind, CT_EV_THREAD_EXIT);
    free_trace(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_versions_agree),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_every_byte_flipped),
        cmocka_unit_test(test_hostile_records),
        cmocka_unit_test(test_newer_kind_is_skipped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
