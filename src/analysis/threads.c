/*
 * threads.c - the thread analysis (threads.h), in one pass.
 *
 * A thread's events are spread over several batches of a generation: its
 * own, in order, and the batch of its context switches that the writer adds
 * at the generation's end. For each thread, the batches are merged by time
 * (a few cursors), and a small state machine splits the time between two
 * events into the columns: the CPU state from the switches, and the
 * activity from block, unblock and syscall events. Memory: one row per
 * thread and one generation's index; nothing per event.
 */
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../recorder/sched.h"
#include "symbols.h"

const char *ct_column_name(int column)
{
    static const char *names[CT_COL_COUNT] = {"execution", "network", "sync",  "syscall",
                                              "sched",     "sleep",   "other"};
    return column >= 0 && column < CT_COL_COUNT ? names[column] : "?";
}

unsigned ct_sync_primitive(unsigned reason)
{
    if (reason >= CT_REASON_MUTEX && reason <= CT_REASON_JOIN)
        return reason;
    if (reason == CT_REASON_COND_SIGNAL || reason == CT_REASON_COND_BROADCAST)
        return CT_REASON_COND; /* a signal that waits for the waiters to leave */
    return 0;
}

const char *ct_sync_primitive_name(unsigned primitive)
{
    return primitive ? ct_reason_name(primitive) : "futex";
}

uint64_t ct_row_total(const struct ct_thread_row *r)
{
    uint64_t total = 0;
    for (int c = 0; c < CT_COL_COUNT; c++)
        total += r->ns[c];
    return total;
}

bool ct_row_untouched(const struct ct_thread_row *r)
{
    return !r->resumed && ct_row_total(r) == 0;
}

void ct_threads_free(struct ct_threads *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}

static struct ct_thread_row *row_of(struct ct_threads *t, uint64_t tid, int64_t begin)
{
    for (size_t i = t->count; i-- > 0;)
        if (t->rows[i].tid == tid)
            return &t->rows[i];
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct ct_thread_row *rows = realloc(t->rows, cap * sizeof *rows);
        if (!rows)
            return NULL;
        t->rows = rows;
        t->cap = cap;
    }
    struct ct_thread_row *r = &t->rows[t->count++];
    ct_threads_row_init(r, tid, begin);
    return r;
}

void ct_threads_row_init(struct ct_thread_row *r, uint64_t tid, int64_t begin)
{
    memset(r, 0, sizeof *r);
    r->tid = tid;
    r->begin_ns = r->at = begin;
    r->end_ns = begin;
    r->cpu = CT_CPU_ON; /* a thread is running when first seen */
    r->activity = CT_COL_EXEC;
}

/* The end of a call known from a call event: its next switch in. */
#define CT_UNTIL_RUN (INT64_MAX - 1)

static int classify(const struct ct_thread_row *r, bool sched)
{
    /* A thread without switches in a trace with them (the kernel refused
     * its ring, or they were lost) is split by its own events, as in a
     * trace without: its blocks are not execution. */
    if (sched && r->switches) {
        if (r->cpu == CT_CPU_ON)
            return CT_COL_EXEC;
        if (r->cpu == CT_CPU_PREEMPTED || r->cpu == CT_CPU_WOKEN)
            return CT_COL_SCHED;
        return r->activity == CT_COL_EXEC ? CT_COL_OTHER : r->activity;
    }
    return r->activity;
}

/* Missing switches a sample shows: more than this of the kernel's time is
 * not in the columns. */
#define GAP_MIN_NS 1000000
#define GAP_TURNS 256 /* ... drawn as at most this many turns */

/* Gives [begin, end) to a column (calling the visitor). */
static void give(const struct ct_threads *t, struct ct_thread_row *r, int column, int64_t begin,
                 int64_t end)
{
    if (end <= begin)
        return;
    uint64_t d = ct_span_ns(begin, end);
    r->ns[column] += d;
    if (column == CT_COL_SYNC && r->reason < CT_SYNC_REASONS)
        r->sync_ns[r->reason] += d;
    if (column == CT_COL_EXEC)
        r->given_run += d;
    else if (column == CT_COL_SCHED)
        r->given_wait += d;
    if (t->visitor && t->visitor->interval)
        t->visitor->interval(t->visitor->ctx, r, column, r->reason, begin, end);
}

/* A thread known from schedstat samples alone: an interval its events put
 * in `column` is split so that execution and sched follow the kernel's
 * totals. Inside a call the thread was off a CPU in the call, runnable
 * after it was woken, or on a CPU doing the call's work: what the samples
 * say the thread ran and waited beyond what the columns have is given
 * there first, as a woken wait and the call's work at its end. Outside a
 * call it ran, or waited preempted: execution, unless the columns already
 * have more execution than the samples, when it goes to sched while the
 * samples say there is wait to give. Off a CPU with nothing recorded
 * (other) cannot be told from these: such time stays in execution. */
static void give_sampled(const struct ct_threads *t, struct ct_thread_row *r, int column,
                         int64_t begin, int64_t end)
{
    int64_t run_owed = (int64_t)(r->kernel_run - r->given_run);
    int64_t wait_owed = (int64_t)(r->kernel_wait - r->given_wait);
    int64_t len = end - begin;
    if (column == CT_COL_SCHED) { /* a new thread before its first run */
        give(t, r, column, begin, end);
    } else if (column == CT_COL_EXEC && r->gap && run_owed > 0 && wait_owed > 0) {
        /* A long stretch of lost switches: it ran and waited in turns the
         * trace does not know, in the kernel's proportions; drawn as turns
         * of at least 1 ms, at most GAP_TURNS of them. */
        int64_t wait = (int64_t)((__int128)len * wait_owed / (run_owed + wait_owed));
        wait = wait < wait_owed ? wait : wait_owed;
        int64_t turns = len / 1000000 < GAP_TURNS ? len / 1000000 : GAP_TURNS;
        turns = turns > 0 ? turns : 1;
        for (int64_t k = 0, at = begin, waited = 0; k < turns; k++) {
            int64_t to = begin + (int64_t)((__int128)len * (k + 1) / turns);
            int64_t w = (int64_t)((__int128)wait * (k + 1) / turns) - waited;
            give(t, r, CT_COL_SCHED, at, at + w);
            give(t, r, CT_COL_EXEC, at + w, to);
            waited += w;
            at = to;
        }
    } else if (column == CT_COL_EXEC) {
        int64_t wait = run_owed < 0 && wait_owed > 0 ? -run_owed : 0;
        wait = wait < wait_owed ? wait : wait_owed;
        wait = wait < len ? wait : len;
        give(t, r, CT_COL_SCHED, begin, begin + wait);
        give(t, r, CT_COL_EXEC, begin + wait, end);
    } else {
        int64_t run = run_owed > 0 ? (run_owed < len ? run_owed : len) : 0;
        int64_t wait = wait_owed > 0 ? (wait_owed < len - run ? wait_owed : len - run) : 0;
        give(t, r, column, begin, end - run - wait);
        give(t, r, CT_COL_SCHED, end - run - wait, end - run);
        give(t, r, CT_COL_EXEC, end - run, end);
    }
}

/* Gives the time from r->at to `until` to the columns. */
static void account(const struct ct_threads *t, struct ct_thread_row *r, int64_t until)
{
    bool sched = t->sched;
    if (r->off_before_set && until > r->at) {
        /* It existed before its first switch in: off a CPU then, for
         * reasons the trace does not know (its blocks would say). */
        r->off_before_set = false;
        give(t, r, CT_COL_OTHER, r->off_before, r->begin_ns);
        r->begin_ns = r->off_before;
    }
    while (r->at < until) {
        int64_t stop = until;
        if (r->activity != CT_COL_EXEC && r->activity_end > r->at && r->activity_end < stop)
            stop = r->activity_end;
        int column = classify(r, sched);
        if (r->sampled && !r->switches)
            give_sampled(t, r, column, r->at, stop);
        else
            give(t, r, column, r->at, stop);
        r->at = stop;
        if (r->activity != CT_COL_EXEC && r->at >= r->activity_end)
            r->activity = CT_COL_EXEC;
    }
}


/* A thread whose records of switches were lost (its ring was full): its
 * sample, stamped with its last switch read, says how much time on a CPU
 * and in a run queue the columns are short of. From here until its next
 * switch, its time follows those totals as a sampled thread's does, not
 * the state of its last switch read. */
static void turn_to_gap(struct ct_thread_row *r)
{
    if (!r->lost_here || r->sum_run + r->sum_wait < r->given_run + r->given_wait + GAP_MIN_NS)
        return;
    r->switches = false;
    r->sampled = true;
    r->gap = r->gapped = true;
    r->kernel_run = r->sum_run > r->given_run ? r->sum_run : r->given_run;
    r->kernel_wait = r->sum_wait > r->given_wait ? r->sum_wait : r->given_wait;
    if (r->cpu == CT_CPU_PREEMPTED || r->cpu == CT_CPU_WOKEN)
        r->cpu = CT_CPU_ON;
}

static void name_start_function(struct ct_thread_row *r, const struct ct_gen *gen)
{
    for (size_t i = 0; i < gen->nmodules; i++) {
        const struct ct_rd_module *m = &gen->modules[i];
        if (r->start_fn < m->start || r->start_fn - m->start >= m->size)
            continue;
        const uint8_t *base = m->path;
        for (uint64_t k = 0; k < m->path_len; k++)
            if (m->path[k] == '/')
                base = m->path + k + 1;
        int n = (int)(m->path + m->path_len - base);
        snprintf(r->start_function, sizeof r->start_function, "%.*s+0x%llx", n > 60 ? 60 : n,
                 (const char *)base, (unsigned long long)(r->start_fn - m->bias));
        return;
    }
    snprintf(r->start_function, sizeof r->start_function, "0x%llx",
             (unsigned long long)r->start_fn);
}

static void on_event(struct ct_threads *out, struct ct_thread_row *r, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    out->events++;
    if (!ev->timed)
        return;
    /* Whether the thread has had no time yet: asked of its first events
     * only (the sum of the columns is not worth taking at every event). */
    bool first = (ev->kind == CT_EV_THREAD_RUNNABLE || ev->kind == CT_EV_THREAD_START) &&
                 ct_row_untouched(r) && !r->runnable;
    if (r->off_before_set && ev->kind == CT_EV_THREAD_RUNNABLE && first) {
        /* Its creation, stamped by another clock a little later than the
         * kernel's wake-up of the new thread: it did not exist before. */
        r->off_before_set = false;
    } else if (ev->kind == CT_EV_CPU &&
               (ev->args[0] == CT_CPU_WOKEN || ev->args[0] == CT_CPU_ON) && !r->switches &&
               !r->runnable && r->at == r->begin_ns && ev->ts_ns > r->at &&
               ct_row_untouched(r)) {
        /* First seen switching in, so not running until then: its next
         * event tells whether it existed (account, above). */
        r->off_before = r->begin_ns;
        r->off_before_set = true;
        r->begin_ns = r->at = ev->ts_ns;
    }
    if (ev->kind == CT_EV_THREAD_RUNNABLE && first) {
        /* Created in the trace: its life starts at its creation, waiting
         * for a CPU (Go's runnable goroutine) until its thread_start. */
        r->begin_ns = r->at = ev->ts_ns;
        r->runnable = true;
        r->cpu = CT_CPU_PREEMPTED;
        r->activity = CT_COL_SCHED;
        r->activity_end = INT64_MAX;
    }
    if (ev->kind == CT_EV_CPU && ev->args[0] == CT_CPU_WOKEN && r->runnable && !r->switches &&
        ev->ts_ns > r->at && ct_row_untouched(r)) {
        /* A new thread's first switch: the kernel made it runnable here,
         * inside its creator's clone, after its thread_runnable. */
        r->begin_ns = r->at = ev->ts_ns;
    }
    if (ev->kind == CT_EV_THREAD_START && (first || r->runnable)) {
        if (!r->runnable)
            r->begin_ns = r->at = ev->ts_ns; /* created in the trace: its life starts here */
        r->start_fn = ev->args[2];
        name_start_function(r, gen);
    }
    account(out, r, ev->ts_ns);
    if (ev->kind == CT_EV_THREAD_START && r->runnable) {
        r->runnable = false; /* it runs */
        r->cpu = CT_CPU_ON;
        r->activity = CT_COL_EXEC;
    }
    if (out->visitor && out->visitor->event)
        out->visitor->event(out->visitor->ctx, r, rd, gen, ev);
    if (ev->ts_ns > r->end_ns)
        r->end_ns = ev->ts_ns;
    switch (ev->kind) {
    case CT_EV_CPU:
        r->cpu = (int)ev->args[0];
        r->switches = true;
        r->gap = false;
        r->voluntary += r->cpu == CT_CPU_OFF;
        r->involuntary += r->cpu == CT_CPU_PREEMPTED;
        if (r->cpu == CT_CPU_ON && r->activity_end == CT_UNTIL_RUN)
            r->activity = CT_COL_EXEC; /* a call event's call: known as far as here */
        break;
    case CT_EV_CALL:
        /* A call the thread was in at a generation's end (its own event,
         * written at its end, comes later), or what the kernel showed it
         * blocked in: the time off a CPU until it runs again is that
         * call's, unless its events say something already. */
        if (r->activity == CT_COL_EXEC) {
            unsigned call = (unsigned)ev->args[0], sysno = (unsigned)ev->args[3];
            const char *group = call ? ct_reason_group(call)
                                : sysno ? ct_syscall_group(sysno - 1)
                                        : NULL;
            bool net = ev->args[2] == CT_FD_NETWORK;
            if (group && strcmp(group, "sync") == 0) {
                r->activity = CT_COL_SYNC;
                r->reason = call ? ct_sync_primitive(call) : 0;
            } else if (group && strcmp(group, "sleep") == 0) {
                r->activity = CT_COL_SLEEP;
                r->reason = CT_REASON_SLEEP;
            } else {
                r->activity = net ? CT_COL_NET : CT_COL_SYSCALL;
                r->reason = call;
            }
            r->activity_end = CT_UNTIL_RUN;
        }
        break;
    case CT_EV_SCHED_SAMPLE:
        /* The kernel's time on a CPU and in a run queue since the last
         * sample: the columns follow them from here (give_sampled). With
         * the kernel's switches, the writer has used them already, unless
         * switches were lost (turn_to_gap). */
        r->sum_run += ev->args[0];
        r->sum_wait += ev->args[1];
        if (r->switches) {
            turn_to_gap(r);
        } else {
            if (!r->sampled) {
                /* The first sample counts from the thread's first event: it
                 * owes what it ran beyond the columns' execution (kernel_run
                 * is 0 here, or what a mark owed: the columns before it); a
                 * thread made in the trace waited for its first run before
                 * it, as sched already says. */
                r->kernel_wait = r->given_wait;
            }
            r->sampled = true;
            r->kernel_run += ev->args[0];
            r->kernel_wait += ev->args[1];
        }
        break;
    case CT_EV_BLOCK: {
        const char *group = ct_reason_group((unsigned)ev->args[0]);
        r->activity = !group                         ? CT_COL_SYNC
                      : strcmp(group, "sleep") == 0   ? CT_COL_SLEEP
                      : strcmp(group, "syscall") == 0 ? CT_COL_SYSCALL /* a wait for a signal */
                                                      : CT_COL_SYNC;
        r->reason = r->activity == CT_COL_SYNC ? ct_sync_primitive((unsigned)ev->args[0])
                                               : (unsigned)ev->args[0];
        r->activity_end = INT64_MAX;
        r->blocks++;
        break;
    }
    case CT_EV_UNBLOCK:
        r->activity = CT_COL_EXEC;
        break;
    case CT_EV_SYSCALL: {
        /* A call of group sync (a condvar signal that waited for its
         * waiters) is a sync block for its length; the others are network
         * waits or blocking system calls, by the descriptor's class. */
        const char *group = ct_reason_group((unsigned)ev->args[0]);
        if (group && strcmp(group, "sync") == 0) {
            r->activity = CT_COL_SYNC;
            r->reason = ct_sync_primitive((unsigned)ev->args[0]);
            r->blocks++;
        } else {
            r->activity = ev->args[2] == CT_FD_NETWORK ? CT_COL_NET : CT_COL_SYSCALL;
            r->syscalls++;
        }
        r->activity_end = ct_gen_ns(rd, gen, ev->ts + ev->args[3]);
        break;
    }
    case CT_EV_THREAD_NAME: {
        size_t n = ev->bytes_len < sizeof r->name - 1 ? ev->bytes_len : sizeof r->name - 1;
        memcpy(r->name, ev->bytes, n);
        r->name[n] = 0;
        break;
    }
    case CT_EV_THREAD_EXIT:
        r->exited = true;
        break;
    case CT_EV_LOST:
        r->lost += ev->args[0];
        r->lost_here = true;
        break;
    }
}

/* A stream of one thread's events: either its own batches, one after the
 * other in file order (their definitions must be read in that order), or
 * one batch of its context switches. */
struct cursor {
    const size_t *batches;
    size_t nbatches, next;
    struct ct_event_iter it;
    struct ct_event ev;
    bool valid, started, own;
    int64_t skip_before; /* switch batches when resuming: events already read */
};

/* Moves a cursor to its next timed event, handing untimed ones (string and
 * stack definitions) to the thread at once. */
static int advance(struct ct_reader *rd, struct ct_gen *gen, struct cursor *c,
                   struct ct_threads *out, struct ct_thread_row *r)
{
    for (;;) {
        if (!c->started) {
            if (c->next == c->nbatches) {
                c->valid = false;
                return 0;
            }
            if (c->own && c->next > 0 && out->visitor && out->visitor->mark)
                out->visitor->mark(out->visitor->ctx, r, rd, gen, c->batches[c->next], false);
            ct_rd_events(gen, c->batches[c->next++], &c->it);
            c->started = true;
        }
        int rc = ct_rd_next_event(rd, &c->it, &c->ev);
        if (rc < 0) {
            c->valid = false;
            return rc;
        }
        if (rc == 0) {
            c->started = false;
            continue;
        }
        if (c->ev.timed) {
            if (c->ev.ts_ns < c->skip_before)
                continue;
            c->valid = true;
            return 1;
        }
        on_event(out, r, rd, gen, &c->ev);
    }
}

static int compare_batches(const void *a, const void *b, void *gen)
{
    const struct ct_rd_batch *x = &((struct ct_gen *)gen)->batches[*(const size_t *)a];
    const struct ct_rd_batch *y = &((struct ct_gen *)gen)->batches[*(const size_t *)b];
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* A batch the writer added (the thread's switches and samples, or a call
 * it was in at the generation's end), read as a stream of its own. */
static bool is_cpu_batch(const struct ct_rd_batch *b)
{
    unsigned kind = b->events < b->end ? b->events[0] & CT_KIND_MASK : 0;
    return kind == CT_EV_CPU || kind == CT_EV_SCHED_SAMPLE || kind == CT_EV_CALL;
}

/* A thread with switches in a generation of samples (a process whose
 * switches gave way to samples, --sched=auto): its time up to the
 * generation's start as its switches had it, then its samples' (each
 * counts from the generation's start: what the columns have so far is
 * what the kernel's totals had then). */
static void to_sampled(struct ct_threads *out, struct ct_thread_row *r, int64_t base)
{
    if (!r->exited && r->at < base)
        account(out, r, base);
    r->switches = false;
    r->sampled = true;
    r->kernel_run = r->given_run;
    r->kernel_wait = r->given_wait;
    if (r->cpu == CT_CPU_PREEMPTED || r->cpu == CT_CPU_WOKEN)
        r->cpu = CT_CPU_ON;
}

/* Merges one thread's batches (n of them, in file order) by time. */
static int merge_thread(struct ct_reader *rd, struct ct_gen *gen, struct ct_threads *out,
                        size_t *order, size_t n, int64_t skip_before)
{
    int64_t base = ct_gen_ns(rd, gen, gen->base_units);
    struct ct_thread_row *r = row_of(out, gen->batches[order[0]].tid, base);
    if (r && r->switches && gen->has_process && gen->process.sched == CT_SCHED_SCHEDSTAT)
        to_sampled(out, r, base);
    /* A LOST record of any thread: a per-CPU ring's losses are all its
     * threads', counted as the first's; its lost events say so too, as
     * they come. */
    if (r)
        r->lost_here = gen->nlost > 0;
    /* Own batches first, in file order, as one stream; then each switch
     * batch as a stream of its own. */
    size_t own = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_cpu_batch(&gen->batches[order[i]])) {
            size_t keep = order[i];
            memmove(order + own + 1, order + own, (i - own) * sizeof *order);
            order[own++] = keep;
        }
    size_t streams = (own > 0) + (n - own);
    struct cursor *c = calloc(streams ? streams : 1, sizeof *c);
    if (!r || !c) {
        free(c);
        return -1;
    }
    if (out->visitor && out->visitor->mark)
        out->visitor->mark(out->visitor->ctx, r, rd, gen, own ? order[0] : SIZE_MAX, true);
    size_t k = 0;
    if (own)
        c[k++] = (struct cursor){.batches = order, .nbatches = own, .own = true,
                                 .skip_before = INT64_MIN};
    for (size_t i = own; i < n; i++)
        c[k++] = (struct cursor){.batches = order + i, .nbatches = 1, .skip_before = skip_before};
    int rc = 0;
    for (size_t i = 0; i < streams && rc >= 0; i++)
        rc = advance(rd, gen, &c[i], out, r);
    while (rc >= 0) {
        size_t best = streams;
        for (size_t i = 0; i < streams; i++)
            if (c[i].valid && (best == streams || c[i].ev.ts_ns < c[best].ev.ts_ns))
                best = i;
        if (best == streams)
            break;
        /* The best stream's events come next up to the others' next time
         * (at the same time, the stream first in the list first). */
        int64_t limit = INT64_MAX;
        for (size_t i = 0; i < streams; i++)
            if (i != best && c[i].valid && c[i].ev.ts_ns < limit)
                limit = c[i].ev.ts_ns;
        do {
            on_event(out, r, rd, gen, &c[best].ev);
            rc = advance(rd, gen, &c[best], out, r);
        } while (rc >= 0 && c[best].valid && c[best].ev.ts_ns < limit);
    }
    free(c);
    return rc < 0 ? -1 : 0;
}

static int walk_generation(struct ct_reader *rd, struct ct_gen *gen, struct ct_threads *out)
{
    int64_t base = ct_gen_ns(rd, gen, gen->base_units);
    const struct ct_visitor *v = out->visitor;
    for (size_t i = 0; i < gen->nthreads; i++) {
        if (v && v->wants && !v->wants(v->ctx, gen->threads[i].tid))
            continue;
        struct ct_thread_row *r = row_of(out, gen->threads[i].tid, base);
        if (!r)
            return -1;
        r->tracer = gen->threads[i].flags & CT_THREAD_FLAG_TRACER;
        if (!r->name[0]) {
            size_t n = gen->threads[i].name_len < 15 ? gen->threads[i].name_len : 15;
            memcpy(r->name, gen->threads[i].name, n);
            r->name[n] = 0;
        }
    }
    for (size_t i = 0; i < gen->nlost; i++) {
        if (v && v->wants && !v->wants(v->ctx, gen->lost[i].tid))
            continue;
        struct ct_thread_row *r = row_of(out, gen->lost[i].tid, base);
        if (!r)
            return -1;
        r->lost += gen->lost[i].count;
    }
    if (gen->has_process && gen->process.sched == CT_SCHED_PERF)
        out->sched = true;
    if (gen->has_process && (int)gen->process.sched > out->sched_mode)
        out->sched_mode = (int)gen->process.sched;
    size_t *order = malloc((gen->nbatches ? gen->nbatches : 1) * sizeof *order);
    if (!order)
        return -1;
    for (size_t i = 0; i < gen->nbatches; i++)
        order[i] = i;
    qsort_r(order, gen->nbatches, sizeof *order, compare_batches, gen);
    int rc = 0;
    for (size_t i = 0; i < gen->nbatches && rc == 0;) {
        size_t j = i;
        while (j < gen->nbatches && gen->batches[order[j]].tid == gen->batches[order[i]].tid)
            j++;
        if (!v || !v->wants || v->wants(v->ctx, gen->batches[order[i]].tid))
            rc = merge_thread(rd, gen, out, order + i, j - i, INT64_MIN);
        i = j;
    }
    free(order);
    return rc;
}

int ct_threads_resume(struct ct_reader *rd, struct ct_gen *gen, struct ct_threads *out,
                      uint64_t tid, size_t from, size_t to, int64_t skip_before)
{
    size_t *order = malloc((gen->nbatches ? gen->nbatches : 1) * sizeof *order), n = 0;
    if (!order)
        return -1;
    for (size_t i = 0; i < gen->nbatches; i++) {
        const struct ct_rd_batch *b = &gen->batches[i];
        if (b->tid != tid)
            continue;
        if (is_cpu_batch(b) || ((from == SIZE_MAX || i >= from) && (to == SIZE_MAX || i <= to)))
            order[n++] = i;
    }
    int rc = n ? merge_thread(rd, gen, out, order, n, skip_before) : 0;
    free(order);
    return rc;
}

void ct_threads_account(struct ct_threads *t, struct ct_thread_row *r, int64_t until)
{
    account(t, r, until);
}

int ct_threads_compute(struct ct_reader *rd, struct ct_threads *out)
{
    return ct_threads_visit(rd, out, NULL);
}

int ct_threads_visit(struct ct_reader *rd, struct ct_threads *out, const struct ct_visitor *v)
{
    struct ct_symbols *sym = NULL;
    int rc = ct_threads_read(rd, out, v, &sym);
    if (rc != 0 && rd->failed)
        rc = 0; /* a damaged trace: the analysis of what precedes the damage */
    if (rc == 0) {
        if (sym)
            ct_symbols_load_embedded(sym, rd);
        ct_threads_finish(out, sym);
    }
    ct_symbols_close(sym);
    return rc;
}

int ct_threads_read(struct ct_reader *rd, struct ct_threads *out, const struct ct_visitor *v,
                    struct ct_symbols **sym)
{
    memset(out, 0, sizeof *out);
    out->visitor = v;
    (void)sym;
    struct ct_gen gen = {0};
    int r;
    bool first = true;
    while ((r = ct_rd_next_gen(rd, &gen)) == 1) {
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* reading local ELF files: slow, not input */
        if (sym && !*sym && gen.nmodules)
            *sym = ct_symbols_open(&gen);
#endif
        int64_t begin = ct_gen_ns(rd, &gen, gen.base_units);
        if (first)
            out->begin_ns = out->end_ns = begin;
        first = false;
        if (gen.complete && ct_gen_ns(rd, &gen, gen.end_units) > out->end_ns)
            out->end_ns = ct_gen_ns(rd, &gen, gen.end_units);
        if (v && v->generation)
            v->generation(v->ctx, rd, &gen);
        if (walk_generation(rd, &gen, out) != 0)
            break;
    }
    ct_gen_free(&gen);
    return rd->failed ? -1 : 0;
}

void ct_threads_finish(struct ct_threads *out, struct ct_symbols *sym)
{
    /* Start functions by name where the symbols tell it (the trace's
     * embedded ones first, then the modules' files), module+offset
     * otherwise. */
    for (size_t i = 0; sym && i < out->count; i++) {
        struct ct_thread_row *r = &out->rows[i];
        struct ct_symbol name;
        if (r->start_fn && ct_symbols_lookup(sym, r->start_fn, false, &name) == 1)
            snprintf(r->start_function, sizeof r->start_function, "%.95s", name.function);
    }
    /* Live threads run to the end of the trace; exited ones end at exit. */
    for (size_t i = 0; i < out->count; i++) {
        struct ct_thread_row *row = &out->rows[i];
        if (row->end_ns > out->end_ns)
            out->end_ns = row->end_ns;
    }
    for (size_t i = 0; i < out->count; i++) {
        struct ct_thread_row *row = &out->rows[i];
        if (!row->exited)
            row->end_ns = out->end_ns;
        account(out, row, row->end_ns);
    }
}

/* ---- who woke whom (threads.h) ---- */

static void push_link(struct ct_wake_link **v, size_t *n, size_t *cap, struct ct_wake_link l)
{
    if (*n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 256;
        struct ct_wake_link *grown = realloc(*v, grown_cap * sizeof *grown);
        if (!grown)
            return; /* without memory, a link fewer */
        *v = grown;
        *cap = grown_cap;
    }
    (*v)[(*n)++] = l;
}

void ct_wakes_add_wake(struct ct_wakes *w, int64_t t, uint64_t tid, uint64_t object,
                       unsigned reason)
{
    push_link(&w->wakes, &w->nwakes, &w->wakes_cap,
              (struct ct_wake_link){.tw = t, .from = tid, .object = object,
                                    .reason = (uint8_t)reason});
}

void ct_wakes_add_unblock(struct ct_wakes *w, int64_t since, int64_t t, uint64_t tid,
                          uint64_t object)
{
    push_link(&w->unblocks, &w->nunblocks, &w->unblocks_cap,
              (struct ct_wake_link){.tu = t, .tb = since, .to = tid, .object = object});
}

static int by_object_time(const void *a, const void *b)
{
    const struct ct_wake_link *x = a, *y = b;
    if (x->object != y->object)
        return x->object < y->object ? -1 : 1;
    return x->tw < y->tw ? -1 : x->tw > y->tw;
}

static int by_unblock(const void *a, const void *b)
{
    const struct ct_wake_link *x = a, *y = b;
    return x->tu < y->tu ? -1 : x->tu > y->tu;
}

struct ct_wake_link *ct_wakes_link(struct ct_wakes *w, size_t *n)
{
    *n = 0;
    if (w->nwakes)
        qsort(w->wakes, w->nwakes, sizeof *w->wakes, by_object_time);
    struct ct_wake_link *links = malloc((w->nunblocks ? w->nunblocks : 1) * sizeof *links);
    for (size_t i = 0; links && i < w->nunblocks; i++) {
        const struct ct_wake_link *u = &w->unblocks[i];
        size_t lo = 0, hi = w->nwakes;
        while (lo < hi) { /* the first wake after (object, time) */
            size_t mid = (lo + hi) / 2;
            const struct ct_wake_link *k = &w->wakes[mid];
            if (k->object < u->object || (k->object == u->object && k->tw <= u->tu))
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k-- > 0 && w->wakes[k].object == u->object;) {
            const struct ct_wake_link *x = &w->wakes[k];
            if (x->tw < u->tb)
                break; /* none while it waited: the end of a pipe, a timeout */
            if (x->from == u->to)
                continue;
            links[(*n)++] = (struct ct_wake_link){x->tw, u->tu, u->tb, x->from, u->to,
                                                  u->object, x->reason};
            break;
        }
    }
    if (*n)
        qsort(links, *n, sizeof *links, by_unblock);
    ct_wakes_free(w);
    return links;
}

void ct_wakes_free(struct ct_wakes *w)
{
    free(w->wakes);
    free(w->unblocks);
    memset(w, 0, sizeof *w);
}
