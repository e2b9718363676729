/* crc32c_generic.c - CRC-32C where no CPU-specific version exists. */
#include "../format/crc32c.h"

uint32_t ct_crc32c(uint32_t crc, const void *data, size_t len)
{
    return ct_crc32c_sw(crc, data, len);
}
