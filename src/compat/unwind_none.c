/*
 * unwind_none.c - the unwinder's CPU part where there is none: every row
 * ends the walk, so stacks are what the frame-pointer walk finds.
 */
#include "../recorder/unwind.h"

const struct ct_unwind_arch ct_unwind_arch = {false, 0xff, 0xff, 0xff};

uint64_t ct_arch_pack(const struct ct_cfi_row *row)
{
    (void)row;
    return CT_RULE_END;
}

bool ct_arch_rule_is_fp(uint64_t rule)
{
    (void)rule;
    return false;
}

bool ct_arch_step(uint64_t rule, struct ct_regs *r, uintptr_t lo, uintptr_t hi)
{
    (void)rule, (void)r, (void)lo, (void)hi;
    return false;
}
