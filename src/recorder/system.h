/*
 * system.h - events about threads, blocking and processes, recorded by the
 * LD_PRELOAD wrappers (src/preload/) rather than by the program. Each
 * function records nothing while tracing is off. Stacks start at the
 * wrapper's caller: the program's call site.
 */
#ifndef CT_SYSTEM_H
#define CT_SYSTEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "recorder.h"

/* Returns the event's time, which the new thread's thread_start takes as
 * its creation (0 when nothing was recorded). */
CT_INTERNAL uint64_t ct_ev_thread_create(uint64_t create_id, uintptr_t start_fn);
/* created: the creator's thread_create time, or 0: the thread waited for its
 * first run from then (a thread_runnable event at that time). */
CT_INTERNAL void ct_ev_thread_start(pid_t creator, uint64_t create_id, uintptr_t start_fn,
                                    uint64_t created);
CT_INTERNAL void ct_ev_thread_name(const char *name);
CT_INTERNAL void ct_ev_block(unsigned reason, uintptr_t object);
CT_INTERNAL void ct_ev_unblock(void);
CT_INTERNAL void ct_ev_wake(unsigned reason, uintptr_t object);
/* A wake at ts, taken before the release that wakes (so that it comes
 * before the woken thread's unblock) and written after it, outside the
 * lock: an event written after ts takes that event's time. */
CT_INTERNAL void ct_ev_wake_at(unsigned reason, uintptr_t object, uint64_t ts);
/* A call that took from start to end (units of ct_now()). */
CT_INTERNAL void ct_ev_syscall(uint64_t start, uint64_t end, unsigned call, int fd,
                               unsigned fd_class, int64_t result, uint64_t object);
CT_INTERNAL void ct_ev_fork(pid_t child);
CT_INTERNAL void ct_ev_exec(const char *path);

#endif
