/*
 * treeprog - a small process tree for `ctrace view` over a tree: the
 * parent ("tree-parent", with a thread "tree-worker") forks a child
 * ("tree-child", with a thread "child-worker") that execs this program
 * again ("tree-exec"): three images, two of them with the same pid (so
 * the same main tid), each thread named and each busy for a few ms. Each
 * process's worker runs a task of a type of its own ("parent-job",
 * "child-job", "exec-job") with a region "step" and a log "tree": linked
 * with the library, whose calls the preloaded recorder takes.
 */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctrace.h"

static void spin(long ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static const char *job = "parent-job";

/* Its process's task: a region, a sleep, a log, a region. */
static void task(void)
{
    ctrace_task t = ctrace_task_begin(CTRACE_NO_TASK, job);
    ctrace_region r = ctrace_region_begin(t, "step");
    spin(3);
    ctrace_region_end(r);
    usleep(2000);
    ctrace_logf(t, "tree", "%s done", job);
    r = ctrace_region_begin(t, "step");
    spin(3);
    ctrace_region_end(r);
    ctrace_task_end(t);
}

static void *worker(void *name)
{
    pthread_setname_np(pthread_self(), name);
    task();
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
        job = "exec-job";
        task();
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        job = "child-job";
        work("tree-child", "child-worker");
        execl(argv[0], argv[0], "exec", (char *)NULL);
        _exit(127);
    }
    work("tree-parent", "tree-worker");
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
