/*
 * unwind.c - the rule cache and the walk with call frame information.
 *
 * Finding a return address's row costs a binary search of the map, one of
 * .eh_frame_hdr and a run of the FDE's program: a microsecond or so. A
 * program blocks at a few hundred places, so the packed row is cached per
 * return address, process-wide: a thread pool's new threads find what
 * earlier ones looked up. The cache is direct-mapped and lock-free, each
 * slot a sequence lock whose writer only ever tries (a thread that finds a
 * slot being written, or loses the race to write it, uses its own result
 * without storing it), so a signal handler or a thread stopped mid-write
 * never makes another wait. A slot also holds the map's epoch: when an
 * object is unloaded, the epoch moves on and every slot is stale at once.
 */
#include <sys/mman.h>

#include "unwind.h"

#define RULE_SLOTS_LOG2 CT_RULE_SLOTS_LOG2

struct ct_rule_slot *ct_rule_slots;
#define slots ct_rule_slots

int ct_unwind_init(void)
{
    if (slots)
        return 0;
    /* 96 KiB, reserved now, touched as return addresses are met. */
    void *mem = mmap(NULL, sizeof(struct ct_rule_slot) << RULE_SLOTS_LOG2, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    slots = mem;
    return 0;
}

void ct_unwind_after_fork_child(void)
{
    /* A thread of the parent that was writing a slot does not exist here. */
    if (!slots)
        return;
    for (size_t i = 0; i < (size_t)1 << RULE_SLOTS_LOG2; i++) {
        uint32_t seq = atomic_load_explicit(&slots[i].seq, memory_order_relaxed);
        if (seq & 1)
            atomic_store_explicit(&slots[i].seq, seq + 1, memory_order_relaxed);
    }
}

void ct_unwind_forget(void)
{
    if (!slots)
        return;
    for (size_t i = 0; i < (size_t)1 << RULE_SLOTS_LOG2; i++)
        atomic_store_explicit(&slots[i].pc, 0, memory_order_relaxed);
}

static uint64_t look_up(const struct ct_code_map *map, uintptr_t pc)
{
    /* A return address: its call is the instruction before it, whose row
     * and whose object are the ones that count (a call may be the last
     * instruction of a function that does not return). */
    const struct ct_code_module *m = ct_code_map_find(map, pc - 1);
    if (!m)
        return CT_RULE_NOT_CODE;
    struct ct_cfi_row row;
    if (ct_cfi_row_at(m, pc - 1, &row) != 0)
        return CT_RULE_END;
    return ct_arch_pack(&row);
}

uint64_t ct_unwind_rule_miss(const struct ct_code_map *map, uintptr_t pc)
{
    if (!slots || pc < 4096)
        return pc < 4096 || !ct_code_map_find(map, pc - 1) ? CT_RULE_NOT_CODE : CT_RULE_END;
    struct ct_rule_slot *s = &slots[((uint64_t)pc * 0x9E3779B97F4A7C15u) >> (64 - RULE_SLOTS_LOG2)];
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    uint64_t rule = look_up(map, pc);
    /* Not-code is not cached: such values are garbage, and many. A slot
     * being written, or taken meanwhile, is left to its writer. */
    if (rule != CT_RULE_NOT_CODE && !(seq & 1) &&
        atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1, memory_order_acquire,
                                                memory_order_relaxed)) {
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&s->pc, pc, memory_order_relaxed);
        atomic_store_explicit(&s->rule, rule, memory_order_relaxed);
        atomic_store_explicit(&s->epoch, map->epoch, memory_order_relaxed);
        atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
    }
    return rule;
}

void ct_unwind_walk(const struct ct_code_map *map, struct ct_regs r, struct ct_frames *f,
                    uintptr_t lo, uintptr_t hi, struct ct_read_log *log)
{
    while (f->n < f->max) {
        uint64_t rule = ct_unwind_rule(map, r.pc);
        if (rule == CT_RULE_NOT_CODE)
            return; /* not a return address: this frame and what follows are garbage */
        if (!ct_frames_push(f, r.pc) || rule == CT_RULE_END)
            return;
        if (!ct_arch_step(rule, &r, lo, hi, log) || r.pc == 0)
            return;
    }
}
