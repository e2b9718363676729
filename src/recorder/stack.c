/*
 * stack.c - stacks of annotations: a frame-pointer walk, a per-thread cache
 * of the stacks seen in this generation, and their definitions.
 */
#include "event.h"

#include <link.h>

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
}

/* Walks the frame-pointer chain, skipping `skip` frames. Every frame must lie
 * above the previous one and inside this thread's stack, between the current
 * frame and the stack's top, all of which is mapped: a broken chain (code
 * built without frame pointers) ends the walk early and never faults.
 * Running on another stack (a signal handler's alternate stack) gives no
 * frames. */
__attribute__((always_inline)) static inline unsigned unwind(const struct ct_thread *t,
                                                             uintptr_t *pcs, unsigned max,
                                                             unsigned skip)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = fp, hi = t->stack_hi;
    unsigned n = 0;
    if (fp < t->stack_lo || fp >= hi)
        return 0;
    while (n < max) {
        if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
            break;
        uintptr_t next = ((const uintptr_t *)fp)[0];
        uintptr_t ret = ((const uintptr_t *)fp)[1];
        if (ret < 4096)
            break;
        if (skip)
            skip--;
        else if (n > 0 || ret < self_lo || ret >= self_hi)
            pcs[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
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

static uint32_t define(struct ct_thread *t, struct ct_slot *s, const uintptr_t *pcs, unsigned n,
                       uint64_t hash, uint64_t ts, struct ct_stack_cache_entry *e)
{
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
    e->hash = hash;
    e->id = id;
    e->gen = t->gen;
    return id;
}

uint32_t ct_stack_ref(struct ct_thread *t, struct ct_slot *s, uint64_t ts, unsigned skip)
{
    uintptr_t pcs[CT_MAX_FRAMES];
    unsigned n = unwind(t, pcs, ct_g.max_depth, skip);
    if (n == 0)
        return 0;
    uint64_t h = hash_frames(pcs, n);
    struct ct_stack_cache_entry *e = &t->stacks[h & (CT_STACK_CACHE - 1)];
    if (CT_LIKELY(e->hash == h && e->gen == t->gen))
        return e->id;
    return define(t, s, pcs, n, h, ts, e);
}
