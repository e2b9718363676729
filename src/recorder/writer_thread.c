/*
 * writer_thread.c - what the making of the writer's thread needs from
 * glibc and the kernel: where it runs first, and its id.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "system.h"
#include "writer.h"

/*
 * The writer starts on the CPU of the thread that creates it. Left to the
 * scheduler, a new thread goes to the idle CPU: an interprocessor wake-up
 * to start it, and another for the kernel to end it at exit. A process that
 * lives for a millisecond (a build's compiler driver, a shell's command)
 * paid 0.2 ms for its writer on this 2-CPU VM; pinned, 0.08 ms (a dash loop
 * of /bin/true, docs/performance.md). The writer takes its creator's CPUs,
 * left in cpus, back at its first wake, 10 ms later at most, before it does
 * any work. False: not pinned (one CPU, or the call refused).
 */
bool ct_pin_here(pthread_attr_t *attr, cpu_set_t *cpus)
{
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof *cpus, cpus) != 0 ||
        !CPU_ISSET(cpu, cpus) || CPU_COUNT(cpus) < 2)
        return false;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_attr_setaffinity_np(attr, sizeof one, &one) == 0;
}

/* The kernel's id of a thread just made, from glibc's descriptor of it
 * (pthread_create has the kernel write it there, CLONE_PARENT_SETTID,
 * before it returns): its place is the word of the calling thread's own
 * descriptor that holds the calling thread's id, found once. 0 where it
 * is not known for sure: an id under 1000 (a small number may be some
 * other word's too), no such word, or no such thread of this process.
 * It saves a short process the look for the writer by its name in
 * /proc/self/task (three files opened at its end). ThreadSanitizer would
 * take the read of the new thread's word for a race with its start. */
__attribute__((no_sanitize("thread"))) pid_t ct_created_tid(pthread_t thread)
{
    enum { UNKNOWN = -1, NONE = -2, SEARCHED = 1024 };
    static int at = UNKNOWN;
    pid_t self = ct_gettid();
    if (at == UNKNOWN) {
        at = NONE;
        const volatile pid_t *own = (const volatile pid_t *)pthread_self();
        for (int off = 0; self >= 1000 && off < SEARCHED; off += (int)sizeof(pid_t)) {
            if (own[off / (int)sizeof(pid_t)] == self) {
                at = off;
                break;
            }
        }
    }
    if (at < 0)
        return 0;
    pid_t tid = *(const volatile pid_t *)((const unsigned char *)thread + at);
    if (tid <= 0 || tid == self || syscall(SYS_tgkill, getpid(), tid, 0) != 0)
        return 0;
    return tid;
}
