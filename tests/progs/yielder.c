/* yielder MS - calls sched_yield for MS milliseconds and nothing else: two
 * of them on one CPU hand it to each other at every call, a context switch
 * each, with no wrapped call that would make the traced process's writer
 * thread. */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    long end = now_ms() + (argc > 1 ? atol(argv[1]) : 300);
    while (now_ms() < end)
        for (int i = 0; i < 100; i++)
            sched_yield();
    return 0;
}
