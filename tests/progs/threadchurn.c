/* threadchurn SECONDS - two threads hand a turn back and forth through a
 * condvar while the main thread makes short threads four at a time (each
 * sleeps 200 us) and joins them, for SECONDS (default 1): thousands of
 * threads begin and end as generations close. Prints how many it made. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;
static volatile int stop;

static void *pp(void *arg)
{
    int me = (int)(long)arg;
    while (!stop) {
        pthread_mutex_lock(&m);
        while (turn != me && !stop)
            pthread_cond_wait(&cv, &m);
        turn = !me;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

static void *brief(void *arg)
{
    (void)arg;
    usleep(200);
    return NULL;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1;
    pthread_t a, b;
    pthread_create(&a, NULL, pp, (void *)0);
    pthread_create(&b, NULL, pp, (void *)1);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long n = 0;
    do {
        pthread_t c[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&c[i], NULL, brief, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(c[i], NULL);
        n += 4;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
    pthread_mutex_lock(&m);
    stop = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&m);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%ld threads\n", n);
    return 0;
}
