/*
 * closerace SECONDS - closes numbers in a loop while the tracer opens
 * descriptors: a thread closes 3 to 63 over and over; another opens its own
 * file, moves it to 900 and closes the first number, under a lock the
 * closing thread also takes, so that the program never closes its own
 * file; the main thread makes short threads that sleep, so that the tracer
 * opens, reads and closes their schedstat files meanwhile. Exit 1 if the
 * program's file was closed under it (dup2 said EBADF) or held something
 * else (a file of the tracer's in its place); prints its counts.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE "closerace\n"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stop;
static atomic_long opened, lost, wrong;

static void *closer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        for (int fd = 3; fd < 64; fd++) {
            pthread_mutex_lock(&lock);
            close(fd);
            pthread_mutex_unlock(&lock);
        }
    return NULL;
}

static void *opener(void *arg)
{
    const char *path = arg;
    while (!atomic_load(&stop)) {
        pthread_mutex_lock(&lock);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            char buf[sizeof LINE] = {0};
            if (dup2(fd, 900) < 0)
                atomic_fetch_add(&lost, 1);
            else if (pread(900, buf, sizeof LINE - 1, 0) != sizeof LINE - 1 ||
                     memcmp(buf, LINE, sizeof LINE - 1) != 0)
                atomic_fetch_add(&wrong, 1);
            close(fd);
            atomic_fetch_add(&opened, 1);
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void *napper(void *arg)
{
    (void)arg;
    struct timespec t = {0, 50000};
    nanosleep(&t, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1;
    char path[] = "/tmp/closerace.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, LINE, sizeof LINE - 1) != sizeof LINE - 1)
        return 2;
    close(fd);
    pthread_t c, o;
    pthread_create(&c, NULL, closer, NULL);
    pthread_create(&o, NULL, opener, path);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long made = 0;
    do {
        pthread_t n;
        if (pthread_create(&n, NULL, napper, NULL) == 0) {
            pthread_join(n, NULL);
            made++;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    atomic_store(&stop, true);
    pthread_join(c, NULL);
    pthread_join(o, NULL);
    unlink(path);
    printf("threads %ld opened %ld lost %ld wrong %ld\n", made, atomic_load(&opened),
           atomic_load(&lost), atomic_load(&wrong));
    return atomic_load(&lost) || atomic_load(&wrong) ? 1 : 0;
}
