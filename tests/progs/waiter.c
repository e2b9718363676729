/*
 * waiter DIR - the blocking calls on no lock: four children, each living
 * 30 ms, waited for by waitpid, wait, wait4 and waitid; a file in DIR
 * written, then fsync'd and fdatasync'd, then 5 preads and 5 pwrites of it,
 * a preadv and a pwritev; two threads, each living 30 ms, joined by
 * pthread_timedjoin_np and pthread_clockjoin_np; the same file locked by
 * flock while a thread holds it 30 ms through another open, and by lockf
 * while a child holds it 30 ms (then waitpid for that child); a signal
 * from a thread 30 ms later waited for by each of sigwait, sigwaitinfo,
 * sigtimedwait, sigsuspend and pause; a datagram sent by sendmmsg over a
 * socket pair, waited for by epoll_pwait2, received by recvmmsg; a
 * system and a popen (then pclose) of `sleep 0.03`; a getaddrinfo of
 * localhost. Built twice: with _FILE_OFFSET_BITS=64
 * (pread64, lockf64 and so on to the linker) and without (pread, lockf).
 * Exit 0 if every call succeeded.
 */
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        usleep(30000);
        _exit(7);
    }
    return pid;
}

static void *brief(void *arg)
{
    (void)arg;
    usleep(30000);
    return NULL;
}

static pthread_t main_thread;
static pthread_barrier_t held;
static int lock_fd;
static volatile sig_atomic_t woken, done;

static void *flock_holder(void *arg)
{
    (void)arg;
    flock(lock_fd, LOCK_EX);
    pthread_barrier_wait(&held);
    usleep(30000);
    flock(lock_fd, LOCK_UN);
    return NULL;
}

/* Sends `sig` to the main thread every 30 ms until it says it woke. */
static void *signaller(void *arg)
{
    while (!done) {
        usleep(30000);
        pthread_kill(main_thread, (int)(intptr_t)arg);
    }
    return NULL;
}

static void on_usr2(int sig)
{
    (void)sig;
    woken = 1;
}

/* The five waits for a signal; each returns when the signaller's arrives. */
static int signal_waits(void)
{
    int bad = 0, sig;
    sigset_t usr1, usr2;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* kept pending for the waits */
    struct sigaction sa = {.sa_handler = on_usr2};
    sigaction(SIGUSR2, &sa, NULL);
    siginfo_t info;
    struct timespec five = {5, 0};
    for (int which = 0; which < 5; which++) {
        pthread_t t;
        done = woken = 0;
        if (which == 3)
            pthread_sigmask(SIG_BLOCK, &usr2, NULL); /* sigsuspend opens it */
        pthread_create(&t, NULL, signaller, (void *)(intptr_t)(which < 3 ? SIGUSR1 : SIGUSR2));
        if (which == 0)
            bad |= sigwait(&usr1, &sig) != 0 || sig != SIGUSR1;
        else if (which == 1)
            bad |= sigwaitinfo(&usr1, &info) != SIGUSR1;
        else if (which == 2)
            bad |= sigtimedwait(&usr1, &info, &five) != SIGUSR1;
        else if (which == 3)
            bad |= sigsuspend(&usr1) != -1 || !woken; /* USR2 open, USR1 not */
        else
            while (!woken)
                pause();
        done = 1;
        pthread_join(t, NULL);
        if (which == 3)
            pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
    }
    sigset_t pending;
    while (sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1))
        sigwait(&usr1, &sig); /* a second one the signaller sent */
    return bad;
}

static int file_locks(const char *path)
{
    int bad = 0;
    lock_fd = open(path, O_RDWR | O_CREAT, 0644);
    int mine = open(path, O_RDWR);
    pthread_t t;
    pthread_barrier_init(&held, NULL, 2);
    pthread_create(&t, NULL, flock_holder, NULL);
    pthread_barrier_wait(&held);
    bad |= flock(mine, LOCK_EX) != 0 || flock(mine, LOCK_UN) != 0;
    pthread_join(t, NULL);
    int ready[2];
    char c;
    bad |= pipe(ready) != 0;
    pid_t pid = fork();
    if (pid == 0) {
        lockf(lock_fd, F_LOCK, 0);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        usleep(30000);
        _exit(0);
    }
    bad |= read(ready[0], &c, 1) != 1;
    bad |= lockf(mine, F_LOCK, 0) != 0 || lockf(mine, F_ULOCK, 0) != 0;
    bad |= waitpid(pid, NULL, 0) != pid;
    close(ready[0]);
    close(ready[1]);
    close(mine);
    close(lock_fd);
    return bad;
}

static int datagrams(void)
{
    int sv[2], bad = socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0;
    int ep = epoll_create1(0);
    struct epoll_event want = {.events = EPOLLIN}, got;
    bad |= epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &want) != 0;
    char out[8] = "hello", in[8];
    struct iovec o = {out, sizeof out}, i = {in, sizeof in};
    struct mmsghdr send = {.msg_hdr = {.msg_iov = &o, .msg_iovlen = 1}};
    struct mmsghdr recv = {.msg_hdr = {.msg_iov = &i, .msg_iovlen = 1}};
    struct timespec second = {1, 0};
    bad |= sendmmsg(sv[0], &send, 1, 0) != 1;
    bad |= epoll_pwait2(ep, &got, 1, &second, NULL) != 1;
    bad |= recvmmsg(sv[1], &recv, 1, 0, NULL) != 1;
    close(ep);
    close(sv[0]);
    close(sv[1]);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int bad = 0, status = 0;
    pid_t pid = child();
    bad |= waitpid(pid, &status, 0) != pid || WEXITSTATUS(status) != 7;
    pid = child();
    bad |= wait(&status) != pid || WEXITSTATUS(status) != 7;
    pid = child();
    struct rusage usage;
    bad |= wait4(pid, &status, 0, &usage) != pid || WEXITSTATUS(status) != 7;
    pid = child();
    siginfo_t info;
    memset(&info, 0, sizeof info);
    bad |= waitid(P_PID, (id_t)pid, &info, WEXITED) != 0 || info.si_status != 7;

    char path[4096];
    snprintf(path, sizeof path, "%s/waiter.data", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char block[4096];
    memset(block, 'x', sizeof block);
    bad |= fd < 0 || write(fd, block, sizeof block) != (ssize_t)sizeof block;
    bad |= fsync(fd) != 0 || fdatasync(fd) != 0;
    for (int i = 0; i < 5; i++)
        bad |= pread(fd, block, 512, i * 512) != 512 || pwrite(fd, block, 512, i * 512) != 512;
    struct iovec v = {block, 512};
    bad |= preadv(fd, &v, 1, 0) != 512 || pwritev(fd, &v, 1, 0) != 512;
    close(fd);
    bad |= file_locks(path);
    unlink(path);
    main_thread = pthread_self();
    bad |= signal_waits();
    bad |= datagrams();
    bad |= system("sleep 0.03") != 0;
    FILE *cmd = popen("sleep 0.03", "r");
    bad |= !cmd || pclose(cmd) != 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *found;
    bad |= getaddrinfo("localhost", "80", &hints, &found) != 0;
    if (!bad)
        freeaddrinfo(found);

    pthread_t t;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    bad |= pthread_create(&t, NULL, brief, NULL) || pthread_timedjoin_np(t, NULL, &deadline);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 5;
    bad |= pthread_create(&t, NULL, brief, NULL) ||
           pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, &deadline);
    return bad;
}
