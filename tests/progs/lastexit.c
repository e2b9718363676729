/*
 * lastexit - the main thread ends by pthread_exit while two threads sleep
 * ten times 2 ms each; the process ends when they do (glibc calls exit(0)
 * for the last thread), with status 0: exactly 20 sleeps.
 */
#include <pthread.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        usleep(2000);
    return NULL;
}

int main(void)
{
    pthread_t t;
    for (int i = 0; i < 2; i++)
        pthread_create(&t, NULL, sleeper, NULL);
    pthread_exit(NULL);
}
