/*
 * unwind_chain.c - a call chain built without frame pointers (-O2
 * -fomit-frame-pointer, tests/meson.build), for test_unwind: each function
 * notes the return address its call will come back to, and the innermost
 * calls back into the test, which walks the stack from there.
 */
#include <stdint.h>

#include "unwind_chain.h"

void chain_1(void (*at_end)(void));
void chain_2(void (*at_end)(void));
void chain_3(void (*at_end)(void));

uintptr_t chain_returns[CHAIN_DEPTH], chain_end_return;
static volatile int sink;

/* Each keeps a frame of its own (a buffer, work after the call) and is
 * neither inlined nor tail-called. */
#define LINK(name, level, next)                                               \
    __attribute__((noinline)) void name(void (*at_end)(void))                 \
    {                                                                         \
        volatile char buf[24 + 8 * level];                                    \
        buf[level] = (char)level;                                             \
        chain_returns[level] = (uintptr_t)__builtin_return_address(0);        \
        next(at_end);                                                         \
        sink += buf[level];                                                   \
    }

__attribute__((noinline)) static void chain_end(void (*at_end)(void))
{
    chain_end_return = (uintptr_t)__builtin_return_address(0);
    at_end();
    sink++;
}

LINK(chain_3, 3, chain_end)
LINK(chain_2, 2, chain_3)
LINK(chain_1, 1, chain_2)
LINK(chain_0, 0, chain_1)
