/* inherit_cost [EVENTS] [THREADS] - what inherited perf events cost a
 * thread's creation: opens EVENTS context-switch events on the calling
 * thread with inherit (as ctrace run opens one per CPU), then makes
 * THREADS threads one after another, each joined before the next, and
 * prints the microseconds a thread took. Every clone copies every
 * inherited event; with one event per CPU, the cost grows with the CPUs. */
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        a.type = PERF_TYPE_SOFTWARE;
        a.size = sizeof a;
        a.config = PERF_COUNT_SW_DUMMY;
        a.context_switch = 1;
        a.sample_id_all = 1;
        a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
        a.exclude_kernel = 1;
        a.inherit = 1;
        a.inherit_thread = 1;
        a.use_clockid = 1;
        a.clockid = CLOCK_MONOTONIC;
        int fd = (int)syscall(SYS_perf_event_open, &a, 0, (int)(i % (cpus > 0 ? cpus : 1)), -1,
                              PERF_FLAG_FD_CLOEXEC);
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
