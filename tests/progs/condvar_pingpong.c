/*
 * condvar_pingpong [ROUNDS] - two threads hand a turn back and forth
 * ROUNDS times (default 1000) each through two condvars. A thread hands the turn over only once the
 * other is inside pthread_cond_wait, so every wait blocks: exactly
 * 2 x ROUNDS condvar blocks, each woken by a signal of the other thread.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
static int turn, waiting[2], rounds = ROUNDS;

static void take_turn(int me)
{
    pthread_mutex_lock(&lock);
    waiting[me] = 1;
    while (turn != me)
        pthread_cond_wait(&cv[me], &lock);
    waiting[me] = 0;
    pthread_mutex_unlock(&lock);
}

static void give_turn(int other)
{
    pthread_mutex_lock(&lock);
    while (!waiting[other]) {
        pthread_mutex_unlock(&lock);
        sched_yield();
        pthread_mutex_lock(&lock);
    }
    turn = other;
    pthread_cond_signal(&cv[other]);
    pthread_mutex_unlock(&lock);
}

static void *second(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        take_turn(1);
        give_turn(0);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (rounds = atoi(argv[1])) <= 0)
        return 2;
    pthread_t t;
    pthread_create(&t, NULL, second, NULL);
    for (int i = 0; i < rounds; i++) {
        give_turn(1);
        take_turn(0);
    }
    pthread_join(t, NULL);
    printf("%d handoffs\n", 2 * rounds);
    return 0;
}
