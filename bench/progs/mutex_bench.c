/* mutex_bench [PAIRS [THREADS]] - contended: THREADS threads (default 4,
 * at most 16) share one mutex, PAIRS lock+unlock pairs each.
 * mutex_bench uncontended [PAIRS] - PAIRS lock+unlock pairs on one thread,
 * while a second thread sleeps: a multi-threaded process, as every program
 * worth tracing is (glibc takes a cheaper path in a process of one thread,
 * which the tracer's own thread would end anyway). Prints ns per pair. */
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;
static long per_thread;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *idle(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

static void *work(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "uncontended") == 0) {
        long pairs = argc > 2 ? atol(argv[2]) : 20000000;
        pthread_t sleeper;
        pthread_create(&sleeper, NULL, idle, NULL);
        double t0 = now();
        for (long i = 0; i < pairs; i++) {
            pthread_mutex_lock(&lock);
            counter++;
            pthread_mutex_unlock(&lock);
        }
        printf("%.3f\n", (now() - t0) * 1e9 / pairs);
        return 0;
    }
    per_thread = argc > 1 ? atol(argv[1]) : 500000;
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    if (threads < 1 || threads > 16)
        return 2;
    pthread_t t[16];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return counter == threads * per_thread ? 0 : 1;
}
