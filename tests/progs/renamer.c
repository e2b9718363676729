/*
 * renamer - forks a child that renames itself as nginx's workers do: it
 * rewrites its command line in place ("renamer-worker", the rest of the
 * arguments' memory cleared) and its thread name, then sleeps 10 ms 40
 * times (several generations) and exits; the parent waits for it.
 */
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* The arguments lie one after another: all of it is the title's. */
        char *end = argv[argc - 1] + strlen(argv[argc - 1]);
        size_t room = (size_t)(end - argv[0]);
        static const char title[] = "renamer-worker";
        memset(argv[0], 0, room);
        memcpy(argv[0], title, room < sizeof title - 1 ? room : sizeof title - 1);
        prctl(PR_SET_NAME, "worker", 0, 0, 0);
        for (int i = 0; i < 40; i++)
            usleep(10000);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return 0;
}
