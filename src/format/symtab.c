/*
 * symtab.c - the symbols `ctrace run` embeds in a trace (SYMBOLS records,
 * format 1.1; docs/format.md), found where the reader saw them, or by
 * walking the records' headers.
 */
#include "reader_impl.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"

static int by_pc(const void *a, const void *b)
{
    const struct ct_symtab_entry *x = a, *y = b;
    if (x->pc != y->pc)
        return x->pc < y->pc ? -1 : 1;
    if (x->exact != y->exact)
        return (int)x->exact - (int)y->exact;
    return (int)x->depth - (int)y->depth;
}

static bool get_bytes(struct ct_cursor *c, const uint8_t **p, uint32_t *len)
{
    uint64_t n;
    if (ct_get_bytes(c, p, &n) != 0 || n > 4096)
        return false;
    *len = (uint32_t)n;
    return true;
}

/* One SYMBOLS payload: count, then (pc, flags, function, file, line). */
static int parse_symbols(struct ct_cursor *c, struct ct_symtab *t, size_t *cap)
{
    uint64_t count;
    if (ct_get_uleb(c, &count) != 0)
        return 0;
    for (uint64_t i = 0; i < count; i++) {
        struct ct_symtab_entry e = {0};
        uint64_t flags, line;
        if (ct_get_uleb(c, &e.pc) != 0 || ct_get_uleb(c, &flags) != 0 ||
            !get_bytes(c, &e.function, &e.function_len) || !get_bytes(c, &e.file, &e.file_len) ||
            ct_get_uleb(c, &line) != 0 || line > UINT32_MAX)
            return 0; /* damaged: what was read is kept */
        e.line = (uint32_t)line;
        e.exact = flags & 1;
        e.depth = (uint8_t)((flags >> 1) & 0x3f);
        if (t->count == *cap) {
            size_t n = *cap ? *cap * 2 : 256;
            struct ct_symtab_entry *grown = realloc(t->entries, n * sizeof *grown);
            if (!grown)
                return -1;
            t->entries = grown;
            *cap = n;
        }
        t->entries[t->count++] = e;
    }
    return 0;
}

int ct_rd_symtab(const struct ct_reader *rd, struct ct_symtab *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    /* A reader that has read the whole trace knows where its SYMBOLS
     * records begin (`ctrace run` writes them after the last generation):
     * no walk over the file, whose pages would all come back. */
    uint64_t at = !rd->at_end ? CT_FILE_HEADER_SIZE : rd->symbols_off ? rd->symbols_off : rd->size;
    /* Record headers are read one by one (a few bytes each); the SYMBOLS
     * payloads are copied into blocks of the table's own, which the
     * entries point into, so that the table outlives the reader's buffer. */
    while (at + CT_RECORD_HEADER_SIZE <= rd->size) {
        uint8_t h[CT_RECORD_HEADER_SIZE];
        if (ct_rd_read_at(rd, at, h, sizeof h) != 0)
            break;
        uint32_t len = ct_get_u32(h + 4);
        /* A header that is not one (a file's zero tail, damage) ends the
         * walk: stepping through garbage twelve bytes at a time, one read
         * each, took 14 s over a 256 MB tail. */
        if (h[0] == 0 || h[0] >= CT_REC_MAX || h[1] || h[2] || h[3] ||
            len > rd->size - at - CT_RECORD_HEADER_SIZE)
            break;
        if (h[0] == CT_REC_SYMBOLS) {
            uint8_t **records = realloc(out->records, (out->nrecords + 1) * sizeof *records);
            uint8_t *payload = malloc(len ? len : 1);
            if (records)
                out->records = records;
            if (!records || !payload ||
                ct_rd_read_at(rd, at + CT_RECORD_HEADER_SIZE, payload, len) != 0) {
                free(payload);
                ct_symtab_free(out);
                return -1;
            }
            out->records[out->nrecords++] = payload;
            uint32_t crc = ct_crc32c(ct_crc32c(0, h, 8), payload, len);
            struct ct_cursor c = {payload, payload + len};
            if (!CHECKSUMS_DIFFER(crc, ct_get_u32(h + 8)) && parse_symbols(&c, out, &cap) != 0) {
                ct_symtab_free(out);
                return -1;
            }
        }
        at += CT_RECORD_HEADER_SIZE + (uint64_t)len;
    }
    if (out->count)
        qsort(out->entries, out->count, sizeof *out->entries, by_pc);
    return 0;
}

void ct_symtab_free(struct ct_symtab *t)
{
    for (size_t i = 0; i < t->nrecords; i++)
        free(t->records[i]);
    free(t->records);
    free(t->entries);
    memset(t, 0, sizeof *t);
}

const struct ct_symtab_entry *ct_symtab_find(const struct ct_symtab *t, uint64_t pc, bool exact)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->entries[mid].pc < pc || (t->entries[mid].pc == pc && t->entries[mid].exact < exact))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->count && t->entries[lo].pc == pc && t->entries[lo].exact == exact)
        return &t->entries[lo];
    return NULL;
}

