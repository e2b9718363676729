/*
 * bench_flight.c - the flight recorder's steady-state cost: `make bench`.
 *
 * An annotation-heavy workload (4 threads; each request a task with three
 * regions and a log around about 3 us of work) runs untraced, traced to a
 * file, and into a flight recorder, the three interleaved RUNS times; the
 * table gives each one's median wall time, its cost over untraced, and the
 * memory the flight recorder held at the end beside its bound.
 */
#include <ctrace.h>

#include "bench_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUNS 7
#define THREADS 4
#define REQUESTS 100000 /* per thread */

static volatile unsigned long sink;

static void work(int n)
{
    for (int i = 0; i < n; i++)
        sink += (unsigned long)i * 2654435761u;
}

static void *requests(void *arg)
{
    (void)arg;
    static const char *steps[] = {"auth", "logic", "render"};
    for (int i = 0; i < REQUESTS; i++) {
        ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "request");
        for (int s = 0; s < 3; s++) {
            ctrace_region r = ctrace_region_begin(task, steps[s]);
            work(1000);
            ctrace_region_end(r);
        }
        ctrace_log(task, "request", "done");
        ctrace_task_end(task);
    }
    return NULL;
}

static double workload(void)
{
    double t0 = now_s();
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, requests, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    return now_s() - t0;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_flight.trace", dir);
    double off[RUNS], file[RUNS], flight[RUNS];
    size_t held = 0, largest = 0, max_bytes = 10u << 20;
    uint64_t window_ns = 0;
    long rss_flight = 0;
    workload(); /* warm up */
    for (int r = 0; r < RUNS; r++) {
        off[r] = workload();

        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ctrace_start(fd) != 0) {
            perror(path);
            return 1;
        }
        file[r] = workload();
        ctrace_stop();
        close(fd);

        ctrace_flight_config c = {.min_age_ns = 10000000000u, .max_bytes = max_bytes};
        ctrace_flight *f = ctrace_flight_start(&c);
        if (!f) {
            perror("ctrace_flight_start");
            return 1;
        }
        flight[r] = workload();
        ctrace_flight_stats st;
        ctrace_flight_get_stats(f, &st);
        if (st.held_bytes > held)
            held = st.held_bytes;
        if (st.largest_generation_bytes > largest)
            largest = st.largest_generation_bytes;
        if (st.window_ns > window_ns)
            window_ns = st.window_ns;
        long rss = rss_kib();
        if (rss > rss_flight)
            rss_flight = rss;
        ctrace_flight_stop(f);
    }
    unlink(path);
    qsort(off, RUNS, sizeof *off, cmp_double);
    qsort(file, RUNS, sizeof *file, cmp_double);
    qsort(flight, RUNS, sizeof *flight, cmp_double);
    double events = (double)THREADS * REQUESTS * 9;
    printf("\nflight recorder, steady state: %d threads, %.1f M events per run "
           "(task, 3 regions, log per request), median of %d\n\n",
           THREADS, events / 1e6, RUNS);
    printf("| mode | wall, ms | over untraced | M events/s |\n|---|---|---|---|\n");
    printf("| untraced | %.1f | | |\n", off[RUNS / 2] * 1e3);
    printf("| trace to a file | %.1f | %+.1f %% | %.1f |\n", file[RUNS / 2] * 1e3,
           (file[RUNS / 2] / off[RUNS / 2] - 1) * 100, events / file[RUNS / 2] / 1e6);
    printf("| flight recorder (10 s, 10 MiB) | %.1f | %+.1f %% | %.1f |\n",
           flight[RUNS / 2] * 1e3, (flight[RUNS / 2] / off[RUNS / 2] - 1) * 100,
           events / flight[RUNS / 2] / 1e6);
    printf("\nflight / file wall time: %.3f (target <= 1)\n", flight[RUNS / 2] / file[RUNS / 2]);
    printf("flight recorder memory held at the end of a run (window + generation "
           "being filled), at most: %.2f MiB;\n  max_bytes + the largest generation "
           "(%.2f MiB) = %.2f MiB; the window covered %.2f s (the bytes bound won)\n",
           held / 1048576.0, largest / 1048576.0, (max_bytes + largest) / 1048576.0,
           window_ns / 1e9);
    printf("process RSS at the end of a flight run, at most: %.1f MiB (includes the "
           "event batches, a quarter of max_bytes, at least 4 MiB)\n", rss_flight / 1024.0);
    return 0;
}
