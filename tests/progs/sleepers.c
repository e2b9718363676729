/*
 * sleepers - three named threads, each sleeping ten times in a different
 * way: exactly 30 sleeps, 3 thread creations and starts, 3 names.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    long index = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "sleeper-%ld", index);
    pthread_setname_np(pthread_self(), name);
    for (int i = 0; i < 10; i++) {
        if (index == 0) {
            usleep(1000);
        } else if (index == 1) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        } else {
            struct timespec ts = {0, 1000000};
            clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t t[3];
    for (long i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, sleeper, (void *)i);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return 0;
}
