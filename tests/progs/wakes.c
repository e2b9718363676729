/*
 * wakes - signals that wake someone and signals that wake no one, for the
 * recorder's wake events: only a release that can end a traced thread's
 * wait records one.
 *
 * 1. Repeated signals: 20 rounds; in each, a consumer waits on `more`; the
 *    main thread, holding the mutex, signals `more` 10 times (the first
 *    wakes the consumer, which cannot leave the wait before the mutex is
 *    released; the other 9 wake no one), then waits on `done` for the
 *    consumer's answer. On `more`: 20 wakes, each from the main thread.
 * 2. Three waiters on `gate`: the main thread signals twice, waits until
 *    the two woken have left, then signals the third: 3 wakes, the last
 *    made when fewer waiters remain than signals were sent.
 * 3. A mutex relocked by pthread_cond_wait (its word then says "waited
 *    for" whoever waits) and unlocked with no one waiting: no wake. Then a
 *    thread that sleeps on the mutex the main thread holds 20 ms: a wake,
 *    from the main thread.
 * Prints the objects' addresses: "more 0x... gate 0x... lock 0x...".
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define ROUNDS 20
#define REPEATS 10

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static int posted, answered;

static pthread_mutex_t gate_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate = PTHREAD_COND_INITIALIZER, left = PTHREAD_COND_INITIALIZER;
static int opened, gone, waiting;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t relock = PTHREAD_COND_INITIALIZER;
static int relocked;

static void *consumer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    for (int round = 1; round <= ROUNDS; round++) {
        while (posted < round)
            pthread_cond_wait(&more, &m);
        answered = round;
        pthread_cond_signal(&done);
    }
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *gate_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_m);
    waiting++;
    while (opened == 0)
        pthread_cond_wait(&gate, &gate_m);
    opened--;
    gone++;
    pthread_cond_signal(&left);
    pthread_mutex_unlock(&gate_m);
    return NULL;
}

static void *relocker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!relocked)
        pthread_cond_wait(&relock, &lock);
    /* The relock set the word to "waited for"; no one waits: no wake. */
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock); /* the main thread holds it 20 ms */
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, consumer, NULL);
    pthread_mutex_lock(&m);
    for (int round = 1; round <= ROUNDS; round++) {
        usleep(1000); /* the consumer is in its wait again */
        posted = round;
        for (int i = 0; i < REPEATS; i++)
            pthread_cond_signal(&more);
        while (answered < round)
            pthread_cond_wait(&done, &m);
    }
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);

    pthread_t g[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&g[i], NULL, gate_waiter, NULL);
    for (;;) { /* all three wait */
        pthread_mutex_lock(&gate_m);
        int n = waiting;
        pthread_mutex_unlock(&gate_m);
        if (n == 3)
            break;
        usleep(1000);
    }
    usleep(5000);
    pthread_mutex_lock(&gate_m);
    opened = 2;
    pthread_cond_signal(&gate);
    pthread_cond_signal(&gate);
    while (gone < 2)
        pthread_cond_wait(&left, &gate_m);
    opened = 1;
    pthread_cond_signal(&gate); /* the third, still waiting */
    pthread_mutex_unlock(&gate_m);
    for (int i = 0; i < 3; i++)
        pthread_join(g[i], NULL);

    pthread_create(&t, NULL, relocker, NULL);
    usleep(5000);
    pthread_mutex_lock(&lock);
    relocked = 1;
    pthread_cond_signal(&relock);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);

    pthread_mutex_lock(&lock);
    pthread_create(&t, NULL, sleeper, NULL);
    usleep(20000);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);

    printf("more %p gate %p lock %p\n", (void *)&more, (void *)&gate, (void *)&lock);
    return 0;
}
