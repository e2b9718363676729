/*
 * symbol_cache.c - the frames ctrace run names from DWARF, kept between
 * runs.
 *
 * Naming a frame's file and line opens the module's DWARF, which for the
 * C library's separate debug file (libc6-dbg, compressed) takes 70 ms: in
 * each `ctrace run` of a short program, most of what tracing cost it. The
 * frames `ctrace run` names are kept in a file for each build-id under
 * the cache directory, and read back by the next run: a frame named there
 * opens no DWARF. The file is text, a line for each address:
 *
 *     ctrace-symbols 1
 *     ADDRESS-HEX R|X N\tFUNCTION\tFILE\tLINE ... (N times)
 *
 * (R: a return address, X: an exact one). N is 0 for an address the
 * module's symbols do not cover (a stripped program's): such a line holds
 * only while the module has no separate debug file under
 * /usr/lib/debug/.build-id, which would name it. A line that does not read so
 * ends the reading, and the file is made anew at the next flush: it is
 * only a cache. The magic's number changes whenever frames are named
 * otherwise, so that no run reads another's names. All calls are made
 * under symbols.c's lock.
 */
#include "symbol_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "ctrace-symbols 1\n"
#define CACHE_MAX_BYTES (16u << 20)
/* A frame's three fields, as written: ct_symbol's 256-byte strings. */
#define FIELD_MAX 255
#define TEXT_MAX (CT_FRAME_CACHE_FRAMES * (2 * (FIELD_MAX + 1) + 12))

static char cache_dir[PATH_MAX];

void ct_symbols_cache(const char *dir)
{
    snprintf(cache_dir, sizeof cache_dir, "%s", dir ? dir : "");
}

void ct_frame_cache_init(struct ct_frame_cache *c, const unsigned char *build_id, int len)
{
    memset(c, 0, sizeof *c);
    c->no_debug_file = -1;
    c->build_id = build_id;
    c->build_id_len = len > 0 && len <= 64 ? len : 0;
}

static bool cache_path(const struct ct_frame_cache *c, char *path, size_t cap)
{
    if (!cache_dir[0] || !c->build_id_len)
        return false;
    int n = snprintf(path, cap, "%s/", cache_dir);
    for (int i = 0; i < c->build_id_len && n > 0 && (size_t)n < cap; i++)
        n += snprintf(path + n, cap - (size_t)n, "%02x", c->build_id[i]);
    return n > 0 && (size_t)n < cap;
}

/* Keeps text (n frames: function, file and line, each ended by \0), which
 * the cache then owns; false when it does not. */
static bool keep(struct ct_frame_cache *c, uint64_t key, int n, char *text)
{
    bool added;
    struct ct_idmap_entry *e = ct_idmap_put(&c->frames, key, &added);
    if (!e || !added)
        return false;
    e->data = (const uint8_t *)text;
    e->len = (uint64_t)n;
    return true;
}

/* One line of the file, from at to its \n; false when it does not read. */
static bool parse(struct ct_frame_cache *c, const char *at, const char *nl)
{
    char *end;
    uint64_t addr = strtoull(at, &end, 16);
    if (end == at || *end != ' ' || (end[1] != 'R' && end[1] != 'X') || end[2] != ' ')
        return false;
    bool is_return = end[1] == 'R';
    long n = strtol(end + 3, &end, 10);
    if (n < 0 || n > CT_FRAME_CACHE_FRAMES || addr > UINT64_MAX / 4)
        return false;
    /* \tFUNCTION\tFILE\tLINE, n times: each field ended by \0 in text,
     * in the place of the tab before it. */
    char *text = malloc((size_t)(nl - end) + 1);
    if (!text)
        return false;
    size_t k = 0;
    const char *p = end;
    for (long i = 0; i < 3 * n; i++) {
        if (p >= nl || *p != '\t') {
            free(text);
            return false;
        }
        const char *field = ++p;
        while (p < nl && *p != '\t')
            p++;
        size_t len = (size_t)(p - field);
        if (i % 3 == 2 && (len == 0 || strspn(field, "0123456789") < len)) {
            free(text);
            return false;
        }
        memcpy(text + k, field, len);
        k += len;
        text[k++] = 0;
    }
    if (p != nl || !keep(c, (addr << 1 | is_return) + 1, (int)n, text))
        free(text);
    return p == nl;
}

static void read_file(struct ct_frame_cache *c)
{
    c->read = true;
    char path[PATH_MAX];
    if (!cache_path(c, path, sizeof path))
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct stat st;
    char *data = NULL;
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        st.st_size <= CACHE_MAX_BYTES && (data = malloc((size_t)st.st_size)))
        got = pread(fd, data, (size_t)st.st_size, 0);
    close(fd);
    size_t magic = strlen(CACHE_MAGIC);
    c->bad = true;
    if (got > (ssize_t)magic && memcmp(data, CACHE_MAGIC, magic) == 0) {
        const char *at = data + magic, *stop = data + got, *nl;
        while (at < stop && (nl = memchr(at, '\n', (size_t)(stop - at))) && parse(c, at, nl))
            at = nl + 1;
        c->bad = at != stop;
    }
    free(data);
}

/* Whether the module has no separate debug file where libdw looks for it
 * by build-id: its unnamed addresses stay unnamed. */
static bool no_debug_file(struct ct_frame_cache *c)
{
    if (c->no_debug_file < 0) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/", c->build_id[0]);
        for (int i = 1; i < c->build_id_len && n > 0 && (size_t)n < sizeof path; i++)
            n += snprintf(path + n, sizeof path - (size_t)n, "%02x", c->build_id[i]);
        struct stat st;
        c->no_debug_file = n > 0 && (size_t)n + 7 < sizeof path &&
                           (strcat(path, ".debug"), stat(path, &st) != 0) && errno == ENOENT;
    }
    return c->no_debug_file;
}

int ct_frame_cache_get(struct ct_frame_cache *c, uint64_t key, struct ct_symbol *out, int max)
{
    if (!c->read)
        read_file(c);
    const struct ct_idmap_entry *e = ct_idmap_get(&c->frames, key);
    if (!e)
        return 0;
    if (e->len == 0)
        return no_debug_file(c) ? -1 : 0;
    const char *t = (const char *)e->data;
    int n = (int)e->len < max ? (int)e->len : max;
    for (int i = 0; i < n; i++) {
        const char *file = t + strlen(t) + 1, *line = file + strlen(file) + 1;
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].function, sizeof out[i].function, "%s", t);
        snprintf(out[i].file, sizeof out[i].file, "%s", file);
        out[i].line = atoi(line);
        out[i].resolved = true;
        t = line + strlen(line) + 1;
    }
    return n;
}

static bool fits(const char *s)
{
    return !strpbrk(s, "\t\n") && strlen(s) < FIELD_MAX;
}

void ct_frame_cache_add(struct ct_frame_cache *c, uint64_t key, const struct ct_symbol *frames,
                        int n)
{
    if (!cache_dir[0] || !c->build_id_len || n < 0 || n > CT_FRAME_CACHE_FRAMES)
        return;
    for (int i = 0; i < n; i++)
        if (!fits(frames[i].function) || !fits(frames[i].file))
            return;
    char line[TEXT_MAX + 64];
    char *text = malloc(TEXT_MAX);
    if (!text)
        return;
    size_t len = (size_t)snprintf(line, sizeof line, "%" PRIx64 " %c %d", (key - 1) >> 1,
                                  (key - 1) & 1 ? 'R' : 'X', n);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        int at_line = frames[i].line > 0 ? frames[i].line : 0;
        len += (size_t)snprintf(line + len, sizeof line - len, "\t%s\t%s\t%d", frames[i].function,
                                frames[i].file, at_line);
        k += (size_t)snprintf(text + k, TEXT_MAX - k, "%s", frames[i].function) + 1;
        k += (size_t)snprintf(text + k, TEXT_MAX - k, "%s", frames[i].file) + 1;
        k += (size_t)snprintf(text + k, TEXT_MAX - k, "%d", at_line) + 1;
    }
    if (!keep(c, key, n, text)) {
        free(text);
        return;
    }
    line[len++] = '\n';
    if (c->pending_len + len > c->pending_cap) {
        size_t cap = (c->pending_len + len) * 2;
        char *p = realloc(c->pending, cap);
        if (!p)
            return;
        c->pending = p;
        c->pending_cap = cap;
    }
    memcpy(c->pending + c->pending_len, line, len);
    c->pending_len += len;
}

/* Each write is whole, at the file's end, so that runs at once do not mix
 * their lines. A cache that cannot be written is only slower. */
void ct_frame_cache_flush(struct ct_frame_cache *c)
{
    char path[PATH_MAX];
    if (!c->pending_len || !cache_path(c, path, sizeof path)) {
        c->pending_len = 0;
        return;
    }
    if (c->bad)
        unlink(path); /* what follows would be read no more */
    c->bad = false;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool fresh = fd >= 0;
    if (!fresh)
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size + (off_t)c->pending_len <= CACHE_MAX_BYTES &&
        (!fresh || write(fd, CACHE_MAGIC, strlen(CACHE_MAGIC)) > 0) &&
        write(fd, c->pending, c->pending_len) < 0) {
        /* nothing to undo */
    }
    if (fd >= 0)
        close(fd);
    c->pending_len = 0;
}

void ct_frame_cache_free(struct ct_frame_cache *c)
{
    for (size_t i = 0; i < c->frames.cap; i++)
        free((void *)c->frames.entries[i].data);
    ct_idmap_free(&c->frames);
    free(c->pending);
    ct_frame_cache_init(c, NULL, 0);
}
