/*
 * crowd N - N threads alive at once, each sleeping 1 ms three times; when
 * all have slept, prints how many perf events the process holds open
 * (descriptors that read anon_inode:[perf_event]), then they end.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t slept, counted;

static void *member(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        usleep(1000);
    pthread_barrier_wait(&slept);
    pthread_barrier_wait(&counted);
    return NULL;
}

static int perf_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            n += strstr(target, "perf_event") != NULL;
        }
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        return 1;
    pthread_barrier_init(&slept, NULL, (unsigned)n + 1);
    pthread_barrier_init(&counted, NULL, (unsigned)n + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], &attr, member, NULL) != 0)
            return 1;
    pthread_barrier_wait(&slept);
    printf("perf_fds=%d\n", perf_fds());
    pthread_barrier_wait(&counted);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
    return 0;
}
