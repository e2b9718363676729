/*
 * cfi.c - reads a loaded object's call frame information (.eh_frame, found
 * through .eh_frame_hdr) to tell how to find a frame's caller: the row of
 * the CFA table in effect at an address (DWARF 5, section 6.4; the .eh_frame
 * variant of the Linux Standard Base: CIE id 0, augmentations "zRLPS").
 *
 * Runs inside traced programs, in signal handlers too: no allocation, no
 * lock, and every byte read is checked against the loaded segment that
 * holds the table it belongs to, so a damaged or unexpected table gives -1,
 * never a fault. Only what a walk needs is kept of a row: the CFA, and the
 * rules of the return address and of the frame pointer.
 */
#include <string.h>

#include "unwind.h"

/* Bytes of one table, bounded. */
struct cursor {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t get_bytes(struct cursor *c, unsigned n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)c->p[i] << (8 * i);
    c->p += n;
    return v;
}

static uint64_t get_uleb(struct cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint64_t b = get_bytes(c, 1);
        v |= (b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static int64_t get_sleb(struct cursor *c)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint64_t b;
    do {
        if (shift >= 64) {
            c->bad = true;
            return 0;
        }
        b = get_bytes(c, 1);
        v |= (b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

static void skip(struct cursor *c, uint64_t n)
{
    if (c->bad || (uint64_t)(c->end - c->p) < n)
        c->bad = true;
    else
        c->p += n;
}

/* DW_EH_PE_* pointer encodings: the low nibble is the format, bits 4-6 how
 * it applies, bit 7 an indirection (only personality routines use it, and
 * their values are skipped, never followed). */
enum {
    PE_ABSPTR = 0x00, PE_ULEB = 0x01, PE_UDATA2 = 0x02, PE_UDATA4 = 0x03, PE_UDATA8 = 0x04,
    PE_SLEB = 0x09, PE_SDATA2 = 0x0a, PE_SDATA4 = 0x0b, PE_SDATA8 = 0x0c,
    PE_PCREL = 0x10, PE_DATAREL = 0x30, PE_OMIT = 0xff,
};

/* A pointer encoded with enc; datarel is the base of DW_EH_PE_datarel
 * (.eh_frame_hdr's start). Encodings that need a base we do not have
 * (textrel, funcrel, aligned) make the cursor bad. */
static uintptr_t get_encoded(struct cursor *c, uint8_t enc, uintptr_t datarel)
{
    if (enc == PE_OMIT)
        return 0;
    uintptr_t at = (uintptr_t)c->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR: v = get_bytes(c, sizeof(uintptr_t)); break;
    case PE_ULEB: v = get_uleb(c); break;
    case PE_UDATA2: v = get_bytes(c, 2); break;
    case PE_UDATA4: v = get_bytes(c, 4); break;
    case PE_UDATA8: v = get_bytes(c, 8); break;
    case PE_SLEB: v = (uint64_t)get_sleb(c); break;
    case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)get_bytes(c, 2); break;
    case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)get_bytes(c, 4); break;
    case PE_SDATA8: v = get_bytes(c, 8); break;
    default: c->bad = true; return 0;
    }
    switch (enc & 0x70) {
    case 0: break;
    case PE_PCREL: v += at; break;
    case PE_DATAREL: v += datarel; break;
    default: c->bad = true; return 0;
    }
    return (uintptr_t)v;
}

/* ---- CIE and FDE ---- */

struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    bool augmented, signal_frame;
    const uint8_t *insns, *end;
};

/* The entry at p: its length and where its content starts (after the
 * length); false when it does not fit in [lo, hi). */
static bool entry_at(const uint8_t *p, uintptr_t lo, uintptr_t hi, struct cursor *out)
{
    if ((uintptr_t)p < lo || (uintptr_t)p >= hi)
        return false;
    struct cursor c = {p, (const uint8_t *)hi, false};
    uint64_t len = get_bytes(&c, 4);
    if (len == 0xffffffffu)
        len = get_bytes(&c, 8);
    if (c.bad || len == 0 || len > (uint64_t)(c.end - c.p))
        return false;
    *out = (struct cursor){c.p, c.p + len, false};
    return true;
}

static bool parse_cie(const uint8_t *p, const struct ct_code_module *m, struct cie *cie)
{
    struct cursor c;
    if (!entry_at(p, m->frame_lo, m->frame_hi, &c) || get_bytes(&c, 4) != 0)
        return false;
    uint64_t version = get_bytes(&c, 1);
    if (version != 1 && version != 3)
        return false;
    const char *aug = (const char *)c.p;
    size_t aug_len = strnlen(aug, (size_t)(c.end - c.p));
    skip(&c, aug_len + 1); /* bad when the string has no end inside */
    if (c.bad)
        return false;
    *cie = (struct cie){.fde_enc = PE_ABSPTR};
    if (aug_len >= 2 && aug[0] == 'e' && aug[1] == 'h') /* an old GCC's: a pointer first */
        skip(&c, sizeof(uintptr_t));
    cie->code_align = get_uleb(&c);
    cie->data_align = get_sleb(&c);
    cie->ra_reg = version == 1 ? get_bytes(&c, 1) : get_uleb(&c);
    if (aug[0] == 'z') {
        cie->augmented = true;
        uint64_t len = get_uleb(&c);
        struct cursor a = {c.p, c.p + len, c.bad || len > (uint64_t)(c.end - c.p)};
        for (size_t i = 1; i < aug_len && !a.bad; i++) {
            switch (aug[i]) {
            case 'R': cie->fde_enc = (uint8_t)get_bytes(&a, 1); break;
            case 'L': get_bytes(&a, 1); break;
            case 'P': get_encoded(&a, (uint8_t)(get_bytes(&a, 1) & 0x7f), 0); break;
            case 'S': cie->signal_frame = true; break;
            case 'B': break; /* AArch64's pointer-authentication key */
            default: return false;
            }
        }
        if (a.bad)
            return false;
        skip(&c, len);
    } else if (aug[0]) {
        return false;
    }
    cie->insns = c.p;
    cie->end = c.end;
    return !c.bad && cie->code_align != 0;
}

/* ---- running a CFA program ---- */

struct state {
    struct ct_cfi_row row;
};

#define STATE_STACK 8

struct program {
    const struct cie *cie;
    const struct state *initial; /* the CIE's, for DW_CFA_restore */
    uintptr_t target;            /* the address whose row is wanted */
    uintptr_t loc;
    bool saw_fp_cfa;             /* some row defines the CFA from the frame pointer */
};

/* A factored offset times the CIE's data alignment, wrapping rather than
 * overflowing on a damaged table's values. */
static int64_t scaled(uint64_t factored, int64_t align)
{
    return (int64_t)(factored * (uint64_t)align);
}

static void set_rule(struct state *s, uint64_t reg, struct ct_cfi_rule rule)
{
    if (reg == ct_unwind_arch.ra)
        s->row.ra = rule;
    else if (reg == ct_unwind_arch.fp)
        s->row.fp = rule;
}

static void restore_rule(struct state *s, const struct state *initial, uint64_t reg)
{
    if (!initial) /* in the CIE's own program: nothing to go back to */
        return;
    if (reg == ct_unwind_arch.ra)
        s->row.ra = initial->row.ra;
    else if (reg == ct_unwind_arch.fp)
        s->row.fp = initial->row.fp;
}

/* The expressions a compiler emits for what a walk follows: DW_OP_bregN
 * off, with DW_OP_deref after it for a CFA held in memory (GCC's stack
 * realignment through a DRAP register). Anything else is CT_CFI_OTHER. */
static bool simple_expression(struct cursor *c, uint64_t len, uint8_t *reg, int64_t *off,
                              bool *deref)
{
    struct cursor e = {c->p, c->p + len, len > (uint64_t)(c->end - c->p)};
    skip(c, len);
    uint64_t op = get_bytes(&e, 1);
    if (e.bad || op < 0x70 || op > 0x8f) /* DW_OP_breg0..31 */
        return false;
    *reg = (uint8_t)(op - 0x70);
    *off = get_sleb(&e);
    *deref = false;
    if (e.p < e.end) {
        *deref = get_bytes(&e, 1) == 0x06; /* DW_OP_deref */
        if (!*deref)
            return false;
    }
    return !e.bad && e.p == e.end;
}

static void note_cfa(struct program *pg, const struct state *s)
{
    if (s->row.cfa_how != CT_CFA_OTHER && s->row.cfa_reg == ct_unwind_arch.fp)
        pg->saw_fp_cfa = true;
}

/* Runs insns until the row for pg->target is complete: 1 done (the
 * program ended or the next row starts past the target), -1 unreadable. */
static int run(struct program *pg, const uint8_t *insns, const uint8_t *end, struct state *s)
{
    struct cursor c = {insns, end, false};
    struct state stack[STATE_STACK];
    unsigned depth = 0;
    const struct cie *cie = pg->cie;
    while (c.p < c.end && !c.bad) {
        uint8_t op = (uint8_t)get_bytes(&c, 1);
        uint64_t reg, delta = 0;
        bool advance = false;
        switch (op >> 6) {
        case 1: /* DW_CFA_advance_loc */
            delta = op & 0x3f;
            advance = true;
            break;
        case 2: /* DW_CFA_offset */
            set_rule(s, op & 0x3f, (struct ct_cfi_rule){CT_CFI_AT_CFA, 0,
                                                        scaled(get_uleb(&c), cie->data_align)});
            continue;
        case 3: /* DW_CFA_restore */
            restore_rule(s, pg->initial, op & 0x3f);
            continue;
        }
        if (!advance) {
            switch (op) {
            case 0x00: /* DW_CFA_nop */
                break;
            case 0x01: { /* DW_CFA_set_loc */
                uintptr_t to = get_encoded(&c, cie->fde_enc, 0);
                if (to < pg->loc)
                    return -1;
                delta = (to - pg->loc) / cie->code_align;
                advance = true;
                break;
            }
            case 0x02: delta = get_bytes(&c, 1); advance = true; break;
            case 0x03: delta = get_bytes(&c, 2); advance = true; break;
            case 0x04: delta = get_bytes(&c, 4); advance = true; break;
            case 0x05: /* DW_CFA_offset_extended */
                reg = get_uleb(&c);
                set_rule(s, reg, (struct ct_cfi_rule){CT_CFI_AT_CFA, 0,
                                                      scaled(get_uleb(&c), cie->data_align)});
                break;
            case 0x06: /* DW_CFA_restore_extended */
                restore_rule(s, pg->initial, get_uleb(&c));
                break;
            case 0x07: /* DW_CFA_undefined */
                set_rule(s, get_uleb(&c), (struct ct_cfi_rule){CT_CFI_UNDEFINED, 0, 0});
                break;
            case 0x08: /* DW_CFA_same_value */
                set_rule(s, get_uleb(&c), (struct ct_cfi_rule){CT_CFI_SAME, 0, 0});
                break;
            case 0x09: /* DW_CFA_register: in another register, not followed */
                reg = get_uleb(&c);
                get_uleb(&c);
                set_rule(s, reg, (struct ct_cfi_rule){CT_CFI_OTHER, 0, 0});
                break;
            case 0x0a: /* DW_CFA_remember_state */
                if (depth == STATE_STACK)
                    return -1;
                stack[depth++] = *s;
                break;
            case 0x0b: /* DW_CFA_restore_state: the CFA too, as GCC and LLVM do */
                if (depth == 0)
                    return -1;
                *s = stack[--depth];
                break;
            case 0x0c: /* DW_CFA_def_cfa */
                s->row.cfa_how = CT_CFA_REG;
                s->row.cfa_reg = (uint8_t)get_uleb(&c);
                s->row.cfa_off = (int64_t)get_uleb(&c);
                note_cfa(pg, s);
                break;
            case 0x0d: /* DW_CFA_def_cfa_register */
                s->row.cfa_how = CT_CFA_REG;
                s->row.cfa_reg = (uint8_t)get_uleb(&c);
                note_cfa(pg, s);
                break;
            case 0x0e: /* DW_CFA_def_cfa_offset */
                s->row.cfa_off = (int64_t)get_uleb(&c);
                break;
            case 0x0f: { /* DW_CFA_def_cfa_expression */
                uint8_t r;
                int64_t off;
                bool deref;
                uint64_t len = get_uleb(&c);
                if (simple_expression(&c, len, &r, &off, &deref) && deref) {
                    s->row.cfa_how = CT_CFA_DEREF;
                    s->row.cfa_reg = r;
                    s->row.cfa_off = off;
                    note_cfa(pg, s);
                } else {
                    s->row.cfa_how = CT_CFA_OTHER;
                }
                break;
            }
            case 0x10: { /* DW_CFA_expression: saved at the expression's address */
                uint8_t r;
                int64_t off;
                bool deref;
                reg = get_uleb(&c);
                uint64_t len = get_uleb(&c);
                if (simple_expression(&c, len, &r, &off, &deref) && !deref)
                    set_rule(s, reg, (struct ct_cfi_rule){CT_CFI_AT_REG, r, off});
                else
                    set_rule(s, reg, (struct ct_cfi_rule){CT_CFI_OTHER, 0, 0});
                break;
            }
            case 0x11: /* DW_CFA_offset_extended_sf */
                reg = get_uleb(&c);
                set_rule(s, reg,
                         (struct ct_cfi_rule){CT_CFI_AT_CFA, 0,
                                              scaled((uint64_t)get_sleb(&c), cie->data_align)});
                break;
            case 0x12: /* DW_CFA_def_cfa_sf */
                s->row.cfa_how = CT_CFA_REG;
                s->row.cfa_reg = (uint8_t)get_uleb(&c);
                s->row.cfa_off = scaled((uint64_t)get_sleb(&c), cie->data_align);
                note_cfa(pg, s);
                break;
            case 0x13: /* DW_CFA_def_cfa_offset_sf */
                s->row.cfa_off = scaled((uint64_t)get_sleb(&c), cie->data_align);
                break;
            case 0x14: /* DW_CFA_val_offset: the value CFA + off, not followed */
            case 0x15: /* DW_CFA_val_offset_sf */
                reg = get_uleb(&c);
                op == 0x14 ? (void)get_uleb(&c) : (void)get_sleb(&c);
                set_rule(s, reg, (struct ct_cfi_rule){CT_CFI_OTHER, 0, 0});
                break;
            case 0x16: /* DW_CFA_val_expression */
                reg = get_uleb(&c);
                skip(&c, get_uleb(&c));
                set_rule(s, reg, (struct ct_cfi_rule){CT_CFI_OTHER, 0, 0});
                break;
            case 0x2e: /* DW_CFA_GNU_args_size */
                get_uleb(&c);
                break;
            case 0x2f: /* DW_CFA_GNU_negative_offset_extended */
                reg = get_uleb(&c);
                set_rule(s, reg, (struct ct_cfi_rule){CT_CFI_AT_CFA, 0,
                                                      scaled(-get_uleb(&c), cie->data_align)});
                break;
            default:
                return -1;
            }
        }
        if (advance) {
            uint64_t step = delta * cie->code_align;
            if (step > pg->target - pg->loc)
                return 1; /* the next row starts past the target */
            pg->loc += step;
        }
    }
    return c.bad ? -1 : 1;
}

/* ---- finding the FDE ---- */

/* .eh_frame_hdr: version 1, three encodings, the .eh_frame pointer, the
 * count, then the sorted table of (initial location, FDE address) pairs,
 * both as 4-byte signed offsets from the header's start (encoding 0x3b,
 * DW_EH_PE_datarel | DW_EH_PE_sdata4, which every linker writes). */
struct hdr_table {
    const uint8_t *entries;
    uint64_t count;
};

static bool hdr_table(const struct ct_code_module *m, struct hdr_table *t)
{
    if (!m->eh_hdr)
        return false;
    uintptr_t base = (uintptr_t)m->eh_hdr;
    struct cursor c = {m->eh_hdr, (const uint8_t *)m->hdr_hi, false};
    uint64_t version = get_bytes(&c, 1);
    uint8_t ptr_enc = (uint8_t)get_bytes(&c, 1);
    uint8_t count_enc = (uint8_t)get_bytes(&c, 1);
    uint8_t table_enc = (uint8_t)get_bytes(&c, 1);
    get_encoded(&c, ptr_enc, base);
    uint64_t count = get_encoded(&c, count_enc, base);
    if (c.bad || version != 1 || table_enc != (PE_DATAREL | PE_SDATA4) ||
        count > (uint64_t)(c.end - c.p) / 8)
        return false;
    t->entries = c.p;
    t->count = count;
    return true;
}

static int32_t table_word(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    return (int32_t)v;
}

/* Runs FDE `fde` (its table entry's address) up to target: 0 and the row,
 * or -1. `covers` says whether target must lie inside the FDE's range. */
static int run_fde(const struct ct_code_module *m, const uint8_t *fde, uintptr_t target,
                   bool covers, struct program *pg, struct state *s)
{
    struct cursor c;
    if (!entry_at(fde, m->frame_lo, m->frame_hi, &c))
        return -1;
    /* The CIE pointer: the distance back from this field to the CIE. */
    uintptr_t id_at = (uintptr_t)c.p;
    uint32_t cie_off = (uint32_t)get_bytes(&c, 4);
    if (c.bad || cie_off == 0 || cie_off > id_at)
        return -1;
    struct cie cie;
    if (!parse_cie((const uint8_t *)(id_at - cie_off), m, &cie))
        return -1;
    uintptr_t begin = get_encoded(&c, cie.fde_enc, 0);
    uintptr_t range = get_encoded(&c, cie.fde_enc & 0x0f, 0);
    if (cie.augmented)
        skip(&c, get_uleb(&c));
    if (c.bad || (covers && (target < begin || target - begin >= range)))
        return -1;
    if (!covers)
        target = begin + (range ? range - 1 : 0);
    *s = (struct state){.row = {.cfa_how = CT_CFA_OTHER,
                                .ra = {CT_CFI_SAME, 0, 0},
                                .fp = {CT_CFI_SAME, 0, 0},
                                .signal_frame = cie.signal_frame}};
    *pg = (struct program){.cie = &cie, .target = target, .loc = begin};
    if (run(pg, cie.insns, cie.end, s) < 0)
        return -1;
    struct state initial = *s;
    pg->initial = &initial;
    pg->loc = begin;
    int rc = run(pg, c.p, c.end, s);
    pg->cie = NULL;
    pg->initial = NULL;
    if (rc < 0)
        return -1;
    if (cie.ra_reg != ct_unwind_arch.ra)
        s->row.ra = (struct ct_cfi_rule){CT_CFI_OTHER, 0, 0};
    return 0;
}

/* m, with the segment that holds .eh_frame (from .eh_frame_hdr's second
 * field) in frame_lo and frame_hi; false when none of its segments does. */
static bool with_frames(const struct ct_code_module *from, struct ct_code_module *m)
{
    *m = *from;
    if (!m->eh_hdr)
        return false;
    struct cursor c = {m->eh_hdr, (const uint8_t *)m->hdr_hi, false};
    uint64_t version = get_bytes(&c, 1);
    uint8_t ptr_enc = (uint8_t)get_bytes(&c, 1);
    get_bytes(&c, 2);
    /* pcrel | sdata4, what linkers write, or datarel, from the header */
    uintptr_t frame = ptr_enc == (PE_PCREL | PE_SDATA4) || ptr_enc == (PE_DATAREL | PE_SDATA4)
                          ? get_encoded(&c, ptr_enc, (uintptr_t)m->eh_hdr)
                          : 0;
    if (c.bad || version != 1 || !frame)
        return false;
    for (uint32_t i = 0; i < m->nsegments; i++)
        if (frame >= m->segments[i].lo && frame < m->segments[i].hi) {
            m->frame_lo = m->segments[i].lo;
            m->frame_hi = m->segments[i].hi;
            return true;
        }
    return false;
}

int ct_cfi_row_at(const struct ct_code_module *from, uintptr_t addr, struct ct_cfi_row *row)
{
    struct ct_code_module mod, *m = &mod;
    struct hdr_table t;
    if (!with_frames(from, m) || !hdr_table(m, &t) || t.count == 0)
        return -1;
    intptr_t rel = (intptr_t)(addr - (uintptr_t)m->eh_hdr);
    /* The last entry whose initial location is at or before addr. */
    uint64_t lo = 0, hi = t.count;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((intptr_t)table_word(t.entries + mid * 8) <= rel)
            lo = mid;
        else
            hi = mid;
    }
    if ((intptr_t)table_word(t.entries + lo * 8) > rel)
        return -1;
    const uint8_t *fde = m->eh_hdr + table_word(t.entries + lo * 8 + 4);
    struct program pg;
    struct state s;
    if (run_fde(m, fde, addr, true, &pg, &s) < 0)
        return -1;
    *row = s.row;
    return 0;
}

unsigned ct_cfi_fp_functions(const struct ct_code_module *from, unsigned samples,
                             unsigned *seen)
{
    struct ct_code_module mod, *m = &mod;
    struct hdr_table t;
    *seen = 0;
    if (!with_frames(from, m) || !hdr_table(m, &t) || t.count == 0)
        return 0;
    unsigned with_fp = 0;
    uint64_t n = t.count < samples ? t.count : samples;
    /* In runs of FP_RUN neighbours, the runs spread over the table: each
     * run reads a page or two of the table and of .eh_frame, where samples
     * spread one by one fault a page each (cc1's tables: 0.7 ms a process
     * for 256 samples, most of its session's start). */
    enum { FP_RUN = 8 };
    uint64_t runs = (n + FP_RUN - 1) / FP_RUN;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = n == t.count ? i : (i / FP_RUN) * t.count / runs + i % FP_RUN;
        if (at >= t.count)
            break;
        const uint8_t *e = t.entries + at * 8;
        struct program pg;
        struct state s;
        if (run_fde(m, m->eh_hdr + table_word(e + 4), 0, false, &pg, &s) < 0)
            continue;
        (*seen)++;
        with_fp += pg.saw_fp_cfa;
    }
    return with_fp;
}
