/*
 * unwind_x86_64.c - the x86-64 part of the unwinder (src/recorder/unwind.h):
 * DWARF's register numbers, a CFA row packed into one 64-bit word for the
 * rule cache, and one step from a frame to its caller.
 *
 * A call pushes the return address, so it sits just below the CFA (the
 * stack pointer before the call) in every frame that compilers describe;
 * a row whose return address is anywhere else (a signal handler's
 * trampoline, hand-written code) ends the walk. The word:
 *
 *    63             32 31             8 7   5 4   3 2   0
 *   +-----------------+----------------+-----+-----+-----+
 *   | CFA offset (s32)| FP offset (s24)|  0  | FP  | CFA |
 *   +-----------------+----------------+-----+-----+-----+
 *
 *   CFA: 1 the walk ends here (CT_RULE_END), 2 rsp + offset,
 *        3 rbp + offset, 4 the word at rbp + offset (GCC's realigned
 *        stacks: the CFA kept in memory through a DRAP register)
 *   FP:  0 rbp unchanged, 1 rbp saved at CFA + FP offset,
 *        2 rbp saved at rbp + FP offset, 3 rbp unknown from here on
 *
 * CT_RULE_NOT_CODE (0) never comes from a row.
 */
#include "../recorder/unwind.h"

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };
enum { CFA_SP = 2, CFA_FP = 3, CFA_DEREF_FP = 4 };
enum { FP_SAME = 0, FP_AT_CFA = 1, FP_AT_FP = 2, FP_UNKNOWN = 3 };

const struct ct_unwind_arch ct_unwind_arch = {true, REG_RSP, REG_RBP, REG_RA};

static inline unsigned cfa_kind(uint64_t rule)
{
    return rule & 7;
}

static inline unsigned fp_kind(uint64_t rule)
{
    return (rule >> 3) & 3;
}

static inline int64_t fp_off(uint64_t rule)
{
    return (int64_t)(int32_t)((uint32_t)rule & 0xffffff00u) >> 8;
}

static inline int64_t cfa_off(uint64_t rule)
{
    return (int64_t)(int32_t)(uint32_t)(rule >> 32);
}

uint64_t ct_arch_pack(const struct ct_cfi_row *row)
{
    if (row->signal_frame || row->ra.how != CT_CFI_AT_CFA || row->ra.off != -8)
        return CT_RULE_END;
    unsigned cfa;
    if (row->cfa_how == CT_CFA_REG && row->cfa_reg == REG_RSP)
        cfa = CFA_SP;
    else if (row->cfa_how == CT_CFA_REG && row->cfa_reg == REG_RBP)
        cfa = CFA_FP;
    else if (row->cfa_how == CT_CFA_DEREF && row->cfa_reg == REG_RBP)
        cfa = CFA_DEREF_FP;
    else
        return CT_RULE_END;
    if (row->cfa_off < INT32_MIN || row->cfa_off > INT32_MAX)
        return CT_RULE_END;
    unsigned fp = FP_UNKNOWN;
    int64_t off = 0;
    if (row->fp.how == CT_CFI_SAME) {
        fp = FP_SAME;
    } else if (row->fp.how == CT_CFI_AT_CFA) {
        fp = FP_AT_CFA;
        off = row->fp.off;
    } else if (row->fp.how == CT_CFI_AT_REG && row->fp.reg == REG_RBP) {
        fp = FP_AT_FP;
        off = row->fp.off;
    }
    if (off < -(1 << 23) || off >= (1 << 23)) {
        fp = FP_UNKNOWN;
        off = 0;
    }
    return (uint64_t)(uint32_t)(int32_t)row->cfa_off << 32 |
           ((uint64_t)(uint32_t)(int32_t)off & 0xffffffu) << 8 | fp << 3 | cfa;
}

bool ct_arch_rule_is_fp(uint64_t rule)
{
    return cfa_kind(rule) == CFA_FP && cfa_off(rule) == 16 && fp_kind(rule) == FP_AT_CFA &&
           fp_off(rule) == -16;
}

/* A word of the stack, if it lies inside [lo, hi) and is aligned. */
static inline bool read_word(uintptr_t addr, uintptr_t lo, uintptr_t hi, uintptr_t *out)
{
    if (addr < lo || addr > hi - sizeof(uintptr_t) || (addr & (sizeof(uintptr_t) - 1)))
        return false;
    *out = *(const uintptr_t *)addr;
    return true;
}

bool ct_arch_step(uint64_t rule, struct ct_regs *r, uintptr_t lo, uintptr_t hi)
{
    uintptr_t cfa, ra, fp = r->fp;
    bool fp_known = r->fp_known;
    switch (cfa_kind(rule)) {
    case CFA_SP:
        cfa = r->sp + (uintptr_t)cfa_off(rule);
        break;
    case CFA_FP:
        if (!r->fp_known)
            return false;
        cfa = r->fp + (uintptr_t)cfa_off(rule);
        break;
    case CFA_DEREF_FP:
        if (!r->fp_known || !read_word(r->fp + (uintptr_t)cfa_off(rule), lo, hi, &cfa))
            return false;
        break;
    default:
        return false;
    }
    /* The caller's stack pointer is above this frame's: a walk that does
     * not climb is following garbage. */
    if (cfa <= r->sp || !read_word(cfa - sizeof(uintptr_t), lo, hi, &ra))
        return false;
    switch (fp_kind(rule)) {
    case FP_SAME:
        break;
    case FP_AT_CFA:
        fp_known = read_word(cfa + (uintptr_t)fp_off(rule), lo, hi, &fp);
        break;
    case FP_AT_FP:
        fp_known = r->fp_known && read_word(r->fp + (uintptr_t)fp_off(rule), lo, hi, &fp);
        break;
    default:
        fp_known = false;
    }
    *r = (struct ct_regs){ra, cfa, fp, fp_known};
    return true;
}
