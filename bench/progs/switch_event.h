/* switch_event.h - a context-switch perf event as ctrace run opens one on
 * each CPU: a dummy software event that records the switches of the
 * calling thread and, inherited, of the threads made after it. */
#ifndef CT_BENCH_SWITCH_EVENT_H
#define CT_BENCH_SWITCH_EVENT_H

#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The event's descriptor on `cpu`, or -1 (errno set). */
static inline int open_switch_event(int cpu)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_SOFTWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_SW_DUMMY;
    a.context_switch = 1;
    a.sample_id_all = 1;
    a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
    a.exclude_kernel = 1;
    a.inherit = 1;
    a.inherit_thread = 1;
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    return (int)syscall(SYS_perf_event_open, &a, 0, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

#endif
