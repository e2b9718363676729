/*
 * test_flight.c - the flight recorder: the window's bounds under a steady
 * event rate, writes while threads trace, errors, and a flight recorder
 * beside a trace to a file.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Writes the window into memory and reads it back. */
static void read_window(ctrace_flight *f, struct test_trace *t, size_t *size_out)
{
    int fd = memfd_create("flight", 0);
    assert_true(fd >= 0);
    assert_int_equal(ctrace_flight_write(f, fd), 0);
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *data = malloc((size_t)size);
    assert_int_equal(pread(fd, data, (size_t)size, 0), size);
    close(fd);
    int rc = read_trace(data, (size_t)size, t);
    if (rc != 0)
        fail_msg("the window does not read: %s", t->error);
    assert_true(t->complete);
    if (size_out)
        *size_out = (size_t)size;
    free(data);
}

/* The first and last log event of a window, in ns since the session start. */
static void log_span(const struct test_trace *t, int64_t *first, int64_t *last, size_t *count)
{
    *first = INT64_MAX;
    *last = INT64_MIN;
    *count = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (t->events[i].kind != CT_EV_LOG)
            continue;
        (*count)++;
        if (t->events[i].ts_ns < *first)
            *first = t->events[i].ts_ns;
        if (t->events[i].ts_ns > *last)
            *last = t->events[i].ts_ns;
    }
}

/* `burst` logs every 100 us for `ms` milliseconds. */
static void steady_burst(unsigned ms, unsigned burst)
{
    uint64_t end = now_ns() + ms * 1000000ull;
    unsigned i = 0;
    while (now_ns() < end) {
        for (unsigned k = 0; k < burst; k++)
            ctrace_logf(CTRACE_NO_TASK, "tick", "tick %u", i++);
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
    }
}

static void steady(unsigned ms)
{
    steady_burst(ms, 1);
}

/* Age bound: 1.5 s of events into a 400 ms window (50 ms generations):
 * the window covers at least 400 ms, and not the whole run. */
static void test_window_age(void **state)
{
    (void)state;
    ctrace_flight_config c = {.min_age_ns = 400000000u, .max_bytes = 64u << 20};
    ctrace_flight *f = ctrace_flight_start(&c);
    assert_non_null(f);
    assert_true(ctrace_enabled());
    steady(1500);
    struct test_trace t;
    read_window(f, &t, NULL);
    int64_t first, last;
    size_t count;
    log_span(&t, &first, &last, &count);
    ctrace_flight_stop(f);
    assert_false(ctrace_enabled());
    int64_t span = last - first;
    print_message("window: %zu logs over %.1f ms in %llu generations\n", count, span / 1e6,
                  (unsigned long long)t.generations);
    assert_true(span >= 400000000 - 5000000);
    /* Older events were dropped. (400 ms plus one generation, which is
     * 50 ms when the tracer's thread keeps up: tests/flight_test.py checks
     * the rule exactly, generation by generation.) */
    assert_true(span < 1200000000);
    assert_true(t.generations >= 3);
    free_trace(&t);
}

/* Bytes bound: a 10 s window bounded to 256 KiB: the window written and the
 * memory held stay within max_bytes plus one generation (32 KiB). */
static void test_window_bytes(void **state)
{
    (void)state;
    const size_t max = 256u << 10;
    ctrace_flight_config c = {.min_age_ns = 10000000000u, .max_bytes = max};
    ctrace_flight *f = ctrace_flight_start(&c);
    assert_non_null(f);
    size_t held_max = 0, window_max = 0;
    ctrace_flight_stats st;
    for (int i = 0; i < 20; i++) {
        steady_burst(50, 10);
        ctrace_flight_get_stats(f, &st);
        if (st.held_bytes > held_max)
            held_max = st.held_bytes;
        if (st.window_bytes > window_max)
            window_max = st.window_bytes;
    }
    assert_true(st.dropped_generations > 0);
    assert_true(st.generations >= 2);
    assert_true(window_max <= max);
    struct test_trace t;
    size_t size;
    read_window(f, &t, &size);
    int64_t first, last;
    size_t count;
    log_span(&t, &first, &last, &count);
    ctrace_flight_stop(f);
    print_message("window: %zu bytes, %zu logs over %.1f ms; held at most %zu bytes\n", size,
                  count, (last - first) / 1e6, held_max);
    /* The window and the generation the write cut short (an eighth). */
    assert_true(size <= max + max / 8 + 4096);
    assert_true(last - first < 700000000); /* older events were dropped */
    assert_true(count > 1000);
    /* The window, and the generation being filled: its buffer is within a
     * quarter of the largest generation's size; plus, per generation, its
     * descriptor's page and its buffer's rounding up to a page. */
    print_message("largest generation %zu bytes\n", st.largest_generation_bytes);
    assert_true(held_max <= max + st.largest_generation_bytes * 5 / 4 +
                                (st.generations + 3) * 2 * 4096);
    free_trace(&t);
}

static atomic_bool stop_threads;

static void *busy(void *arg)
{
    (void)arg;
    ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "busy");
    while (!atomic_load(&stop_threads)) {
        for (int i = 0; i < 100; i++) {
            ctrace_region r = ctrace_region_begin(task, "work");
            /* a few microseconds of work: 1 M events/s on 2 cores */
            for (volatile int k = 0; k < 1000; k++)
                ;
            ctrace_region_end(r);
        }
        ctrace_log(task, "busy", "a hundred regions");
    }
    ctrace_task_end(task);
    return NULL;
}

/* Reads a window through the reader alone (the test helper keeps every
 * event, too slow for large windows under the sanitizers): whole, no
 * warning; returns its region begins. */
static size_t check_window(ctrace_flight *f, size_t *size_out, uint64_t *lost)
{
    int fd = memfd_create("flight", 0);
    assert_true(fd >= 0);
    assert_int_equal(ctrace_flight_write(f, fd), 0);
    off_t size = lseek(fd, 0, SEEK_END);
    void *data = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(data != MAP_FAILED);
    struct ct_reader rd;
    assert_int_equal(ct_rd_open_mem(&rd, data, (size_t)size, "window"), 0);
    struct ct_gen gen = {0};
    size_t regions = 0;
    int r;
    *lost = 0;
    while ((r = ct_rd_next_gen(&rd, &gen)) == 1) {
        assert_true(gen.complete);
        for (size_t i = 0; i < gen.nlost; i++)
            *lost += gen.lost[i].count;
        for (size_t b = 0; b < gen.nbatches; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_next_event(&rd, &it, &ev)) == 1)
                regions += ev.kind == CT_EV_REGION_BEGIN;
            assert_int_equal(r, 0);
        }
    }
    assert_int_equal(r, 0);
    assert_int_equal(rd.warning[0], 0);
    assert_true(rd.at_end);
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    munmap(data, (size_t)size);
    close(fd);
    *size_out = (size_t)size;
    return regions;
}

/* Writes while 8 threads trace heavily: every window is a valid trace. */
static void test_write_under_load(void **state)
{
    (void)state;
    ctrace_flight_config c = {.min_age_ns = 200000000u, .max_bytes = 1u << 20};
    ctrace_flight *f = ctrace_flight_start(&c);
    assert_non_null(f);
    atomic_store(&stop_threads, false);
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, busy, NULL);
    for (int k = 0; k < 5; k++) {
        struct timespec pause = {0, 60000000};
        nanosleep(&pause, NULL);
        uint64_t t0 = now_ns(), lost;
        size_t size;
        size_t regions = check_window(f, &size, &lost);
        print_message("window %d: %zu bytes, %zu regions, %llu lost, %.1f ms to write and read\n",
                      k, size, regions, (unsigned long long)lost, (now_ns() - t0) / 1e6);
        assert_true(regions > 1000);
    }
    atomic_store(&stop_threads, true);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    ctrace_flight_stop(f);
}

struct writer_arg {
    ctrace_flight *f;
    int fd;
    _Atomic int rc;
};

static void *write_window(void *arg)
{
    struct writer_arg *a = arg;
    atomic_store(&a->rc, ctrace_flight_write(a->f, a->fd));
    return NULL;
}

/* One write at a time: a second one while the first is blocked on a full
 * pipe is EBUSY; an fd that is closed gives its error and the recorder
 * goes on. */
static void test_busy_and_errors(void **state)
{
    (void)state;
    ctrace_flight *f = ctrace_flight_start(&(ctrace_flight_config){0});
    assert_non_null(f);
    ctrace_flight *second = ctrace_flight_start(&(ctrace_flight_config){0});
    assert_null(second);
    assert_int_equal(errno, EBUSY);
    steady(100);
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    struct writer_arg a = {f, p[1], 1};
    pthread_t th;
    pthread_create(&th, NULL, write_window, &a);
    /* The first write is under way once the pipe is full. */
    struct pollfd pfd = {p[0], POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    struct timespec pause = {0, 50000000};
    nanosleep(&pause, NULL);
    int fd = memfd_create("second", 0);
    assert_int_equal(ctrace_flight_write(f, fd), -EBUSY);
    char buf[65536];
    ssize_t total = 0, n;
    /* Drain until the writer closes nothing: read until the thread is done. */
    int flags = fcntl(p[0], F_GETFL);
    fcntl(p[0], F_SETFL, flags | O_NONBLOCK);
    for (;;) {
        n = read(p[0], buf, sizeof buf);
        if (n > 0) {
            total += n;
            continue;
        }
        if (atomic_load(&a.rc) != 1)
            break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    pthread_join(th, NULL);
    while ((n = read(p[0], buf, sizeof buf)) > 0)
        total += n;
    assert_int_equal(atomic_load(&a.rc), 0);
    assert_true(total > 1000);
    close(p[0]);
    close(p[1]);
    /* A closed fd, a read-only fd: errors, and the recorder goes on. */
    int closed = dup(fd);
    close(closed);
    assert_int_equal(ctrace_flight_write(f, closed), -EBADF);
    int ro = open("/dev/null", O_RDONLY);
    assert_int_equal(ctrace_flight_write(f, ro), -EBADF);
    close(ro);
    int full = open("/dev/full", O_WRONLY);
    if (full >= 0) {
        assert_int_equal(ctrace_flight_write(f, full), -ENOSPC);
        close(full);
    }
    assert_true(ctrace_enabled());
    steady(20);
    struct test_trace t;
    read_window(f, &t, NULL);
    assert_true(count_kind(&t, CT_EV_LOG) > 10);
    free_trace(&t);
    close(fd);
    ctrace_flight_stop(f);
    assert_int_equal(ctrace_flight_write(NULL, 1), -EINVAL);
}

static void test_bad_config(void **state)
{
    (void)state;
    errno = 0;
    assert_null(ctrace_flight_start(&(ctrace_flight_config){.max_bytes = 1000}));
    assert_int_equal(errno, EINVAL);
    assert_null(ctrace_flight_start(
        &(ctrace_flight_config){.min_age_ns = CTRACE_FLIGHT_MAX_AGE_NS + 1}));
    assert_int_equal(errno, EINVAL);
    assert_null(ctrace_flight_start(&(ctrace_flight_config){.trace.buffer_bytes = 4096}));
    assert_int_equal(errno, EINVAL);
    assert_false(ctrace_enabled());
    /* Zero takes the defaults. */
    ctrace_flight *f = ctrace_flight_start(NULL);
    assert_non_null(f);
    ctrace_flight_stop(f);
    ctrace_flight_stop(NULL);
}

/* A flight recorder and a trace to a file, started and stopped in either
 * order: both are complete traces, the file holds every event. */
static void test_with_file(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        struct recording r;
        ctrace_flight *f = NULL;
        if (order == 0) {
            rec_start(&r, NULL);
            f = ctrace_flight_start(&(ctrace_flight_config){.min_age_ns = 1000000000u});
        } else {
            f = ctrace_flight_start(&(ctrace_flight_config){.min_age_ns = 1000000000u});
            rec_start(&r, NULL);
        }
        assert_non_null(f);
        for (int i = 0; i < 1000; i++)
            ctrace_logf(CTRACE_NO_TASK, "both", "event %d", i);
        struct test_trace window;
        read_window(f, &window, NULL);
        assert_int_equal(count_kind(&window, CT_EV_LOG), 1000);
        free_trace(&window);
        size_t size;
        uint8_t *data;
        if (order == 0) {
            ctrace_flight_stop(f);
            assert_true(ctrace_enabled());
            ctrace_log(CTRACE_NO_TASK, "both", "after the flight recorder");
            data = rec_stop(&r, &size);
        } else {
            data = rec_stop(&r, &size);
            assert_true(ctrace_enabled());
            ctrace_log(CTRACE_NO_TASK, "both", "after the file");
            read_window(f, &window, NULL);
            assert_int_equal(count_kind(&window, CT_EV_LOG), 1001);
            free_trace(&window);
            ctrace_flight_stop(f);
        }
        assert_false(ctrace_enabled());
        struct test_trace t;
        assert_int_equal(read_trace(data, size, &t), 0);
        assert_true(t.complete);
        assert_int_equal(count_kind(&t, CT_EV_LOG), order == 0 ? 1001 : 1000);
        free_trace(&t);
        free(data);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_window_age),
        cmocka_unit_test(test_window_bytes),
        cmocka_unit_test(test_write_under_load),
        cmocka_unit_test(test_busy_and_errors),
        cmocka_unit_test(test_with_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
