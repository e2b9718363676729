/*
 * pprof.c - blocking profiles in pprof's format, as `go tool trace
 * -pprof=TYPE` writes them: for each stack, how many times threads waited
 * there (contentions, count) and for how long (delay, nanoseconds).
 *
 * The delays are the thread analysis's columns (threads.h), so that a
 * profile's total is the column's total in `ctrace threads` for the same
 * trace, in every scheduling mode:
 *
 *   net      the network column: off a CPU inside a call on a socket (or a
 *            wait on a set that holds one), at the call's stack
 *   sync     the sync column: off a CPU blocked on a mutex, rwlock,
 *            spinlock, condvar, semaphore, barrier or join, at the blocking
 *            call's stack
 *   syscall  the syscall column: off a CPU inside another slow call
 *   sched    the sched column: runnable, waiting for a CPU: woken from a
 *            block or call (at its stack), preempted (at the thread's most
 *            recent stack), or a new thread before its first run (at the
 *            stack that created it, as Go counts a new goroutine's at its go
 *            statement)
 *
 * A contention is one block or call of the profile's kind, whether or not
 * it left the CPU (for sched, one wait). Each stack of a block or call ends
 * in a frame that names what it waited in (pthread_mutex_lock, read, ...),
 * as go tool trace's profiles end in the lock or the call: a location
 * without an address, its function named from the reason.
 *
 * The profile is a gzipped profile.proto message (github.com/google/pprof,
 * proto/profile.proto): functions named with libdw (symbols.c), one mapping
 * per module with its build-id, locations with lines.
 */
#include "pprof.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "symbols.h"
#include "threads.h"

/* ---- protobuf encoding ---- */

struct pb {
    uint8_t *data;
    size_t len, cap;
    bool failed;
};

static void pb_reserve(struct pb *b, size_t n)
{
    if (b->cap - b->len >= n)
        return;
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

static void pb_varint(struct pb *b, uint64_t v)
{
    pb_reserve(b, 10);
    if (b->failed)
        return;
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

static void pb_key(struct pb *b, unsigned field, unsigned wire)
{
    pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
    pb_key(b, field, 0);
    pb_varint(b, v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *data, size_t len)
{
    pb_key(b, field, 2);
    pb_varint(b, len);
    pb_reserve(b, len);
    if (!b->failed && len) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
}

static void pb_message(struct pb *b, unsigned field, struct pb *m)
{
    pb_bytes(b, field, m->data, m->len);
    b->failed |= m->failed;
    m->len = 0;
}

/* ---- the profile being built ---- */

#define MAX_FRAMES CT_MAX_FRAMES

struct sample {
    uint64_t pcs[MAX_FRAMES];
    unsigned n;
    uint64_t count, delay;
    unsigned leaf; /* the frame it waited in (leaf_name); 0 none */
};

struct thread_state {
    uint64_t tid;
    uint64_t pcs[MAX_FRAMES]; /* the last stack seen on the thread */
    unsigned n;
    /* The stack of the block or call it is in (or, before its first run,
     * of its creation); which one (a serial), and the last counted. */
    uint64_t act_pcs[MAX_FRAMES];
    unsigned act_n, act_leaf;
    int64_t sched_end; /* where its last sched interval ended */
};

struct module_copy {
    uint64_t start, size, bias;
    char path[256];
    uint8_t build_id[64];
    size_t build_id_len;
};

/* A thread_create's stack, until the thread it made says it was runnable. */
struct creation {
    uint64_t creator, id;
    uint64_t pcs[MAX_FRAMES];
    unsigned n;
};

struct builder {
    enum ct_pprof_type type;
    size_t *by_stack; /* samples by their stack's hash: index + 1, 0 empty */
    size_t by_stack_mask;
    struct creation *creations;
    size_t ncreations, creations_cap;
    struct sample *samples;
    size_t nsamples, cap;
    struct thread_state *threads;
    size_t nthreads;
    struct module_copy *modules;
    size_t nmodules;
    bool failed;
};

static struct thread_state *thread_of(struct builder *b, uint64_t tid)
{
    for (size_t i = 0; i < b->nthreads; i++)
        if (b->threads[i].tid == tid)
            return &b->threads[i];
    struct thread_state *t = realloc(b->threads, (b->nthreads + 1) * sizeof *t);
    if (!t) {
        b->failed = true;
        return NULL;
    }
    b->threads = t;
    memset(&t[b->nthreads], 0, sizeof *t);
    t[b->nthreads].tid = tid;
    return &t[b->nthreads++];
}

static uint64_t stack_hash(const uint64_t *pcs, unsigned n, unsigned leaf)
{
    uint64_t h = (0x9e3779b97f4a7c15ull ^ n) + leaf * 0x100000001b3ull;
    for (unsigned i = 0; i < n; i++)
        h = (h ^ pcs[i]) * 0x100000001b3ull;
    return h ^ h >> 29;
}

/* Doubles the table of samples by stack when half full. */
static bool grow_index(struct builder *b)
{
    size_t slots = b->by_stack_mask ? 2 * (b->by_stack_mask + 1) : 256;
    size_t *table = calloc(slots, sizeof *table);
    if (!table)
        return false;
    for (size_t i = 0; i < b->nsamples; i++) {
        size_t k = stack_hash(b->samples[i].pcs, b->samples[i].n, b->samples[i].leaf) & (slots - 1);
        while (table[k])
            k = (k + 1) & (slots - 1);
        table[k] = i + 1;
    }
    free(b->by_stack);
    b->by_stack = table;
    b->by_stack_mask = slots - 1;
    return true;
}

/* The leaf frame of a block or call: the function the program called, as
 * go tool trace's profiles end in the lock or the call. Stacks start at
 * the wrapper's caller, so the wrapped function is named from the reason
 * (the primitive's blocking function, or the call itself); a call the
 * kernel saw, by its system call (LEAF_SYSCALL + its number). */
#define LEAF_SYSCALL 256u
#define LEAF_MAX (LEAF_SYSCALL + 1024u)
static const char *leaf_name(unsigned leaf)
{
    if (leaf >= LEAF_SYSCALL)
        return ct_syscall_name(leaf - LEAF_SYSCALL);
    switch (leaf) {
    case CT_REASON_MUTEX: return "pthread_mutex_lock";
    case CT_REASON_RWLOCK_READ: return "pthread_rwlock_rdlock";
    case CT_REASON_RWLOCK_WRITE: return "pthread_rwlock_wrlock";
    case CT_REASON_SPINLOCK: return "pthread_spin_lock";
    case CT_REASON_COND: return "pthread_cond_wait";
    case CT_REASON_SEM: return "sem_wait";
    case CT_REASON_BARRIER: return "pthread_barrier_wait";
    case CT_REASON_JOIN: return "pthread_join";
    case CT_REASON_SLEEP: return "nanosleep";
    case CT_REASON_COND_SIGNAL: return "pthread_cond_signal";
    case CT_REASON_COND_BROADCAST: return "pthread_cond_broadcast";
    default: return ct_reason_name(leaf);
    }
}
#define LEAF_ID (1ull << 40) /* location and function ids of leaves: LEAF_ID + leaf */

static void add_sample(struct builder *b, const uint64_t *pcs, unsigned n, uint64_t count,
                       uint64_t delay, unsigned leaf)
{
    if ((b->nsamples + 1) * 2 > b->by_stack_mask + 1 && !grow_index(b)) {
        b->failed = true;
        return;
    }
    if (leaf >= LEAF_MAX || !leaf_name(leaf))
        leaf = 0;
    size_t k = stack_hash(pcs, n, leaf) & b->by_stack_mask;
    for (; b->by_stack[k]; k = (k + 1) & b->by_stack_mask) {
        struct sample *s = &b->samples[b->by_stack[k] - 1];
        if (s->n == n && s->leaf == leaf && memcmp(s->pcs, pcs, n * sizeof *pcs) == 0) {
            s->count += count;
            s->delay += delay;
            return;
        }
    }
    if (b->nsamples == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct sample *grown = realloc(b->samples, cap * sizeof *grown);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->samples = grown;
        b->cap = cap;
    }
    struct sample *s = &b->samples[b->nsamples++];
    memcpy(s->pcs, pcs, n * sizeof *pcs);
    s->n = n;
    s->count = count;
    s->delay = delay;
    s->leaf = leaf;
    b->by_stack[k] = b->nsamples;
}

/* The frames of a stack id in this generation. */
static unsigned frames_of(const struct ct_gen *gen, uint64_t stack, uint64_t *pcs)
{
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->stacks, stack);
    if (!e)
        return 0;
    int n = ct_rd_frames(e->data, e->end, e->len, pcs, MAX_FRAMES);
    return n > 0 ? (unsigned)n : 0;
}

static void copy_modules(struct builder *b, const struct ct_gen *gen)
{
    for (size_t i = 0; i < gen->nmodules; i++) {
        const struct ct_rd_module *m = &gen->modules[i];
        bool known = false;
        for (size_t k = 0; k < b->nmodules && !known; k++)
            known = b->modules[k].start == m->start && b->modules[k].bias == m->bias;
        if (known)
            continue;
        struct module_copy *c = realloc(b->modules, (b->nmodules + 1) * sizeof *c);
        if (!c) {
            b->failed = true;
            return;
        }
        b->modules = c;
        c = &c[b->nmodules++];
        memset(c, 0, sizeof *c);
        c->start = m->start;
        c->size = m->size;
        c->bias = m->bias;
        size_t n = m->path_len < sizeof c->path - 1 ? m->path_len : sizeof c->path - 1;
        memcpy(c->path, m->path, n);
        c->build_id_len = m->build_id_len < sizeof c->build_id ? m->build_id_len : 0;
        memcpy(c->build_id, m->build_id, c->build_id_len);
    }
}

static void note_creation(struct builder *b, uint64_t creator, uint64_t id, const uint64_t *pcs,
                          unsigned n)
{
    if (b->ncreations == b->creations_cap) {
        size_t cap = b->creations_cap ? b->creations_cap * 2 : 16;
        struct creation *c = realloc(b->creations, cap * sizeof *c);
        if (!c)
            return; /* that wait goes to an empty stack */
        b->creations = c;
        b->creations_cap = cap;
    }
    struct creation *c = &b->creations[b->ncreations++];
    c->creator = creator;
    c->id = id;
    memcpy(c->pcs, pcs, n * sizeof *pcs);
    c->n = n;
}

/* The profile a block or call counts in, by the same rules as the thread
 * analysis's columns (threads.c). */
static int event_profile(const struct ct_event *ev)
{
    const char *group = ct_reason_group((unsigned)ev->args[0]);
    if (ev->kind == CT_EV_BLOCK)
        return group && strcmp(group, "syscall") == 0 ? (int)CT_PPROF_SYSCALL
               : group && strcmp(group, "sleep") == 0 ? -1 /* a sleep: in none */
                                                       : (int)CT_PPROF_SYNC;
    if (group && strcmp(group, "sync") == 0)
        return CT_PPROF_SYNC;
    return ev->args[2] == CT_FD_NETWORK ? CT_PPROF_NET : CT_PPROF_SYSCALL;
}

static void on_event(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    (void)rd;
    struct builder *b = ctx;
    struct thread_state *t = thread_of(b, r->tid);
    if (!t)
        return;
    if (b->nmodules == 0 || gen->nmodules != b->nmodules)
        copy_modules(b, gen);
    uint64_t pcs[MAX_FRAMES];
    unsigned n = ev->stack ? frames_of(gen, ev->stack, pcs) : 0;
    if (n) {
        memcpy(t->pcs, pcs, n * sizeof *pcs);
        t->n = n;
    }
    switch (ev->kind) {
    case CT_EV_THREAD_CREATE:
        if (b->type == CT_PPROF_SCHED && n)
            note_creation(b, r->tid, ev->args[0], pcs, n);
        break;
    case CT_EV_THREAD_RUNNABLE:
        /* Its wait for its first run goes to the stack that created it. */
        for (size_t i = b->ncreations; i-- > 0;) {
            struct creation *c = &b->creations[i];
            if (c->creator == ev->args[0] && c->id == ev->args[1]) {
                memcpy(t->act_pcs, c->pcs, c->n * sizeof *c->pcs);
                t->act_n = c->n;
                t->act_leaf = 0;
                memcpy(t->pcs, c->pcs, c->n * sizeof *c->pcs);
                t->n = c->n;
                *c = b->creations[--b->ncreations];
                break;
            }
        }
        break;
    case CT_EV_CALL:
        /* A call the thread is in (at a generation's end, or from the
         * kernel): no stack of its own; its own event, if any, comes
         * later with the stack. */
        if (r->activity == CT_COL_EXEC) {
            t->act_n = 0;
            t->act_leaf = ev->args[0]   ? (unsigned)ev->args[0]
                          : ev->args[3] ? LEAF_SYSCALL + (unsigned)(ev->args[3] - 1)
                                        : 0;
        }
        break;
    case CT_EV_BLOCK:
    case CT_EV_SYSCALL:
        /* The intervals that follow, while the row says the thread is in
         * it, are this block's or call's; it is one contention of its
         * kind, whether or not it left the CPU. */
        memcpy(t->act_pcs, pcs, n * sizeof *pcs);
        t->act_n = n;
        t->act_leaf = ev->args[0] < LEAF_SYSCALL ? (unsigned)ev->args[0] : 0;
        if (event_profile(ev) == (int)b->type)
            add_sample(b, pcs, n, 1, 0, t->act_leaf);
        break;
    }
}

/* The column a profile type is the delay of. */
static int profile_column(enum ct_pprof_type type)
{
    switch (type) {
    case CT_PPROF_NET:
        return CT_COL_NET;
    case CT_PPROF_SYNC:
        return CT_COL_SYNC;
    case CT_PPROF_SYSCALL:
        return CT_COL_SYSCALL;
    case CT_PPROF_SCHED:
        return CT_COL_SCHED;
    }
    return -1;
}

static void on_interval(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                        int64_t begin, int64_t end)
{
    (void)reason;
    struct builder *b = ctx;
    if (column != profile_column(b->type) || r->tracer)
        return;
    struct thread_state *t = thread_of(b, r->tid);
    if (!t)
        return;
    /* In a block or call (or waiting for its first run): its stack; else,
     * preempted while running, the last stack the thread recorded. */
    bool in_act = r->activity != CT_COL_EXEC;
    const uint64_t *pcs = in_act ? t->act_pcs : t->pcs;
    unsigned n = in_act ? t->act_n : t->n;
    uint64_t count = 0; /* a block's or call's was counted at its event */
    if (column == CT_COL_SCHED) {
        count = begin != t->sched_end;
        t->sched_end = end;
    }
    /* The block's or call's leaf, but in the scheduler's profile: there it
     * waited for a CPU, not in the call. */
    add_sample(b, pcs, n, count, ct_span_ns(begin, end),
               in_act && column != CT_COL_SCHED ? t->act_leaf : 0);
}

/* ---- writing ---- */

struct strings {
    char **s;
    size_t n, cap;
};

static uint64_t intern(struct strings *st, const char *s)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->s[i], s) == 0)
            return i;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        char **grown = realloc(st->s, cap * sizeof *grown);
        if (!grown)
            return 0;
        st->s = grown;
        st->cap = cap;
    }
    st->s[st->n] = strdup(s);
    return st->s[st->n] ? st->n++ : 0;
}

#define MAX_INLINE 8

/* A location: a pc, and its lines, innermost first (inlined functions,
 * then the function they were inlined into: pprof's order). */
struct location {
    uint64_t pc;
    uint64_t function[MAX_INLINE]; /* function ids */
    int line[MAX_INLINE];
    int nlines;
    uint64_t mapping;
};

static int encode(struct builder *b, struct pb *out, const struct ct_threads *t,
                  const struct ct_reader *rd)
{
    struct strings st = {0};
    intern(&st, "");
    struct pb m = {0};
    static const char *types[][2] = {{"contentions", "count"}, {"delay", "nanoseconds"}};
    for (int i = 0; i < 2; i++) {
        pb_uint(&m, 1, intern(&st, types[i][0]));
        pb_uint(&m, 2, intern(&st, types[i][1]));
        pb_message(out, 1, &m);
    }
    /* Mappings: one per module, ids from 1. */
    struct ct_gen fake = {0};
    struct ct_rd_module *mods = calloc(b->nmodules ? b->nmodules : 1, sizeof *mods);
    for (size_t i = 0; mods && i < b->nmodules; i++) {
        const struct module_copy *c = &b->modules[i];
        mods[i] = (struct ct_rd_module){(const uint8_t *)c->path, strlen(c->path), c->start,
                                        c->size, c->bias, c->build_id, c->build_id_len};
        char hex[129] = "";
        for (size_t k = 0; k < c->build_id_len && k < 64; k++)
            snprintf(hex + 2 * k, 3, "%02x", c->build_id[k]);
        pb_uint(&m, 1, i + 1);
        pb_uint(&m, 2, c->start);
        pb_uint(&m, 3, c->start + c->size);
        pb_uint(&m, 4, c->start - c->bias);
        pb_uint(&m, 5, intern(&st, c->path));
        pb_uint(&m, 6, intern(&st, hex));
        pb_uint(&m, 7, 1);
        pb_uint(&m, 8, 1);
        pb_uint(&m, 9, 1);
        pb_message(out, 3, &m);
    }
    fake.modules = mods;
    fake.nmodules = mods ? b->nmodules : 0;
    struct ct_symbols *sym = ct_symbols_open_rd(rd, &fake);
    /* Locations: one per distinct pc; functions by name and file. */
    struct location *locs = NULL;
    size_t nlocs = 0, locs_cap = 0;
    struct {
        uint64_t name, file;
    } *funcs = NULL;
    size_t nfuncs = 0;
    struct pb sample = {0}, packed = {0};
    bool leaves[LEAF_MAX] = {false};
    for (size_t i = 0; i < b->nsamples && !out->failed; i++) {
        const struct sample *s = &b->samples[i];
        packed.len = 0;
        if (s->leaf) { /* first: pprof's stacks go from the leaf */
            pb_varint(&packed, LEAF_ID + s->leaf);
            leaves[s->leaf] = true;
        }
        for (unsigned f = 0; f < s->n; f++) {
            size_t id = 0;
            while (id < nlocs && locs[id].pc != s->pcs[f])
                id++;
            if (id == nlocs) {
                if (nlocs == locs_cap) {
                    locs_cap = locs_cap ? locs_cap * 2 : 256;
                    struct location *grown = realloc(locs, locs_cap * sizeof *grown);
                    if (!grown)
                        break;
                    locs = grown;
                }
                struct ct_symbol frames[MAX_INLINE];
                int nf = ct_symbols_frames(sym, s->pcs[f], true, frames, MAX_INLINE);
                struct location loc = {s->pcs[f], {0}, {0}, 0, 0};
                for (int k = 0; k < nf; k++) {
                    uint64_t name = intern(&st, frames[k].function);
                    uint64_t file = intern(&st, frames[k].file);
                    size_t fn = 0;
                    while (fn < nfuncs && (funcs[fn].name != name || funcs[fn].file != file))
                        fn++;
                    if (fn == nfuncs) {
                        void *grown = realloc(funcs, (nfuncs + 1) * sizeof *funcs);
                        if (!grown)
                            break;
                        funcs = grown;
                        funcs[nfuncs].name = name;
                        funcs[nfuncs++].file = file;
                    }
                    loc.function[loc.nlines] = fn + 1;
                    loc.line[loc.nlines++] = frames[k].line;
                }
                uint64_t mapping = 0;
                for (size_t k = 0; k < b->nmodules; k++)
                    if (s->pcs[f] >= b->modules[k].start &&
                        s->pcs[f] - b->modules[k].start < b->modules[k].size)
                        mapping = k + 1;
                loc.mapping = mapping;
                locs[nlocs++] = loc;
            }
            pb_varint(&packed, id + 1);
        }
        pb_bytes(&sample, 1, packed.data, packed.len);
        packed.len = 0;
        pb_varint(&packed, s->count);
        pb_varint(&packed, s->delay);
        pb_bytes(&sample, 2, packed.data, packed.len);
        pb_message(out, 2, &sample);
    }
    for (size_t i = 0; i < nlocs; i++) {
        pb_uint(&m, 1, i + 1);
        if (locs[i].mapping)
            pb_uint(&m, 2, locs[i].mapping);
        /* pprof shows the call instruction: one byte before the return. */
        pb_uint(&m, 3, locs[i].pc - 1);
        for (int k = 0; k < locs[i].nlines; k++) {
            struct pb line = {0};
            pb_uint(&line, 1, locs[i].function[k]);
            if (locs[i].line[k] > 0)
                pb_uint(&line, 2, (uint64_t)locs[i].line[k]);
            pb_message(&m, 4, &line);
            free(line.data);
        }
        pb_message(out, 4, &m);
    }
    for (unsigned leaf = 0; leaf < LEAF_MAX; leaf++) /* leaves: no address, one line */
        if (leaves[leaf]) {
            pb_uint(&m, 1, LEAF_ID + leaf);
            struct pb line = {0};
            pb_uint(&line, 1, LEAF_ID + leaf);
            pb_message(&m, 4, &line);
            free(line.data);
            pb_message(out, 4, &m);
            uint64_t name = intern(&st, leaf_name(leaf));
            pb_uint(&m, 1, LEAF_ID + leaf);
            pb_uint(&m, 2, name);
            pb_uint(&m, 3, name);
            pb_message(out, 5, &m);
        }
    for (size_t i = 0; i < nfuncs; i++) {
        pb_uint(&m, 1, i + 1);
        pb_uint(&m, 2, funcs[i].name);
        pb_uint(&m, 3, funcs[i].name);
        pb_uint(&m, 4, funcs[i].file);
        pb_message(out, 5, &m);
    }
    for (size_t i = 0; i < st.n; i++)
        pb_bytes(out, 6, st.s[i], strlen(st.s[i]));
    pb_uint(out, 10, (uint64_t)(t->end_ns - t->begin_ns));
    pb_uint(&m, 1, 1);
    pb_uint(&m, 2, 2);
    pb_message(out, 11, &m); /* period type: contentions count */
    pb_uint(out, 12, 1);
    for (size_t i = 0; i < st.n; i++)
        free(st.s[i]);
    free(st.s);
    free(m.data);
    free(sample.data);
    free(packed.data);
    free(locs);
    free(funcs);
    free(mods);
    ct_symbols_close(sym);
    return out->failed ? -1 : 0;
}

static int write_gzip(const struct pb *p, FILE *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uint8_t buf[65536];
    z.next_in = p->data;
    z.avail_in = (uInt)p->len;
    int rc;
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        rc = deflate(&z, Z_FINISH);
        size_t n = sizeof buf - z.avail_out;
        if (n && fwrite(buf, 1, n, out) != n) {
            deflateEnd(&z);
            return -1;
        }
    } while (rc == Z_OK);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

int ct_pprof_write(struct ct_reader *rd, enum ct_pprof_type type, FILE *out,
                   struct ct_pprof_totals *totals)
{
    struct builder b = {.type = type};
    struct ct_visitor v = {&b, on_interval, on_event};
    struct ct_threads t;
    int rc = ct_threads_visit(rd, &t, &v);
    struct pb p = {0};
    if (rc == 0 && !b.failed)
        rc = encode(&b, &p, &t, rd);
    else
        rc = -1;
    if (rc == 0)
        rc = write_gzip(&p, out);
    if (totals) {
        memset(totals, 0, sizeof *totals);
        for (size_t i = 0; i < b.nsamples; i++) {
            totals->contentions += b.samples[i].count;
            totals->delay_ns += b.samples[i].delay;
        }
        totals->stacks = b.nsamples;
    }
    free(p.data);
    free(b.samples);
    free(b.by_stack);
    free(b.threads);
    free(b.creations);
    free(b.modules);
    ct_threads_free(&t);
    return rc;
}
