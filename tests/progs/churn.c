/*
 * churn [THREADS] - makes THREADS short threads (default 3000) one after
 * another, each joined before the next, each computing a few
 * microseconds: threads that begin as a generation of the trace ends.
 */
#include <pthread.h>
#include <stdlib.h>

static void *work(void *arg)
{
    unsigned long sum = 0;
    for (unsigned long i = 0; i < 2000; i++) {
        sum += i * (unsigned long)arg;
        __asm__ volatile("" : "+r"(sum)); /* a loop, not its closed form */
    }
    return (void *)sum;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 3000;
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, work, (void *)i) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    return 0;
}
