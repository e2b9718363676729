/*
 * bench_recorder.c - what an event costs: `make bench`.
 *
 * Each figure is the median of RUNS runs of a timed loop, with the minimum
 * beside it; this machine is shared, so compare rows of one run, not runs.
 * The bare clock read is measured in the same run as the floor our events
 * are set against.
 */
#include <ctrace.h>

#include "bench_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../src/compat/clock.h"
#include "../src/format/reader.h"

#define RUNS 11
#define LOOP 1000000


struct result {
    double median, min;
};

static struct result summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return (struct result){v[n / 2], v[0]};
}

static void row(const char *what, struct result r, const char *note)
{
    printf("| %-44s | %8.2f | %8.2f | %s\n", what, r.median, r.min, note);
}

static volatile uint64_t sink;

static double bench_clock(void)
{
    double t0 = now_s();
    uint64_t acc = 0;
    for (int i = 0; i < LOOP; i++)
        acc += ct_clock_raw();
    sink = acc;
    return (now_s() - t0) * 1e9 / LOOP;
}

static double bench_region_pair(void)
{
    double t0 = now_s();
    for (int i = 0; i < LOOP; i++) {
        ctrace_region r = ctrace_region_begin(CTRACE_NO_TASK, "bench");
        ctrace_region_end(r);
    }
    return (now_s() - t0) * 1e9 / LOOP;
}

static double bench_log(void)
{
    double t0 = now_s();
    for (int i = 0; i < LOOP; i++)
        ctrace_log(CTRACE_NO_TASK, "bench", "a short message");
    return (now_s() - t0) * 1e9 / LOOP;
}

/* A call chain of `depth` frames above the event, so the stack has 8. */
__attribute__((noinline)) static void deep_log(int depth)
{
    if (depth > 0) {
        deep_log(depth - 1);
        __asm__ volatile("" ::: "memory"); /* no tail call */
        return;
    }
    ctrace_region r = ctrace_region_begin(CTRACE_NO_TASK, "deep");
    ctrace_region_end(r);
}

static double bench_stack8(void)
{
    double t0 = now_s();
    for (int i = 0; i < LOOP / 2; i++)
        deep_log(6); /* 7 frames of deep_log and the bench function: 8 */
    /* Two events per call. */
    return (now_s() - t0) * 1e9 / LOOP;
}

static double bench_off(void)
{
    double t0 = now_s();
    for (int i = 0; i < LOOP * 10; i++) {
        ctrace_region r = ctrace_region_begin(CTRACE_NO_TASK, "off");
        ctrace_region_end(r);
        __asm__ volatile("" ::: "memory");
    }
    return (now_s() - t0) * 1e9 / (LOOP * 20.0);
}

static double bench_empty_loop(void)
{
    double t0 = now_s();
    for (int i = 0; i < LOOP * 10; i++)
        __asm__ volatile("" ::: "memory");
    return (now_s() - t0) * 1e9 / (LOOP * 20.0);
}

static int start_devnull(const ctrace_config *config)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0 || ctrace_start_config(fd, config) != 0) {
        fprintf(stderr, "bench: cannot start tracing\n");
        exit(1);
    }
    return fd;
}

/* Events and bytes of a trace in a memfd; timed events only. */
static void count_trace(int fd, uint64_t *events, uint64_t *bytes)
{
    struct stat st;
    fstat(fd, &st);
    *bytes = (uint64_t)st.st_size;
    *events = 0;
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    struct ct_reader rd;
    if (map == MAP_FAILED || ct_rd_open_mem(&rd, map, (size_t)st.st_size, "bench") != 0)
        return;
    struct ct_gen gen = {0};
    while (ct_rd_next_gen(&rd, &gen) == 1) {
        for (size_t b = 0; b < gen.nbatches; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while (ct_rd_next_event(&rd, &it, &ev) == 1)
                *events += ev.timed;
        }
    }
    ct_gen_free(&gen);
    munmap(map, (size_t)st.st_size);
}

static void work(int n)
{
    for (int i = 0; i < n; i++)
        sink += (uint64_t)i * 2654435761u;
}

/* An annotation-heavy program: per request a task, three regions, a log. */
static double bytes_per_event(int spacing, double *events_out)
{
    int fd = memfd_create("bench", 0);
    ctrace_config config = {.stacks = -1};
    ctrace_start_config(fd, &config);
    for (int i = 0; i < 100000; i++) {
        ctrace_task t = ctrace_task_begin(CTRACE_NO_TASK, "request");
        static const char *steps[] = {"auth", "logic", "render"};
        for (int s = 0; s < 3; s++) {
            ctrace_region r = ctrace_region_begin(t, steps[s]);
            work(spacing);
            ctrace_region_end(r);
        }
        ctrace_log(t, "req", "done");
        ctrace_task_end(t);
    }
    ctrace_stop();
    uint64_t events, bytes;
    count_trace(fd, &events, &bytes);
    close(fd);
    *events_out = (double)events;
    return events ? (double)bytes / (double)events : 0;
}

struct flood {
    uint64_t events;
};

static void *flood_thread(void *arg)
{
    struct flood *f = arg;
    for (uint64_t i = 0; i < f->events; i++) {
        ctrace_region r = ctrace_region_begin((ctrace_task){i}, "flood");
        ctrace_region_end(r);
    }
    return NULL;
}

/* Two threads record as fast as they can into a file: what reaches it. */
static void writer_throughput(const char *dir, double *mb_s, double *mev_s, double *lost_pct)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ctrace-bench-XXXXXX", dir);
    int fd = mkstemp(path);
    unlink(path);
    ctrace_config config = {.stacks = -1};
    ctrace_start_config(fd, &config);
    struct flood f = {2000000};
    pthread_t th[2];
    double t0 = now_s();
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, flood_thread, &f);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ctrace_stop();
    double dt = now_s() - t0;
    uint64_t events, bytes;
    count_trace(fd, &events, &bytes);
    close(fd);
    *mb_s = (double)bytes / dt / 1e6;
    *mev_s = (double)events / dt / 1e6;
    double total = 2.0 * 2 * (double)f.events;
    *lost_pct = events >= total ? 0.0 : 100.0 * (total - (double)events) / total;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double clock[RUNS], pair[RUNS], log[RUNS], stack8[RUNS], off[RUNS], empty[RUNS];
    double above[RUNS];
    for (int r = 0; r < RUNS; r++) {
        clock[r] = bench_clock();
        off[r] = bench_off();
        empty[r] = bench_empty_loop();
        ctrace_config nostacks = {.stacks = -1};
        int fd = start_devnull(&nostacks);
        pair[r] = bench_region_pair();
        above[r] = pair[r] - 2 * bench_clock(); /* the floor, measured right after */
        log[r] = bench_log();
        ctrace_stop();
        close(fd);
        ctrace_config stacks = {.stacks = 1, .max_stack_depth = 8};
        fd = start_devnull(&stacks);
        stack8[r] = bench_stack8();
        ctrace_stop();
        close(fd);
    }
    struct result rc = summarize(clock, RUNS);
    printf("ctrace recorder benchmark: median and minimum of %d runs of %d iterations\n\n",
           RUNS, LOOP);
    printf("| %-44s | %8s | %8s | %s\n", "what", "median", "min", "note");
    printf("|%s|----------|----------|------\n", "----------------------------------------------");
    row("clock read alone (rdtsc), ns", rc, "the floor of one event");
    struct result rp = summarize(pair, RUNS);
    char note[128];
    snprintf(note, sizeof note, "target <= 25; floor 2 clock reads = %.1f", 2 * rc.median);
    row("region begin+end pair, no stacks, ns", rp, note);
    row("  the pair above its two clock reads, ns", summarize(above, RUNS),
        "each run's pair minus its own floor");
    row("log (15-byte message), no stack, ns", summarize(log, RUNS), "");
    row("event with an 8-frame stack, ns", summarize(stack8, RUNS), "target <= 80");
    struct result ro = summarize(off, RUNS), re = summarize(empty, RUNS);
    row("call while tracing is off, ns", ro, "target <= 1");
    row("  (the same loop with no calls), ns", re, "");

    double bpe[RUNS], bpe_spaced[RUNS], events = 0;
    for (int r = 0; r < RUNS; r++) {
        bpe[r] = bytes_per_event(0, &events);
        bpe_spaced[r] = bytes_per_event(200, &events);
    }
    printf("\n| %-44s | %8s | %8s | %s\n", "bytes per event, annotation-heavy, no stacks", "median",
           "min", "note");
    printf("|%s|----------|----------|------\n", "----------------------------------------------");
    snprintf(note, sizeof note, "target <= 4; %.0f events, file bytes included", events);
    row("back to back (task, 3 regions, log)", summarize(bpe, RUNS), note);
    row("with ~100 ns of work inside each region", summarize(bpe_spaced, RUNS), "");

    double mb[3], mev[3], lost[3];
    for (int r = 0; r < 3; r++)
        writer_throughput(dir, &mb[r], &mev[r], &lost[r]);
    printf("\n| %-44s | %8s | %8s | %s\n", "writer, 2 threads flooding a file", "median", "min",
           "note");
    printf("|%s|----------|----------|------\n", "----------------------------------------------");
    snprintf(note, sizeof note, "file in %s", dir);
    row("MB/s reaching the file", summarize(mb, 3), note);
    row("M events/s reaching the file", summarize(mev, 3), "");
    row("events dropped, %", summarize(lost, 3), "the pool (64 MiB) bounds memory");
    return 0;
}
