/* idset.c - open addressing on the id itself, mixed; 0 marks a free slot. */
#include "idset.h"

#include <stdlib.h>

static size_t slot_of(uint64_t id, size_t cap)
{
    id *= 0x9E3779B97F4A7C15u;
    return (size_t)(id ^ (id >> 31)) & (cap - 1);
}

static int grow(struct ct_idset *set)
{
    size_t cap = set->cap ? set->cap * 2 : 64;
    uint64_t *ids = calloc(cap, sizeof *ids);
    if (!ids)
        return -1;
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->ids[i])
            continue;
        size_t j = slot_of(set->ids[i], cap);
        while (ids[j])
            j = (j + 1) & (cap - 1);
        ids[j] = set->ids[i];
    }
    free(set->ids);
    set->ids = ids;
    set->cap = cap;
    return 0;
}

bool ct_idset_has(const struct ct_idset *set, uint64_t id)
{
    if (!set->cap || !id)
        return false;
    for (size_t i = slot_of(id, set->cap);; i = (i + 1) & (set->cap - 1)) {
        if (set->ids[i] == id)
            return true;
        if (!set->ids[i])
            return false;
    }
}

int ct_idset_add(struct ct_idset *set, uint64_t id)
{
    if (!id)
        return 0;
    if ((set->count + 1) * 4 > set->cap * 3 && grow(set) != 0)
        return -1;
    size_t i = slot_of(id, set->cap);
    while (set->ids[i]) {
        if (set->ids[i] == id)
            return 0;
        i = (i + 1) & (set->cap - 1);
    }
    set->ids[i] = id;
    set->count++;
    return 1;
}

void ct_idset_free(struct ct_idset *set)
{
    free(set->ids);
    set->ids = NULL;
    set->count = set->cap = 0;
}
