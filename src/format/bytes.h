/*
 * bytes.h - every byte the format reads or writes goes through these helpers:
 * little-endian fixed-width integers and LEB128. Readers never cast a pointer
 * into a mapped file; every get checks its bound and reports failure.
 */
#ifndef CT_BYTES_H
#define CT_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CT_LEB_MAX 10 /* bytes of the longest 64-bit LEB128 */

static inline void ct_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ct_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void ct_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline uint16_t ct_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Writes v as unsigned LEB128; returns the end. The caller guarantees room
 * for CT_LEB_MAX bytes. */
static inline uint8_t *ct_put_uleb(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t ct_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t ct_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint8_t *ct_put_sleb(uint8_t *p, int64_t v)
{
    return ct_put_uleb(p, ct_zigzag(v));
}

static inline size_t ct_uleb_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* A bounded cursor over bytes that are not trusted. */
struct ct_cursor {
    const uint8_t *p, *end;
};

/* Reads an unsigned LEB128. Returns 0, or -1 when the bytes end early or the
 * value does not fit 64 bits (an overlong or hostile encoding). */
static inline int ct_get_uleb(struct ct_cursor *c, uint64_t *out)
{
    if (c->p < c->end && *c->p < 0x80) { /* most are one byte */
        *out = *c->p++;
        return 0;
    }
    uint64_t v = 0;
    unsigned shift = 0;
    while (c->p < c->end) {
        uint8_t b = *c->p++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return -1;
    }
    return -1;
}

/* A length and that many bytes; on failure *bytes and *len are left as
 * they were. */
static inline int ct_get_bytes(struct ct_cursor *c, const uint8_t **bytes, uint64_t *len)
{
    uint64_t n;
    if (ct_get_uleb(c, &n) != 0 || n > (uint64_t)(c->end - c->p))
        return -1;
    *bytes = c->p;
    *len = n;
    c->p += n;
    return 0;
}

#endif
