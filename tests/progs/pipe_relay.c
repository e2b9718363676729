/*
 * pipe_relay [eventfd] - a thread writes 20 messages into a pipe (or adds
 * 1 to an eventfd 20 times), 2 ms apart; the main thread reads them, and
 * every read waits for its message: exactly 20 slow reads (plus, on the
 * pipe, the one that sees the end), whose writes wake the reader.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int fds[2], use_eventfd;

static void *writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        usleep(2000);
        if (use_eventfd) {
            uint64_t one = 1;
            if (write(fds[1], &one, sizeof one) != sizeof one)
                return NULL;
        } else if (write(fds[1], "m", 1) != 1) {
            return NULL;
        }
    }
    usleep(2000);
    if (!use_eventfd)
        close(fds[1]);
    return NULL;
}

int main(int argc, char **argv)
{
    use_eventfd = argc > 1 && strcmp(argv[1], "eventfd") == 0;
    if (use_eventfd) {
        fds[0] = fds[1] = eventfd(0, EFD_CLOEXEC);
        if (fds[0] < 0)
            return 1;
    } else if (pipe(fds) != 0) {
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    int n = 0;
    if (use_eventfd) {
        /* Each read takes what was added since the last: 20 in all. */
        uint64_t v;
        while (n < 20 && read(fds[0], &v, sizeof v) == sizeof v)
            n += (int)v;
    } else {
        char c;
        while (read(fds[0], &c, 1) == 1)
            n++;
    }
    pthread_join(t, NULL);
    printf("%d messages\n", n);
    return n == 20 ? 0 : 1;
}
