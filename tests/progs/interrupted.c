/*
 * interrupted - a slow read interrupted by a signal whose handler records
 * an event of its own: a thread reads an empty pipe; 20 ms later the main
 * thread signals it (SA_RESTART), and the handler sleeps 2 ms; 20 ms after
 * the signal the main thread writes the byte; the reader then sleeps 1 ms.
 * The read's syscall event is written after the handler's sleep (a batch's
 * times never go back), and must still end where the read ended, before the
 * reader's next sleep.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int fds[2];

static void on_usr1(int sig)
{
    (void)sig;
    usleep(2000);
}

static void *reader(void *arg)
{
    (void)arg;
    char c;
    if (read(fds[0], &c, 1) != 1)
        return (void *)1;
    usleep(1000);
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    if (pipe(fds) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0)
        return 2;
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    usleep(20000);
    pthread_kill(t, SIGUSR1);
    usleep(20000);
    if (write(fds[1], "x", 1) != 1)
        return 2;
    void *bad;
    pthread_join(t, &bad);
    return bad ? 1 : 0;
}
