/*
 * framing.c - the bytes around records (framing.h).
 */
#include "framing.h"

#include <string.h>

#include "bytes.h"
#include "crc32c.h"

void ct_file_header(uint8_t h[CT_FILE_HEADER_SIZE])
{
    memset(h, 0, CT_FILE_HEADER_SIZE);
    memcpy(h, CT_MAGIC, CT_MAGIC_LEN);
    ct_put_u16(h + 8, CT_VERSION_MAJOR);
    ct_put_u16(h + 10, CT_VERSION_MINOR);
    ct_put_u32(h + 12, CT_ENDIAN_CHECK);
    ct_put_u32(h + 16, CT_FILE_HEADER_SIZE);
    ct_put_u32(h + 20, ct_crc32c(0, h, 20));
}

size_t ct_record_header(uint8_t header[CT_RECORD_HEADER_SIZE], unsigned type,
                        const struct iovec *parts, int nparts)
{
    memset(header, 0, CT_RECORD_HEADER_SIZE);
    header[0] = (uint8_t)type;
    size_t len = 0;
    for (int i = 0; i < nparts; i++)
        len += parts[i].iov_len;
    ct_put_u32(header + 4, (uint32_t)len);
    uint32_t crc = ct_crc32c(0, header, 8);
    for (int i = 0; i < nparts; i++)
        crc = ct_crc32c(crc, parts[i].iov_base, parts[i].iov_len);
    ct_put_u32(header + 8, crc);
    return len;
}

size_t ct_end_record(uint8_t *out, uint64_t gens)
{
    uint8_t payload[CT_LEB_MAX];
    struct iovec part = {payload, (size_t)(ct_put_uleb(payload, gens) - payload)};
    ct_record_header(out, CT_REC_END, &part, 1);
    memcpy(out + CT_RECORD_HEADER_SIZE, payload, part.iov_len);
    return CT_RECORD_HEADER_SIZE + part.iov_len;
}
