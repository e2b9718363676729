/*
 * mutex_contention - four threads increment a counter under one mutex,
 * holding it while they work, all starting at once: they contend.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define THREADS 4
#define ITERATIONS 200000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static volatile long counter;

static void *work(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start); /* all at once, so that they contend */
    for (int i = 0; i < ITERATIONS; i++) {
        pthread_mutex_lock(&lock);
        for (int k = 0; k < 50; k++)
            counter++;
        if (i % 5000 == 0)
            usleep(200); /* now and then, hold it long enough that others wait */
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", counter);
    return counter == (long)THREADS * ITERATIONS * 50 ? 0 : 1;
}
