/*
 * symbols_embed.c - `ctrace run`, once the program ended: the names of
 * every stack frame and start function a trace holds, appended to it as a
 * SYMBOLS record before its end record (symbols.h), so that it reads with
 * names where the program's files are not.
 */
#include "symbols.h"

#include "../format/bytes.h"
#include "../format/crc32c.h"
#include "idset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
/* The modules' symbols are opened at the first address that needs them: a
 * trace without stacks (a short command's, in a build that starts hundreds
 * of them) opens no file. `stale` says the generation's modules are not
 * the ones open. */
struct lazy_symbols {
    struct ct_symbols *sym;
    size_t nmodules;
    bool stale;
    const struct ct_gen *gen;
};

static struct ct_symbols *symbols_now(struct lazy_symbols *l)
{
    if (l->stale && l->gen->nmodules) {
        ct_symbols_close(l->sym);
        l->sym = ct_symbols_open(l->gen);
        l->nmodules = l->gen->nmodules;
        l->stale = false;
    }
    return l->sym;
}

static bool embed_pc(struct embed *e, struct lazy_symbols *l, uint64_t pc, bool exact)
{
    int added = ct_idset_add(&e->seen[exact], pc + 1);
    if (added <= 0)
        return added == 0;
    struct ct_symbols *sym = symbols_now(l);
    struct ct_symbol f[16];
    int n = ct_symbols_frames(sym, pc, !exact, f, 16);
    if (n < 1 || !f[0].resolved)
        return true;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        e->count++;
        ok = put_uleb(e, pc) && put_uleb(e, (uint64_t)exact | (uint64_t)i << 1) &&
             put_str(e, f[i].function) && put_str(e, f[i].file) &&
             put_uleb(e, (uint64_t)(f[i].line > 0 ? f[i].line : 0));
    }
    return ok;
}

static int collect(struct ct_reader *rd, struct embed *e)
{
    struct ct_gen gen = {0};
    struct lazy_symbols sym = {.gen = &gen};
    int r;
    bool ok = true;
    while (ok && (r = ct_rd_next_gen(rd, &gen)) == 1) {
        if (gen.nmodules && (!sym.sym || gen.nmodules != sym.nmodules))
            sym.stale = true;
        for (size_t b = 0; ok && b < gen.nbatches; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            uint64_t counts[CT_MAX_KINDS] = {0};
            ct_rd_events(&gen, b, &it);
            /* Only stacks and thread starts matter: the rest is skimmed. */
            while (ok && (r = ct_rd_skim_events(rd, &it,
                                                1ull << CT_EV_STACK | 1ull << CT_EV_THREAD_CREATE |
                                                    1ull << CT_EV_THREAD_START,
                                                counts, &ev)) == 1) {
                if (ev.kind == CT_EV_STACK) {
                    uint64_t pcs[CT_MAX_FRAMES];
                    int n = ct_rd_frames(ev.frames, ev.frames_end, ev.nframes, pcs, CT_MAX_FRAMES);
                    for (int i = 0; ok && i < n; i++)
                        ok = embed_pc(e, &sym, pcs[i], false);
                } else if (ev.kind == CT_EV_THREAD_CREATE && ev.args[1]) {
                    ok = embed_pc(e, &sym, ev.args[1], true);
                } else if (ev.kind == CT_EV_THREAD_START && ev.args[2]) {
                    ok = embed_pc(e, &sym, ev.args[2], true);
                }
            }
            if (r < 0)
                break;
        }
    }
    ct_gen_free(&gen);
    ct_symbols_close(sym.sym);
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
    uint64_t last = rd.end_off;
    uint8_t end[CT_RECORD_HEADER_SIZE + CT_LEB_MAX];
    size_t end_len = (size_t)(rd.size - last);
    bool whole = rc == 0 && rd.at_end && last && end_len <= sizeof end &&
                 ct_rd_read_at(&rd, last, end, end_len) == 0 && end[0] == CT_REC_END;
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
