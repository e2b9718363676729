/*
 * sigdie [handle SIG | ignore SIG | alarm] - runs until a signal ends it:
 * two threads sleep 1 ms at a time, and the main thread sleeps 10 ms at a
 * time and prints "tick" after each sleep (so a reader knows how many
 * sleeps came before the signal). Prints "ready" first, and "SIG not
 * default" for each terminating signal that sigaction does not report at
 * its default (the tracer's handler must not show).
 *
 *   handle SIG   a handler for SIG (a number) that makes it print "caught"
 *                and exit 7
 *   ignore SIG   ignores SIG (signal() must return SIG_DFL)
 *   alarm        alarm(1): SIGALRM after a second
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
    caught = sig;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        usleep(1000);
    return NULL;
}

int main(int argc, char **argv)
{
    static const int terminating[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT,
                                      SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof terminating / sizeof *terminating; i++) {
        struct sigaction old;
        if (sigaction(terminating[i], NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
            old.sa_handler != SIG_DFL)
            printf("%d not default\n", terminating[i]);
    }
    const char *mode = argc > 1 ? argv[1] : "";
    int sig = argc > 2 ? atoi(argv[2]) : 0;
    if (strcmp(mode, "handle") == 0) {
        if (signal(sig, on_signal) != SIG_DFL)
            printf("signal() did not return SIG_DFL\n");
    } else if (strcmp(mode, "ignore") == 0) {
        if (signal(sig, SIG_IGN) != SIG_DFL)
            printf("signal() did not return SIG_DFL\n");
        struct sigaction now;
        if (sigaction(sig, NULL, &now) != 0 || now.sa_handler != SIG_IGN)
            printf("sigaction does not say SIG_IGN\n");
    } else if (strcmp(mode, "alarm") == 0) {
        alarm(1);
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, sleeper, NULL);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        usleep(10000);
        if (caught) {
            printf("caught %d\n", (int)caught);
            exit(7);
        }
        printf("tick\n");
        fflush(stdout);
    }
}
