/*
 * netreader - a loopback socket reader, for ctrace view's tests of what a
 * span's details say: "server" reads 40 requests from a TCP connection on
 * 127.0.0.1, each read waiting about 1.5 ms for "client" to write; right
 * after each read it takes a mutex that the client holds for about 300 us,
 * so a network wait is followed at once by a mutex block. A span's reason,
 * object and waker must be its own, never the next block's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUESTS 40

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int listener;
static struct sockaddr_in addr;
static volatile unsigned long sink;

static void spin_us(long us)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        sink++;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

__attribute__((noinline)) static ssize_t read_request(int fd, char *buf, size_t n)
{
    return read(fd, buf, n);
}

__attribute__((noinline)) static void update_shared(void)
{
    pthread_mutex_lock(&lock);
    sink++;
    pthread_mutex_unlock(&lock);
}

static void *server(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "server");
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        return NULL;
    char buf[64];
    for (int i = 0; i < REQUESTS; i++) {
        size_t got = 0;
        while (got < sizeof buf) {
            ssize_t r = read_request(fd, buf + got, sizeof buf - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        update_shared();
    }
    close(fd);
    return NULL;
}

static void *client(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "client");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return NULL;
    char buf[64];
    memset(buf, 'r', sizeof buf);
    for (int i = 0; i < REQUESTS; i++) {
        usleep(1500);
        /* Hold the lock across the write: the server's read returns and
         * its lock blocks until the unlock, about 300 us later. */
        pthread_mutex_lock(&lock);
        if (write(fd, buf, sizeof buf) != sizeof buf)
            break;
        spin_us(300);
        pthread_mutex_unlock(&lock);
    }
    close(fd);
    return NULL;
}

int main(void)
{
    listener = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        perror("netreader: listen");
        return 1;
    }
    pthread_t s, c;
    pthread_create(&s, NULL, server, NULL);
    pthread_create(&c, NULL, client, NULL);
    pthread_join(s, NULL);
    pthread_join(c, NULL);
    close(listener);
    return 0;
}
