/*
 * basics - the first exercise: trace a small concurrent program.
 *
 * Four worker threads take orders from a queue. Each order is a task
 * ("processOrder") with three regions, the steps of handling it, and a log
 * line naming the order, as in Go's trace.NewTask / StartRegion / Log.
 *
 *   ./basics [trace.out]         then: ctrace stats trace.out
 */
#include <ctrace.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define ORDERS 200

struct order {
    int id;
    ctrace_task task;
};

static struct order queue[ORDERS];
static int queue_head, queue_tail;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
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

static void handle(struct order *o)
{
    ctrace_logf(o->task, "order", "OrderID: %d", o->id);
    {
        CTRACE_REGION(o->task, "authentication");
        work(20);
    }
    {
        CTRACE_REGION(o->task, "businessLogic");
        work(50 + (unsigned)(o->id % 7) * 20);
    }
    ctrace_region r = ctrace_region_begin(o->task, "responseRender");
    work(30);
    ctrace_region_end(r);
    ctrace_task_end(o->task);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (queue_head == queue_tail && queue_tail < ORDERS)
            pthread_cond_wait(&ready, &lock);
        if (queue_head == ORDERS) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        struct order *o = &queue[queue_head++];
        pthread_mutex_unlock(&lock);
        handle(o);
    }
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "trace.out";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    int rc = ctrace_start(fd);
    if (rc != 0) {
        fprintf(stderr, "ctrace_start: %s\n", ctrace_strerror(rc));
        return 1;
    }
    ctrace_task main_task = ctrace_task_begin(CTRACE_NO_TASK, "main");
    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < ORDERS; i++) {
        pthread_mutex_lock(&lock);
        queue[queue_tail].id = 1000 + i;
        queue[queue_tail].task = ctrace_task_begin(main_task, "processOrder");
        queue_tail++;
        pthread_cond_signal(&ready);
        pthread_mutex_unlock(&lock);
        usleep(200);
    }
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&ready);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);
    ctrace_task_end(main_task);
    ctrace_stop();
    close(fd);
    printf("wrote %s: %d orders on %d threads\n", path, ORDERS, WORKERS);
    return 0;
}
