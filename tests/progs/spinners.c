/* spinners N MS - N threads, all pinned to one CPU, each spinning on the
 * clock for MS milliseconds of wall time: each runs about 1/N of the time
 * and waits in the run queue for the rest, so the scheduler's wait is known
 * in advance. Prints the CPU they were pinned to. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long spin_ms;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void *spin(void *arg)
{
    (void)arg;
    long start = now_ms();
    volatile unsigned long n = 0;
    while (now_ms() - start < spin_ms)
        n++;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 3;
    spin_ms = argc > 2 ? atol(argv[2]) : 300;
    if (threads < 1 || threads > 64)
        return 2;
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof all, &all) != 0)
        return 1;
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &all))
        cpu++;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    pthread_t th[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], &attr, spin, NULL) != 0)
            return 1;
    pthread_attr_destroy(&attr);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    printf("%d\n", cpu);
    return 0;
}
