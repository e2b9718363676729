/*
 * membarrier_linux.c - the expedited private membarrier of Linux 4.14+: one
 * call makes every running thread of the process execute a full memory
 * barrier. It lets tracing threads use plain stores where a store-load fence
 * would otherwise be needed (see recorder.h).
 */
#include "../recorder/recorder.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

int ct_membarrier_register(void)
{
    long mask = sys_membarrier(MEMBARRIER_CMD_QUERY);
    if (mask < 0 || !(mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return -1;
    return sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 ? 0 : -1;
}

int ct_membarrier(void)
{
    return sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 ? 0 : -1;
}
