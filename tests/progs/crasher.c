/* crasher - sleeps a few times, then dies of SIGSEGV. */
#include <signal.h>
#include <unistd.h>

int main(void)
{
    for (int i = 0; i < 5; i++)
        usleep(1000);
    raise(SIGSEGV);
    return 0;
}
