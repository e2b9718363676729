/*
 * fuzz_reader.c - the reader on arbitrary bytes: every generation, every
 * event, the frames of every stack and the stats pass. Built as a libFuzzer
 * target (make fuzz) and, with replay.c, as a regression test that runs the
 * corpus in `make test` without a fuzz engine.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/analysis/annotations.h"
#include "../src/analysis/chrome.h"
#include "../src/analysis/stats.h"
#include "../src/analysis/threads.h"
#include "../src/analysis/instances.h"
#include "../src/analysis/replay.h"
#include "../src/analysis/taskview.h"
#include "../src/analysis/timeline.h"
#include "../src/analysis/utilization.h"
#include "../src/format/reader.h"

/* ctrace view's lists: each type's first and last pages both ways, by
 * begin and by duration, filtered or not; the logs; the first tasks'
 * threads, regions and time read again. */
static void lists(const uint8_t *data, size_t size, const struct ct_timeline *tl)
{
    struct ct_reader rd;
    struct ct_instances ix;
    if (ct_rd_open_mem(&rd, data, size, "fuzz") != 0)
        return;
    if (ct_instances_build(&rd, &ix, NULL, NULL) == 0) {
        uint32_t rows[8];
        size_t n, total;
        struct ct_inst_filter filters[] = {{0, 0, false}, {0, 0, true}, {10, 1000, false}};
        for (int k = 0; k < 2; k++) {
            struct ct_inst_set *s = k ? &ix.regions : &ix.tasks;
            for (size_t t = 0; t < s->ntypes; t++)
                for (int f = 0; f < 3; f++)
                    for (int sort = 0; sort < 2; sort++)
                        for (int desc = 0; desc < 2; desc++) {
                            (void)ct_inst_page(&ix, s, t, &filters[f], (enum ct_inst_sort)sort,
                                               desc, 0, 8, rows, &n, &total);
                            (void)ct_inst_page(&ix, s, t, &filters[f], (enum ct_inst_sort)sort,
                                               desc, total > 4 ? total - 4 : 0, 8, rows, &n,
                                               &total);
                        }
        }
        struct ct_log_filter lf = {"a", 0, 0, INT64_MIN, INT64_MAX};
        (void)ct_inst_logs_page(&ix, &lf, true, 0, 8, rows, &n, &total);
        struct ct_replay r;
        bool replay = ct_replay_open(&r, tl) == 0;
        for (size_t i = 0; i < ix.tasks.n && i < 4; i++) {
            uint64_t tids[8];
            size_t nt = ct_inst_task_threads(&ix, i, tids, 8), budget = 64;
            struct ct_task_time time;
            (void)ct_inst_task_regions(&ix, i, INT64_MIN, INT64_MAX, 0, 8, rows, &n, &total);
            if (replay && nt <= 8 && ct_inst_begin(&ix.tasks, i) != INT64_MIN)
                (void)ct_task_time(&r, ix.task_id[i], ct_inst_begin(&ix.tasks, i),
                                   ct_inst_end(&ix, &ix.tasks, i), tids, nt, &budget, &time);
        }
        if (replay)
            ct_replay_close(&r);
    }
    ct_instances_free(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads everything; streamed: through a file and ct_rd_open (pread into
 * a reused buffer) rather than in memory. Both ways must agree on whether
 * the input reads, and on the error. */
static void read_all(const uint8_t *data, size_t size, bool streamed, char *error, size_t len)
{
    struct ct_reader rd;
    int fd = -1;
    char path[64];
    if (streamed) {
        fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0 || write(fd, data, size) != (ssize_t)size)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if ((streamed ? ct_rd_open(&rd, path) : ct_rd_open_mem(&rd, data, size, "fuzz")) != 0) {
        const char *at = strstr(rd.error, ": byte ");
        snprintf(error, len, "%s", at ? at : rd.error);
        ct_rd_close(&rd);
        if (fd >= 0)
            close(fd);
        return;
    }
    struct ct_gen gen = {0};
    int r;
    while ((r = ct_rd_next_gen(&rd, &gen)) == 1) {
        for (size_t b = 0; b < gen.nbatches && r >= 0; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_next_event(&rd, &it, &ev)) == 1) {
                if (ev.kind == CT_EV_STACK) {
                    uint64_t pcs[CT_MAX_FRAMES];
                    if (ct_rd_frames(ev.frames, ev.frames_end, ev.nframes, pcs, CT_MAX_FRAMES) < 0)
                        abort(); /* validated frames must decode */
                }
                (void)ct_gen_ns(&rd, &gen, ev.ts);
            }
        }
        if (r < 0)
            break;
    }
    ct_gen_free(&gen);
    const char *at = strstr(rd.error, ": byte ");
    snprintf(error, len, "%s", rd.failed ? (at ? at : rd.error) : "");
    ct_rd_close(&rd);
    if (fd >= 0)
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy of exactly the input's size, so that any read past the
     * end is caught by the sanitizers. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    char in_memory[600], streamed[600];
    read_all(copy, size, false, in_memory, sizeof in_memory);
    read_all(copy, size, true, streamed, sizeof streamed);
    if (strcmp(in_memory, streamed) != 0) {
        fprintf(stderr, "in memory: %s\nstreamed: %s\n", in_memory, streamed);
        abort(); /* the two ways of reading disagree */
    }
    struct ct_reader rd;
    if (ct_rd_open_mem(&rd, copy, size, "fuzz") == 0) {
        struct ct_stats st;
        (void)ct_stats_compute(&rd, &st);
    }
    /* Embedded symbols. */
    if (ct_rd_open_mem(&rd, copy, size, "fuzz") == 0) {
        struct ct_symtab t;
        if (ct_rd_symtab(&rd, &t) == 0) {
            for (size_t i = 0; i < t.count; i++)
                if (ct_symtab_find(&t, t.entries[i].pc, t.entries[i].exact) == NULL)
                    abort(); /* every entry is found */
            ct_symtab_free(&t);
        }
    }
    /* Every analysis, on the same bytes. */
    if (ct_rd_open_mem(&rd, copy, size, "fuzz") == 0) {
        struct ct_threads t;
        (void)ct_threads_compute(&rd, &t);
        ct_threads_free(&t);
    }
    if (ct_rd_open_mem(&rd, copy, size, "fuzz") == 0) {
        struct ct_annotations a;
        (void)ct_annotations_compute(&rd, &a);
        ct_annotations_free(&a);
    }
    FILE *null = fopen("/dev/null", "w");
    if (null && ct_rd_open_mem(&rd, copy, size, "fuzz") == 0)
        (void)ct_export_chrome(&rd, null, 1, "fuzz");
    /* ctrace view's index and its answers: over the whole range (the
     * buckets, or one window when the trace is small), a narrow one, each
     * lane's span at a few times (windows read again), the logs. */
    if (null && ct_rd_open_mem(&rd, copy, size, "fuzz") == 0) {
        struct ct_timeline tl;
        struct ct_reader src = rd;
        if (ct_timeline_build(&rd, &src, &tl, 1, NULL) == 0) {
            ct_timeline_summary_json(&tl, null);
            (void)ct_timeline_query_json(&tl, tl.begin, tl.end + 1, 100, null);
            (void)ct_timeline_query_json(&tl, tl.begin, tl.begin + 1000, 1000, null);
            for (size_t i = 0; i < tl.nlanes; i++)
                for (int k = 0; k < 4; k++)
                    (void)ct_timeline_span_json(&tl, tl.lanes[i].tid,
                                                tl.begin + (tl.end - tl.begin) / 4 * k, null);
            for (size_t i = 0; i < tl.ntask_items && i < 4; i++)
                (void)ct_timeline_task_json(&tl, tl.tasks[i].id, tl.tasks[i].b, null);
            (void)ct_timeline_logs_json(&tl, "a", 10, null);
            lists(copy, size, &tl);
            (void)ct_timeline_logs_at_json(&tl, 0, tl.begin, tl.end + 1, 10, null);
            (void)ct_timeline_search_json(&tl, "a", tl.begin, 10, null);
            (void)ct_timeline_search_json(&tl, "1", tl.begin + (tl.end - tl.begin) / 2, 3, null);
        }
        ct_timeline_free(&tl);
    }
    /* The utilization page's pass, a window and one width's minimum (the
     * whole curve is 60 of those: too slow an input for a fuzzer). */
    if (null && ct_rd_open_mem(&rd, copy, size, "fuzz") == 0) {
        struct ct_util u;
        if (ct_util_compute(&rd, 0, 1000000, &u) == 0) {
            size_t worst;
            (void)ct_util_window(&u, CT_UTIL_DEMAND, 1000, 500000);
            (void)ct_util_mmu(&u, CT_UTIL_MACHINE, 7, &worst);
        }
        ct_util_free(&u);
    }
    if (null)
        fclose(null);
    free(copy);
    return 0;
}
