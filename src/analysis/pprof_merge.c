/*
 * pprof_merge.c - one profile from several (pprof_merge.h): the profiles
 * ct_pprof_write makes of a tree's processes, each symbolized against its
 * own process's modules, put together with their ids renumbered and their
 * strings in one table; each sample labelled with its process ("pid", a
 * number), which `go tool pprof -tagfocus=pid=N` selects.
 *
 * Only the fields of profile.proto that ct_pprof_write writes are read:
 * sample_type 1, sample 2 (location ids 1, values 2, labels 3), mapping 3,
 * location 4 (lines 4), function 5, string_table 6, duration 10,
 * period_type 11, period 12.
 */
#include "pprof_merge.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- bytes ---- */

struct buf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->failed || n == 0) /* nothing (p may be NULL: an empty field) */
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void varint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    put(b, tmp, n);
}

static void field_uint(struct buf *b, unsigned f, uint64_t v)
{
    varint(b, (uint64_t)f << 3);
    varint(b, v);
}

static void field_bytes(struct buf *b, unsigned f, const void *p, size_t n)
{
    varint(b, (uint64_t)f << 3 | 2);
    varint(b, n);
    put(b, p, n);
}

static void field_message(struct buf *b, unsigned f, struct buf *m)
{
    field_bytes(b, f, m->data, m->len);
    b->failed |= m->failed;
    m->len = 0;
}

/* One field of a message: its number, and a value or bytes. */
struct field {
    unsigned number, wire;
    uint64_t value;
    const uint8_t *bytes;
    size_t len;
};

static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

/* The next field at *p; false at the end or on bad input. */
static bool next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
    uint64_t key;
    if (*p >= end || !get_varint(p, end, &key))
        return false;
    f->number = (unsigned)(key >> 3);
    f->wire = (unsigned)(key & 7);
    f->bytes = NULL;
    f->len = 0;
    if (f->wire == 0)
        return get_varint(p, end, &f->value);
    if (f->wire == 2) {
        uint64_t n;
        if (!get_varint(p, end, &n) || n > (uint64_t)(end - *p))
            return false;
        f->bytes = *p;
        f->len = (size_t)n;
        *p += n;
        return true;
    }
    return false; /* not written by ct_pprof_write */
}

/* ---- the merged profile ---- */

struct ct_pprof_merge {
    struct buf body;     /* samples, mappings, locations, functions */
    char **strings;      /* the merged table */
    size_t nstrings, strings_cap;
    uint64_t next_mapping, next_location, next_function;
    struct buf head;     /* sample types, from the first profile */
    uint64_t duration, period;
    bool have_head, failed;
};

struct ct_pprof_merge *ct_pprof_merge_new(void)
{
    struct ct_pprof_merge *m = calloc(1, sizeof *m);
    if (m && ct_pprof_merge_string(m, "", 0) != 0) {
        ct_pprof_merge_free(m);
        return NULL;
    }
    return m;
}

uint64_t ct_pprof_merge_string(struct ct_pprof_merge *m, const char *s, size_t len)
{
    for (size_t i = 0; i < m->nstrings; i++)
        if (strlen(m->strings[i]) == len && memcmp(m->strings[i], s, len) == 0)
            return i;
    if (m->nstrings == m->strings_cap) {
        size_t cap = m->strings_cap ? m->strings_cap * 2 : 256;
        char **grown = realloc(m->strings, cap * sizeof *grown);
        if (!grown) {
            m->failed = true;
            return 0;
        }
        m->strings = grown;
        m->strings_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        m->failed = true;
        return 0;
    }
    memcpy(copy, s, len);
    copy[len] = 0;
    m->strings[m->nstrings] = copy;
    return m->nstrings++;
}

/* A profile's string table: indexes into the merged one. */
struct strmap {
    uint64_t *to;
    size_t n;
};

static uint64_t str(const struct strmap *sm, uint64_t i)
{
    return i < sm->n ? sm->to[i] : 0;
}

/* Copies message `bytes` (of which the fields in `strs` are string
 * indexes and those in `ids` ids to shift by the bases) into out. */
static void copy_message(struct buf *out, const uint8_t *p, size_t len, const struct strmap *sm,
                         const unsigned *strs, size_t nstrs, const unsigned *ids,
                         const uint64_t *bases, size_t nids)
{
    const uint8_t *end = p + len;
    struct field f;
    while (next_field(&p, end, &f)) {
        if (f.wire == 2) {
            field_bytes(out, f.number, f.bytes, f.len);
            continue;
        }
        uint64_t v = f.value;
        for (size_t i = 0; i < nstrs; i++)
            if (strs[i] == f.number)
                v = str(sm, v);
        for (size_t i = 0; i < nids; i++)
            if (ids[i] == f.number && v)
                v += bases[i];
        field_uint(out, f.number, v);
    }
}

static int inflate_all(const void *gz, size_t len, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return -1;
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)len;
    uint8_t chunk[65536];
    int rc;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        put(out, chunk, sizeof chunk - z.avail_out);
    } while (rc == Z_OK);
    inflateEnd(&z);
    return rc == Z_STREAM_END && !out->failed ? 0 : -1;
}

int ct_pprof_merge_add(struct ct_pprof_merge *m, const void *gz, size_t gz_len, uint64_t pid)
{
    struct buf raw = {0};
    if (inflate_all(gz, gz_len, &raw) != 0) {
        free(raw.data);
        return -1;
    }
    const uint8_t *p, *end = raw.data + raw.len;
    struct field f;
    /* The string table first: every other message refers to it. */
    struct strmap sm = {0};
    for (p = raw.data; next_field(&p, end, &f);)
        sm.n += f.number == 6;
    sm.to = calloc(sm.n ? sm.n : 1, sizeof *sm.to);
    if (!sm.to) {
        free(raw.data);
        return -1;
    }
    size_t k = 0;
    for (p = raw.data; next_field(&p, end, &f);)
        if (f.number == 6)
            sm.to[k++] = ct_pprof_merge_string(m, (const char *)f.bytes, f.len);
    uint64_t pid_key = ct_pprof_merge_string(m, "pid", 3);
    uint64_t max_mapping = 0, max_location = 0, max_function = 0;
    struct buf msg = {0}, packed = {0};
    for (p = raw.data; next_field(&p, end, &f);) {
        switch (f.number) {
        case 1: /* sample_type, period_type: as the first profile has them */
        case 11:
            if (!m->have_head) {
                static const unsigned value_type[] = {1, 2};
                copy_message(&msg, f.bytes, f.len, &sm, value_type, 2, NULL, NULL, 0);
                field_message(&m->head, f.number, &msg);
            }
            break;
        case 2: { /* a sample: location ids shifted, a pid label added */
            const uint8_t *q = f.bytes, *qend = f.bytes + f.len;
            struct field s;
            while (next_field(&q, qend, &s)) {
                if (s.number == 1) {
                    packed.len = 0;
                    const uint8_t *r = s.bytes, *rend = s.bytes + s.len;
                    uint64_t id;
                    if (s.wire == 0)
                        varint(&packed, s.value + m->next_location);
                    while (s.wire == 2 && r < rend && get_varint(&r, rend, &id))
                        varint(&packed, id + m->next_location);
                    field_bytes(&msg, 1, packed.data, packed.len);
                } else if (s.wire == 2) {
                    field_bytes(&msg, s.number, s.bytes, s.len);
                } else {
                    field_uint(&msg, s.number, s.value);
                }
            }
            struct buf label = {0};
            field_uint(&label, 1, pid_key);
            field_uint(&label, 3, pid);
            field_message(&msg, 3, &label);
            free(label.data);
            field_message(&m->body, 2, &msg);
            break;
        }
        case 3: { /* mapping: id; filename, build_id */
            static const unsigned strs[] = {5, 6}, ids[] = {1};
            uint64_t bases[] = {m->next_mapping};
            copy_message(&msg, f.bytes, f.len, &sm, strs, 2, ids, bases, 1);
            field_message(&m->body, 3, &msg);
            max_mapping++;
            break;
        }
        case 4: { /* location: id, mapping id; lines: function ids */
            const uint8_t *q = f.bytes, *qend = f.bytes + f.len;
            struct field s;
            while (next_field(&q, qend, &s)) {
                if (s.number == 4 && s.wire == 2) {
                    static const unsigned ids[] = {1};
                    uint64_t bases[] = {m->next_function};
                    struct buf line = {0};
                    copy_message(&line, s.bytes, s.len, &sm, NULL, 0, ids, bases, 1);
                    field_message(&msg, 4, &line);
                    free(line.data);
                } else if (s.wire == 0) {
                    uint64_t v = s.value;
                    if (s.number == 1)
                        v += m->next_location;
                    else if (s.number == 2 && v)
                        v += m->next_mapping;
                    field_uint(&msg, s.number, v);
                }
            }
            field_message(&m->body, 4, &msg);
            max_location++;
            break;
        }
        case 5: { /* function: id; name, system name, file */
            static const unsigned strs[] = {2, 3, 4}, ids[] = {1};
            uint64_t bases[] = {m->next_function};
            copy_message(&msg, f.bytes, f.len, &sm, strs, 3, ids, bases, 1);
            field_message(&m->body, 5, &msg);
            max_function++;
            break;
        }
        case 10:
            if (f.value > m->duration)
                m->duration = f.value;
            break;
        case 12:
            m->period = f.value;
            break;
        }
    }
    /* Ids are 1..count in each profile (ct_pprof_write numbers them so). */
    m->next_mapping += max_mapping;
    m->next_location += max_location;
    m->next_function += max_function;
    m->have_head = true;
    bool failed = msg.failed || packed.failed || m->body.failed || m->head.failed;
    free(msg.data);
    free(packed.data);
    free(sm.to);
    free(raw.data);
    return failed || m->failed ? -1 : 0;
}

int ct_pprof_merge_write(struct ct_pprof_merge *m, FILE *out)
{
    struct buf all = {0};
    const uint8_t *p = m->head.data, *end = m->head.data + m->head.len;
    struct field f;
    /* sample types first (field 1), then the body, then the rest. */
    while (next_field(&p, end, &f))
        if (f.number == 1)
            field_bytes(&all, 1, f.bytes, f.len);
    put(&all, m->body.data, m->body.len);
    for (size_t i = 0; i < m->nstrings; i++)
        field_bytes(&all, 6, m->strings[i], strlen(m->strings[i]));
    field_uint(&all, 10, m->duration);
    for (p = m->head.data; next_field(&p, end, &f);)
        if (f.number == 11)
            field_bytes(&all, 11, f.bytes, f.len);
    field_uint(&all, 12, m->period ? m->period : 1);
    int rc = all.failed ? -1 : 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (rc == 0 && deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                Z_DEFAULT_STRATEGY) != Z_OK)
        rc = -1;
    if (rc == 0) {
        uint8_t chunk[65536];
        z.next_in = all.data;
        z.avail_in = (uInt)all.len;
        int zrc;
        do {
            z.next_out = chunk;
            z.avail_out = sizeof chunk;
            zrc = deflate(&z, Z_FINISH);
            size_t n = sizeof chunk - z.avail_out;
            if (n && fwrite(chunk, 1, n, out) != n)
                zrc = Z_ERRNO;
        } while (zrc == Z_OK);
        deflateEnd(&z);
        rc = zrc == Z_STREAM_END ? 0 : -1;
    }
    free(all.data);
    return rc;
}

void ct_pprof_merge_free(struct ct_pprof_merge *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nstrings; i++)
        free(m->strings[i]);
    free(m->strings);
    free(m->body.data);
    free(m->head.data);
    free(m);
}
