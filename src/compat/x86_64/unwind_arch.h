/*
 * unwind_arch.h (x86-64) - the unwinder's steps, inlined into the walk
 * (src/recorder/unwind.c, stack.c): a packed CFA row (unwind_x86_64.c
 * says how it is packed) applied to a frame's registers.
 */
#ifndef CT_UNWIND_ARCH_H
#define CT_UNWIND_ARCH_H

enum { CT_X86_CFA_SP = 2, CT_X86_CFA_FP = 3, CT_X86_CFA_DEREF_FP = 4 };
enum { CT_X86_FP_SAME = 0, CT_X86_FP_AT_CFA = 1, CT_X86_FP_AT_FP = 2, CT_X86_FP_UNKNOWN = 3 };

static inline unsigned ct_x86_cfa_kind(uint64_t rule)
{
    return rule & 7;
}

static inline unsigned ct_x86_fp_kind(uint64_t rule)
{
    return (rule >> 3) & 3;
}

static inline int64_t ct_x86_fp_off(uint64_t rule)
{
    return (int64_t)(int32_t)((uint32_t)rule & 0xffffff00u) >> 8;
}

static inline int64_t ct_x86_cfa_off(uint64_t rule)
{
    return (int64_t)(int32_t)(uint32_t)(rule >> 32);
}

/* Whether a rule is a frame-pointer frame's: the CFA two words above the
 * frame pointer, which points at the caller's saved frame pointer. Such a
 * function's frame record is exactly what a frame-pointer walk reads. */
static inline bool ct_arch_rule_is_fp(uint64_t rule)
{
    return ct_x86_cfa_kind(rule) == CT_X86_CFA_FP && ct_x86_cfa_off(rule) == 16 &&
           ct_x86_fp_kind(rule) == CT_X86_FP_AT_CFA && ct_x86_fp_off(rule) == -16;
}

/* A word of the stack, if it lies inside [lo, hi) and is aligned. */
static inline bool ct_x86_read(uintptr_t addr, uintptr_t lo, uintptr_t hi, uintptr_t *out,
                               struct ct_read_log *log)
{
    if (addr < lo || addr > hi - sizeof(uintptr_t) || (addr & (sizeof(uintptr_t) - 1)))
        return false;
    *out = ct_stack_word(addr);
    ct_read_log_add(log, addr, *out);
    return true;
}

/* Steps from r to the caller, reading only words inside [lo, hi) (noted
 * in log, if not NULL): false when the rule cannot be followed or leads
 * outside (r is then unchanged). */
static inline bool ct_arch_step(uint64_t rule, struct ct_regs *r, uintptr_t lo, uintptr_t hi,
                                struct ct_read_log *log)
{
    uintptr_t cfa, ra, fp = r->fp;
    bool fp_known = r->fp_known;
    switch (ct_x86_cfa_kind(rule)) {
    case CT_X86_CFA_SP:
        cfa = r->sp + (uintptr_t)ct_x86_cfa_off(rule);
        break;
    case CT_X86_CFA_FP:
        if (!r->fp_known)
            return false;
        cfa = r->fp + (uintptr_t)ct_x86_cfa_off(rule);
        break;
    case CT_X86_CFA_DEREF_FP:
        if (!r->fp_known ||
            !ct_x86_read(r->fp + (uintptr_t)ct_x86_cfa_off(rule), lo, hi, &cfa, log))
            return false;
        break;
    default:
        return false;
    }
    /* The caller's stack pointer is above this frame's: a walk that does
     * not climb is following garbage. The return address is just below. */
    if (cfa <= r->sp || !ct_x86_read(cfa - sizeof(uintptr_t), lo, hi, &ra, log))
        return false;
    switch (ct_x86_fp_kind(rule)) {
    case CT_X86_FP_SAME:
        break;
    case CT_X86_FP_AT_CFA:
        fp_known = ct_x86_read(cfa + (uintptr_t)ct_x86_fp_off(rule), lo, hi, &fp, log);
        break;
    case CT_X86_FP_AT_FP:
        fp_known = r->fp_known &&
                   ct_x86_read(r->fp + (uintptr_t)ct_x86_fp_off(rule), lo, hi, &fp, log);
        break;
    default:
        fp_known = false;
    }
    *r = (struct ct_regs){ra, cfa, fp, fp_known};
    return true;
}

#endif
