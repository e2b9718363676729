/*
 * chrome.c - the trace as Trace Event Format JSON, which Perfetto's UI and
 * chrome://tracing load (`ctrace export --format=chrome`).
 *
 * Tracks:
 *   process PID "<command>"            one track per thread: regions as
 *                                      nested complete (X) slices, logs as
 *                                      instant events, tasks as async slices
 *   process PID+1 "thread states"      per thread: running, runnable,
 *                                      blocked (with the primitive), sleeping,
 *                                      system call, off CPU
 *   process PID+2 "CPUs"               per CPU: which thread ran
 *   counters                           heap, RSS, threads
 *   flows                              from a wake to the unblock it caused
 *
 * Times are microseconds from the start of the trace, with nanosecond
 * decimals.
 */
#include "chrome.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../recorder/sched.h"
#include "json.h"
#include "threads.h"

struct slice {
    uint64_t tid;
    int column;
    unsigned reason;
    int64_t begin, end;
    int cpu;
    int64_t cpu_since;
    bool on_cpu;
    /* open regions: type names and begins */
    struct {
        char type[64];
        int64_t begin;
        uint32_t depth;
    } regions[32];
    unsigned nregions, depth;
    uint64_t block_object;
    int64_t block_since;
};

struct exporter {
    FILE *out;
    bool first;
    uint64_t pid;
    struct slice *slices;
    size_t nslices, cap;
    struct ct_wakes wakes;
    struct {
        uint64_t id;
        char type[64];
    } *tasks;
    size_t ntasks, tasks_cap;
    /* Slices of the CPU tracks, written at the end in time order per CPU:
     * switch times are quantized to clock units, and one thread's switch in
     * may land a unit before the previous thread's switch out. */
    struct cpu_run {
        int64_t begin, end;
        uint64_t tid;
        int cpu;
    } *runs;
    size_t nruns, runs_cap;
};

static void comma(struct exporter *x)
{
    fputs(x->first ? "\n" : ",\n", x->out);
    x->first = false;
}

static void time_us(FILE *out, const char *key, int64_t ns)
{
    uint64_t magnitude = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    fprintf(out, ",\"%s\":%s%" PRIu64 ".%03" PRIu64, key, ns < 0 ? "-" : "", magnitude / 1000,
            magnitude % 1000);
}

static struct slice *slice_of(struct exporter *x, uint64_t tid)
{
    for (size_t i = 0; i < x->nslices; i++)
        if (x->slices[i].tid == tid)
            return &x->slices[i];
    if (x->nslices == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 32;
        struct slice *s = realloc(x->slices, cap * sizeof *s);
        if (!s)
            return NULL;
        x->slices = s;
        x->cap = cap;
    }
    struct slice *s = &x->slices[x->nslices++];
    memset(s, 0, sizeof *s);
    s->tid = tid;
    s->column = -1;
    s->cpu = -1;
    return s;
}

static const char *state_name(int column, unsigned reason, char buf[48])
{
    switch (column) {
    case CT_COL_EXEC:
        return "running";
    case CT_COL_SCHED:
        return "runnable";
    case CT_COL_SLEEP:
        return "sleeping";
    case CT_COL_NET:
        return "network wait";
    case CT_COL_SYSCALL:
        return "syscall";
    case CT_COL_SYNC:
        snprintf(buf, 48, "blocked: %s", ct_sync_primitive_name(reason));
        return buf;
    }
    return "off CPU";
}

static void flush_slice(struct exporter *x, struct slice *s)
{
    if (s->column < 0 || s->end <= s->begin)
        return;
    char buf[48];
    comma(x);
    fprintf(x->out, "{\"ph\":\"X\",\"cat\":\"state\",\"name\":\"%s\",\"pid\":%" PRIu64
                    ",\"tid\":%" PRIu64,
            state_name(s->column, s->reason, buf), x->pid + 1, s->tid);
    time_us(x->out, "ts", s->begin);
    time_us(x->out, "dur", (int64_t)ct_span_ns(s->begin, s->end));
    fputs("}", x->out);
}

static void on_interval(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                        int64_t begin, int64_t end)
{
    struct exporter *x = ctx;
    if (r->tracer)
        return;
    struct slice *s = slice_of(x, r->tid);
    if (!s)
        return;
    if (column != CT_COL_SYNC)
        reason = 0;
    if (s->column == column && s->reason == reason && s->end == begin) {
        s->end = end;
        return;
    }
    flush_slice(x, s);
    s->column = column;
    s->reason = reason;
    s->begin = begin;
    s->end = end;
}

static void string_of(const struct ct_gen *gen, uint64_t id, char *out, size_t cap)
{
    const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, id);
    size_t n = e ? (e->len < cap - 1 ? e->len : cap - 1) : 0;
    if (e)
        memcpy(out, e->data, n);
    out[n] = 0;
}

static void cpu_slice(struct exporter *x, const struct ct_thread_row *r, struct slice *s, int64_t now)
{
    if (!s->on_cpu || s->cpu < 0 || now <= s->cpu_since)
        return;
    if (x->nruns == x->runs_cap) {
        size_t c = x->runs_cap ? x->runs_cap * 2 : 1024;
        struct cpu_run *grown = realloc(x->runs, c * sizeof *grown);
        if (!grown)
            return;
        x->runs = grown;
        x->runs_cap = c;
    }
    x->runs[x->nruns++] = (struct cpu_run){s->cpu_since, now, r->tid, s->cpu};
}

static int by_cpu_time(const void *a, const void *b)
{
    const struct cpu_run *x = a, *y = b;
    if (x->cpu != y->cpu)
        return x->cpu < y->cpu ? -1 : 1;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static void write_cpu_runs(struct exporter *x, const struct ct_threads *t)
{
    if (x->nruns)
        qsort(x->runs, x->nruns, sizeof *x->runs, by_cpu_time);
    int64_t end = 0;
    for (size_t i = 0; i < x->nruns; i++) {
        struct cpu_run *run = &x->runs[i];
        if (i == 0 || run->cpu != x->runs[i - 1].cpu)
            end = INT64_MIN;
        if (run->begin < end)
            run->begin = end;
        if (run->end <= run->begin)
            continue;
        end = run->end;
        const char *name = "";
        for (size_t k = 0; k < t->count; k++)
            if (t->rows[k].tid == run->tid)
                name = t->rows[k].name;
        comma(x);
        fprintf(x->out, "{\"ph\":\"X\",\"cat\":\"cpu\",\"name\":");
        ct_json_string(x->out, name, strlen(name));
        fprintf(x->out, ",\"pid\":%" PRIu64 ",\"tid\":%d", x->pid + 2, run->cpu);
        time_us(x->out, "ts", run->begin);
        time_us(x->out, "dur", (int64_t)ct_span_ns(run->begin, run->end));
        fprintf(x->out, ",\"args\":{\"tid\":%" PRIu64 "}}", run->tid);
    }
}

static void task_event(struct exporter *x, const struct ct_thread_row *r, const struct ct_gen *gen,
                       const struct ct_event *ev)
{
    char type[64] = "task";
    if (ev->kind == CT_EV_TASK_BEGIN) {
        string_of(gen, ev->args[2], type, sizeof type);
        if (x->ntasks == x->tasks_cap) {
            size_t c = x->tasks_cap ? x->tasks_cap * 2 : 64;
            void *grown = realloc(x->tasks, c * sizeof *x->tasks);
            if (grown) {
                x->tasks = grown;
                x->tasks_cap = c;
            }
        }
        if (x->ntasks < x->tasks_cap) {
            x->tasks[x->ntasks].id = ev->args[0];
            memcpy(x->tasks[x->ntasks++].type, type, sizeof type);
        }
    } else {
        for (size_t i = x->ntasks; i-- > 0;)
            if (x->tasks[i].id == ev->args[0]) {
                memcpy(type, x->tasks[i].type, sizeof type);
                x->tasks[i] = x->tasks[--x->ntasks];
                break;
            }
    }
    comma(x);
    fprintf(x->out, "{\"ph\":\"%s\",\"cat\":\"task\",\"name\":",
            ev->kind == CT_EV_TASK_BEGIN ? "b" : "e");
    ct_json_string(x->out, type, strlen(type));
    fprintf(x->out, ",\"id\":\"0x%" PRIx64 "\",\"pid\":%" PRIu64 ",\"tid\":%" PRIu64, ev->args[0],
            x->pid, r->tid);
    time_us(x->out, "ts", ev->ts_ns);
    if (ev->kind == CT_EV_TASK_BEGIN && ev->args[1])
        fprintf(x->out, ",\"args\":{\"parent\":\"0x%" PRIx64 "\"}", ev->args[1]);
    fputs("}", x->out);
}

static void on_event(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    (void)rd;
    struct exporter *x = ctx;
    struct slice *s = slice_of(x, r->tid);
    if (!s)
        return;
    switch (ev->kind) {
    case CT_EV_CPU:
        cpu_slice(x, r, s, ev->ts_ns);
        s->on_cpu = ev->args[0] == CT_CPU_ON;
        s->cpu = (int)ev->args[1];
        s->cpu_since = ev->ts_ns;
        break;
    case CT_EV_REGION_BEGIN:
        if (s->nregions < 32) {
            string_of(gen, ev->args[1], s->regions[s->nregions].type, 64);
            s->regions[s->nregions].begin = ev->ts_ns;
            s->regions[s->nregions++].depth = ++s->depth;
        }
        break;
    case CT_EV_REGION_END:
    case CT_EV_REGION_END_AT: {
        if (s->nregions == 0)
            break;
        unsigned i = s->nregions - 1;
        if (ev->kind == CT_EV_REGION_END_AT)
            for (unsigned k = 0; k < s->nregions; k++)
                if (s->regions[k].depth == ev->args[1])
                    i = k;
        comma(x);
        fprintf(x->out, "{\"ph\":\"X\",\"cat\":\"region\",\"name\":");
        ct_json_string(x->out, s->regions[i].type, strlen(s->regions[i].type));
        fprintf(x->out, ",\"pid\":%" PRIu64 ",\"tid\":%" PRIu64, x->pid, r->tid);
        time_us(x->out, "ts", s->regions[i].begin);
        time_us(x->out, "dur", (int64_t)ct_span_ns(s->regions[i].begin, ev->ts_ns));
        fputs("}", x->out);
        memmove(&s->regions[i], &s->regions[i + 1], (s->nregions - i - 1) * sizeof s->regions[0]);
        s->nregions--;
        if (s->depth)
            s->depth--;
        break;
    }
    case CT_EV_TASK_BEGIN:
    case CT_EV_TASK_END:
        task_event(x, r, gen, ev);
        break;
    case CT_EV_LOG: {
        char category[64];
        string_of(gen, ev->args[1], category, sizeof category);
        comma(x);
        fprintf(x->out, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"log\",\"name\":");
        ct_json_string(x->out, category, strlen(category));
        fprintf(x->out, ",\"pid\":%" PRIu64 ",\"tid\":%" PRIu64, x->pid, r->tid);
        time_us(x->out, "ts", ev->ts_ns);
        fprintf(x->out, ",\"args\":{\"message\":");
        ct_json_string(x->out, ev->bytes, ev->bytes_len);
        fputs("}}", x->out);
        break;
    }
    case CT_EV_COUNTER: {
        const char *name = ct_counter_name((unsigned)ev->args[0]);
        comma(x);
        fprintf(x->out, "{\"ph\":\"C\",\"name\":\"%s\",\"pid\":%" PRIu64, name ? name : "counter",
                x->pid);
        time_us(x->out, "ts", ev->ts_ns);
        fprintf(x->out, ",\"args\":{\"value\":%" PRIu64 "}}", ev->args[1]);
        break;
    }
    case CT_EV_BLOCK:
        s->block_object = ev->args[1];
        s->block_since = ev->ts_ns;
        break;
    case CT_EV_UNBLOCK:
        ct_wakes_add_unblock(&x->wakes, s->block_since, ev->ts_ns, r->tid, s->block_object);
        break;
    case CT_EV_SYSCALL: { /* a read of a pipe: a writer's wake links to its end */
        int at = ct_kind_arg(gen, CT_EV_SYSCALL, "object");
        uint64_t object = at >= 0 && (unsigned)at < ev->nargs ? ev->args[at] : 0;
        if (object && ev->args[3] < UINT64_MAX - ev->ts)
            ct_wakes_add_unblock(&x->wakes, ev->ts_ns, ct_gen_ns(rd, gen, ev->ts + ev->args[3]),
                                 r->tid, object);
        break;
    }
    case CT_EV_WAKE:
        ct_wakes_add_wake(&x->wakes, ev->ts_ns, r->tid, ev->args[1], (unsigned)ev->args[0]);
        break;
    }
}

/* One end of a flow arrow: its start ("s", at the waker) or its finish
 * ("f", bound to the enclosing slice's end, at the woken thread). */
static void flow_event(struct exporter *x, const char *phase, size_t id, uint64_t tid, int64_t ts)
{
    comma(x);
    fprintf(x->out, "{\"ph\":\"%s\",%s\"cat\":\"wake\",\"name\":\"wake\",\"id\":%zu"
                    ",\"pid\":%" PRIu64 ",\"tid\":%" PRIu64,
            phase, phase[0] == 'f' ? "\"bp\":\"e\"," : "", id, x->pid + 1, tid);
    time_us(x->out, "ts", ts);
    fputs("}", x->out);
}

/* Each unblock linked to the last wake on its object before it, by
 * another thread (ct_wakes_link): a flow arrow from waker to woken. */
static void write_flows(struct exporter *x)
{
    size_t n;
    struct ct_wake_link *links = ct_wakes_link(&x->wakes, &n);
    for (size_t i = 0; links && i < n; i++) {
        flow_event(x, "s", i + 1, links[i].from, links[i].tw);
        flow_event(x, "f", i + 1, links[i].to, links[i].tu);
    }
    free(links);
}

static void metadata(struct exporter *x, uint64_t pid, const char *name)
{
    comma(x);
    fprintf(x->out, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%" PRIu64 ",\"args\":{\"name\":",
            pid);
    ct_json_string(x->out, name, strlen(name));
    fputs("}}", x->out);
}

int ct_export_chrome(struct ct_reader *rd, FILE *out, uint64_t pid, const char *command)
{
    struct exporter x = {.out = out, .first = true, .pid = pid * 10};
    struct ct_visitor v = {&x, on_interval, on_event};
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", out);
    struct ct_threads t;
    int rc = ct_threads_visit(rd, &t, &v);
    for (size_t i = 0; i < x.nslices; i++)
        flush_slice(&x, &x.slices[i]);
    for (size_t i = 0; i < t.count; i++) {
        const struct ct_thread_row *r = &t.rows[i];
        struct slice *s = slice_of(&x, r->tid);
        if (s && !r->tracer)
            cpu_slice(&x, r, s, r->end_ns);
        for (uint64_t p = x.pid; p <= x.pid + 1 && !r->tracer; p++) {
            comma(&x);
            fprintf(out, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%" PRIu64
                         ",\"tid\":%" PRIu64 ",\"args\":{\"name\":",
                    p, r->tid);
            char label[48];
            snprintf(label, sizeof label, "%s %" PRIu64, r->name, r->tid);
            ct_json_string(out, label, strlen(label));
            fputs("}}", out);
        }
    }
    write_flows(&x);
    write_cpu_runs(&x, &t);
    char name[300];
    snprintf(name, sizeof name, "%s (pid %" PRIu64 ")", command, pid);
    metadata(&x, x.pid, name);
    metadata(&x, x.pid + 1, "thread states");
    metadata(&x, x.pid + 2, "CPUs");
    fputs("\n]}\n", out);
    ct_threads_free(&t);
    free(x.slices);
    ct_wakes_free(&x.wakes);
    free(x.tasks);
    free(x.runs);
    return rc;
}
