/*
 * flightrecorder - the flight recorder exercise: a small server keeps the
 * last second of its trace in memory, and writes it out when a request is
 * slower than a threshold, once, so that the cause of the slow request is
 * in the file.
 *
 * The server answers "GET KEY" lines on 127.0.0.1, one thread per
 * connection. Each request is a task ("request") with regions: reading it,
 * waiting for the cache's lock, looking the key up. A background thread
 * compacts the cache every 300 ms under the same lock, in a few
 * milliseconds; its fourth compaction runs long. A client in the same
 * program sends requests one after another for two seconds.
 *
 *   ./flightrecorder [-o flight.out] [--threshold-ms=100] [--seconds=2]
 *   ctrace tasks --type=request flight.out
 */
#define _GNU_SOURCE 1 /* accept4 */
#include <ctrace.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct {
    const char *output;
    unsigned threshold_ms, seconds;
} opt = {"flight.out", 100, 2};

static ctrace_flight *flight;
static atomic_bool written; /* the window is written once */
static atomic_bool stopping;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long cache[1024];
static volatile unsigned long sink;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Burns about `us` microseconds of CPU. */
static void work(unsigned us)
{
    uint64_t end = now_ns() + us * 1000ull;
    while (now_ns() < end)
        for (int i = 0; i < 100; i++)
            sink += (unsigned long)i * 2654435761u;
}

/* The slow request's report: the window, written once. */
static void write_window(uint64_t id, uint64_t took_ns)
{
    if (atomic_exchange(&written, true))
        return;
    int fd = open(opt.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : ctrace_flight_write(flight, fd);
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        fprintf(stderr, "flightrecorder: cannot write %s: %s\n", opt.output, strerror(-rc));
    else
        printf("request %llu took %.0f ms (threshold %u ms): flight recorder window written "
               "to %s\n", (unsigned long long)id, took_ns / 1e6, opt.threshold_ms, opt.output);
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[64];
    ssize_t n;
    while ((n = read(fd, line, sizeof line - 1)) > 0) {
        uint64_t start = now_ns();
        line[n] = 0;
        ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "request");
        unsigned long key;
        {
            CTRACE_REGION(task, "parse");
            key = strtoul(line + 4, NULL, 10) % 1024;
            work(50);
        }
        ctrace_logf(task, "key", "GET %lu", key);
        ctrace_region wait = ctrace_region_begin(task, "cache.lock");
        pthread_mutex_lock(&cache_lock);
        ctrace_region_end(wait);
        unsigned long value;
        {
            CTRACE_REGION(task, "lookup");
            work(200);
            value = cache[key]++;
        }
        pthread_mutex_unlock(&cache_lock);
        int len = snprintf(line, sizeof line, "%lu\n", value);
        if (write(fd, line, (size_t)len) != len)
            break;
        ctrace_task_end(task);
        uint64_t took = now_ns() - start;
        if (took > opt.threshold_ms * 1000000ull)
            write_window(task.id, took);
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int listener = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return NULL; /* the listener was shut down */
        }
        pthread_t th;
        if (pthread_create(&th, NULL, serve, (void *)(intptr_t)fd) == 0)
            pthread_detach(th);
        else
            close(fd);
    }
}

/* Compacts the cache every 300 ms; the fourth compaction takes 250 ms. */
static void *compactor(void *arg)
{
    (void)arg;
    for (unsigned round = 1; !atomic_load(&stopping); round++) {
        struct timespec pause = {0, 300000000};
        nanosleep(&pause, NULL);
        ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "compaction");
        pthread_mutex_lock(&cache_lock);
        {
            CTRACE_REGION(task, "compact");
            work(round == 4 ? 250000 : 3000);
        }
        pthread_mutex_unlock(&cache_lock);
        ctrace_task_end(task);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: flightrecorder [-o FILE] [--threshold-ms=N] [--seconds=N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            opt.output = argv[++i];
        else if (strncmp(argv[i], "--threshold-ms=", 15) == 0)
            opt.threshold_ms = (unsigned)atoi(argv[i] + 15);
        else if (strncmp(argv[i], "--seconds=", 10) == 0)
            opt.seconds = (unsigned)atoi(argv[i] + 10);
        else
            usage();
    }
    /* The last second, in at most 8 MiB. */
    ctrace_flight_config config = {.min_age_ns = 1000000000u, .max_bytes = 8u << 20};
    flight = ctrace_flight_start(&config);
    if (!flight) {
        fprintf(stderr, "flightrecorder: cannot start the flight recorder: %s\n",
                strerror(errno));
        return 1;
    }

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 64) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        perror("flightrecorder: listen");
        return 1;
    }
    pthread_t server, compaction;
    pthread_create(&server, NULL, accept_loop, (void *)(intptr_t)listener);
    pthread_create(&compaction, NULL, compactor, NULL);

    /* The client: one connection, a request every 2 ms. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("flightrecorder: connect");
        return 1;
    }
    uint64_t end = now_ns() + opt.seconds * 1000000000ull;
    unsigned requests = 0;
    char buf[64];
    while (now_ns() < end) {
        int n = snprintf(buf, sizeof buf, "GET %u\n", requests * 7919u);
        if (write(fd, buf, (size_t)n) != n || read(fd, buf, sizeof buf) <= 0)
            break;
        requests++;
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    close(fd);
    atomic_store(&stopping, true);
    pthread_join(compaction, NULL);
    shutdown(listener, SHUT_RDWR);
    pthread_join(server, NULL);
    printf("%u requests served%s\n", requests,
           atomic_load(&written) ? "" : "; none was slow, no window written");
    ctrace_flight_stop(flight);
    return 0;
}
