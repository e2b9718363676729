/*
 * clocked - the timed and clock-taking waits, each made to block once on an
 * object of its own: pthread_mutex_clocklock, pthread_rwlock_timedrdlock,
 * clockrdlock, timedwrlock and clockwrlock, pthread_cond_clockwait and
 * sem_clockwait (glibc 2.30's clock variants are what C++'s
 * std::timed_mutex, std::shared_timed_mutex and
 * std::condition_variable::wait_for call). A helper thread holds each object
 * (or signals, or posts) 200 ms after a barrier that both pass. Prints each
 * object's name and address; exit 0 if every call succeeded.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define HOLD_US 200000

enum { CLOCKLOCK, TIMEDRD, CLOCKRD, TIMEDWR, CLOCKWR, CLOCKWAIT, SEMCLOCK, STEPS };

static pthread_barrier_t step;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER, cv_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw[4] = {PTHREAD_RWLOCK_INITIALIZER, PTHREAD_RWLOCK_INITIALIZER,
                                 PTHREAD_RWLOCK_INITIALIZER, PTHREAD_RWLOCK_INITIALIZER};
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static int signalled;

static struct timespec in_5s(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += 5;
    return t;
}

static void *helper(void *arg)
{
    (void)arg;
    for (int s = 0; s < STEPS; s++) {
        if (s == CLOCKLOCK)
            pthread_mutex_lock(&mutex);
        else if (s == TIMEDRD || s == CLOCKRD)
            pthread_rwlock_wrlock(&rw[s - TIMEDRD]);
        else if (s == TIMEDWR || s == CLOCKWR)
            pthread_rwlock_rdlock(&rw[s - TIMEDRD]);
        pthread_barrier_wait(&step);
        usleep(HOLD_US);
        if (s == CLOCKLOCK) {
            pthread_mutex_unlock(&mutex);
        } else if (s == CLOCKWAIT) {
            pthread_mutex_lock(&cv_mutex);
            signalled = 1;
            pthread_cond_signal(&cv);
            pthread_mutex_unlock(&cv_mutex);
        } else if (s == SEMCLOCK) {
            sem_post(&sem);
        } else {
            pthread_rwlock_unlock(&rw[s - TIMEDRD]);
        }
        pthread_barrier_wait(&step); /* done with it */
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    sem_init(&sem, 0, 0);
    pthread_barrier_init(&step, NULL, 2);
    pthread_create(&t, NULL, helper, NULL);
    int bad = 0;
    for (int s = 0; s < STEPS; s++) {
        if (s == CLOCKWAIT)
            pthread_mutex_lock(&cv_mutex); /* before the helper can signal */
        pthread_barrier_wait(&step);
        struct timespec mono = in_5s(CLOCK_MONOTONIC), real = in_5s(CLOCK_REALTIME);
        pthread_rwlock_t *l = s >= TIMEDRD && s <= CLOCKWR ? &rw[s - TIMEDRD] : NULL;
        switch (s) {
        case CLOCKLOCK:
            bad |= pthread_mutex_clocklock(&mutex, CLOCK_MONOTONIC, &mono) ||
                   pthread_mutex_unlock(&mutex);
            break;
        case TIMEDRD:
            bad |= pthread_rwlock_timedrdlock(l, &real) || pthread_rwlock_unlock(l);
            break;
        case CLOCKRD:
            bad |= pthread_rwlock_clockrdlock(l, CLOCK_MONOTONIC, &mono) || pthread_rwlock_unlock(l);
            break;
        case TIMEDWR:
            bad |= pthread_rwlock_timedwrlock(l, &real) || pthread_rwlock_unlock(l);
            break;
        case CLOCKWR:
            bad |= pthread_rwlock_clockwrlock(l, CLOCK_MONOTONIC, &mono) || pthread_rwlock_unlock(l);
            break;
        case CLOCKWAIT:
            while (!signalled && !bad)
                bad |= pthread_cond_clockwait(&cv, &cv_mutex, CLOCK_MONOTONIC, &mono);
            pthread_mutex_unlock(&cv_mutex);
            break;
        case SEMCLOCK:
            bad |= sem_clockwait(&sem, CLOCK_MONOTONIC, &mono);
            break;
        }
        pthread_barrier_wait(&step);
    }
    pthread_join(t, NULL);
    printf("mutex=%p\n", (void *)&mutex);
    for (int i = 0; i < 4; i++)
        printf("rw%d=%p\n", i, (void *)&rw[i]);
    printf("cv=%p\nsem=%p\n", (void *)&cv, (void *)&sem);
    return bad ? 1 : 0;
}
