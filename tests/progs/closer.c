/*
 * closer close|range|from|dup2 FILE [MS] - starts as a daemon does: closes
 * every descriptor from 3 (a close loop, close_range or closefrom), or
 * puts /dev/null on every number from 3 below 4096 with dup2, then writes
 * 100 lines into FILE, the first file it opens, while a thread sleeps 5
 * times 2 ms. Reads FILE back: exit 1 if it holds anything but its lines
 * (a tracer whose trace took the number wrote into it), else 0. With MS,
 * says "closed" on its output once the closes are done, and sleeps MS
 * milliseconds at the end (a test asks the endpoint meanwhile).
 */
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        usleep(2000);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4)
        return 2;
    if (strcmp(argv[1], "close") == 0) {
        for (int fd = 3; fd < 4096; fd++)
            close(fd);
    } else if (strcmp(argv[1], "dup2") == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0)
            return 2;
        for (int fd = 3; fd < 4096; fd++)
            if (fd != null)
                dup2(null, fd); /* past the descriptor limit: EBADF */
        close(null); /* FILE gets its number */
    } else if (strcmp(argv[1], "range") == 0) {
        if (close_range(3, ~0u, 0) != 0)
            return 2;
    } else {
        closefrom(3);
    }
    if (argc == 4) {
        printf("closed\n");
        fflush(stdout);
    }
    int out = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (out < 0)
        return 2;
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);
    for (int i = 0; i < 100; i++) {
        usleep(200);
        if (write(out, "line\n", 5) != 5)
            return 2;
    }
    pthread_join(t, NULL);
    char buf[1024];
    ssize_t n = pread(out, buf, sizeof buf, 0);
    close(out);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] != "line\n"[i % 5]) {
            printf("%s holds a byte not written by this program at %zd\n", argv[2], i);
            return 1;
        }
    if (n != 500) {
        printf("%s holds %zd bytes, not 500\n", argv[2], n);
        return 1;
    }
    if (argc == 4)
        usleep((useconds_t)atoi(argv[3]) * 1000);
    return 0;
}
