/*
 * deadlock - two threads take two mutexes in opposite orders and deadlock;
 * main waits 100 ms and exits: the trace ends with both blocked, each on
 * the mutex the other holds.
 */
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

static void *first(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&a);
    usleep(20000);
    pthread_mutex_lock(&b);
    return NULL;
}

static void *second(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&b);
    usleep(20000);
    pthread_mutex_lock(&a);
    return NULL;
}

int main(void)
{
    pthread_t x, y;
    pthread_create(&x, NULL, first, NULL);
    pthread_create(&y, NULL, second, NULL);
    usleep(100000);
    return 0;
}
