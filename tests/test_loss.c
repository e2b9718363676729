/*
 * test_loss.c - a writer that cannot keep up, or a pool too small for the
 * threads: events are dropped, never silently. Its own process, because the
 * pool's bound is fixed by the first session of a process.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdlib.h>

/* With the pool at its smallest (32 batches) and 48 threads each holding a
 * batch, some threads find none: their events are dropped and counted, and
 * every event is either in the trace or in a loss record. */
#define HOLDERS 48
static pthread_barrier_t hold_barrier;

static void *hold_a_batch(void *arg)
{
    (void)arg;
    ctrace_log(CTRACE_NO_TASK, "hold", "first");
    pthread_barrier_wait(&hold_barrier);
    ctrace_log(CTRACE_NO_TASK, "hold", "second");
    pthread_barrier_wait(&hold_barrier);
    return NULL;
}

static void test_loss_is_bounded_and_recorded(void **state)
{
    (void)state;
    ctrace_config config = {.buffer_bytes = 1u << 20, .stacks = -1};
    pthread_barrier_init(&hold_barrier, NULL, HOLDERS);
    struct recording r;
    rec_start(&r, &config);
    pthread_t th[HOLDERS];
    for (int i = 0; i < HOLDERS; i++)
        pthread_create(&th[i], NULL, hold_a_batch, NULL);
    for (int i = 0; i < HOLDERS; i++)
        pthread_join(th[i], NULL);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    pthread_barrier_destroy(&hold_barrier);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    size_t logs = count_kind(&t, CT_EV_LOG), exits = count_kind(&t, CT_EV_THREAD_EXIT);
    assert_true(t.lost > 0);
    assert_int_equal(logs + exits + t.lost, 3 * HOLDERS);
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
