/*
 * ringless OUT N - the library's own trace (OUT) of N threads alive at
 * once, each sleeping 1 ms three times inside a region, after it lowered
 * its RLIMIT_MEMLOCK to 0. A library user's threads each open a ring of
 * their own; run as a user without CAP_IPC_LOCK whose perf budget
 * (perf_event_mlock_kb a CPU) holds fewer than N of them, the kernel refuses
 * the rest, and those threads fall back to schedstat samples.
 */
#include <ctrace.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static pthread_barrier_t slept;

static void *member(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        ctrace_region r = ctrace_region_begin(CTRACE_NO_TASK, "nap");
        usleep(1000);
        ctrace_region_end(r);
    }
    pthread_barrier_wait(&slept); /* all alive at once: their rings too */
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc == 3 ? atoi(argv[2]) : 0;
    if (n < 1 || n > 4000)
        return fprintf(stderr, "usage: ringless OUT N\n"), 2;
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_MEMLOCK, &none) != 0)
        return perror("setrlimit"), 1;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ctrace_start(fd) != 0)
        return perror(argv[1]), 1;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (!t || pthread_barrier_init(&slept, NULL, (unsigned)n) != 0)
        return 1;
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, member, NULL) != 0)
            return perror("pthread_create"), 1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    ctrace_stop();
    close(fd);
    free(t);
    return 0;
}
