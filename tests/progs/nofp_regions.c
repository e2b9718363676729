/* nofp_regions OUT - annotations from code built without frame pointers
 * (-O2 -fomit-frame-pointer): regions begun three named functions deep,
 * on the main thread and on another, written to OUT by the library. Their
 * stacks must name outer -> middle -> inner (the frame-pointer walk alone
 * stops after inner: its caller's frame pointer is not one). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "ctrace.h"

static volatile long work;

__attribute__((noinline)) static void inner(int i)
{
    ctrace_region r = ctrace_region_begin(CTRACE_NO_TASK, "inner");
    work += i;
    ctrace_region_end(r);
    work++;
}

__attribute__((noinline)) static void middle(int i)
{
    char buf[64];
    buf[i & 63] = (char)i;
    work += buf[(i + 1) & 63];
    inner(i);
    work++;
}

__attribute__((noinline)) static void outer(int n)
{
    for (int i = 0; i < n; i++)
        middle(i);
    work++;
}

static void *thread_main(void *arg)
{
    outer(500);
    work++;
    return arg;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ctrace_start(fd) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    outer(500);
    pthread_join(t, NULL);
    ctrace_stop();
    close(fd);
    return 0;
}
