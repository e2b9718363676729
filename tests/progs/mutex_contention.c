/*
 * mutex_contention - four threads increment a counter under one mutex,
 * holding it while they work, all starting at once: they contend.
 */
#include <errno.h>
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

/* The default mutex is released by the preload itself (mutex_fast.c):
 * what glibc keeps of a mutex must be as glibc's own unlock leaves it, and
 * the other kinds must keep their rules. Returns what went wrong, or NULL. */
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int flag;

static void *signaller(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    flag = 1;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static const char *kinds_hold(void)
{
#ifdef __GLIBC__
    if (lock.__data.__lock != 0 || lock.__data.__owner != 0 || lock.__data.__nusers != 0)
        return "the default mutex is not left as glibc leaves it";
#endif
    pthread_t t;
    pthread_mutex_lock(&lock);
    pthread_create(&t, NULL, signaller, NULL);
    while (!flag)
        pthread_cond_wait(&ready, &lock);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    if (pthread_mutex_trylock(&lock) != 0 || pthread_mutex_unlock(&lock) != 0)
        return "the default mutex cannot be taken after a condvar wait";
    if (pthread_mutex_destroy(&lock) != 0)
        return "the default mutex cannot be destroyed (glibc counts a user)";
    pthread_mutexattr_t attr;
    pthread_mutex_t m;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m, &attr);
    if (pthread_mutex_lock(&m) || pthread_mutex_lock(&m) || pthread_mutex_unlock(&m) ||
        pthread_mutex_trylock(&m) || pthread_mutex_unlock(&m) || pthread_mutex_unlock(&m) ||
        pthread_mutex_destroy(&m))
        return "a recursive mutex does not count its locks";
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&m, &attr);
    if (pthread_mutex_unlock(&m) != EPERM)
        return "an error-checking mutex unlocked while free does not say EPERM";
    pthread_mutex_destroy(&m);
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
    const char *wrong = kinds_hold();
    if (wrong)
        fprintf(stderr, "mutex_contention: %s\n", wrong);
    return counter == (long)THREADS * ITERATIONS * 50 && !wrong ? 0 : 1;
}
