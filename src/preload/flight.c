/*
 * flight.c - `ctrace run --flight`: the flight recorder in an unmodified
 * program. Nothing is written while the program runs; the window goes to
 * the trace file (CTRACE_OUTPUT, or FILE.PID in a followed process) when
 *
 *   - the flight signal arrives (CTRACE_FLIGHT_SIGNAL, SIGUSR2 by default):
 *     the handler only wakes the tracer's thread, which writes (or the
 *     program's exit does, when it comes first);
 *   - a fatal signal arrives: signals.c calls ct_preload_flight_crash after
 *     ct_crash_flush, and the window is written with open, write and rename
 *     only (async-signal-safe), the generation under way included, cut;
 *   - a terminating signal (SIGTERM and the like, signals.c) is about to
 *     end the program: once the writer has ended the trace, the window,
 *     whole, with open, write and rename only;
 *   - the program ends, with CTRACE_FLIGHT_AT_EXIT=1.
 *
 * Each write goes to a new temporary file (FILE.tmp.PID.N, created with
 * O_EXCL, mode 0600: no link planted under that name is followed) renamed
 * over the trace file, so the file is always a whole window: the latest
 * one. A FILE that is not a regular file (a pipe, a device, a link) is
 * written in place instead.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../compat/safe_open.h"
#include "../recorder/flight.h"
#include "preload.h"

CT_REAL_DECL(sigaction);

static struct {
    ctrace_flight *f;
    char path[4200], prefix[4210], tmp[4260];
    bool at_exit;
} fl CT_LARGE;

static void say(const char *why, int rc)
{
    char msg[4400];
    int n = rc == 0 ? snprintf(msg, sizeof msg, "ctrace: flight recorder window (%s) written to %s\n",
                               why, fl.path)
                    : snprintf(msg, sizeof msg, "ctrace: writing the flight recorder window (%s) "
                               "to %s failed: %s\n", why, fl.path, strerror(-rc));
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        return;
}

/* Opens where a window goes: a new temporary file (fl.tmp, renamed over
 * the trace file by finish_window), or the trace file itself when it is
 * not a regular file (fl.tmp empty). Async-signal-safe. */
static int open_window(void)
{
    fl.tmp[0] = 0;
    if (!ct_path_replaceable(fl.path))
        return ct_open_output(fl.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    return ct_open_unique(fl.prefix, fl.tmp, sizeof fl.tmp);
}

/* Closes it and puts it in place (rc 0), or removes it. */
static int finish_window(int fd, int rc)
{
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (fl.tmp[0] && rc == 0 && rename(fl.tmp, fl.path) != 0)
        rc = -errno;
    if (fl.tmp[0] && rc != 0)
        unlink(fl.tmp);
    return rc;
}

/* Writes the window; `on_writer` when called on the tracer's thread,
 * which has cut the window already. */
static void write_window(ctrace_flight *f, const char *why, bool on_writer)
{
    int fd = open_window();
    if (fd < 0) {
        say(why, -errno);
        return;
    }
    int rc = on_writer ? ct_flight_write_on_writer(f, fd) : ctrace_flight_write(f, fd);
    say(why, finish_window(fd, rc));
}

static void on_writer_request(struct ctrace_flight *f, const char *why)
{
    write_window(f, why, true);
}

/* At exit, exec and _exit. A signal's request the writer has not met
 * yet is written here: the signal may well be what ends the program (it
 * cuts a sleep short), and it ends before the writer wakes. */
static void at_exit(void)
{
    if (!fl.f)
        return;
    if (ct_flight_take_request())
        write_window(fl.f, "signal", false);
    else if (fl.at_exit)
        write_window(fl.f, "exit", false);
}

static void on_flight_signal(int sig)
{
    (void)sig;
    int saved = errno;
    ct_flight_request_write();
    errno = saved;
}

bool ct_preload_flight_start(const struct ct_preload_flight *o, const char *path,
                             const ctrace_config *trace)
{
    if (fl.f) /* an earlier image's, or the parent's (fork): not running */
        ct_flight_free(fl.f);
    fl.f = NULL;
    snprintf(fl.path, sizeof fl.path, "%s", path);
    snprintf(fl.prefix, sizeof fl.prefix, "%s.tmp", path);
    fl.at_exit = o->at_exit;
    ctrace_flight_config c = {.min_age_ns = o->age_ns, .max_bytes = o->bytes, .trace = *trace};
    fl.f = ctrace_flight_start(&c);
    if (!fl.f) {
        char msg[256];
        int n = snprintf(msg, sizeof msg, "ctrace: cannot start the flight recorder: %s\n",
                         strerror(errno));
        if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
            return false;
        return false;
    }
    ct_flight_write_hook = on_writer_request;
    ct_exit_hook = at_exit;
    if (o->signal > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_flight_signal;
        sa.sa_flags = SA_RESTART;
        REAL(sigaction)(o->signal, &sa, NULL);
    }
    return true;
}

void ct_preload_flight_final(void)
{
    /* The writer has ended and added the last generation to the ring,
     * which nothing changes any more. */
    if (!fl.f || !fl.f->head)
        return;
    int fd = open_window();
    if (fd < 0)
        return;
    int rc = ct_flight_write_gens(fl.f->head, fl.f->tail, fd);
    if (finish_window(fd, rc) != 0)
        return;
    static const char msg[] = "ctrace: flight recorder window (signal) written\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
        return;
}

void ct_preload_flight_crash(void)
{
    struct ctrace_flight *f = ct_flight_for_crash();
    if (!f || f != fl.f)
        return;
    int fd = open_window();
    if (fd < 0)
        return;
    ct_flight_write_crash(f, fd);
    if (finish_window(fd, 0) != 0)
        return;
    static const char msg[] = "ctrace: flight recorder window (crash) written\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
        return;
}
