/* pipe_bench [ROUNDS] - two threads bounce a byte over two pipes. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int ping[2], pong[2];
static long rounds;

static void *echo(void *arg)
{
    (void)arg;
    char c;
    for (long i = 0; i < rounds; i++)
        if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
            break;
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 50000;
    if (pipe(ping) || pipe(pong))
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, echo, NULL);
    char c = 'x';
    for (long i = 0; i < rounds; i++)
        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
            return 1;
    pthread_join(t, NULL);
    return 0;
}
