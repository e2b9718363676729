/*
 * file.c - where the reader's bytes come from: a file streamed with pread
 * into one reused buffer (ct_rd_open), a file mapped whole
 * (ct_rd_open_mapped), or memory (ct_rd_open_mem); and the file header.
 */
#include "reader_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "crc32c.h"

/* Streamed: a buffer of need bytes at least (upto: the offset for the
 * error); a bigger one only between spans, as nothing points into it then. */
static int reserve(struct ct_reader *rd, uint64_t need, uint64_t upto)
{
    if (need <= rd->buf_cap)
        return 0;
    size_t cap = rd->buf_cap ? rd->buf_cap : 64u << 10;
    while (cap < need)
        cap *= 2;
    uint8_t *grown = realloc(rd->buf, cap);
    if (!grown)
        return fail(rd, upto, "out of memory for a %zu-byte read buffer", cap);
    rd->buf = grown;
    rd->buf_cap = cap;
    return 0;
}

/* Streamed: makes the buffer hold [buf_off, upto) (upto <= size), reading
 * what it lacks. -1 when the file cannot be read. */
static int fill_to(struct ct_reader *rd, uint64_t upto)
{
    uint64_t need = upto - rd->buf_off;
    if (need <= rd->buf_len)
        return 0;
    if (reserve(rd, need, upto) != 0)
        return -1;
    /* Read a little ahead (1 MiB), in few calls: a span is read in large
     * pieces, and little is left over to move at the next span. Skipping
     * threads, exactly what is asked: the rest may be skipped. */
    uint64_t want = rd->skip_thread ? need
                                    : (need + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    if (want > rd->buf_cap)
        want = rd->buf_cap;
    if (rd->buf_off + want > rd->size)
        want = rd->size - rd->buf_off;
    while (rd->buf_len < want) {
        ssize_t n = pread(rd->fd, rd->buf + rd->buf_len, want - rd->buf_len,
                          (off_t)(rd->buf_off + rd->buf_len));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (rd->buf_len >= need)
                break;
            return fail(rd, rd->buf_off + rd->buf_len, "cannot read: %s",
                        n < 0 ? strerror(errno) : "the file became shorter while it was read");
        }
        rd->buf_len += (uint64_t)n;
    }
    return 0;
}

/* Streamed: makes the buffer span [buf_off, upto) without reading what it
 * lacks (a skipped batch's payload). */
static int hole_to(struct ct_reader *rd, uint64_t upto)
{
    uint64_t need = upto - rd->buf_off;
    if (need <= rd->buf_len)
        return 0;
    if (reserve(rd, need, upto) != 0)
        return -1;
    rd->buf_len = need;
    return 0;
}

/* Streamed: reads the records from rd->off up to and including the next
 * generation's end (or the file's end record, or its end), so that every
 * pointer into them stays valid while that generation is read. Stops at a
 * header it cannot trust, with that header read: next_record reports it. */
int ct_rd_load_span(struct ct_reader *rd)
{
    if (!rd->streamed)
        return 0;
    /* Keep the unread bytes already in the buffer: move them to its start. */
    uint64_t keep = rd->off - rd->buf_off < rd->buf_len ? rd->buf_len - (rd->off - rd->buf_off) : 0;
    if (keep)
        memmove(rd->buf, rd->buf + (rd->off - rd->buf_off), keep);
    rd->buf_off = rd->off;
    rd->buf_len = keep;
    uint64_t at = rd->off;
    while (at < rd->size) {
        uint64_t head = rd->size - at < CT_RECORD_HEADER_SIZE ? rd->size - at
                                                               : CT_RECORD_HEADER_SIZE;
        if (fill_to(rd, at + head) != 0)
            return -1;
        if (head < CT_RECORD_HEADER_SIZE)
            break;
        const uint8_t *h = ct_rd_at(rd, at);
        unsigned type = h[0];
        uint32_t len = ct_get_u32(h + 4);
        if (type == 0 || type >= CT_REC_MAX || len > CT_MAX_RECORD ||
            len > rd->size - at - CT_RECORD_HEADER_SIZE)
            break;
        if (type == CT_REC_BATCH && rd->skip_thread) { /* its thread and base time first */
            uint64_t head_len = len < 20 ? len : 20;
            if (fill_to(rd, at + CT_RECORD_HEADER_SIZE + head_len) != 0)
                return -1;
            if (ct_rd_skipped(rd, ct_rd_at(rd, at + CT_RECORD_HEADER_SIZE), head_len)) {
                at += CT_RECORD_HEADER_SIZE + (uint64_t)len;
                if (hole_to(rd, at) != 0)
                    return -1;
                continue;
            }
        }
        at += CT_RECORD_HEADER_SIZE + (uint64_t)len;
        if (fill_to(rd, at) != 0)
            return -1;
        if (type == CT_REC_GEN_END || type == CT_REC_END)
            break;
    }
    return 0;
}

int ct_rd_check_header(struct ct_reader *rd)
{
    if (rd->size == 0)
        return fail(rd, 0, "empty file, expected a ctrace trace");
    if (rd->streamed && fill_to(rd, rd->size < CT_FILE_HEADER_SIZE ? rd->size : CT_FILE_HEADER_SIZE))
        return -1;
    const uint8_t *data = ct_rd_at(rd, 0);
    if (rd->size < CT_MAGIC_LEN || memcmp(data, CT_MAGIC, CT_MAGIC_LEN) != 0)
        return fail(rd, 0, "not a ctrace trace (expected the magic bytes \\x89CTRACE\\n)");
    if (rd->size < CT_FILE_HEADER_SIZE)
        return fail(rd, rd->size, "file ends inside its %d-byte header", CT_FILE_HEADER_SIZE);
    rd->version_major = ct_get_u16(data + 8);
    rd->version_minor = ct_get_u16(data + 10);
    uint32_t endian = ct_get_u32(data + 12);
    if (endian != CT_ENDIAN_CHECK)
        return fail(rd, 12, "byte-order check is 0x%08x, expected 0x%08x", endian,
                    CT_ENDIAN_CHECK);
    if (rd->version_major != CT_VERSION_MAJOR)
        return fail(rd, 8, "format version %u.%u, this reader reads version %d.x",
                    rd->version_major, rd->version_minor, CT_VERSION_MAJOR);
    uint32_t crc = ct_get_u32(data + 20);
    if (CHECKSUMS_DIFFER(crc, ct_crc32c(0, data, 20)))
        return fail(rd, 20, "header checksum mismatch (corrupted header)");
    for (int i = 24; i < CT_FILE_HEADER_SIZE; i++)
        if (data[i] != 0)
            return fail(rd, (uint64_t)i, "reserved header byte is 0x%02x, expected 0",
                        data[i]);
    uint32_t header_size = ct_get_u32(data + 16);
    if (header_size != CT_FILE_HEADER_SIZE)
        return fail(rd, 16, "header size %u, expected %d",
                    header_size, CT_FILE_HEADER_SIZE);
    rd->off = header_size;
    return 0;
}

int ct_rd_open_mem(struct ct_reader *rd, const void *data, size_t size, const char *name)
{
    memset(rd, 0, sizeof *rd);
    rd->path = name;
    rd->fd = -1;
    rd->data = data;
    rd->size = size;
    return ct_rd_check_header(rd);
}

int ct_rd_read_at(const struct ct_reader *rd, uint64_t off, void *out, size_t len)
{
    if (off > rd->size || len > rd->size - off)
        return -1;
    if (!rd->streamed) {
        memcpy(out, rd->data + off, len);
        return 0;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = pread(rd->fd, (uint8_t *)out + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static int open_file(struct ct_reader *rd, const char *path, struct stat *st)
{
    memset(rd, 0, sizeof *rd);
    rd->path = path;
    rd->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(rd, 0, "cannot open: %s", strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return fail(rd, 0, "not a regular file");
    }
    rd->size = (size_t)st->st_size;
    return fd;
}

int ct_rd_open(struct ct_reader *rd, const char *path)
{
    struct stat st;
    int fd = open_file(rd, path, &st);
    if (fd < 0)
        return -1;
    rd->fd = fd;
    rd->streamed = true;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (ct_rd_check_header(rd) != 0) {
        ct_rd_close(rd); /* keeps the error: callers do not close a failed open */
        return -1;
    }
    return 0;
}

int ct_rd_open_mapped(struct ct_reader *rd, const char *path)
{
    struct stat st;
    int fd = open_file(rd, path, &st);
    if (fd < 0)
        return -1;
    if (rd->size > 0) {
        void *map = mmap(NULL, rd->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return fail(rd, 0, "cannot map: %s", strerror(errno));
        }
        madvise(map, rd->size, MADV_SEQUENTIAL);
        rd->data = map;
        rd->mapped = true;
    }
    close(fd);
    if (ct_rd_check_header(rd) != 0) {
        ct_rd_close(rd);
        return -1;
    }
    return 0;
}

void ct_rd_close(struct ct_reader *rd)
{
    if (rd->mapped)
        munmap((void *)rd->data, rd->size);
    if (rd->streamed && rd->fd >= 0)
        close(rd->fd);
    rd->streamed = false;
    free(rd->buf);
    rd->buf = NULL;
    rd->buf_cap = rd->buf_len = 0;
    rd->fd = -1;
    rd->data = NULL;
    rd->mapped = false;
}
