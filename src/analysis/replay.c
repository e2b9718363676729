/*
 * replay.c - see replay.h. Reading again is done as the timeline's windows
 * do it (timeline_window.c): a lane's reading starts from a mark, with the
 * state the mark saved, and reads the thread's batches of the generations
 * up to the closing mark; a generation is indexed again with its string and
 * stack definitions read first.
 */
#include "replay.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int ct_replay_open(struct ct_replay *r, const struct ct_timeline *ix)
{
    memset(r, 0, sizeof *r);
    r->ix = ix;
    for (int i = 0; i < CT_REPLAY_CACHE; i++)
        r->cache[i].index = UINT32_MAX;
    if (!ix->src_open || ct_rd_open_mem(&r->rd, ix->src.data, ix->src.size, ix->src.path) != 0)
        return -1;
    r->rd.checked = true; /* the index's reading verified the checksums */
    r->rd.have_start = ix->src.have_start;
    r->rd.start_mono_ns = ix->src.start_mono_ns;
    r->open = true;
    return 0;
}

/* The pages of the mapped trace a generation read again touched leave
 * this process's memory (the kernel keeps them cached), as the timeline's
 * windows do it. */
static void release(struct ct_replay *r, int slot)
{
    const struct ct_timeline *ix = r->ix;
    uint32_t g = r->cache[slot].index;
    if (g == UINT32_MAX || !ix->src_mapped || g >= ix->ngens)
        return;
    uint64_t page = 4096, from = ix->gens[g].offset & ~(page - 1);
    uint64_t to = ix->gens[g].end_offset < ix->src.size ? ix->gens[g].end_offset : ix->src.size;
    if (to > from)
        madvise((void *)(ix->src.data + from), to - from, MADV_DONTNEED);
}

void ct_replay_close(struct ct_replay *r)
{
    for (int i = 0; i < CT_REPLAY_CACHE; i++) {
        release(r, i);
        ct_gen_free(&r->cache[i].gen);
    }
    if (r->open)
        ct_rd_close(&r->rd);
    memset(r, 0, sizeof *r);
}

static struct ct_gen *generation(struct ct_replay *r, uint32_t g)
{
    const struct ct_timeline *ix = r->ix;
    int slot = 0;
    for (int i = 0; i < CT_REPLAY_CACHE; i++) {
        if (r->cache[i].index == g) {
            r->cache[i].used = ++r->clock;
            return &r->cache[i].gen;
        }
        if (r->cache[i].used < r->cache[slot].used)
            slot = i;
    }
    struct ct_gen *gen = &r->cache[slot].gen;
    release(r, slot);
    ct_gen_free(gen);
    r->cache[slot].index = UINT32_MAX;
    if (g >= ix->ngens || ct_rd_gen_at(&r->rd, ix->gens[g].offset, gen) != 1)
        return NULL;
    for (size_t b = 0; b < gen->nbatches && gen->batches[b].offset < ix->gens[g].defs_end; b++) {
        struct ct_event_iter it;
        struct ct_event ev;
        uint64_t counts[CT_MAX_KINDS];
        int rc;
        ct_rd_events(gen, b, &it);
        while ((rc = ct_rd_skim_events(&r->rd, &it, 0, counts, &ev)) == 1)
            ;
        if (rc < 0)
            return NULL;
    }
    r->cache[slot].index = g;
    r->cache[slot].used = ++r->clock;
    return gen;
}

static const struct tl_lane *lane_of(const struct ct_timeline *ix, uint64_t tid)
{
    size_t lo = 0, hi = ix->nlanes; /* sorted by tid */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ix->lanes[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->nlanes && ix->lanes[lo].tid == tid ? &ix->lanes[lo] : NULL;
}

size_t ct_replay_cost(const struct ct_timeline *ix, uint64_t tid, int64_t t0, int64_t t1)
{
    const struct tl_lane *l = lane_of(ix, tid);
    size_t a, z;
    return l ? ct_tl_mark_range(l, t0, t1, &a, &z) : 0;
}

static void no_mark(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                    const struct ct_gen *gen, size_t batch, bool first)
{
    (void)ctx, (void)r, (void)rd, (void)gen, (void)batch, (void)first;
}

int ct_replay_thread(struct ct_replay *r, uint64_t tid, int64_t t0, int64_t t1,
                     const struct ct_replay_visitor *v)
{
    const struct ct_timeline *ix = r->ix;
    const struct tl_lane *l = lane_of(ix, tid);
    size_t a, z;
    if (!l || !ct_tl_mark_range(l, t0, t1, &a, &z))
        return 0;
    const struct tl_mark *m = l->marks;
    struct ct_threads th = {0};
    th.rows = calloc(1, sizeof *th.rows);
    if (!th.rows)
        return -1;
    struct ct_visitor visitor = v->v;
    visitor.mark = no_mark;
    visitor.wants = NULL;
    th.visitor = &visitor;
    th.sched = ix->sched;
    th.count = th.cap = 1;
    struct ct_thread_row *row = &th.rows[0];
    row->tid = tid;
    /* The state the first mark saved. */
    struct tl_state st;
    ct_tl_restore(ix, &m[a], &st, row);
    if (v->start)
        v->start(v->ctx, st.open, st.nopen);
    int rc = 0;
    int64_t from = st.at;
    for (size_t k = a; k <= z && rc == 0;) {
        size_t k2 = k;
        while (k2 < z && m[k2 + 1].gen == m[k].gen)
            k2++;
        bool mid = k == a && !m[a].first;
        struct ct_gen *gen = generation(r, m[k].gen);
        if (!gen || ct_threads_resume(&r->rd, gen, &th, tid, mid ? m[a].batch : SIZE_MAX,
                                      m[k2].batch == UINT32_MAX ? SIZE_MAX : m[k2].batch,
                                      mid ? from : INT64_MIN) != 0)
            rc = -1;
        k = k2 + 1;
    }
    r->batches += z - a + 1;
    if (rc == 0 && z == l->nmarks - 1) /* to the thread's end, as the index read it */
        for (size_t k = 0; k < ix->threads.count; k++)
            if (ix->threads.rows[k].tid == tid) {
                ct_threads_account(&th, &th.rows[0], ix->threads.rows[k].end_ns);
                break;
            }
    ct_threads_free(&th);
    return rc;
}
