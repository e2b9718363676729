/*
 * fidelity SCENARIO - programs whose threads each print, as the last thing
 * they do, the kernel's own account of themselves, for tests/fidelity_test.py
 * to hold `ctrace threads` against:
 *
 *   KERNEL <tid> run_ns <n> wait_ns <n> vol <n> invol <n> cpu_clock_ns <n> at_ns <n>
 *
 * run_ns and wait_ns from /proc/thread-self/schedstat (time on a CPU, time
 * runnable in a run queue), vol and invol from /proc/thread-self/status
 * (context switches), cpu_clock_ns from CLOCK_THREAD_CPUTIME_ID (time on
 * a CPU up to now, where schedstat's and getrusage's are as of the running
 * thread's last tick), at_ns the CLOCK_MONOTONIC time before the readings.
 *
 *   crowd       one CPU: a spinner and a condvar ping-pong of two threads
 *   stdio       a thread reading lines with fgets from a pipe another
 *               thread writes slowly (stdio's reads are libc's own)
 *   stdio_write the main thread writes 200 lines of 1 KiB with fputs into
 *               a pipe whose reader starts after 200 ms: the pipe fills
 *               and the fputs that flushes the buffer waits (most fputs
 *               fit in the buffer, and do no I/O)
 *   condsignal  one CPU: a signaller and eight waiters, where glibc's
 *               pthread_cond_signal sometimes waits for woken waiters
 *   starved     one CPU: a thread of SCHED_IDLE woken from a condvar while
 *               a child process spins for 30 ms, then sleeping ten times
 *               1 ms (prints "slept 10"): its wake-ups wait behind a
 *               process the records do not show, the kernel's total wait
 *               is all the trace can know, and no sleep ended early
 *   brief       one CPU: two spinners and four threads that sleep 1 ms,
 *               wait for the CPU at their wake-up and end: within a few
 *               milliseconds, before the writer's first look at them
 *   epoll       a server waiting in epoll_wait on a listening socket and its
 *               connections, and a client sending requests on loopback
 *   start       the main thread reports at once: its account since exec
 *               bounds what the trace may give it from the session's start
 *   spin        spins until killed (a rival for a CPU, untraced)
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The kernel's account of the calling thread, on one line of stdout. */
static void report(void)
{
    /* The time first: all that follows (the readings themselves, a
     * preemption between them) is after it. */
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    unsigned long long run = 0, wait = 0;
    long vol = -1, invol = -1;
    char line[256];
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &run, &wait) != 2)
            run = wait = 0;
        fclose(f);
    }
    f = fopen("/proc/thread-self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "voluntary_ctxt_switches: %ld", &vol);
        sscanf(line, "nonvoluntary_ctxt_switches: %ld", &invol);
    }
    if (f)
        fclose(f);
    /* The thread's CPU clock: its time on a CPU up to now (schedstat's and
     * getrusage's are as of its last tick or switch while it runs). */
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    unsigned long long cpu_ns =
        (unsigned long long)cpu.tv_sec * 1000000000ull + (unsigned long long)cpu.tv_nsec;
    /* One write of a line (atomic on a pipe), no lock: a thread that
     * waited on another's report would wait after its own reading. */
    char out[256];
    int n = snprintf(out, sizeof out,
                     "KERNEL %ld run_ns %llu wait_ns %llu vol %ld invol %ld cpu_clock_ns %llu "
                     "at_ns %llu\n",
                     (long)syscall(SYS_gettid), run, wait, vol, invol, cpu_ns,
                     (unsigned long long)at.tv_sec * 1000000000ull +
                         (unsigned long long)at.tv_nsec);
    if (n > 0 && write(STDOUT_FILENO, out, (size_t)n) != n)
        exit(1);
}

static void pin_to_cpu0(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- crowd: a spinner and a ping-pong on one CPU ---- */

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static int pp_turn;
static atomic_bool spin_stop;

static void *spinner(void *arg)
{
    (void)arg;
    volatile unsigned long n = 0;
    while (!atomic_load(&spin_stop))
        n++;
    report();
    return NULL;
}

static void *ponger(void *arg)
{
    long me = (long)arg;
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&pp_lock);
        while (pp_turn != me)
            pthread_cond_wait(&pp_cond, &pp_lock);
        pp_turn = !me;
        pthread_cond_signal(&pp_cond);
        pthread_mutex_unlock(&pp_lock);
    }
    report();
    return NULL;
}

static void crowd(void)
{
    pin_to_cpu0(); /* the threads made from here inherit it */
    pthread_t s, a, b;
    pthread_create(&s, NULL, spinner, NULL);
    pthread_create(&a, NULL, ponger, (void *)0);
    pthread_create(&b, NULL, ponger, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    atomic_store(&spin_stop, true);
    pthread_join(s, NULL);
}

/* ---- brief: short threads that wait for a CPU and end before the
 * writer's first look at them ---- */

static void *brief_thread(void *arg)
{
    (void)arg;
    sleep_ms(1); /* its wake-up waits behind the spinners */
    report();
    return NULL;
}

static void brief(void)
{
    pin_to_cpu0();
    pthread_t s[2], t[4];
    for (int i = 0; i < 2; i++)
        pthread_create(&s[i], NULL, spinner, NULL);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, brief_thread, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    atomic_store(&spin_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(s[i], NULL);
}

/* ---- starved: wake-ups behind another process ---- */

static pthread_mutex_t starved_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t starved_cond = PTHREAD_COND_INITIALIZER;
static bool starved_go;

static void *starved_thread(void *arg)
{
    (void)arg;
    struct sched_param none = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) != 0)
        exit(3);
    pthread_mutex_lock(&starved_lock);
    while (!starved_go)
        pthread_cond_wait(&starved_cond, &starved_lock);
    pthread_mutex_unlock(&starved_lock);
    int slept = 0;
    for (int i = 0; i < 10; i++)
        slept += usleep(1000) == 0;
    printf("slept %d\n", slept);
    fflush(stdout);
    report();
    return NULL;
}

static void starved(void)
{
    pin_to_cpu0();
    pthread_t t;
    pthread_create(&t, NULL, starved_thread, NULL);
    sleep_ms(5);
    /* The woken thread waits in the run queue: a thread of SCHED_IDLE
     * does not preempt the child, which spins from before the wake-up. */
    int ready[2];
    if (pipe(ready) != 0)
        exit(1);
    pid_t child = fork();
    if (child == 0) {
        uint64_t end = now_ns() + 30000000u;
        if (write(ready[1], "", 1) != 1)
            _exit(1);
        while (now_ns() < end)
            ;
        _exit(0);
    }
    char byte;
    if (read(ready[0], &byte, 1) != 1)
        exit(1);
    pthread_mutex_lock(&starved_lock);
    starved_go = true;
    pthread_cond_signal(&starved_cond);
    pthread_mutex_unlock(&starved_lock);
    waitpid(child, NULL, 0);
    pthread_join(t, NULL);
}

/* ---- stdio: fgets on a slow pipe ---- */

static int pipe_fds[2];

static void *slow_writer(void *arg)
{
    (void)arg;
    FILE *out = fdopen(pipe_fds[1], "w");
    for (int i = 0; i < 20; i++) {
        sleep_ms(15);
        fprintf(out, "line %d\n", i);
        fflush(out);
    }
    fclose(out);
    report();
    return NULL;
}

static void *line_reader(void *arg)
{
    (void)arg;
    FILE *in = fdopen(pipe_fds[0], "r");
    char line[64];
    int lines = 0;
    while (fgets(line, sizeof line, in))
        lines++;
    fclose(in);
    report();
    return (void *)(long)lines;
}

static void stdio_pipe(void)
{
    if (pipe(pipe_fds) != 0)
        exit(1);
    pthread_t w, r;
    pthread_create(&r, NULL, line_reader, NULL);
    pthread_create(&w, NULL, slow_writer, NULL);
    void *lines;
    pthread_join(w, NULL);
    pthread_join(r, &lines);
    printf("lines %ld\n", (long)lines);
}

/* ---- stdio_write: fputs into a full pipe ---- */

static void *late_reader(void *arg)
{
    (void)arg;
    sleep_ms(200);
    char buf[4096];
    long total = 0;
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0)
        total += n;
    return (void *)total;
}

static void stdio_write(void)
{
    if (pipe(pipe_fds) != 0)
        exit(1);
    pthread_t r;
    pthread_create(&r, NULL, late_reader, NULL);
    FILE *out = fdopen(pipe_fds[1], "w");
    char line[1024];
    memset(line, 'x', sizeof line - 2);
    line[sizeof line - 2] = '\n';
    line[sizeof line - 1] = 0;
    for (int i = 0; i < 200; i++)
        fputs(line, out);
    fclose(out);
    void *total;
    pthread_join(r, &total);
    printf("read %ld\n", (long)total);
}

/* ---- condsignal: signals that wait for woken waiters ---- */

static pthread_mutex_t cs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cs_cond = PTHREAD_COND_INITIALIZER;
static int cs_tokens, cs_waiting;
static bool cs_done;
#define CS_WAITERS 8

static void *cs_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cs_lock);
    for (;;) {
        cs_waiting++;
        while (!cs_tokens && !cs_done)
            pthread_cond_wait(&cs_cond, &cs_lock);
        cs_waiting--;
        if (!cs_tokens)
            break;
        cs_tokens--;
    }
    pthread_mutex_unlock(&cs_lock);
    report();
    return NULL;
}

static void *signaller(void *arg)
{
    (void)arg;
    pthread_t t[CS_WAITERS];
    for (int i = 0; i < CS_WAITERS; i++)
        pthread_create(&t[i], NULL, cs_waiter, NULL);
    long slow = 0;
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&cs_lock);
        while (cs_waiting < CS_WAITERS / 2) {
            pthread_mutex_unlock(&cs_lock);
            sched_yield();
            pthread_mutex_lock(&cs_lock);
        }
        cs_tokens += 3;
        pthread_mutex_unlock(&cs_lock);
        for (int k = 0; k < 3; k++) {
            uint64_t t0 = now_ns();
            pthread_cond_signal(&cs_cond);
            slow += now_ns() - t0 > 10000;
        }
    }
    pthread_mutex_lock(&cs_lock);
    cs_done = true;
    pthread_cond_broadcast(&cs_cond);
    pthread_mutex_unlock(&cs_lock);
    for (int i = 0; i < CS_WAITERS; i++)
        pthread_join(t[i], NULL);
    report();
    return (void *)slow;
}

/* The signaller is a thread of its own: its life ends soon after its
 * report, where the main thread's goes on into the trace's end. */
static void condsignal(void)
{
    pin_to_cpu0();
    pthread_t s;
    void *slow;
    pthread_create(&s, NULL, signaller, NULL);
    pthread_join(s, &slow);
    printf("slow signals %ld\n", (long)slow);
}

/* ---- epoll: a server on loopback ---- */

static int listener;
static struct sockaddr_in server_addr;

static void *server(void *arg)
{
    (void)arg;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    int served = 0, open = 1;
    while (open > 0) {
        struct epoll_event got[8];
        int n = epoll_wait(ep, got, 8, 2000);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            int fd = got[i].data.fd;
            if (fd == listener) {
                int c = accept(listener, NULL, NULL);
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                open++;
                continue;
            }
            char buf[64];
            ssize_t len = recv(fd, buf, sizeof buf, 0);
            if (len <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                if (--open == 1) /* the client is done: the listener only */
                    open = 0;
                continue;
            }
            send(fd, buf, (size_t)len, 0);
            served++;
        }
    }
    close(ep);
    report();
    return (void *)(long)served;
}

static void *client(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) != 0)
        exit(1);
    for (int i = 0; i < 25; i++) {
        sleep_ms(8);
        char buf[16] = "ping";
        send(fd, buf, 5, 0);
        recv(fd, buf, sizeof buf, 0);
    }
    close(fd);
    report();
    return NULL;
}

static void epoll_server(void)
{
    listener = socket(AF_INET, SOCK_STREAM, 0);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof server_addr;
    if (bind(listener, (struct sockaddr *)&server_addr, sizeof server_addr) != 0 ||
        listen(listener, 8) != 0 ||
        getsockname(listener, (struct sockaddr *)&server_addr, &len) != 0)
        exit(1);
    pthread_t s, c;
    pthread_create(&s, NULL, server, NULL);
    pthread_create(&c, NULL, client, NULL);
    void *served;
    pthread_join(c, NULL);
    pthread_join(s, &served);
    printf("served %ld\n", (long)served);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "crowd") == 0)
        crowd();
    else if (strcmp(what, "stdio") == 0)
        stdio_pipe();
    else if (strcmp(what, "stdio_write") == 0)
        stdio_write();
    else if (strcmp(what, "condsignal") == 0)
        condsignal();
    else if (strcmp(what, "starved") == 0)
        starved();
    else if (strcmp(what, "brief") == 0)
        brief();
    else if (strcmp(what, "epoll") == 0)
        epoll_server();
    else if (strcmp(what, "start") == 0)
        report();
    else if (strcmp(what, "spin") == 0)
        for (volatile unsigned long n = 0;; n++)
            ;
    else {
        fprintf(stderr, "usage: fidelity crowd|stdio|stdio_write|condsignal|starved|brief|"
                        "epoll|start|spin\n");
        return 2;
    }
    return 0;
}
