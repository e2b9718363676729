/*
 * sem_relay - a thread posts a semaphore 20 times, 2 ms apart; the main
 * thread waits for each post, and every wait blocks (unless a loaded
 * machine delays it past the post): blocks on the semaphore, each ended
 * by a post that records a wake.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <unistd.h>

static sem_t ready;

static void *poster(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        usleep(2000);
        sem_post(&ready);
    }
    return NULL;
}

int main(void)
{
    if (sem_init(&ready, 0, 0) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, poster, NULL);
    int n = 0;
    for (; n < 20; n++)
        if (sem_wait(&ready) != 0)
            break;
    pthread_join(t, NULL);
    printf("%d posts\n", n);
    return n == 20 ? 0 : 1;
}
