/* crc32c.h - CRC-32C (Castagnoli), the checksum of every record. */
#ifndef CT_CRC32C_H
#define CT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0. */
uint32_t ct_crc32c(uint32_t crc, const void *data, size_t len);
/* The portable table-driven version, which ct_crc32c falls back to. */
uint32_t ct_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
