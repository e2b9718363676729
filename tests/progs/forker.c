/*
 * forker - forks a child that sleeps and exits, then execs `sleeper-exec`
 * (itself with an argument) which sleeps and exits 3: the parent's, the
 * child's and the exec'd image's traces each hold their sleeps.
 * `forker failexec`: an exec that fails, then a thread that sleeps twice:
 * the trace begun anew after the failed exec holds both sleeps.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    (void)arg;
    usleep(1000);
    usleep(1000);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "failexec") == 0) {
        execl("/nonexistent/ctrace-no-such-program", "x", (char *)NULL);
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0)
            return 1;
        pthread_join(t, NULL);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        usleep(1000);
        return 3;
    }
    usleep(1000);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(1000);
        usleep(1000);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    execl(argv[0], argv[0], "exec", (char *)NULL);
    perror("execl");
    return 1;
}
