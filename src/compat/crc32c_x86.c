/*
 * crc32c_x86.c - CRC-32C with the SSE4.2 crc32 instruction (8 bytes a cycle
 * or so), chosen at run time; CPUs without SSE4.2 use the table version.
 */
#include "../format/crc32c.h"

#include <string.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                             size_t len)
{
    const unsigned char *p = data;
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

uint32_t ct_crc32c(uint32_t crc, const void *data, size_t len)
{
    static int have_hw = -1;
    if (have_hw < 0) {
        __builtin_cpu_init();
        have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    return have_hw ? crc32c_hw(crc, data, len) : ct_crc32c_sw(crc, data, len);
}
