/*
 * test_loss.c - a pool too small for the threads that use it: events are
 * dropped, never silently, and memory stays bounded. Its own process,
 * because the pool's bound is fixed by the first session of a process.
 *
 * The pool holds 32 batches (1 MiB). 48 threads each record a first log in
 * turn: threads 0-31 take the 32 batches and keep them, threads 32-47 find
 * none and drop theirs. Threads 0-31 then exit, giving their batches back
 * through the writer, and threads 32-47 record a second log: each now gets
 * a batch, whose first event says that one event was lost before it.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define THREADS 48
#define HOLDERS 32

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int turn, phase;

static void *run(void *arg)
{
    int index = (int)(intptr_t)arg;
    pthread_mutex_lock(&lock);
    while (turn != index)
        pthread_cond_wait(&cond, &lock);
    ctrace_log(CTRACE_NO_TASK, "loss", "first");
    turn++;
    pthread_cond_broadcast(&cond);
    while (turn != THREADS) /* the holders keep their batches until all logged */
        pthread_cond_wait(&cond, &lock);
    while (index >= HOLDERS && phase == 0)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    if (index >= HOLDERS)
        ctrace_log(CTRACE_NO_TASK, "loss", "second");
    return NULL;
}

static void test_loss_is_bounded_and_recorded(void **state)
{
    (void)state;
    /* One generation for the whole test: no generation's end reports the
     * drops first, so each thread's second batch carries its own. */
    ctrace_config config = {.buffer_bytes = 1u << 20, .stacks = -1,
                            .generation_ns = 600000000000ull};
    struct recording r;
    rec_start(&r, &config);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, run, (void *)(intptr_t)i);
    for (int i = 0; i < HOLDERS; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_lock(&lock);
    while (turn != THREADS)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    /* The writer writes the holders' batches and frees them: wait until the
     * trace has grown and then stayed still for 200 ms, or, if it had grown
     * already, for a second of stillness (at most 20 s on a loaded machine). */
    off_t before = lseek(r.fd, 0, SEEK_END), last = before;
    int still = 0;
    for (int i = 0; i < 2000 && (still < 20 || (last == before && still < 100)); i++) {
        usleep(10000);
        off_t now = lseek(r.fd, 0, SEEK_END);
        still = now == last ? still + 1 : 0;
        last = now;
    }
    pthread_mutex_lock(&lock);
    phase = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = HOLDERS; i < THREADS; i++)
        pthread_join(th[i], NULL);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    int rc = read_trace(data, size, &t);
    if (rc != 0)
        fail_msg("%s", t.error);
    assert_int_equal(count_kind(&t, CT_EV_LOG), HOLDERS + (THREADS - HOLDERS));
    assert_int_equal(count_kind(&t, CT_EV_LOST), THREADS - HOLDERS);
    assert_int_equal(t.lost, THREADS - HOLDERS);
    assert_int_equal(t.batch_lost, THREADS - HOLDERS); /* GEN_END says so too */
    assert_int_equal(count_kind(&t, CT_EV_THREAD_EXIT), THREADS);
    for (size_t i = 0; i < t.count; i++) {
        const struct test_event *e = &t.events[i];
        if (e->kind != CT_EV_LOST)
            continue;
        assert_int_equal(e->args[0], 1); /* one event lost */
        assert_true(e->args[1] <= e->args[2]);
        /* The next event of that thread, definitions aside, is its second log. */
        size_t j = i + 1;
        while (j < t.count && (t.events[j].tid != e->tid || t.events[j].kind <= CT_EV_STACK))
            j++;
        assert_true(j < t.count);
        assert_int_equal(t.events[j].kind, CT_EV_LOG);
        assert_string_equal(t.events[j].text, "second");
    }
    free_trace(&t);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_is_bounded_and_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
