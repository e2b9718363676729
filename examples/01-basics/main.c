/*
 * 01-basics - the first exercise: trace a worker pool and find out where
 * its threads spend their time.
 *
 * The main thread receives 200 orders in bursts of eight and queues them;
 * four worker threads take them. Each order is a task ("processOrder")
 * with a log line naming it and three regions, the steps of handling it:
 * "authentication", "businessLogic" and "responseRender". businessLogic
 * reserves stock under one lock that every worker needs (the inventory
 * lock), so workers that take a burst together wait for each other there:
 * lock contention. A "notifier" thread waits for a shutdown message that
 * the program never sends: when main returns it is still blocked, the C
 * analogue of a leaked goroutine.
 *
 *   ./01-basics [-o FILE]         records its own trace (default trace.out)
 *   ctrace run -o trace.out -- ./01-basics
 *                                 records it from outside: the locks and
 *                                 the leak too (the API alone records the
 *                                 tasks, regions and logs)
 *   ctrace stats trace.out
 */
#define _GNU_SOURCE 1 /* pthread_setname_np */
#include <ctrace.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define ORDERS 200
#define BURST 8

struct order {
    int id;
    ctrace_task task;
};

static struct order queue[ORDERS];
static int queue_head, queue_tail;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_ready = PTHREAD_COND_INITIALIZER;

static pthread_mutex_t inventory_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long stock[64];

static pthread_mutex_t shutdown_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shutdown_cond = PTHREAD_COND_INITIALIZER;
static bool shutdown_sent; /* nobody sets it: the leak */

static volatile unsigned long sink;

/* Burns about `us` microseconds of CPU: the work of a step. */
static void work(unsigned us)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        for (int i = 0; i < 100; i++)
            sink += (unsigned long)i * 2654435761u;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000 + (now.tv_nsec - start.tv_nsec) / 1000 < us);
}

static void reserve_stock(const struct order *o)
{
    pthread_mutex_lock(&inventory_lock); /* every worker needs it: contention */
    work(200 + (unsigned)(o->id % 7) * 20);
    stock[o->id % 64]++;
    pthread_mutex_unlock(&inventory_lock);
}

static void handle(struct order *o)
{
    ctrace_logf(o->task, "order", "OrderID: %d", o->id);
    {
        CTRACE_REGION(o->task, "authentication"); /* ends with the scope */
        work(20);
    }
    ctrace_region r = ctrace_region_begin(o->task, "businessLogic");
    work(10);
    reserve_stock(o);
    ctrace_region_end(r);
    {
        CTRACE_REGION(o->task, "responseRender");
        work(30);
    }
    ctrace_task_end(o->task); /* begun by main, ended here, on a worker */
}

static void *worker(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "worker-%d", (int)(intptr_t)arg);
    pthread_setname_np(pthread_self(), name);
    for (;;) {
        pthread_mutex_lock(&queue_lock);
        while (queue_head == queue_tail && queue_tail < ORDERS)
            pthread_cond_wait(&queue_ready, &queue_lock);
        if (queue_head == ORDERS) {
            pthread_mutex_unlock(&queue_lock);
            return NULL;
        }
        struct order *o = &queue[queue_head++];
        pthread_mutex_unlock(&queue_lock);
        handle(o);
    }
}

/* Waits for a shutdown message that never comes. */
static void *notifier(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "notifier");
    pthread_mutex_lock(&shutdown_lock);
    while (!shutdown_sent)
        pthread_cond_wait(&shutdown_cond, &shutdown_lock);
    pthread_mutex_unlock(&shutdown_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *path = "trace.out";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "usage: 01-basics [-o FILE]\n");
            return 2;
        }
    }
    /* Under `ctrace run` tracing is on already: record into its trace. */
    bool own_trace = !ctrace_enabled();
    int fd = -1;
    if (own_trace) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        int rc = ctrace_start(fd); /* Go: trace.Start(f) */
        if (rc != 0) {
            fprintf(stderr, "ctrace_start: %s\n", ctrace_strerror(rc));
            return 1;
        }
    }

    ctrace_task main_task = ctrace_task_begin(CTRACE_NO_TASK, "main");
    pthread_t threads[WORKERS], leaked;
    pthread_create(&leaked, NULL, notifier, NULL);
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < ORDERS; i += BURST) {
        pthread_mutex_lock(&queue_lock);
        for (int k = i; k < i + BURST; k++) {
            queue[queue_tail].id = 1000 + k;
            queue[queue_tail].task = ctrace_task_begin(main_task, "processOrder");
            queue_tail++;
        }
        pthread_cond_broadcast(&queue_ready);
        pthread_mutex_unlock(&queue_lock);
        usleep(2000); /* the next burst of orders arrives */
    }
    pthread_mutex_lock(&queue_lock);
    pthread_cond_broadcast(&queue_ready);
    pthread_mutex_unlock(&queue_lock);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);
    ctrace_task_end(main_task);

    if (own_trace) {
        ctrace_stop(); /* Go: trace.Stop(); the file is complete */
        close(fd);
        printf("wrote %s: %d orders on %d workers\n", path, ORDERS, WORKERS);
    } else {
        printf("%d orders on %d workers, into ctrace run's trace\n", ORDERS, WORKERS);
    }
    /* The notifier is still waiting: returning from main ends it. */
    return 0;
}
