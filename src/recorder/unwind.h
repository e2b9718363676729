/*
 * unwind.h - walking a thread's stack where frame pointers do not lead:
 * with the call frame information (.eh_frame) that every loaded object
 * carries for C++ exceptions and that the compiler emits whether or not it
 * keeps frame pointers.
 *
 * Three pieces, each usable inside a signal handler and across fork: no
 * malloc, no lock, no read outside memory known to be mapped.
 *
 *   codemap.c  the loaded objects' executable ranges and their .eh_frame
 *              tables, as a sorted array that the writer rebuilds when
 *              objects come and go and frees a generation later;
 *   cfi.c      finds a return address's FDE through .eh_frame_hdr's binary
 *              search table and runs its CFA program to the row in effect
 *              there (a ct_cfi_row);
 *   unwind.c   a process-wide cache from return address to the row, packed
 *              in 64 bits by the CPU's part (src/compat/unwind_*.c), so
 *              that in the steady state a frame costs a hash lookup and two
 *              loads; and the walk itself.
 */
#ifndef CT_UNWIND_H
#define CT_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "recorder.h"

/* ---- the loaded objects (codemap.c) ---- */

#define CT_CODE_SEGMENTS 6
struct ct_code_module {
    uintptr_t bias;             /* the load bias, dlpi_addr */
    const uint8_t *eh_hdr;      /* .eh_frame_hdr (PT_GNU_EH_FRAME); NULL: none */
    uintptr_t hdr_lo, hdr_hi;   /* the loaded segment that holds it */
    /* The loaded segments (the first CT_CODE_SEGMENTS), one of which
     * holds .eh_frame: which one is read from .eh_frame_hdr at the
     * module's first use (a page the process may never touch otherwise:
     * reading it for each of a program's libraries at its start faults a
     * page each). */
    struct {
        uintptr_t lo, hi;
    } segments[CT_CODE_SEGMENTS];
    uint32_t nsegments;
    uintptr_t frame_lo, frame_hi; /* the one that holds .eh_frame, once known */
    bool is_main;               /* the executable */
};

struct ct_code_range {
    uintptr_t lo, hi; /* an executable segment, [lo, hi) */
    uint32_t module;
};

struct ct_code_map {
    uint64_t signature;   /* ct_modules_signature() when it was built */
    uint32_t epoch;       /* changes when an object left: cached rules die */
    uint32_t nranges, nmodules;
    struct ct_code_map *retired_next;
    struct ct_code_range *ranges; /* sorted by address, disjoint */
    struct ct_code_module *modules;
};

/* Builds the first map (session start, not in a signal handler). */
CT_INTERNAL void ct_code_map_init(void);
/* The writer, after a generation's barrier: frees the maps replaced before
 * the previous barrier (no event can still be reading them), and replaces
 * the current one if the objects changed (sig: ct_modules_signature()). */
CT_INTERNAL void ct_code_map_update(uint64_t sig);
/* The current map, or NULL; valid until the end of the event it is read in. */
CT_INTERNAL const struct ct_code_map *ct_code_map_now(void);
/* The module whose executable segment holds addr, or NULL. */
CT_INTERNAL const struct ct_code_module *ct_code_map_find(const struct ct_code_map *map,
                                                         uintptr_t addr);
/* Whether the executable was built with frame pointers: 1 yes, 0 no, -1
 * unknown (no .eh_frame_hdr, or no map). */
CT_INTERNAL int ct_code_map_main_has_fp(void);

/* ---- call frame information (cfi.c) ---- */

/* How a register is recovered in the caller. */
enum {
    CT_CFI_SAME,      /* unchanged */
    CT_CFI_UNDEFINED, /* unknown (the return address: the outermost frame) */
    CT_CFI_AT_CFA,    /* saved at CFA + off */
    CT_CFI_AT_REG,    /* saved at reg + off (an expression DW_OP_bregN off) */
    CT_CFI_OTHER,     /* anything else: not followed */
};

/* How the CFA (the caller's stack pointer) is found. */
enum {
    CT_CFA_REG,   /* reg + off */
    CT_CFA_DEREF, /* the word at reg + off (DW_OP_bregN off; DW_OP_deref) */
    CT_CFA_OTHER, /* another expression: not followed */
};

struct ct_cfi_rule {
    uint8_t how, reg;
    int64_t off;
};

/* The unwinding row in effect at an address: the CFA, and the rules of the
 * two registers a walk follows besides the stack pointer. */
struct ct_cfi_row {
    uint8_t cfa_how, cfa_reg;
    int64_t cfa_off;
    struct ct_cfi_rule ra, fp;
    bool signal_frame; /* the CIE's 'S': a signal handler's return trampoline */
};

/* The row in effect at addr (a return address minus one) in module m:
 * 0, or -1 when there is no FDE for it or its CFI cannot be read. */
CT_INTERNAL int ct_cfi_row_at(const struct ct_code_module *m, uintptr_t addr,
                              struct ct_cfi_row *row);
/* Of up to `samples` functions, in runs of neighbours spread over m's
 * FDEs, how many ever define the CFA from the frame pointer (a function
 * that keeps one), and how many were looked at (*seen). */
CT_INTERNAL unsigned ct_cfi_fp_functions(const struct ct_code_module *m, unsigned samples,
                                         unsigned *seen);

/* ---- the CPU's part (src/compat/unwind_*.c) ---- */

/* A frame's registers: where the walk is, just after returning into pc. */
struct ct_regs {
    uintptr_t pc, sp, fp;
    bool fp_known;
};

/* A row packed in 64 bits (never 0). Besides rules: */
#define CT_RULE_NOT_CODE 0 /* not in any executable segment: not a frame */
#define CT_RULE_END 1      /* a frame, the last one (outermost, or not followable) */

/* DWARF register numbers of the stack pointer, the frame pointer and the
 * return address column; whether this CPU has an unwinder at all. */
CT_INTERNAL extern const struct ct_unwind_arch {
    bool supported;
    uint8_t sp, fp, ra;
} ct_unwind_arch;
CT_INTERNAL uint64_t ct_arch_pack(const struct ct_cfi_row *row);

/* The stack words a walk read, where a caller wants to know what its
 * result depends on (stack.c's memory of a stack's outermost frames). */
#define CT_READ_LOG_WORDS 8
struct ct_read_log {
    uintptr_t addr[CT_READ_LOG_WORDS], val[CT_READ_LOG_WORDS];
    unsigned n;
    bool overflow;
};

static inline void ct_read_log_add(struct ct_read_log *log, uintptr_t addr, uintptr_t val)
{
    if (!log)
        return;
    if (log->n == CT_READ_LOG_WORDS) {
        log->overflow = true;
        return;
    }
    log->addr[log->n] = addr;
    log->val[log->n++] = val;
}

/* ct_arch_rule_is_fp(rule): whether a rule is a frame-pointer frame's (its
 * frame record is what a frame-pointer walk reads); ct_arch_step(rule, r,
 * lo, hi, log): steps from r to the caller, reading only words inside
 * [lo, hi), noted in log if not NULL; false when the rule cannot be
 * followed or leads outside. Inline, from the CPU's directory. */
/* A word of a thread's stack, at an address a walk has bounded to it.
 * Exempt from AddressSanitizer: an instrumented program keeps redzones in
 * its frames, memory a walk may read all the same (a word of a frame that
 * has since returned, checked against what it held). */
__attribute__((no_sanitize("address"))) static inline uintptr_t ct_stack_word(uintptr_t addr)
{
    return *(const uintptr_t *)addr;
}

#include "unwind_arch.h"

/* ---- the walk (unwind.c) ---- */

CT_INTERNAL int ct_unwind_init(void);

/* The rule cache (unwind.c): 2^12 slots, each a sequence lock. */
#define CT_RULE_SLOTS_LOG2 12
struct ct_rule_slot {
    _Atomic uint32_t seq; /* odd while being written */
    _Atomic uint32_t epoch;
    _Atomic uintptr_t pc;
    _Atomic uint64_t rule;
};
CT_INTERNAL extern struct ct_rule_slot *ct_rule_slots;
CT_INTERNAL uint64_t ct_unwind_rule_miss(const struct ct_code_map *map, uintptr_t pc);

/* The rule for return address pc, or CT_RULE_NOT_CODE: a hash lookup when
 * it is cached. */
static inline uint64_t ct_unwind_rule(const struct ct_code_map *map, uintptr_t pc)
{
    struct ct_rule_slot *s = ct_rule_slots;
    if (CT_LIKELY(s != NULL)) {
        s += ((uint64_t)pc * 0x9E3779B97F4A7C15u) >> (64 - CT_RULE_SLOTS_LOG2);
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        uintptr_t at = atomic_load_explicit(&s->pc, memory_order_relaxed);
        uint64_t rule = atomic_load_explicit(&s->rule, memory_order_relaxed);
        uint32_t epoch = atomic_load_explicit(&s->epoch, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (CT_LIKELY(at == pc && epoch == map->epoch && !(seq & 1) &&
                      atomic_load_explicit(&s->seq, memory_order_relaxed) == seq))
            return rule;
    }
    return ct_unwind_rule_miss(map, pc);
}

/* Where a walk puts its frames: the first `skip` frames and then leading
 * frames inside [self_lo, self_hi) are left out. */
struct ct_frames {
    uintptr_t *pc;
    unsigned n, max, skip;
    uintptr_t self_lo, self_hi;
};

static inline bool ct_frames_push(struct ct_frames *f, uintptr_t pc)
{
    if (f->skip)
        f->skip--;
    else if (f->n > 0 || pc < f->self_lo || pc >= f->self_hi)
        f->pc[f->n++] = pc;
    return f->n < f->max;
}

/* Walks from r (just returned into r.pc, which is not yet in f) with the
 * call frame information, every read inside [lo, hi) (noted in log, if not
 * NULL). The walk depends only on those words, the map's epoch and r. */
CT_INTERNAL void ct_unwind_walk(const struct ct_code_map *map, struct ct_regs r,
                                struct ct_frames *f, uintptr_t lo, uintptr_t hi,
                                struct ct_read_log *log);
/* Empties the cache (for benchmarks: the cost of a walk that finds
 * nothing in it). Not while other threads walk. */
CT_INTERNAL void ct_unwind_forget(void);
/* Clears the cache's state that a thread in the middle of filling it left
 * at a fork (in the child). */
CT_INTERNAL void ct_unwind_after_fork_child(void);

#endif
