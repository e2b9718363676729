/*
 * test_concurrency.c - many threads recording at once while the writer
 * closes a generation every few milliseconds: every event is read back, in
 * each thread's order, with timestamps that never go back. Also run under
 * ThreadSanitizer.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define THREADS 8
#ifndef EVENTS
#define EVENTS 100000
#endif

static void *record(void *arg)
{
    (void)arg;
    for (uint64_t i = 0; i < EVENTS; i++) {
        ctrace_region r = ctrace_region_begin((ctrace_task){i + 1}, "step");
        ctrace_region_end(r);
    }
    return NULL;
}

/* THREADS threads recording EVENTS regions each, generations of gen_ns:
 * the trace's bytes. */
static uint8_t *record_threads(uint64_t gen_ns, size_t *size)
{
    /* Room for every event even if the writer never ran: under
     * ThreadSanitizer, with other tests beside, 8 recording threads can
     * keep it off both CPUs for longer than 64 MiB of batches last (a
     * batch dropped then is counted lost, as it should be). */
    ctrace_config config = {.generation_ns = gen_ns, .stacks = -1, .buffer_bytes = (size_t)256 << 20};
    struct recording rec;
    rec_start(&rec, &config);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, record, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    return rec_stop(&rec, size);
}

static void test_threads_in_order(void **state)
{
    (void)state;
    size_t size;
    uint8_t *data = record_threads(5000000, &size);

    struct test_trace t;
    int rc = read_trace(data, size, &t);
    if (rc != 0)
        fail_msg("%s", t.error);
    assert_int_equal(t.lost, 0);
    /* Generations turn while the threads record; how many depends on when
     * the writer gets a CPU, which a loaded machine may delay. */
    if (t.generations < 2)
        print_message("note: only %llu generation (a busy machine)\n",
                      (unsigned long long)t.generations);
    uint64_t tids[THREADS] = {0}, next[THREADS] = {0};
    int64_t last[THREADS] = {0};
    size_t begins = 0;
    for (size_t i = 0; i < t.count; i++) {
        const struct test_event *e = &t.events[i];
        if (e->kind != CT_EV_REGION_BEGIN && e->kind != CT_EV_REGION_END)
            continue;
        int k = 0;
        while (k < THREADS && tids[k] && tids[k] != e->tid)
            k++;
        assert_true(k < THREADS);
        tids[k] = e->tid;
        assert_true(e->ts_ns >= last[k]);
        last[k] = e->ts_ns;
        if (e->kind == CT_EV_REGION_BEGIN) {
            assert_int_equal(e->args[0], next[k] + 1); /* in this thread's order */
            next[k]++;
            begins++;
        }
    }
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(next[k], EVENTS);
    assert_int_equal(begins, (size_t)THREADS * EVENTS);
    assert_int_equal(count_kind(&t, CT_EV_REGION_END), (size_t)THREADS * EVENTS);
    free_trace(&t);
    free(data);
}

/* The clock lines of neighbouring generations meet: the writer reads a
 * generation's end once no thread is inside one of its events, and each
 * GEN_BEGIN carries the rate of the generation before, which the reader
 * uses for times before the base (an event begun as the generation
 * turned). Without it, one thread's times could go back across a boundary
 * by the two lines' difference (seen as a rare failure above). */
static void test_clock_lines_meet(void **state)
{
    (void)state;
    struct ct_gen a = {.base_units = 1000, .base_mono_ns = 5000, .q32 = 2ull << 32};
    struct ct_gen b = {.base_units = 3000, .base_mono_ns = 9000, .q32 = 3ull << 31,
                       .prev_q32 = 2ull << 32};
    struct ct_reader rd = {.start_mono_ns = 0};
    for (uint64_t u = 2500; u < 3500; u += 7) {
        int64_t ns = ct_gen_ns(&rd, u < 3000 ? &a : &b, u);
        /* A time filed in the second generation, on either side of its
         * base, is on the first's line before it. */
        assert_int_equal(ct_gen_ns(&rd, &b, u), ns);
    }

    size_t size;
    uint8_t *data = record_threads(1000000, &size);
    assert_int_equal(ct_rd_open_mem(&rd, data, size, "test.out"), 0);
    struct ct_gen gen = {0};
    uint64_t prev_rate = 0, prev_end_units = 0, gens = 0;
    int64_t prev_end_ns = 0;
    while (ct_rd_next_gen(&rd, &gen) == 1) {
        if (gens++) {
            assert_int_equal(gen.prev_q32, prev_rate);
            assert_int_equal(gen.base_units, prev_end_units);
            /* (The end as the previous line gives it is rounded down.) */
            int64_t gap = ct_gen_ns(&rd, &gen, gen.base_units) - prev_end_ns;
            assert_true(gap == 0 || gap == 1);
        }
        assert_true(gen.complete);
        prev_rate = gen.q32;
        prev_end_units = gen.end_units;
        prev_end_ns = ct_gen_ns(&rd, &gen, gen.end_units);
    }
    assert_true(gens >= 2);
    ct_rd_close(&rd);
    free(data);
}

/* Threads that come and go while tracing, so that descriptors are reused. */
static void *short_life(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        ctrace_log(CTRACE_NO_TASK, "short", "life");
    return NULL;
}

static void test_thread_churn(void **state)
{
    (void)state;
    ctrace_config config = {.generation_ns = 2000000};
    struct recording rec;
    rec_start(&rec, &config);
    for (int round = 0; round < 50; round++) {
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, short_life, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
    }
    size_t size;
    uint8_t *data = rec_stop(&rec, &size);
    struct test_trace t;
    int rc = read_trace(data, size, &t);
    if (rc != 0)
        fail_msg("%s", t.error);
    assert_int_equal(t.lost, 0);
    assert_int_equal(count_kind(&t, CT_EV_LOG), 50 * 4 * 100);
    assert_int_equal(count_kind(&t, CT_EV_THREAD_EXIT), 50 * 4);
    free_trace(&t);
    free(data);
}

/* Many threads ending within one (long) generation: the writer ends it
 * early every 256 exits, so that their descriptors (given back only at a
 * generation's end) do not pile up: 1000 threads, at least 3 generations. */
static void *log_once(void *arg)
{
    (void)arg;
    ctrace_log(CTRACE_NO_TASK, "once", "here");
    return NULL;
}

static void test_many_exits_end_generations(void **state)
{
    (void)state;
    ctrace_config config = {.generation_ns = 60000000000u};
    struct recording rec;
    rec_start(&rec, &config);
    for (int i = 0; i < 1000; i++) {
        pthread_t th;
        pthread_create(&th, NULL, log_once, NULL);
        pthread_join(th, NULL);
    }
    size_t size;
    uint8_t *data = rec_stop(&rec, &size);
    struct test_trace t;
    if (read_trace(data, size, &t) != 0)
        fail_msg("%s", t.error);
    print_message("1000 threads: %llu generations\n", (unsigned long long)t.generations);
    assert_true(t.generations >= 3);
    assert_int_equal(count_kind(&t, CT_EV_LOG), 1000);
    assert_int_equal(count_kind(&t, CT_EV_THREAD_EXIT), 1000);
    free_trace(&t);
    free(data);
}

/* The schedstat fallback: threads that spin and come and go while the
 * writer reads their /proc files (descriptors reused, files closed). Each
 * spins 30 ms, notes the CPU time it had, and lingers 100 ms so that the
 * writer (awake every 10 ms) samples it after the spinning: a thread's
 * last moments before it exits are not sampled. */
static _Atomic uint64_t spun_ns;

static void *spin_and_log(void *arg)
{
    (void)arg;
    struct timespec start, now, cpu;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        ctrace_log(CTRACE_NO_TASK, "spin", "tick");
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 30000000L);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    atomic_fetch_add(&spun_ns, (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec);
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    return NULL;
}

static void test_schedstat_samples(void **state)
{
    (void)state;
    ctrace_config config = {.generation_ns = 5000000, .stacks = -1, .sched = 2};
    struct recording rec;
    rec_start(&rec, &config);
    for (int round = 0; round < 3; round++) {
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, spin_and_log, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
    }
    size_t size;
    uint8_t *data = rec_stop(&rec, &size);
    struct test_trace t;
    int rc = read_trace(data, size, &t);
    if (rc != 0)
        fail_msg("%s", t.error);
    assert_int_equal(count_kind(&t, CT_EV_CPU), 0);
    /* 12 threads spun 30 ms each on at most 2 CPUs, read every 2 ms or
     * more: most of them were sampled, each sample within its thread. */
    uint64_t tids[64] = {0}, run_ns = 0;
    size_t sampled = 0;
    for (size_t i = 0; i < t.count; i++) {
        const struct test_event *e = &t.events[i];
        if (e->kind != CT_EV_SCHED_SAMPLE)
            continue;
        assert_true(e->args[0] + e->args[1] > 0); /* something changed */
        assert_true(e->args[0] <= 1000000000u && e->args[1] <= 1000000000u);
        assert_true(e->args[3] < 4096 || e->args[3] == UINT32_MAX); /* a CPU, or unknown: exited */
        run_ns += e->args[0];
        size_t k = 0;
        while (k < sampled && tids[k] != e->tid)
            k++;
        if (k == sampled && sampled < 64)
            tids[sampled++] = e->tid;
    }
    /* Every thread was sampled after its spinning, unless the writer had
     * no CPU for 100 ms: the samples hold most of the CPU time they had. */
    assert_true(sampled >= 6);
    if (run_ns < atomic_load(&spun_ns) / 2)
        fail_msg("samples hold %llu ns on a CPU, the threads had %llu",
                 (unsigned long long)run_ns, (unsigned long long)atomic_load(&spun_ns));
    free_trace(&t);
    free(data);
}

/* --sched=auto (config sched 0), its rate lowered: two threads hand a
 * turn back and forth through a condvar, fast enough that their switches
 * give way to schedstat samples, while short threads come and go (some
 * register as the rings close). Switches first, then samples only: no
 * switch after the first sample of a thread that had switches, and the
 * ping-pong's threads sampled to the end. */
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn;
static _Atomic bool turns_over;

static void *take_turns(void *arg)
{
    int me = (int)(intptr_t)arg;
    ctrace_log(CTRACE_NO_TASK, "turns", "begin"); /* registers: its switches are followed */
    pthread_mutex_lock(&turn_lock);
    while (!atomic_load(&turns_over)) {
        while (turn != me && !atomic_load(&turns_over))
            pthread_cond_wait(&turn_cv, &turn_lock);
        turn = !me;
        pthread_cond_broadcast(&turn_cv);
    }
    pthread_mutex_unlock(&turn_lock);
    return NULL;
}

static void test_switches_give_way(void **state)
{
    (void)state;
    setenv("CTRACE_SCHED_AUTO_RATE", "200", 1);
    ctrace_config config = {.generation_ns = 20000000, .stacks = -1, .sched = 0};
    struct recording rec;
    rec_start(&rec, &config);
    unsetenv("CTRACE_SCHED_AUTO_RATE");
    pthread_t a, b;
    pthread_create(&a, NULL, take_turns, (void *)(intptr_t)0);
    pthread_create(&b, NULL, take_turns, (void *)(intptr_t)1);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, log_once, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) <
             1000000000L);
    pthread_mutex_lock(&turn_lock);
    atomic_store(&turns_over, true);
    pthread_cond_broadcast(&turn_cv);
    pthread_mutex_unlock(&turn_lock);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    size_t size;
    uint8_t *data = rec_stop(&rec, &size);
    struct test_trace t;
    if (read_trace(data, size, &t) != 0)
        fail_msg("%s", t.error);
    /* The ping-pong's threads: those that logged "begin". */
    uint64_t turners[2] = {0};
    int64_t last_cpu = INT64_MIN;
    size_t cpu = 0, after[2] = {0}, nturners = 0;
    for (size_t i = 0; i < t.count; i++) {
        const struct test_event *e = &t.events[i];
        if (e->kind == CT_EV_LOG && strcmp(e->text, "begin") == 0 && nturners < 2)
            turners[nturners++] = e->tid;
        if (e->kind == CT_EV_CPU) {
            cpu++;
            last_cpu = e->ts_ns > last_cpu ? e->ts_ns : last_cpu;
        }
    }
    for (size_t i = 0; i < t.count; i++) {
        const struct test_event *e = &t.events[i];
        for (size_t k = 0; k < nturners; k++)
            after[k] += e->kind == CT_EV_SCHED_SAMPLE && e->tid == turners[k] && e->ts_ns > last_cpu;
    }
    print_message("switches give way: %zu switches to %lld ns, then %zu and %zu samples of the "
                  "ping-pong's threads; %llu generations\n", cpu, (long long)last_cpu, after[0],
                  after[1], (unsigned long long)t.generations);
    if (cpu == 0)
        skip(); /* the kernel refused perf_event_open: samples throughout */
    assert_int_equal(nturners, 2);
    /* They turned after 100 ms or so (later on a loaded machine), of
     * 1000: sampled for the rest, every 10 ms while the writer has a CPU. */
    assert_true(after[0] >= 5 && after[1] >= 5);
    free_trace(&t);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_in_order),
        cmocka_unit_test(test_clock_lines_meet),
        cmocka_unit_test(test_thread_churn),
        cmocka_unit_test(test_many_exits_end_generations),
        cmocka_unit_test(test_schedstat_samples),
        cmocka_unit_test(test_switches_give_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
