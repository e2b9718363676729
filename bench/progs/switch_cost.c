/*
 * switch_cost MODE ROUNDS - what a perf event on a thread costs its context
 * switches, apart from ctrace: two threads pass a byte back and forth
 * through two pipes ROUNDS times; prints the microseconds a round trip.
 * MODE: none; thread (each thread opens its own context-switch event, as
 * ctrace does); dummy (the same event recording nothing: no
 * context_switch); cpu (one context-switch event per CPU for the whole
 * machine, which needs privileges: prints "-" when refused); inherit (one
 * context-switch event per CPU on the main thread, inherited by the threads
 * it creates: what `perf record` does without privileges; one ring per CPU
 * for the whole process instead of one per thread); inherit-dummy (the
 * same inherited events recording nothing: what the inherited perf context
 * alone costs a switch, apart from the records). The rings are large and
 * never read, so that the kernel writes every record.
 */
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RING_PAGES 1024

static const char *mode;
static int rounds, ping[2], pong[2];

static int open_event(pid_t tid, int cpu, int switches, int inherit)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_DUMMY;
    a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
    a.sample_id_all = 1;
    a.context_switch = (unsigned)switches;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    a.inherit = (unsigned)inherit;
    a.inherit_thread = (unsigned)inherit;
    int fd = (int)syscall(SYS_perf_event_open, &a, tid, cpu, -1, 0);
    if (fd < 0)
        return -1;
    long page = sysconf(_SC_PAGESIZE);
    if (mmap(NULL, (size_t)page * (RING_PAGES + 1), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
        MAP_FAILED)
        return -1;
    return fd;
}

/* This thread's event, for the modes that have one per thread. */
static int own_event(void)
{
    if (strcmp(mode, "thread") == 0)
        return open_event(0, -1, 1, 0);
    if (strcmp(mode, "dummy") == 0)
        return open_event(0, -1, 0, 0);
    return 0;
}

static void *other(void *arg)
{
    (void)arg;
    if (own_event() < 0)
        exit(2);
    char c;
    for (int i = 0; i < rounds; i++)
        if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
            break;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return fprintf(stderr, "usage: switch_cost none|thread|dummy|cpu|inherit|inherit-dummy ROUNDS\n"), 2;
    mode = argv[1];
    rounds = atoi(argv[2]);
    if (own_event() < 0)
        return fprintf(stderr, "switch_cost: perf_event_open refused\n"), 2;
    if (strcmp(mode, "cpu") == 0)
        for (int cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN); cpu++)
            if (open_event(-1, cpu, 1, 0) < 0)
                return puts("-"), 0;
    if (strncmp(mode, "inherit", 7) == 0)
        for (int cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN); cpu++)
            if (open_event(0, cpu, strcmp(mode, "inherit") == 0, 1) < 0)
                return fprintf(stderr, "switch_cost: inherited event refused\n"), 2;
    if (pipe(ping) != 0 || pipe(pong) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    char c = 'x';
    for (int i = 0; i < rounds; i++)
        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
            break;
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    printf("%.2f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
                         rounds / 1000);
    return 0;
}
