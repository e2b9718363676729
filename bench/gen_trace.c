/*
 * gen_trace.c - writes a large trace for the analysis and view benchmarks
 * and the view's tests: `gen_trace OUT MB [THREADS [TASKS]]`. Each thread
 * serves requests: a task, three nested regions with a little work in
 * each, a log ("served"); every 64th request sleeps 50 us (a block and a
 * voluntary context switch) and says so in a log of its own naming the
 * request. Stops when the file holds about MB megabytes, or once TASKS
 * tasks (when given, not 0) have begun.
 */
#include <ctrace.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_bool done;
static atomic_ulong tasks, task_limit;
static _Thread_local volatile unsigned long sink; /* work the compiler keeps */

static void work(int n)
{
    for (int i = 0; i < n; i++)
        sink += (unsigned long)i * 2654435761u;
}

static void *serve(void *arg)
{
    (void)arg;
    unsigned long limit = atomic_load(&task_limit);
    for (unsigned long i = 0; !atomic_load_explicit(&done, memory_order_relaxed); i++) {
        if (limit && atomic_fetch_add_explicit(&tasks, 1, memory_order_relaxed) >= limit)
            break;
        ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "request");
        ctrace_region outer = ctrace_region_begin(task, "handle");
        ctrace_region parse = ctrace_region_begin(task, "parse");
        work(20);
        ctrace_region_end(parse);
        ctrace_region query = ctrace_region_begin(task, "query");
        work(60);
        ctrace_region_end(query);
        ctrace_region_end(outer);
        ctrace_log(task, "request", "served");
        ctrace_task_end(task);
        if ((i & 63) == 0) {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
            ctrace_logf(CTRACE_NO_TASK, "sleep", "slept after request %lu", i);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen_trace OUT MB [THREADS [TASKS]]\n");
        return 2;
    }
    off_t target = (off_t)atol(argv[2]) << 20;
    int threads = argc > 3 ? atoi(argv[3]) : 4;
    atomic_store(&task_limit, argc > 4 ? strtoul(argv[4], NULL, 10) : 0);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ctrace_start(fd) != 0) {
        perror(argv[1]);
        return 1;
    }
    pthread_t th[64];
    for (int i = 0; i < threads && i < 64; i++)
        pthread_create(&th[i], NULL, serve, NULL);
    struct stat st;
    unsigned long limit = atomic_load(&task_limit);
    while (fstat(fd, &st) == 0 && st.st_size < target && (!limit || atomic_load(&tasks) < limit))
        usleep(20000);
    atomic_store(&done, true);
    for (int i = 0; i < threads && i < 64; i++)
        pthread_join(th[i], NULL);
    ctrace_stop();
    close(fd);
    return 0;
}
