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

/* A stack's hash: a multiply-xorshift step per frame from a seed, then the
 * count. Sequential, so that the hash of a stack that extends a walk's
 * first frames goes on from the walk's state after them. */
#define HASH_SEED 0x2545F4914F6CDD1Du

static inline uint64_t hash_step(uint64_t h, uintptr_t pc)
{
    h = (h ^ pc) * 0x9E3779B97F4A7C15u;
    return h ^ (h >> 31);
}

static inline uint64_t hash_end(uint64_t h, unsigned n)
{
    h = (h ^ n) * 0x9E3779B97F4A7C15u;
    return h ^ (h >> 29);
}

/* A frame-pointer walk: each frame's return address, the frame record it
 * was read from, and the hash's state before it. */
struct fp_walk {
    uintptr_t pc[CT_MAX_FRAMES];
    uintptr_t record[CT_MAX_FRAMES];
    uint64_t state[CT_MAX_FRAMES];
    uint64_t hash; /* of the whole walk, seeded apart from stacks' own */
    unsigned n;
};

/* Walks the frame-pointer chain from the frame record at fp (the calling
 * function's own), skipping `skip` frames and then leading frames in this
 * library, and hashes it on the way. Every record must lie above the
 * previous one and inside this thread's stack, between the current frame
 * and the stack's top, all of which is mapped: a broken chain ends the walk
 * early and never faults. Running on another stack (a signal handler's
 * alternate stack) gives no frames. */
__attribute__((always_inline)) static inline unsigned walk_fp(const struct ct_thread *t,
                                                              uintptr_t fp, struct fp_walk *w,
                                                              unsigned max, unsigned skip)
{
    uintptr_t lo = fp, hi = t->stack_hi;
    uint64_t h = HASH_SEED;
    unsigned n = 0;
    if (fp < t->stack_lo || fp >= hi)
        return w->n = 0;
    while (n < max) {
        if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
            break;
        uintptr_t next = ct_stack_word(fp);
        uintptr_t ret = ct_stack_word(fp + sizeof(uintptr_t));
        if (ret < 4096)
            break;
        if (skip) {
            skip--;
        } else if (n > 0 || ret < self_lo || ret >= self_hi) {
            w->record[n] = fp;
            w->state[n] = h;
            w->pc[n++] = ret;
            h = hash_step(h, ret);
        }
        if (next <= fp)
            break;
        fp = next;
    }
    w->hash = hash_end(h, n) ^ RAW_SEED;
    return w->n = n;
}

static inline uint64_t hash_frames(const uintptr_t *pcs, unsigned n)
{
    uint64_t h = HASH_SEED;
    for (unsigned i = 0; i < n; i++)
        h = hash_step(h, pcs[i]);
    return hash_end(h, n);
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

/* The id of the stack pcs[0..n), whose hash is `hash`, defining it in
 * the thread's batch the first time it appears there in this generation;
 * 0 for none. */
static uint32_t stack_id(struct ct_thread *t, struct ct_slot *s, uint64_t ts, const uintptr_t *pcs,
                         unsigned n, uint64_t hash)
{
    if (n == 0)
        return 0;
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

/* Walks with call frame information account for their count and their
 * time: every one of a thread's first TIME_ALL, then one in TIME_ONE_IN
 * (counted for all of them). What `ctrace run` reports for a program
 * without frame pointers. A walk that took over TIME_CAP_NS was preempted
 * (a walk costs microseconds at most, page faults included) and is not
 * counted: on a loaded machine one such sample would dwarf the rest. */
#define TIME_ALL 64
#define TIME_ONE_IN 16
#define TIME_CAP_NS 200000

static inline uint64_t cfi_begin(struct ct_thread *t)
{
    uint32_t n = atomic_load_explicit(&t->cfi_walks, memory_order_relaxed) + 1;
    atomic_store_explicit(&t->cfi_walks, n, memory_order_relaxed);
    return n <= TIME_ALL || n % TIME_ONE_IN == 0 ? ct_now() : 0;
}

static inline void cfi_end(struct ct_thread *t, uint64_t started)
{
    if (!started)
        return;
    uint32_t n = atomic_load_explicit(&t->cfi_walks, memory_order_relaxed);
    uint64_t units = atomic_load_explicit(&t->cfi_units, memory_order_relaxed);
    uint64_t took = ct_now() - started;
    if (took > ct_units_from_ns(TIME_CAP_NS))
        return;
    atomic_store_explicit(&t->cfi_units, units + (n <= TIME_ALL ? took : took * TIME_ONE_IN),
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

_Static_assert(CT_TAIL_WORDS == CT_READ_LOG_WORDS, "a tail holds what a walk read");

static bool tail_holds(const struct ct_stack_tail *m, const struct ct_code_map *map,
                       uintptr_t record, uintptr_t pc)
{
    if (m->record != record || m->pc != pc || m->epoch != map->epoch || m->nframes == 0)
        return false;
    /* The words lie between the record, a live frame of this walk, and the
     * stack's top: mapped. */
    for (unsigned i = 0; i < m->nwords; i++)
        if (ct_stack_word(m->addr[i]) != m->val[i])
            return false;
    return true;
}

/* The thread's remembered tail that stands for the rest of a walk whose
 * last exact frame is `last`, or NULL. */
static struct ct_stack_tail *tail_for(struct ct_thread *t, const struct ct_code_map *map,
                                      const struct fp_walk *w, unsigned last)
{
    for (unsigned i = 0; i < 2; i++)
        if (tail_holds(&t->tails[i], map, w->record[last], w->pc[last]))
            return &t->tails[i];
    return NULL;
}

/* Goes on from the walk's frame `last` (exact, into a function without a
 * frame record) with call frame information, into w's arrays. Its caller's
 * registers come from the record that frame was read from: the stack
 * pointer just above it, the frame pointer saved in it. A short walk that
 * ended by itself (the thread's outermost frames, most often) is kept with
 * the words it read, so that the next time a check of those words stands
 * for it; returns that tail, or NULL. */
static struct ct_stack_tail *continue_walk(struct ct_thread *t, const struct ct_code_map *map,
                                           struct fp_walk *w, unsigned last,
                                           struct ct_frames *f)
{
    uintptr_t record = w->record[last], pc = w->pc[last];
    uint64_t started = cfi_begin(t);
    struct ct_read_log log = {.n = 0};
    uintptr_t saved_fp = ct_stack_word(record);
    ct_read_log_add(&log, record, saved_fp);
    struct ct_regs r = {pc, record + 2 * sizeof(uintptr_t), saved_fp, true};
    unsigned from = f->n;
    uint64_t rule = ct_unwind_rule(map, r.pc);
    if (ct_arch_step(rule, &r, record, t->stack_hi, &log) && r.pc)
        ct_unwind_walk(map, r, f, record, t->stack_hi, &log);
    cfi_end(t, started);
    unsigned got = f->n - from;
    if (got == 0 || got > CT_TAIL_FRAMES || f->n == f->max || log.overflow)
        return NULL;
    struct ct_stack_tail *m = &t->tails[t->tail_next++ & 1];
    *m = (struct ct_stack_tail){.record = record, .pc = pc, .epoch = map->epoch,
                                .nframes = (uint8_t)got, .nwords = (uint8_t)log.n};
    for (unsigned j = 0; j < got; j++)
        m->frames[j] = f->pc[from + j];
    for (unsigned j = 0; j < log.n; j++) {
        m->addr[j] = log.addr[j];
        m->val[j] = log.val[j];
    }
    return m;
}

/* A frame-pointer walk that the cache could not vouch for: checks it (or
 * takes the entry's word for how much of it is exact), completes it, and
 * returns the stack's id. */
__attribute__((noinline)) static uint32_t fp_slow(struct ct_thread *t, struct ct_slot *s,
                                                  uint64_t ts, struct fp_walk *w,
                                                  struct ct_stack_cache_entry *e)
{
    const struct ct_code_map *map = ct_code_map_now();
    if (!map)
        return stack_id(t, s, ts, w->pc, w->n, hash_frames(w->pc, w->n));
    unsigned exact;
    bool more;
    if (entry_holds(t, e, w->hash)) {
        if (!(e->id & CT_STACK_PARTIAL))
            return e->id;
        exact = e->id & 0xff;
        more = true;
    } else {
        exact = exact_frames(map, w, &more);
    }
    /* The hash's state after the exact frames, which the stack goes on from. */
    uint64_t h = exact < w->n ? w->state[exact] : hash_step(w->state[exact - 1], w->pc[exact - 1]);
    struct ct_frames f = {w->pc, exact, ct_g.max_depth, 0, 0, 0};
    if (more && exact < f.max) {
        struct ct_stack_tail *m = tail_for(t, map, w, exact - 1);
        struct ct_stack_cache_entry *made = m ? &m->made[w->hash & 3] : NULL;
        if (made && entry_holds(t, made, w->hash) && made->id)
            return made->id; /* this walk and this tail: the stack they made */
        if (m) {
            for (unsigned j = 0; j < m->nframes && f.n < f.max; j++)
                f.pc[f.n++] = m->frames[j];
        } else {
            m = continue_walk(t, map, w, exact - 1, &f);
        }
        for (unsigned i = exact; i < f.n; i++)
            h = hash_step(h, w->pc[i]);
        uint32_t id = stack_id(t, s, ts, w->pc, f.n, hash_end(h, f.n));
        if (m && id)
            remember(t, &m->made[w->hash & 3], w->hash, id);
        /* The entry spares the next walk the check of its exact frames.
         * Not for one (code without frame pointers from its first frame):
         * what follows it, read from records that were not ones, can
         * differ every time, and such entries would push out the rest. */
        if (exact >= 2)
            remember(t, e, w->hash, CT_STACK_PARTIAL | exact);
        return id;
    }
    uint32_t id = stack_id(t, s, ts, w->pc, exact, hash_end(h, exact));
    if (id || exact == 0) /* not a failure to define it, which may pass */
        remember(t, e, w->hash, id);
    return id;
}

uint32_t ct_stack_ref(struct ct_thread *t, struct ct_slot *s, uint64_t ts, unsigned skip)
{
    struct fp_walk w;
    if (walk_fp(t, (uintptr_t)__builtin_frame_address(0), &w, ct_g.max_depth, skip) == 0)
        return 0;
    struct ct_stack_cache_entry *e = entry_for(t, w.hash);
    if (CT_LIKELY(entry_holds(t, e, w.hash) && !(e->id & CT_STACK_PARTIAL)))
        return e->id;
    return fp_slow(t, s, ts, &w, e);
}

uint32_t ct_stack_ref_unwound(struct ct_thread *t, struct ct_slot *s, uint64_t ts, unsigned skip)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    const struct ct_code_map *map = ct_code_map_now();
    if (!map || !ct_unwind_arch.supported) {
        struct fp_walk w;
        if (walk_fp(t, fp, &w, ct_g.max_depth, skip) == 0)
            return 0;
        return fp_slow(t, s, ts, &w, entry_for(t, w.hash));
    }
    if (fp < t->stack_lo || fp + 2 * sizeof(uintptr_t) > t->stack_hi)
        return 0; /* another stack (a signal handler's), or bounds unknown */
    uint64_t started = cfi_begin(t);
    /* This function keeps a frame record (libctrace is built with frame
     * pointers): its caller's registers are there. */
    struct ct_regs r = {ct_stack_word(fp + sizeof(uintptr_t)), fp + 2 * sizeof(uintptr_t),
                        ct_stack_word(fp), true};
    uintptr_t pcs[CT_MAX_FRAMES];
    struct ct_frames f = {pcs, 0, ct_g.max_depth, skip, self_lo, self_hi};
    ct_unwind_walk(map, r, &f, fp, t->stack_hi, NULL);
    uint32_t id = stack_id(t, s, ts, pcs, f.n, hash_frames(pcs, f.n));
    cfi_end(t, started);
    return id;
}
