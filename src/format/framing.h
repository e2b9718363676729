/*
 * framing.h - the bytes around records, as the writer and the flight
 * recorder put them into a file: the file header, a record's header (type,
 * length, CRC of both and the payload), and the END record (format.md).
 */
#ifndef CT_FORMAT_FRAMING_H
#define CT_FORMAT_FRAMING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "format.h"

/* The file header. */
void ct_file_header(uint8_t h[CT_FILE_HEADER_SIZE]);
/* The header of a record of `type` whose payload is the concatenation of
 * parts; returns the payload's length. Async-signal-safe. */
size_t ct_record_header(uint8_t header[CT_RECORD_HEADER_SIZE], unsigned type,
                        const struct iovec *parts, int nparts);
/* An END record for a file of `gens` generations, into out (at least
 * CT_RECORD_HEADER_SIZE + CT_LEB_MAX bytes); returns its length. */
size_t ct_end_record(uint8_t *out, uint64_t gens);

#endif
