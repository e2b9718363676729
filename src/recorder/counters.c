/*
 * counters.c - heap in use, resident memory and live threads over time,
 * sampled by the writer thread (never by the program's threads) every
 * period, and written as `counter` events in a batch of the writer's own
 * thread, which reports leave out as the tracer's.
 *
 *   heap_in_use  mallinfo2(): bytes allocated by malloc, main arena and
 *                others (glibc 2.33+; not sampled elsewhere)
 *   rss          /proc/self/stat field 24, in bytes
 *   threads      /proc/self/stat field 20
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../format/bytes.h"
#include "counters.h"
#include "records.h"

/* rss (bytes) and threads from /proc/self/stat; false when unreadable. */
static bool read_stat(uint64_t *rss, uint64_t *threads)
{
    char buf[1024];
    size_t n = ct_read_small_file("/proc/self/stat", buf, sizeof buf - 1);
    if (n == 0)
        return false;
    buf[n] = 0;
    /* The command name may hold spaces and parentheses: count fields from
     * the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    unsigned field = 2;
    uint64_t values[25] = {0};
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok && field < 24;
         tok = strtok_r(NULL, " ", &save)) {
        field++;
        values[field] = strtoull(tok, NULL, 10);
    }
    if (field < 24)
        return false;
    *threads = values[20];
    *rss = values[24] * (uint64_t)sysconf(_SC_PAGESIZE);
    return true;
}

static void put_counter(struct ct_counter_batch *c, unsigned counter, uint64_t value,
                        uint64_t ts)
{
    if (c->len + 4 * CT_LEB_MAX > sizeof c->events)
        return; /* full until the writer empties it (it does every generation) */
    if (c->len == 0)
        c->base_ts = c->last_ts = ts;
    uint8_t *p = c->events + c->len;
    *p++ = CT_EV_COUNTER;
    p = ct_put_uleb(p, ts > c->last_ts ? ts - c->last_ts : 0);
    if (ts > c->last_ts)
        c->last_ts = ts;
    p = ct_put_uleb(p, counter);
    p = ct_put_uleb(p, value);
    c->len = (size_t)(p - c->events);
}

void ct_counters_sample(struct ct_counter_batch *c)
{
    uint64_t ts = ct_now();
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    put_counter(c, CT_COUNTER_HEAP, mi.uordblks + mi.hblkhd, ts);
#endif
    uint64_t rss, threads;
    if (read_stat(&rss, &threads)) {
        put_counter(c, CT_COUNTER_RSS, rss, ts);
        put_counter(c, CT_COUNTER_THREADS, threads, ts);
    }
}
