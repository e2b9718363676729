/*
 * signals.c - signals that end the program.
 *
 * Fatal signals (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL): the trace gets
 * what can be written safely (ct_crash_flush), then the program's own
 * handler runs, or the default action. ctrace's handler stays installed:
 * when the program installs a handler for one of these, the wrapper keeps
 * it aside as the program's and reports it back as installed, so the
 * program sees what it set and its handler runs after the flush, with the
 * same arguments.
 *
 * Terminating signals (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGALRM,
 * SIGUSR1, SIGUSR2; not the flight recorder's signal): how services are
 * stopped (timeout, systemd, docker, Ctrl-C). Their default action ended
 * the program with the generation under way unwritten, up to a second of
 * it. While the program's disposition is the default, ctrace's handler is
 * installed instead: it has the tracer's thread end the trace (every
 * thread's events up to that moment, and the end record, as at exit; the
 * flight recorder's window to its file), then restores the default and
 * raises the signal again, so the program dies of it as it would have. A
 * handler or SIG_IGN the program sets is installed for real (an ignored
 * signal stays ignored across exec, as nohup needs); setting the default
 * again puts ctrace's back. The program sees only what it set.
 */
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

CT_REAL_DECL(sigaction);

static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
static const int terminating[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT,
                                  SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2};
#define NSIG_TABLE 65
enum { NOT_OURS, FATAL, TERMINATING };
static unsigned char kind[NSIG_TABLE];       /* what the wrapper does with each */
static struct sigaction program[NSIG_TABLE] CT_LARGE; /* the program's dispositions */
static bool installed[NSIG_TABLE];           /* ours is in the kernel */
/* The program's handler is in the kernel (not kept aside), and whether
 * one was installed with SA_NODEFER; ctrace's handlers running on this
 * thread. What the writer's start asks (no_handler_running). */
static _Atomic bool program_handles[NSIG_TABLE];
static _Atomic bool nodefer_seen;
static __thread unsigned in_ours;
/* The signal mask the program asked for (sigprocmask, pthread_sigmask)
 * while its writer thread is not made, when it has one thread: a handled
 * signal blocked beyond it is blocked by the kernel for its handler. */
static sigset_t asked;
CT_REAL_DECL(sigprocmask);
CT_REAL_DECL(pthread_sigmask);

static void on_fatal(int sig, siginfo_t *info, void *context)
{
    int saved = errno;
    in_ours++; /* (left set if the program's handler jumps out: no lazy start then) */
    ct_crash_flush();
    ct_preload_flight_crash();
    struct sigaction *p = &program[sig];
    errno = saved;
    if (p->sa_flags & SA_SIGINFO) {
        if (p->sa_sigaction) {
            p->sa_sigaction(sig, info, context);
            in_ours--;
            return;
        }
    } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
        p->sa_handler(sig);
        in_ours--;
        return;
    }
    in_ours--;
    /* The default action: with it restored, the signal is delivered again
     * when this handler returns (a fault repeats; a raised one is raised). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    REAL(sigaction)(sig, &dfl, NULL);
    installed[sig] = false;
    if (info && info->si_code <= 0) /* sent by kill, raise or abort: send again */
        raise(sig);
}

/* 0 until a terminating signal's handler begins to end the trace, then 1;
 * a second one (on another thread) waits for the first to end the
 * program. */
static _Atomic uint32_t ending;

static void on_terminate(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    int saved = errno;
    in_ours++;
    uint32_t expected = 0;
    if (atomic_compare_exchange_strong(&ending, &expected, 1)) {
        ct_preload_terminate(sig);
    } else {
        /* The first handler ends the program within seconds; should it
         * not (its thread stopped), this one does. */
        struct timespec wait = {10, 0};
        syscall(SYS_futex, &ending, FUTEX_WAIT_PRIVATE, 1, &wait, NULL, 0);
    }
    /* The default action, as the program would have had it: the signal,
     * blocked while this handler runs, is delivered when it returns. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    REAL(sigaction)(sig, &dfl, NULL);
    installed[sig] = false;
    raise(sig);
    in_ours--;
    errno = saved;
}

static bool is_default(const struct sigaction *a)
{
    return !(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_DFL;
}

/* Installs ctrace's handler for sig; the one it replaces into *old, if
 * asked (one system call, not two: every process pays them at its start). */
static void install_for(int sig, void (*handler)(int, siginfo_t *, void *),
                        struct sigaction *old)
{
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = handler;
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&ours.sa_mask);
    installed[sig] = REAL(sigaction)(sig, &ours, old) == 0;
    if (installed[sig])
        atomic_store(&program_handles[sig], false);
}

/* No handler runs on this thread now: none of ctrace's, and none of the
 * program's, each of which has its own signal blocked by the kernel while
 * it runs, beyond what the program asked for (one installed with
 * SA_NODEFER has not: after such, never). The writer's thread may be made
 * here (writer.c). */
static bool no_handler_running(void)
{
    if (in_ours || atomic_load_explicit(&nodefer_seen, memory_order_relaxed))
        return false;
    sigset_t mask;
    if (REAL(pthread_sigmask)(SIG_BLOCK, NULL, &mask) != 0)
        return false;
    for (int sig = 1; sig < NSIG_TABLE; sig++)
        if (atomic_load_explicit(&program_handles[sig], memory_order_relaxed) &&
            sigismember(&mask, sig) == 1 && sigismember(&asked, sig) != 1)
            return false;
    return true;
}

/* The program changes its mask: kept while the writer is not made. */
static void note_mask(int how, const sigset_t *set)
{
    if (!set || ct_busy || !atomic_load_explicit(&ct_writer_deferred, memory_order_relaxed))
        return;
    if (how == SIG_SETMASK)
        asked = *set;
    else if (how == SIG_BLOCK)
        sigorset(&asked, &asked, set);
    else
        for (int sig = 1; sig < NSIG_TABLE; sig++)
            if (sigismember(set, sig) == 1)
                sigdelset(&asked, sig);
}

CT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int rc = REAL(sigprocmask)(how, set, old);
    if (rc == 0)
        note_mask(how, set);
    return rc;
}

CT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    int rc = REAL(pthread_sigmask)(how, set, old);
    if (rc == 0)
        note_mask(how, set);
    return rc;
}

void ct_preload_install_signals(int claimed)
{
    ct_writer_no_handler_hook = no_handler_running;
    REAL(pthread_sigmask)(SIG_BLOCK, NULL, &asked); /* as the session starts */
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
        int sig = fatal[i];
        struct sigaction old;
        kind[sig] = FATAL;
        install_for(sig, on_fatal, &old);
        /* Installed again (a forked child starting its own trace, an image
         * whose exec failed): the handler found is ours, and the program's
         * is already kept aside. Keeping ours as the program's made the
         * handler call itself for ever. */
        if (installed[sig] && (!(old.sa_flags & SA_SIGINFO) || old.sa_sigaction != on_fatal))
            program[sig] = old;
    }
    for (size_t i = 0; i < sizeof terminating / sizeof *terminating; i++) {
        int sig = terminating[i];
        struct sigaction old;
        if (sig == claimed || REAL(sigaction)(sig, NULL, &old) != 0)
            continue;
        bool ours = (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_terminate;
        if (!ours)
            program[sig] = old;
        kind[sig] = TERMINATING;
        if (is_default(&program[sig]))
            install_for(sig, on_terminate, NULL);
    }
}

static bool is_fatal(int sig)
{
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
        if (fatal[i] == sig)
            return true;
    return false;
}

/* The program's own handler goes into the kernel: one that its own signal
 * can interrupt (SA_NODEFER) leaves no trace in the signal mask while it
 * runs, which the writer's start looks at (writer.c, the thread when
 * needed). Not a fatal signal's: the handler found there when tracing
 * starts (a sanitizer's, installed before) and any set later run inside
 * ctrace's, with every signal blocked. */
static int install_program(int sig, const struct sigaction *act, struct sigaction *old)
{
    bool handler = act && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
    if (handler && (act->sa_flags & SA_NODEFER) && !is_fatal(sig) &&
        !atomic_load(&nodefer_seen)) {
        /* (dd's SIGINT) The writer's thread now, if it may be made here:
         * later, nothing would tell this handler's code from the rest. */
        if (atomic_load_explicit(&ct_writer_deferred, memory_order_relaxed) &&
            no_handler_running())
            ct_writer_undefer();
        atomic_store(&nodefer_seen, true);
    }
    int rc = REAL(sigaction)(sig, act, old);
    if (rc == 0 && act && sig > 0 && sig < NSIG_TABLE)
        atomic_store(&program_handles[sig], handler);
    return rc;
}

CT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG_TABLE || kind[sig] == NOT_OURS)
        return install_program(sig, act, old);
    if (kind[sig] == FATAL) {
        if (!installed[sig])
            return install_program(sig, act, old);
        if (old)
            *old = program[sig];
        if (act)
            program[sig] = *act;
        return 0;
    }
    /* Terminating: the program's handler or SIG_IGN for real; ours for
     * its default. */
    struct sigaction before = program[sig];
    if (act && !is_default(act)) {
        if (install_program(sig, act, NULL) != 0)
            return -1;
        installed[sig] = false;
    }
    if (act) {
        program[sig] = *act;
        if (is_default(act) && !installed[sig])
            install_for(sig, on_terminate, NULL);
    }
    if (old)
        *old = before;
    return 0;
}

CT_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}
