/* idset.h - a set of nonzero 64-bit ids (threads, stacks), for analyses. */
#ifndef CT_IDSET_H
#define CT_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ct_idset {
    uint64_t *ids;
    size_t count, cap;
};

/* Adds id; returns 1 if it was new, 0 if present, -1 without memory. */
int ct_idset_add(struct ct_idset *set, uint64_t id);
bool ct_idset_has(const struct ct_idset *set, uint64_t id);
void ct_idset_free(struct ct_idset *set);

#endif
