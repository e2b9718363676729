/*
 * utilization.c - CPU utilization over time and its minimum over windows
 * (utilization.h), from the thread analysis's intervals in one streamed
 * pass.
 *
 * An interval adds its thread-ns to the bins it covers in O(1): its two
 * partial bins directly, the whole bins between through a difference array
 * of coverage counts, summed once at the end. The minimum over windows of
 * width w slides a window of w bins over the cumulated sums (one pass per
 * width; about 60 widths from one bin to the whole trace, 10 a decade):
 * for a step function the extremes lie with a window edge on a step, and
 * the bins' edges stand for the steps within a bin's width.
 */
#include "utilization.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"

struct util_builder {
    struct ct_util *u;
    double *val_run, *val_want; /* per bin: thread-ns of partial coverage */
    int32_t *cov_run, *cov_want; /* coverage counts, as differences */
    int max_cpu;
    bool have_ncpu;
};

static size_t bin_of(const struct ct_util *u, int64_t t)
{
    if (t <= u->begin)
        return 0;
    uint64_t k = ct_span_ns(u->begin, t) / (uint64_t)u->bin_ns;
    return k >= u->nbins ? u->nbins - 1 : (size_t)k;
}

static void add(const struct ct_util *u, double *val, int32_t *cov, int64_t b, int64_t e)
{
    if (b < u->begin)
        b = u->begin;
    if (e > u->end)
        e = u->end;
    if (e <= b)
        return;
    size_t i0 = bin_of(u, b), i1 = bin_of(u, e);
    if (i0 == i1) {
        val[i0] += (double)(e - b);
        return;
    }
    int64_t edge0 = u->begin + (int64_t)(i0 + 1) * u->bin_ns;
    int64_t edge1 = u->begin + (int64_t)i1 * u->bin_ns;
    val[i0] += (double)(edge0 - b);
    val[i1] += (double)(e - edge1);
    cov[i0 + 1]++;
    cov[i1]--;
}

static void on_interval(void *ctx, const struct ct_thread_row *r, int column, unsigned reason,
                        int64_t begin, int64_t end)
{
    (void)reason;
    struct util_builder *b = ctx;
    if (r->tracer)
        return;
    if (column == CT_COL_EXEC) {
        add(b->u, b->val_run, b->cov_run, begin, end);
        add(b->u, b->val_want, b->cov_want, begin, end);
    } else if (column == CT_COL_SCHED) {
        add(b->u, b->val_want, b->cov_want, begin, end);
    }
}

static void on_event(void *ctx, const struct ct_thread_row *r, const struct ct_reader *rd,
                     const struct ct_gen *gen, const struct ct_event *ev)
{
    (void)r, (void)rd;
    struct util_builder *b = ctx;
    if (!b->have_ncpu && gen->has_process && gen->process.ncpu > 0 &&
        gen->process.ncpu < 1u << 20) {
        b->u->ncpu = (unsigned)gen->process.ncpu;
        b->have_ncpu = true;
    }
    if (ev->kind == CT_EV_CPU && ev->args[1] < 1u << 20 && (int)ev->args[1] > b->max_cpu)
        b->max_cpu = (int)ev->args[1];
}

int ct_util_compute(struct ct_reader *rd, int64_t begin, int64_t end, struct ct_util *u)
{
    return ct_util_compute_many(rd, 1, begin, end, u);
}

int ct_util_compute_many(struct ct_reader *rds, size_t nrds, int64_t begin, int64_t end,
                         struct ct_util *u)
{
    memset(u, 0, sizeof *u);
    if (end <= begin)
        end = begin + 1;
    u->begin = begin;
    u->end = end;
    uint64_t span = ct_span_ns(begin, end);
    uint64_t width = (span + CT_UTIL_BINS - 1) / CT_UTIL_BINS;
    u->bin_ns = width < 100 ? 100 : (int64_t)width;
    u->nbins = (size_t)((span + (uint64_t)u->bin_ns - 1) / (uint64_t)u->bin_ns);
    if (u->nbins == 0)
        u->nbins = 1;
    size_t n = u->nbins + 1;
    struct util_builder b = {u, calloc(n, sizeof(double)), calloc(n, sizeof(double)),
                             calloc(n, sizeof(int32_t)), calloc(n, sizeof(int32_t)), -1, false};
    int rc = b.val_run && b.val_want && b.cov_run && b.cov_want ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < nrds; k++) {
        struct ct_visitor v = {&b, on_interval, on_event, NULL, NULL};
        struct ct_threads th;
        rc = ct_threads_read(&rds[k], &th, &v, NULL);
        if (rc == 0) {
            ct_threads_finish(&th, NULL); /* live threads run to the end */
            u->sched |= th.sched;
            for (size_t i = 0; i < th.count; i++)
                u->nthreads += !th.rows[i].tracer;
        }
        ct_threads_free(&th);
    }
    if (rc == 0) {
        if (!b.have_ncpu)
            u->ncpu = b.max_cpu >= 0 ? (unsigned)b.max_cpu + 1 : 1;
        /* Cumulated, in place: run[i] is the sum of the bins before i. */
        int64_t run_cov = 0, want_cov = 0;
        double run = 0, want = 0;
        for (size_t i = 0; i < u->nbins; i++) {
            run_cov += b.cov_run[i];
            want_cov += b.cov_want[i];
            double r = b.val_run[i] + (double)run_cov * (double)u->bin_ns;
            double w = b.val_want[i] + (double)want_cov * (double)u->bin_ns;
            b.val_run[i] = run;
            b.val_want[i] = want;
            run += r;
            want += w;
        }
        b.val_run[u->nbins] = run;
        b.val_want[u->nbins] = want;
        u->run = b.val_run;
        u->want = b.val_want;
        b.val_run = b.val_want = NULL;
    }
    free(b.val_run);
    free(b.val_want);
    free(b.cov_run);
    free(b.cov_want);
    return rc;
}

void ct_util_free(struct ct_util *u)
{
    free(u->run);
    free(u->want);
    memset(u, 0, sizeof *u);
}

/* Bins [a, z): the time they cover within the trace. */
static double bins_ns(const struct ct_util *u, size_t a, size_t z)
{
    int64_t from = u->begin + (int64_t)a * u->bin_ns;
    int64_t to = u->begin + (int64_t)z * u->bin_ns;
    if (to > u->end)
        to = u->end;
    return to > from ? (double)(to - from) : 0;
}

/* x, at most 1 (and 1 for NaN, as fmin(1, x)): ctrace needs no libm,
 * one library fewer to load at each start. */
static double at_most_one(double x)
{
    return x < 1.0 ? x : 1.0;
}

static double bins_util(const struct ct_util *u, enum ct_util_mode mode, size_t a, size_t z)
{
    double got = u->run[z] - u->run[a];
    if (mode == CT_UTIL_DEMAND) {
        double wanted = u->want[z] - u->want[a];
        return wanted > 0 ? at_most_one(got / wanted) : 1.0;
    }
    double capacity = bins_ns(u, a, z) * u->ncpu;
    return capacity > 0 ? at_most_one(got / capacity) : 0.0;
}

double ct_util_window(const struct ct_util *u, enum ct_util_mode mode, int64_t t0, int64_t t1)
{
    if (!u->nbins || t1 <= t0)
        return 0;
    size_t a = bin_of(u, t0), z = bin_of(u, t1 - 1) + 1;
    return bins_util(u, mode, a, z);
}

double ct_util_mmu(const struct ct_util *u, enum ct_util_mode mode, size_t width, size_t *worst)
{
    *worst = 0;
    if (width == 0 || width > u->nbins)
        width = u->nbins;
    double min = INFINITY;
    for (size_t i = 0; i + width <= u->nbins; i++) {
        double x = bins_util(u, mode, i, i + width);
        if (x < min) {
            min = x;
            *worst = i;
        }
    }
    return min == INFINITY ? 0 : min;
}

/* The worst windows of `width` bins, none overlapping another: the
 * smallest first; up to `max` of them into starts. */
static size_t worst_windows(const struct ct_util *u, enum ct_util_mode mode, size_t width,
                            size_t *starts, double *values, size_t max)
{
    size_t found = 0;
    while (found < max) {
        double min = INFINITY;
        size_t at = 0;
        for (size_t i = 0; i + width <= u->nbins; i++) {
            bool taken = false;
            for (size_t k = 0; k < found && !taken; k++)
                taken = i + width > starts[k] && i < starts[k] + width;
            if (taken)
                continue;
            double x = bins_util(u, mode, i, i + width);
            if (x < min) {
                min = x;
                at = i;
            }
        }
        if (min == INFINITY)
            break;
        starts[found] = at;
        values[found++] = min;
    }
    return found;
}

void ct_util_json(const struct ct_util *u, enum ct_util_mode mode, int64_t t0, int64_t t1,
                  unsigned px, int64_t worst_width, FILE *out)
{
    fprintf(out,
            "{\"mode\":\"%s\",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"bin_ns\":%" PRId64
            ",\"ncpu\":%u,\"sched\":%s,\"threads\":%zu,\"t0\":%" PRId64 ",\"t1\":%" PRId64
            ",\"series\":[",
            mode == CT_UTIL_DEMAND ? "demand" : "machine", u->begin, u->end, u->bin_ns, u->ncpu,
            u->sched ? "true" : "false", u->nthreads, t0, t1);
    double step = px ? (double)(t1 - t0) / px : 0;
    for (unsigned i = 0; i < px && t1 > t0; i++) {
        int64_t a = t0 + (int64_t)(step * i), z = t0 + (int64_t)(step * (i + 1));
        if (z <= a)
            z = a + 1;
        double x = a >= u->end || z <= u->begin ? -1 : ct_util_window(u, mode, a, z);
        fprintf(out, "%s%.4f", i ? "," : "", x);
    }
    fputs("],\"mmu\":[", out);
    size_t prev = 0;
    bool first = true;
    for (double k = 1; u->nbins; k *= 1.2589254117941673) { /* 10 a decade */
        size_t width = (size_t)ceil(k);
        if (width > u->nbins)
            width = u->nbins;
        if (width == prev)
            continue;
        size_t worst;
        double x = ct_util_mmu(u, mode, width, &worst);
        fprintf(out, "%s[%" PRId64 ",%.4f,%" PRId64 "]", first ? "" : ",",
                (int64_t)width * u->bin_ns, x, u->begin + (int64_t)worst * u->bin_ns);
        first = false;
        prev = width;
        if (width == u->nbins)
            break;
    }
    fputs("],\"worst\":[", out);
    if (worst_width > 0 && u->nbins) {
        size_t width = (size_t)((worst_width + u->bin_ns - 1) / u->bin_ns);
        width = width < 1 ? 1 : width > u->nbins ? u->nbins : width;
        size_t starts[5];
        double values[5];
        size_t n = worst_windows(u, mode, width, starts, values, 5);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%s[%" PRId64 ",%" PRId64 ",%.4f]", i ? "," : "",
                    u->begin + (int64_t)starts[i] * u->bin_ns,
                    u->begin + (int64_t)(starts[i] + width) * u->bin_ns, values[i]);
    }
    fputs("]}", out);
}
