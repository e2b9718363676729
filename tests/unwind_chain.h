/* unwind_chain.h - a call chain without frame pointers (unwind_chain.c). */
#ifndef CT_TEST_UNWIND_CHAIN_H
#define CT_TEST_UNWIND_CHAIN_H

#include <stdint.h>

#define CHAIN_DEPTH 4

/* chain_returns[i]: the return address of chain_i's call, into its caller
 * (chain_{i-1}, or the test for chain_0). */
extern uintptr_t chain_returns[CHAIN_DEPTH];
/* The return address of the innermost function's call, into chain_3. */
extern uintptr_t chain_end_return;
/* chain_0 -> chain_1 -> chain_2 -> chain_3 -> (a static end) -> at_end. */
void chain_0(void (*at_end)(void));

#endif
