/*
 * 03-region - regions for the stages of a pipeline, at a good and at a too
 * fine granularity, with what each costs.
 *
 * Three threads form a pipeline: "parser" makes batches of 1000 records,
 * "transformer" transforms each record, "store" adds them up. Each stage's
 * work on a batch is a region named after the stage: "parse", "transform",
 * "store". That is a good granularity: a region is a unit of work of tens
 * of microseconds, and the regions show where a batch spends its time.
 *
 * The pipeline runs three times, one task ("pipeline") each: with no
 * regions, with a region per stage and batch, and with a region per
 * record as well ("transformRecord", the seed's `x++` example: a
 * nanosecond or two of work in each). The transformer times its work on
 * each batch, and the program prints the median batch of each run and
 * what a region cost.
 *
 *   ./03-region [-o FILE]         (default trace.out)
 *   ctrace regions trace.out
 */
#define _GNU_SOURCE 1 /* pthread_setname_np */
#include <ctrace.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 200
#define RECORDS 1000
#define DEPTH 4 /* batches in flight between two stages */

enum granularity { NONE, STAGE, RECORD };
static const char *const granularity_name[] = {"none", "stage", "record"};

struct batch {
    uint32_t record[RECORDS];
};

/* A bounded queue of batches between two stages. NULL ends a run; &quit
 * ends the program. */
struct pipe {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct batch *slot[DEPTH];
    unsigned head, count;
};
#define PIPE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0}
static struct pipe parsed = PIPE_INIT, transformed = PIPE_INIT, done = PIPE_INIT;
static struct batch quit;

static void put(struct pipe *p, struct batch *b)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == DEPTH)
        pthread_cond_wait(&p->changed, &p->lock);
    p->slot[(p->head + p->count++) % DEPTH] = b;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static struct batch *take(struct pipe *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == 0)
        pthread_cond_wait(&p->changed, &p->lock);
    struct batch *b = p->slot[p->head];
    p->head = (p->head + 1) % DEPTH;
    p->count--;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return b;
}

/* What the current run annotates; set by main between runs. */
static enum granularity mode;
static ctrace_task run_task;
static uint64_t batch_ns[BATCHES]; /* the transform of each batch, this run */
static unsigned batches_timed;
static uint64_t checksum;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t transform_record(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    return x;
}

static void *transformer(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "transformer");
    struct batch *b;
    while ((b = take(&parsed)) != &quit) {
        if (!b) { /* the end of a run */
            put(&transformed, NULL);
            continue;
        }
        uint64_t start = now_ns();
        ctrace_region stage = mode >= STAGE ? ctrace_region_begin(run_task, "transform")
                                            : CTRACE_NO_REGION;
        for (int i = 0; i < RECORDS; i++) {
            if (mode == RECORD) {
                /* Too fine: a region around a few nanoseconds of work. */
                ctrace_region r = ctrace_region_begin(run_task, "transformRecord");
                b->record[i] = transform_record(b->record[i]);
                ctrace_region_end(r);
            } else {
                b->record[i] = transform_record(b->record[i]);
            }
        }
        if (mode >= STAGE)
            ctrace_region_end(stage);
        batch_ns[batches_timed++] = now_ns() - start;
        put(&transformed, b);
    }
    put(&transformed, &quit);
    return NULL;
}

static void *store(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "store");
    struct batch *b;
    while ((b = take(&transformed)) != &quit) {
        if (!b) {
            put(&done, NULL);
            continue;
        }
        ctrace_region stage = mode >= STAGE ? ctrace_region_begin(run_task, "store")
                                            : CTRACE_NO_REGION;
        for (int i = 0; i < RECORDS; i++)
            checksum += b->record[i];
        usleep(20); /* the write to storage */
        if (mode >= STAGE)
            ctrace_region_end(stage);
        put(&done, b); /* back to the parser, to be filled again */
    }
    return NULL;
}

/* One run of the pipeline, on the calling thread as the parser. */
static void run(enum granularity g, struct batch *pool)
{
    mode = g;
    batches_timed = 0;
    run_task = ctrace_task_begin(CTRACE_NO_TASK, "pipeline");
    ctrace_logf(run_task, "granularity", "regions per %s", granularity_name[g]);
    for (int i = 0; i < DEPTH; i++)
        put(&done, &pool[i]);
    uint32_t seed = 12345;
    for (int n = 0; n < BATCHES; n++) {
        struct batch *b = take(&done);
        ctrace_region stage = g >= STAGE ? ctrace_region_begin(run_task, "parse")
                                         : CTRACE_NO_REGION;
        for (int i = 0; i < RECORDS; i++)
            b->record[i] = seed = seed * 1103515245u + 12345u;
        if (g >= STAGE)
            ctrace_region_end(stage);
        put(&parsed, b);
    }
    put(&parsed, NULL);
    /* The batches still in flight come back, then the end of the run. */
    while (take(&done))
        ;
    ctrace_task_end(run_task);
}

static int compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *path = "trace.out";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "usage: 03-region [-o FILE]\n");
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
    static struct batch pool[DEPTH];
    pthread_t threads[2];
    pthread_create(&threads[0], NULL, transformer, NULL);
    pthread_create(&threads[1], NULL, store, NULL);

    uint64_t median[3];
    unsigned long regions[3] = {0, 3ul * BATCHES, 3ul * BATCHES + (unsigned long)BATCHES * RECORDS};
    for (enum granularity g = NONE; g <= RECORD; g++) {
        run(g, pool);
        qsort(batch_ns, BATCHES, sizeof *batch_ns, compare);
        median[g] = batch_ns[BATCHES / 2];
    }
    put(&parsed, &quit);
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    if (own_trace) {
        ctrace_stop();
        close(fd);
    }

    printf("%-12s %8s %18s %11s\n", "granularity", "regions", "transform a batch", "per record");
    for (enum granularity g = NONE; g <= RECORD; g++)
        printf("%-12s %8lu %15.1f us %8.1f ns\n", granularity_name[g], regions[g],
               median[g] / 1e3, (double)median[g] / RECORDS);
    printf("a region around one record cost %.0f ns, where the record's own work took %.1f ns\n",
           ((double)median[RECORD] - (double)median[STAGE]) / RECORDS,
           (double)median[STAGE] / RECORDS);
    if (own_trace)
        printf("wrote %s (checksum %llx)\n", path, (unsigned long long)checksum);
    return 0;
}
