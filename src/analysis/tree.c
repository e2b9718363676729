/*
 * tree.c - the traces of a process tree, read as one (tree.h).
 */
#include "tree.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../format/bytes.h"
#include "../format/format.h"
#include "fleet.h"

static bool read_at(int fd, uint64_t at, void *buf, size_t len)
{
    return pread(fd, buf, len, (off_t)at) == (ssize_t)len;
}

/* A file's first bytes, read at once: the whole of most children's files
 * (a short process's is a few KiB), whose records are then read from
 * memory; a record beyond them is read from the file. */
#define HEAD_BYTES (64u << 10)
struct head {
    int fd;
    uint8_t *bytes;
    size_t len;
};

/* len bytes at `at`: in the head, or read into buf. */
static const uint8_t *head_at(const struct head *h, uint64_t at, void *buf, size_t len)
{
    if (at <= h->len && len <= h->len - at)
        return h->bytes + at;
    return read_at(h->fd, at, buf, len) ? buf : NULL;
}

/* The command line's arguments, NUL-separated in the record, by spaces. */
static void command_of(const uint8_t *p, uint64_t len, char *out, size_t cap)
{
    size_t n = len < cap - 1 ? (size_t)len : cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = p[i] && isprint(p[i]) ? (char)p[i] : ' ';
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = 0;
}

/* A PROCESS payload: pid, ppid, start, then the command line (the
 * reader's read_process gives the layout). */
static bool parse_process(const uint8_t *p, size_t len, struct ct_tree_image *img, bool first)
{
    struct ct_cursor c = {p, p + len};
    uint64_t pid, ppid, start, skip;
    const uint8_t *bytes, *cmd = NULL, *exe = NULL;
    uint64_t n, cmd_len = 0, exe_len = 0;
    if (ct_get_uleb(&c, &pid) || ct_get_uleb(&c, &ppid) || ct_get_uleb(&c, &start))
        return false;
    for (int i = 0; i < 5; i++) /* wall clock, CPUs, clock rate, shift, kind */
        if (ct_get_uleb(&c, &skip))
            return false;
    if (ct_get_bytes(&c, &bytes, &n) || ct_get_bytes(&c, &exe, &exe_len) ||
        ct_get_bytes(&c, &cmd, &cmd_len))
        return false;
    if (first) {
        img->pid = pid;
        img->ppid = ppid;
        img->start_ns = start;
        command_of(exe, exe_len, img->exe, sizeof img->exe);
    }
    command_of(cmd, cmd_len, img->command, sizeof img->command);
    return true;
}

/* A file beside a tree whose process started this long before the tree's
 * earliest is not read past its first PROCESS record: no descendant starts
 * before its ancestors, so it is an earlier run's (they pile up beside a
 * trace written again and again, each read to its end otherwise). */
#define EARLIER_RUN_NS 10000000u

/* Reads an image's PROCESS and generation records by walking the record
 * headers: from the file's head in memory, then a pread of twelve bytes a
 * record and the payloads of those only.
 * false when the file is not a trace, or (not_before_ns) when its process
 * started well before not_before_ns. */
static bool read_image(const char *path, struct ct_tree_image *img, uint64_t not_before_ns)
{
    memset(img, 0, sizeof *img);
    snprintf(img->path, sizeof img->path, "%s", path);
    img->parent = img->exec_prev = img->exec_next = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct head head = {fd, malloc(HEAD_BYTES), 0};
    ssize_t got = head.bytes ? pread(fd, head.bytes, HEAD_BYTES, 0) : -1;
    head.len = got > 0 ? (size_t)got : 0;
    uint8_t magic[CT_MAGIC_LEN];
    const uint8_t *m = head_at(&head, 0, magic, sizeof magic);
    bool ok = m && memcmp(m, CT_MAGIC, CT_MAGIC_LEN) == 0;
    bool seen = false;
    uint8_t *payload = NULL;
    for (uint64_t at = CT_FILE_HEADER_SIZE; ok;) {
        uint8_t hb[CT_RECORD_HEADER_SIZE];
        const uint8_t *h = head_at(&head, at, hb, sizeof hb);
        if (!h)
            break;
        unsigned type = h[0];
        uint32_t len = ct_get_u32(h + 4);
        if (type == 0 || type >= CT_REC_MAX || h[1] || h[2] || h[3] || len > CT_MAX_RECORD)
            break;
        if (type == CT_REC_END)
            break;
        if (type == CT_REC_PROCESS || type == CT_REC_GEN_BEGIN || type == CT_REC_GEN_END) {
            const uint8_t *body = NULL;
            uint64_t body_at = at + CT_RECORD_HEADER_SIZE;
            if (body_at <= head.len && len <= head.len - body_at) {
                body = head.bytes + body_at;
            } else {
                uint8_t *grown = realloc(payload, len ? len : 1);
                if (!grown || !read_at(fd, body_at, grown, len)) {
                    payload = grown ? grown : payload;
                    break;
                }
                body = payload = grown;
            }
            struct ct_cursor c = {body, body + len};
            uint64_t a, b, mono;
            if (type == CT_REC_PROCESS && parse_process(body, len, img, !seen)) {
                if (!seen && img->start_ns + EARLIER_RUN_NS < not_before_ns) {
                    ok = false; /* an earlier run's */
                    break;
                }
                seen = true;
            } else if (type != CT_REC_PROCESS && !ct_get_uleb(&c, &a) && !ct_get_uleb(&c, &b) &&
                     !ct_get_uleb(&c, &mono) && mono > img->end_ns)
                img->end_ns = mono; /* GEN_BEGIN's base, GEN_END's end */
        }
        at += CT_RECORD_HEADER_SIZE + (uint64_t)len;
    }
    free(payload);
    free(head.bytes);
    close(fd);
    if (ok && !seen && !img->start_ns)
        img->start_ns = img->end_ns;
    if (img->end_ns < img->start_ns)
        img->end_ns = img->start_ns;
    return ok && seen;
}

/* FILE from a trace's path: FILE itself, or FILE for FILE.PID[.N]. */
static void root_of(const char *path, uint64_t pid, char *root, size_t cap)
{
    snprintf(root, cap, "%s", path);
    char suffix[32];
    int n = snprintf(suffix, sizeof suffix, ".%" PRIu64, pid);
    for (char *at = strstr(root, suffix); pid && at; at = strstr(at + 1, suffix)) {
        const char *rest = at + n;
        if (*rest == '.' && isdigit((unsigned char)rest[1]))
            for (rest++; isdigit((unsigned char)*rest); rest++)
                ;
        if (!*rest) {
            *at = 0;
            return;
        }
    }
}

/* The paths in a tree being loaded, hashed: a tree of thousands of
 * processes is not checked path against path. */
struct paths_seen {
    struct seen_slot {
        uint64_t hash;
        size_t index; /* + 1; 0 empty */
    } *slots;
    size_t cap;
};

static uint64_t path_hash(const char *path)
{
    return ct_fleet_hash(0, path, strlen(path));
}

/* Whether path is among the tree's images (indexed in seen). */
static bool seen_has(const struct paths_seen *seen, const struct ct_tree *t, const char *path,
                     uint64_t h)
{
    for (size_t j = seen->cap ? h & (seen->cap - 1) : 0; seen->cap && seen->slots[j].index;
         j = (j + 1) & (seen->cap - 1))
        if (seen->slots[j].hash == h && strcmp(t->images[seen->slots[j].index - 1].path, path) == 0)
            return true;
    return false;
}

static void seen_place(struct seen_slot *slots, size_t cap, struct seen_slot slot)
{
    size_t j = slot.hash & (cap - 1);
    while (slots[j].index)
        j = (j + 1) & (cap - 1);
    slots[j] = slot;
}

/* Image index into seen, which grows to twice the images it holds. */
static bool seen_add(struct paths_seen *seen, const struct ct_tree *t, size_t index)
{
    if ((index + 1) * 2 > seen->cap) {
        size_t cap = seen->cap ? seen->cap * 2 : 64;
        struct seen_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return false;
        for (size_t i = 0; i < seen->cap; i++)
            if (seen->slots[i].index)
                seen_place(slots, cap, seen->slots[i]);
        free(seen->slots);
        seen->slots = slots;
        seen->cap = cap;
    }
    seen_place(seen->slots, seen->cap,
               (struct seen_slot){path_hash(t->images[index].path), index + 1});
    return true;
}

static bool push(struct ct_tree *t, size_t *cap, struct paths_seen *seen,
                 const struct ct_tree_image *img)
{
    if (seen_has(seen, t, img->path, path_hash(img->path)))
        return true;
    if (t->count == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 16;
        struct ct_tree_image *grown = realloc(t->images, grown_cap * sizeof *grown);
        if (!grown)
            return false;
        t->images = grown;
        *cap = grown_cap;
    }
    t->images[t->count++] = *img;
    return seen_add(seen, t, t->count - 1);
}

/* After images were dropped or reordered: the set again. */
static void seen_rebuild(struct paths_seen *seen, const struct ct_tree *t)
{
    if (seen->slots)
        memset(seen->slots, 0, seen->cap * sizeof *seen->slots);
    for (size_t i = 0; i < t->count; i++)
        seen_add(seen, t, i);
}

/* The files FILE.PID[.N] beside root, read, but those of processes that
 * started well before not_before_ns. */
static int siblings(const char *root, uint64_t not_before_ns, struct ct_tree_image **out,
                    size_t *count)
{
    const char *slash = strrchr(root, '/');
    const char *base = slash ? slash + 1 : root;
    size_t base_len = strlen(base);
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", !slash ? 1 : slash == root ? 1 : (int)(slash - root),
             slash ? root : ".");
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *rest = e->d_name + base_len;
        if (strncmp(e->d_name, base, base_len) != 0 || rest[0] != '.' ||
            !isdigit((unsigned char)rest[1]) || strspn(rest, ".0123456789") != strlen(rest))
            continue;
        struct ct_tree_image img;
        char path[8192];
        /* Named as the given file is: beside it, in its directory's words. */
        int len = slash ? snprintf(path, sizeof path, "%.*s%s", (int)(slash - root + 1), root,
                                   e->d_name)
                        : snprintf(path, sizeof path, "%s", e->d_name);
        if (len < 0 || (size_t)len >= sizeof img.path ||
            !read_image(path, &img, not_before_ns))
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            struct ct_tree_image *grown = realloc(*out, cap * sizeof *grown);
            if (!grown)
                break;
            *out = grown;
        }
        (*out)[(*count)++] = img;
    }
    closedir(d);
    return 0;
}

/* The images by pid, then start, then place: image_at's index. */
struct by_pid {
    uint64_t pid, start_ns;
    int index;
};

static int by_pid_order(const void *a, const void *b)
{
    const struct by_pid *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* The image of pid running at time `at` (the latest that started by
 * then), or -1. Of images that started at the same time (a file and its
 * copies) the one listed first counts as the earliest: at `except`'s own
 * time only those listed before it are found, the last of them, so that
 * they make a chain of execs and two never precede each other. */
static int image_at(const struct by_pid *ix, size_t n, uint64_t pid, uint64_t at, int except)
{
    /* The first entry past (pid, at, any place); then back to the first
     * that may be it: the latest start, the last place among equals. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix[mid].pid < pid || (ix[mid].pid == pid && ix[mid].start_ns <= at))
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k-- > 0 && ix[k].pid == pid;) {
        int i = ix[k].index;
        if (i != except && (ix[k].start_ns < at || except < 0 || i < except))
            return i;
    }
    return -1;
}

static void link_images(struct ct_tree *t)
{
    struct by_pid *ix = malloc((t->count ? t->count : 1) * sizeof *ix);
    if (!ix) { /* no links: every image a root of its own */
        for (size_t i = 0; i < t->count; i++)
            t->images[i].parent = t->images[i].exec_prev = t->images[i].exec_next = -1;
        return;
    }
    for (size_t i = 0; i < t->count; i++)
        ix[i] = (struct by_pid){t->images[i].pid, t->images[i].start_ns, (int)i};
    qsort(ix, t->count, sizeof *ix, by_pid_order);
    for (size_t i = 0; i < t->count; i++) {
        struct ct_tree_image *img = &t->images[i];
        img->parent = image_at(ix, t->count, img->ppid, img->start_ns, (int)i);
        img->exec_prev = image_at(ix, t->count, img->pid, img->start_ns, (int)i);
        img->exec_next = -1;
    }
    free(ix);
    for (size_t i = 0; i < t->count; i++)
        if (t->images[i].exec_prev >= 0)
            t->images[t->images[i].exec_prev].exec_next = (int)i;
}

/* Whether image i descends from (or is an exec of) one of the first n. */
static bool connected(const struct ct_tree *t, size_t i, size_t n)
{
    for (unsigned hops = 0; hops < 4096; hops++) {
        if (i < n)
            return true;
        const struct ct_tree_image *img = &t->images[i];
        int up = img->exec_prev >= 0 ? img->exec_prev : img->parent;
        if (up < 0)
            return false;
        i = (size_t)up;
    }
    return false;
}

static int by_start(const void *a, const void *b)
{
    const struct ct_tree_image *x = a, *y = b;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* Each image's children (those it started, not its execs), in the
 * order of the images: first_child and next_child, -1 ending them. */
struct kids {
    int *first, *next;
};

/* Depth first: an image, the children it started (each with theirs), then
 * the program it exec'd. */
static void visit(const struct ct_tree *t, const struct kids *k, size_t i, unsigned depth,
                  size_t *order, size_t *n, bool *done)
{
    while (!done[i] && *n < t->count) {
        done[i] = true;
        t->images[i].depth = depth;
        order[(*n)++] = i;
        for (int c = k->first[i]; c >= 0; c = k->next[c])
            if (!done[c])
                visit(t, k, (size_t)c, depth + 1, order, n, done);
        if (t->images[i].exec_next < 0)
            break;
        i = (size_t)t->images[i].exec_next;
    }
}

/* The order of a tree's listing, then the links by index again. */
static void order(struct ct_tree *t)
{
    qsort(t->images, t->count, sizeof *t->images, by_start);
    link_images(t);
    size_t room = t->count ? t->count : 1;
    size_t *order = calloc(room, sizeof *order), n = 0;
    bool *done = calloc(room, sizeof *done);
    struct ct_tree_image *sorted = calloc(room, sizeof *sorted);
    struct kids k = {malloc(room * sizeof *k.first), malloc(room * sizeof *k.next)};
    if (order && done && sorted && k.first && k.next) {
        for (size_t i = 0; i < t->count; i++)
            k.first[i] = k.next[i] = -1;
        for (size_t c = t->count; c-- > 0;) {
            int parent = t->images[c].parent;
            if (parent >= 0 && t->images[c].exec_prev < 0) {
                k.next[c] = k.first[parent];
                k.first[parent] = (int)c;
            }
        }
        /* Roots by start: the first, and any whose parent is not here. */
        for (size_t i = 0; i < t->count; i++)
            if (t->images[i].exec_prev < 0)
                visit(t, &k, i, 0, order, &n, done);
        for (size_t i = 0; i < t->count; i++) /* a cycle of pids reused: still listed */
            visit(t, &k, i, 0, order, &n, done);
        for (size_t i = 0; i < n; i++)
            sorted[i] = t->images[order[i]];
        memcpy(t->images, sorted, n * sizeof *sorted);
        t->count = n;
    }
    free(order);
    free(done);
    free(sorted);
    free(k.first);
    free(k.next);
    link_images(t);
    t->zero_ns = 0;
    for (size_t i = 0; i < t->count; i++)
        if (i == 0 || t->images[i].start_ns < t->zero_ns)
            t->zero_ns = t->images[i].start_ns;
}

bool ct_tree_is_image(const char *path)
{
    struct ct_tree_image img;
    return read_image(path, &img, 0);
}

int ct_tree_load(struct ct_tree *t, char *const *paths, size_t n, bool follow, char *err,
                 size_t cap)
{
    memset(t, 0, sizeof *t);
    size_t images_cap = 0;
    struct paths_seen seen = {0};
    for (size_t i = 0; i < n; i++) {
        struct ct_tree_image img;
        if (!read_image(paths[i], &img, 0)) {
            /* A shell's FILE.* holds profiles and exports too. */
            fprintf(stderr, "ctrace: %s left out: not a trace\n", paths[i]);
            continue;
        }
        if (!push(t, &images_cap, &seen, &img)) {
            snprintf(err, cap, "out of memory");
            free(seen.slots);
            ct_tree_free(t);
            return -1;
        }
    }
    if (t->count == 0) {
        free(seen.slots);
        snprintf(err, cap, "no trace among the files given");
        return -1;
    }
    size_t given = t->count;
    uint64_t earliest = UINT64_MAX;
    for (size_t i = 0; i < given; i++)
        if (t->images[i].start_ns < earliest)
            earliest = t->images[i].start_ns;
    for (size_t i = 0; follow && i < given; i++) {
        char root[4096];
        root_of(t->images[i].path, t->images[i].pid, root, sizeof root);
        struct ct_tree_image *more;
        size_t nmore;
        siblings(root, earliest, &more, &nmore);
        /* Candidates in, then those not reached from the given ones out. */
        size_t before = t->count;
        for (size_t k = 0; k < nmore; k++)
            push(t, &images_cap, &seen, &more[k]);
        free(more);
        link_images(t);
        size_t kept = before;
        for (size_t k = before; k < t->count; k++)
            if (connected(t, k, given))
                t->images[kept++] = t->images[k];
        if (kept != t->count) {
            t->count = kept;
            seen_rebuild(&seen, t);
        }
    }
    free(seen.slots);
    order(t);
    return 0;
}

void ct_tree_free(struct ct_tree *t)
{
    free(t->images);
    memset(t, 0, sizeof *t);
}

int ct_tree_open(const struct ct_tree *t, size_t i, struct ct_reader *rd)
{
    if (ct_rd_open(rd, t->images[i].path) != 0)
        return -1;
    rd->have_start = true;
    rd->start_mono_ns = t->zero_ns;
    return 0;
}

size_t ct_tree_neighbours(const char *path, uint64_t *pids, char (*paths)[4096], size_t cap,
                          char *exec_path, size_t exec_cap)
{
    struct ct_tree t;
    char err[64];
    char *one[1] = {(char *)path};
    exec_path[0] = 0;
    if (ct_tree_load(&t, one, 1, true, err, sizeof err) != 0)
        return 0;
    int me = -1;
    for (size_t i = 0; i < t.count && me < 0; i++)
        if (strcmp(t.images[i].path, path) == 0)
            me = (int)i;
    size_t n = 0;
    /* A child's first image (its fork, or a spawn whose exec was the first
     * image traced); its own execs are its. */
    for (size_t i = 0; me >= 0 && i < t.count; i++) {
        if (t.images[i].parent == me && t.images[i].exec_prev < 0 && n < cap) {
            pids[n] = t.images[i].pid;
            snprintf(paths[n++], 4096, "%s", t.images[i].path);
        }
    }
    if (me >= 0 && t.images[me].exec_next >= 0)
        snprintf(exec_path, exec_cap, "%s", t.images[t.images[me].exec_next].path);
    ct_tree_free(&t);
    return n;
}
