/*
 * unwind_x86_64.c - the x86-64 part of the unwinder (src/recorder/unwind.h):
 * DWARF's register numbers and a CFA row packed into one 64-bit word for
 * the rule cache; x86_64/unwind_arch.h steps with it.
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

const struct ct_unwind_arch ct_unwind_arch = {true, REG_RSP, REG_RBP, REG_RA};

uint64_t ct_arch_pack(const struct ct_cfi_row *row)
{
    if (row->signal_frame || row->ra.how != CT_CFI_AT_CFA || row->ra.off != -8)
        return CT_RULE_END;
    unsigned cfa;
    if (row->cfa_how == CT_CFA_REG && row->cfa_reg == REG_RSP)
        cfa = CT_X86_CFA_SP;
    else if (row->cfa_how == CT_CFA_REG && row->cfa_reg == REG_RBP)
        cfa = CT_X86_CFA_FP;
    else if (row->cfa_how == CT_CFA_DEREF && row->cfa_reg == REG_RBP)
        cfa = CT_X86_CFA_DEREF_FP;
    else
        return CT_RULE_END;
    if (row->cfa_off < INT32_MIN || row->cfa_off > INT32_MAX)
        return CT_RULE_END;
    unsigned fp = CT_X86_FP_UNKNOWN;
    int64_t off = 0;
    if (row->fp.how == CT_CFI_SAME) {
        fp = CT_X86_FP_SAME;
    } else if (row->fp.how == CT_CFI_AT_CFA) {
        fp = CT_X86_FP_AT_CFA;
        off = row->fp.off;
    } else if (row->fp.how == CT_CFI_AT_REG && row->fp.reg == REG_RBP) {
        fp = CT_X86_FP_AT_FP;
        off = row->fp.off;
    }
    if (off < -(1 << 23) || off >= (1 << 23)) {
        fp = CT_X86_FP_UNKNOWN;
        off = 0;
    }
    return (uint64_t)(uint32_t)(int32_t)row->cfa_off << 32 |
           ((uint64_t)(uint32_t)(int32_t)off & 0xffffffu) << 8 | fp << 3 | cfa;
}
