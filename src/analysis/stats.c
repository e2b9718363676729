/*
 * stats.c - one pass over a trace, counting: the overview of `ctrace stats`.
 * Memory: the current generation's index and the sets of distinct threads
 * and stacks; nothing per event.
 */
#include "stats.h"

#include <string.h>

#include "idset.h"

static void count_tables(struct ct_stats *st, const struct ct_gen *gen, struct ct_idset *threads,
                         struct ct_idset *tracers)
{
    for (size_t i = 0; i < gen->nthreads; i++) {
        if (gen->threads[i].flags & CT_THREAD_FLAG_TRACER)
            ct_idset_add(tracers, gen->threads[i].tid + 1);
        else
            ct_idset_add(threads, gen->threads[i].tid + 1);
    }
    for (size_t i = 0; i < gen->nlost; i++)
        st->lost_events += gen->lost[i].count;
    for (unsigned k = 0; k < CT_MAX_KINDS; k++) {
        if (gen->kinds[k].defined && !st->kind_names[k][0]) {
            memcpy(st->kind_names[k], gen->kinds[k].name, sizeof st->kind_names[k]);
            st->kind_known[k] = gen->kinds[k].known;
        }
    }
    if (gen->has_process && gen->process.sched > st->sched)
        st->sched = gen->process.sched;
    if (gen->has_process && !st->pid) {
        st->pid = gen->process.pid;
        size_t n = gen->process.cmdline_len < sizeof st->command - 1 ? gen->process.cmdline_len
                                                                     : sizeof st->command - 1;
        for (size_t i = 0; i < n; i++)
            st->command[i] = gen->process.cmdline[i] ? (char)gen->process.cmdline[i] : ' ';
        while (n > 0 && st->command[n - 1] == ' ')
            n--;
        st->command[n] = 0;
    }
}

static void count_event(struct ct_stats *st, const struct ct_event *ev, struct ct_idset *stacks)
{
    st->events++;
    st->by_kind[ev->kind]++;
    switch (ev->kind) {
    case CT_EV_TASK_BEGIN:
        st->tasks++;
        break;
    case CT_EV_REGION_BEGIN:
        st->regions++;
        break;
    case CT_EV_REGION_END_AT:
        st->regions_out_of_order++;
        break;
    case CT_EV_LOG:
        st->logs++;
        break;
    case CT_EV_LOST:
        st->lost_events += ev->args[0];
        break;
    case CT_EV_STACK:
        ct_idset_add(stacks, ev->args[0]);
        break;
    case CT_EV_FORK:
        if (st->nchildren < sizeof st->children / sizeof *st->children)
            st->children[st->nchildren++] = ev->args[0];
        break;
    case CT_EV_EXEC: {
        size_t n = ev->bytes_len < sizeof st->exec_path - 1 ? ev->bytes_len
                                                            : sizeof st->exec_path - 1;
        memcpy(st->exec_path, ev->bytes, n);
        st->exec_path[n] = 0;
        break;
    }
    }
    if (ev->timed && ev->ts_ns > st->last_ns)
        st->last_ns = ev->ts_ns;
}

int ct_stats_compute(struct ct_reader *rd, struct ct_stats *st)
{
    memset(st, 0, sizeof *st);
    st->bytes = rd->size;
    struct ct_idset threads = {0}, tracers = {0}, stacks = {0}, strings = {0};
    struct ct_gen gen = {0};
    int r;
    bool first = true;
    while ((r = ct_rd_next_gen(rd, &gen)) == 1) {
        st->generations++;
        st->incomplete_generations += !gen.complete;
        st->conflicts += 0;
        int64_t begin = ct_gen_ns(rd, &gen, gen.base_units);
        if (first || begin < st->first_ns)
            st->first_ns = begin;
        if (first || begin > st->last_ns)
            st->last_ns = begin;
        first = false;
        if (gen.complete && ct_gen_ns(rd, &gen, gen.end_units) > st->last_ns)
            st->last_ns = ct_gen_ns(rd, &gen, gen.end_units);
        count_tables(st, &gen, &threads, &tracers);
        for (size_t b = 0; b < gen.nbatches && r >= 0; b++) {
            if (!ct_idset_has(&tracers, gen.batches[b].tid + 1))
                ct_idset_add(&threads, gen.batches[b].tid + 1);
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_next_event(rd, &it, &ev)) == 1)
                count_event(st, &ev, &stacks);
        }
        for (size_t i = 0; i < gen.strings.cap; i++)
            ct_idset_add(&strings, gen.strings.entries[i].id);
        st->conflicts += gen.conflicts;
        if (r < 0)
            break;
    }
    st->threads = threads.count;
    st->stacks = stacks.count;
    st->strings = strings.count;
    st->duration_ns = st->last_ns > st->first_ns ? (uint64_t)(st->last_ns - st->first_ns) : 0;
    ct_gen_free(&gen);
    ct_idset_free(&threads);
    ct_idset_free(&tracers);
    ct_idset_free(&stacks);
    ct_idset_free(&strings);
    return rd->failed ? -1 : 0;
}
