/*
 * unwind_none.c - the unwinder's CPU part where there is none: every row
 * ends the walk (none/unwind_arch.h), so stacks are what the frame-pointer
 * walk finds.
 */
#include "../recorder/unwind.h"

const struct ct_unwind_arch ct_unwind_arch = {false, 0xff, 0xff, 0xff};

uint64_t ct_arch_pack(const struct ct_cfi_row *row)
{
    (void)row;
    return CT_RULE_END;
}
