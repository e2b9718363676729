/* uiprog - a trace with intervals known in advance, for ctrace view's tests:
 * "holder" takes a mutex and waits with it; "spinner" runs for 200 ms, tells
 * the holder through a pipe, then blocks on that mutex in wait_for_lock
 * until the holder, sleeping 100 ms after the news, lets it go. (The pipe,
 * not a fixed sleep, so that a spinner that starts late on a loaded machine
 * still finds the mutex held.) */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static int news[2];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int held;
static volatile unsigned long sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void wait_for_lock(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

static void *holder(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "holder");
    pthread_mutex_lock(&lock);
    atomic_store(&held, 1);
    char c;
    if (read(news[0], &c, 1) == 1)
        usleep(100000);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *spinner(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "spinner");
    while (!atomic_load(&held))
        ;
    double end = now() + 0.2;
    while (now() < end)
        sink++;
    if (write(news[1], "x", 1) != 1)
        return NULL;
    wait_for_lock();
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    if (pipe(news) != 0)
        return 1;
    pthread_create(&a, NULL, holder, NULL);
    pthread_create(&b, NULL, spinner, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
