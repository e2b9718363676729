/*
 * test_own_fds.c - the tracer's opens and the program's closes keep out of
 * each other's way (own_fds.c): a close waits for an open under way, until
 * its descriptor is the tracer's own; an open waits for a close under way;
 * and neither waits past its bound for the other (a signal handler may
 * close on a thread in the middle of an open).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../src/recorder/recorder.h"

#define MS 1000000u

static atomic_bool started, ended;

static void spin_ms(unsigned ms)
{
    uint64_t until = ct_mono_ns() + ms * (uint64_t)MS;
    while (ct_mono_ns() < until)
        ;
}

static void *opener(void *arg)
{
    unsigned hold_ms = (unsigned)(uintptr_t)arg;
    ct_own_open_begin();
    atomic_store(&started, true);
    spin_ms(hold_ms);
    atomic_store(&ended, true);
    ct_own_open_end();
    return NULL;
}

static void *closer(void *arg)
{
    (void)arg;
    bool program = ct_own_close_begin();
    atomic_store(&started, true);
    spin_ms(5);
    atomic_store(&ended, true);
    ct_own_close_end(program);
    return NULL;
}

static void test_close_waits_for_open(void **state)
{
    (void)state;
    atomic_store(&started, false);
    atomic_store(&ended, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, opener, (void *)(uintptr_t)5), 0);
    while (!atomic_load(&started))
        ;
    bool program = ct_own_close_begin();
    bool after = atomic_load(&ended);
    ct_own_close_end(program);
    pthread_join(t, NULL);
    assert_true(after);
}

static void test_open_waits_for_close(void **state)
{
    (void)state;
    atomic_store(&started, false);
    atomic_store(&ended, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, closer, NULL), 0);
    while (!atomic_load(&started))
        ;
    ct_own_open_begin();
    bool after = atomic_load(&ended);
    ct_own_open_end();
    pthread_join(t, NULL);
    assert_true(after);
}

static void test_a_close_waits_no_longer_than_its_bound(void **state)
{
    (void)state;
    atomic_store(&started, false);
    atomic_store(&ended, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, opener, (void *)(uintptr_t)400), 0);
    while (!atomic_load(&started))
        ;
    uint64_t t0 = ct_mono_ns();
    bool program = ct_own_close_begin();
    uint64_t waited = ct_mono_ns() - t0;
    bool after = atomic_load(&ended);
    ct_own_close_end(program);
    pthread_join(t, NULL);
    assert_false(after);            /* it gave up on the open */
    assert_true(waited >= 40 * MS); /* after its bound, 50 ms */
}

static void test_a_fork_child_starts_clear(void **state)
{
    (void)state;
    ct_own_open_begin(); /* as if another thread were opening at the fork */
    ct_own_after_fork_child();
    uint64_t t0 = ct_mono_ns();
    ct_own_close_end(ct_own_close_begin());
    assert_true(ct_mono_ns() - t0 < 10 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_waits_for_open),
        cmocka_unit_test(test_open_waits_for_close),
        cmocka_unit_test(test_a_close_waits_no_longer_than_its_bound),
        cmocka_unit_test(test_a_fork_child_starts_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
