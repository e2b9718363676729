/*
 * instances_query.c - pages of the instance index (instances.h). A type's
 * items are a range of the set, in begin order; by duration they are a
 * range of the type's order by duration, found by bisection; a duration
 * filter in begin order is one sequential look at the type's durations
 * (4 bytes an item, tens of milliseconds for tens of millions).
 */
#include "instances.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "order.h"

uint64_t ct_inst_duration(const struct ct_inst_set *s, size_t i)
{
    uint32_t d = s->dur[i];
    if (d < CT_INST_LONG)
        return d;
    if (d == CT_INST_OPEN)
        return UINT64_MAX;
    size_t lo = 0, hi = s->nlongs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->longs[mid].index < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nlongs && s->longs[lo].index == i ? s->longs[lo].ns : CT_INST_LONG;
}

int64_t ct_inst_end(const struct ct_instances *ix, const struct ct_inst_set *s, size_t i)
{
    uint64_t d = ct_inst_duration(s, i);
    if (d == UINT64_MAX)
        return ix->end > ct_inst_begin(s, i) ? ix->end : ct_inst_begin(s, i);
    return ct_inst_begin(s, i) + (int64_t)d;
}

static bool passes(const struct ct_inst_set *s, size_t i, const struct ct_inst_filter *f)
{
    uint32_t d = s->dur[i];
    if (f->open)
        return d == CT_INST_OPEN;
    if (d == CT_INST_OPEN)
        return false;
    if (d < CT_INST_LONG)
        return d >= f->min_ns && (!f->max_ns || d < f->max_ns);
    uint64_t ns = ct_inst_duration(s, i);
    return ns >= f->min_ns && (!f->max_ns || ns < f->max_ns);
}

/* The type's order by duration (open ones last), built the first time. */
static const uint32_t *by_duration(struct ct_instances *ix, struct ct_inst_set *s, size_t type)
{
    uint32_t *order = atomic_load_explicit(&s->by_dur[type], memory_order_acquire);
    if (order)
        return order;
    pthread_mutex_lock(&ix->lazy);
    order = atomic_load_explicit(&s->by_dur[type], memory_order_relaxed);
    size_t a = s->at[type], n = s->at[type + 1] - a;
    if (!order && (order = malloc((n ? n : 1) * sizeof *order))) {
        for (size_t k = 0; k < n; k++)
            order[k] = (uint32_t)(a + k);
        if (ct_order_sort_u32(order, n, s->dur) != 0) {
            free(order);
            order = NULL;
        } else {
            /* The long ones (a run before the open ones) by their value:
             * few, by insertion. */
            size_t lo = 0;
            while (lo < n && s->dur[order[lo]] < CT_INST_LONG)
                lo++;
            size_t hi = lo;
            while (hi < n && s->dur[order[hi]] == CT_INST_LONG)
                hi++;
            for (size_t k = lo + 1; k < hi; k++) {
                uint32_t x = order[k];
                uint64_t v = ct_inst_duration(s, x);
                size_t j = k;
                for (; j > lo && ct_inst_duration(s, order[j - 1]) > v; j--)
                    order[j] = order[j - 1];
                order[j] = x;
            }
            atomic_store_explicit(&s->by_dur[type], order, memory_order_release);
        }
    }
    pthread_mutex_unlock(&ix->lazy);
    return order;
}

int ct_inst_order(struct ct_instances *ix, struct ct_inst_set *s, size_t type)
{
    return type < s->ntypes && by_duration(ix, s, type) ? 0 : -1;
}

/* The first rank in a by-duration order whose duration is at least ns
 * (open ones count as the longest). */
static size_t rank_at_least(const struct ct_inst_set *s, const uint32_t *order, size_t n,
                            uint64_t ns)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ct_inst_duration(s, order[mid]) < ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first pages by duration need no order of the whole type: one look
 * at its durations keeps the first ranks in a heap. */
#define SCAN_RANKS 2000

struct ranked {
    uint64_t d;
    uint32_t i;
};

/* Whether x comes before y in the order asked for: by duration, ties by
 * begin (the index); desc reversed. */
static bool before(struct ranked x, struct ranked y, bool desc)
{
    bool lt = x.d < y.d || (x.d == y.d && x.i < y.i);
    return desc ? !lt && (x.d != y.d || x.i != y.i) : lt;
}

/* A heap whose top is the last kept in the order (the first to go). */
static void sift_down(struct ranked *h, size_t n, size_t k, bool desc)
{
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= n)
            return;
        if (c + 1 < n && before(h[c], h[c + 1], desc))
            c++;
        if (!before(h[k], h[c], desc))
            return;
        struct ranked t = h[k];
        h[k] = h[c];
        h[c] = t;
        k = c;
    }
}

static int top_by_duration(const struct ct_inst_set *s, size_t a, size_t z,
                           const struct ct_inst_filter *f, bool desc, size_t offset, size_t limit,
                           uint32_t *rows, size_t *nrows, size_t *total)
{
    size_t want = offset + limit, n = 0, seen = 0;
    *nrows = 0;
    struct ranked *h = malloc((want ? want : 1) * sizeof *h);
    if (!h)
        return -1;
    for (size_t i = a; i < z; i++) {
        if (!passes(s, i, f))
            continue;
        seen++;
        struct ranked x = {ct_inst_duration(s, i), (uint32_t)i};
        if (n < want) {
            h[n++] = x;
            for (size_t k = n - 1; k > 0 && before(h[(k - 1) / 2], h[k], desc); k = (k - 1) / 2) {
                struct ranked t = h[k];
                h[k] = h[(k - 1) / 2];
                h[(k - 1) / 2] = t;
            }
        } else if (want && before(x, h[0], desc)) {
            h[0] = x;
            sift_down(h, n, 0, desc);
        }
    }
    /* The heap emptied from its top gives the ranks from the last. */
    for (size_t m = n; m > 1; m--) {
        struct ranked t = h[0];
        h[0] = h[m - 1];
        h[m - 1] = t;
        sift_down(h, m - 1, 0, desc);
    }
    for (size_t k = offset; k < n && *nrows < limit; k++)
        rows[(*nrows)++] = h[k].i;
    *total = seen;
    free(h);
    return 0;
}

int ct_inst_page(struct ct_instances *ix, struct ct_inst_set *s, size_t type,
                 const struct ct_inst_filter *f, enum ct_inst_sort sort, bool desc, size_t offset,
                 size_t limit, uint32_t *rows, size_t *nrows, size_t *total)
{
    *nrows = *total = 0;
    if (type >= s->ntypes)
        return -1;
    size_t a = s->at[type], z = s->at[type + 1];
    if (sort == CT_INST_BY_DURATION && !atomic_load_explicit(&s->by_dur[type], memory_order_acquire)) {
        if (offset + limit <= SCAN_RANKS)
            return top_by_duration(s, a, z, f, desc, offset, limit, rows, nrows, total);
        /* The last pages: the first ones the other way round. */
        size_t n = 0;
        for (size_t i = a; i < z; i++)
            n += passes(s, i, f);
        if (offset >= n) {
            *total = n;
            return 0;
        }
        size_t from = n - offset - (limit < n - offset ? limit : n - offset);
        if (n - offset <= SCAN_RANKS) {
            uint32_t *back = malloc((n - offset) * sizeof *back);
            size_t got = 0;
            if (!back || top_by_duration(s, a, z, f, !desc, from, n - offset - from, back, &got,
                                         total) != 0) {
                free(back);
                return -1;
            }
            for (size_t k = 0; k < got; k++)
                rows[(*nrows)++] = back[got - 1 - k];
            free(back);
            return 0;
        }
    }
    if (sort == CT_INST_BY_DURATION) {
        const uint32_t *order = by_duration(ix, s, type);
        if (!order)
            return -1;
        size_t n = z - a, lo, hi;
        if (f->open) {
            lo = rank_at_least(s, order, n, UINT64_MAX);
            hi = n;
        } else {
            lo = rank_at_least(s, order, n, f->min_ns);
            hi = rank_at_least(s, order, n, f->max_ns ? f->max_ns : UINT64_MAX);
        }
        *total = hi > lo ? hi - lo : 0;
        for (size_t k = offset; k < *total && *nrows < limit; k++)
            rows[(*nrows)++] = order[desc ? hi - 1 - k : lo + k];
        return 0;
    }
    bool all = !f->open && f->min_ns == 0 && f->max_ns == 0;
    if (all) {
        /* Every item but the open ones: those are few; count them. */
        size_t open = 0;
        for (size_t i = a; i < z; i++)
            open += s->dur[i] == CT_INST_OPEN;
        all = open == 0;
    }
    if (all) {
        *total = z - a;
        for (size_t k = offset; k < *total && *nrows < limit; k++)
            rows[(*nrows)++] = (uint32_t)(desc ? z - 1 - k : a + k);
        return 0;
    }
    size_t seen = 0;
    if (!desc) {
        for (size_t i = a; i < z; i++)
            if (passes(s, i, f) && seen++ >= offset && *nrows < limit)
                rows[(*nrows)++] = (uint32_t)i;
    } else {
        for (size_t i = z; i-- > a;)
            if (passes(s, i, f) && seen++ >= offset && *nrows < limit)
                rows[(*nrows)++] = (uint32_t)i;
    }
    *total = seen;
    return 0;
}

long ct_inst_task(const struct ct_instances *ix, uint64_t id)
{
    size_t lo = 0, hi = ix->tasks.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ix->task_id[ix->task_by_id[mid]] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* An id used twice: the last begun. */
    long found = -1;
    for (; lo < ix->tasks.n && ix->task_id[ix->task_by_id[lo]] == id; lo++)
        found = ix->task_by_id[lo];
    return found;
}

size_t ct_inst_task_threads(const struct ct_instances *ix, size_t i, uint64_t *tids, size_t max)
{
    size_t n = 0;
    if (n < max)
        tids[n] = ct_inst_tid(ix, &ix->tasks, i);
    n++;
    /* The others, in the order first seen (the list is newest first). */
    size_t more = 0;
    for (uint32_t m = ix->task_more[i]; m; m = ix->more[m - 1].next)
        more++;
    for (uint32_t m = ix->task_more[i], k = 0; m; m = ix->more[m - 1].next, k++)
        if (n + (more - 1 - k) < max)
            tids[n + (more - 1 - k)] = ix->tids[ix->more[m - 1].lane];
    return n + more;
}

/* ---- logs ---- */

/* Whether hay[0..len) holds needle, in any case. */
static bool holds(const char *hay, size_t len, const char *needle, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

static size_t first_log_at(const struct ct_instances *ix, int64_t t)
{
    size_t lo = 0, hi = ix->nlogs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ct_inst_log_time(ix, mid) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int ct_inst_logs_page(const struct ct_instances *ix, const struct ct_log_filter *f, bool desc,
                      size_t offset, size_t limit, uint32_t *rows, size_t *nrows, size_t *total)
{
    *nrows = *total = 0;
    /* The texts that match, once each: there are as many as distinct
     * messages, usually far fewer than logs. */
    size_t qlen = f->q ? strlen(f->q) : 0;
    uint64_t *match = NULL;
    if (qlen) {
        match = calloc(ix->ntexts / 64 + 1, sizeof *match);
        bool *category = calloc(ix->ncategories + 1, sizeof *category);
        if (!match || !category) {
            free(match);
            free(category);
            return -1;
        }
        for (size_t c = 0; c < ix->ncategories; c++)
            category[c] = holds(ix->categories[c], strlen(ix->categories[c]), f->q, qlen);
        for (size_t k = 0; k < ix->ntexts; k++) {
            const struct ct_inst_text *x = &ix->texts[k];
            if (category[x->category] || holds(ix->text + x->at, x->len, f->q, qlen))
                match[k / 64] |= 1ull << (k % 64);
        }
        free(category);
    }
    size_t a = 0, z = ix->nlogs;
    int64_t t0 = f->t0, t1 = f->t1;
    if (f->task && f->task <= ix->tasks.n) {
        /* A task's logs lie in its time, give or take the clocks of its
         * threads' CPUs. */
        size_t i = f->task - 1;
        if (ct_inst_begin(&ix->tasks, i) != INT64_MIN) {
            int64_t b = ct_inst_begin(&ix->tasks, i) - 1000000;
            int64_t e = ct_inst_end(ix, &ix->tasks, i) + 1000000;
            t0 = b > t0 ? b : t0;
            t1 = e < t1 ? e : t1;
        }
    }
    if (t0 > INT64_MIN)
        a = first_log_at(ix, t0);
    if (t1 < INT64_MAX)
        z = first_log_at(ix, t1);
    size_t seen = 0;
    for (size_t k = 0; a + k < z; k++) {
        size_t i = desc ? z - 1 - k : a + k;
        if ((f->task && ix->log_task[i] != f->task) ||
            (f->tid && ct_inst_log_tid(ix, i) != f->tid) ||
            (match && !(match[ix->log_text[i] / 64] >> (ix->log_text[i] % 64) & 1)))
            continue;
        if (seen++ >= offset && *nrows < limit)
            rows[(*nrows)++] = (uint32_t)i;
    }
    *total = seen;
    free(match);
    return 0;
}

/* ---- a task's regions ---- */

/* Items of a set in begin order, stable (a task's regions: few). */
static int sort_by_begin(const struct ct_inst_set *s, uint32_t *idx, size_t n)
{
    if (n < 2)
        return 0;
    int64_t *key = malloc((n ? n : 1) * sizeof *key);
    uint32_t *pos = malloc((n ? n : 1) * sizeof *pos), *out = malloc((n ? n : 1) * sizeof *out);
    int rc = key && pos && out ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        key[k] = ct_inst_begin(s, idx[k]);
        pos[k] = (uint32_t)k;
    }
    if (rc == 0 && (rc = ct_order_sort_i64(pos, n, key)) == 0) {
        for (size_t k = 0; k < n; k++)
            out[k] = idx[pos[k]];
        memcpy(idx, out, n * sizeof *idx);
    }
    free(key);
    free(pos);
    free(out);
    return rc;
}

static size_t first_begin_at(const struct ct_inst_set *s, size_t a, size_t z, int64_t t)
{
    while (a < z) {
        size_t mid = a + (z - a) / 2;
        if (ct_inst_begin(s, mid) < t)
            a = mid + 1;
        else
            z = mid;
    }
    return a;
}

int ct_inst_task_regions(const struct ct_instances *ix, size_t i, int64_t t0, int64_t t1,
                         size_t offset, size_t limit, uint32_t *rows, size_t *nrows,
                         size_t *total)
{
    const struct ct_inst_set *s = &ix->regions;
    *nrows = *total = 0;
    uint32_t ref = (uint32_t)i + 1;
    /* Within the task's time (a region of a task begun before the trace:
     * anywhere), and the range asked for. */
    int64_t from = INT64_MIN, to = INT64_MAX;
    if (ct_inst_begin(&ix->tasks, i) != INT64_MIN) {
        from = ct_inst_begin(&ix->tasks, i) - 1000000;
        to = ct_inst_end(ix, &ix->tasks, i) + 1000000;
    }
    if (to > t1)
        to = t1;
    uint32_t *found = NULL;
    size_t n = 0, cap = 0;
    for (size_t type = 0; type < s->ntypes; type++) {
        size_t z = s->at[type + 1];
        for (size_t k = first_begin_at(s, s->at[type], z, from); k < z && ct_inst_begin(s, k) < to;
             k++) {
            if (s->task[k] != ref || ct_inst_end(ix, s, k) <= t0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                uint32_t *grown = realloc(found, cap * sizeof *grown);
                if (!grown) {
                    free(found);
                    return -1;
                }
                found = grown;
            }
            found[n++] = (uint32_t)k;
        }
    }
    if (sort_by_begin(s, found, n) != 0) {
        free(found);
        return -1;
    }
    *total = n;
    for (size_t k = offset; k < n && *nrows < limit; k++)
        rows[(*nrows)++] = found[k];
    free(found);
    return 0;
}
