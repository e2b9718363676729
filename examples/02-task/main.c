/*
 * 02-task - tasks that span threads: order processing in three stages.
 *
 * The main thread (the front end) receives 100 orders. Each order is a task
 * ("processOrder") begun there, with a log naming it; the order then goes
 * to the payment thread (region "chargeCard", a log with the amount) and
 * on to the shipping thread (region "packAndShip", a log with the parcel),
 * which ends the task. One task, three threads: what Go's
 * trace.NewTask(ctx, ...) followed by `go worker(ctx)` gives.
 *
 * --drop-task makes the mistake Go's `go worker()` makes: the stages are
 * not given the task. They annotate with CTRACE_NO_TASK, so their regions
 * and logs belong to no task, and the front end ends the task as soon as
 * it has queued the order: each task then looks instantaneous, on one
 * thread, with no region.
 *
 *   ./02-task [-o FILE] [--drop-task]       (default trace.out)
 *   ctrace tasks --type=processOrder trace.out
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

#define ORDERS 100

struct order {
    int id;
    unsigned cents;
    ctrace_task task; /* the context that travels with the order */
    struct order *next;
};

/* A queue between two stages; a NULL order closes it. */
struct queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct order *head, **tail;
    bool closed;
};

#define QUEUE_INIT(q) {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, &(q).head, false}
static struct queue to_payment = QUEUE_INIT(to_payment);
static struct queue to_shipping = QUEUE_INIT(to_shipping);
static bool drop_task;
static volatile unsigned long sink;

static void push(struct queue *q, struct order *o)
{
    pthread_mutex_lock(&q->lock);
    if (o) {
        o->next = NULL;
        *q->tail = o;
        q->tail = &o->next;
    } else {
        q->closed = true;
    }
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

static struct order *pop(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->closed)
        pthread_cond_wait(&q->ready, &q->lock);
    struct order *o = q->head;
    if (o && !(q->head = o->next))
        q->tail = &q->head;
    pthread_mutex_unlock(&q->lock);
    return o;
}

/* Burns about `us` microseconds of CPU. */
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

/* The task a stage annotates with: the order's, unless it was dropped. */
static ctrace_task task_of(const struct order *o)
{
    return drop_task ? CTRACE_NO_TASK : o->task;
}

static void *payment(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "payment");
    struct order *o;
    while ((o = pop(&to_payment))) {
        ctrace_region r = ctrace_region_begin(task_of(o), "chargeCard");
        work(80);
        usleep(200); /* the card network answers */
        ctrace_region_end(r);
        ctrace_logf(task_of(o), "payment", "charged %u.%02u EUR", o->cents / 100, o->cents % 100);
        push(&to_shipping, o);
    }
    push(&to_shipping, NULL);
    return NULL;
}

static void *shipping(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "shipping");
    struct order *o;
    while ((o = pop(&to_shipping))) {
        {
            CTRACE_REGION(task_of(o), "packAndShip");
            work(150);
        }
        ctrace_logf(task_of(o), "shipping", "parcel %d handed over", o->id);
        if (!drop_task)
            ctrace_task_end(o->task); /* the task ends where the work ends */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *path = "trace.out";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--drop-task") == 0) {
            drop_task = true;
        } else {
            fprintf(stderr, "usage: 02-task [-o FILE] [--drop-task]\n");
            return 2;
        }
    }
    bool own_trace = !ctrace_enabled(); /* under ctrace run, it is on already */
    int fd = -1;
    if (own_trace) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int rc = fd < 0 ? -1 : ctrace_start(fd);
        if (rc != 0) {
            fd < 0 ? perror(path) : (void)fprintf(stderr, "ctrace_start: %s\n", ctrace_strerror(rc));
            return 1;
        }
    }

    pthread_t stages[2];
    pthread_create(&stages[0], NULL, payment, NULL);
    pthread_create(&stages[1], NULL, shipping, NULL);
    static struct order orders[ORDERS];
    for (int i = 0; i < ORDERS; i++) {
        struct order *o = &orders[i];
        o->id = 5000 + i;
        o->cents = 1999u + (unsigned)i * 250u;
        o->task = ctrace_task_begin(CTRACE_NO_TASK, "processOrder");
        ctrace_logf(o->task, "order", "OrderID: %d", o->id);
        {
            CTRACE_REGION(o->task, "receive");
            work(30);
        }
        push(&to_payment, o);
        if (drop_task)
            ctrace_task_end(o->task); /* the mistake: ends before the work */
        usleep(500);
    }
    push(&to_payment, NULL);
    pthread_join(stages[0], NULL);
    pthread_join(stages[1], NULL);

    if (own_trace) {
        ctrace_stop();
        close(fd);
    }
    printf("%d orders through payment and shipping%s%s%s\n", ORDERS,
           drop_task ? ", the task not passed along" : ", the task passed along",
           own_trace ? ": wrote " : "", own_trace ? path : "");
    return 0;
}
