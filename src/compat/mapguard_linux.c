/*
 * mapguard_linux.c - see mapguard.h. The handler runs on the faulting
 * thread, in the middle of a load from the mapping; it may only do what is
 * safe in a signal handler: mmap is a plain system call on Linux.
 */
#include "mapguard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uintptr_t guard_base, guard_end;
static atomic_bool tripped;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t at = (uintptr_t)si->si_addr, page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (sig == SIGBUS && at >= guard_base && at < guard_end) {
        uintptr_t from = at & ~(page - 1);
        /* From the lost page to the end: zeros, read-only, as the file
         * was mapped. Pages in between stay the file's. */
        if (mmap((void *)from, guard_end - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                 -1, 0) != MAP_FAILED) {
            atomic_store(&tripped, true);
            return; /* the load is done again, on the zeros */
        }
    }
    /* Not ours: as if there were no handler. */
    signal(SIGBUS, SIG_DFL);
}

int ct_mapguard_install(const void *addr, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    guard_base = (uintptr_t)addr;
    guard_end = ((uintptr_t)addr + len + page - 1) & ~(page - 1);
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = on_sigbus;
    act.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&act.sa_mask);
    return sigaction(SIGBUS, &act, NULL);
}

bool ct_mapguard_tripped(void)
{
    return atomic_load(&tripped);
}
