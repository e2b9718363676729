/*
 * pipe_relay - a thread writes 20 messages into a pipe, 2 ms apart; the
 * main thread reads them, and every read waits for its message: exactly 20
 * slow reads on a pipe (plus the one that sees the end), whose writes wake
 * the reader.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int fds[2];

static void *writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        usleep(2000);
        if (write(fds[1], "m", 1) != 1)
            return NULL;
    }
    usleep(2000);
    close(fds[1]);
    return NULL;
}

int main(void)
{
    if (pipe(fds) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    char c;
    int n = 0;
    while (read(fds[0], &c, 1) == 1)
        n++;
    pthread_join(t, NULL);
    printf("%d messages\n", n);
    return n == 20 ? 0 : 1;
}
