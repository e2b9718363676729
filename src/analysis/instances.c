/*
 * instances.c - the index of every task, region and log (instances.h):
 * gathered as the matching finds them, then put in order once. Regions and
 * logs are gathered per thread (runs.h: a thread's come nearly in time
 * order) and merged by time, type by type, into the index's columns.
 * Tasks are gathered as columns in the order they are first seen (a task
 * can be referred to by a region or a log before its begin is read, and
 * is found when its last end is read), then ordered by type and begin;
 * what refers to a task is then made an index into the ordered tasks.
 */
#include "instances.h"

#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "runs.h"

/* Tasks as gathered: created when first seen (a task can be referred to by
 * a region or a log before its begin is read), filled when found. */
struct gathered_tasks {
    size_t n, cap;
    uint64_t *id;
    int64_t *begin;
    uint32_t *dur, *type, *lane, *more;
    uint32_t *parent; /* 0, or the parent's index + 1 */
    uint8_t *found;
    uint32_t *slots; /* id -> index + 1; 0: empty (open addressing) */
    size_t nslots;
    /* The last task looked up: a task's regions and logs come together. */
    uint64_t last_id;
    long last;
};

struct long_item {
    uint32_t index;
    uint64_t ns;
};

/* A region of 4.29 s or more, known by its thread and begin until it has
 * its place in the index. */
struct long_region {
    uint32_t lane;
    int64_t t;
    uint64_t ns;
};

struct builder {
    struct ct_instances *ix;
    bool failed; /* out of memory */
    bool (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Threads: tid -> lane. */
    uint32_t *lane_slots;
    size_t lane_nslots, lanes_cap;
    size_t last_lane;
    struct gathered_tasks t;
    struct long_item *task_longs;
    size_t ntask_longs, task_longs_cap;
    struct long_region *region_longs;
    size_t nregion_longs, region_longs_cap;
    size_t more_cap;
    struct ct_runs regions, logs; /* (type, lane) and (0, lane) */
    size_t text_cap, texts_cap, categories_cap;
    uint32_t *text_slots; /* (category, message) -> text + 1 */
    size_t text_nslots;
    uint64_t category_gen; /* the generation whose string ids are cached */
    struct { uint64_t id; uint32_t category; } category_cache[16];
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

/* Grows each of a set of parallel columns to cap items; false without
 * memory (those grown stay grown). */
static bool grow_columns(void **cols[], const size_t sizes[], size_t ncols, size_t cap)
{
    for (size_t c = 0; c < ncols; c++) {
        void *p = realloc(*cols[c], cap * sizes[c]);
        if (!p)
            return false;
        *cols[c] = p;
    }
    return true;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

/* ---- threads ---- */

static uint32_t lane_of(struct builder *b, uint64_t tid)
{
    struct ct_instances *ix = b->ix;
    if (b->last_lane < ix->nlanes && ix->tids[b->last_lane] == tid)
        return (uint32_t)b->last_lane;
    if ((ix->nlanes + 1) * 2 > b->lane_nslots) {
        size_t n = b->lane_nslots ? b->lane_nslots * 2 : 64;
        uint32_t *s = calloc(n, sizeof *s);
        if (!s) {
            b->failed = true;
            return 0;
        }
        for (size_t i = 0; i < ix->nlanes; i++) {
            size_t k = mix(ix->tids[i]) & (n - 1);
            while (s[k])
                k = (k + 1) & (n - 1);
            s[k] = (uint32_t)i + 1;
        }
        free(b->lane_slots);
        b->lane_slots = s;
        b->lane_nslots = n;
    }
    size_t k = mix(tid) & (b->lane_nslots - 1);
    for (; b->lane_slots[k]; k = (k + 1) & (b->lane_nslots - 1))
        if (ix->tids[b->lane_slots[k] - 1] == tid)
            return (uint32_t)(b->last_lane = b->lane_slots[k] - 1);
    if (!grow((void **)&ix->tids, &b->lanes_cap, ix->nlanes + 1, sizeof *ix->tids)) {
        b->failed = true;
        return 0;
    }
    ix->tids[ix->nlanes] = tid;
    b->lane_slots[k] = (uint32_t)ix->nlanes + 1;
    return (uint32_t)(b->last_lane = ix->nlanes++);
}

/* ---- tasks ---- */

/* Task ids are handed out in blocks per thread, a thread's tasks in
 * order: a hash that keeps near ids near keeps the table's lines in the
 * cache; the high bits folded in spread ids that differ only there. */
static uint64_t task_hash(uint64_t id)
{
    return id ^ (id >> 17) ^ (id >> 31) * 0x9E3779B9u;
}

static bool task_slots_grow(struct gathered_tasks *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i]) {
            size_t k = task_hash(t->id[t->slots[i] - 1]) & (n - 1);
            while (s[k])
                k = (k + 1) & (n - 1);
            s[k] = t->slots[i];
        }
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    return true;
}

/* A new gathered task for id (the slot k of the table points to it). */
static long task_new(struct builder *b, uint64_t id, size_t k)
{
    struct gathered_tasks *t = &b->t;
    if (t->n >= UINT32_MAX - 1) {
        b->failed = true;
        return -1;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        void **cols[] = {(void **)&t->id,  (void **)&t->parent, (void **)&t->begin,
                         (void **)&t->dur, (void **)&t->type,   (void **)&t->lane,
                         (void **)&t->more, (void **)&t->found};
        const size_t sizes[] = {8, 4, 8, 4, 4, 4, 4, 1};
        if (!grow_columns(cols, sizes, 8, cap)) {
            b->failed = true;
            return -1;
        }
        t->cap = cap;
    }
    size_t i = t->n++;
    t->id[i] = id;
    t->parent[i] = 0;
    t->begin[i] = INT64_MIN;
    t->dur[i] = CT_INST_OPEN;
    t->type[i] = UINT32_MAX;
    t->lane[i] = UINT32_MAX;
    t->more[i] = 0;
    t->found[i] = 0;
    t->slots[k] = (uint32_t)i + 1;
    return (long)i;
}

static long task_find_or_new(struct builder *b, uint64_t id, bool again);

/* The gathered task of id, created when new; -1 without memory. With
 * again, a task already found gets a new one (an id used twice). */
static long task_ref(struct builder *b, uint64_t id, bool again)
{
    struct gathered_tasks *t = &b->t;
    if (!again && t->last >= 0 && t->last_id == id)
        return t->last;
    long found = task_find_or_new(b, id, again);
    t->last_id = id;
    t->last = found;
    return found;
}

static long task_find_or_new(struct builder *b, uint64_t id, bool again)
{
    struct gathered_tasks *t = &b->t;
    if ((t->n + 1) * 2 > t->nslots && !task_slots_grow(t)) {
        b->failed = true;
        return -1;
    }
    size_t k = task_hash(id) & (t->nslots - 1);
    for (; t->slots[k]; k = (k + 1) & (t->nslots - 1)) {
        size_t i = t->slots[k] - 1;
        if (t->id[i] == id)
            return again && t->found[i] ? task_new(b, id, k) : (long)i;
    }
    return task_new(b, id, k);
}

/* Notes that task i ran on lane: its first thread, or one more. */
static void task_on_lane(struct builder *b, size_t i, uint32_t lane)
{
    struct gathered_tasks *t = &b->t;
    struct ct_instances *ix = b->ix;
    if (t->lane[i] == lane)
        return;
    if (t->lane[i] == UINT32_MAX) {
        t->lane[i] = lane;
        return;
    }
    for (uint32_t m = t->more[i]; m; m = ix->more[m - 1].next)
        if (ix->more[m - 1].lane == lane)
            return;
    if (ix->nmore >= UINT32_MAX - 1 ||
        !grow((void **)&ix->more, &b->more_cap, ix->nmore + 1, sizeof *ix->more)) {
        b->failed = true;
        return;
    }
    ix->more[ix->nmore].lane = lane;
    ix->more[ix->nmore].next = t->more[i];
    t->more[i] = (uint32_t)++ix->nmore;
}

/* A duration for a u32 column; a long one is noted for the set's table. */
static uint32_t short_duration(struct builder *b, struct long_item **longs, size_t *n, size_t *cap,
                               size_t index, uint64_t ns)
{
    if (ns < CT_INST_LONG)
        return (uint32_t)ns;
    if (!grow((void **)longs, cap, *n + 1, sizeof **longs)) {
        b->failed = true;
        return CT_INST_OPEN;
    }
    (*longs)[(*n)++] = (struct long_item){(uint32_t)index, ns};
    return CT_INST_LONG;
}

static void on_task(void *ctx, const struct ct_ann_task *a)
{
    struct builder *b = ctx;
    long i = b->failed ? -1 : task_ref(b, a->id, true);
    if (i < 0)
        return;
    struct gathered_tasks *t = &b->t;
    t->found[i] = 1;
    if (a->begun) {
        t->type[i] = a->type;
        t->begin[i] = a->begin;
        /* The parent gathered too (one begun before the trace: referred
         * to only). */
        long p = a->parent ? task_ref(b, a->parent, false) : -1;
        t->parent[i] = p >= 0 ? (uint32_t)p + 1 : 0;
        uint32_t lane = lane_of(b, a->begin_tid);
        if (t->lane[i] != UINT32_MAX && t->lane[i] != lane) {
            /* Seen first elsewhere: the thread it began on comes first. */
            uint32_t other = t->lane[i];
            t->lane[i] = lane;
            task_on_lane(b, (size_t)i, other);
        }
        t->lane[i] = lane;
        if (a->ended)
            t->dur[i] = short_duration(b, &b->task_longs, &b->ntask_longs, &b->task_longs_cap,
                                       (size_t)i, ct_span_ns(a->begin, a->end));
    }
    if (a->ended)
        task_on_lane(b, (size_t)i, lane_of(b, a->end_tid));
}

static void on_region(void *ctx, const struct ct_ann_region *a)
{
    struct builder *b = ctx;
    if (b->failed)
        return;
    if (b->regions.items >= UINT32_MAX - 1) {
        b->failed = true;
        return;
    }
    uint32_t lane = lane_of(b, a->tid);
    long task = a->task ? task_ref(b, a->task, false) : -1;
    if (task >= 0)
        task_on_lane(b, (size_t)task, lane);
    struct ct_run_item *it = ct_runs_add(&b->regions, a->type, lane);
    if (!it) {
        b->failed = true;
        return;
    }
    uint64_t ns = ct_span_ns(a->begin, a->end);
    it->t = a->begin;
    it->a = !a->ended ? CT_INST_OPEN : ns < CT_INST_LONG ? (uint32_t)ns : CT_INST_LONG;
    it->b = task >= 0 ? (uint32_t)task + 1 : 0;
    if (it->a == CT_INST_LONG) {
        if (!grow((void **)&b->region_longs, &b->region_longs_cap, b->nregion_longs + 1,
                  sizeof *b->region_longs)) {
            b->failed = true;
            return;
        }
        b->region_longs[b->nregion_longs++] = (struct long_region){lane, a->begin, ns};
    }
}

/* ---- logs ---- */

static uint32_t category_of(struct builder *b, const struct ct_gen *gen, uint64_t id)
{
    struct ct_instances *ix = b->ix;
    if (b->category_gen != gen->offset + 1) {
        memset(b->category_cache, 0, sizeof b->category_cache);
        b->category_gen = gen->offset + 1;
    }
    if (id && b->category_cache[id & 15].id == id)
        return b->category_cache[id & 15].category;
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, id);
    const char *name = e ? (const char *)e->data : "";
    size_t len = e ? e->len : 0;
    size_t c = 0;
    for (; c < ix->ncategories; c++)
        if (strlen(ix->categories[c]) == len && memcmp(ix->categories[c], name, len) == 0)
            break;
    if (c == ix->ncategories) {
        char *copy = malloc(len + 1);
        if (!copy || !grow((void **)&ix->categories, &b->categories_cap, c + 1,
                           sizeof *ix->categories)) {
            free(copy);
            b->failed = true;
            return 0;
        }
        memcpy(copy, name, len);
        copy[len] = 0;
        ix->categories[ix->ncategories++] = copy;
    }
    b->category_cache[id & 15].id = id;
    b->category_cache[id & 15].category = (uint32_t)c;
    return (uint32_t)c;
}

static bool text_slots_grow(struct builder *b)
{
    struct ct_instances *ix = b->ix;
    size_t n = b->text_nslots ? b->text_nslots * 2 : 256;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < ix->ntexts; i++) {
        const struct ct_inst_text *x = &ix->texts[i];
        uint64_t h = hash_bytes(mix(x->category + 1), ix->text + x->at, x->len);
        size_t k = h & (n - 1);
        while (s[k])
            k = (k + 1) & (n - 1);
        s[k] = (uint32_t)i + 1;
    }
    free(b->text_slots);
    b->text_slots = s;
    b->text_nslots = n;
    return true;
}

/* The text of a (category, message) pair, stored when new. */
static uint32_t text_of(struct builder *b, uint32_t category, const uint8_t *msg, size_t len)
{
    struct ct_instances *ix = b->ix;
    if ((ix->ntexts + 1) * 2 > b->text_nslots && !text_slots_grow(b)) {
        b->failed = true;
        return 0;
    }
    uint64_t h = hash_bytes(mix(category + 1), msg, len);
    size_t k = h & (b->text_nslots - 1);
    for (; b->text_slots[k]; k = (k + 1) & (b->text_nslots - 1)) {
        const struct ct_inst_text *x = &ix->texts[b->text_slots[k] - 1];
        if (x->category == category && x->len == len && memcmp(ix->text + x->at, msg, len) == 0)
            return b->text_slots[k] - 1;
    }
    if (ix->ntexts >= UINT32_MAX - 1 || ix->text_len + len + 1 > UINT32_MAX ||
        !grow((void **)&ix->texts, &b->texts_cap, ix->ntexts + 1, sizeof *ix->texts) ||
        !grow((void **)&ix->text, &b->text_cap, ix->text_len + len + 1, 1)) {
        b->failed = true;
        return 0;
    }
    memcpy(ix->text + ix->text_len, msg, len);
    ix->text[ix->text_len + len] = 0;
    ix->texts[ix->ntexts] = (struct ct_inst_text){category, (uint32_t)ix->text_len, (uint32_t)len};
    ix->text_len += len + 1;
    b->text_slots[k] = (uint32_t)ix->ntexts + 1;
    return (uint32_t)ix->ntexts++;
}

static void on_log(void *ctx, const struct ct_gen *gen, const struct ct_event *ev)
{
    struct builder *b = ctx;
    if (b->failed)
        return;
    if (b->logs.items >= UINT32_MAX - 1) {
        b->failed = true;
        return;
    }
    uint32_t lane = lane_of(b, ev->tid);
    long task = ev->args[0] ? task_ref(b, ev->args[0], false) : -1;
    if (task >= 0)
        task_on_lane(b, (size_t)task, lane);
    uint32_t category = category_of(b, gen, ev->args[1]);
    uint32_t text = ev->bytes ? text_of(b, category, ev->bytes, ev->bytes_len)
                              : text_of(b, category, (const uint8_t *)"", 0);
    struct ct_run_item *it = ct_runs_add(&b->logs, 0, lane);
    if (!it) {
        b->failed = true;
        return;
    }
    *it = (struct ct_run_item){ev->ts_ns, text, task >= 0 ? (uint32_t)task + 1 : 0};
    if (ev->ts_ns > b->ix->end)
        b->ix->end = ev->ts_ns;
}

/* ---- putting in order ---- */

/* The long durations of a set, their indexes moved by inv. */
static int by_arrival(const void *a, const void *b)
{
    const struct long_item *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The long durations of a set in its order: the items whose duration
 * says long, each found among those gathered by where it was gathered
 * (order[k]). */
static int place_longs(struct ct_inst_set *s, struct long_item *longs, size_t n,
                       const uint32_t *order)
{
    if (n)
        qsort(longs, n, sizeof *longs, by_arrival);
    s->longs = malloc((n ? n : 1) * sizeof *s->longs);
    if (!s->longs)
        return -1;
    size_t m = 0;
    for (size_t k = 0; k < s->n && m < n; k++) {
        if (s->dur[k] != CT_INST_LONG)
            continue;
        struct long_item key = {order[k], 0};
        const struct long_item *l = bsearch(&key, longs, n, sizeof *longs, by_arrival);
        s->longs[m++] = (struct ct_inst_long){(uint32_t)k, l ? l->ns : CT_INST_LONG};
    }
    s->nlongs = m;
    return 0;
}

/* The order of a set: grouped by type (the last group: type UINT32_MAX,
 * mapped to ntypes), each group by begin. NULL without memory. */
static uint32_t *order_set(struct ct_inst_set *s, uint32_t *type, const int64_t *begin, size_t n,
                           size_t ntypes, bool extra)
{
    for (size_t i = 0; i < n; i++)
        if (type[i] >= ntypes)
            type[i] = (uint32_t)ntypes;
    size_t groups = ntypes + extra;
    s->at = calloc(groups + 1, sizeof *s->at);
    uint32_t *order = s->at ? ct_order_by_group(type, n, groups, s->at) : NULL;
    if (!extra && s->at)
        s->at[ntypes] = n;
    for (size_t g = 0; order && g < groups; g++)
        if (ct_order_sort_i64(order + s->at[g], s->at[g + 1] - s->at[g], begin) != 0) {
            free(order);
            return NULL;
        }
    s->n = n;
    s->ntypes = ntypes;
    return order;
}

/* Columns of 4 and 8 bytes pass their old memory on to the next of their
 * size (spare[0], spare[1]): freed after the last. */
#define GATHER(col, order, n)                                                              \
    (ct_order_apply((void **)&(col), (order), (n), sizeof *(col),                          \
                    sizeof *(col) == 8 ? &spare[1] : sizeof *(col) == 4 ? &spare[0] : NULL) == 0)

/* Every task reference made an index + 1 into the ordered tasks. */
static void remap(uint32_t *refs, size_t n, const uint32_t *inv)
{
    for (size_t i = 0; i < n; i++)
        if (refs[i])
            refs[i] = inv[refs[i] - 1] + 1;
}

static int finish_tasks(struct builder *b, uint32_t **inv_out)
{
    struct ct_instances *ix = b->ix;
    struct gathered_tasks *t = &b->t;
    struct ct_inst_set *s = &ix->tasks;
    free(t->slots); /* every task is gathered: ids are not looked up again */
    t->slots = NULL;
    size_t n = t->n;
    uint32_t *order = order_set(s, t->type, t->begin, n, ix->ann.ntasks, true);
    uint32_t *inv = order ? ct_order_inverse(order, n) : NULL;
    void *spare[2] = {NULL, NULL};
    int rc = inv ? 0 : -1;
    if (rc == 0) {
        remap(t->parent, n, inv);
        if (!(GATHER(t->begin, order, n) && GATHER(t->dur, order, n) && GATHER(t->lane, order, n) &&
              GATHER(t->id, order, n) && GATHER(t->more, order, n) && GATHER(t->parent, order, n)))
            rc = -1;
    }
    free(spare[0]);
    free(spare[1]);
    s->n = n;
    s->dur = t->dur, t->dur = NULL;
    s->task = t->parent, t->parent = NULL;
    ix->task_id = t->id, t->id = NULL;
    ix->task_more = t->more, t->more = NULL;
    if (rc == 0 && place_longs(s, b->task_longs, b->ntask_longs, order) != 0)
        rc = -1;
    free(order);
    /* Into narrow columns (columns.h). */
    if (rc == 0 && (ct_times_init(&s->begin, n) != 0 || ct_lanes_init(&s->lane, n, ix->nlanes) != 0))
        rc = -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!ct_times_set(&s->begin, i, t->begin[i]))
            rc = -1;
        /* A task never seen on a thread (only referred to): the first lane. */
        ct_lanes_set(&s->lane, i, t->lane[i] == UINT32_MAX ? 0 : t->lane[i]);
    }
    free(t->begin);
    free(t->lane);
    t->begin = NULL;
    t->lane = NULL;
    /* By id: for lookups. */
    ix->task_by_id = rc == 0 ? malloc((n ? n : 1) * sizeof *ix->task_by_id) : NULL;
    if (ix->task_by_id) {
        for (size_t i = 0; i < n; i++)
            ix->task_by_id[i] = (uint32_t)i;
        if (ct_order_sort_u64(ix->task_by_id, n, ix->task_id) != 0)
            rc = -1;
    } else {
        rc = -1;
    }
    *inv_out = inv;
    return rc;
}

static int by_lane_time(const void *a, const void *b)
{
    const struct long_region *x = a, *y = b;
    if (x->lane != y->lane)
        return x->lane < y->lane ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Where merged regions and logs go: the next place of the columns. */
struct place {
    struct builder *b;
    size_t k;
};

static void place_region(void *ctx, uint32_t lane, const struct ct_run_item *it)
{
    struct place *p = ctx;
    struct ct_inst_set *s = &p->b->ix->regions;
    size_t k = p->k++;
    if (!ct_times_set(&s->begin, k, it->t))
        p->b->failed = true;
    s->dur[k] = it->a;
    ct_lanes_set(&s->lane, k, lane);
    s->task[k] = it->b;
    if (it->a == CT_INST_LONG) {
        struct long_region key = {lane, it->t, 0};
        const struct long_region *l = bsearch(&key, p->b->region_longs, p->b->nregion_longs,
                                              sizeof key, by_lane_time);
        s->longs[s->nlongs++] = (struct ct_inst_long){(uint32_t)k, l ? l->ns : CT_INST_LONG};
    }
}

/* The regions, type by type, each by begin. Their tasks are still
 * references to the tasks as gathered. */
static int finish_regions(struct builder *b)
{
    struct ct_inst_set *s = &b->ix->regions;
    size_t n = b->regions.items, ntypes = b->ix->ann.nregions;
    s->n = n;
    s->ntypes = ntypes;
    s->at = calloc(ntypes + 1, sizeof *s->at);
    s->dur = malloc((n ? n : 1) * sizeof *s->dur);
    s->task = malloc((n ? n : 1) * sizeof *s->task);
    s->longs = malloc((b->nregion_longs ? b->nregion_longs : 1) * sizeof *s->longs);
    if (!s->at || !s->dur || !s->task || !s->longs || ct_times_init(&s->begin, n) != 0 ||
        ct_lanes_init(&s->lane, n, b->ix->nlanes) != 0)
        return -1;
    if (b->nregion_longs)
        qsort(b->region_longs, b->nregion_longs, sizeof *b->region_longs, by_lane_time);
    struct place p = {b, 0};
    for (size_t t = 0; t < ntypes; t++) {
        s->at[t] = p.k;
        if (ct_runs_merge(&b->regions, (uint32_t)t, place_region, &p) != 0)
            return -1;
    }
    s->at[ntypes] = p.k;
    return p.k == n && !b->failed ? 0 : -1;
}

static void place_log(void *ctx, uint32_t lane, const struct ct_run_item *it)
{
    struct place *p = ctx;
    struct ct_instances *ix = p->b->ix;
    size_t k = p->k++;
    if (!ct_times_set(&ix->log_t, k, it->t))
        p->b->failed = true;
    ct_lanes_set(&ix->log_lane, k, lane);
    ix->log_text[k] = it->a;
    ix->log_task[k] = it->b;
}

static int finish_logs(struct builder *b)
{
    struct ct_instances *ix = b->ix;
    size_t n = b->logs.items;
    ix->log_task = malloc((n ? n : 1) * sizeof *ix->log_task);
    ix->log_text = malloc((n ? n : 1) * sizeof *ix->log_text);
    if (!ix->log_task || !ix->log_text || ct_times_init(&ix->log_t, n) != 0 ||
        ct_lanes_init(&ix->log_lane, n, ix->nlanes) != 0)
        return -1;
    struct place p = {b, 0};
    if (ct_runs_merge(&b->logs, 0, place_log, &p) != 0)
        return -1;
    ix->nlogs = p.k;
    return p.k == n && !b->failed ? 0 : -1;
}

static int finish(struct builder *b)
{
    struct ct_instances *ix = b->ix;
    /* Regions and logs first: their runs give way to their columns, then
     * the tasks' ordering has the room. */
    uint32_t *task_inv = NULL;
    int rc = finish_regions(b);
    if (rc == 0)
        rc = finish_logs(b);
    if (rc == 0)
        rc = finish_tasks(b, &task_inv);
    if (rc == 0) {
        remap(ix->regions.task, ix->regions.n, task_inv);
        remap(ix->log_task, ix->nlogs, task_inv);
    }
    free(task_inv);
    for (size_t i = 0; rc == 0 && i < ix->regions.n; i++)
        if (ix->regions.dur[i] != CT_INST_OPEN) {
            int64_t e = ct_inst_begin(&ix->regions, i) + (int64_t)ct_inst_duration(&ix->regions, i);
            if (e > ix->end)
                ix->end = e;
        }
    for (size_t i = 0; rc == 0 && i < ix->tasks.at[ix->tasks.ntypes]; i++)
        if (ix->tasks.dur[i] != CT_INST_OPEN) {
            int64_t e = ct_inst_begin(&ix->tasks, i) + (int64_t)ct_inst_duration(&ix->tasks, i);
            if (e > ix->end)
                ix->end = e;
        }
    size_t ntypes[2] = {ix->tasks.ntypes, ix->regions.ntypes};
    struct ct_inst_set *sets[2] = {&ix->tasks, &ix->regions};
    for (int k = 0; rc == 0 && k < 2; k++)
        if (!(sets[k]->by_dur = calloc(ntypes[k] + 1, sizeof *sets[k]->by_dur)))
            rc = -1;
    return rc;
}

static void free_builder(struct builder *b)
{
    free(b->lane_slots);
    free(b->t.id);
    free(b->t.parent);
    free(b->t.begin);
    free(b->t.dur);
    free(b->t.type);
    free(b->t.lane);
    free(b->t.more);
    free(b->t.found);
    free(b->t.slots);
    free(b->task_longs);
    free(b->region_longs);
    ct_runs_free(&b->regions);
    ct_runs_free(&b->logs);
    free(b->text_slots);
}

static bool on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct builder *b = ctx;
    return !b->progress || b->progress(b->progress_ctx, done, total);
}

int ct_instances_build(struct ct_reader *rd, struct ct_instances *ix,
                       bool (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
    memset(ix, 0, sizeof *ix);
    pthread_mutex_init(&ix->lazy, NULL);
    ix->end = INT64_MIN;
    struct builder b = {.ix = ix, .last_lane = SIZE_MAX, .progress = progress, .progress_ctx = ctx};
    b.t.last = -1;
    struct ct_ann_sink sink = {&b, on_task, on_region, on_log, on_progress};
    int rc = ct_annotations_read(rd, &ix->ann, &sink);
    if (rc == 0 && b.failed)
        rc = -1;
    if (rc == 0)
        rc = finish(&b);
    free_builder(&b);
    if (ix->end == INT64_MIN)
        ix->end = 0;
    return rc;
}

void ct_instances_free(struct ct_instances *ix)
{
    ct_annotations_free(&ix->ann);
    free(ix->tids);
    struct ct_inst_set *sets[2] = {&ix->tasks, &ix->regions};
    for (int k = 0; k < 2; k++) {
        struct ct_inst_set *s = sets[k];
        free(s->at);
        ct_times_free(&s->begin);
        free(s->dur);
        ct_lanes_free(&s->lane);
        free(s->task);
        free(s->longs);
        for (size_t t = 0; s->by_dur && t <= s->ntypes; t++)
            free(s->by_dur[t]);
        free(s->by_dur);
    }
    free(ix->task_id);
    free(ix->task_more);
    free(ix->more);
    free(ix->task_by_id);
    ct_times_free(&ix->log_t);
    ct_lanes_free(&ix->log_lane);
    free(ix->log_task);
    free(ix->log_text);
    free(ix->texts);
    free(ix->text);
    for (size_t i = 0; i < ix->ncategories; i++)
        free(ix->categories[i]);
    free(ix->categories);
    pthread_mutex_destroy(&ix->lazy);
    memset(ix, 0, sizeof *ix);
}
