/*
 * writer.h - what the sessions (session.c) ask of the writer thread
 * (writer.c). Callers hold the session lock.
 */
#ifndef CT_WRITER_H
#define CT_WRITER_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flight.h"
#include "recorder.h"

/* What a session asks of the running writer, done at the next generation
 * boundary: the generation is closed, the change made, the next begun. */
enum { CT_CMD_NONE, CT_CMD_ATTACH, CT_CMD_DETACH, CT_CMD_FLIGHT_ON, CT_CMD_FLIGHT_OFF, CT_CMD_CUT };

/* Starts the writer with its first sink (config->fd, or none) and the
 * flight recorder (or none); 0 or a negative errno. */
CT_INTERNAL int ct_writer_start(const struct ct_writer_config *config,
                                struct ctrace_flight *flight);
/* Ends the session: the last generation, every sink's end record.
 * `ending`: the process is about to exit or exec; if the writer is asleep,
 * the caller does that work itself and leaves the writer unjoined (a
 * cross-CPU wake and a join saved on every process's way out; the next
 * ct_writer_start joins it, should an exec fail). */
CT_INTERNAL void ct_writer_stop(bool ending);
/* The same from a signal handler (async-signal-safe): asks the writer to
 * end and waits for it, at most timeout_ns, without joining it. 1 done,
 * 0 no writer running, -1 timed out. */
CT_INTERNAL int ct_writer_finish_now(uint64_t timeout_ns);
CT_INTERNAL bool ct_writer_running(void);
/* Asks the running writer for op and waits until it is done. */
CT_INTERNAL void ct_writer_command(int op, int sink, int fd, struct ctrace_flight *flight);
/* Sink i's descriptor (-1: free) and the errno of its first failed write. */
CT_INTERNAL int ct_writer_sink_fd(int sink);
CT_INTERNAL int ct_writer_sink_error(int sink);
/* Generations at most this long and this big from now on. */
CT_INTERNAL void ct_writer_lower_generation(uint64_t ns, size_t bytes);
/* The flight ring's oldest and newest generations, held still meanwhile. */
CT_INTERNAL void ct_writer_flight_bounds(struct ctrace_flight *f, const struct ct_fgen **from,
                                         const struct ct_fgen **to);
/* Runs fn while the writer is between two pieces of work (as fork's
 * handlers below wait for it), on a thread that is in no event. */
CT_INTERNAL void ct_writer_exclusive(void (*fn)(void));
/* fork's prepare and parent handlers: the fork waits for the writer to
 * be between two pieces of work (so holding no allocator lock). */
CT_INTERNAL void ct_writer_before_fork(void);
CT_INTERNAL void ct_writer_after_fork_parent(void);
/* fork: the child's writer state, clean (no thread, no sinks, every batch
 * back in the pool). */
CT_INTERNAL void ct_writer_after_fork_child(void);

/* writer_thread.c: sets attr to start the thread on this thread's CPU
 * (its CPUs left in cpus); and the id of a thread just made, 0 if not
 * known for sure. */
CT_INTERNAL bool ct_pin_here(pthread_attr_t *attr, cpu_set_t *cpus);
CT_INTERNAL pid_t ct_created_tid(pthread_t thread);

#endif
