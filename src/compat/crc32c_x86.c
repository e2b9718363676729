/*
 * crc32c_x86.c - CRC-32C with the SSE4.2 crc32 instruction, chosen at run
 * time; CPUs without SSE4.2 use the table version.
 *
 * The instruction takes 3 cycles to give its result but can start one every
 * cycle: one stream of data runs at a third of what the unit can do. Long
 * buffers are cut in three parts whose CRCs run interleaved, then joined:
 * the CRC of A followed by B is the CRC of A multiplied by x^(8|B|) modulo
 * the polynomial, added to the CRC of B (with the register, not inverted,
 * form of the CRC). The multiplier for a length is computed from x^(2^k)
 * for its bits, and kept for the next record, which is usually as long.
 */
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#endif
#include "../format/crc32c.h"

#include <stdatomic.h>
#include <string.h>

#define POLY 0x82F63B78u /* Castagnoli, bits reversed */

/* a times b modulo the polynomial, both bit-reversed (x^0 is bit 31). */
static uint32_t mul_mod(uint32_t a, uint32_t b)
{
    uint32_t product = 0;
    for (uint32_t m = 1u << 31; m; m >>= 1) {
        if (a & m)
            product ^= b;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return product;
}

/* x^(8n) modulo the polynomial. */
static uint32_t x_pow_8n(uint64_t n)
{
    /* x^(2^k): x^1 is 1 << 30, and each the square of the one before. */
    static const uint32_t pow2[64] = {
    0x40000000, 0x20000000, 0x08000000, 0x00800000, 0x00008000, 0x82F63B78,
    0x6EA2D55C, 0x18B8EA18, 0x510AC59A, 0xB82BE955, 0xB8FDB1E7, 0x88E56F72,
    0x74C360A4, 0xE4172B16, 0x0D65762A, 0x35D73A62, 0x28461564, 0xBF455269,
    0xE2EA32DC, 0xFE7740E6, 0xF946610B, 0x3C204F8F, 0x538586E3, 0x59726915,
    0x734D5309, 0xBC1AC763, 0x7D0722CC, 0xD289CABE, 0xE94CA9BC, 0x05B74F3F,
    0xA51E1F42, 0x40000000, 0x20000000, 0x08000000, 0x00800000, 0x00008000,
    0x82F63B78, 0x6EA2D55C, 0x18B8EA18, 0x510AC59A, 0xB82BE955, 0xB8FDB1E7,
    0x88E56F72, 0x74C360A4, 0xE4172B16, 0x0D65762A, 0x35D73A62, 0x28461564,
    0xBF455269, 0xE2EA32DC, 0xFE7740E6, 0xF946610B, 0x3C204F8F, 0x538586E3,
    0x59726915, 0x734D5309, 0xBC1AC763, 0x7D0722CC, 0xD289CABE, 0xE94CA9BC,
    0x05B74F3F, 0xA51E1F42, 0x40000000, 0x20000000,
    };
    uint32_t r = 1u << 31; /* x^0 */
    for (int k = 3; n; n >>= 1, k++)
        if (n & 1)
            r = mul_mod(pow2[k & 63], r);
    return r;
}

__attribute__((target("sse4.2"))) static uint64_t crc_words(uint64_t c, const unsigned char *p,
                                                            size_t words)
{
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        c = __builtin_ia32_crc32di(c, w);
    }
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                             size_t len)
{
    const unsigned char *p = data;
    uint64_t c = ~crc;
    if (len >= 3 * 256) {
        /* Three parts of `part` words each, interleaved. The multipliers
         * of the last length are kept, each beside its length in one word
         * (no lock, no thread-local storage: a crash handler may be here;
         * a race only computes them again). */
        static _Atomic uint64_t cache1, cache2;
        size_t part = len / 24;
        uint64_t k1 = atomic_load_explicit(&cache1, memory_order_relaxed);
        uint64_t k2 = atomic_load_explicit(&cache2, memory_order_relaxed);
        uint32_t last_shift1, last_shift2;
        if (part <= UINT32_MAX && k1 >> 32 == part && k2 >> 32 == part) {
            last_shift1 = (uint32_t)k1;
            last_shift2 = (uint32_t)k2;
        } else {
            last_shift1 = x_pow_8n(8 * part);
            last_shift2 = x_pow_8n(16 * part);
            if (part <= UINT32_MAX) {
                atomic_store_explicit(&cache1, (uint64_t)part << 32 | last_shift1,
                                      memory_order_relaxed);
                atomic_store_explicit(&cache2, (uint64_t)part << 32 | last_shift2,
                                      memory_order_relaxed);
            }
        }
        const unsigned char *q = p + 8 * part, *r = p + 16 * part;
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < part; i++) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + 8 * i, 8);
            memcpy(&w1, q + 8 * i, 8);
            memcpy(&w2, r + 8 * i, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        c = mul_mod(last_shift2, (uint32_t)c) ^ mul_mod(last_shift1, (uint32_t)c1) ^ (uint32_t)c2;
        p += 24 * part;
        len -= 24 * part;
    }
    c = crc_words(c, p, len / 8);
    p += len / 8 * 8;
    len %= 8;
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

uint32_t ct_crc32c(uint32_t crc, const void *data, size_t len)
{
    static int have_hw = -1;
    if (have_hw < 0) {
#if __has_include(<sys/platform/x86.h>)
        /* What glibc found at start-up: libgcc's __builtin_cpu_supports
         * runs its own cpuid probe as a constructor, and a cpuid costs
         * 15-18 us in a VM here, a dozen of them at every traced start. */
        have_hw = CPU_FEATURE_ACTIVE(SSE4_2) ? 1 : 0;
#else
        __builtin_cpu_init();
        have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
    }
    return have_hw ? crc32c_hw(crc, data, len) : ct_crc32c_sw(crc, data, len);
}
