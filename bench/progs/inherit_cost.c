/* inherit_cost [EVENTS] [THREADS] - what inherited perf events cost a
 * thread's creation: opens EVENTS context-switch events on the calling
 * thread with inherit (as ctrace run opens one per CPU), then makes
 * THREADS threads one after another, each joined before the next, and
 * prints the microseconds a thread took. Every clone copies every
 * inherited event; with one event per CPU, the cost grows with the CPUs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "switch_event.h"

static void *work(void *arg)
{
    return arg;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int events = argc > 1 ? atoi(argv[1]) : 0;
    long threads = argc > 2 ? atol(argv[2]) : 3000;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < events; i++) {
        int fd = open_switch_event((int)(i % (cpus > 0 ? cpus : 1)));
        if (fd < 0 || mmap(NULL, 9 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED) {
            perror("inherit_cost: perf_event_open");
            return 1;
        }
    }
    double t0 = now_ns();
    for (long i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, work, NULL) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    printf("%.2f\n", (now_ns() - t0) / (double)threads / 1000);
    return 0;
}
