/*
 * skim.c - ct_rd_skim_events: stepping over the events a reader only
 * counts, by each kind's plan of varints (built in reader.c's derive).
 */
#include "reader_impl.h"

#include "bytes.h"

/* Skips one varint of at most 9 bytes (no overflow possible); false for
 * anything else, which the full decoder then reports precisely. */
static inline bool skip_uleb(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    if (q < end && *q < 0x80) { /* most are one byte */
        *v = *q;
        *p = q + 1;
        return true;
    }
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 63; shift += 7) {
        if (q >= end)
            return false;
        uint8_t b = *q++;
        value |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *v = value;
            return true;
        }
    }
    return false;
}

/* Steps over one event of a kind the caller only counts: what ts, the
 * task of later same-task events and the defined-id memory need, no
 * struct ct_event. False when the event is not a plain one (a definition,
 * frames, an unusual varint, an id not yet seen): the caller decodes it
 * fully, which reports any error precisely. The kind's plan lists its
 * varints and what each is for. */
/* The skim's state, kept in registers across events and written back to
 * the iterator only when the full decoder takes over. */
struct skim_state {
    const uint8_t *p;
    uint64_t ts, task;
};

static inline bool skim_one(struct skim_state *st, const struct ct_event_iter *it,
                            const struct ct_kind *kind, uint8_t byte)
{
    unsigned flags = (byte & CT_KIND_STACK ? 1 : 0) | (byte & CT_KIND_SAME_TASK ? 2 : 0);
    if (((flags & 1) && !kind->has_stack) || ((flags & 2) && !kind->has_task))
        return false;
    unsigned n = kind->plan_len[flags];
    if (!n--)
        return false;
    const uint8_t *plan = kind->plan[flags];
    const uint8_t *p = st->p + 1, *end = it->c.end;
    uint64_t v, ts = st->ts, task = st->task, bad = 0;
    if (kind->timed) {
        if (!skip_uleb(&p, end, &v))
            return false;
        bad |= v > UINT64_MAX - ts;
        ts += v;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!skip_uleb(&p, end, &v))
            return false;
        switch (plan[i]) {
        case SKIM_STRING:
            bad |= v && v != it->known_strings[v & 15];
            break;
        case SKIM_STACK:
            bad |= v && v != it->known_stacks[v & 15];
            break;
        case SKIM_TASK:
            task += (uint64_t)ct_unzigzag(v);
            break;
        case SKIM_BYTES:
            if (v > (uint64_t)(end - p))
                return false;
            p += v;
            break;
        }
    }
    if (bad)
        return false;
    st->p = p;
    st->ts = ts;
    st->task = task;
    return true;
}

int ct_rd_skim_events(struct ct_reader *rd, struct ct_event_iter *it, uint64_t decode,
                      uint64_t counts[CT_MAX_KINDS], struct ct_event *ev)
{
    const struct ct_kind *kinds = it->gen->kinds;
    struct skim_state st = {it->c.p, it->ts, it->last_task};
    const uint8_t *end = it->c.end;
    while (st.p < end) {
        uint8_t byte = *st.p;
        unsigned k = byte & CT_KIND_MASK;
        if (!(decode >> k & 1) && kinds[k].defined && k != CT_EV_STRING && k != CT_EV_STACK &&
            skim_one(&st, it, &kinds[k], byte)) {
            counts[k]++;
            continue;
        }
        it->c.p = st.p;
        it->ts = st.ts;
        it->last_task = st.task;
        int r = ct_rd_next_event(rd, it, ev);
        if (r <= 0)
            return r;
        counts[ev->kind]++;
        if (decode >> ev->kind & 1)
            return 1;
        st = (struct skim_state){it->c.p, it->ts, it->last_task};
    }
    it->c.p = st.p;
    it->ts = st.ts;
    it->last_task = st.task;
    return 0;
}
