/*
 * timeline_details.c - one span or task of `ctrace view` (timeline.h),
 * as JSON: what a thread was doing at a time, with the span's whole
 * extent, the region and task it was in, its stack and who woke it,
 * reading little of the file (a long span is the index's; its details
 * come from windows around its ends).
 */
#include "timeline.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../format/reader.h"
#include "../recorder/sched.h"
#include "json.h"
#include "threads.h"
#include "timeline_json.h"

static void stack_json(struct ct_timeline *tl, uint32_t stack, FILE *out)
{
    fputc('[', out);
    if (stack && stack <= tl->nstacks) {
        const uint64_t *pcs = tl->frames + tl->stacks[stack - 1].at;
        bool first = true;
        for (uint32_t i = 0; i < tl->stacks[stack - 1].n; i++) {
            struct ct_symbol sym[8];
            int n = tl->symbols ? ct_symbols_frames(tl->symbols, pcs[i], true, sym, 8) : 0;
            for (int f = 0; f < (n > 0 ? n : 1); f++) {
                char buf[600];
                if (n > 0 && sym[f].function[0] && sym[f].file[0])
                    snprintf(buf, sizeof buf, "%.255s %.255s:%d", sym[f].function, sym[f].file,
                             sym[f].line);
                else if (n > 0 && sym[f].function[0])
                    snprintf(buf, sizeof buf, "%.255s", sym[f].function);
                else
                    snprintf(buf, sizeof buf, "0x%" PRIx64, pcs[i]);
                fprintf(out, "%s", first ? "" : ",");
                first = false;
                json_str(out, buf);
            }
        }
    }
    fputc(']', out);
}

/* Task id in a window, or among the index's long ones. */
static const struct tl_task *find_task(const struct ct_timeline *w, const struct ct_timeline *ix,
                                       uint64_t id)
{
    for (size_t i = 0; i < w->ntask_items; i++)
        if (w->tasks[i].id == id)
            return &w->tasks[i];
    return ct_tl_long_task(ix, id);
}

/* A window around time t (the one shown when it covers t). */
static struct ct_timeline *window_at(struct ct_timeline *tl, int64_t t)
{
    if (t < INT64_MIN / 4 || t > INT64_MAX / 4)
        return NULL;
    return ct_tl_window(tl, t - 1, t + 1, 0);
}

/* The end of the activity span k of lane l is part of: its spans follow
 * one another with the same begin. */
static int64_t activity_end(const struct tl_lane *l, size_t k)
{
    const struct tl_span *s = &l->spans[k];
    int64_t end = s->e;
    if (s->since == TL_NO_ACTIVITY)
        return end;
    for (size_t j = k + 1; j < l->nspan_items && l->spans[j].since == s->since &&
                           l->spans[j].b == end; j++)
        end = l->spans[j].e;
    return end;
}

static const struct tl_lane *lane_in(const struct ct_timeline *w, uint64_t tid)
{
    for (size_t i = 0; w && i < w->nlanes; i++)
        if (w->lanes[i].tid == tid)
            return &w->lanes[i];
    return NULL;
}

/* The span of lane l that holds t: its index, or the count when none. */
static size_t span_index(const struct tl_lane *l, int64_t t)
{
    size_t k = first_span(l, t);
    return k < l->nspan_items && l->spans[k].b <= t ? k : l->nspan_items;
}

/* Lane tid of a window that holds whole its span at t (and, when asked,
 * the rest of that span's activity): a window holds whole the items that
 * end before its lane's reading stopped, and a span that began before t
 * may end far after, in a batch the window around t did not read; so the
 * window grows forward, eightfold, until it has. The span's index in *kp,
 * its end (or its activity's) in *endp; NULL when there is none. */
static const struct tl_lane *whole_at(struct ct_timeline *tl, uint64_t tid, int64_t t,
                                      bool activity, size_t *kp, int64_t *endp)
{
    /* reach stops at 2 * CT_NS_LIMIT, which takes any time to the end. */
    for (int64_t reach = 1;; reach = reach < 1000              ? 1000
                                     : reach > CT_NS_LIMIT / 4 ? 2 * CT_NS_LIMIT
                                                               : reach * 8) {
        struct ct_timeline *w = ct_tl_window(tl, t - 1, t + reach, 0);
        const struct tl_lane *l = lane_in(w, tid);
        bool to_end = t + reach >= tl->end;
        size_t k = l ? span_index(l, t) : 0;
        if (l && k < l->nspan_items) {
            int64_t end = activity ? activity_end(l, k) : l->spans[k].e;
            if (end < l->read_to || to_end) {
                *kp = k;
                *endp = end;
                return l;
            }
        }
        if (!w || to_end)
            return NULL;
    }
}

/* What a span's details say, copied out of the windows that held it (the
 * next window reuses their arrays). */
struct span_found {
    struct tl_span s;
    int64_t act_end; /* its activity's end (its own when none) */
    char thread[16];
    bool in_region, in_task, woken;
    uint32_t region_type, task_type;
    uint64_t task_id;
    struct ct_wake_link wake;
};

/* The link of the wake-up that ended f's activity in window w: the
 * unblock of this thread with the activity's begin. */
static bool find_waker(const struct ct_timeline *w, uint64_t tid, struct span_found *f)
{
    for (size_t i = FIRST_AT(w->wakes, w->nwakes, tu, f->s.since);
         i < w->nwakes && w->wakes[i].tu <= f->act_end; i++)
        if (w->wakes[i].to == tid && w->wakes[i].tb == f->s.since) {
            f->wake = w->wakes[i];
            return true;
        }
    return false;
}

/* The innermost region of lane l (of window w) around f's span's start,
 * and its task. */
static void region_info(struct ct_timeline *tl, const struct ct_timeline *w,
                        const struct tl_lane *l, struct span_found *f)
{
    const struct tl_region *in = NULL;
    size_t from = FIRST_AT(l->regions, l->nregion_items, b, f->s.b - l->longest_region);
    for (size_t i = from; i < l->nregion_items && l->regions[i].b <= f->s.b; i++)
        if (l->regions[i].e >= f->s.b && (!in || l->regions[i].depth > in->depth))
            in = &l->regions[i];
    if (!in)
        return;
    f->in_region = true;
    f->region_type = in->type;
    const struct tl_task *task = in->task ? find_task(w, tl, in->task) : NULL;
    if (task) {
        f->in_task = true;
        f->task_id = task->id;
        f->task_type = task->type;
    }
}

/* The span of thread tid at t, its activity's end, the region and task it
 * began in, and who woke it, reading little: a long span is the index's
 * (no reading); a short one's window mostly holds the rest. Else: its
 * activity's end is read from the span's end on, its region from a window
 * at its begin, its waker from the last 10 ms of the activity, or all of
 * it when it is short enough (the wake lies between the activity's begin
 * and end, mostly just before the end). */
static bool find_span(struct ct_timeline *tl, uint64_t tid, int64_t t, struct span_found *f)
{
    if (t < INT64_MIN / 4 || t > INT64_MAX / 4)
        return false;
    memset(f, 0, sizeof *f);
    const struct tl_lane *ix = lane_in(tl, tid), *l;
    size_t k = ix ? span_index(ix, t) : 0;
    int64_t end;
    bool have_end = false, have_region = false, have_waker = false;
    if (ix && k < ix->nspan_items) {
        f->s = ix->spans[k];
    } else {
        if (!(l = whole_at(tl, tid, t, false, &k, &end)))
            return false;
        struct ct_timeline *w = tl->window; /* the one whole_at read */
        f->s = l->spans[k];
        memcpy(f->thread, l->name, sizeof f->thread);
        f->act_end = activity_end(l, k);
        have_end = f->act_end < l->read_to || t >= tl->end;
        if ((have_region = l->read_from <= f->s.b))
            region_info(tl, w, l, f);
        /* A link found here is the one (the window read every lane past
         * the activity's end); none, with the activity read whole: none. */
        if (have_end && f->s.since != TL_NO_ACTIVITY && f->act_end < w->w1)
            have_waker = (f->woken = find_waker(w, tid, f)) || w->w0 <= f->s.since;
    }
    bool inside = f->s.since != TL_NO_ACTIVITY;
    if (!have_end) {
        f->act_end = f->s.e;
        if (inside && (l = whole_at(tl, tid, f->s.e - 1, true, &k, &end)))
            f->act_end = end;
    }
    struct ct_timeline *w;
    if (!have_region) {
        w = ct_tl_window(tl, f->s.b - 1, f->s.b + 1, 0);
        if (!(l = lane_in(w, tid)))
            return false;
        memcpy(f->thread, l->name, sizeof f->thread);
        region_info(tl, w, l, f);
    }
    if (!inside || !(f->s.flags & TL_SPAN_WAKEABLE) || have_waker)
        return true; /* nothing wakes a sleep, a socket's read, a running span */
    int64_t last = f->act_end - 10000000 > f->s.since ? f->act_end - 10000000 : f->s.since;
    if ((w = ct_tl_window(tl, last - 1, f->act_end + 1, 0)) && (f->woken = find_waker(w, tid, f)))
        return true;
    if (last > f->s.since &&
        ct_tl_window_batches(tl, f->s.since - 1, f->act_end + 1) <= 16 * CT_TL_WINDOW_BUDGET &&
        (w = ct_tl_window(tl, f->s.since - 1, f->act_end + 1, 0)))
        f->woken = find_waker(w, tid, f);
    return true;
}

static const char *fd_class_word(unsigned c)
{
    return c == CT_FD_NETWORK ? "socket" : c == CT_FD_PIPE ? "pipe" : c == CT_FD_FILE ? "file" : "";
}

/* What a span's activity was, as a phrase: "read fd 5, socket", "mutex
 * 0x55d0c1a0". */
static void activity_text(const struct tl_span *s, char *buf, size_t size)
{
    unsigned sysno = span_sysno(s);
    const char *name = sysno ? ct_syscall_name(sysno - 1) : ct_reason_name(s->reason);
    name = name ? name : sysno || (s->flags & TL_SPAN_SYSNO) ? "a system call" : "?";
    if (s->flags & TL_SPAN_SYSNO) { /* the kernel's view: no descriptor */
        snprintf(buf, size, "%s (seen by the kernel)", name);
        return;
    }
    if (!(s->flags & TL_SPAN_CALL) && !s->object) /* a sleep */
        snprintf(buf, size, "%s", name);
    else if (!(s->flags & TL_SPAN_CALL))
        snprintf(buf, size, "%s 0x%" PRIx64, name, s->object);
    else if (s->object > INT32_MAX) /* no descriptor: waitpid, getaddrinfo */
        snprintf(buf, size, "%s", name);
    else if (*fd_class_word(s->fd_class))
        snprintf(buf, size, "%s fd %" PRIu64 ", %s", name, s->object, fd_class_word(s->fd_class));
    else
        snprintf(buf, size, "%s fd %" PRIu64, name, s->object);
}

static const char *lane_name(const struct ct_timeline *tl, uint64_t tid)
{
    for (size_t i = 0; i < tl->nlanes; i++)
        if (tl->lanes[i].tid == tid)
            return tl->lanes[i].name;
    return "";
}

int ct_timeline_span_json(struct ct_timeline *tl, uint64_t tid, int64_t t, FILE *out)
{
    struct span_found f;
    if (!find_span(tl, tid, t, &f))
        return -1;
    const struct tl_span *s = &f.s;
    bool inside = s->since != TL_NO_ACTIVITY, call = inside && (s->flags & TL_SPAN_CALL);
    fprintf(out, "{\"tid\":%" PRIu64 ",\"thread\":", tid_key(tl, tid));
    json_str(out, f.thread);
    fprintf(out, ",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"duration\":%" PRId64 ",\"state\":",
            s->b, s->e, s->e - s->b);
    json_str(out, ct_tl_state_name(s->col));
    unsigned sysno = inside ? span_sysno(s) : 0;
    const char *reason = sysno                  ? ct_syscall_name(sysno - 1)
                         : inside && s->reason ? ct_reason_name(s->reason)
                                               : NULL;
    fputs(",\"reason\":", out);
    json_str(out, reason ? reason : "");
    if (inside) {
        char what[160];
        activity_text(s, what, sizeof what);
        fprintf(out, ",\"activity\":{\"kind\":\"%s\",\"what\":", call ? "call" : "block");
        json_str(out, what);
        fprintf(out, ",\"begin\":%" PRId64 ",\"end\":%" PRId64, s->since, f.act_end);
        if (call) {
            if (s->object <= INT32_MAX)
                fprintf(out, ",\"fd\":%" PRIu64, s->object);
            const char *cls = ct_fd_class_name(s->fd_class);
            fputs(",\"fd_class\":", out);
            json_str(out, cls ? cls : "");
        } else {
            fprintf(out, ",\"object\":\"0x%" PRIx64 "\"", s->object);
        }
        fputc('}', out);
    }
    fprintf(out, ",\"object\":\"0x%" PRIx64 "\",\"stack\":", inside && !call ? s->object : 0);
    stack_json(tl, s->stack, out);
    if (f.in_region) {
        fputs(",\"region\":", out);
        json_str(out, str(tl, f.region_type));
        if (f.in_task) {
            fprintf(out, ",\"task\":%" PRIu64 ",\"task_type\":", f.task_id);
            json_str(out, str(tl, f.task_type));
        }
    }
    if (f.woken) {
        fprintf(out, ",\"woken_by\":%" PRIu64 ",\"woken_at\":%" PRId64 ",\"waker\":",
                tid_key(tl, f.wake.from), f.wake.tw);
        json_str(out, lane_name(tl, f.wake.from));
    }
    fputc('}', out);
    return 0;
}

int ct_timeline_task_json(struct ct_timeline *tl, uint64_t id, int64_t t, FILE *out)
{
    struct ct_timeline *w = window_at(tl, t);
    const struct tl_task *task = w ? find_task(w, tl, id) : NULL;
    if (!task)
        return -1;
    int64_t end = task->e < 0 ? tl->end : task->e;
    fprintf(out, "{\"id\":%" PRIu64 ",\"parent\":%" PRIu64 ",\"tid\":%" PRIu64
                 ",\"begin\":%" PRId64 ",\"end\":%" PRId64 ",\"type\":",
            task->id, task->parent, tid_key(tl, task->tid), task->b, end);
    json_str(out, str(tl, task->type));
    size_t logs = 0; /* those read around t */
    for (size_t i = 0; i < w->nlogs; i++)
        logs += w->logs[i].task == task->id;
    fprintf(out, ",\"logs\":%zu}", logs);
    return 0;
}

