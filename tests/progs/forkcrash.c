/*
 * forkcrash HOW - forks a child (no exec) that sleeps, then dies: HOW is
 * segv (a NULL dereference), raise (raise(SIGSEGV)) or abort. The parent
 * waits for it and prints "child signal N", then exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "segv";
    usleep(1000);
    pid_t pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        usleep(1000);
        if (strcmp(how, "abort") == 0)
            abort();
        if (strcmp(how, "raise") == 0)
            raise(SIGSEGV);
        volatile int *null = NULL;
        return *null;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 3;
    printf("child %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return 0;
}
