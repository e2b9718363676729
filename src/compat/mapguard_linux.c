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

/* The mappings guarded: added before any read of them, never removed;
 * the handler reads them without a lock (a slot is published by the count
 * after it is written). */
static struct guard {
    uintptr_t base, end;
    atomic_bool tripped;
} guards[CT_MAPGUARD_MAX];
static atomic_size_t nguards;
static atomic_bool tripped;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t at = (uintptr_t)si->si_addr, page = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t n = atomic_load(&nguards);
    for (size_t i = 0; sig == SIGBUS && i < n; i++) {
        struct guard *g = &guards[i];
        if (at < g->base || at >= g->end)
            continue;
        uintptr_t from = at & ~(page - 1);
        /* From the lost page to the end: zeros, read-only, as the file
         * was mapped. Pages in between stay the file's. */
        if (mmap((void *)from, g->end - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                 -1, 0) != MAP_FAILED) {
            atomic_store(&g->tripped, true);
            atomic_store(&tripped, true);
            return; /* the load is done again, on the zeros */
        }
        break;
    }
    /* Not ours: as if there were no handler. */
    signal(SIGBUS, SIG_DFL);
}

int ct_mapguard_install(const void *addr, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t n = atomic_load(&nguards);
    if (n == CT_MAPGUARD_MAX)
        return -1;
    guards[n].base = (uintptr_t)addr;
    guards[n].end = ((uintptr_t)addr + len + page - 1) & ~(page - 1);
    atomic_store(&nguards, n + 1);
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

bool ct_mapguard_tripped_at(const void *addr)
{
    size_t n = atomic_load(&nguards);
    for (size_t i = 0; i < n; i++)
        if ((uintptr_t)addr >= guards[i].base && (uintptr_t)addr < guards[i].end)
            return atomic_load(&guards[i].tripped);
    return false;
}
