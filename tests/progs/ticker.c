/* ticker MS [SIGNAL_AT_MS] [crash] - sleeps 1 ms at a time for MS
 * milliseconds; raises SIGUSR2 at itself after SIGNAL_AT_MS (0: never), then
 * goes on; with "crash", dies of SIGSEGV at the end. Prints the number of
 * sleeps before and after the signal. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 1000;
    long signal_at = argc > 2 ? atol(argv[2]) : 0;
    int crash = argc > 3 && strcmp(argv[3], "crash") == 0;
    long start = now_ms(), before = 0, after = 0;
    int signalled = 0;
    while (now_ms() - start < total) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        if (signalled)
            after++;
        else
            before++;
        if (signal_at && !signalled && now_ms() - start >= signal_at) {
            raise(SIGUSR2);
            signalled = 1;
        }
    }
    printf("%ld %ld\n", before, after);
    fflush(stdout);
    if (crash)
        *(volatile int *)0 = 1;
    return 0;
}
