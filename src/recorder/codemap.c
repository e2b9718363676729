/*
 * codemap.c - the loaded objects' executable segments and call frame
 * tables, as the unwinder reads them (unwind.h).
 *
 * dl_iterate_phdr takes the dynamic loader's lock, so it must not run
 * where a stack is walked (a signal handler may have interrupted dlopen on
 * that very thread). The map is built outside: at a session's start and by
 * the writer when the objects change (the modules' signature, which it
 * reads at every generation's end for the MODULES record), into a malloc'd
 * array published with one atomic store. Readers use it only inside an
 * event, so the map it replaced can be freed once every thread has left
 * the events it was inside of: after the next generation's barrier, which
 * waits for exactly that (recorder.h). A library loaded in between is not
 * in the map until then (at most a generation): its frames end stacks.
 */
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "unwind.h"

static _Atomic(struct ct_code_map *) current;
/* Replaced since the last barrier. Maps are built by one thread at a time,
 * without a lock (nothing held across fork): a session's start, before its
 * writer runs, or the writer. */
static struct ct_code_map *retired;
static int main_has_fp = -1;

const struct ct_code_map *ct_code_map_now(void)
{
    return atomic_load_explicit(&current, memory_order_acquire);
}

const struct ct_code_module *ct_code_map_find(const struct ct_code_map *map, uintptr_t addr)
{
    uint32_t lo = 0, hi = map->nranges;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (addr < map->ranges[mid].lo)
            hi = mid;
        else if (addr >= map->ranges[mid].hi)
            lo = mid + 1;
        else
            return &map->modules[map->ranges[mid].module];
    }
    return NULL;
}

struct build {
    struct ct_code_range *ranges;
    struct ct_code_module *modules;
    uint32_t nranges, nmodules, cap_ranges, cap_modules;
    bool failed;
};

/* The loaded segment of the object that holds [addr, addr + 1). */
static bool segment_of(const struct dl_phdr_info *info, uintptr_t addr, uintptr_t *lo,
                       uintptr_t *hi)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= start && addr - start < ph->p_memsz) {
            *lo = start;
            *hi = start + ph->p_memsz;
            return true;
        }
    }
    return false;
}

static bool grow(void **array, uint32_t *cap, uint32_t n, size_t size)
{
    if (n < *cap)
        return true;
    uint32_t want = *cap ? *cap * 2 : 8;
    void *p = realloc(*array, want * size);
    if (!p)
        return false;
    *array = p;
    *cap = want;
    return true;
}

static int add_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct build *b = data;
    if (!grow((void **)&b->modules, &b->cap_modules, b->nmodules, sizeof *b->modules)) {
        b->failed = true;
        return 1;
    }
    struct ct_code_module m = {.bias = info->dlpi_addr,
                               .is_main = !info->dlpi_name || !info->dlpi_name[0]};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && ph->p_memsz && m.nsegments < CT_CODE_SEGMENTS) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            m.segments[m.nsegments].lo = lo;
            m.segments[m.nsegments++].hi = lo + ph->p_memsz;
        }
        if (ph->p_type != PT_GNU_EH_FRAME || m.eh_hdr)
            continue;
        const uint8_t *hdr = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        if (segment_of(info, (uintptr_t)hdr, &m.hdr_lo, &m.hdr_hi))
            m.eh_hdr = hdr;
    }
    uint32_t index = b->nmodules++;
    b->modules[index] = m;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0)
            continue;
        if (!grow((void **)&b->ranges, &b->cap_ranges, b->nranges, sizeof *b->ranges)) {
            b->failed = true;
            return 1;
        }
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        b->ranges[b->nranges++] = (struct ct_code_range){lo, lo + ph->p_memsz, index};
    }
    return 0;
}

static int by_address(const void *a, const void *b)
{
    const struct ct_code_range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Whether every executable range of old is in map, from the same object
 * (then the rules cached for old's addresses still hold). */
static bool contains(const struct ct_code_map *map, const struct ct_code_map *old)
{
    for (uint32_t i = 0; i < old->nranges; i++) {
        const struct ct_code_range *r = &old->ranges[i];
        const struct ct_code_module *m = ct_code_map_find(map, r->lo);
        const struct ct_code_module *was = &old->modules[r->module];
        if (!m || m->bias != was->bias || m->eh_hdr != was->eh_hdr ||
            ct_code_map_find(map, r->hi - 1) != m)
            return false;
    }
    return true;
}

/* A new map of the objects loaded now, in one allocation; NULL when out of
 * memory. */
static struct ct_code_map *build(uint64_t sig)
{
    struct build b = {0};
    dl_iterate_phdr(add_object, &b);
    struct ct_code_map *map = NULL;
    if (!b.failed) {
        size_t bytes = sizeof *map + b.nranges * sizeof *b.ranges + b.nmodules * sizeof *b.modules;
        map = malloc(bytes);
    }
    if (map) {
        *map = (struct ct_code_map){.signature = sig, .nranges = b.nranges,
                                    .nmodules = b.nmodules};
        map->ranges = (struct ct_code_range *)(map + 1);
        map->modules = (struct ct_code_module *)(map->ranges + b.nranges);
        if (b.nranges)
            memcpy(map->ranges, b.ranges, b.nranges * sizeof *b.ranges);
        if (b.nmodules)
            memcpy(map->modules, b.modules, b.nmodules * sizeof *b.modules);
        qsort(map->ranges, map->nranges, sizeof *map->ranges, by_address);
    }
    free(b.ranges);
    free(b.modules);
    return map;
}

/* Whether the executable keeps frame pointers, from a sample of its
 * functions: code built with them sets one up in nearly every function
 * (all but those that call nothing, with -momit-leaf-frame-pointer), code
 * built without only where the stack is realigned or sized at run time.
 * 32 functions, in four runs of neighbours: each run faults a page or two
 * of the tables, and every process pays for them at its start. */
static int judge_main(const struct ct_code_map *map)
{
    for (uint32_t i = 0; i < map->nmodules; i++) {
        if (!map->modules[i].is_main)
            continue;
        unsigned seen;
        unsigned with_fp = ct_cfi_fp_functions(&map->modules[i], 32, &seen);
        if (seen < 8)
            return -1;
        return with_fp * 4 >= seen ? 1 : 0;
    }
    return -1;
}

/* Publishes a map of the objects now if they changed since the current
 * one; the current one goes on the retired list. */
static void refresh(uint64_t sig)
{
    struct ct_code_map *old = atomic_load_explicit(&current, memory_order_relaxed);
    if (old && old->signature == sig)
        return;
    struct ct_code_map *map = build(sig);
    if (!map)
        return;
    map->epoch = old ? old->epoch + !contains(map, old) : 1;
    if (main_has_fp < 0)
        main_has_fp = judge_main(map);
    atomic_store_explicit(&current, map, memory_order_release);
    if (old) {
        old->retired_next = retired;
        retired = old;
    }
}

void ct_code_map_init(void)
{
    if (ct_unwind_init() == 0)
        refresh(ct_modules_signature());
}

void ct_code_map_update(uint64_t sig)
{
    /* Replaced before the barrier that the caller has just passed: no
     * event that began before the replacement is still running. */
    struct ct_code_map *done = retired;
    retired = NULL;
    refresh(sig);
    while (done) {
        struct ct_code_map *next = done->retired_next;
        free(done);
        done = next;
    }
}

int ct_code_map_main_has_fp(void)
{
    return main_has_fp;
}
