/*
 * reader.c - the trace reader (see reader.h and docs/format.md).
 *
 * Every length read from the file is checked against the bytes that remain
 * before it is used, and every count against the smallest size its entries
 * could have before anything is allocated for it, so a hostile file can
 * neither make the reader read out of bounds nor allocate more than a small
 * multiple of the file's own size. Where the bytes come from (a mapping,
 * memory, or pread into a buffer) is file.c's; the skim is skim.c's.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "reader_impl.h"

bool ct_rd_strict;

int ct_rd_fail(struct ct_reader *rd, uint64_t offset, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(rd->error, sizeof rd->error, "%s: byte %llu: %s", rd->path,
             (unsigned long long)offset, what);
    rd->error_off = offset;
    rd->failed = true;
    return -1;
}

/* ---- id maps ---- */

void ct_idmap_free(struct ct_idmap *map)
{
    free(map->entries);
    memset(map, 0, sizeof *map);
}

static uint64_t mix(uint64_t id)
{
    id *= 0x9E3779B97F4A7C15u;
    return id ^ (id >> 29);
}

const struct ct_idmap_entry *ct_idmap_get(const struct ct_idmap *map, uint64_t id)
{
    if (!map->cap || id == 0)
        return NULL;
    for (size_t i = mix(id) & (map->cap - 1);; i = (i + 1) & (map->cap - 1)) {
        if (map->entries[i].id == id)
            return &map->entries[i];
        if (map->entries[i].id == 0)
            return NULL;
    }
}

struct ct_idmap_entry *ct_idmap_put(struct ct_idmap *map, uint64_t id, bool *added)
{
    if ((map->count + 1) * 4 > map->cap * 3) {
        size_t cap = map->cap ? map->cap * 2 : 64;
        struct ct_idmap_entry *e = calloc(cap, sizeof *e);
        if (!e)
            return NULL;
        for (size_t i = 0; i < map->cap; i++) {
            if (!map->entries[i].id)
                continue;
            size_t j = mix(map->entries[i].id) & (cap - 1);
            while (e[j].id)
                j = (j + 1) & (cap - 1);
            e[j] = map->entries[i];
        }
        free(map->entries);
        map->entries = e;
        map->cap = cap;
    }
    size_t i = mix(id) & (map->cap - 1);
    while (map->entries[i].id && map->entries[i].id != id)
        i = (i + 1) & (map->cap - 1);
    *added = map->entries[i].id == 0;
    if (*added) {
        map->entries[i].id = id;
        map->count++;
    }
    return &map->entries[i];
}

/* ---- generations ---- */

void ct_gen_free(struct ct_gen *gen)
{
    free(gen->threads);
    free(gen->modules);
    free(gen->batches);
    free(gen->lost);
    ct_idmap_free(&gen->strings);
    ct_idmap_free(&gen->stacks);
    ct_idmap_free(&gen->thread_index);
    memset(gen, 0, sizeof *gen);
}

/* Fills kind->names from "a,b,c"; false when the list does not fit or does
 * not name every argument. */
static bool split_names(struct ct_kind *kind, const uint8_t *names, uint64_t len)
{
    memset(kind->names, 0, sizeof kind->names);
    size_t n = 0, at = 0;
    for (uint64_t i = 0; i < len; i++) {
        if (names[i] == ',') {
            if (++n >= CT_MAX_ARGS)
                return false;
            at = 0;
        } else if (at < sizeof kind->names[0] - 1 && names[i] > ' ' && names[i] < 127) {
            kind->names[n][at++] = (char)names[i];
        } else {
            return false;
        }
    }
    return len == 0 ? strlen(kind->args) == 0 : n + 1 == strlen(kind->args);
}

/* What decoding needs of a kind's letters, worked out once. */
static void derive(struct ct_kind *kind)
{
    kind->nargs = (uint8_t)strlen(kind->args);
    kind->has_task = strchr(kind->args, 'a') != NULL;
    kind->has_stack = kind->nargs > 0 && kind->args[kind->nargs - 1] == 'k';
    for (unsigned flags = 0; flags < 4; flags++) {
        bool stack = flags & 1, same_task = flags & 2;
        uint8_t n = 0;
        bool ok = true;
        for (unsigned i = 0; i < kind->nargs && ok; i++) {
            switch (kind->args[i]) {
            case 'k':
                if (stack)
                    kind->plan[flags][n++] = SKIM_STACK;
                break;
            case 's':
                kind->plan[flags][n++] = SKIM_STRING;
                break;
            case 'a':
                if (!same_task)
                    kind->plan[flags][n++] = SKIM_TASK;
                break;
            case 'b':
                kind->plan[flags][n++] = SKIM_BYTES;
                break;
            case 'f':
                ok = false;
                break;
            default:
                kind->plan[flags][n++] = SKIM_PLAIN;
                break;
            }
        }
        kind->plan[flags][n] = 0;
        kind->plan_len[flags] = ok ? n + 1 : 0; /* + 1: 0 is "not skimmed" */
    }
}

/* The reader's own table for kinds a file has no schema for. */
static void default_kinds(struct ct_gen *gen)
{
    for (unsigned k = 0; k < CT_MAX_KINDS; k++) {
        const struct ct_event_info *e = &ct_event_table[k];
        if (!e->name)
            continue;
        struct ct_kind *kind = &gen->kinds[k];
        kind->defined = kind->known = true;
        kind->timed = e->timed;
        snprintf(kind->name, sizeof kind->name, "%s", e->name);
        snprintf(kind->args, sizeof kind->args, "%s", e->args);
        split_names(kind, (const uint8_t *)e->names, strlen(e->names));
        derive(kind);
    }
}

#define GET(c, v, what)                                                       \
    do {                                                                      \
        if (ct_get_uleb((c), (v)) != 0)                                       \
            return fail(rd, ct_rd_offset(rd, (c)->p), "bad or missing %s", what); \
    } while (0)
#define GET_BYTES(c, ptr, n, what)                                            \
    do {                                                                      \
        if (ct_get_bytes((c), (ptr), (n)) != 0)                               \
            return fail(rd, ct_rd_offset(rd, (c)->p), "bad or missing %s", what); \
    } while (0)

/* An argument list is well formed: known letters, a stack only last, at
 * most one task, a parent only after it. */
static bool valid_args(const uint8_t *args, uint64_t len)
{
    if (len > CT_MAX_ARGS)
        return false;
    bool task = false;
    for (uint64_t i = 0; i < len; i++) {
        if (!args[i] || !strchr("uisbTfkap", args[i]))
            return false;
        if (args[i] == 'k' && i != len - 1)
            return false;
        if (args[i] == 'p' && !task)
            return false;
        if (args[i] == 'a') {
            if (task)
                return false;
            task = true;
        }
    }
    return true;
}

static int read_schema(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c)
{
    uint64_t count;
    GET(c, &count, "schema entry count");
    if (count > CT_MAX_KINDS)
        return fail(rd, ct_rd_offset(rd, c->p), "%llu event kinds, at most %d expected",
                    (unsigned long long)count, CT_MAX_KINDS);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t id, timed, name_len, args_len, names_len;
        const uint8_t *name, *args, *names;
        const uint8_t *at = c->p;
        GET(c, &id, "event kind id");
        GET(c, &timed, "event kind timing flag");
        GET_BYTES(c, &name, &name_len, "event kind name");
        GET_BYTES(c, &args, &args_len, "event kind arguments");
        GET_BYTES(c, &names, &names_len, "event kind argument names");
        if (id == 0 || id >= CT_MAX_KINDS || timed > 1 || name_len == 0 || name_len > 31 ||
            !valid_args(args, args_len))
            return fail(rd, ct_rd_offset(rd, at), "malformed schema entry for event kind %llu",
                        (unsigned long long)id);
        struct ct_kind *kind = &gen->kinds[id];
        if (kind->known) {
            if (kind->timed != timed || strlen(kind->args) != args_len ||
                memcmp(kind->args, args, args_len) != 0)
                return fail(rd, ct_rd_offset(rd, at),
                            "event kind %llu (%s) has arguments '%.*s' in the file, "
                            "expected '%s'",
                            (unsigned long long)id, kind->name, (int)args_len, args,
                            kind->args);
            continue;
        }
        kind->defined = true;
        kind->timed = (uint8_t)timed;
        memcpy(kind->name, name, name_len);
        kind->name[name_len] = 0;
        memcpy(kind->args, args, args_len);
        kind->args[args_len] = 0;
        if (!split_names(kind, names, names_len))
            return fail(rd, ct_rd_offset(rd, at), "bad argument names for event kind %llu",
                        (unsigned long long)id);
        derive(kind);
    }
    return 0;
}

static int read_process(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c)
{
    /* Read whole into a copy: a record that fails halfway must not leave
     * a generation's process half overwritten (its bytes from one record,
     * its lengths from another). */
    struct ct_rd_process copy = {0}, *p = &copy;
    GET(c, &p->pid, "pid");
    GET(c, &p->ppid, "parent pid");
    GET(c, &p->start_mono_ns, "start time");
    GET(c, &p->start_real_ns, "wall-clock start time");
    GET(c, &p->ncpu, "CPU count");
    GET(c, &p->clock_hz, "clock frequency");
    GET(c, &p->shift, "clock shift");
    GET(c, &p->tsc, "clock kind");
    GET_BYTES(c, &p->host, &p->host_len, "host name");
    GET_BYTES(c, &p->exe, &p->exe_len, "executable path");
    GET_BYTES(c, &p->cmdline, &p->cmdline_len, "command line");
    p->sched = 0;
    if (c->p < c->end) /* added in 1.0 after the first files: optional */
        GET(c, &p->sched, "scheduling source");
    p->frame_pointers = 0;
    if (c->p < c->end) /* since 1.6 */
        GET(c, &p->frame_pointers, "frame pointer flag");
    gen->process = copy;
    gen->has_process = true;
    if (!rd->have_start) {
        rd->have_start = true;
        rd->start_mono_ns = p->start_mono_ns;
    }
    return 0;
}

/* Reads a counted list whose entries take at least min_size bytes each. */
static int read_count(struct ct_reader *rd, struct ct_cursor *c, uint64_t min_size,
                      const char *what, uint64_t *count)
{
    GET(c, count, what);
    if (*count > (uint64_t)(c->end - c->p) / min_size)
        return fail(rd, ct_rd_offset(rd, c->p), "%llu %s cannot fit in the %llu bytes left",
                    (unsigned long long)*count, what, (unsigned long long)(c->end - c->p));
    return 0;
}

static int read_modules(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c)
{
    uint64_t count;
    if (read_count(rd, c, 5, "modules", &count) != 0)
        return -1;
    struct ct_rd_module *m = calloc(count ? count : 1, sizeof *m);
    if (!m)
        return fail(rd, ct_rd_offset(rd, c->p), "out of memory");
    free(gen->modules);
    gen->modules = m;
    gen->nmodules = 0;
    for (uint64_t i = 0; i < count; i++, m++) {
        GET_BYTES(c, &m->path, &m->path_len, "module path");
        GET(c, &m->start, "module start");
        GET(c, &m->size, "module size");
        GET(c, &m->bias, "module load bias");
        GET_BYTES(c, &m->build_id, &m->build_id_len, "module build-id");
        gen->nmodules++;
    }
    return 0;
}

static int read_threads(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c)
{
    uint64_t count;
    if (read_count(rd, c, 3, "threads", &count) != 0)
        return -1;
    if (count > SIZE_MAX / sizeof(struct ct_rd_thread) - gen->nthreads - 1)
        return fail(rd, ct_rd_offset(rd, c->p), "too many threads");
    struct ct_rd_thread *t = realloc(gen->threads, (gen->nthreads + count + 1) * sizeof *t);
    if (!t)
        return fail(rd, ct_rd_offset(rd, c->p), "out of memory");
    gen->threads = t;
    for (uint64_t i = 0; i < count; i++) {
        struct ct_rd_thread e;
        GET(c, &e.tid, "thread id");
        GET(c, &e.flags, "thread flags");
        GET_BYTES(c, &e.name, &e.name_len, "thread name");
        if (e.tid == UINT64_MAX)
            return fail(rd, ct_rd_offset(rd, c->p), "thread id out of range");
        /* A later table's entry for a thread replaces the earlier one. */
        bool added;
        struct ct_idmap_entry *slot = ct_idmap_put(&gen->thread_index, e.tid + 1, &added);
        if (!slot)
            return fail(rd, ct_rd_offset(rd, c->p), "out of memory");
        if (added)
            slot->len = gen->nthreads++;
        gen->threads[slot->len] = e;
    }
    return 0;
}

static int read_batch(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c,
                      uint64_t record)
{
    struct ct_rd_batch b = {.offset = record};
    GET(c, &b.tid, "batch thread id");
    GET(c, &b.base_ts, "batch base time");
    b.events = c->p;
    b.end = c->end;
    if (gen->nbatches == gen->batches_cap) {
        size_t cap = gen->batches_cap ? gen->batches_cap * 2 : 64;
        struct ct_rd_batch *n = realloc(gen->batches, cap * sizeof *n);
        if (!n)
            return fail(rd, record, "out of memory");
        gen->batches = n;
        gen->batches_cap = cap;
    }
    gen->batches[gen->nbatches++] = b;
    return 0;
}

static int read_lost(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c)
{
    struct ct_rd_lost l;
    GET(c, &l.tid, "thread id");
    GET(c, &l.count, "lost event count");
    GET(c, &l.first, "first lost time");
    GET(c, &l.last, "last lost time");
    if (gen->nlost == gen->lost_cap) {
        size_t cap = gen->lost_cap ? gen->lost_cap * 2 : 16;
        struct ct_rd_lost *n = realloc(gen->lost, cap * sizeof *n);
        if (!n)
            return fail(rd, ct_rd_offset(rd, c->p), "out of memory");
        gen->lost = n;
        gen->lost_cap = cap;
    }
    gen->lost[gen->nlost++] = l;
    return 0;
}

static void symbols_damaged(struct ct_reader *rd, uint64_t at)
{
    if (!rd->symbols_warning[0])
        snprintf(rd->symbols_warning, sizeof rd->symbols_warning,
                 "%s: byte %llu: the embedded symbols are damaged and left out; names come "
                 "from the modules' files, or are module+offset",
                 rd->path, (unsigned long long)at);
}

/* After the last generation, the records up to END can only be SYMBOLS:
 * when one of them is damaged so that it cannot even be stepped over (its
 * header), and the file ends with a whole END record that counts exactly
 * the generations read, the damage is stepped over to that END. 1 when it
 * was: rd->off is then the END's (loaded, when streamed). */
static int resync_to_end(struct ct_reader *rd, uint64_t at)
{
    uint8_t tail[CT_RECORD_HEADER_SIZE + CT_LEB_MAX];
    if (rd->size - at < CT_RECORD_HEADER_SIZE + 1)
        return 0;
    size_t len = rd->size - at < sizeof tail ? (size_t)(rd->size - at) : sizeof tail;
    if (ct_rd_read_at(rd, rd->size - len, tail, len) != 0)
        return 0;
    for (unsigned n = 1; n <= CT_LEB_MAX && CT_RECORD_HEADER_SIZE + n <= len; n++) {
        const uint8_t *h = tail + len - CT_RECORD_HEADER_SIZE - n;
        struct ct_cursor c = {h + CT_RECORD_HEADER_SIZE, h + CT_RECORD_HEADER_SIZE + n};
        uint64_t count;
        if (h[0] != CT_REC_END || h[1] || h[2] || h[3] || ct_get_u32(h + 4) != n ||
            CHECKSUMS_DIFFER(ct_crc32c(ct_crc32c(0, h, 8), c.p, n), ct_get_u32(h + 8)) ||
            ct_get_uleb(&c, &count) != 0 || c.p != c.end || count != rd->generations)
            continue;
        symbols_damaged(rd, at);
        rd->off = rd->size - CT_RECORD_HEADER_SIZE - n;
        rd->failed = false;
        return ct_rd_load_span(rd) == 0 ? 1 : 0;
    }
    return 0;
}

/* Reads one record's header; 1 with the payload in *c, 0 at a clean end of
 * the data, -1 on error. */
static int next_record(struct ct_reader *rd, unsigned *type, struct ct_cursor *c)
{
    uint64_t at = rd->off;
    if (at == rd->size)
        return 0;
    if (rd->size - at < CT_RECORD_HEADER_SIZE)
        return fail(rd, at, "file ends inside a record header (%llu of %d bytes)",
                    (unsigned long long)(rd->size - at), CT_RECORD_HEADER_SIZE);
    const uint8_t *h = ct_rd_at(rd, at);
    *type = h[0];
    uint32_t len = ct_get_u32(h + 4);
    if (*type == 0 || *type >= CT_REC_MAX || h[1] || h[2] || h[3])
        return fail(rd, at, "unknown record type %u (expected 1-%d, then 3 zero bytes)",
                    *type, CT_REC_MAX - 1);
    if (len > CT_MAX_RECORD)
        return fail(rd, at + 4, "record length %u exceeds the limit of %u", len,
                    CT_MAX_RECORD);
    if (len > rd->size - at - CT_RECORD_HEADER_SIZE)
        return fail(rd, at + 4, "file ends inside a %s record: %u bytes expected, %llu remain",
                    ct_record_name(*type), len,
                    (unsigned long long)(rd->size - at - CT_RECORD_HEADER_SIZE));
    bool check = !rd->checked &&
                 !(*type == CT_REC_BATCH && ct_rd_skipped(rd, h + CT_RECORD_HEADER_SIZE, len));
    uint32_t crc = check ? ct_crc32c(0, h, 8) : 0;
    if (check)
        crc = ct_crc32c(crc, h + CT_RECORD_HEADER_SIZE, len);
    if (check && CHECKSUMS_DIFFER(crc, ct_get_u32(h + 8))) {
        if (*type != CT_REC_SYMBOLS)
            return fail(rd, at, "checksum mismatch in a %s record of %u bytes (corrupted)",
                        ct_record_name(*type), len);
        /* Names only: the events are all elsewhere (ct_rd_symtab leaves
         * it out too). */
        symbols_damaged(rd, at);
    }
    c->p = h + CT_RECORD_HEADER_SIZE;
    c->end = c->p + len;
    rd->off = at + CT_RECORD_HEADER_SIZE + len;
    return 1;
}

static int read_gen_begin(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c)
{
    GET(c, &gen->number, "generation number");
    GET(c, &gen->base_units, "generation base time");
    GET(c, &gen->base_mono_ns, "generation base clock");
    GET(c, &gen->base_real_ns, "generation base wall clock");
    GET(c, &gen->q32, "clock calibration");
    if (gen->q32 == 0)
        return fail(rd, ct_rd_offset(rd, c->p), "clock calibration is zero");
    gen->prev_q32 = 0;
    if (c->p < c->end) /* a later field, optional */
        GET(c, &gen->prev_q32, "previous generation's clock rate");
    return 0;
}

static int read_gen_end(struct ct_reader *rd, struct ct_gen *gen, struct ct_cursor *c)
{
    uint64_t number;
    GET(c, &number, "generation number");
    GET(c, &gen->end_units, "generation end time");
    GET(c, &gen->end_mono_ns, "generation end clock");
    GET(c, &gen->end_batches, "generation batch count");
    GET(c, &gen->end_lost, "generation lost count");
    if (c->p < c->end) /* a later field, optional */
        GET(c, &gen->refs_dropped, "dropped reference count");
    gen->cfi_stacks = gen->cfi_units = gen->switches = gen->batch_lost = 0;
    if (c->p < c->end) { /* since 1.6 */
        GET(c, &gen->cfi_stacks, "count of stacks unwound from .eh_frame");
        GET(c, &gen->cfi_units, "time of stacks unwound from .eh_frame");
    }
    if (c->p < c->end) /* since 1.7 */
        GET(c, &gen->switches, "count of context switches");
    if (c->p < c->end) /* since 1.8 */
        GET(c, &gen->batch_lost, "count of events lost in batches");
    if (number != gen->number)
        return fail(rd, ct_rd_offset(rd, c->p), "end of generation %llu inside generation %llu",
                    (unsigned long long)number, (unsigned long long)gen->number);
    if (gen->end_batches != gen->nbatches)
        return fail(rd, ct_rd_offset(rd, c->p), "generation %llu has %zu batches, its end says %llu",
                    (unsigned long long)number, gen->nbatches,
                    (unsigned long long)gen->end_batches);
    /* The generation's own clock readings give its exact rate. */
    gen->q32 = ct_gen_rate(gen->base_units, gen->base_mono_ns, gen->end_units, gen->end_mono_ns,
                           gen->q32);
    gen->complete = true;
    return 0;
}

static int dispatch(struct ct_reader *rd, struct ct_gen *gen, unsigned type, struct ct_cursor *c,
                    uint64_t at)
{
    switch (type) {
    case CT_REC_SCHEMA:
        return read_schema(rd, gen, c);
    case CT_REC_PROCESS:
        return read_process(rd, gen, c);
    case CT_REC_MODULES:
        return read_modules(rd, gen, c);
    case CT_REC_THREADS:
        return read_threads(rd, gen, c);
    case CT_REC_BATCH:
        return read_batch(rd, gen, c, at);
    case CT_REC_LOST:
        return read_lost(rd, gen, c);
    case CT_REC_GEN_END:
        return read_gen_end(rd, gen, c);
    }
    return fail(rd, at, "a %s record inside a generation", ct_record_name(type));
}

/* Gives back the mapped pages of everything before `upto`: the kernel keeps
 * them in its page cache, but they leave this process's resident set, so
 * reading a trace of any size holds about one generation of it. */
static void release_before(struct ct_reader *rd, uint64_t upto)
{
    if (!rd->mapped)
        return; /* streamed: its one buffer is reused */
    uint64_t page = 4096, from = rd->released & ~(page - 1), to = upto & ~(page - 1);
    if (to > from)
        madvise((void *)(rd->data + from), to - from, MADV_DONTNEED);
    if (to > rd->released)
        rd->released = to;
}

int ct_rd_next_gen(struct ct_reader *rd, struct ct_gen *gen)
{
    ct_gen_free(gen);
    release_before(rd, rd->off);
    if (rd->failed || rd->pending_error) {
        rd->failed = true;
        return -1;
    }
    if (rd->at_end)
        return 0;
    if (ct_rd_load_span(rd) != 0)
        return -1;
    unsigned type;
    struct ct_cursor c;
    uint64_t at, first_symbols = UINT64_MAX;
    int r;
    do { /* SYMBOLS records between generations are read by ct_rd_symtab */
        at = rd->off;
        r = next_record(rd, &type, &c);
        if (r > 0 && type != CT_REC_SYMBOLS && type != CT_REC_END && type != CT_REC_GEN_BEGIN)
            r = fail(rd, at, "a %s record where a generation should begin",
                     ct_record_name(type));
        /* A damaged length may have stepped past the END's start: the
         * search for it begins at the first SYMBOLS record. */
        if (r < 0 && resync_to_end(rd, at < first_symbols ? at : first_symbols) == 1) {
            rd->error[0] = 0;
            type = CT_REC_SYMBOLS;
            continue;
        }
        if (r <= 0) {
            if (r == 0)
                snprintf(rd->warning, sizeof rd->warning,
                         "%s: byte %llu: the trace has no end record (the program may have "
                         "stopped while tracing); read up to its last complete record",
                         rd->path, (unsigned long long)at);
            return r;
        }
        if (type == CT_REC_SYMBOLS && !rd->symbols_off)
            rd->symbols_off = at;
        if (type == CT_REC_SYMBOLS && first_symbols == UINT64_MAX)
            first_symbols = at;
    } while (type == CT_REC_SYMBOLS);
    if (type == CT_REC_END) {
        uint64_t count;
        rd->end_off = at;
        GET(&c, &count, "generation count");
        if (rd->off != rd->size)
            return fail(rd, rd->off, "%llu bytes after the end record",
                        (unsigned long long)(rd->size - rd->off));
        rd->at_end = true;
        return 0;
    }
    if (type != CT_REC_GEN_BEGIN)
        return fail(rd, at, "a %s record where a generation should begin",
                    ct_record_name(type));
    default_kinds(gen);
    gen->offset = at;
    if (read_gen_begin(rd, gen, &c) != 0)
        return -1;
    while (!gen->complete) {
        at = rd->off;
        r = next_record(rd, &type, &c);
        if (r == 0 && ct_rd_strict) {
            ct_rd_fail(rd, at, "the trace ends inside generation %llu, before its end record",
                       (unsigned long long)gen->number);
            rd->failed = false;
            rd->pending_error = true;
            break;
        }
        if (r == 0) {
            snprintf(rd->warning, sizeof rd->warning,
                     "%s: byte %llu: the trace ends inside generation %llu (the program "
                     "may have stopped while tracing); read up to its last complete batch",
                     rd->path, (unsigned long long)at, (unsigned long long)gen->number);
            rd->at_end = true;
            break;
        }
        if (r < 0 || dispatch(rd, gen, type, &c, at) != 0) {
            /* Give what was read; report the error on the next call. */
            rd->failed = false;
            rd->pending_error = true;
            break;
        }
    }
    gen->end_offset = rd->off;
    rd->generations++;
    if (!rd->have_start) {
        rd->have_start = true;
        rd->start_mono_ns = gen->base_mono_ns;
    }
    return 1;
}

/* ---- events ---- */

int ct_rd_gen_at(struct ct_reader *rd, uint64_t offset, struct ct_gen *gen)
{
    if (rd->streamed || offset >= rd->size)
        return fail(rd, offset, "a generation to read again (the reader holds no such byte)");
    rd->off = offset;
    rd->at_end = rd->failed = rd->pending_error = false;
    rd->error[0] = 0;
    return ct_rd_next_gen(rd, gen);
}

void ct_rd_events(struct ct_gen *gen, size_t batch, struct ct_event_iter *it)
{
    it->gen = gen;
    it->batch = &gen->batches[batch];
    it->c.p = it->batch->events;
    it->c.end = it->batch->end;
    it->ts = it->batch->base_ts;
    it->last_task = 0;
    memset(it->known_strings, 0, sizeof it->known_strings);
    memset(it->known_stacks, 0, sizeof it->known_stacks);
}

int ct_rd_frames(const uint8_t *data, const uint8_t *end, uint64_t n, uint64_t *pcs, size_t max)
{
    struct ct_cursor c = {data, end};
    uint64_t pc = 0;
    size_t i = 0;
    for (; i < n && i < max; i++) {
        uint64_t v;
        if (ct_get_uleb(&c, &v) != 0)
            return -1;
        pc += (uint64_t)ct_unzigzag(v);
        pcs[i] = pc;
    }
    return (int)i;
}

static int define(struct ct_reader *rd, struct ct_gen *gen, struct ct_event *ev,
                  const uint8_t *end)
{
    bool string = ev->kind == CT_EV_STRING;
    uint64_t id = ev->args[0];
    if (id == 0)
        return fail(rd, ev->offset, "%s definition with id 0", string ? "string" : "stack");
    struct ct_idmap *map = string ? &gen->strings : &gen->stacks;
    bool added;
    struct ct_idmap_entry *e = ct_idmap_put(map, id, &added);
    if (!e)
        return fail(rd, ev->offset, "out of memory");
    const uint8_t *data = string ? ev->bytes : ev->frames;
    uint64_t len = string ? ev->bytes_len : ev->nframes;
    if (added) {
        e->data = data;
        e->len = len;
        e->end = end;
    } else if (e->len != len || (size_t)(e->end - e->data) != (size_t)(end - data) ||
               memcmp(e->data, data, (size_t)(end - data)) != 0) {
        gen->conflicts++; /* keep the first; counted for reports */
    }
    return 0;
}

int ct_rd_next_event(struct ct_reader *rd, struct ct_event_iter *it, struct ct_event *ev)
{
    struct ct_cursor *c = &it->c;
    if (c->p >= c->end)
        return 0;
    struct ct_gen *gen = it->gen;
    ev->offset = ct_rd_offset(rd, c->p);
    uint8_t byte = *c->p++;
    ev->kind = byte & CT_KIND_MASK;
    const struct ct_kind *kind = &gen->kinds[ev->kind];
    if (!kind->defined)
        return fail(rd, ev->offset, "unknown event kind %u (not in the generation's schema)",
                    ev->kind);
    bool has_stack = byte & CT_KIND_STACK, same_task = byte & CT_KIND_SAME_TASK;
    size_t nargs = kind->nargs;
    if (has_stack && !kind->has_stack)
        return fail(rd, ev->offset, "%s event with a stack flag it cannot carry", kind->name);
    if (same_task && !kind->has_task)
        return fail(rd, ev->offset, "%s event with a same-task flag but no task", kind->name);
    uint64_t task = 0;
    ev->tid = it->batch->tid;
    ev->timed = kind->timed;
    ev->nargs = 0;
    ev->bytes = ev->frames = ev->frames_end = NULL;
    ev->bytes_len = ev->nframes = 0;
    ev->stack = 0;
    if (kind->timed) {
        uint64_t delta;
        GET(c, &delta, "timestamp delta");
        if (delta > UINT64_MAX - it->ts)
            return fail(rd, ev->offset, "timestamp overflows");
        it->ts += delta;
    }
    ev->ts = it->ts;
    ev->ts_ns = ct_gen_ns(rd, gen, it->ts);
    const uint8_t *frames_end = NULL;
    for (size_t i = 0; i < nargs; i++) {
        uint64_t v = 0;
        switch (kind->args[i]) {
        case 'k':
            if (!has_stack)
                break;
            GET(c, &v, "stack id");
            /* Tables only grow within a generation: an id found once is
             * defined for the rest of the batch. */
            if (v && v != it->known_stacks[v & 15]) {
                if (!ct_idmap_get(&gen->stacks, v))
                    return fail(rd, ev->offset, "%s event uses stack %llu, which is not defined",
                                kind->name, (unsigned long long)v);
                it->known_stacks[v & 15] = v;
            }
            ev->stack = v;
            break;
        case 's':
            GET(c, &v, "string id");
            if (v && v != it->known_strings[v & 15]) {
                if (!ct_idmap_get(&gen->strings, v))
                    return fail(rd, ev->offset, "%s event uses string %llu, which is not defined",
                                kind->name, (unsigned long long)v);
                it->known_strings[v & 15] = v;
            }
            break;
        case 'b':
            GET_BYTES(c, &ev->bytes, &ev->bytes_len, "byte string");
            v = ev->bytes_len;
            break;
        case 'a':
            if (!same_task) {
                GET(c, &v, "task id");
                it->last_task += (uint64_t)ct_unzigzag(v);
            }
            v = task = it->last_task;
            break;
        case 'p':
            GET(c, &v, "parent task id");
            if (v)
                v = task - (uint64_t)ct_unzigzag(v);
            break;
        case 'f':
            GET(c, &v, "frame count");
            if (v == 0 || v > CT_MAX_FRAMES)
                return fail(rd, ev->offset, "stack of %llu frames (expected 1-%d)",
                            (unsigned long long)v, CT_MAX_FRAMES);
            ev->frames = c->p;
            ev->nframes = v;
            for (uint64_t f = 0; f < v; f++) {
                uint64_t d;
                GET(c, &d, "frame");
            }
            frames_end = ev->frames_end = c->p;
            break;
        default: /* u, i, T */
            GET(c, &v, "argument");
            break;
        }
        ev->args[ev->nargs++] = v;
    }
    if (ev->kind == CT_EV_STRING || ev->kind == CT_EV_STACK) {
        if (ev->kind == CT_EV_STRING && ev->bytes_len > CT_MAX_STRING)
            return fail(rd, ev->offset, "string of %llu bytes (at most %d expected)",
                        (unsigned long long)ev->bytes_len, CT_MAX_STRING);
        return define(rd, gen, ev, ev->kind == CT_EV_STRING ? ev->bytes + ev->bytes_len
                                                            : frames_end) < 0 ? -1 : 1;
    }
    return 1;
}

int ct_kind_arg(const struct ct_gen *gen, unsigned kind, const char *name)
{
    if (kind >= CT_MAX_KINDS)
        return -1;
    const struct ct_kind *k = &gen->kinds[kind];
    for (int i = 0; i < CT_MAX_ARGS && k->args[i]; i++)
        if (strncmp(k->names[i], name, sizeof k->names[i]) == 0)
            return i;
    return -1;
}
