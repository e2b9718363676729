/*
 * symbols.c - addresses to function, file and line, with libdwfl (elfutils).
 *
 * Each module of a trace's MODULES table is reported to a Dwfl at its load
 * bias; its ELF and debug information are found from its path (and its
 * separate debug file by build-id, as gdb and perf find them). A module
 * whose file is missing, or whose build-id differs from the one the trace
 * recorded (the program was rebuilt since), is never used for names: its
 * addresses print as module+offset, never as a wrong name.
 */
#include "symbols.h"

#include "../format/bytes.h"
#include "../format/crc32c.h"
#include "idset.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ct_symbols {
    Dwfl *dwfl;
    Dwfl_Callbacks callbacks;
    char *debuginfo_path;
    struct module_entry {
        uint64_t start, end, bias;
        char path[256];
        bool usable; /* the file is there and its build-id matches */
        Dwfl_Module *mod;
    } *modules;
    size_t count;
    struct ct_symtab embedded;
};

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

struct ct_symbols *ct_symbols_open(const struct ct_gen *gen)
{
    struct ct_symbols *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->callbacks.find_elf = dwfl_build_id_find_elf;
    s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    s->callbacks.debuginfo_path = &s->debuginfo_path;
    s->dwfl = dwfl_begin(&s->callbacks);
    s->modules = calloc(gen->nmodules ? gen->nmodules : 1, sizeof *s->modules);
    if (!s->dwfl || !s->modules) {
        ct_symbols_close(s);
        return NULL;
    }
    dwfl_report_begin(s->dwfl);
    for (size_t i = 0; i < gen->nmodules; i++) {
        const struct ct_rd_module *m = &gen->modules[i];
        struct module_entry *e = &s->modules[s->count++];
        size_t n = m->path_len < sizeof e->path - 1 ? m->path_len : sizeof e->path - 1;
        memcpy(e->path, m->path, n);
        e->path[n] = 0;
        e->start = m->start;
        e->end = m->start + m->size;
        e->bias = m->bias;
        struct stat st;
        if (e->path[0] != '/' || stat(e->path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* the vDSO and friends, or not a file (a hostile trace's /dev/tty) */
        e->mod = dwfl_report_elf(s->dwfl, basename_of(e->path), e->path, -1, m->bias, false);
        if (!e->mod)
            continue;
        const unsigned char *bits;
        GElf_Addr vaddr;
        int len = dwfl_module_build_id(e->mod, &bits, &vaddr);
        e->usable = m->build_id_len == 0 ||
                    (len == (int)m->build_id_len && memcmp(bits, m->build_id, (size_t)len) == 0);
    }
    dwfl_report_end(s->dwfl, NULL, NULL);
    return s;
}

struct ct_symbols *ct_symbols_open_rd(const struct ct_reader *rd, const struct ct_gen *gen)
{
    struct ct_symbols *s = ct_symbols_open(gen);
    if (s && ct_rd_symtab(rd, &s->embedded) != 0)
        memset(&s->embedded, 0, sizeof s->embedded);
    return s;
}

void ct_symbols_close(struct ct_symbols *s)
{
    if (!s)
        return;
    ct_symtab_free(&s->embedded);
    if (s->dwfl)
        dwfl_end(s->dwfl);
    free(s->modules);
    free(s);
}

int ct_symbols_lookup(struct ct_symbols *s, uint64_t pc, bool is_return, struct ct_symbol *out)
{
    memset(out, 0, sizeof *out);
    const struct ct_symtab_entry *t = s ? ct_symtab_find(&s->embedded, pc, !is_return) : NULL;
    if (t && t->function_len) {
        snprintf(out->function, sizeof out->function, "%.*s", (int)t->function_len,
                 (const char *)t->function);
        snprintf(out->file, sizeof out->file, "%.*s", (int)t->file_len, (const char *)t->file);
        out->line = (int)t->line;
        out->resolved = true;
        return 1;
    }
    struct module_entry *e = NULL;
    for (size_t i = 0; s && i < s->count; i++)
        if (pc >= s->modules[i].start && pc < s->modules[i].end)
            e = &s->modules[i];
    if (!e) {
        snprintf(out->function, sizeof out->function, "0x%" PRIx64, pc);
        return 0;
    }
    snprintf(out->module, sizeof out->module, "%s", e->path);
    out->offset = pc - e->bias;
    /* A return address points after the call: look up the call itself. */
    uint64_t at = is_return ? pc - 1 : pc;
    const char *name = e->usable && e->mod ? dwfl_module_addrname(e->mod, at) : NULL;
    if (!name) {
        snprintf(out->function, sizeof out->function, "%.200s+0x%" PRIx64, basename_of(e->path),
                 out->offset);
        return 0;
    }
    snprintf(out->function, sizeof out->function, "%s", name);
    out->resolved = true;
    Dwfl_Line *line = dwfl_module_getsrc(e->mod, at);
    int lineno = 0;
    const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (file) {
        snprintf(out->file, sizeof out->file, "%s", file);
        out->line = lineno;
    }
    return 1;
}

/* ---- symbols embedded by ctrace run ---- */

struct embed {
    struct ct_idset seen[2]; /* return addresses, exact pcs (id: pc + 1) */
    uint8_t *payload;
    size_t len, cap;
    uint64_t count;
};

static bool put(struct embed *e, const void *data, size_t len)
{
    if (e->len + len > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 65536;
        while (cap < e->len + len)
            cap *= 2;
        uint8_t *p = realloc(e->payload, cap);
        if (!p)
            return false;
        e->payload = p;
        e->cap = cap;
    }
    memcpy(e->payload + e->len, data, len);
    e->len += len;
    return true;
}

static bool put_uleb(struct embed *e, uint64_t v)
{
    uint8_t b[CT_LEB_MAX];
    return put(e, b, (size_t)(ct_put_uleb(b, v) - b));
}

static bool put_str(struct embed *e, const char *s)
{
    size_t n = strlen(s);
    if (n > 4096)
        n = 4096;
    return put_uleb(e, n) && put(e, s, n);
}

/* Symbolizes pc once; only names that came from symbols are kept. */
static bool embed_pc(struct embed *e, struct ct_symbols *sym, uint64_t pc, bool exact)
{
    int added = ct_idset_add(&e->seen[exact], pc + 1);
    if (added <= 0)
        return added == 0;
    struct ct_symbol s;
    if (ct_symbols_lookup(sym, pc, !exact, &s) != 1)
        return true;
    e->count++;
    return put_uleb(e, pc) && put_uleb(e, exact) && put_str(e, s.function) &&
           put_str(e, s.file) && put_uleb(e, (uint64_t)(s.line > 0 ? s.line : 0));
}

static int collect(struct ct_reader *rd, struct embed *e)
{
    struct ct_gen gen = {0};
    struct ct_symbols *sym = NULL;
    size_t sym_modules = 0;
    int r;
    bool ok = true;
    while (ok && (r = ct_rd_next_gen(rd, &gen)) == 1) {
        if (gen.nmodules && (!sym || gen.nmodules != sym_modules)) {
            ct_symbols_close(sym);
            sym = ct_symbols_open(&gen);
            sym_modules = gen.nmodules;
        }
        for (size_t b = 0; ok && b < gen.nbatches; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while (ok && (r = ct_rd_next_event(rd, &it, &ev)) == 1) {
                if (ev.kind == CT_EV_STACK) {
                    uint64_t pcs[CT_MAX_FRAMES];
                    int n = ct_rd_frames(ev.frames, ev.frames_end, ev.nframes, pcs, CT_MAX_FRAMES);
                    for (int i = 0; ok && i < n; i++)
                        ok = embed_pc(e, sym, pcs[i], false);
                } else if (ev.kind == CT_EV_THREAD_CREATE && ev.args[1]) {
                    ok = embed_pc(e, sym, ev.args[1], true);
                } else if (ev.kind == CT_EV_THREAD_START && ev.args[2]) {
                    ok = embed_pc(e, sym, ev.args[2], true);
                }
            }
            if (r < 0)
                break;
        }
    }
    ct_gen_free(&gen);
    ct_symbols_close(sym);
    return ok && !rd->failed ? 0 : -1;
}

int ct_symbols_embed(const char *path)
{
    struct ct_reader rd;
    if (ct_rd_open(&rd, path) != 0) {
        errno = EINVAL;
        return -1;
    }
    struct embed e = {0};
    int rc = collect(&rd, &e);
    /* The end record: the file's last; only a whole trace gets symbols. */
    uint64_t at = CT_FILE_HEADER_SIZE, last = 0;
    while (at + CT_RECORD_HEADER_SIZE <= rd.size) {
        last = at;
        at += CT_RECORD_HEADER_SIZE + (uint64_t)ct_get_u32(rd.data + at + 4);
    }
    uint8_t end[CT_RECORD_HEADER_SIZE + CT_LEB_MAX];
    size_t end_len = (size_t)(rd.size - last);
    bool whole = rc == 0 && rd.at_end && at == rd.size && last &&
                 rd.data[last] == CT_REC_END && end_len <= sizeof end;
    if (whole)
        memcpy(end, rd.data + last, end_len);
    uint64_t size = rd.size;
    ct_rd_close(&rd);
    rc = 0;
    if (whole && e.count) {
        struct embed rec = {0};
        uint8_t header[CT_RECORD_HEADER_SIZE] = {CT_REC_SYMBOLS};
        uint8_t count[CT_LEB_MAX];
        size_t count_len = (size_t)(ct_put_uleb(count, e.count) - count);
        uint32_t len = (uint32_t)(count_len + e.len);
        ct_put_u32(header + 4, len);
        uint32_t crc = ct_crc32c(ct_crc32c(0, header, 8), count, count_len);
        ct_put_u32(header + 8, ct_crc32c(crc, e.payload, e.len));
        bool built = put(&rec, header, sizeof header) && put(&rec, count, count_len) &&
                     put(&rec, e.payload, e.len) && put(&rec, end, end_len);
        int fd = built ? open(path, O_WRONLY | O_CLOEXEC) : -1;
        /* Over the old end record: [... GEN_END][SYMBOLS][END]. On a
         * failure the old end is put back, and the file is as it was. */
        if (fd >= 0 && pwrite(fd, rec.payload, rec.len, (off_t)last) == (ssize_t)rec.len)
            rc = 1;
        else if (fd >= 0 && (ftruncate(fd, (off_t)last) != 0 ||
                             pwrite(fd, end, end_len, (off_t)last) != (ssize_t)end_len))
            rc = -1;
        if (rc != 1)
            rc = -1;
        if (fd >= 0)
            close(fd);
        (void)size;
        free(rec.payload);
    }
    ct_idset_free(&e.seen[0]);
    ct_idset_free(&e.seen[1]);
    free(e.payload);
    return rc;
}
