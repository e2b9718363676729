/*
 * test_details.c - what `ctrace view` says of a clicked span
 * (ct_timeline_span_json) is that span's own: a socket read followed at
 * once by a mutex block gives a read span that names the read and its
 * descriptor and no waker, a blocked span that names the mutex and the
 * thread that woke it (also when the wake came 15 ms before the block
 * ended), and running spans with neither. Linked with the
 * recorder's internal copy, to record the events the LD_PRELOAD wrappers
 * record (a call, a block, a wake) at times the test chooses.
 */
#include "helpers.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/analysis/timeline.h"
#include "../src/compat/clock.h"
#include "../src/format/format.h"
#include "../src/recorder/system.h"

#define ROUNDS 4
#define SOCKET_FD 5

static int lock_object; /* the mutex's address, as the wrappers name it */
static sem_t blocked, release;
static atomic_ulong reader_tid, waker_tid;
static volatile unsigned long sink;

static void spin_us(long us)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        sink++;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* Each round: runs, reads a socket for 1.5 ms (the call recorded as the
 * wrapper records it, at its end with its start), then blocks on the
 * mutex until the waker's wake. */
static void *reader(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "reader");
    for (int i = 0; i < ROUNDS; i++) {
        spin_us(200);
        uint64_t start = ct_now();
        usleep(1500);
        ct_ev_syscall(start, ct_now(), CT_REASON_READ, SOCKET_FD, CT_FD_NETWORK, 64, 0);
        ct_ev_block(CT_REASON_MUTEX, (uintptr_t)&lock_object);
        atomic_store(&reader_tid, (unsigned long)ct_self->tid);
        sem_post(&blocked);
        while (sem_wait(&release) != 0)
            ;
        if (i == 1)
            usleep(15000); /* woken 15 ms before the block ends: its waker
                              lies before the last 10 ms the details read
                              first */
        ct_ev_unblock();
    }
    return NULL;
}

static void *waker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "waker");
    for (int i = 0; i < ROUNDS; i++) {
        while (sem_wait(&blocked) != 0)
            ;
        usleep(300);
        ct_ev_wake(CT_REASON_MUTEX, (uintptr_t)&lock_object);
        atomic_store(&waker_tid, (unsigned long)ct_self->tid);
        sem_post(&release);
    }
    return NULL;
}

/* The details as JSON (malloc'd). */
static char *details(struct ct_timeline *tl, uint64_t tid, int64_t t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    int rc = ct_timeline_span_json(tl, tid, t, out);
    fclose(out);
    if (rc != 0)
        fail_msg("no span of %llu at %lld", (unsigned long long)tid, (long long)t);
    char *copy = strdup(buf);
    free(buf);
    assert_non_null(copy);
    return copy;
}

/* The number after "key": in json, after `from` when given; 0 without. */
static long long number(const char *json, const char *from, const char *key)
{
    const char *at = from ? strstr(json, from) : json;
    at = at ? strstr(at, key) : NULL;
    return at ? atoll(at + strlen(key)) : 0;
}

static bool has(const char *json, const char *what)
{
    return strstr(json, what) != NULL;
}

static void test_details_are_the_spans_own(void **state)
{
    (void)state;
    sem_init(&blocked, 0, 0);
    sem_init(&release, 0, 0);
    struct recording r;
    ctrace_config config = {0};
    rec_start(&r, &config);
    pthread_t a, b;
    pthread_create(&a, NULL, reader, NULL);
    pthread_create(&b, NULL, waker, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct ct_reader rd;
    assert_int_equal(ct_rd_open_mem(&rd, data, size, "details.out"), 0);
    struct ct_reader src = rd;
    struct ct_timeline tl;
    if (ct_timeline_build(&rd, &src, &tl, 1, NULL) != 0)
        fail_msg("%s", rd.error);
    uint64_t tid = atomic_load(&reader_tid), from = atomic_load(&waker_tid);
    char woken[64];
    snprintf(woken, sizeof woken, "\"woken_by\":%llu", (unsigned long long)from);

    /* Every span of the reader, from a window over the whole trace, asked
     * at its middle. */
    struct ct_timeline *w = ct_tl_window(&tl, tl.begin, tl.end + 1, 0);
    assert_non_null(w);
    const struct tl_lane *lane = NULL;
    for (size_t i = 0; i < w->nlanes; i++)
        if (w->lanes[i].tid == tid)
            lane = &w->lanes[i];
    assert_non_null(lane);
    size_t n = lane->nspan_items;
    struct tl_span *spans = malloc(n * sizeof *spans);
    assert_non_null(spans);
    memcpy(spans, lane->spans, n * sizeof *spans);
    /* Every span of a read (running in it, off the CPU, runnable once the
     * data came: which, depends on the machine's load) names the read; every
     * span of a block names the mutex and its waker; the others, nothing. */
    unsigned reads = 0, blocks = 0, outside = 0;
    int64_t last_read = TL_NO_ACTIVITY, last_block = TL_NO_ACTIVITY;
    for (size_t k = 0; k < n; k++) {
        const struct tl_span *s = &spans[k];
        char *d = details(&tl, tid, s->b + (s->e - s->b) / 2);
        if (s->since != TL_NO_ACTIVITY && (s->flags & TL_SPAN_CALL)) {
            reads += s->since != last_read;
            last_read = s->since;
            if (!has(d, "\"reason\":\"read\"") || !has(d, "\"what\":\"read fd 5, socket\"") ||
                !has(d, "\"fd\":5") || has(d, "woken_by") || has(d, "mutex"))
                fail_msg("a socket read's details: %s", d);
        } else if (s->since != TL_NO_ACTIVITY) {
            blocks += s->since != last_block;
            last_block = s->since;
            /* Woken by the waker, at a time inside the block. */
            long long tw = number(d, NULL, "\"woken_at\":");
            long long b0 = number(d, "\"activity\":{", "\"begin\":");
            long long b1 = number(d, "\"activity\":{", "\"end\":");
            if (!has(d, "\"reason\":\"mutex\"") || !has(d, woken) || !has(d, "\"waker\":\"waker\"") ||
                tw < b0 || tw > b1 || b1 < s->e || has(d, "\"fd\""))
                fail_msg("a mutex block's details: %s", d);
        } else {
            outside++;
            if (has(d, "woken_by") || !has(d, "\"reason\":\"\"") || has(d, "\"activity\""))
                fail_msg("a span outside any block or call: %s", d);
        }
        free(d);
    }
    if (reads != ROUNDS || blocks != ROUNDS || outside < ROUNDS)
        fail_msg("%u reads, %u blocks, %u spans outside: expected %d, %d and %d at least", reads,
                 blocks, outside, ROUNDS, ROUNDS, ROUNDS);
    free(spans);
    ct_timeline_free(&tl);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_details_are_the_spans_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
