/*
 * unwind_arch.h (none) - where the unwinder has no CPU part: no rule is
 * followed, so stacks are what frame pointers give.
 */
#ifndef CT_UNWIND_ARCH_H
#define CT_UNWIND_ARCH_H

static inline bool ct_arch_rule_is_fp(uint64_t rule)
{
    (void)rule;
    return false;
}

static inline bool ct_arch_step(uint64_t rule, struct ct_regs *r, uintptr_t lo, uintptr_t hi,
                                struct ct_read_log *log)
{
    (void)rule, (void)r, (void)lo, (void)hi, (void)log;
    return false;
}

#endif
