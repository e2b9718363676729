/*
 * order.h - orders of items kept as columns: arrays of item indexes
 * (uint32_t) sorted by a key column, stable, in linear or near-linear time
 * for the orders a trace gives (a thread's items come in time order, the
 * threads' batches interleaved: a few long runs).
 */
#ifndef CT_ORDER_H
#define CT_ORDER_H

#include <stddef.h>
#include <stdint.h>

/* The items 0..n-1 grouped by a small key (type[i] < ntypes), stable:
 * group t is [at[t], at[t + 1]) of the result (malloc'd; NULL without
 * memory). at has ntypes + 1 entries. */
uint32_t *ct_order_by_group(const uint32_t *type, size_t n, size_t ntypes, size_t *at);
/* Sorts idx[0..n) by key[idx[i]], stable: a merge of the runs already in
 * order. 0, or -1 without memory (idx unchanged). */
int ct_order_sort_i64(uint32_t *idx, size_t n, const int64_t *key);
int ct_order_sort_u64(uint32_t *idx, size_t n, const uint64_t *key);
/* The same by a 32-bit key, by radix (two passes). */
int ct_order_sort_u32(uint32_t *idx, size_t n, const uint32_t *key);
/* Puts a column (n items of size bytes) in the order: item k becomes what
 * item order[k] was, in new memory or in *spare (n items of the same
 * size, when spare and *spare are not NULL), and the old column is freed
 * or becomes *spare (when spare is not NULL). 0, or -1 without memory
 * (the column unchanged). */
int ct_order_apply(void **col, const uint32_t *order, size_t n, size_t size, void **spare);
/* The inverse of an order of n items (malloc'd; NULL without memory). */
uint32_t *ct_order_inverse(const uint32_t *order, size_t n);

#endif
