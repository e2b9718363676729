/*
 * fleet - a small request server, for the fleet tests (tests/fleet_test.py):
 * run under `ctrace run` several times, as if on several hosts, its traces
 * are loaded into ClickHouse and read back through docs/fleet.md's queries.
 *
 * main dispatches REQUESTS requests to three workers through a pipe.
 * Each request is a task "request" with
 * a log; its worker runs region "handle", in it "parse", "query" (under
 * the global cache lock, which the workers contend for) and "render"
 * (every 10th sleeps). Every 7th request has a subtask "audit" with a
 * region and a log. The amount of work depends on SEED, so that each run's
 * percentiles differ. main's own region "dispatch" has no task, nor has
 * its "startup" log. A last thread begins task "stuck" and region
 * "wait-forever" and blocks on a condition variable nobody signals: at the
 * end, an unfinished task, region and block.
 *
 *   fleet SEED REQUESTS
 */
#define _GNU_SOURCE 1 /* pthread_setname_np */
#include <ctrace.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define WORKERS 3

/* Requests travel from main to the workers through a pipe: their reads
 * and writes are system calls, not lock waits, so the program blocks in
 * four places only (the cache lock, the render's sleep, main's joins, the
 * stuck thread), and ctrace stats' top five lists every one of them. */
static int requests_pipe[2];

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t never_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static unsigned seed;
static volatile unsigned long sink;

struct request {
    int id;
    ctrace_task task;
};

static void spin(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        sink += i;
}

static void push(const struct request *r)
{
    if (write(requests_pipe[1], r, sizeof *r) != (ssize_t)sizeof *r)
        abort();
}

/* The next request; false once the pipe is closed. */
static bool pop(struct request *r)
{
    return read(requests_pipe[0], r, sizeof *r) == (ssize_t)sizeof *r;
}

static void handle(const struct request *r)
{
    unsigned long work = 2000ul * (1 + (seed * 7u + (unsigned)r->id * 13u) % 9u);
    ctrace_region handle = ctrace_region_begin(r->task, "handle");
    ctrace_region parse = ctrace_region_begin(r->task, "parse");
    spin(work);
    ctrace_region_end(parse);
    ctrace_region query = ctrace_region_begin(r->task, "query");
    pthread_mutex_lock(&cache_lock);
    spin(work * (2 + seed % 3));
    pthread_mutex_unlock(&cache_lock);
    ctrace_region_end(query);
    if (r->id % 7 == 0) {
        ctrace_task audit = ctrace_task_begin(r->task, "audit");
        ctrace_region a = ctrace_region_begin(audit, "audit");
        ctrace_logf(audit, "audit", "request %d audited", r->id);
        spin(work / 2);
        ctrace_region_end(a);
        ctrace_task_end(audit);
    }
    ctrace_region render = ctrace_region_begin(r->task, "render");
    spin(work / 2);
    if (r->id % 10 == 0)
        usleep(300 + seed * 50);
    ctrace_region_end(render);
    ctrace_region_end(handle);
    ctrace_task_end(r->task);
}

static void *worker(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "worker-%d", (int)(long)arg);
    pthread_setname_np(pthread_self(), name);
    struct request r;
    while (pop(&r))
        handle(&r);
    return NULL;
}

static void *stuck(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "stuck");
    ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "stuck");
    ctrace_region_begin(task, "wait-forever");
    pthread_mutex_lock(&never_lock);
    for (;;)
        pthread_cond_wait(&never, &never_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fleet SEED REQUESTS\n");
        return 2;
    }
    seed = (unsigned)atoi(argv[1]);
    int requests = atoi(argv[2]);
    if (pipe(requests_pipe) != 0)
        return 1;
    ctrace_log(CTRACE_NO_TASK, "startup", "fleet server starting");
    pthread_t workers[WORKERS], stuck_thread;
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&workers[i], NULL, worker, (void *)i);
    pthread_create(&stuck_thread, NULL, stuck, NULL);
    ctrace_region dispatch = ctrace_region_begin(CTRACE_NO_TASK, "dispatch");
    for (int i = 1; i <= requests; i++) {
        struct request r = {.id = i, .task = ctrace_task_begin(CTRACE_NO_TASK, "request")};
        ctrace_logf(r.task, "request", "request %d from seed %u", i, seed);
        push(&r);
    }
    close(requests_pipe[1]);
    ctrace_region_end(dispatch);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(workers[i], NULL);
    printf("%d requests\n", requests);
    return 0; /* the stuck thread is still blocked */
}
