/*
 * treeprog - a small process tree for `ctrace view` over a tree: the
 * parent ("tree-parent", with a thread "tree-worker") forks a child
 * ("tree-child", with a thread "child-worker") that execs this program
 * again ("tree-exec"): three images, two of them with the same pid (so
 * the same main tid), each thread named and each busy for a few ms.
 */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void spin(long ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static void *worker(void *name)
{
    pthread_setname_np(pthread_self(), name);
    spin(5);
    usleep(2000);
    spin(5);
    return NULL;
}

/* A named main thread with a named worker, both busy a while. */
static void work(const char *main_name, char *worker_name)
{
    pthread_t t;
    pthread_setname_np(pthread_self(), main_name);
    pthread_create(&t, NULL, worker, worker_name);
    spin(5);
    pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        pthread_setname_np(pthread_self(), "tree-exec");
        spin(5);
        usleep(2000);
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        work("tree-child", "child-worker");
        execl(argv[0], argv[0], "exec", (char *)NULL);
        _exit(127);
    }
    work("tree-parent", "tree-worker");
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
