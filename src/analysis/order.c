/*
 * order.c - see order.h.
 */
#include "order.h"

#include <stdlib.h>
#include <string.h>

uint32_t *ct_order_by_group(const uint32_t *type, size_t n, size_t ntypes, size_t *at)
{
    uint32_t *out = malloc((n ? n : 1) * sizeof *out);
    if (!out)
        return NULL;
    memset(at, 0, (ntypes + 1) * sizeof *at);
    for (size_t i = 0; i < n; i++)
        at[type[i] + 1]++;
    for (size_t t = 0; t < ntypes; t++)
        at[t + 1] += at[t];
    size_t *next = malloc((ntypes ? ntypes : 1) * sizeof *next);
    if (!next) {
        free(out);
        return NULL;
    }
    memcpy(next, at, ntypes * sizeof *next);
    for (size_t i = 0; i < n; i++)
        out[next[type[i]]++] = (uint32_t)i;
    free(next);
    return out;
}

/* Bottom-up merge of the runs found on each pass: a pass merges each pair
 * of neighbouring runs, so k runs take log2(k) passes; items in order take
 * one look. */
#define MERGE_SORT(name, key_t)                                                            \
    int name(uint32_t *idx, size_t n, const key_t *key)                                    \
    {                                                                                      \
        if (n < 2)                                                                         \
            return 0;                                                                      \
        uint32_t *tmp = malloc(n * sizeof *tmp), *src = idx, *dst = tmp;                   \
        if (!tmp)                                                                          \
            return -1;                                                                     \
        for (;;) {                                                                         \
            size_t runs = 0;                                                               \
            for (size_t i = 0; i < n;) {                                                   \
                size_t j = i + 1;                                                          \
                while (j < n && key[src[j]] >= key[src[j - 1]])                            \
                    j++;                                                                   \
                size_t k = j;                                                              \
                if (k < n)                                                                 \
                    for (k++; k < n && key[src[k]] >= key[src[k - 1]]; k++)                \
                        ;                                                                  \
                size_t a = i, b = j, o = i;                                                \
                while (a < j && b < k)                                                     \
                    dst[o++] = key[src[b]] < key[src[a]] ? src[b++] : src[a++];            \
                while (a < j)                                                              \
                    dst[o++] = src[a++];                                                   \
                while (b < k)                                                              \
                    dst[o++] = src[b++];                                                   \
                runs++;                                                                    \
                i = k;                                                                     \
            }                                                                              \
            uint32_t *t = src;                                                             \
            src = dst;                                                                     \
            dst = t;                                                                       \
            if (runs <= 1)                                                                 \
                break;                                                                     \
        }                                                                                  \
        if (src != idx)                                                                    \
            memcpy(idx, src, n * sizeof *idx);                                             \
        free(tmp);                                                                         \
        return 0;                                                                          \
    }

MERGE_SORT(ct_order_sort_i64, int64_t)
MERGE_SORT(ct_order_sort_u64, uint64_t)

int ct_order_sort_u32(uint32_t *idx, size_t n, const uint32_t *key)
{
    if (n < 2)
        return 0;
    /* (key << 32 | item) pairs, by the key's low then high 16 bits. */
    uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    size_t *count = calloc(1 << 16, sizeof *count);
    if (!a || !b || !count) {
        free(a);
        free(b);
        free(count);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        a[i] = (uint64_t)key[idx[i]] << 32 | idx[i];
    for (unsigned shift = 32; shift < 64; shift += 16) {
        memset(count, 0, (1 << 16) * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 1 << 16; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> shift) & 0xffff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)a[i];
    free(a);
    free(b);
    free(count);
    return 0;
}

/* Follows each cycle of the permutation once: the column is rewritten in
 * its own pages (new ones would each be faulted in, which costs more here
 * than the moves). */
/* Into a new column (or the spare one, which the old becomes: fresh pages
 * are faulted in one by one, which costs more here than the moves): the loads are independent, so many are in flight at
 * once (following the permutation's cycles in place makes each wait for
 * the last, several times slower). */
int ct_order_apply(void **col, const uint32_t *order, size_t n, size_t size, void **spare)
{
    void *out = spare && *spare ? *spare : malloc(n ? n * size : 1);
    if (!out)
        return -1;
    if (spare)
        *spare = NULL;
    if (size == 8) {
        const uint64_t *in = *col;
        uint64_t *o = out;
        for (size_t k = 0; k < n; k++)
            o[k] = in[order[k]];
    } else if (size == 4) {
        const uint32_t *in = *col;
        uint32_t *o = out;
        for (size_t k = 0; k < n; k++)
            o[k] = in[order[k]];
    } else {
        const char *in = *col;
        for (size_t k = 0; k < n; k++)
            memcpy((char *)out + k * size, in + (size_t)order[k] * size, size);
    }
    if (spare)
        *spare = *col;
    else
        free(*col);
    *col = out;
    return 0;
}

uint32_t *ct_order_inverse(const uint32_t *order, size_t n)
{
    uint32_t *inv = malloc((n ? n : 1) * sizeof *inv);
    if (!inv)
        return NULL;
    for (size_t k = 0; k < n; k++)
        inv[order[k]] = (uint32_t)k;
    return inv;
}
