/*
 * init.c - libctrace-preload.so starts tracing when it is loaded into a
 * program by `ctrace run`, from the CTRACE_* variables below (all of them
 * read here, in one table, and ignored in setuid programs), and names the
 * trace files of the processes it follows:
 *
 *   the first process image           CTRACE_OUTPUT
 *   any other (a forked child, or a   CTRACE_OUTPUT.PID, or CTRACE_OUTPUT.PID.N
 *   program exec'd by a traced one)   when that process already wrote one
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../compat/safe_open.h"
#include "../compat/units.h"
#include "preload.h"
#include "../recorder/sched.h"

struct ct_preload_config ct_pconf;
static uint64_t threshold_ns;

static struct {
    char output[4096];
    bool follow;   /* trace children */
    bool followed; /* this image is not the first */
    bool unfollowable; /* following asked for, but the trace is no file */
    ctrace_config config;
    bool flight; /* CTRACE_FLIGHT: a flight recorder, not a file */
    struct ct_preload_flight flight_options;
    int fd;
    pid_t pid; /* the process this trace is of */
} pre = {.fd = -1};

void *ct_resolve(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        static const char msg[] = "ctrace: libctrace-preload.so: a wrapped function is missing\n";
        if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
            abort();
        abort();
    }
    return p;
}

/* The settings, in one table: name, what it sets, its default in the help
 * of `ctrace run`, which documents each. */
static unsigned long env_number(const char *name, unsigned long fallback, unsigned long max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end || n > max ? fallback : n;
}

static void warn(const char *what)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "ctrace: %s\n", what);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        return;
}

/* "USR2", "SIGUSR2", "12" or "none" (0). */
static int signal_number(const char *v, int fallback)
{
    if (!v || !*v)
        return fallback;
    if (strcmp(v, "none") == 0)
        return 0;
    if (strncmp(v, "SIG", 3) == 0)
        v += 3;
    static const struct { const char *name; int sig; } names[] = {
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}, {"QUIT", SIGQUIT},
        {"PWR", SIGPWR},   {"WINCH", SIGWINCH}, {"URG", SIGURG},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(v, names[i].name) == 0)
            return names[i].sig;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end == 0 && n > 0 && n < NSIG && n != SIGKILL && n != SIGSTOP)
        return (int)n;
    warn("CTRACE_FLIGHT_SIGNAL is not a signal; using SIGUSR2");
    return fallback;
}

static void read_settings(void)
{
    const char *out = getenv("CTRACE_OUTPUT");
    snprintf(pre.output, sizeof pre.output, "%s", out && *out ? out : "ctrace.out");
    pre.config.buffer_bytes = env_number("CTRACE_BUFFER_MB", 64, 1u << 16) << 20;
    pre.config.stacks = env_number("CTRACE_STACKS", 1, 1) ? 1 : -1;
    pre.config.max_stack_depth = (unsigned)env_number("CTRACE_STACK_DEPTH", 32, CT_MAX_FRAMES);
    /* 250 ms, not the library's second: a program killed by SIGKILL loses
     * the generation under way (its threads' partly filled batches). With
     * 1 s generations it lost 340 ms of events (median, at most 970),
     * with 250 ms 70 (at most 170), for 7 % more bytes in a mostly idle
     * program's trace and none measurable in a busy one's
     * (bench/kill_loss.py). */
    pre.config.generation_ns = env_number("CTRACE_GENERATION_MS", 250, 3600000) * 1000000u;
    unsigned long counters_ms = env_number("CTRACE_COUNTERS_MS", 10, 60000);
    pre.config.counter_period_ns = counters_ms ? (int64_t)counters_ms * 1000000 : -1;
    threshold_ns = env_number("CTRACE_SYSCALL_NS", 10000, 1000000000u);
    pre.follow = env_number("CTRACE_FOLLOW", 1, 1) != 0;
    const char *sched = getenv("CTRACE_SCHED");
    if (sched && strcmp(sched, "schedstat") == 0)
        pre.config.sched = 2;
    else if (sched && strcmp(sched, "exact") == 0)
        pre.config.sched = 1;
    else
        pre.config.sched = env_number("CTRACE_SCHED", 1, 1) ? 0 : -1;
    pre.followed = getenv("CTRACE_FOLLOWED") != NULL;
    /* The event clock's rate, as the traced process that started this one
     * measured it: no 250 us of calibration in each process of a build. */
    const char *rate = getenv("CTRACE_CLOCK_RATE");
    if (rate && *rate)
        ct_calibration_preset(strtoull(rate, NULL, 10));
    /* Or both clocks as ctrace run read them before it started this
     * program ("UNITS:MONO_NS"): for this process only. */
    const char *from = getenv("CTRACE_CLOCK_FROM");
    if (from && *from) {
        char *end;
        uint64_t units = strtoull(from, &end, 10);
        if (*end == ':')
            ct_calibration_from(units, strtoull(end + 1, NULL, 10));
        unsetenv("CTRACE_CLOCK_FROM");
    }
    const char *flight = getenv("CTRACE_FLIGHT");
    if (flight && *flight) {
        pre.flight = ct_parse_flight(flight, &pre.flight_options.age_ns,
                                     &pre.flight_options.bytes);
        if (!pre.flight)
            warn("CTRACE_FLIGHT is not AGE[,BYTES]; tracing to the file instead");
    }
    pre.flight_options.signal = signal_number(getenv("CTRACE_FLIGHT_SIGNAL"), SIGUSR2);
    pre.flight_options.at_exit = env_number("CTRACE_FLIGHT_AT_EXIT", 0, 1) != 0;
}

/* Opens this image's trace file (see the top of the file), readable by
 * its owner only: a trace holds the program's command line, its logs and
 * stacks, and the host's name. Never through another user's link in a
 * sticky directory such as /tmp (safe_open.h); a child's file is always
 * new (O_EXCL, which follows no link). */
static __attribute__((noinline)) int open_output(void)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    if (!pre.followed)
        return ct_open_output(pre.output, flags | O_TRUNC, 0600);
    char path[4200];
    for (int n = 0; n < 1000; n++) {
        if (n == 0)
            snprintf(path, sizeof path, "%s.%d", pre.output, (int)getpid());
        else
            snprintf(path, sizeof path, "%s.%d.%d", pre.output, (int)getpid(), n);
        int fd = open(path, flags | O_EXCL, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* This image's trace file's name, for the flight recorder's windows. */
static void output_name(char *path, size_t cap)
{
    if (!pre.followed)
        snprintf(path, cap, "%s", pre.output);
    else
        snprintf(path, cap, "%s.%d", pre.output, (int)getpid());
}

/* The endpoint, in the first image only: its children would find the
 * address taken. Once per process. */
static void start_endpoint(void)
{
    static bool started;
    const char *addr = getenv("CTRACE_HTTP");
    if (started || pre.followed || !addr || !*addr)
        return;
    started = true;
    ct_preload_http_start(addr, getenv("CTRACE_HTTP_HOSTS"));
}

/* Every image after this one is a followed one, and it is given the
 * clock's rate. */
static void mark_followed(void)
{
    setenv("CTRACE_FOLLOWED", "1", 1);
    uint64_t rate = ct_calibration();
    if (rate) {
        char text[24];
        snprintf(text, sizeof text, "%" PRIu64, rate);
        setenv("CTRACE_CLOCK_RATE", text, 1);
    }
}

/* The flight recorder's start, apart from start's: its path's buffer
 * would make every start's frame a page deeper. */
static __attribute__((noinline)) void start_flight(void)
{
    char path[4200];
    output_name(path, sizeof path);
    ctrace_config config = pre.config;
    if (!getenv("CTRACE_BUFFER_MB"))
        config.buffer_bytes = 0; /* the flight recorder's own default */
    ct_busy++;
    bool ok = ct_preload_flight_start(&pre.flight_options, path, &config);
    if (ok)
        ct_thread_register();
    ct_busy--;
    ct_pconf.syscall_threshold_units = ct_units_from_ns(threshold_ns);
    if (ok)
        ct_preload_install_signals(pre.flight_options.signal);
    start_endpoint();
    if (pre.follow)
        mark_followed();
}

static __attribute__((noinline, cold)) void say_unwritable(int err)
{
    char msg[4400];
    int n = snprintf(msg, sizeof msg, "ctrace: cannot write the trace of process %d: %s\n",
                     (int)getpid(), strerror(err));
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        return;
}

static void start(void)
{
    pre.pid = getpid();
    if (pre.flight) {
        start_flight();
        return;
    }
    ct_own_open_begin();
    pre.fd = ct_own_fd(open_output()); /* no close of the program's takes it */
    ct_own_open_end();
    if (pre.fd < 0) {
        say_unwritable(errno);
        return;
    }
    ct_busy++;
    /* This library sees every thread created (threads.c): the threads this
     * one creates share its per-CPU rings of context switches. */
    ct_sched_inherit(true, pre.followed);
    ct_g.exit_wakes = true; /* and every join */
    /* The writer's thread when needed (writer.c); at once for the
     * endpoint, which serves what it writes. */
    const char *endpoint = getenv("CTRACE_HTTP");
    ct_writer_lazy = pre.followed || !endpoint || !*endpoint;
    if (ctrace_start_config(pre.fd, &pre.config) != 0) {
        ct_own_fd_close(pre.fd);
        pre.fd = -1;
    }
    /* The main thread registers now, so that its scheduling is followed
     * from the start even if it records nothing for a while. */
    if (pre.fd >= 0)
        ct_thread_register();
    ct_busy--;
    ct_pconf.syscall_threshold_units = ct_units_from_ns(threshold_ns);
    if (pre.fd >= 0)
        ct_preload_install_signals(0);
    start_endpoint();
    if (pre.follow)
        mark_followed();
}

/* Whether the trace's directory is one of devices or of the kernel's
 * tables: /dev itself (-o /dev/stdout), /proc (/dev/fd/1 leads there),
 * /sys. Its children's files would be made there (/dev/stdout.PID) or not
 * at all. /dev/shm, a directory of files in memory, is not one. */
static bool pseudo_output(const char *path)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir)
        return false;
    memcpy(dir, path, n);
    dir[n] = 0;
    if (!realpath(n ? dir : ".", real))
        return false; /* no such directory: the trace's open says so */
    static const char *const under[] = {"/proc", "/sys", "/dev/pts"};
    if (strcmp(real, "/dev") == 0)
        return true;
    for (size_t i = 0; i < sizeof under / sizeof *under; i++) {
        size_t len = strlen(under[i]);
        if (strncmp(real, under[i], len) == 0 && (real[len] == 0 || real[len] == '/'))
            return true;
    }
    return false;
}

/* glibc hands the program's arguments to constructors too. */
__attribute__((constructor(101))) static void preload_init(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)envp;
    ct_start_argv = argv;
    ct_start_pid = getpid();
    if (getauxval(AT_SECURE))
        return; /* setuid or setgid: no tracing, no files */
    if (!getenv("CTRACE_OUTPUT"))
        return; /* loaded by something other than ctrace run */
    read_settings();
    /* A trace to a pipe or a device, or into /dev or /proc (-o
     * /dev/stdout, whatever standard output is), has no directory for its
     * children's files: they are not followed (they made files named
     * /dev/stdout.PID). Said at the first child. */
    struct stat st;
    if (pre.follow && !pre.followed &&
        (pseudo_output(pre.output) || (stat(pre.output, &st) == 0 && !S_ISREG(st.st_mode)))) {
        pre.follow = false;
        pre.unfollowable = true;
    }
    /* Not following children: those started where no wrapper sees the exec
     * (posix_spawn, so system and popen) load this library too, and without
     * CTRACE_OUTPUT they leave tracing off; with it, each took itself for
     * the first image and truncated this trace to write its own. */
    if (!pre.follow)
        unsetenv("CTRACE_OUTPUT");
    start();
}

void ct_preload_child_unfollowed(void)
{
    static bool said;
    if (!pre.unfollowable || said)
        return;
    said = true;
    char msg[4400];
    int n = snprintf(msg, sizeof msg, "ctrace: the children and exec'd programs of process %d are "
                     "not traced: its trace goes to %s, not to a file beside which theirs "
                     "would go\n", (int)getpid(), pre.output);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        return;
}

static void start_child(void)
{
    if (pre.fd >= 0)
        ct_own_fd_close(pre.fd); /* the parent's trace */
    pre.followed = true;
    start();
}

/* A forked child's trace waits for its first wrapped call that is not an
 * exec: the child of a shell that only redirects and execs costs no
 * session of its own (a process, rings, a writer thread, a file), and the
 * program it execs writes FILE.PID, as a vfork child's does. */
bool ct_child_pending;
static pid_t pending_pid;

void ct_preload_child_pending(void)
{
    if (!pre.follow || pre.output[0] == 0)
        return;
    pending_pid = getpid();
    ct_child_pending = true;
}

bool ct_preload_pending_here(void)
{
    return ct_child_pending && getpid() == pending_pid;
}

bool ct_preload_start_pending(void)
{
    if (getpid() != pending_pid)
        return false; /* a vfork child of the pending one: its memory */
    ct_child_pending = false;
    start_child();
    return CTRACE_ON_() && ct_busy == 0;
}

bool ct_preload_owns_trace(void)
{
    /* A vfork child shares its parent's memory, and so its recorder: it
     * must leave the parent's trace alone. */
    return CTRACE_ON_() && getpid() == pre.pid;
}

void ct_preload_before_exec(const char *path)
{
    if (!ct_preload_owns_trace())
        return;
    ct_busy++;
    ct_ev_exec(path);
    ct_session_stop_all();
    ct_busy--;
    if (pre.follow) {
        setenv("CTRACE_FOLLOWED", "1", 1);
    } else {
        ct_preload_child_unfollowed();
        unsetenv("LD_PRELOAD");
    }
}

void ct_preload_terminate(int sig)
{
    (void)sig;
    if (!ct_preload_owns_trace())
        return; /* a vfork child's, or tracing stopped */
    int rc = ct_session_end_from_signal();
    if (rc > 0 && pre.flight) {
        ct_preload_flight_final();
    } else if (rc < 0) {
        /* The writer did not answer: what a crash writes. */
        ct_crash_flush();
        ct_preload_flight_crash();
    }
}

void ct_preload_exec_failed(void)
{
    if ((pre.fd < 0 && !pre.flight) || CTRACE_ON_())
        return;
    if (pre.fd >= 0)
        ct_own_fd_close(pre.fd);
    pre.followed = true;
    start();
}
