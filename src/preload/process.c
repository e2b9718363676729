/*
 * process.c - fork and exec. A forked child starts its own trace (named as
 * init.c says) at its first traced call that is not an exec, and its
 * parent records a `fork` event naming it; an exec
 * records an `exec` event, completes this image's trace, and lets the next
 * image trace itself into a file of its own. vfork is not wrapped: its
 * child may only exec or _exit, and the exec'd program is traced through
 * the environment like any other; a vfork child that calls these wrappers
 * before exec leaves its parent's trace alone.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

extern char **environ;

CT_REAL_DECL(fork);
CT_REAL_DECL(_exit);
CT_REAL_DECL(_Exit);
CT_REAL_DECL(execve);
CT_REAL_DECL(execv);
CT_REAL_DECL(execvp);
CT_REAL_DECL(execvpe);

CT_EXPORT pid_t fork(void)
{
    bool traced = ct_tracing_here();
    pid_t pid = REAL(fork)();
    if (pid == 0 && traced)
        ct_preload_child_pending();
    else if (pid > 0 && traced)
        CT_RECORD(ct_ev_fork(pid); ct_preload_child_unfollowed());
    return pid;
}

/* _exit skips atexit handlers and destructors, where a trace is completed
 * otherwise: complete it here (not in a vfork child, whose recorder is its
 * parent's). */
CT_EXPORT void _exit(int status)
{
    if (ct_preload_owns_trace() && !ct_busy)
        ct_session_stop_all();
    REAL(_exit)(status);
    __builtin_unreachable();
}

CT_EXPORT void _Exit(int status)
{
    if (ct_preload_owns_trace() && !ct_busy)
        ct_session_stop_all();
    REAL(_Exit)(status);
    __builtin_unreachable();
}

/* envp with CTRACE_FOLLOWED=1 added, for an exec that passes its own
 * environment; NULL without memory (then envp as it is). */
static char **followed_env(char *const envp[])
{
    size_t n = 0;
    while (envp && envp[n])
        n++;
    char **copy = malloc((n + 2) * sizeof *copy);
    if (!copy)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], "CTRACE_FOLLOWED=", 16) != 0)
            copy[k++] = envp[i];
    copy[k++] = (char *)"CTRACE_FOLLOWED=1";
    copy[k] = NULL;
    return copy;
}

/* An exec with tracing off. A forked child whose trace has yet to start
 * (ct_preload_child_pending) passes the next image its being followed,
 * which an environment of the program's own may lack: without it, that
 * image would take itself for the first and write over FILE. */
static int exec_untraced(int (*real)(const char *, char *const[], char *const[]),
                         const char *file, char *const argv[], char *const envp[])
{
    char **env = !ct_busy && envp != environ && ct_preload_pending_here() ? followed_env(envp)
                                                                          : NULL;
    int rc = real(file, argv, env ? env : envp);
    free(env);
    return rc;
}

CT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    if (!ct_preload_owns_trace() || ct_busy)
        return exec_untraced(REAL(execve), path, argv, envp);
    ct_preload_before_exec(path);
    char **env = envp == environ ? NULL : followed_env(envp);
    int rc = REAL(execve)(path, argv, env ? env : envp);
    free(env);
    ct_preload_exec_failed();
    return rc;
}

CT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (!ct_preload_owns_trace() || ct_busy)
        return exec_untraced(REAL(execvpe), file, argv, envp);
    ct_preload_before_exec(file);
    char **env = envp == environ ? NULL : followed_env(envp);
    int rc = REAL(execvpe)(file, argv, env ? env : envp);
    free(env);
    ct_preload_exec_failed();
    return rc;
}

CT_EXPORT int execv(const char *path, char *const argv[])
{
    if (!ct_preload_owns_trace() || ct_busy)
        return REAL(execv)(path, argv);
    ct_preload_before_exec(path);
    int rc = REAL(execv)(path, argv);
    ct_preload_exec_failed();
    return rc;
}

CT_EXPORT int execvp(const char *file, char *const argv[])
{
    if (!ct_preload_owns_trace() || ct_busy)
        return REAL(execvp)(file, argv);
    ct_preload_before_exec(file);
    int rc = REAL(execvp)(file, argv);
    ct_preload_exec_failed();
    return rc;
}

/* The execl family collects its arguments and goes through the above. */
static char **collect(const char *arg0, va_list ap, char ***envp)
{
    size_t n = 1;
    va_list count;
    va_copy(count, ap);
    while (va_arg(count, char *))
        n++;
    va_end(count);
    char **argv = malloc((n + 1) * sizeof *argv);
    if (!argv)
        return NULL;
    argv[0] = (char *)arg0;
    for (size_t i = 1; i <= n; i++)
        argv[i] = va_arg(ap, char *);
    if (envp)
        *envp = va_arg(ap, char **);
    return argv;
}

enum via { VIA_EXECV, VIA_EXECVP, VIA_EXECVE };

/* Runs an argv built by collect() through the vector form (the wrappers
 * above); frees it when the exec fails. */
static int exec_collected(enum via via, const char *target, char **argv, char **envp)
{
    if (!argv) {
        errno = ENOMEM;
        return -1;
    }
    int rc = via == VIA_EXECV    ? execv(target, argv)
             : via == VIA_EXECVP ? execvp(target, argv)
                                 : execve(target, argv, envp);
    free(argv);
    return rc;
}

CT_EXPORT int execl(const char *path, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    char **argv = collect(arg0, ap, NULL);
    va_end(ap);
    return exec_collected(VIA_EXECV, path, argv, NULL);
}

CT_EXPORT int execlp(const char *file, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    char **argv = collect(arg0, ap, NULL);
    va_end(ap);
    return exec_collected(VIA_EXECVP, file, argv, NULL);
}

CT_EXPORT int execle(const char *path, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    char **envp = NULL;
    char **argv = collect(arg0, ap, &envp);
    va_end(ap);
    return exec_collected(VIA_EXECVE, path, argv, envp);
}
