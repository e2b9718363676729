/* closed_cost MODE [ROUNDS [WAIT_MS]] - what context-switch events cost two
 * threads' handoffs once they are closed. Two threads hand a turn to each
 * other ROUNDS times each through one condition variable (run it on one
 * CPU: taskset -c 0), and it prints the nanoseconds a handoff took.
 * MODE says what perf events the threads had, one a CPU, opened with
 * inherit on the main thread as ctrace run opens them:
 *   none    never any
 *   open    open during the handoffs (the records are not read)
 *   closed  opened before the threads were made, closed just before the
 *           handoffs (as --sched=auto closes them when switches come too
 *           fast)
 *   later   as closed, the handoffs WAIT_MS after the close (1500)
 *   before  opened and closed before the threads were made
 * The kernel keeps its switch hooks on for a second after the last such
 * event of the machine closes, and a thread that inherited one keeps its
 * perf context until it exits: `closed` pays for a while what `later`
 * and `before` do not. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "switch_event.h"

#define MAX_CPUS 256
#define RING_BYTES (65 * 4096)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turned = PTHREAD_COND_INITIALIZER;
static long turn = -1; /* -1 until the handoffs start */
static long rounds;

static void *hand(void *arg)
{
    long me = (long)arg;
    pthread_mutex_lock(&mu);
    for (long i = 0; i < rounds; i++) {
        while (turn < 0 || (turn & 1) != me)
            pthread_cond_wait(&turned, &mu);
        turn++;
        pthread_cond_signal(&turned);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int fds[MAX_CPUS];
static void *rings[MAX_CPUS];
static int nfds;

static int open_events(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (long cpu = 0; cpu < cpus && cpu < MAX_CPUS; cpu++) {
        int fd = open_switch_event((int)cpu);
        void *ring = fd < 0 ? MAP_FAILED
                            : mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (ring == MAP_FAILED) {
            perror("closed_cost: perf_event_open");
            return -1;
        }
        fds[nfds] = fd;
        rings[nfds++] = ring;
    }
    return 0;
}

static void close_events(void)
{
    for (int i = 0; i < nfds; i++) {
        munmap(rings[i], RING_BYTES);
        close(fds[i]);
    }
    nfds = 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "none";
    rounds = argc > 2 ? atol(argv[2]) : 30000;
    if (strcmp(mode, "none") != 0 && open_events() < 0)
        return 1;
    if (strcmp(mode, "before") == 0)
        close_events();
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, hand, (void *)i) != 0)
            return 1;
    usleep(1000); /* both waiting */
    if (strcmp(mode, "closed") == 0 || strcmp(mode, "later") == 0)
        close_events();
    if (strcmp(mode, "later") == 0)
        usleep((useconds_t)(argc > 3 ? atol(argv[3]) : 1500) * 1000);
    double t0 = now_ns();
    pthread_mutex_lock(&mu);
    turn = 0;
    pthread_cond_broadcast(&turned);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("%.0f\n", (now_ns() - t0) / (2.0 * (double)rounds));
    return 0;
}
