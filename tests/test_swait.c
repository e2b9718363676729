/*
 * test_swait.c - how the writer shares a period's run-queue wait (the
 * kernel's schedstat total) between a thread's switches in after a block
 * (sched_wait.c). A thread waits 30 ms off a CPU in a condvar, of which
 * the kernel says 20 ms were spent runnable behind another process, then
 * sleeps ten times 1 ms, each woken 1.06 ms after it went off the CPU:
 * no sleep can have waited for the CPU before its end, so the sleeps take
 * at most 60 us each and the condvar's wake-up the rest. Without the
 * sleeps' ends, the records alone cannot tell, and the wait is shared
 * evenly: each sleep then loses its whole time to "sched".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/recorder/sched_raw.h"

#define MS 1000000u
#define US 1000u
#define SLEEPS 10
#define WAKE_LAG (60 * US) /* a sleep's wake-up after its end */
#define KERNEL_WAIT (20 * MS + SLEEPS * 30 * US)

/* The thread's switches: on, off at 1 ms, on at 31 ms, then a sleep of
 * 1 ms and 1.06 ms off the CPU every 1.1 ms; its sleeps' ends noted when
 * `ends` (and 25 older ones first, so that the ring has turned). */
static struct ct_thread *make_thread(bool ends)
{
    struct ct_thread *t = calloc(1, sizeof *t);
    struct raw_switch *e = calloc(2 + 2 * SLEEPS + 1, sizeof *e);
    assert_non_null(t);
    assert_non_null(e);
    size_t n = 0;
    uint64_t at = 100 * MS;
    e[n++] = (struct raw_switch){.mono_ns = at, .state = CT_CPU_ON};
    e[n++] = (struct raw_switch){.mono_ns = at + 1 * MS, .state = CT_CPU_OFF};
    e[n++] = (struct raw_switch){.mono_ns = at + 31 * MS, .state = CT_CPU_ON};
    for (unsigned k = 0; k < 25 && ends; k++)
        ct_sleep_done(t, k * MS);
    for (unsigned k = 0; k < SLEEPS; k++) {
        uint64_t off = at + 31 * MS + 40 * US + k * 1100 * US;
        e[n++] = (struct raw_switch){.mono_ns = off, .state = CT_CPU_OFF};
        e[n++] = (struct raw_switch){.mono_ns = off + MS + WAKE_LAG, .state = CT_CPU_ON};
        if (ends)
            ct_sleep_done(t, off + MS - 5 * US); /* it went off 5 us into the call */
    }
    t->cpu_events = e;
    t->cpu_len = t->cpu_cap = n;
    t->lat_prev_state = CT_CPU_ON;
    t->lat_prev_ns = at;
    return t;
}

static void free_thread(struct ct_thread *t)
{
    free(t->cpu_events);
    free(t);
}

static uint64_t share(struct ct_thread *t, uint64_t *cond, uint64_t *sleeps_max)
{
    const struct raw_switch *e = t->cpu_events;
    ct_swait_share(t, e[t->cpu_len - 1].mono_ns, KERNEL_WAIT);
    *cond = e[2].woken_ns;
    *sleeps_max = 0;
    uint64_t total = *cond;
    for (size_t i = 4; i < t->cpu_len; i += 2) {
        total += e[i].woken_ns;
        if (e[i].woken_ns > *sleeps_max)
            *sleeps_max = e[i].woken_ns;
    }
    return total;
}

static void test_sleeps_wait_after_their_end(void **state)
{
    (void)state;
    struct ct_thread *t = make_thread(true);
    uint64_t cond, sleeps_max;
    uint64_t total = share(t, &cond, &sleeps_max);
    assert_int_equal(total, KERNEL_WAIT);
    assert_true(sleeps_max <= WAKE_LAG + 5 * US);
    assert_true(cond >= KERNEL_WAIT - SLEEPS * (WAKE_LAG + 5 * US));
    free_thread(t);
}

static void test_without_ends_the_share_is_even(void **state)
{
    (void)state;
    struct ct_thread *t = make_thread(false);
    uint64_t cond, sleeps_max;
    uint64_t total = share(t, &cond, &sleeps_max);
    assert_int_equal(total, KERNEL_WAIT);
    assert_int_equal(sleeps_max, MS + WAKE_LAG); /* each up to its time off */
    free_thread(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sleeps_wait_after_their_end),
        cmocka_unit_test(test_without_ends_the_share_is_even),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    ct_swait_free();
    return failed;
}
