/*
 * waiter DIR - the blocking calls on no lock: four children, each living
 * 30 ms, waited for by waitpid, wait, wait4 and waitid; a file in DIR
 * written, then fsync'd and fdatasync'd, then 5 preads and 5 pwrites of it;
 * two threads, each living 30 ms, joined by pthread_timedjoin_np and
 * pthread_clockjoin_np. Built twice: with _FILE_OFFSET_BITS=64 (pread64 and
 * pwrite64 to the linker) and without (pread and pwrite). Exit 0 if every
 * call succeeded.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    close(fd);
    unlink(path);

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
