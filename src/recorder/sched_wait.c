/*
 * sched_wait.c - what the kernel's switch records do not say by
 * themselves, worked out by the writer:
 *
 * When a switch in happened. The kernel writes a switch out's record as it
 * begins the context switch, and a switch in's only once the next thread's
 * perf context is in, 0.4-2 us later on the machines we measured (more in a
 * VM), while its own accounting (schedstat, getrusage) starts the thread's
 * run at the switch. Left alone, a thread that switches 100 000 times a
 * second loses 5-20 % of its execution. With the per-CPU rings a switch in
 * that follows another of the process's threads' switch out on the same
 * CPU is the same context switch: it takes the switch out's time, exactly.
 * A switch in after the CPU idled or ran another process has no partner:
 * it is moved back by the lag measured on the pairs (a running average),
 * and by what the kernel's time on a CPU says the records miss, a few
 * times that lag at most (lone_room).
 *
 * The kernel's totals are not the switches' account everywhere: a wake-up
 * that preempts the running thread makes the scheduler skip its clock's
 * update at the switch that follows, so the woken thread is charged as
 * running from its wake-up (its wait counted as run, left out of its
 * run-queue wait) and the preempted one as waiting from it (its last run
 * counted as wait). Matched to those totals, switches in moved by
 * milliseconds: two threads ran on one CPU at once, and a thread that woke
 * 10 000 times ran 9 % more than it did (perf's sched_switch tracepoints
 * of the same run). What the lag cannot explain goes to the period's
 * run-queue wait instead, added or taken away (ct_swait_exec).
 *
 * How long a woken thread waited for a CPU. The records show when a
 * thread went off a CPU to block and when it came back, not when it was
 * woken in between; that time, runnable in a run queue, is the wait that
 * Go's trace shows as a runnable goroutine and `perf sched timehist` as
 * scheduling delay, and on a crowded CPU it is most of a thread's life.
 * Unprivileged, the kernel's own total is in /proc/self/task/TID/schedstat
 * (run-queue wait, in ns). sched.c reads it every SAMPLE period for a
 * thread that switched in after a block; this file shares the part of the
 * period's wait that the records do not show (preemptions and the first
 * run are theirs) between the period's switches in after a block. Where
 * one came after the CPU had been running other threads of the process
 * back to back since the thread blocked, the thread may have waited for
 * them, up to that long: those stretches take the wait first, in
 * proportion; what remains (waits behind other processes, wake-up costs)
 * goes evenly to the others, up to each one's time off the CPU, and none
 * before the end of a sleep that ran its full length (the wrappers note
 * where each could end at the earliest: the kernel woke it no sooner). The
 * totals are the kernel's; where the wait fell within a period is an
 * estimate.
 */
#include "sched_raw.h"

#include <stdlib.h>
#include <string.h>

#include "sched.h"

/* A switch in closer after another thread's switch out on its CPU than
 * four times the lag measured so far (at least PAIR_MIN_NS, at most
 * PAIR_MAX_NS) is the same context switch; further, the CPU did something
 * else in between (another process's thread, which the records do not
 * show, may run for a few microseconds: a generous bound gave its time to
 * the thread that came after). A pair taken for a lone switch in is moved
 * back by the lag all the same. */
#define PAIR_MIN_NS 2000u
#define PAIR_MAX_NS 20000u
/* A preemption's charging: its wake-up to its switch, at most this. */
#define PREEMPT_CHARGE_MAX_NS 50000u
#define LONE_MIN 16

struct cpu_track {
    uint64_t out_ns;   /* the last switch out on this CPU not yet followed */
    uint64_t busy_from; /* running the process's threads back to back since */
    pid_t out_tid;
    bool out_open;
};

static struct cpu_track *cpus;
static unsigned ncpus;
/* The measured lag of a switch in's record, in ns with 8 fraction bits:
 * on the pairs, and on the switches in without a partner (after the CPU
 * idled: longer), from what the kernel's time on a CPU says. */
static uint64_t lag_q8, lone_lag_q8;

bool ct_swait_cpus(unsigned count)
{
    struct cpu_track *grown = calloc(count ? count : 1, sizeof *grown);
    if (!grown)
        return false;
    free(cpus);
    cpus = grown;
    ncpus = count;
    return true;
}

void ct_swait_stop(void)
{

    free(cpus);
    cpus = NULL;
    ncpus = 0;
}

uint64_t ct_swait_lag_ns(void)
{
    return lag_q8 >> 8;
}

uint64_t ct_swait_lone_shift(uint64_t mono_ns, uint64_t last_out_ns)
{
    uint64_t lag = (lone_lag_q8 ? lone_lag_q8 : lag_q8) >> 8;
    if (lag > 65535)
        lag = 65535;
    uint64_t room = mono_ns > last_out_ns ? mono_ns - last_out_ns : 0;
    return lag < room ? lag : room;
}

bool ct_swait_cpu_record(pid_t tid, unsigned cpu, int state, uint64_t *mono_ns,
                         uint64_t last_out_ns, uint64_t *busy_ns, uint64_t *free_ns)
{
    *busy_ns = *free_ns = 0;
    if (cpu >= ncpus)
        return false;
    struct cpu_track *c = &cpus[cpu];
    if (state != CT_CPU_ON) {
        c->out_ns = *mono_ns;
        c->out_tid = tid;
        c->out_open = true;
        return false;
    }
    uint64_t raw = *mono_ns;
    if (c->out_ns && c->out_ns <= raw && c->out_tid != tid)
        *free_ns = c->out_ns; /* another of the process's threads had the CPU until then */
    bool paired = false;
    uint64_t pair_ns = 4 * (lag_q8 >> 8);
    pair_ns = pair_ns < PAIR_MIN_NS ? PAIR_MIN_NS : pair_ns > PAIR_MAX_NS ? PAIR_MAX_NS : pair_ns;
    if (c->out_open && c->out_tid != tid && raw >= c->out_ns && raw - c->out_ns <= pair_ns &&
        c->out_ns >= last_out_ns) {
        /* The same switch: the lag, measured; the CPU stays busy. */
        uint64_t lag = raw - c->out_ns;
        lag_q8 = lag_q8 + (((int64_t)(lag << 8) - (int64_t)lag_q8) / 16);
        *mono_ns = c->out_ns;
        paired = true;
    } else {
        *mono_ns = raw - ct_swait_lone_shift(raw, last_out_ns);
        if (*free_ns > *mono_ns)
            *mono_ns = *free_ns < raw ? *free_ns : raw;
        c->busy_from = *mono_ns; /* it idled, or ran someone else's */
    }
    c->out_open = false;
    uint64_t from = c->busy_from > last_out_ns ? c->busy_from : last_out_ns;
    *busy_ns = *mono_ns > from ? *mono_ns - from : 0;
    return paired;
}

/* ---- the kernel's time on a CPU ---- */

/* How much further back a switch in without a partner may go: not before
 * the thread's own switch out, nor before another of the process's
 * threads left that CPU, nor in all past four times the lag measured on
 * the pairs (the same kernel path writes every switch in's record; at
 * least PAIR_MIN_NS, at most LONE_MOVE_MAX_NS). The kernel's time on a
 * CPU can run ahead of the records by more: a thread woken with a
 * preemption of the one running is charged from its wake-up (the
 * scheduler skips its clock's update at that switch), time it spent
 * waiting; given to its runs, it made two threads run on one CPU at once,
 * and a thread that woke 10 000 times run 9 % more than it did. */
static uint64_t lone_room(const struct raw_switch *r, uint64_t prev_out)
{
    uint64_t floor = r->free_ns > prev_out ? r->free_ns : prev_out;
    uint64_t room = r->mono_ns > floor ? r->mono_ns - floor : 0;
    uint64_t most = 4 * (lag_q8 >> 8);
    most = most < PAIR_MIN_NS ? PAIR_MIN_NS : most > LONE_MOVE_MAX_NS ? LONE_MOVE_MAX_NS : most;
    uint64_t left = r->moved_ns < most ? most - r->moved_ns : 0;
    return room < left ? room : left;
}

int64_t ct_swait_exec(struct ct_thread *t, uint64_t upto_ns, uint64_t run_ns, bool own)
{
    struct raw_switch *e = t->cpu_events;
    size_t begin = t->ex_from, end = begin;
    /* The thread's switch out before the period: its first switch in
     * moves within the time since (a thread that sleeps has one or two
     * switches in a period, the first of them after that switch out). */
    uint64_t first_out = t->ex_prev_out;
    for (size_t k = begin; k-- > 0;)
        if (e[k].state && e[k].state != CT_CPU_ON) {
            first_out = e[k].mono_ns;
            break;
        } else if (e[k].state == CT_CPU_ON) {
            first_out = 0; /* it ran at the period's start */
            break;
        }
    uint64_t ran = 0, on_at = 0, room = 0, undo = 0, applied = 0, prev_out = first_out;
    size_t lone = 0, movable = 0, preempted = 0;
    bool on = false;
    for (; end < t->cpu_len && e[end].mono_ns <= upto_ns; end++) {
        const struct raw_switch *r = &e[end];
        if (!r->state)
            continue;
        if (r->state == CT_CPU_ON) {
            on = true;
            on_at = r->mono_ns;
            if (!r->paired) { /* back towards its record's time */
                undo += r->moved_ns;
                movable += r->moved_ns > 0;
            }
            if (!r->paired && prev_out && on_at > prev_out) {
                lone++;
                room += lone_room(r, prev_out);
                applied += r->moved_ns;
            }
        } else {
            if (on && r->mono_ns > on_at)
                ran += r->mono_ns - on_at;
            on = false;
            prev_out = r->mono_ns;
            preempted += r->state == CT_CPU_PREEMPTED;
        }
    }
    t->ex_from = end;
    t->ex_prev_out = on ? 0 : prev_out;
    if (on && own && upto_ns > on_at)
        ran += upto_ns - on_at; /* read by the thread itself, on its CPU */
    else if (on)
        return 0; /* another's read while it ran: its total is as of a tick */
    /* Short of the kernel's time: the lone switches in earlier, by an even
     * share, within lone_room. Over it: the lone ones later, by an even
     * share, within how far they were moved back (a pair's time is its
     * partner's switch out, exact). What one cannot take goes to the ones
     * after; what none can is the kernel's charging around a wake-up that
     * preempted (sched_raw.h): the wait to share gains it, or loses it. */
    bool back = run_ns > ran;
    int64_t differ = back ? (int64_t)(run_ns - ran) : -(int64_t)(ran - run_ns);
    /* Short of the records only by its preemptions' charging; the rest
     * (time the hypervisor took inside its runs, which the kernel leaves
     * out) is not wait. */
    int64_t most_taken = -(int64_t)(preempted * PREEMPT_CHARGE_MAX_NS);
    if (back ? !lone : !movable)
        return differ > most_taken ? differ : most_taken;

    uint64_t amount = back ? run_ns - ran : ran - run_ns;
    uint64_t cap = back ? room : undo;
    amount = amount < cap ? amount : cap;
    uint64_t left = amount;
    size_t todo = back ? lone : movable;
    prev_out = first_out;
    for (size_t i = begin; i < end && todo && left; i++) {
        struct raw_switch *r = &e[i];
        if (!r->state)
            continue;
        if (r->state != CT_CPU_ON) {
            prev_out = r->mono_ns;
            continue;
        }
        if (back ? r->paired || !prev_out || r->mono_ns <= prev_out : r->paired || !r->moved_ns)
            continue;
        uint64_t share = left / todo--;
        uint64_t limit = back ? lone_room(r, prev_out) : r->moved_ns;
        uint64_t move = share < limit ? share : limit;
        r->mono_ns = back ? r->mono_ns - move : r->mono_ns + move;
        if (move) /* a switch in may pass a switch out of another CPU's */
            ct_sched_unsorted(t, i);
        uint64_t moved = back ? r->moved_ns + move : r->moved_ns - move;
        r->moved_ns = (uint16_t)(moved < 65535 ? moved : 65535);
        left -= move;
    }
    /* What the lone switches in lag by, for those no sample corrects: from
     * periods with enough of them that the period's other differences
     * (a few hundred nanoseconds here and there over its pairs) do not
     * pass for their lag, and never more than a pair's bound. */
    uint64_t done = amount - left;
    int64_t unplaced = back ? differ - (int64_t)done : differ + (int64_t)done;
    unplaced = unplaced > most_taken ? unplaced : most_taken;
    if (lone < LONE_MIN)
        return unplaced;
    uint64_t forward = movable ? done / movable : 0; /* each one's, on average */
    uint64_t per = back ? (applied + done) / lone
                        : (applied / lone > forward ? applied / lone - forward : 0);
    per = per < PAIR_MAX_NS ? per : PAIR_MAX_NS;
    uint64_t target = per << 8;
    lone_lag_q8 = lone_lag_q8 ? lone_lag_q8 + (uint64_t)(((int64_t)target - (int64_t)lone_lag_q8) / 8)
                              : target;
    return unplaced;
}

/* ---- sharing a period's run-queue wait ---- */

struct candidate {
    size_t index;
    uint64_t gap; /* its time off the CPU, or since a sleep's end in it */
    uint64_t cap, given;
};
static struct candidate *scratch;
static size_t scratch_cap;

void ct_swait_free(void)
{
    free(scratch);
    scratch = NULL;
    scratch_cap = 0;
}

/* Gives `amount` to the candidates evenly, none past its cap: the level
 * at which the capped shares add up to it, found by passes that take the
 * candidates whose room is under the even share out first (a few passes
 * in practice). Returns what could not be given. */
static uint64_t fill_evenly(struct candidate *c, size_t n, uint64_t amount)
{
    for (int pass = 0; pass < 8 && amount > 0; pass++) {
        size_t open = 0;
        for (size_t i = 0; i < n; i++)
            open += c[i].given < c[i].cap;
        if (!open)
            break;
        uint64_t share = amount / open;
        if (share == 0)
            share = 1;
        for (size_t i = 0; i < n && amount > 0; i++) {
            uint64_t room = c[i].cap - c[i].given;
            uint64_t take = room < share ? room : share;
            take = take < amount ? take : amount;
            c[i].given += take;
            amount -= take;
        }
    }
    return amount;
}

/* The ends of the thread's last full sleeps (ct_sleep_done) into ends, in
 * time order: those its thread cannot be overwriting as they are read.
 * Returns how many. */
static size_t sleep_ends(struct ct_thread *t, uint64_t ends[CT_SLEEP_ENDS])
{
    uint32_t n = atomic_load_explicit(&t->sleep_ends, memory_order_acquire);
    uint32_t from = n > CT_SLEEP_ENDS ? n - CT_SLEEP_ENDS : 0;
    for (uint32_t k = from; k < n; k++)
        ends[k - from] =
            atomic_load_explicit(&t->sleep_end[k % CT_SLEEP_ENDS], memory_order_acquire);
    /* Its next end goes where the oldest was: those from there on were
     * overwritten, or may be. */
    uint32_t now = atomic_load_explicit(&t->sleep_ends, memory_order_acquire);
    uint32_t valid = now >= CT_SLEEP_ENDS ? now - CT_SLEEP_ENDS + 1 : 0;
    if (valid <= from)
        return n - from;
    if (valid >= n)
        return 0;
    memmove(ends, ends + (valid - from), (n - valid) * sizeof *ends);
    return n - valid;
}

void ct_swait_share(struct ct_thread *t, uint64_t upto_ns, uint64_t wait_ns)
{
    struct raw_switch *e = t->cpu_events;
    uint64_t ends[CT_SLEEP_ENDS];
    size_t nends = sleep_ends(t, ends), next_end = 0;
    size_t n = 0, i = t->lat_from, first = SIZE_MAX;
    uint64_t known = 0, first_gap = 0;
    uint32_t prev_state = t->lat_prev_state;
    uint64_t prev_ns = t->lat_prev_ns;
    for (; i < t->cpu_len && e[i].mono_ns <= upto_ns; i++) {
        if (!e[i].state)
            continue; /* a sample */
        if (e[i].state == CT_CPU_ON) {
            uint64_t gap = e[i].mono_ns > prev_ns ? e[i].mono_ns - prev_ns : 0;
            if (prev_state == CT_CPU_OFF) {
                if (n == scratch_cap) {
                    size_t cap = scratch_cap ? 2 * scratch_cap : 32;
                    struct candidate *grown = realloc(scratch, cap * sizeof *grown);
                    if (!grown)
                        break; /* the rest waits for the next sample */
                    scratch = grown;
                    scratch_cap = cap;
                }
                /* A full sleep that ended in the gap: the kernel woke
                 * the thread no earlier. */
                while (next_end < nends && ends[next_end] <= prev_ns)
                    next_end++;
                while (next_end < nends && ends[next_end] <= e[i].mono_ns)
                    gap = e[i].mono_ns - ends[next_end++];
                e[i].woken_ns = 0;
                scratch[n++] = (struct candidate){.index = i, .gap = gap};
            } else if (prev_state == 0) {
                first = i; /* its first run, since its creation */
                first_gap = gap;
            } else if (prev_state != CT_CPU_ON) {
                known += gap; /* after a preemption */
            }
        }
        prev_state = e[i].state;
        prev_ns = e[i].mono_ns;
    }
    t->lat_from = i;
    t->lat_prev_state = prev_state;
    t->lat_prev_ns = prev_ns;
    t->lat_pending = 0;
    for (size_t k = i; k < t->cpu_len; k++)
        t->lat_pending += k > 0 && e[k].state == CT_CPU_ON && e[k - 1].state == CT_CPU_OFF;
    uint64_t carry = t->lat_carry_ns;
    t->lat_carry_ns = 0;
    uint64_t amount = wait_ns + carry > known ? wait_ns + carry - known : 0;
    if (first != SIZE_MAX) {
        /* A new thread waits for its first run from the kernel's enqueue
         * inside clone; its creator may have been preempted in clone
         * before that. Its wait is what the kernel counted, up to the
         * time since its creation; it starts at the `woken` before its
         * first run (the analysis begins its life there). */
        e[first].woken_ns = amount < first_gap ? amount : first_gap;
        amount -= e[first].woken_ns;
    }

    if (!n) {
        /* Nothing to give it to: a switch in whose record comes later, or
         * the wait of a switch in before the thread's first sample. Kept
         * for the next period once, not more. */
        t->lat_carry_ns = carry ? 0 : amount;
        return;
    }
    /* First the stretches the CPU spent on other threads of the process. */
    uint64_t busy = 0;
    for (size_t k = 0; k < n; k++) {
        struct candidate *c = &scratch[k];
        uint64_t b = e[c->index].busy_ns;
        c->cap = b < c->gap ? b : c->gap;
        busy += c->cap;
    }
    if (busy > 0 && amount > 0) {
        uint64_t given = 0;
        for (size_t k = 0; k < n; k++) {
            struct candidate *c = &scratch[k];
            c->given = busy <= amount ? c->cap
                                      : (uint64_t)((unsigned __int128)amount * c->cap / busy);
            given += c->given;
        }
        amount -= given < amount ? given : amount;
    }
    /* Then evenly, up to each one's time off the CPU (or since its sleep's end). */
    for (size_t k = 0; k < n; k++)
        scratch[k].cap = scratch[k].gap;
    amount = fill_evenly(scratch, n, amount);
    for (size_t k = 0; k < n; k++)
        e[scratch[k].index].woken_ns = scratch[k].given;
    t->lat_carry_ns = carry ? 0 : amount;
}
