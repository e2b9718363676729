/*
 * run.c - `ctrace run [-o FILE] -- CMD ARGS...`: traces a program nobody
 * changed, by loading libctrace-preload.so into it (LD_PRELOAD) with its
 * settings in CTRACE_* variables. The program's standard streams are its
 * own; the exit status is the program's (128+N when a signal N killed it,
 * 127 when the command is not found, 126 when it cannot be executed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../analysis/symbols.h"
#include "../analysis/tree.h"
#include "../compat/clock.h"
#include "../compat/safe_open.h"
#include "../compat/units.h"
#include "cli.h"
#include "seen.h"
#include "ctrace.h"

#ifndef CTRACE_LIBDIR
#define CTRACE_LIBDIR "/usr/local/lib"
#endif
#define PRELOAD_NAME "libctrace-preload.so"

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The preload library: $CTRACE_PRELOAD, beside this executable (the build
 * tree), or in the installed library directory. */
static bool find_preload(char *out, size_t cap)
{
    const char *env = getenv("CTRACE_PRELOAD");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return readable(out);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            if ((size_t)snprintf(out, cap, "%.*s/%s", PATH_MAX - 64, exe, PRELOAD_NAME) < cap &&
                readable(out))
                return true;
        }
    }
    snprintf(out, cap, "%s/%s", CTRACE_LIBDIR, PRELOAD_NAME);
    return readable(out);
}

/* An absolute path for the output, so the program's chdir does not move it. */
static bool absolute_output(const char *path, char *out, size_t cap)
{
    if (path[0] == '/') {
        snprintf(out, cap, "%s", path);
        return true;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return false;
    return (size_t)snprintf(out, cap, "%s/%s", cwd, path) < cap;
}

struct run_options {
    const char *output;
    const char *stacks;
    const char *threshold;
    const char *buffer;
    const char *flight, *flight_signal, *http, *http_hosts;
    bool follow, sched, schedstat, exact, flight_at_exit, symbols;
    char **command;
};

static int parse(int argc, char **argv, struct run_options *o)
{
    *o = (struct run_options){.output = "ctrace.out", .follow = true, .sched = true,
                              .symbols = true};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-')
            break;
        if (strcmp(a, "-o") == 0 && i + 1 < argc)
            o->output = argv[++i];
        else if (strncmp(a, "--output=", 9) == 0)
            o->output = a + 9;
        else if (strcmp(a, "--no-stacks") == 0)
            o->stacks = "0";
        else if (strcmp(a, "--no-follow") == 0)
            o->follow = false;
        else if (strcmp(a, "--no-sched") == 0 || strcmp(a, "--sched=off") == 0)
            o->sched = false;
        else if (strcmp(a, "--sched=schedstat") == 0)
            o->sched = true, o->schedstat = true, o->exact = false;
        else if (strcmp(a, "--sched=exact") == 0)
            o->sched = true, o->schedstat = false, o->exact = true;
        else if (strcmp(a, "--sched=auto") == 0)
            o->sched = true, o->schedstat = false, o->exact = false;
        else if (strcmp(a, "--no-symbols") == 0)
            o->symbols = false;
        else if (strncmp(a, "--syscall-threshold=", 20) == 0)
            o->threshold = a + 20;
        else if (strncmp(a, "--buffer-mb=", 12) == 0)
            o->buffer = a + 12;
        else if (strncmp(a, "--flight=", 9) == 0)
            o->flight = a + 9;
        else if (strcmp(a, "--flight") == 0)
            o->flight = "";
        else if (strncmp(a, "--flight-signal=", 16) == 0)
            o->flight_signal = a + 16;
        else if (strcmp(a, "--flight-at-exit") == 0)
            o->flight_at_exit = true;
        else if (strncmp(a, "--http=", 7) == 0)
            o->http = a + 7;
        else if (strncmp(a, "--http-hosts=", 13) == 0)
            o->http_hosts = a + 13;
        else
            return ct_cli_usage_error(&ct_cmd_run, "unknown option '%s'", a);
    }
    uint64_t age, bytes;
    if (o->flight && !ct_parse_flight(o->flight, &age, &bytes))
        return ct_cli_usage_error(&ct_cmd_run, "--flight=%s: expected AGE[,BYTES], as 10s,16MB",
                                  o->flight);
    if (o->flight && ((bytes && bytes < CTRACE_FLIGHT_MIN_BYTES) || age > CTRACE_FLIGHT_MAX_AGE_NS))
        return ct_cli_usage_error(&ct_cmd_run, "--flight=%s: the window must hold at least 64KiB "
                                  "and last at most 24h", o->flight);
    if ((o->flight_signal || o->flight_at_exit) && !o->flight)
        return ct_cli_usage_error(&ct_cmd_run, "--flight-signal and --flight-at-exit need --flight");
    if (i >= argc)
        return ct_cli_usage_error(&ct_cmd_run, "missing the command to run");
    o->command = argv + i;
    return 0;
}

/* The program's environment: this process's, with the preload library and
 * its settings (set here, then handed to posix_spawn: nothing of ctrace
 * run's own is run after it). */
static void set_environment(const struct run_options *o, const char *preload,
                            const char *output, const struct ct_clock_pair *clocks)
{
    const char *old = getenv("LD_PRELOAD");
    char value[PATH_MAX * 2];
    if (old && *old)
        snprintf(value, sizeof value, "%s:%s", preload, old);
    else
        snprintf(value, sizeof value, "%s", preload);
    setenv("LD_PRELOAD", value, 1);
    setenv("CTRACE_OUTPUT", output, 1);
    unsetenv("CTRACE_FOLLOWED");
    setenv("CTRACE_FOLLOW", o->follow ? "1" : "0", 1);
    /* Both clocks as read at this command's start: the program measures
     * the event clock's rate from there to its own start, and need not
     * spend 250 us on it (calibration.c). */
    char clock_from[48];
    snprintf(clock_from, sizeof clock_from, "%llu:%llu", (unsigned long long)clocks->units,
             (unsigned long long)clocks->mono_ns);
    setenv("CTRACE_CLOCK_FROM", clock_from, 1);
    if (!o->sched)
        setenv("CTRACE_SCHED", "0", 1);
    else if (o->schedstat)
        setenv("CTRACE_SCHED", "schedstat", 1);
    else if (o->exact)
        setenv("CTRACE_SCHED", "exact", 1);
    if (o->stacks)
        setenv("CTRACE_STACKS", o->stacks, 1);
    if (o->threshold)
        setenv("CTRACE_SYSCALL_NS", o->threshold, 1);
    if (o->buffer)
        setenv("CTRACE_BUFFER_MB", o->buffer, 1);
    if (o->flight)
        setenv("CTRACE_FLIGHT", *o->flight ? o->flight : ",", 1);
    if (o->flight_signal)
        setenv("CTRACE_FLIGHT_SIGNAL", o->flight_signal, 1);
    if (o->flight_at_exit)
        setenv("CTRACE_FLIGHT_AT_EXIT", "1", 1);
    if (o->http)
        setenv("CTRACE_HTTP", o->http, 1);
    if (o->http_hosts)
        setenv("CTRACE_HTTP_HOSTS", o->http_hosts, 1);
}

/* Signals sent to ctrace run that are meant for the program (kill, timeout,
 * systemd, docker stop): passed on, so that it ends as it would untraced,
 * its trace complete. Those of the terminal (Ctrl-C, Ctrl-\\, a hangup) go
 * to the whole foreground process group, the program included, and are
 * not sent twice; nor is one the program sent. A signal sent to the
 * process group by another process (timeout does both) reaches the
 * program twice; the second, while the first is still pending, merges
 * with it. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
static volatile sig_atomic_t program_pid; /* 0 before the spawn and once it ended */

static void forward(int sig, siginfo_t *info, void *context)
{
    (void)context;
    int saved = errno;
    pid_t pid = program_pid;
    if (pid > 0 && info->si_code != SI_KERNEL && info->si_pid != pid)
        kill(pid, sig);
    errno = saved;
}

/* Installs forward() for the signals this process does not ignore (an
 * ignored one stays ignored, and the program inherits that, as it would
 * from a shell); they stay blocked until the program's pid is known. */
static void forward_signals(sigset_t *old_mask)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaddset(&set, forwarded[i]);
    sigprocmask(SIG_BLOCK, &set, old_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
        struct sigaction cur, act;
        if (sigaction(forwarded[i], NULL, &cur) != 0 ||
            (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN))
            continue;
        memset(&act, 0, sizeof act);
        act.sa_sigaction = forward;
        act.sa_flags = SA_SIGINFO | SA_RESTART;
        sigfillset(&act.sa_mask);
        sigaction(forwarded[i], &act, NULL);
    }
}

/*
 * The first per-thread perf event on a machine that has had none for a
 * second waits for an RCU grace period in the kernel (perf_sched_events
 * turned on, then synchronize_rcu: 4-30 ms here), and that is the
 * program's first perf_event_open, before its main. This thread opens
 * and closes one on itself as soon as `ctrace run` starts, so that the
 * wait overlaps the program's exec and loading; the program's own open
 * then waits only for what is left of it (the kernel keeps the hooks on
 * for a second after the last event closes).
 */
static void *open_perf_early(void *arg)
{
    (void)arg;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_DUMMY;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0)
        close((int)fd);
    return NULL;
}

static bool start_perf_early(pthread_t *thread)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    bool started = pthread_attr_init(&attr) == 0;
    if (started) {
        pthread_attr_setstacksize(&attr, 64 * 1024);
        started = pthread_create(thread, &attr, open_perf_early, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

/* Starts the program with posix_spawnp (a vfork: no copy of this
 * process's page tables, 1 ms less than fork and exec here), with the
 * signal mask ctrace run was given (exec resets forward()'s handlers to
 * the default). 0, or the errno of a failed exec. */
static int spawn(char **command, pid_t *pid, const sigset_t *mask)
{
    posix_spawnattr_t attr;
    int rc = posix_spawnattr_init(&attr);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&attr, mask);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    if (rc == 0)
        rc = posix_spawnp(pid, command[0], NULL, &attr, command, environ);
    if (rc == ENOEXEC) {
        /* A script without "#!": the shell runs it, as execvp would. */
        size_t n = 0;
        while (command[n])
            n++;
        char **sh = calloc(n + 2, sizeof *sh);
        if (sh) {
            sh[0] = "/bin/sh";
            memcpy(sh + 1, command, (n + 1) * sizeof *sh);
            rc = posix_spawn(pid, sh[0], NULL, &attr, sh, environ);
            free(sh);
        }
    }
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* Waits for the program to end; its status. It is reaped only once
 * forward() can no longer reach its pid, which might be reused after. */
static int wait_program(pid_t pid)
{
    siginfo_t info;
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    program_pid = 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* The files of this run's process tree: FILE and the children's
 * FILE.PID[.N] whose parents are in it (src/analysis/tree.c), not those
 * an earlier run left beside it. FILE alone when it is not a whole
 * enough trace to follow. The caller frees *paths. */
static int64_t mono_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t run_files(const char *output, char (**paths)[PATH_MAX])
{
    struct ct_tree tree;
    char err[256];
    char *root[] = {(char *)output};
    size_t n = 1;
    struct stat st;
    bool tree_read = stat(output, &st) == 0 && st.st_size > 0 &&
                     ct_tree_load(&tree, root, 1, true, err, sizeof err) == 0;
    if (tree_read)
        n = tree.count ? tree.count : 1;
    *paths = calloc(n, sizeof **paths);
    if (!*paths) {
        n = 0;
    } else if (!tree_read || tree.count == 0) {
        snprintf((*paths)[0], sizeof (*paths)[0], "%s", output);
    } else {
        for (size_t i = 0; i < n; i++)
            snprintf((*paths)[i], sizeof (*paths)[i], "%s", tree.images[i].path);
    }
    if (tree_read)
        ct_tree_free(&tree);
    return n;
}

/* The files of the children of the trace FILE holds now (FILE.PID[.N]
 * whose parents are in its tree), removed: this run's FILE replaces that
 * trace, and its children's files go with it rather than pile up beside
 * the new ones run after run. Nothing is removed when FILE is not a whole
 * enough trace to follow. */
static void remove_old_children(const char *output)
{
    struct ct_tree tree;
    char err[256];
    char *root[] = {(char *)output};
    if (!ct_tree_is_image(output) || ct_tree_load(&tree, root, 1, true, err, sizeof err) != 0)
        return;
    for (size_t i = 0; i < tree.count; i++)
        if (strcmp(tree.images[i].path, output) != 0)
            unlink(tree.images[i].path);
    ct_tree_free(&tree);
}

/* Where the frames named from DWARF are kept between runs:
 * CTRACE_SYMBOL_CACHE (off: nowhere), else $XDG_CACHE_HOME/ctrace/symbols
 * or ~/.cache/ctrace/symbols, made if missing; a directory of this user's
 * that no other can write, or none. */
static void symbol_cache(void)
{
    char dir[PATH_MAX];
    const char *set = getenv("CTRACE_SYMBOL_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (set)
        n = snprintf(dir, sizeof dir, "%s", strcmp(set, "off") == 0 ? "" : set);
    else if (xdg && xdg[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/ctrace/symbols", xdg);
    else if (home && home[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/.cache/ctrace/symbols", home);
    else
        return;
    if (n <= 0 || (size_t)n >= sizeof dir || !dir[0])
        return;
    for (char *c = dir + 1; *c; c++) { /* each part, as mkdir -p */
        if (*c != '/')
            continue;
        *c = 0;
        mkdir(dir, 0700);
        *c = '/';
    }
    mkdir(dir, 0700);
    struct stat st;
    if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
        !(st.st_mode & (S_IWGRP | S_IWOTH)))
        ct_symbols_cache(dir);
}

/* The symbols of the traces' stacks, into the traces, so that they read
 * with names elsewhere. */
static void embed_symbols(const char *output, char (*paths)[PATH_MAX], size_t n)
{
    symbol_cache();
    for (size_t i = 0; i < n; i++) {
        const char *path = paths[i];
        bool child = strcmp(path, output) != 0;
        /* FILE (checked when it was opened), and children's traces that
         * are regular files of this user's: in a shared directory another
         * may have put a link under such a name. */
        struct stat st;
        int found_st = child ? lstat(path, &st) : stat(path, &st);
        if (found_st != 0 || !S_ISREG(st.st_mode) || (child && st.st_uid != geteuid()) ||
            st.st_size == 0)
            continue;
        if (ct_symbols_embed(path) < 0)
            fprintf(stderr, "ctrace run: %s: cannot add its symbols: %s\n", path, strerror(errno));
    }
}

static int run(int argc, char **argv)
{
    struct ct_clock_pair clocks = ct_clock_pair_now();
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(ct_cmd_run.usage, stdout);
        return CT_EXIT_OK;
    }
    struct run_options o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    pthread_t early;
    bool early_started = o.sched && !o.schedstat && start_perf_early(&early);
    char preload[PATH_MAX], output[PATH_MAX];
    if (!find_preload(preload, sizeof preload)) {
        fprintf(stderr, "ctrace run: cannot find %s (set CTRACE_PRELOAD to its path)\n",
                PRELOAD_NAME);
        return CT_EXIT_BAD_INPUT;
    }
    if (!absolute_output(o.output, output, sizeof output)) {
        fprintf(stderr, "ctrace run: %s: path too long\n", o.output);
        return CT_EXIT_BAD_INPUT;
    }
    /* A trace to a pipe or a device (-o /dev/stdout) is the program's
     * only: its children would need files beside it (the preload then
     * does not follow them, and says so when one starts). */
    struct stat st;
    bool existed = stat(output, &st) == 0;
    bool regular = !existed || S_ISREG(st.st_mode);
    if (regular) {
        int probe = ct_open_output(output, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (probe < 0) {
            fprintf(stderr, "ctrace run: cannot write %s: %s\n", o.output,
                    errno == EPERM ? "refused: another user's file or link in a sticky "
                                     "world-writable directory"
                                   : strerror(errno));
            return CT_EXIT_BAD_INPUT;
        }
        close(probe);
        if (existed && st.st_size > 0)
            remove_old_children(output);
    } else if (access(output, W_OK) != 0) {
        fprintf(stderr, "ctrace run: cannot write %s: %s\n", o.output, strerror(errno));
        return CT_EXIT_BAD_INPUT;
    }
    set_environment(&o, preload, output, &clocks);
    sigset_t mask;
    forward_signals(&mask);
    pid_t pid;
    int64_t started_ns = mono_now_ns();
    int err = spawn(o.command, &pid, &mask);
    if (err == 0)
        program_pid = pid;
    sigprocmask(SIG_SETMASK, &mask, NULL);
    if (err) {
        fprintf(stderr, "ctrace run: %s: %s\n", o.command[0],
                err == ENOENT ? "command not found" : strerror(err));
        if (!existed)
            unlink(output); /* nothing ran: leave no file behind */
        return err == ENOENT ? 127 : 126;
    }
    int status = wait_program(pid);
    if (early_started)
        pthread_join(early, NULL);
    int64_t ended_ns = mono_now_ns();
    /* A program the preload could not load into (a static one) left an
     * older trace at FILE as it was: emptied, so that it is not read as
     * this run's. */
    struct stat after;
    if (regular && existed && stat(output, &after) == 0 && after.st_ino == st.st_ino &&
        after.st_mtim.tv_sec == st.st_mtim.tv_sec && after.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
        after.st_size == st.st_size && st.st_size > 0) {
        int fd = ct_open_output(output, O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (!regular) {
        /* A pipe's or a device's size says nothing of what was written. */
    } else if (o.flight) {
        /* Nothing to say when a window was written; the recorder said where. */
        if (stat(output, &st) == 0 && st.st_size == 0) {
            if (!existed)
                unlink(output);
            fprintf(stderr, "ctrace run: no flight recorder window was written (none was asked "
                            "for; --flight-at-exit writes one at exit)\n");
        }
    } else {
        ct_say_if_unseen(o.command[0], output);
    }
    char (*files)[PATH_MAX] = NULL;
    size_t nfiles = regular ? run_files(output, &files) : 0;
    if (o.symbols)
        embed_symbols(output, files, nfiles);
    /* A flight recorder's window is not the run: its switches say
     * nothing of the run's. */
    struct ct_run_heard heard = {.sched_auto = o.sched && !o.schedstat && !o.flight,
                                 .wall_ns = ended_ns - started_ns};
    ct_run_say((const char (*)[PATH_MAX])files, nfiles, &heard);
    free(files);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

const struct ct_command ct_cmd_run = {
    "run",
    "trace an unmodified program and its children",
    "usage: ctrace run [-o FILE] [--flight=AGE[,BYTES]] [--http=ADDR] [OPTIONS] [--]\n"
    "                  CMD [ARGS...]\n"
    "\n"
    "Runs CMD with libctrace-preload.so loaded (LD_PRELOAD) and writes its trace.\n"
    "The exit status is CMD's: 128+N if signal N killed it, 127 if it was not\n"
    "found, 126 if it could not be executed. Its standard streams are its own.\n"
    "ctrace sees a program through the C library: a static program is not\n"
    "traced, and a Go program's runtime makes its threads and system calls\n"
    "without it; ctrace run says so when it meets one.\n"
    "\n"
    "Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to\n"
    "ctrace run are passed on to CMD (the terminal's own reach CMD directly).\n"
    "A program that a signal's default action ends (SIGTERM, SIGINT, SIGHUP,\n"
    "SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2) first completes its trace up\n"
    "to that moment, then dies of the signal; handlers it installs run as\n"
    "ever. A crash (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL) writes what can\n"
    "be written safely. SIGKILL leaves the trace cut where the last batches\n"
    "were written: it loses the generation under way (up to 250 ms).\n"
    "\n"
    "options:\n"
    "  -o FILE, --output=FILE     the trace (default ctrace.out)\n"
    "  --no-stacks                no stacks on blocking events\n"
    "  --no-follow                do not trace forked children or exec'd programs\n"
    "  --no-sched, --sched=off    no CPU scheduling from the kernel (each context\n"
    "                             switch then costs nothing extra)\n"
    "  --sched=schedstat          scheduling from /proc/self/task/TID/schedstat\n"
    "                             samples only, as where perf_event_open is refused\n"
    "  --sched=exact              every context switch from the kernel where\n"
    "                             permitted, however many, else those samples\n"
    "                             (default --sched=auto: as exact, but a process\n"
    "                             whose switches come faster than 30 000 a second\n"
    "                             turns to the samples from there)\n"
    "  --syscall-threshold=NS     record system calls that took at least NS\n"
    "                             nanoseconds (default 10000)\n"
    "  --no-symbols               do not add the symbols of the trace's stacks to it\n"
    "                             when the program ends (they let the trace read\n"
    "                             with names where the program's files are not;\n"
    "                             frames named from DWARF are kept for the next run\n"
    "                             in ~/.cache/ctrace/symbols, CTRACE_SYMBOL_CACHE)\n"
    "  --buffer-mb=N              memory for event batches per process (default 64;\n"
    "                             with --flight, a quarter of BYTES, at least 4)\n"
    "  --flight[=AGE[,BYTES]]     flight recorder: keep the last AGE of the trace\n"
    "                             (default 10s), in at most BYTES (default 10MiB),\n"
    "                             in memory; write it to FILE on the flight signal,\n"
    "                             on a crash, when a signal's default action ends\n"
    "                             the program, and at exit with --flight-at-exit.\n"
    "                             Each write replaces FILE with the latest window.\n"
    "                             AGE as 500ms, 10s, 2m; BYTES as 64KiB, 16MB, 1G\n"
    "  --flight-signal=SIG        the signal that writes the window: USR2 (default),\n"
    "                             USR1, HUP, a number, or none. A handler the\n"
    "                             program installs for it replaces ours\n"
    "  --flight-at-exit           write the window when the program ends\n"
    "  --http=ADDR                serve /debug/ctrace/ on ADDR (as 127.0.0.1:6060)\n"
    "                             from inside the program: trace?seconds=N streams\n"
    "                             a trace of the next N seconds, flight the flight\n"
    "                             recorder's window. It answers to requests for\n"
    "                             localhost and the address listened on (DNS\n"
    "                             rebinding), takes no trace for another site's\n"
    "                             page (Sec-Fetch-Site, Origin, Referer: curl sends\n"
    "                             none), and closes connections idle for 10 s\n"
    "  --http-hosts=NAME,...      more Host names the endpoint answers to (* any)\n"
    "\n"
    "Children: a forked child writes FILE.PID from its first traced call that\n"
    "is not an exec (one that only sets up and execs, as a shell's children\n"
    "do, writes nothing of its own); a program exec'd by a traced process\n"
    "writes FILE.PID (FILE.PID.N if that process wrote one already).\n"
    "A run replaces the trace at FILE and its children's files.\n"
    "The parent's trace has fork and exec events naming them. A FILE that is a\n"
    "pipe or a device, or in /dev itself or under /proc (-o /dev/stdout), gets\n"
    "the first program's trace only: children are not followed (/dev/shm is a\n"
    "directory like any other).\n"
    "\n"
    "Traces are written readable by their owner only (mode 0600): they hold the\n"
    "command line, the host's name, library paths, stacks and whatever the\n"
    "program logged (docs/format.md, \"What a trace holds\"). In a sticky\n"
    "directory writable by all (/tmp), FILE is not written through another\n"
    "user's link or into another user's file.\n"
    "\n"
    "What is recorded: thread creation (with the creator's stack and the start\n"
    "function), the wait from it to the thread's first run, start, exit, names,\n"
    "join; contended mutexes, rwlocks and spinlocks (only when they block);\n"
    "condvar waits, semaphore waits and barriers (waits that block), timed and\n"
    "clock-taking variants (pthread_*_clock*) included; sleeps (always); reads\n"
    "and writes (stdio streams' too), sends, receives, accept, connect, poll,\n"
    "select and epoll waits, fsync and fdatasync, file locks (flock, lockf),\n"
    "waits for a child process (waitpid, wait, wait4, waitid, system, pclose)\n"
    "or a signal (sigwait, sigwaitinfo, sigtimedwait; sigsuspend and pause\n"
    "always) and name lookups (getaddrinfo: a network wait) that took at least\n"
    "the threshold; who woke whom for mutexes, rwlocks, condvars, semaphores,\n"
    "pipes and joins.\n"
    "\n"
    "Stacks: of blocking events, from the call frame information (.eh_frame)\n"
    "of each loaded object, so whole in programs built without frame pointers\n"
    "(as distributions build them); ctrace run then says so once, with what\n"
    "those stacks cost.\n"
    "\n"
    "CPU scheduling (--sched=auto): the recorder takes each context switch\n"
    "from the kernel (perf_event_open), at about 1 us each. A process whose\n"
    "switches come faster than 30 000 a second over 100 ms (120 000 over\n"
    "20 ms), and cost more than twice what sampling its threads would, turns\n"
    "to schedstat samples from there on (each thread's time on a CPU and\n"
    "waiting for one, every 2 ms; no CPU lanes from there). ctrace run says,\n"
    "once, which processes turned and when, where the kernel refused\n"
    "perf_event_open and the recorder fell back to the samples, and where the\n"
    "switches it recorded came so often that they cost 5 % of the run or more\n"
    "(with --sched=exact): how many, and what --sched=off would leave out.\n"
    "\n"
    "Environment variables, set by the options above or by hand:\n"
    "  CTRACE_OUTPUT          the trace file\n"
    "  CTRACE_STACKS          1 (default) or 0\n"
    "  CTRACE_STACK_DEPTH     frames per stack (default 32, at most 64)\n"
    "  CTRACE_BUFFER_MB       batch memory per process (default 64)\n"
    "  CTRACE_GENERATION_MS   generation length (default 250): what SIGKILL\n"
    "                         can take from the end of a trace\n"
    "  CTRACE_SYSCALL_NS      system call threshold (default 10000)\n"
    "  CTRACE_COUNTERS_MS     heap, RSS and thread counters period (default 10,\n"
    "                         0 for none)\n"
    "  CTRACE_FOLLOW          1 (default) or 0: trace children\n"
    "  CTRACE_SCHED           1 (default, auto), exact, schedstat, or 0 (off)\n"
    "  CTRACE_SCHED_AUTO_RATE switches a second past which --sched=auto turns to\n"
    "                         samples (default 30000; 0 never)\n"
    "  CTRACE_FLIGHT          AGE[,BYTES]: flight recorder instead of a file\n"
    "  CTRACE_FLIGHT_SIGNAL   the signal that writes the window (default USR2)\n"
    "  CTRACE_FLIGHT_AT_EXIT  1 or 0 (default): write the window at exit\n"
    "  CTRACE_HTTP            ADDR of the endpoint (default: none)\n"
    "  CTRACE_HTTP_HOSTS      its extra Host names (--http-hosts)\n"
    "  CTRACE_PRELOAD         where libctrace-preload.so is (default: beside\n"
    "                         this command, then " CTRACE_LIBDIR ")\n"
    "They are ignored in setuid and setgid programs.\n",
    run,
};
