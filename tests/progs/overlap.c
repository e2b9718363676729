/* overlap OUT - a trace of tasks that overlap more than the timeline has
 * task rows: 12 "job" tasks begun 1 ms apart, all open together for 10 ms,
 * then ended one by one. The view's last task row draws the ones that
 * overlap every other row over each other. */
#include <ctrace.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define JOBS 12

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ctrace_start(fd) != 0) {
        perror(argv[1]);
        return 1;
    }
    ctrace_task jobs[JOBS];
    for (int i = 0; i < JOBS; i++) {
        jobs[i] = ctrace_task_begin(CTRACE_NO_TASK, "job");
        usleep(1000);
    }
    usleep(10000);
    for (int i = 0; i < JOBS; i++) {
        ctrace_task_end(jobs[i]);
        usleep(1000);
    }
    ctrace_stop();
    close(fd);
    return 0;
}
