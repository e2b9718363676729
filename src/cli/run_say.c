/*
 * run_say.c - what `ctrace run` says, once, after the program: about
 * programs built without frame pointers (their stacks were walked with
 * .eh_frame tables instead, and what that cost: PROCESS frame_pointers,
 * GEN_END cfi_stacks and cfi_units), and about the CPU scheduling it chose
 * (PROCESS sched, GEN_END switches): where the kernel refused each
 * context switch's record and the recorder fell back to schedstat
 * samples, where the switches came so fast that --sched=auto turned to
 * those samples (a generation of PROCESS sched 2 after those of 1), or
 * where those records came so often that they cost the program a
 * noticeable share of its time; and about events lost (GEN_END lost and
 * batch_lost: a writer that fell behind its threads' events or the
 * kernel's rings).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* What recording a context switch adds, wall time, in ns: the kernel's
 * record and the writer's handling, on a condvar handoff (about 1.2-1.6
 * us on the machines docs/performance.md measured on; the lower end). */
#define SWITCH_COST_NS 1000.0
/* Said when the switches cost at least this share of the run. */
#define SWITCH_SHARE_SAID 0.05

struct heard {
    /* Programs without frame pointers. */
    char first[64]; /* the first such program's name */
    unsigned programs; /* distinct executables without frame pointers */
    char seen[8][64];
    uint64_t stacks;
    double ns;
    /* Scheduling: processes by the mode they recorded in, switches. */
    unsigned processes, by_mode[3];
    uint64_t switches;
    /* Processes whose switches gave way to samples: the first's name,
     * when (ns into its trace) and the rate of its switches until then. */
    unsigned turned;
    char turned_first[64];
    double turned_at_ns, turned_rate;
    /* Events lost: in all, in how many traces, the first such trace. */
    uint64_t lost;
    unsigned lost_traces;
    char lost_first[64], lost_path[PATH_MAX];
};

static void base_name(const uint8_t *exe, uint64_t len, char name[64])
{
    const uint8_t *base = exe;
    for (uint64_t i = 0; i < len; i++)
        if (exe[i] == '/')
            base = exe + i + 1;
    size_t n = (size_t)(exe + len - base);
    n = n < 63 ? n : 63;
    memcpy(name, base, n);
    name[n] = 0;
}

static void note_program(struct heard *u, const uint8_t *exe, uint64_t len)
{
    char name[64];
    base_name(exe, len, name);
    for (unsigned i = 0; i < u->programs && i < 8; i++)
        if (strcmp(u->seen[i], name) == 0)
            return;
    if (u->programs < 8)
        memcpy(u->seen[u->programs], name, sizeof name);
    if (u->programs++ == 0)
        memcpy(u->first, name, sizeof name);
}

/* Adds one trace's figures: its scheduling mode and switches, and its
 * unwinding's if its executable has no frame pointers. */
static void add_trace(struct heard *u, const char *path)
{
    struct ct_reader rd;
    if (ct_rd_open(&rd, path) != 0)
        return;
    struct ct_gen gen = {0};
    bool first = true, unwound = false, exact = false;
    int64_t began_ns = 0;
    uint64_t switches = 0, lost = 0;
    char name[64] = "";
    while (ct_rd_next_gen(&rd, &gen) == 1) {
        int64_t gen_ns = ct_gen_ns(&rd, &gen, gen.base_units);
        if (first) {
            first = false;
            if (!gen.has_process)
                break;
            u->processes++;
            base_name(gen.process.exe, gen.process.exe_len, name);
            u->by_mode[gen.process.sched < 3 ? gen.process.sched : 0]++;
            if ((unwound = gen.process.frame_pointers == 2))
                note_program(u, gen.process.exe, gen.process.exe_len);
            exact = gen.process.sched == 1;
            began_ns = gen_ns;
        } else if (exact && gen.has_process && gen.process.sched == 2) {
            exact = false; /* turned to samples (--sched=auto) */
            if (u->turned++ == 0) {
                base_name(gen.process.exe, gen.process.exe_len, u->turned_first);
                u->turned_at_ns = (double)(gen_ns - began_ns);
                u->turned_rate = gen_ns > began_ns ? (double)switches / (double)(gen_ns - began_ns)
                                                   : 0;
            }
        }
        switches += gen.switches;
        u->switches += gen.switches;
        lost += gen.end_lost + gen.batch_lost;
        if (unwound) {
            u->stacks += gen.cfi_stacks;
            u->ns += (double)gen.cfi_units * (double)gen.q32 / 4294967296.0;
        }
    }
    ct_gen_free(&gen);
    ct_rd_close(&rd);
    if (lost && u->lost_traces++ == 0) {
        memcpy(u->lost_first, name, sizeof name);
        snprintf(u->lost_path, sizeof u->lost_path, "%s", path);
    }
    u->lost += lost;
}

static void say_lost(const struct heard *u)
{
    if (!u->lost)
        return;
    char others[64] = "";
    if (u->lost_traces > 1)
        snprintf(others, sizeof others, " (and %u other process%s)", u->lost_traces - 1,
                 u->lost_traces == 2 ? "" : "es");
    fprintf(stderr, "ctrace run: %" PRIu64 " event%s lost in %s%s: they came faster than they "
                    "were written, into full buffers (--buffer-mb gives more) or the kernel's "
                    "full rings of context switches (--sched=auto samples those past 30 000 a "
                    "second); `ctrace dump %s | grep '^# lost'` shows when\n",
            u->lost, u->lost == 1 ? " was" : "s were", u->lost_first, others, u->lost_path);
}

static void say_unwound(const struct heard *u)
{
    if (u->programs == 0 || u->stacks == 0) /* nothing was unwound: nothing cost */
        return;
    char who[128];
    if (u->programs == 1)
        snprintf(who, sizeof who, "%s was", u->first);
    else
        snprintf(who, sizeof who, "%s and %u other program%s were", u->first, u->programs - 1,
                 u->programs == 2 ? "" : "s");
    const char *stacks = u->stacks == 1 ? "stack was" : "stacks were";
    if (u->ns <= 0) { /* none timed: a first walk, that built the tables, is left out */
        fprintf(stderr, "ctrace run: %s built without frame pointers: %" PRIu64 " %s unwound "
                        "from .eh_frame tables instead\n",
                who, u->stacks, stacks);
        return;
    }
    bool ms = u->ns >= 1e6;
    fprintf(stderr, "ctrace run: %s built without frame pointers: %" PRIu64 " %s "
                    "unwound from .eh_frame tables instead, %.2f us each (%.*f %s in all)\n",
            who, u->stacks, stacks, u->ns / (double)u->stacks / 1e3, ms ? 1 : 0,
            ms ? u->ns / 1e6 : u->ns / 1e3, ms ? "ms" : "us");
}

/* kernel.perf_event_paranoid, or INT_MIN when it cannot be read. */
static int perf_paranoid(void)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
    int v = INT_MIN;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = INT_MIN;
        fclose(f);
    }
    return v;
}

static void say_sched(const struct heard *u, const struct ct_run_heard *how)
{
    if (!how->sched_auto || u->processes == 0)
        return; /* --sched=off or =schedstat: what was asked */
    char which[64] = "";
    unsigned fell = u->by_mode[2] + u->by_mode[0];
    if (u->processes > 1)
        snprintf(which, sizeof which, " in %u of %u processes", fell, u->processes);
    if (fell) {
        int paranoid = perf_paranoid();
        char why[96];
        if (paranoid >= 3)
            snprintf(why, sizeof why, "kernel.perf_event_paranoid is %d", paranoid);
        else
            snprintf(why, sizeof why, "a seccomp filter or the container's limits");
        if (u->by_mode[2])
            fprintf(stderr, "ctrace run: perf_event_open was refused%s (%s): waits for a CPU "
                            "were sampled from /proc schedstat instead of taken from each "
                            "context switch (no CPU lanes, no switch times)\n",
                    which, why);
        else
            fprintf(stderr, "ctrace run: perf_event_open and /proc schedstat were refused%s "
                            "(%s): no CPU scheduling was recorded\n",
                    which, why);
    }
    if (u->turned) {
        char others[48] = "";
        if (u->turned > 1)
            snprintf(others, sizeof others, " (and %u other process%s)", u->turned - 1,
                     u->turned == 2 ? "" : "es");
        fprintf(stderr, "ctrace run: context switches came at %.0f k/s in %s%s: from %.2f s on, "
                        "each thread's time on a CPU and waiting for one was sampled from /proc "
                        "schedstat every 2 ms instead of taken from each switch (no CPU lanes "
                        "from there); --sched=exact keeps every switch, --sched=off none\n",
                u->turned_rate * 1e6, u->turned_first, others, u->turned_at_ns / 1e9);
        return;
    }
    double wall_ns = how->wall_ns, cost = (double)u->switches * SWITCH_COST_NS;
    if (wall_ns > 0 && cost >= SWITCH_SHARE_SAID * wall_ns)
        fprintf(stderr, "ctrace run: %" PRIu64 " context switches were recorded from the kernel "
                        "(%.0f k/s): at about 1 us each they cost about %.0f %% of the run; "
                        "--sched=off leaves them out (no CPU lanes or waits for a CPU, the "
                        "blocking events stay)\n",
                u->switches, (double)u->switches / wall_ns * 1e6, cost / wall_ns * 100);
}

void ct_run_say(const char (*paths)[PATH_MAX], size_t n, const struct ct_run_heard *how)
{
    struct heard u = {0};
    for (size_t i = 0; i < n; i++)
        add_trace(&u, paths[i]);
    say_unwound(&u);
    say_sched(&u, how);
    say_lost(&u);
}
