/*
 * signals.c - fatal signals. When SIGSEGV, SIGBUS, SIGABRT, SIGFPE or SIGILL
 * arrives, the trace gets what can be written safely (ct_crash_flush), then
 * the program's own handler runs, or the default action.
 *
 * ctrace's handler stays installed: when the program installs a handler for
 * one of these signals (sigaction, signal), the wrapper keeps it aside as the
 * program's and reports it back as installed, so the program sees what it
 * set and its handler runs after the flush, with the same arguments.
 */
#include <signal.h>
#include <string.h>

#include "preload.h"

CT_REAL_DECL(sigaction);

static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define NSIG_TABLE 65
static struct sigaction program[NSIG_TABLE]; /* the program's handlers */
static bool installed[NSIG_TABLE];

static bool is_fatal(int sig)
{
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
        if (fatal[i] == sig)
            return true;
    return false;
}

static void on_fatal(int sig, siginfo_t *info, void *context)
{
    int saved = errno;
    ct_crash_flush();
    ct_preload_flight_crash();
    struct sigaction *p = &program[sig];
    errno = saved;
    if (p->sa_flags & SA_SIGINFO) {
        if (p->sa_sigaction) {
            p->sa_sigaction(sig, info, context);
            return;
        }
    } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
        p->sa_handler(sig);
        return;
    }
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

void ct_preload_install_signals(void)
{
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
        int sig = fatal[i];
        struct sigaction ours, old;
        memset(&ours, 0, sizeof ours);
        ours.sa_sigaction = on_fatal;
        ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigfillset(&ours.sa_mask);
        if (REAL(sigaction)(sig, &ours, &old) != 0)
            continue;
        /* Installed again (a forked child starting its own trace, an image
         * whose exec failed): the handler found is ours, and the program's
         * is already kept aside. Keeping ours as the program's made the
         * handler call itself for ever. */
        if (!(old.sa_flags & SA_SIGINFO) || old.sa_sigaction != on_fatal)
            program[sig] = old;
        installed[sig] = true;
    }
}

CT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG_TABLE || !installed[sig] || !is_fatal(sig))
        return REAL(sigaction)(sig, act, old);
    if (old)
        *old = program[sig];
    if (act)
        program[sig] = *act;
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
