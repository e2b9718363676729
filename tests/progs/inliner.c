/* inliner - a sleep inside a function the compiler inlines (always_inline
 * works at any optimization level), called by a thread's function: its
 * stack's first frame is inlined. Built twice: with frame pointers, and
 * without (inliner_nofp). */
#include <pthread.h>
#include <unistd.h>

static inline __attribute__((always_inline)) void nap_inline(void)
{
    usleep(20000);
}

__attribute__((noinline)) static void *napper(void *arg)
{
    (void)arg;
    nap_inline();
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, napper, NULL);
    pthread_join(t, NULL);
    return 0;
}
