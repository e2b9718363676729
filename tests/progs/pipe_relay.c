/*
 * pipe_relay [eventfd|reuse] - a thread writes 20 messages into a pipe (or
 * adds 1 to an eventfd 20 times), 2 ms apart; the main thread reads them,
 * and every read waits for its message: exactly 20 slow reads (plus, on
 * the pipe, the one that sees the end), whose writes wake the reader.
 * With `reuse`, a first pipe is read once (slowly), then closed through
 * fclose, so that the relay's pipe gets the same descriptor numbers.
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

static void *write_one(void *arg)
{
    usleep(2000);
    return write(*(int *)arg, "f", 1) == 1 ? arg : NULL;
}

/* A pipe read once while its writer sleeps, then closed by the C library's
 * fclose, which does not call close. */
static void first_pipe(void)
{
    int p[2];
    char c;
    pthread_t t;
    if (pipe(p) != 0)
        return;
    pthread_create(&t, NULL, write_one, &p[1]);
    if (read(p[0], &c, 1) != 1)
        printf("no first message\n");
    pthread_join(t, NULL);
    fclose(fdopen(p[0], "r"));
    fclose(fdopen(p[1], "w"));
}

int main(int argc, char **argv)
{
    use_eventfd = argc > 1 && strcmp(argv[1], "eventfd") == 0;
    if (argc > 1 && strcmp(argv[1], "reuse") == 0)
        first_pipe();
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
