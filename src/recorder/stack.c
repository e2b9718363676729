/*
 * stack.c - the stacks of events: walked along frame pointers where they
 * lead, with call frame information (unwind.h) where they do not, cached
 * per thread and generation, and defined in the thread's batch.
 *
 * Annotations keep the frame-pointer walk: a dozen loads, a hash and a
 * cache hit. What that walk found is trusted only as far as it was checked
 * the first time the thread met it in the generation: each frame must be a
 * return address inside an executable segment, into a function whose
 * frame record is what the walk read (its CFA two words above its frame
 * pointer). The first frame into a function without one (Debian's libc,
 * a program built without frame pointers) is the last the walk can vouch
 * for; the rest of the stack is found from there with call frame
 * information, and the entry says so, so that later hits do the same.
 * Blocking events, rarer, are always walked with call frame information.
 *
 * Cache entries: the walk's raw frames hashed with RAW_SEED (an exact walk:
 * the stack's id; else CT_STACK_PARTIAL and how many frames are exact),
 * and the stack itself hashed plainly (its id), which is the stack's
 * identity in the intern table.
 */
#include "event.h"
#include "unwind.h"

#include <link.h>

#define RAW_SEED 0x5bd1e9955bd1e995u
/* An entry for a walk that needs call frame information after its first
 * (id & 0xff) frames. Ids stay far below this bit (the intern table). */
#define CT_STACK_PARTIAL 0x80000000u
/* Every this many walks with call frame information one is timed. */
#define TIME_ONE_IN 16

/* The text of the shared library this code is in, whose frames never start
 * a stack (wrappers, slow paths: however many there are). Empty when the
 * recorder is linked into the program itself. */
static uintptr_t self_lo, self_hi;

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t here = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && here >= lo && here < lo + ph->p_memsz) {
            if (info->dlpi_name && info->dlpi_name[0]) { /* not the executable */
                self_lo = lo;
                self_hi = lo + ph->p_memsz;
            }
            return 1;
        }
    }
    return 0;
}

void ct_stack_init(void)
{
    if (!self_hi)
        dl_iterate_phdr(find_self, (void *)(uintptr_t)ct_stack_init);
    ct_code_map_init();
}

/* A frame-pointer walk: each frame's return address and the frame record
 * it was read from. */
struct fp_walk {
    uintptr_t pc[CT_MAX_FRAMES];
    uintptr_t record[CT_MAX_FRAMES];
    unsigned n;
};

/* Walks the frame-pointer chain from the frame record at fp (the calling
 * function's own), skipping `skip` frames and then leading frames in this
 * library. Every record must lie above the previous one and inside this
 * thread's stack, between the current frame and the stack's top, all of
 * which is mapped: a broken chain ends the walk early and never faults.
 * Running on another stack (a signal handler's alternate stack) gives no
 * frames. */
__attribute__((always_inline)) static inline unsigned walk_fp(const struct ct_thread *t,
                                                              uintptr_t fp, struct fp_walk *w,
                                                              unsigned max, unsigned skip)
{
    uintptr_t lo = fp, hi = t->stack_hi;
    unsigned n = 0;
    if (fp < t->stack_lo || fp >= hi)
        return w->n = 0;
    while (n < max) {
        if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
            break;
        uintptr_t next = ((const uintptr_t *)fp)[0];
        uintptr_t ret = ((const uintptr_t *)fp)[1];
        if (ret < 4096)
            break;
        if (skip) {
            skip--;
        } else if (n > 0 || ret < self_lo || ret >= self_hi) {
            w->record[n] = fp;
            w->pc[n++] = ret;
        }
        if (next <= fp)
            break;
        fp = next;
    }
    return w->n = n;
}

static inline uint64_t hash_frames(const uintptr_t *pcs, unsigned n)
{
    uint64_t h = n;
    for (unsigned i = 0; i < n; i++) {
        h = (h ^ pcs[i]) * 0x9E3779B97F4A7C15u;
        h ^= h >> 31;
    }
    return h;
}

static inline struct ct_stack_cache_entry *entry_for(struct ct_thread *t, uint64_t hash)
{
    return &t->stacks[hash & (CT_STACK_CACHE - 1)];
}

static inline bool entry_holds(const struct ct_thread *t, const struct ct_stack_cache_entry *e,
                               uint64_t hash)
{
    return e->hash == hash && e->gen == t->gen;
}

static void remember(struct ct_thread *t, struct ct_stack_cache_entry *e, uint64_t hash,
                     uint32_t id)
{
    e->hash = hash;
    e->id = id;
    e->gen = t->gen;
}

/* The id of the stack pcs[0..n), defining it in the thread's batch the
 * first time it appears there in this generation; 0 for none. */
static uint32_t stack_id(struct ct_thread *t, struct ct_slot *s, uint64_t ts, const uintptr_t *pcs,
                         unsigned n)
{
    if (n == 0)
        return 0;
    uint64_t hash = hash_frames(pcs, n);
    struct ct_stack_cache_entry *e = entry_for(t, hash);
    if (entry_holds(t, e, hash))
        return e->id;
    uint32_t id = ct_intern(&ct_stacks, hash);
    if (id == 0 || !ct_room(t, s, ts, (n + 3) * CT_LEB_MAX + CT_EVENT_RESERVE))
        return 0;
    uint8_t *p = s->pos;
    *p++ = CT_EV_STACK;
    p = ct_put_uleb(p, id);
    p = ct_put_uleb(p, n);
    uintptr_t prev = 0;
    for (unsigned i = 0; i < n; i++) {
        p = ct_put_sleb(p, (int64_t)(pcs[i] - prev));
        prev = pcs[i];
    }
    s->pos = p;
    remember(t, e, hash, id);
    return id;
}

/* Walks with call frame information account for their count and, one in
 * TIME_ONE_IN, their time (scaled to all of them): what `ctrace run`
 * reports for a program without frame pointers. */
static inline uint64_t cfi_begin(struct ct_thread *t)
{
    uint32_t n = atomic_load_explicit(&t->cfi_walks, memory_order_relaxed) + 1;
    atomic_store_explicit(&t->cfi_walks, n, memory_order_relaxed);
    return n % TIME_ONE_IN == 0 ? ct_now() : 0;
}

static inline void cfi_end(struct ct_thread *t, uint64_t started)
{
    if (!started)
        return;
    uint64_t units = atomic_load_explicit(&t->cfi_units, memory_order_relaxed);
    atomic_store_explicit(&t->cfi_units, units + (ct_now() - started) * TIME_ONE_IN,
                          memory_order_relaxed);
}

/* How many of a frame-pointer walk's frames are exact, checking each
 * against the rules of the functions they return into: *more says whether
 * the stack goes on past them (into a function without a frame record). */
static unsigned exact_frames(const struct ct_code_map *map, const struct fp_walk *w, bool *more)
{
    *more = false;
    for (unsigned j = 0; j < w->n; j++) {
        uint64_t rule = ct_unwind_rule(map, w->pc[j]);
        if (rule == CT_RULE_NOT_CODE)
            return j; /* garbage, read from a record that was not one */
        if (!ct_unwind_arch.supported)
            continue; /* no rules here: the chain is all there is */
        if (!ct_arch_rule_is_fp(rule)) {
            *more = rule != CT_RULE_END;
            return j + 1;
        }
    }
    return w->n;
}

/* Goes on from the walk's frame `last` (exact, into a function without a
 * frame record) with call frame information. Its caller's registers come
 * from the record that frame was read from: the stack pointer just above
 * it, the frame pointer saved in it. */
static void continue_walk(const struct ct_thread *t, const struct ct_code_map *map,
                          const struct fp_walk *w, unsigned last, struct ct_frames *f)
{
    uintptr_t record = w->record[last];
    struct ct_regs r = {w->pc[last], record + 2 * sizeof(uintptr_t),
                        ((const uintptr_t *)record)[0], true};
    uint64_t rule = ct_unwind_rule(map, r.pc);
    if (ct_arch_step(rule, &r, record, t->stack_hi) && r.pc)
        ct_unwind_walk(map, r, f, record, t->stack_hi);
}

/* A frame-pointer walk that the cache could not vouch for: checks it (or
 * takes the entry's word for how much of it is exact), completes it, and
 * returns the stack's id. */
__attribute__((noinline)) static uint32_t fp_slow(struct ct_thread *t, struct ct_slot *s,
                                                  uint64_t ts, const struct fp_walk *w,
                                                  uint64_t raw, struct ct_stack_cache_entry *e)
{
    const struct ct_code_map *map = ct_code_map_now();
    if (!map)
        return stack_id(t, s, ts, w->pc, w->n);
    unsigned exact;
    bool more;
    if (entry_holds(t, e, raw)) {
        if (!(e->id & CT_STACK_PARTIAL))
            return e->id;
        exact = e->id & 0xff;
        more = true;
    } else {
        exact = exact_frames(map, w, &more);
    }
    uintptr_t pcs[CT_MAX_FRAMES];
    for (unsigned i = 0; i < exact; i++)
        pcs[i] = w->pc[i];
    struct ct_frames f = {pcs, exact, ct_g.max_depth, 0, 0, 0};
    if (more && exact < f.max) {
        uint64_t started = cfi_begin(t);
        continue_walk(t, map, w, exact - 1, &f);
        uint32_t id = stack_id(t, s, ts, pcs, f.n);
        cfi_end(t, started);
        remember(t, e, raw, CT_STACK_PARTIAL | exact);
        return id;
    }
    uint32_t id = stack_id(t, s, ts, pcs, f.n);
    remember(t, e, raw, id);
    return id;
}

uint32_t ct_stack_ref(struct ct_thread *t, struct ct_slot *s, uint64_t ts, unsigned skip)
{
    struct fp_walk w;
    unsigned n = walk_fp(t, (uintptr_t)__builtin_frame_address(0), &w, ct_g.max_depth, skip);
    if (n == 0)
        return 0;
    uint64_t raw = hash_frames(w.pc, n) ^ RAW_SEED;
    struct ct_stack_cache_entry *e = entry_for(t, raw);
    if (CT_LIKELY(entry_holds(t, e, raw) && !(e->id & CT_STACK_PARTIAL)))
        return e->id;
    return fp_slow(t, s, ts, &w, raw, e);
}

uint32_t ct_stack_ref_unwound(struct ct_thread *t, struct ct_slot *s, uint64_t ts, unsigned skip)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    const struct ct_code_map *map = ct_code_map_now();
    if (!map || !ct_unwind_arch.supported) {
        struct fp_walk w;
        if (walk_fp(t, fp, &w, ct_g.max_depth, skip) == 0)
            return 0;
        uint64_t raw = hash_frames(w.pc, w.n) ^ RAW_SEED;
        return fp_slow(t, s, ts, &w, raw, entry_for(t, raw));
    }
    if (fp < t->stack_lo || fp >= t->stack_hi - 2 * sizeof(uintptr_t))
        return 0;
    uint64_t started = cfi_begin(t);
    /* This function keeps a frame record (libctrace is built with frame
     * pointers): its caller's registers are there. */
    struct ct_regs r = {((const uintptr_t *)fp)[1], fp + 2 * sizeof(uintptr_t),
                        ((const uintptr_t *)fp)[0], true};
    uintptr_t pcs[CT_MAX_FRAMES];
    struct ct_frames f = {pcs, 0, ct_g.max_depth, skip, self_lo, self_hi};
    ct_unwind_walk(map, r, &f, fp, t->stack_hi);
    uint32_t id = stack_id(t, s, ts, pcs, f.n);
    cfi_end(t, started);
    return id;
}
