/* nofp_workers - a program built the way Debian builds its packages: -O2,
 * without frame pointers (tests/progs/meson.build). Each blocking call is
 * made at a known depth of named functions, so that the stacks of its
 * blocking events can be checked frame by frame:
 *   workers:  worker_main -> take_job -> wait_for_job: pthread_cond_wait
 *   reader:   reader_main -> read_line: read of a pipe the main thread
 *             writes to only after a nap
 *   main:     main -> start_pool: pthread_create
 *             main -> feed_jobs -> nap: usleep
 *             main -> finish: pthread_join
 * Every function does work after its call, so that none is a tail call. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define WORKERS 3
#define JOBS 40

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int jobs, done;
static volatile long work;
static int pipe_fds[2];

__attribute__((noinline)) static int wait_for_job(void)
{
    while (jobs == 0 && !done)
        pthread_cond_wait(&ready, &lock);
    work++;
    return jobs > 0;
}

__attribute__((noinline)) static int take_job(void)
{
    pthread_mutex_lock(&lock);
    int got = wait_for_job();
    if (got)
        jobs--;
    pthread_mutex_unlock(&lock);
    work++;
    return got;
}

__attribute__((noinline)) static void *worker_main(void *arg)
{
    while (take_job())
        work += (long)arg;
    work++;
    return NULL;
}

__attribute__((noinline)) static long read_line(void)
{
    char buf[64];
    long n = read(pipe_fds[0], buf, sizeof buf);
    work += n;
    return n;
}

__attribute__((noinline)) static void *reader_main(void *arg)
{
    while (read_line() > 0)
        work++;
    work++;
    return arg;
}

__attribute__((noinline)) static void start_pool(pthread_t *threads, int n, void *(*fn)(void *))
{
    for (int i = 0; i < n; i++)
        pthread_create(&threads[i], NULL, fn, (void *)(long)i);
    work++;
}

__attribute__((noinline)) static void nap(void)
{
    usleep(2000);
    work++;
}

__attribute__((noinline)) static void feed_jobs(void)
{
    for (int i = 0; i < JOBS; i++) {
        nap();
        pthread_mutex_lock(&lock);
        jobs++;
        pthread_cond_signal(&ready);
        pthread_mutex_unlock(&lock);
        if (i % 8 == 0 && write(pipe_fds[1], "job\n", 4) != 4)
            work--;
    }
    work++;
}

__attribute__((noinline)) static void finish(pthread_t *threads, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    work++;
}

int main(void)
{
    pthread_t workers[WORKERS], reader;
    if (pipe(pipe_fds) != 0)
        return 1;
    start_pool(workers, WORKERS, worker_main);
    start_pool(&reader, 1, reader_main);
    feed_jobs();
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&ready);
    pthread_mutex_unlock(&lock);
    close(pipe_fds[1]);
    finish(workers, WORKERS);
    finish(&reader, 1);
    printf("%ld\n", work > 0 ? 1L : 0L);
    return 0;
}
